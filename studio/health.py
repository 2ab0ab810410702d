"""studio.db must fail loudly, never silently become an empty project.

- `check(project)`: on open, the file is a SQLite database that passes `PRAGMA quick_check` and
  holds the studio's tables; an empty or missing file in a project that has history (jobs/N/
  folders, a backup, the marker saying a database was made) is damage too. Anything wrong is one
  `DatabaseError` sentence naming the automatic backup and `studio doctor`.
- `backup(project)`: a rolling copy through SQLite's backup API (`backups/studio.db.1`, the one
  before it `.2`), made once a day when a project opens and when `studio serve` stops cleanly.
- `restore(project)` / `rebuild(project)`: what `studio doctor` does; the damaged file is kept
  aside (`studio.db.damaged-<time>`), never deleted.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from studio.errors import DatabaseError

HEADER = b"SQLite format 3\x00"
BACKUP_EVERY_S = 24 * 3600
KEEP = 2
REQUIRED_TABLES = ("settings",)
_checked: dict[str, tuple] = {}
_lock = threading.Lock()


def backups_dir(project) -> Path:
    return Path(project.home) / "backups"


def latest_backup(project) -> Path | None:
    p = backups_dir(project) / "studio.db.1"
    return p if p.is_file() else None


def job_folder_ids(project) -> list[int]:
    jobs = Path(project.home) / "jobs"
    return sorted(int(p.name) for p in jobs.iterdir() if p.is_dir() and p.name.isdigit()) if jobs.is_dir() else []


def _advice(project) -> str:
    b = latest_backup(project)
    where = f"the automatic backup is {b}; restore it with `studio doctor --restore`" if b else \
        "there is no automatic backup yet"
    return f"nothing was changed; {where}, or rebuild the job index from jobs/ with `studio doctor --rebuild`"


def _has_history(project) -> bool:
    marker = Path(project.home) / "studio.json"
    try:
        made = bool(json.loads(marker.read_text()).get("database"))
    except (OSError, ValueError, AttributeError):
        made = False
    return made or latest_backup(project) is not None or bool(job_folder_ids(project))


def problem(path: Path) -> str | None:
    """What is wrong with the database file at `path` (None: healthy). Read-only."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if len(head) < 100:
        return f"is truncated ({len(head)} bytes)"
    if not head.startswith(HEADER):
        return "is not a SQLite database (its header is overwritten)"
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    size = path.stat().st_size
    wal = Path(str(path) + "-wal")
    if pages and size < pages * page and not (wal.exists() and wal.stat().st_size > 0):
        return f"is truncated ({size} of {pages * page} bytes)"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({str(exc).splitlines()[0]})"
    if rows != ["ok"]:
        return f"is damaged ({rows[0][:120]})"
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        return f"has lost the studio's tables ({', '.join(missing)})"
    return None


def check(project) -> None:
    """Raise DatabaseError unless studio.db is healthy (checked once per file per process)."""
    path = Path(project.db_path)
    try:
        st = path.stat()
        stamp: tuple = (st.st_ino, st.st_dev)
    except FileNotFoundError:
        st, stamp = None, ()
    key = str(path)
    with _lock:
        if stamp and _checked.get(key) == stamp:
            return
    if st is None or st.st_size == 0:
        if _has_history(project):
            what = "is missing" if st is None else "is empty (0 bytes)"
            raise DatabaseError(str(path), f"{what} but this project has history; {_advice(project)}")
        return  # a new project: the first connection creates it
    why = problem(path)
    if why:
        raise DatabaseError(str(path), f"{why}; {_advice(project)}")
    with _lock:
        _checked[key] = stamp


def forget(project) -> None:
    with _lock:
        _checked.pop(str(Path(project.db_path)), None)


def _copy(src: sqlite3.Connection, dest: Path) -> None:
    """Copy the open database `src` into `dest` through SQLite's backup API; closes both."""
    try:
        dst = sqlite3.connect(str(dest))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def backup(project) -> Path:
    """Copy studio.db through SQLite's backup API to backups/studio.db.1 (the previous one → .2)."""
    folder = backups_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".studio.db.{os.getpid()}.tmp"
    _copy(sqlite3.connect(str(project.db_path), timeout=30), tmp)
    if problem(tmp) is not None:  # never rotate a bad copy over a good one
        tmp.unlink(missing_ok=True)
        raise DatabaseError(str(project.db_path), "could not be backed up (the copy failed its check)")
    for i in range(KEEP, 1, -1):
        older = folder / f"studio.db.{i - 1}"
        if older.exists():
            os.replace(older, folder / f"studio.db.{i}")
    target = folder / "studio.db.1"
    os.replace(tmp, target)
    return target


def backup_if_due(project, every_s: float = BACKUP_EVERY_S) -> Path | None:
    last = latest_backup(project)
    if last is not None and time.time() - last.stat().st_mtime < every_s:
        return None
    try:
        return backup(project)
    except (OSError, sqlite3.Error, DatabaseError):  # a backup must never stop the studio opening
        import logging

        logging.getLogger("studio.health").warning("automatic backup of studio.db failed", exc_info=True)
        return None


def _set_aside(project) -> Path | None:
    path = Path(project.db_path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = None
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(str(path) + suffix)
        if p.exists():
            dest = p.with_name(f"{p.name}.damaged-{stamp}")
            os.replace(p, dest)
            kept = kept or dest
    forget(project)
    return kept


def restore(project, source: Path | None = None) -> tuple[Path, Path | None]:
    """Put a backup back in place (the current file is kept aside); (backup used, file set aside)."""
    source = Path(source) if source else latest_backup(project)
    if source is None or not source.is_file():
        raise DatabaseError(str(backups_dir(project)), "has no backup to restore; try `studio doctor --rebuild`")
    why = problem(source)
    if why:
        raise DatabaseError(str(source), f"{why}; try an older backup (`--from`) or `studio doctor --rebuild`")
    aside = _set_aside(project)
    _copy(sqlite3.connect(f"file:{source}?mode=ro", uri=True), Path(project.db_path))
    check(project)
    return source, aside


def rebuild(project) -> tuple[int, Path | None]:
    """A fresh studio.db whose job index is read back from the jobs/N/ folders; (jobs, file set aside)."""
    from studio import db
    from studio.jobs.model import CANCELLED, FAILED, SUCCEEDED

    aside = _set_aside(project)
    conn = db.connect(project.db_path)
    n = 0
    try:
        with db.transaction(conn):
            for job_id in job_folder_ids(project):
                folder = Path(project.home) / "jobs" / str(job_id)
                try:
                    spec = json.loads((folder / "spec.json").read_text())
                except (OSError, ValueError):
                    continue
                runs = sorted((p for p in folder.glob("run-*") if p.name[4:].isdigit()), key=lambda p: int(p.name[4:]))
                status = {}
                if runs:
                    try:
                        status = json.loads((runs[-1] / "status.json").read_text())
                    except (OSError, ValueError):
                        status = {}
                state = status.get("state") if status.get("state") in (SUCCEEDED, FAILED, CANCELLED) else FAILED
                error = status.get("error") or (None if state != FAILED else "rebuilt from jobs/: its last state was unknown")
                name = spec.pop("name", f"job {job_id}")
                backend = spec.pop("backend", "local")
                conn.execute(
                    "INSERT INTO jobs(id, name, state, backend, spec, attempt, created_at, finished_at, error) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (job_id, name, state, backend, json.dumps(spec), max(1, len(runs)),
                     folder.stat().st_mtime, time.time(), error))
                n += 1
    finally:
        conn.close()
    mark_created(project)
    return n, aside


def mark_created(project) -> None:
    """Note in the project marker that a database was made (an empty one later is damage)."""
    from studio.fsutil import atomic_write_json

    marker = Path(project.home) / "studio.json"
    try:
        meta = json.loads(marker.read_text())
    except (OSError, ValueError):
        return
    if isinstance(meta, dict) and not meta.get("database"):
        meta["database"] = "studio.db"
        atomic_write_json(marker, meta)
