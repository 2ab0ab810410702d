"""What happens around launching the app that is not UI: first-launch preparation."""

from __future__ import annotations

from typing import Callable

from studio.project import Project


def prepare_first_launch(project: Project, echo: Callable[[str], None] = print) -> None:
    """On an empty project home, build what a newcomer needs (the demo world, when available)."""
    if not project.is_empty():
        return
    echo(f"Project home {project.home} is empty.")
