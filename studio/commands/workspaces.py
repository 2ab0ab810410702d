"""`studio workspaces list|run|new`: the notebooks of the Workspaces panel, from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption, project_from
from studio.errors import StudioError


def _show(out) -> str:
    if out.kind == "table":
        df = out.data
        head = df.head(10).to_string(index=False) if hasattr(df, "to_string") else str(df)
        more = f"\n… {len(df) - 10} more rows" if hasattr(df, "__len__") and len(df) > 10 else ""
        return f"[{out.title or 'table'}]\n{head}{more}"
    if out.kind == "plotly":
        return f"[chart] {out.title or ''}".rstrip()
    if out.kind == "viewer":
        return f"[recording] {out.data}"
    if out.kind == "json":
        return ""
    return str(out.data)


def register(app: typer.Typer) -> None:
    ws_app = typer.Typer(help="Workspaces: Markdown notebooks of cells (and the guided tours).", no_args_is_help=True)
    app.add_typer(ws_app, name="workspaces")

    @ws_app.command("list")
    def ws_list(project: Optional[Path] = ProjectOption) -> None:
        """List the project's workspaces (guided ones are copied in on first use)."""
        from studio.workspaces import list_workspaces

        for name in list_workspaces(project_from(project)):
            typer.echo(name)

    @ws_app.command("new")
    def ws_new(
        name: str = typer.Argument(..., help="Workspace name (file <home>/workspaces/NAME.md)."),
        dataset: Optional[str] = typer.Option(None, help="Default dataset of its cells."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Create an empty workspace."""
        from studio.workspaces import create_workspace

        typer.echo(create_workspace(project_from(project), name, dataset=dataset))

    @ws_app.command("run")
    def ws_run(
        name: str = typer.Argument(..., help="Workspace name (see `studio workspaces list`)."),
        cell: Optional[int] = typer.Option(None, "--cell", help="Run only this cell (1-based)."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Run a workspace's cells in order; print outputs and guided checks. Exit 2 if a cell fails."""
        from studio.workspaces.session import NotebookSession

        proj = project_from(project)
        nb = NotebookSession(proj, name)
        if nb.error:
            raise StudioError(nb.path.name, nb.error.split(": ", 1)[-1] if nb.error.startswith(nb.path.name) else nb.error)
        n = len(nb.workspace.cells)
        if cell is not None and not 1 <= cell <= n:
            raise StudioError("--cell", f"{cell} is not a cell of {name} (it has {n})")
        indices = [cell - 1] if cell is not None else range(n)
        failed = 0
        for i in indices:
            c = nb.workspace.cells[i]
            if c.kind == "markdown" and cell is None:
                continue
            res = nb.run(i)
            typer.echo(f"── cell {i + 1} ({c.kind}{', ' + c.id if c.id else ''}) · {res.seconds:.1f} s")
            if res.error:
                failed += 1
                typer.echo(f"error: {res.error}")
            for out in res.outputs:
                text = _show(out)
                if text:
                    typer.echo(text)
            if res.check is not None:
                typer.echo(("✔ " if res.check.passed else "✘ ") + res.check.message)
        if failed:
            raise StudioError(name, f"{failed} cell(s) failed")
