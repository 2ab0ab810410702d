"""The audit trail: who changed what, when, through the served studio (read with `studio audit`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from studio import db

db.register_schema(
    "audit",
    """
    CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        user TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT ''
    );
    """,
)


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    user: str
    role: str
    action: str
    target: str


def record(project, user, action: str, target: str = "") -> None:
    """Append one successful write to the trail."""
    conn = project.connect()
    try:
        with db.transaction(conn):
            conn.execute("INSERT INTO audit(at, user, role, action, target) VALUES (?,?,?,?,?)",
                         (time.time(), user.name, user.role, action, str(target)[:500]))
    finally:
        conn.close()


def entries(project, *, limit: int = 100, user: str | None = None) -> list[Entry]:
    """The newest entries first."""
    conn = project.connect()
    try:
        sql = "SELECT id, at, user, role, action, target FROM audit"
        args: list = []
        if user:
            sql += " WHERE user = ?"
            args.append(user)
        rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, int(limit))).fetchall()
    finally:
        conn.close()
    return [Entry(*tuple(r)) for r in rows]
