"""Shared pieces of CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from studio.logs import setup_logging
from studio.project import Project, open_project

ProjectOption = typer.Option(
    None,
    "--project",
    help="Project home (default: $STUDIO_HOME or ~/flywheel-studio).",
    show_default=False,
)


def project_from(path: Optional[Path]) -> Project:
    """Open the project home named on the command line and log into it."""
    project = open_project(path)
    setup_logging(project.logs_dir)
    return project
