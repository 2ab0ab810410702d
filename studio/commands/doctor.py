"""`studio doctor`: check studio.db, restore its automatic backup, or rebuild the job index."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        restore: bool = typer.Option(False, "--restore", help="Put the newest automatic backup back in place."),
        source: Optional[Path] = typer.Option(None, "--from", help="Restore this backup file instead."),
        rebuild: bool = typer.Option(False, "--rebuild", help="Start a fresh studio.db and re-index jobs/N/ folders."),
        backup: bool = typer.Option(False, "--backup", help="Make a backup now (studio.db must be healthy)."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Check the project database; repair it from the backup or from the jobs/ folders.

        A damaged file is never deleted: it is kept beside as studio.db.damaged-<time>."""
        from studio import health
        from studio.errors import StudioError
        from studio.project import Project, default_home

        home = (project.expanduser() if project else default_home()).resolve()
        if not (home / "studio.json").exists():
            raise StudioError(str(home), "is not a Flywheel Studio project (no studio.json)")
        proj = Project(home)
        if restore or source is not None:
            used, aside = health.restore(proj, source)
            typer.echo(f"restored {proj.db_path} from {used}" + (f"; the damaged file is kept as {aside}" if aside else ""))
        elif rebuild:
            n, aside = health.rebuild(proj)
            typer.echo(f"rebuilt {proj.db_path}: {n} jobs re-indexed from jobs/ (tags, notes, selections and the "
                       "audit trail are only in the backups)" + (f"; the damaged file is kept as {aside}" if aside else ""))
        health.check(proj)
        if backup:
            typer.echo(f"backed up to {health.backup(proj)}")
        last = health.latest_backup(proj)
        typer.echo(f"{proj.db_path}: ok" + (f" (latest backup {last})" if last else " (no backup yet)"))
