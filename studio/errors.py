"""One error family for everything a user can cause; each carries *where* and *what*."""

from __future__ import annotations

import re


class StudioError(Exception):
    """An expected failure: shown to the user as one sentence, never as a traceback."""

    def __init__(self, where: str, what: str):
        self.where = str(where)
        self.what = str(what)
        super().__init__(f"{self.where}: {self.what}")

    def sentence(self) -> str:
        """The CLI's sentence: `where` may be a command-line flag (`--episodes`)."""
        return f"{self.where}: {self.what}" if self.where else self.what

    def ui_sentence(self) -> str:
        """The same sentence in the words of the studio's forms: no command-line flags."""
        where = FIELD_WORDS.get(self.where) or in_user_words(self.where)
        what = in_user_words(self.what)
        return f"{where}: {what}" if where else what


# A command-line flag → the label of the form field that sets the same thing in the app.
FIELD_WORDS = {
    "--where": "Filter", "--device": "Device", "--out": "output folder", "--from": "Start from checkpoint",
    "--map": "Feature map", "--episodes": "Episodes", "--cameras": "Cameras", "--image-size": "Image size",
    "--policy": "Policy", "--steps": "Steps", "--batch-size": "Batch size", "--save-freq": "Save every",
    "--lr": "Learning rate", "--num-workers": "data-loading workers", "--resume": "Resume",
    "--push-to-hub": "Push to the Hub", "--weight": "Weights", "--videos": "Videos", "--format": "Export format",
    "--env": "Environment", "--workers": "Workers", "--kind": "Kind", "--checkpoint": "Checkpoint",
    "--name": "Name", "--replace": "Replace", "--action": "Action feature", "--state": "State feature",
}
_FLAG_RE = re.compile(r"`?(?<![\w-])(--[a-z][a-z0-9-]*)(?:[ =]([A-Za-z0-9_.:=/-]+))?`?")
_TAKES_VALUE = {"--device", "--cameras", "--map", "--episodes", "--videos", "--format", "--env", "--policy"}


def in_user_words(text: str) -> str:
    """Replace the command-line flags a message names by the form fields' labels:
    "use --device cpu" → "use Device: cpu"; flags the studio has no field for stay."""

    def word(m: re.Match) -> str:
        flag, value = m.group(1), m.group(2)
        label = FIELD_WORDS.get(flag)
        if label is None:
            return m.group(0)
        if value and flag in _TAKES_VALUE:
            return f"'{label}: {value}'"
        return f"'{label}'" + (m.group(0)[m.end(1) - m.start(0):].rstrip("`") if value else "")

    return _FLAG_RE.sub(word, text or "")


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
