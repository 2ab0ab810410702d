"""The project home: where a user's datasets, selections, jobs, checkpoints and state live.

Layout (created idempotently):
    datasets/ selections/ jobs/ checkpoints/ rollouts/ workspaces/ logs/ studio.db studio.json
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from studio import db
from studio.errors import ProjectError
from studio.fsutil import atomic_write_json

# Bump when the on-disk layout or studio.db changes incompatibly.
FORMAT_VERSION = 1
SUBDIRS = ("datasets", "selections", "jobs", "checkpoints", "rollouts", "workspaces", "logs")
MARKER = "studio.json"

db.register_schema(
    "project",
    """
    CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
)


def default_home() -> Path:
    env = os.environ.get("STUDIO_HOME")
    return Path(env).expanduser() if env else Path("~/flywheel-studio").expanduser()


@dataclass(frozen=True)
class Project:
    """A project home on disk. Cheap to construct; `open_project` validates and creates it."""

    home: Path

    @property
    def db_path(self) -> Path:
        return self.home / "studio.db"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def selections_dir(self) -> Path:
        return self.home / "selections"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    @property
    def checkpoints_dir(self) -> Path:
        return self.home / "checkpoints"

    @property
    def rollouts_dir(self) -> Path:
        return self.home / "rollouts"

    @property
    def workspaces_dir(self) -> Path:
        return self.home / "workspaces"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def connect(self) -> sqlite3.Connection:
        """A new connection to studio.db (one per thread / process); DatabaseError if it is damaged."""
        from studio import health

        health.check(self)
        try:
            return db.connect(self.db_path)
        except sqlite3.DatabaseError as exc:
            from studio.errors import DatabaseError

            raise DatabaseError(str(self.db_path), f"cannot be used ({str(exc).splitlines()[0]}); "
                                "see `studio doctor`") from None

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        conn = self.connect()
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
        return row["value"] if row else default

    def set_setting(self, key: str, value: str) -> None:
        conn = self.connect()
        try:
            with db.transaction(conn):
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES(?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
        finally:
            conn.close()

    def is_empty(self) -> bool:
        """True when the user has no datasets yet (first launch)."""
        return not any(self.datasets_dir.iterdir()) if self.datasets_dir.exists() else True


def open_project(home: str | os.PathLike | None = None, *, create: bool = True) -> Project:
    """Open (and, if needed, create) a project home. Idempotent.

    Refuses a home written by a newer studio (its studio.json format_version is higher).
    """
    path = Path(home).expanduser() if home else default_home()
    path = path.resolve()
    marker = path / MARKER
    if path.exists() and not path.is_dir():
        raise ProjectError(str(path), "is a file, not a project folder")
    if marker.exists():
        try:
            meta = json.loads(marker.read_text())
            version = int(meta["format_version"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ProjectError(str(marker), "is unreadable or not a Flywheel Studio project marker") from None
        if version > FORMAT_VERSION:
            raise ProjectError(
                str(marker),
                f"this project was written by a newer Flywheel Studio (format {version}; "
                f"this version reads up to {FORMAT_VERSION}); upgrade the studio to open it",
            )
    elif not create:
        raise ProjectError(str(path), "is not a Flywheel Studio project (no studio.json)")
    try:
        for sub in SUBDIRS:
            (path / sub).mkdir(parents=True, exist_ok=True)
        if not marker.exists():
            from studio import __version__

            atomic_write_json(marker, {"format_version": FORMAT_VERSION, "created_by": __version__})
        project = Project(path)
        project.connect().close()
        from studio import health

        health.mark_created(project)
        health.backup_if_due(project)
    except PermissionError as exc:
        raise ProjectError(str(path), f"cannot write here ({exc.strerror})") from None
    return project
