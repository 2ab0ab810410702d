"""Selections: named, saved, revisioned sets of episodes of one dataset.

A selection is the dataset fingerprint it was made on, a SQL predicate over the
`episode_facts` relation (episode columns + every metric + quality_score/quality_pct +
`tags` as a list + `note`), tags that every episode must carry, manual includes and
excludes, a note and an author. Saving under an existing name adds a revision; earlier
revisions are kept and can be read, resolved and exported.

Resolution: episodes matching the predicate (all when empty) that carry every required
tag, plus the includes, minus the excludes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from studio import db
from studio.errors import QueryError, StudioError

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

db.register_schema(
    "curation_selections",
    """
    CREATE TABLE IF NOT EXISTS selections (
        name TEXT NOT NULL,
        revision INTEGER NOT NULL,
        dataset_fingerprint TEXT NOT NULL,
        dataset_path TEXT NOT NULL,
        predicate TEXT NOT NULL DEFAULT '',
        includes TEXT NOT NULL DEFAULT '[]',
        excludes TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        note TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        n_episodes INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        PRIMARY KEY (name, revision)
    );
    """,
)


@dataclass(frozen=True)
class Selection:
    name: str
    revision: int
    dataset_fingerprint: str
    dataset_path: str
    predicate: str = ""
    includes: tuple[int, ...] = ()
    excludes: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    note: str = ""
    author: str = ""
    n_episodes: int = 0
    created_at: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.name}-r{self.revision}"

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "revision": self.revision,
            "dataset_fingerprint": self.dataset_fingerprint,
            "dataset_path": self.dataset_path,
            "predicate": self.predicate,
            "includes": list(self.includes),
            "excludes": list(self.excludes),
            "tags": list(self.tags),
            "note": self.note,
            "author": self.author,
            "n_episodes": self.n_episodes,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Resolved:
    """The episodes a selection (or predicate) picks, with a summary for the UI."""

    episodes: tuple[int, ...]
    total_episodes: int
    frames: int
    total_frames: int
    fps: float
    facts: object = field(default=None, repr=False)  # the episode_facts DataFrame used

    @property
    def hours(self) -> float:
        return self.frames / self.fps / 3600.0 if self.fps else 0.0

    @property
    def share(self) -> float:
        return len(self.episodes) / self.total_episodes if self.total_episodes else 0.0

    def summary(self) -> dict:
        return {
            "episodes": len(self.episodes),
            "total_episodes": self.total_episodes,
            "frames": self.frames,
            "total_frames": self.total_frames,
            "hours": round(self.hours, 4),
            "share_episodes": round(self.share, 4),
            "share_frames": round(self.frames / self.total_frames, 4) if self.total_frames else 0.0,
        }

    def sentence(self) -> str:
        s = self.summary()
        return (
            f"{s['episodes']} of {s['total_episodes']} episodes ({100 * s['share_episodes']:.0f} %), "
            f"{s['frames']} frames, {s['hours'] * 60:.1f} min"
        )


def check_name(name: str) -> str:
    name = str(name or "").strip()
    if not _NAME_RE.match(name):
        raise StudioError("selection name", f"'{name}' must be 1–64 letters, digits, '_', '.', '-' (no spaces)")
    return name


# ------------------------------------------------------------------------- episode facts


def episode_facts(dataset, project=None, *, scored=None):
    """One row per episode: scalar episode columns, metrics, quality, `tags` (list), `note`."""
    from studio.curation.score import scored_metrics
    from studio.curation.tags import notes_frame, tags_frame

    eps = dataset.episodes
    keep = [c for c in eps.columns if "/" not in c and c not in ("dataset_from_index", "dataset_to_index")]
    facts = eps[keep].copy()
    scored = scored if scored is not None else scored_metrics(dataset, project)
    mdf = scored.df
    clash = [c for c in mdf.columns if c in facts.columns and c != "episode_index"]
    facts = facts.merge(mdf.drop(columns=clash), on="episode_index", how="left")
    tags = tags_frame(project, dataset)
    grouped = tags.groupby("episode_index")["tag"].apply(lambda s: sorted(s)).to_dict() if len(tags) else {}
    facts["tags"] = [grouped.get(int(e), []) for e in facts["episode_index"]]
    notes = notes_frame(project, dataset)
    note_map = dict(zip(notes["episode_index"].tolist(), notes["note"].tolist()))
    facts["note"] = [note_map.get(int(e), "") for e in facts["episode_index"]]
    return facts.reset_index(drop=True)


def _sandbox(facts, tags_df, notes_df):
    import duckdb

    from studio.curation.score import nullable
    from studio.query import lock_connection

    con = duckdb.connect(":memory:")
    con.register("_facts", nullable(facts))  # NaN → NULL: a comparison never picks a bad episode
    con.register("_tags", tags_df)
    con.register("_notes", notes_df)
    con.execute("CREATE VIEW episode_facts AS SELECT * FROM _facts")
    con.execute("CREATE VIEW tags AS SELECT * FROM _tags")
    con.execute("CREATE VIEW notes AS SELECT * FROM _notes")
    metric_cols = [c for c in facts.columns if c not in ("tags", "note")]
    con.execute("CREATE VIEW metrics AS SELECT " + ", ".join(f'"{c}"' for c in metric_cols) + " FROM _facts")
    con.execute("CREATE VIEW episodes AS SELECT * FROM _facts")
    lock_connection(con)  # the same sandbox as the SQL box: no files, memory limit, locked settings
    return con


PREDICATE_VIEWS = ["episode_facts", "metrics", "episodes", "tags", "notes"]
PREDICATE_TIMEOUT_S = 10.0


def filter_episodes(facts, predicate: str, *, project=None, dataset=None) -> list[int]:
    """Episode indices of `facts` matching a SQL predicate (sandboxed DuckDB, no file access)."""
    import duckdb
    import pandas as pd

    predicate = (predicate or "").strip()
    if not predicate:
        return sorted(int(e) for e in facts["episode_index"])
    sql = f"SELECT episode_index FROM episode_facts WHERE ({predicate}) ORDER BY episode_index"
    try:
        if len(duckdb.extract_statements(sql)) != 1:
            raise QueryError("--where", "the predicate must be one SQL expression (no ';')")
    except duckdb.Error as exc:
        raise QueryError("--where", f"not a valid SQL predicate ({_first_line(exc)})") from None
    from studio.curation.tags import notes_frame, tags_frame

    tags_df = tags_frame(project, dataset) if dataset is not None else pd.DataFrame({"episode_index": [], "tag": []})
    notes_df = notes_frame(project, dataset) if dataset is not None else pd.DataFrame({"episode_index": [], "note": []})
    from studio.query import check_select, run_limited

    con = _sandbox(facts, tags_df, notes_df)
    try:
        text, _ = check_select(con, sql, PREDICATE_VIEWS, where="--where")
        # on the connection itself: its registered frames are not visible to other cursors
        df = run_limited(con, text, PREDICATE_TIMEOUT_S, where="--where", hint=f" (columns: {', '.join(map(str, facts.columns))})")
    finally:
        con.close()
    return [int(e) for e in df["episode_index"]]


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def resolve(
    dataset,
    project=None,
    *,
    predicate: str = "",
    includes: Iterable[int] = (),
    excludes: Iterable[int] = (),
    tags: Iterable[str] = (),
    facts=None,
) -> Resolved:
    """The episodes picked by a predicate + required tags + includes − excludes."""
    facts = facts if facts is not None else episode_facts(dataset, project)
    valid = set(int(e) for e in facts["episode_index"])
    for label, group in (("includes", includes), ("excludes", excludes)):
        bad = sorted(set(int(e) for e in group) - valid)
        if bad:
            raise StudioError(f"selection {label}", f"episode {bad[0]} is not in this dataset")
    picked = set(filter_episodes(facts, predicate, project=project, dataset=dataset))
    req = [str(t) for t in tags if str(t).strip()]
    if req:
        tag_lists = dict(zip(facts["episode_index"].astype(int), facts["tags"]))
        picked = {e for e in picked if all(t in tag_lists.get(e, []) for t in req)}
    picked |= set(int(e) for e in includes)
    picked -= set(int(e) for e in excludes)
    episodes = tuple(sorted(picked))
    lengths = dict(zip(dataset.episodes["episode_index"].astype(int), dataset.episodes["length"].astype(int)))
    frames = int(sum(lengths.get(e, 0) for e in episodes))
    return Resolved(episodes, len(valid), frames, int(sum(lengths.values())), float(dataset.fps), facts)


def resolve_selection(selection: Selection, dataset, project=None, *, strict: bool = True) -> Resolved:
    if strict and selection.dataset_fingerprint != dataset.fingerprint:
        raise StudioError(
            f"selection {selection.label}",
            f"was made on dataset {selection.dataset_fingerprint} but {dataset.root} is now "
            f"{dataset.fingerprint} (the dataset changed); save a new revision on the current data",
        )
    return resolve(
        dataset, project, predicate=selection.predicate, includes=selection.includes,
        excludes=selection.excludes, tags=selection.tags,
    )


# ------------------------------------------------------------------------- persistence


def _row_to_selection(r) -> Selection:
    return Selection(
        name=r["name"],
        revision=int(r["revision"]),
        dataset_fingerprint=r["dataset_fingerprint"],
        dataset_path=r["dataset_path"],
        predicate=r["predicate"],
        includes=tuple(int(x) for x in json.loads(r["includes"])),
        excludes=tuple(int(x) for x in json.loads(r["excludes"])),
        tags=tuple(json.loads(r["tags"])),
        note=r["note"],
        author=r["author"],
        n_episodes=int(r["n_episodes"]),
        created_at=float(r["created_at"]),
    )


def save_selection(
    project,
    name: str,
    dataset,
    *,
    predicate: str = "",
    includes: Sequence[int] = (),
    excludes: Sequence[int] = (),
    tags: Sequence[str] = (),
    note: str = "",
    author: str = "",
) -> Selection:
    """Save a new revision of selection `name` (the first save is revision 1). The
    predicate is checked by resolving it before anything is written."""
    from studio.curation.tags import check_tag

    name = check_name(name)
    tags = tuple(check_tag(t) for t in tags if str(t).strip())
    res = resolve(dataset, project, predicate=predicate, includes=includes, excludes=excludes, tags=tags)
    if not res.episodes:  # nothing to train on or export: never stored (it would give `episodes=[]`)
        raise StudioError(f"selection '{name}'", "keeps no episodes; change the filter so it keeps some, then save")
    conn = project.connect()
    try:
        with db.transaction(conn):
            row = conn.execute("SELECT MAX(revision) FROM selections WHERE name = ?", (name,)).fetchone()
            rev = int(row[0] or 0) + 1
            now = time.time()
            conn.execute(
                "INSERT INTO selections(name, revision, dataset_fingerprint, dataset_path, predicate, includes, "
                "excludes, tags, note, author, n_episodes, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    name, rev, dataset.fingerprint, str(Path(dataset.root).resolve()), (predicate or "").strip(),
                    json.dumps(sorted(set(int(e) for e in includes))), json.dumps(sorted(set(int(e) for e in excludes))),
                    json.dumps(list(tags)), note or "", author or "", len(res.episodes), now,
                ),
            )
    finally:
        conn.close()
    return get_selection(project, name, rev)


def get_selection(project, name: str, revision: int | None = None) -> Selection:
    conn = project.connect()
    try:
        if revision is None:
            r = conn.execute("SELECT * FROM selections WHERE name = ? ORDER BY revision DESC LIMIT 1", (name,)).fetchone()
        else:
            r = conn.execute("SELECT * FROM selections WHERE name = ? AND revision = ?", (name, int(revision))).fetchone()
    finally:
        conn.close()
    if r is None:
        what = "does not exist" if revision is None else f"has no revision {revision}"
        raise StudioError(f"selection {name}", what)
    return _row_to_selection(r)


def list_selections(project, dataset=None) -> list[Selection]:
    """The latest revision of every selection (of one dataset's fingerprint when given)."""
    conn = project.connect()
    try:
        rows = conn.execute(
            "SELECT s.* FROM selections s JOIN (SELECT name, MAX(revision) AS rev FROM selections GROUP BY name) m "
            "ON s.name = m.name AND s.revision = m.rev ORDER BY s.created_at DESC"
        ).fetchall()
    finally:
        conn.close()
    sels = [_row_to_selection(r) for r in rows]
    if dataset is not None:
        sels = [s for s in sels if s.dataset_fingerprint == dataset.fingerprint]
    return sels


def history(project, name: str) -> list[Selection]:
    """Every revision of `name`, oldest first."""
    conn = project.connect()
    try:
        rows = conn.execute("SELECT * FROM selections WHERE name = ? ORDER BY revision", (name,)).fetchall()
    finally:
        conn.close()
    if not rows:
        raise StudioError(f"selection {name}", "does not exist")
    return [_row_to_selection(r) for r in rows]


def compare_selection(facts, episodes: Iterable[int], metrics: dict) -> list[dict]:
    """'This selection vs the rest': per metric, the mean of each group and their difference
    with a 95% interval (Welch normal approximation), and whether the selection is better."""
    import numpy as np

    chosen = set(int(e) for e in episodes)
    mask = facts["episode_index"].astype(int).isin(chosen).to_numpy()
    rows = []
    names = list(metrics) + [c for c in ("quality_score",) if c in facts.columns]
    for name in names:
        if name not in facts.columns:
            continue
        v = facts[name].astype("float64").to_numpy()
        a, b = v[mask & np.isfinite(v)], v[~mask & np.isfinite(v)]
        direction = metrics[name].direction if name in metrics else "higher"
        row = {"metric": name, "direction": direction, "selection": None, "rest": None,
               "difference": None, "ci_low": None, "ci_high": None, "verdict": "n/a"}
        if len(a) and len(b):
            diff = float(a.mean() - b.mean())
            se = float(np.sqrt((a.var(ddof=1) if len(a) > 1 else 0.0) / len(a) + (b.var(ddof=1) if len(b) > 1 else 0.0) / len(b)))
            lo, hi = diff - 1.96 * se, diff + 1.96 * se
            better = (lo > 0) if direction == "higher" else (hi < 0)
            worse = (hi < 0) if direction == "higher" else (lo > 0)
            row.update(selection=float(a.mean()), rest=float(b.mean()), difference=diff, ci_low=lo, ci_high=hi,
                       verdict="better" if better else "worse" if worse else "no clear difference")
        rows.append(row)
    return rows


def selection_stats(facts, episodes: Iterable[int], metrics: dict) -> list[dict]:
    """Per metric, the selection's own mean, median, min and max (what "selection vs the
    rest" shows when nothing is left out, so there is no rest to compare with)."""
    import numpy as np

    chosen = set(int(e) for e in episodes)
    mask = facts["episode_index"].astype(int).isin(chosen).to_numpy()
    rows = []
    for name in list(metrics) + [c for c in ("quality_score",) if c in facts.columns]:
        if name not in facts.columns:
            continue
        v = facts[name].astype("float64").to_numpy()
        a = v[mask & np.isfinite(v)]
        direction = metrics[name].direction if name in metrics else "higher"
        row = {"metric": name, "direction": direction, "episodes": int(len(a)), "mean": None, "median": None,
               "min": None, "max": None}
        if len(a):
            row.update(mean=float(a.mean()), median=float(np.median(a)), min=float(a.min()), max=float(a.max()))
        rows.append(row)
    return rows


def parse_episode_ranges(text: str, where: str = "episodes") -> list[int]:
    """'1,3-5, 9' -> [1, 3, 4, 5, 9]; a bad part raises a one-sentence StudioError."""
    out: list[int] = []
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise StudioError(where, f"'{part}' is not an episode index or a range like 3-7") from None
    return out
