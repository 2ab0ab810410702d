"""Tags and notes on episodes, kept in studio.db per dataset fingerprint.

`good` and `bad` are the usual tags; any short word is allowed. Bulk tagging takes any
list of episode indices (e.g. the `episode_index` column of a query result).
"""

from __future__ import annotations

import re
import time
from typing import Iterable

from studio import db
from studio.errors import StudioError

STANDARD_TAGS = ("good", "bad")
_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,47}$")

db.register_schema(
    "curation_tags",
    """
    CREATE TABLE IF NOT EXISTS episode_tags (
        dataset TEXT NOT NULL,
        episode_index INTEGER NOT NULL,
        tag TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        PRIMARY KEY (dataset, episode_index, tag)
    );
    CREATE TABLE IF NOT EXISTS episode_notes (
        dataset TEXT NOT NULL,
        episode_index INTEGER NOT NULL,
        note TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        updated_at REAL NOT NULL,
        PRIMARY KEY (dataset, episode_index)
    );
    CREATE TABLE IF NOT EXISTS episode_note_revisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        dataset TEXT NOT NULL,
        episode_index INTEGER NOT NULL,
        note TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS episode_note_revisions_ep ON episode_note_revisions(dataset, episode_index);
    """,
)


def dataset_key(dataset) -> str:
    """The identity tags and selections hang on: the dataset fingerprint."""
    fp = getattr(dataset, "fingerprint", None) if not isinstance(dataset, str) else dataset
    if not fp:
        raise StudioError("dataset", "has no fingerprint; open it with studio.datasets.open_dataset")
    return str(fp)


def check_tag(tag: str) -> str:
    tag = str(tag or "").strip()
    if not _TAG_RE.match(tag):
        raise StudioError("tag", f"'{tag}' is not a valid tag (letters, digits, _ . : -; up to 48 characters)")
    return tag


def _episodes(episodes: Iterable, valid: Iterable[int] | None) -> list[int]:
    try:
        eps = sorted({int(e) for e in episodes})
    except (TypeError, ValueError):
        raise StudioError("episodes", "episode indices must be integers") from None
    if valid is not None:
        valid_set = set(int(v) for v in valid)
        bad = [e for e in eps if e not in valid_set]
        if bad:
            raise StudioError("episodes", f"episode {bad[0]} is not in this dataset")
    return eps


def _valid_episodes(dataset):
    eps = getattr(dataset, "episodes", None)
    if eps is not None and hasattr(eps, "columns") and "episode_index" in eps.columns:
        return eps["episode_index"].tolist()
    return None


def _invalidate(*views: str) -> None:
    """Cached SQL catalogs re-read these views on next use."""
    from studio.query import invalidate_views

    invalidate_views(*views)


def add_tags(project, dataset, episodes: Iterable, tag: str, *, author: str = "") -> int:
    """Tag every episode in `episodes` (bulk); returns how many were newly tagged."""
    tag = check_tag(tag)
    eps = _episodes(episodes, _valid_episodes(dataset))
    key = dataset_key(dataset)
    now = time.time()
    conn = project.connect()
    try:
        with db.transaction(conn):
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO episode_tags(dataset, episode_index, tag, author, created_at) VALUES (?,?,?,?,?)",
                [(key, e, tag, author or "", now) for e in eps],
            )
            n = conn.total_changes - before
    finally:
        conn.close()
    _invalidate("tags")
    return n


def remove_tags(project, dataset, episodes: Iterable, tag: str) -> int:
    tag = check_tag(tag)
    eps = _episodes(episodes, None)
    key = dataset_key(dataset)
    conn = project.connect()
    try:
        with db.transaction(conn):
            before = conn.total_changes
            conn.executemany(
                "DELETE FROM episode_tags WHERE dataset = ? AND episode_index = ? AND tag = ?",
                [(key, e, tag) for e in eps],
            )
            n = conn.total_changes - before
    finally:
        conn.close()
    _invalidate("tags")
    return n


def set_note(project, dataset, episode: int, note: str, *, author: str = "") -> None:
    """Set (or, with an empty note, clear) the note on one episode."""
    (ep,) = _episodes([episode], _valid_episodes(dataset))
    key = dataset_key(dataset)
    conn = project.connect()
    try:
        with db.transaction(conn):
            # every version is kept: the last writer wins the note, nobody's text is lost
            conn.execute("INSERT INTO episode_note_revisions(dataset, episode_index, note, author, at) "
                         "VALUES (?,?,?,?,?)", (key, ep, (note or "").strip(), author or "", time.time()))
            if (note or "").strip():
                conn.execute(
                    "INSERT INTO episode_notes(dataset, episode_index, note, author, updated_at) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(dataset, episode_index) DO UPDATE SET note = excluded.note, "
                    "author = excluded.author, updated_at = excluded.updated_at",
                    (key, ep, note.strip(), author or "", time.time()),
                )
            else:
                conn.execute("DELETE FROM episode_notes WHERE dataset = ? AND episode_index = ?", (key, ep))
    finally:
        conn.close()
    _invalidate("notes")


def note_history(project, dataset, episode: int) -> list[dict]:
    """Every version of an episode's note, oldest first: {"note", "author", "at"} ("" = cleared)."""
    conn = project.connect()
    try:
        rows = conn.execute("SELECT note, author, at FROM episode_note_revisions WHERE dataset = ? AND "
                            "episode_index = ? ORDER BY id", (dataset_key(dataset), int(episode))).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


def tags_frame(project, dataset):
    """The `tags` view: one row per (episode_index, tag) with author and created_at."""
    import pandas as pd

    cols = ["episode_index", "tag", "author", "created_at"]
    if project is None:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "episode_index" else "float64" if c == "created_at" else "object") for c in cols})
    conn = project.connect()
    try:
        rows = conn.execute(
            "SELECT episode_index, tag, author, created_at FROM episode_tags WHERE dataset = ? ORDER BY episode_index, tag",
            (dataset_key(dataset),),
        ).fetchall()
    finally:
        conn.close()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    return df.astype({"episode_index": "int64", "tag": "object", "author": "object", "created_at": "float64"})


def notes_frame(project, dataset):
    """The `notes` view: episode_index, note, author, updated_at."""
    import pandas as pd

    cols = ["episode_index", "note", "author", "updated_at"]
    rows = []
    if project is not None:
        conn = project.connect()
        try:
            rows = conn.execute(
                "SELECT episode_index, note, author, updated_at FROM episode_notes WHERE dataset = ? ORDER BY episode_index",
                (dataset_key(dataset),),
            ).fetchall()
        finally:
            conn.close()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    return df.astype({"episode_index": "int64", "note": "object", "author": "object", "updated_at": "float64"})


def tags_by_episode(project, dataset) -> dict[int, list[str]]:
    df = tags_frame(project, dataset)
    out: dict[int, list[str]] = {}
    for ep, tag in zip(df["episode_index"].tolist(), df["tag"].tolist()):
        out.setdefault(int(ep), []).append(tag)
    return out


def known_tags(project, dataset) -> list[str]:
    used = sorted(set(tags_frame(project, dataset)["tag"].tolist()))
    return list(STANDARD_TAGS) + [t for t in used if t not in STANDARD_TAGS]
