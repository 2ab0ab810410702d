"""`studio audit`: the trail of changes made through the served studio (who, what, when)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption, project_from


def register(app: typer.Typer) -> None:
    @app.command()
    def audit(
        limit: int = typer.Option(50, help="Show at most this many entries (newest first)."),
        user: Optional[str] = typer.Option(None, help="Only this user's changes."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Who changed what and when through `studio serve` (curators read this; it needs file access)."""
        from studio import audit as trail

        found = trail.entries(project_from(project), limit=limit, user=user)
        if not found:
            typer.echo("no changes recorded yet")
        for e in found:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
            typer.echo(f"{when}\t{e.user} ({e.role})\t{e.action}\t{e.target}")
