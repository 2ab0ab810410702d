"""Run cells of a workspace: outputs, errors as one sentence, guided checks, and a record of
each run in studio.db (so guided progress survives closing the tab)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from studio import db
from studio.errors import StudioError
from studio.workspaces import checks
from studio.workspaces.cells import CellKind, Output, RunContext, cell_kinds
from studio.workspaces.format import Cell

log = logging.getLogger("studio.workspaces")

db.register_schema(
    "workspaces",
    """
    CREATE TABLE IF NOT EXISTS workspace_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workspace TEXT NOT NULL,
        cell_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT,
        check_name TEXT,
        check_passed INTEGER,
        check_message TEXT,
        seconds REAL NOT NULL,
        user TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS workspace_runs_ws ON workspace_runs(workspace, cell_key);
    """,
)


@dataclass
class CellResult:
    index: int
    kind: str
    outputs: list[Output] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    check: checks.CheckResult | None = None
    cell_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def cell_key(cell: Cell, index: int) -> str:
    return cell.id or f"#{index + 1}"


def run_cell(ctx: RunContext, index: int, *, kinds: dict[str, CellKind] | None = None, record: bool = True) -> CellResult:
    """Run cell `index` of `ctx.workspace`; failures become `result.error` (one sentence)."""
    cell = ctx.workspace.cells[index]
    kinds = kinds if kinds is not None else cell_kinds()
    result = CellResult(index, cell.kind, cell_id=cell.id)
    t0 = time.perf_counter()
    kind = kinds.get(cell.kind)
    try:
        if kind is None:
            raise StudioError(f"cell {index + 1}", f"unknown cell kind '{cell.kind}' (is its plugin installed?)")
        result.outputs = list(kind.run(cell, ctx) or [])
    except StudioError as exc:
        result.error = exc.ui_sentence()  # a notebook speaks in form words, not CLI flags
    except Exception as exc:
        log.exception("cell %d (%s) of %s failed", index + 1, cell.kind, ctx.workspace_name)
        result.error = f"unexpected error ({type(exc).__name__}: {exc}); details in logs/studio.log"
    result.seconds = time.perf_counter() - t0
    ctx.results[cell_key(cell, index)] = result
    ctx.results[str(index)] = result
    result.check = checks.evaluate(cell, result, ctx)
    if record and ctx.project is not None:
        _record(ctx, cell, result)
    return result


def run_all(ctx: RunContext, *, stop_on_error: bool = False) -> list[CellResult]:
    kinds = cell_kinds()
    out = []
    n = len(ctx.workspace.cells)
    for i in range(n):
        ctx.report(i / max(n, 1), f"cell {i + 1} of {n}")
        res = run_cell(ctx, i, kinds=kinds)
        out.append(res)
        if stop_on_error and res.error:
            break
    return out


def _record(ctx: RunContext, cell: Cell, result: CellResult) -> None:
    conn = ctx.project.connect()
    try:
        with db.transaction(conn):
            conn.execute(
                "INSERT INTO workspace_runs(workspace, cell_key, kind, ok, error, check_name, check_passed, "
                "check_message, seconds, user, at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    ctx.workspace_name, cell_key(cell, result.index), cell.kind, int(result.ok), result.error,
                    cell.check, None if result.check is None else int(result.check.passed),
                    None if result.check is None else result.check.message, result.seconds, ctx.user,
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )
    finally:
        conn.close()


def progress(project, workspace_name: str) -> dict[str, checks.CheckResult]:
    """The last check result of each checked cell of a workspace (cell key -> result)."""
    conn = project.connect()
    try:
        rows = conn.execute(
            "SELECT cell_key, check_passed, check_message FROM workspace_runs WHERE workspace = ? "
            "AND check_name IS NOT NULL ORDER BY id",
            (workspace_name,),
        ).fetchall()
    finally:
        conn.close()
    return {r["cell_key"]: checks.CheckResult(bool(r["check_passed"]), r["check_message"] or "") for r in rows}
