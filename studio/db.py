"""Studio state in SQLite (WAL). Each feature module declares its own tables here.

Writers use `transaction()` (BEGIN IMMEDIATE + retry on busy) so concurrent clients never
lose an update; readers never block writers thanks to WAL.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_SCHEMAS: dict[str, str] = {}
_lock = threading.Lock()


def register_schema(name: str, ddl: str) -> None:
    """Declare tables for a feature (idempotent DDL: CREATE TABLE IF NOT EXISTS …)."""
    with _lock:
        _SCHEMAS[name] = ddl


def connect(path: str | Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open studio.db with WAL, a busy timeout and all registered schemas applied."""
    conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = %d" % int(timeout * 1000))
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not enable WAL on {path} (got {mode})")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    with _lock:
        ddls = list(_SCHEMAS.values())
    for ddl in ddls:
        _retry(lambda: conn.executescript(ddl))
    return conn


def _retry(fn, attempts: int = 50):
    for i in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(min(0.01 * (2**i), 0.5))
    return fn()


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the write lock up front (no lost updates)."""
    _retry(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        _retry(lambda: conn.execute("COMMIT"))
