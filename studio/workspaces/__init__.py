"""Workspaces: notebooks of cells stored as Markdown with fenced cells.

- `format`: parse/serialize the file format (`Workspace`, `Cell`, `WorkspaceError`).
- `cells`: the cell-kind registry (built-ins + the `studio_cell_kinds` plugin hook).
- `runner`: run a cell / all cells, evaluate guided checks, record runs in studio.db.
- `checks`: the guided checks ("You ran your first query.").
- `store`: workspace files in `<home>/workspaces/`, guided ones copied on first use.
"""

from studio.workspaces.cells import CellKind, Output, RunContext, cell_kinds, new_cell
from studio.workspaces.format import Cell, Workspace, WorkspaceError, parse, read, serialize, write
from studio.workspaces.runner import CellResult, progress, run_all, run_cell
from studio.workspaces.store import (
    create_workspace,
    ensure_guided,
    list_workspaces,
    open_workspace,
    save_workspace,
)

__all__ = [
    "Cell", "CellKind", "CellResult", "Output", "RunContext", "Workspace", "WorkspaceError",
    "cell_kinds", "create_workspace", "ensure_guided", "list_workspaces", "new_cell", "open_workspace",
    "parse", "progress", "read", "run_all", "run_cell", "save_workspace", "serialize", "write",
]
