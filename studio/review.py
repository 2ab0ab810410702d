"""Rollout review: rollout sets (sim or real robot), reviewer verdicts, comments, activity.

A *rollout set* is a LeRobot dataset recorded while a checkpoint's policy ran. Sim rollout
sets written by the rollout engine under `<home>/rollouts/<name>/` (with `summary.json`)
are listed automatically; a real-robot dataset (as `lerobot-record` writes it) is
registered with `register_rollouts(project, path, checkpoint=...)`.

Reviewers judge episodes of any *target* (a rollout set name, or a dataset path for
plain datasets): `set_verdict` (success / partial with progress % / fail; one verdict per
reviewer per episode, the latest one is the episode's verdict) and `add_comment`
(append-only). Every write also appends to the activity list. All writes are short
`BEGIN IMMEDIATE` transactions in studio.db, so many concurrent reviewers never lose an
update.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import db
from studio.errors import StudioError

VERDICTS = ("success", "partial", "fail")
KINDS = ("sim", "real", "dataset")
MAX_COMMENT = 10_000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ReviewError(StudioError):
    """A rollout set, verdict or comment is invalid."""


db.register_schema(
    "review",
    """
    CREATE TABLE IF NOT EXISTS rollout_sets (
        name TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        checkpoint TEXT NOT NULL,
        kind TEXT NOT NULL,
        policy TEXT,
        env TEXT,
        n_episodes INTEGER NOT NULL,
        fingerprint TEXT,
        notes TEXT NOT NULL DEFAULT '',
        created_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS review_verdicts (
        target TEXT NOT NULL,
        episode_index INTEGER NOT NULL,
        author TEXT NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('success', 'partial', 'fail')),
        progress REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (target, episode_index, author)
    );
    CREATE TABLE IF NOT EXISTS review_comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        episode_index INTEGER NOT NULL,
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS review_comments_target ON review_comments(target, episode_index);
    CREATE TABLE IF NOT EXISTS review_activity (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        author TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        episode_index INTEGER,
        detail TEXT NOT NULL DEFAULT ''
    );
    """,
)


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class RolloutSet:
    """A dataset of policy rollouts of one checkpoint (simulated or on a real robot)."""

    name: str
    path: Path
    checkpoint: str
    kind: str
    n_episodes: int
    policy: str | None = None
    env: str | None = None
    notes: str = ""
    created_by: str = ""
    created_at: float = 0.0
    registered: bool = True

    def summary(self) -> dict[str, Any] | None:
        """The rollout engine's summary.json (sim rollout sets), or None."""
        return read_summary(self.path)


@dataclass(frozen=True)
class Verdict:
    target: str
    episode_index: int
    author: str
    verdict: str
    progress: float
    at: float


@dataclass(frozen=True)
class Comment:
    id: int
    target: str
    episode_index: int
    author: str
    body: str
    at: float


@dataclass(frozen=True)
class Activity:
    id: int
    at: float
    author: str
    action: str
    target: str
    episode_index: int | None
    detail: str


@dataclass(frozen=True)
class EpisodeRow:
    """One line of a rollout set's episode list (what the Rollouts panel shows)."""

    episode_index: int
    length: int | None = None
    seed: int | None = None
    success: bool | None = None  # from the rollout engine (sim) or None (real, unknown)
    progress: float | None = None  # 0..1 from the rollout engine
    verdict: str | None = None  # latest reviewer verdict
    verdict_progress: float | None = None  # 0..100
    reviewer: str | None = None
    n_reviews: int = 0
    n_comments: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def current_user() -> str:
    for var in ("STUDIO_USER", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "local"


def _author(author: str | None) -> str:
    author = (author or current_user()).strip()
    if not author or len(author) > 100:
        raise ReviewError("author", "must be 1-100 characters")
    return author


def _target(target: Any) -> str:
    target = str(target).strip()
    if not target or len(target) > 1000:
        raise ReviewError("target", "must name a rollout set or dataset")
    return target


def _episode(episode_index: Any) -> int:
    try:
        ep = int(episode_index)
    except (TypeError, ValueError):
        raise ReviewError("episode", f"{episode_index!r} is not an episode index") from None
    if ep < 0:
        raise ReviewError("episode", f"{ep} is not an episode index (must be ≥ 0)")
    return ep


def _log(conn: sqlite3.Connection, author: str, action: str, target: str, episode: int | None, detail: str) -> None:
    conn.execute(
        "INSERT INTO review_activity(at, author, action, target, episode_index, detail) VALUES (?,?,?,?,?,?)",
        (time.time(), author, action, target, episode, detail),
    )


_local = threading.local()


class _conn:
    """`with _conn(project) as c:` — this thread's connection to the project's studio.db.

    Kept open per (thread, database): closing the last connection checkpoints the WAL (an
    fsync per call), which would make many small review writes slow.
    """

    def __init__(self, project):
        self.path = str(project.db_path)
        self.project = project

    def __enter__(self) -> sqlite3.Connection:
        cache = getattr(_local, "conns", None)
        if cache is None:
            cache = _local.conns = {}
        conn = cache.get(self.path)
        if conn is None:
            conn = cache[self.path] = self.project.connect()
        return conn

    def __exit__(self, *exc) -> None:
        pass


def read_summary(path: str | os.PathLike) -> dict[str, Any] | None:
    p = Path(path) / "summary.json"
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- rollout sets


def register_rollouts(
    project,
    path: str | os.PathLike,
    *,
    checkpoint: str,
    name: str | None = None,
    kind: str = "real",
    policy: str | None = None,
    notes: str = "",
    author: str | None = None,
    replace: bool = False,
) -> RolloutSet:
    """Register a LeRobot dataset recorded while `checkpoint`'s policy ran as a rollout set.

    The dataset is opened (validated) but never modified; its path is stored as is.
    """
    from studio.datasets import open_dataset

    if kind not in KINDS:
        raise ReviewError("--kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    checkpoint = str(checkpoint or "").strip()
    if not checkpoint:
        raise ReviewError("--checkpoint", "name the checkpoint whose policy produced these rollouts")
    root = Path(path).expanduser()
    if not root.exists():
        raise ReviewError(str(path), "does not exist")
    ds = open_dataset(root)
    root = Path(ds.root).resolve()
    name = name or root.name
    if not _NAME_RE.match(name):
        raise ReviewError("--name", f"{name!r} must be letters, digits, '.', '_' or '-' (max 100)")
    author = _author(author)
    summary = read_summary(root) or {}
    n = int(len(ds.episodes))
    env = summary.get("env") if isinstance(summary.get("env"), str) else None
    with _conn(project) as conn, db.transaction(conn):
        exists = conn.execute("SELECT path FROM rollout_sets WHERE name = ?", (name,)).fetchone()
        if exists and not replace:
            raise ReviewError(name, f"a rollout set with this name is already registered ({exists['path']})")
        conn.execute(
            "INSERT OR REPLACE INTO rollout_sets(name, path, checkpoint, kind, policy, env, n_episodes, "
            "fingerprint, notes, created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (name, str(root), checkpoint, kind, policy, env, n, getattr(ds, "fingerprint", None), notes,
             author, time.time()),
        )
        _log(conn, author, "register", name, None, f"{kind} rollouts of {checkpoint}: {n} episodes from {root}")
    return get_rollout_set(project, name)


def _discovered(project) -> list[RolloutSet]:
    """Sim rollout sets written by the rollout engine under <home>/rollouts/ (not yet registered)."""
    found = []
    base = Path(project.rollouts_dir)
    if not base.is_dir():
        return found
    for d in sorted(base.iterdir()):
        if not d.is_dir() or d.name.startswith(".") or not (d / "meta" / "info.json").is_file():
            continue
        summary = read_summary(d) or {}
        policy = summary.get("policy")
        checkpoint = summary.get("checkpoint") or (policy if isinstance(policy, str) else None) or d.name
        n = summary.get("n_episodes")
        if n is None:
            try:
                n = int(json.loads((d / "meta" / "info.json").read_text()).get("total_episodes", 0))
            except (OSError, ValueError):
                n = 0
        found.append(
            RolloutSet(
                name=d.name, path=d.resolve(), checkpoint=str(checkpoint), kind="sim", n_episodes=int(n),
                policy=policy if isinstance(policy, str) else None,
                env=summary.get("env") if isinstance(summary.get("env"), str) else None,
                created_at=d.stat().st_mtime, registered=False,
            )
        )
    return found


def _row_to_set(row) -> RolloutSet:
    return RolloutSet(
        name=row["name"], path=Path(row["path"]), checkpoint=row["checkpoint"], kind=row["kind"],
        n_episodes=row["n_episodes"], policy=row["policy"], env=row["env"], notes=row["notes"],
        created_by=row["created_by"], created_at=row["created_at"], registered=True,
    )


def list_rollout_sets(project) -> list[RolloutSet]:
    """Registered rollout sets plus sim rollout sets found under <home>/rollouts/, newest first."""
    with _conn(project) as conn:
        rows = conn.execute("SELECT * FROM rollout_sets").fetchall()
    sets = {r["name"]: _row_to_set(r) for r in rows}
    for s in _discovered(project):
        sets.setdefault(s.name, s)
    return sorted(sets.values(), key=lambda s: (-s.created_at, s.name))


def get_rollout_set(project, name: str) -> RolloutSet:
    with _conn(project) as conn:
        row = conn.execute("SELECT * FROM rollout_sets WHERE name = ?", (name,)).fetchone()
    if row is not None:
        return _row_to_set(row)
    for s in _discovered(project):
        if s.name == name:
            return s
    raise ReviewError(str(name), "no such rollout set (see `studio rollouts list`)")


def unregister_rollouts(project, name: str, *, author: str | None = None) -> None:
    """Forget a registered rollout set (its files, verdicts and comments stay)."""
    author = _author(author)
    with _conn(project) as conn, db.transaction(conn):
        cur = conn.execute("DELETE FROM rollout_sets WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise ReviewError(str(name), "is not a registered rollout set")
        _log(conn, author, "unregister", name, None, "")


# --------------------------------------------------------------------------- verdicts


def set_verdict(
    project,
    target: str,
    episode_index: int,
    verdict: str,
    *,
    progress: float | None = None,
    author: str | None = None,
    comment: str | None = None,
) -> Verdict:
    """Record `author`'s verdict on one episode (replacing their earlier one).

    success → progress 100; fail → progress 0 unless given; partial needs a progress in (0, 100).
    An optional comment is stored in the same transaction.
    """
    target, ep, author = _target(target), _episode(episode_index), _author(author)
    verdict = str(verdict).strip().lower()
    if verdict not in VERDICTS:
        raise ReviewError("verdict", f"{verdict!r} is not one of success, partial, fail")
    if progress is not None:
        try:
            progress = float(progress)
        except (TypeError, ValueError):
            raise ReviewError("progress", f"{progress!r} is not a number") from None
        if not 0.0 <= progress <= 100.0:
            raise ReviewError("progress", f"{progress:g} is outside 0-100 %")
    if verdict == "success":
        progress = 100.0
    elif verdict == "fail":
        progress = 0.0 if progress is None else progress
    elif progress is None or not 0.0 < progress < 100.0:
        raise ReviewError("progress", "a partial verdict needs a progress between 0 and 100 % (exclusive)")
    body = _comment_body(comment) if comment else None
    now = time.time()
    with _conn(project) as conn, db.transaction(conn):
        conn.execute(
            "INSERT INTO review_verdicts(target, episode_index, author, verdict, progress, updated_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(target, episode_index, author) DO UPDATE SET "
            "verdict = excluded.verdict, progress = excluded.progress, updated_at = excluded.updated_at",
            (target, ep, author, verdict, progress, now),
        )
        detail = verdict if verdict != "partial" else f"partial ({progress:g} %)"
        _log(conn, author, "verdict", target, ep, detail)
        if body:
            conn.execute(
                "INSERT INTO review_comments(target, episode_index, author, body, created_at) VALUES (?,?,?,?,?)",
                (target, ep, author, body, now),
            )
            _log(conn, author, "comment", target, ep, body[:200])
    return Verdict(target, ep, author, verdict, progress, now)


def clear_verdict(project, target: str, episode_index: int, *, author: str | None = None) -> bool:
    target, ep, author = _target(target), _episode(episode_index), _author(author)
    with _conn(project) as conn, db.transaction(conn):
        cur = conn.execute(
            "DELETE FROM review_verdicts WHERE target = ? AND episode_index = ? AND author = ?", (target, ep, author)
        )
        if cur.rowcount:
            _log(conn, author, "clear-verdict", target, ep, "")
    return bool(cur.rowcount)


def list_verdicts(project, target: str, episode_index: int | None = None) -> list[Verdict]:
    """All reviewers' verdicts for a target (optionally one episode), newest first."""
    target = _target(target)
    sql = "SELECT * FROM review_verdicts WHERE target = ?"
    args: list[Any] = [target]
    if episode_index is not None:
        sql += " AND episode_index = ?"
        args.append(_episode(episode_index))
    with _conn(project) as conn:
        rows = conn.execute(sql + " ORDER BY updated_at DESC, author", args).fetchall()
    return [Verdict(r["target"], r["episode_index"], r["author"], r["verdict"], r["progress"], r["updated_at"])
            for r in rows]


def verdicts(project, target: str) -> dict[int, Verdict]:
    """The effective verdict per episode: the most recent one from any reviewer."""
    out: dict[int, Verdict] = {}
    for v in list_verdicts(project, target):  # newest first
        out.setdefault(v.episode_index, v)
    return out


# --------------------------------------------------------------------------- comments


def _comment_body(body: Any) -> str:
    body = str(body or "").strip()
    if not body:
        raise ReviewError("comment", "is empty")
    if len(body) > MAX_COMMENT:
        raise ReviewError("comment", f"is {len(body)} characters long (max {MAX_COMMENT})")
    return body


def add_comment(project, target: str, episode_index: int, author: str | None, body: str) -> Comment:
    """Append a comment on one episode of a target (rollout set name or dataset path)."""
    target, ep, author, body = _target(target), _episode(episode_index), _author(author), _comment_body(body)
    now = time.time()
    with _conn(project) as conn, db.transaction(conn):
        cur = conn.execute(
            "INSERT INTO review_comments(target, episode_index, author, body, created_at) VALUES (?,?,?,?,?)",
            (target, ep, author, body, now),
        )
        cid = int(cur.lastrowid)
        _log(conn, author, "comment", target, ep, body[:200])
    return Comment(cid, target, ep, author, body, now)


def list_comments(project, target: str, episode_index: int | None = None) -> list[Comment]:
    """Comments on a target (optionally one episode), oldest first."""
    target = _target(target)
    sql = "SELECT * FROM review_comments WHERE target = ?"
    args: list[Any] = [target]
    if episode_index is not None:
        sql += " AND episode_index = ?"
        args.append(_episode(episode_index))
    with _conn(project) as conn:
        rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return [Comment(r["id"], r["target"], r["episode_index"], r["author"], r["body"], r["created_at"]) for r in rows]


def comment_counts(project, target: str) -> dict[int, int]:
    with _conn(project) as conn:
        rows = conn.execute(
            "SELECT episode_index, COUNT(*) AS n FROM review_comments WHERE target = ? GROUP BY episode_index",
            (_target(target),),
        ).fetchall()
    return {r["episode_index"]: r["n"] for r in rows}


def activity(project, limit: int = 50, *, target: str | None = None) -> list[Activity]:
    """The most recent review actions (register, verdict, comment, …), newest first."""
    limit = max(1, min(int(limit), 10_000))
    sql, args = "SELECT * FROM review_activity", []
    if target is not None:
        sql += " WHERE target = ?"
        args.append(_target(target))
    with _conn(project) as conn:
        rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
    return [Activity(r["id"], r["at"], r["author"], r["action"], r["target"], r["episode_index"], r["detail"])
            for r in rows]


# --------------------------------------------------------------------------- episode lists


def _summary_by_episode(summary: dict[str, Any] | None) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for row in (summary or {}).get("episodes") or []:
        try:
            out[int(row["episode_index"])] = row
        except (KeyError, TypeError, ValueError):
            continue
    return out


def episode_rows(project, target: str, dataset=None) -> list[EpisodeRow]:
    """The episode list of a rollout set (or any dataset): lengths, the engine's success /
    progress where known (summary.json), the latest verdict and comment counts.

    `target` is a rollout set name or a dataset path; `dataset` an opened Dataset (optional).
    """
    from studio.datasets import open_dataset

    root: Path
    try:
        rs = get_rollout_set(project, target)
        root = rs.path
    except ReviewError:
        root = Path(target)
    if dataset is None:
        dataset = open_dataset(root)
    summary = _summary_by_episode(read_summary(dataset.root))
    vmap = verdicts(project, target)
    with _conn(project) as conn:
        nrev = {r["episode_index"]: r["n"] for r in conn.execute(
            "SELECT episode_index, COUNT(*) AS n FROM review_verdicts WHERE target = ? GROUP BY episode_index",
            (target,)).fetchall()}
    counts = comment_counts(project, target)
    eps = dataset.episodes
    lengths = eps["length"].tolist() if "length" in eps.columns else [None] * len(eps)
    rows = []
    for ep, length in zip(eps["episode_index"].tolist(), lengths):
        ep = int(ep)
        s = summary.get(ep, {})
        v = vmap.get(ep)
        rows.append(EpisodeRow(
            episode_index=ep,
            length=int(length) if length is not None else None,
            seed=int(s["seed"]) if s.get("seed") is not None else None,
            success=bool(s["success"]) if s.get("success") is not None else None,
            progress=float(s["progress"]) if s.get("progress") is not None else None,
            verdict=v.verdict if v else None,
            verdict_progress=v.progress if v else None,
            reviewer=v.author if v else None,
            n_reviews=nrev.get(ep, 0),
            n_comments=counts.get(ep, 0),
        ))
    return rows


def outcomes(project, target: str, dataset=None) -> list[dict[str, Any]]:
    """Per-episode outcome for statistics: a reviewer verdict wins over the engine's
    summary; episodes with neither are left out. Keys: episode_index, seed, success,
    progress (0..1), source ('review' | 'summary')."""
    out = []
    for r in episode_rows(project, target, dataset):
        if r.verdict is not None:
            out.append({"episode_index": r.episode_index, "seed": r.seed, "success": r.verdict == "success",
                        "progress": (r.verdict_progress or 0.0) / 100.0, "source": "review"})
        elif r.success is not None:
            out.append({"episode_index": r.episode_index, "seed": r.seed, "success": r.success,
                        "progress": r.progress if r.progress is not None else float(r.success), "source": "summary"})
    return out



@dataclass(frozen=True)
class Target:
    """Something reviewers can open in the Rollouts panel: a rollout set or a dataset."""

    key: str  # the review target: rollout set name, or the dataset's absolute path
    label: str
    root: Path
    rollout_set: RolloutSet | None = None


def targets(project) -> list[Target]:
    """Rollout sets (newest first), then the project's other datasets (demos, selections)."""
    from studio.datasets import list_project_datasets

    out: list[Target] = []
    seen: set[str] = set()
    for s in list_rollout_sets(project):
        out.append(Target(s.name, f"rollouts · {s.name} ({s.kind}, {s.checkpoint}, {s.n_episodes} episodes)",
                          Path(s.path), s))
        seen.add(str(Path(s.path).resolve()))
    for root in list_project_datasets(project):
        key = str(Path(root).resolve())
        if key in seen:
            continue
        seen.add(key)
        try:
            rel = Path(root).resolve().relative_to(Path(project.home).resolve())
        except ValueError:
            rel = Path(root).name
        out.append(Target(key, f"dataset · {rel}", Path(root).resolve()))
    return out


def resolve_target(project, ref: str) -> Target:
    """A rollout set name, a target label or a dataset folder → Target."""
    ref = str(ref or "").strip()
    if not ref:
        raise ReviewError("rollouts", "pick a rollout set or dataset")
    for t in targets(project):
        if ref in (t.key, t.label):
            return t
    path = Path(ref).expanduser()
    if path.exists():
        root = path.resolve()
        return Target(str(root), f"dataset · {root}", root)
    raise ReviewError(ref, "is neither a rollout set of this project nor a dataset folder")
