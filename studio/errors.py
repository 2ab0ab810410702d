"""One error family for everything a user can cause; each carries *where* and *what*."""

from __future__ import annotations


class StudioError(Exception):
    """An expected failure: shown to the user as one sentence, never as a traceback."""

    def __init__(self, where: str, what: str):
        self.where = str(where)
        self.what = str(what)
        super().__init__(f"{self.where}: {self.what}")

    def sentence(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class ProjectError(StudioError):
    """The project home is missing, unreadable or from a newer studio."""


class DatabaseError(ProjectError):
    """studio.db is damaged, truncated or missing its tables (see `studio doctor`)."""


class DatasetError(StudioError):
    """A dataset cannot be opened or read."""


class QueryError(StudioError):
    """A SQL query is refused, fails or runs out of time/memory."""


class JobError(StudioError):
    """A training job spec is invalid or a job action is not possible."""


class PluginError(StudioError):
    """A plugin failed to load or raised inside a hook."""


class AuthError(StudioError):
    """Authentication or authorisation failed."""
