"""Workspace files in a project: `<home>/workspaces/*.md`. The guided workspaces shipped in
the repository's `workspaces/` are copied there on first use and never edited in place."""

from __future__ import annotations

import re
from pathlib import Path

from studio.workspaces.format import Workspace, WorkspaceError, read, write

GUIDED_DIR = Path(__file__).resolve().parents[2] / "workspaces"
FIRST_GUIDED = "01-first-look"
FIRST_SHOWN_SETTING = "workspaces.first_shown"  # set once the first launch showed workspace 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def guided_names() -> list[str]:
    return sorted(p.stem for p in GUIDED_DIR.glob("*.md")) if GUIDED_DIR.is_dir() else []


def ensure_guided(project) -> list[str]:
    """Copy shipped guided workspaces missing from the project; returns the names copied."""
    copied = []
    project.workspaces_dir.mkdir(parents=True, exist_ok=True)
    for name in guided_names():
        target = project.workspaces_dir / f"{name}.md"
        if not target.exists():
            from studio.fsutil import atomic_write_bytes

            atomic_write_bytes(target, (GUIDED_DIR / f"{name}.md").read_bytes())
            copied.append(name)
    return copied


def list_workspaces(project) -> list[str]:
    ensure_guided(project)
    return sorted(p.stem for p in project.workspaces_dir.glob("*.md"))


def path_of(project, name: str) -> Path:
    name = name[:-3] if name.endswith(".md") else name
    if not _NAME_RE.match(name):
        raise WorkspaceError(f"workspace '{name}'", "a name uses letters, digits, '-', '_' and '.' only")
    return project.workspaces_dir / f"{name}.md"


def open_workspace(project, name: str, *, known_kinds=None) -> Workspace:
    path = path_of(project, name)
    if not path.exists() and name in guided_names():
        ensure_guided(project)
    if known_kinds is None:
        from studio.workspaces.cells import cell_kinds

        known_kinds = cell_kinds().keys()
    return read(path, known_kinds=known_kinds)


def save_workspace(project, name: str, ws: Workspace) -> Path:
    return write(path_of(project, name), ws)


def create_workspace(project, name: str, title: str | None = None, dataset: str | None = None) -> Path:
    path = path_of(project, name)
    if path.exists():
        raise WorkspaceError(f"workspace '{name}'", "already exists")
    from studio.workspaces.format import Cell

    meta = [("title", title or name)]
    if dataset:
        meta.append(("dataset", dataset))
    return write(path, Workspace((Cell("markdown", f"# {title or name}"),), tuple(meta)))


def reset_guided(project, name: str) -> Path:
    """Put back the shipped copy of a guided workspace (the user's edits are discarded)."""
    if name not in guided_names():
        raise WorkspaceError(f"workspace '{name}'", "is not a guided workspace")
    target = path_of(project, name)
    from studio.fsutil import atomic_write_bytes

    return atomic_write_bytes(target, (GUIDED_DIR / f"{name}.md").read_bytes())
