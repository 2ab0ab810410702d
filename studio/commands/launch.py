"""`studio launch`: the studio in the browser, on this machine only, password-free."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption, project_from
from studio.errors import StudioError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def register(app: typer.Typer) -> None:
    @app.command()
    def launch(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback only; see `studio serve`)."),
        port: int = typer.Option(7860, help="Port to listen on."),
        project: Optional[Path] = ProjectOption,
        open_browser: bool = typer.Option(False, "--open/--no-open", help="Open a browser tab."),
    ) -> None:
        """Launch the studio on http://HOST:PORT for the project home."""
        if host not in LOOPBACK:
            raise StudioError(
                "--host",
                f"{host} is not a loopback address; to share the studio on a network use "
                "`studio serve` (it requires authentication)",
            )
        proj = project_from(project)
        from studio.app_runtime import prepare_first_launch

        prepare_first_launch(proj, echo=typer.echo)
        from panels.app import launch as launch_app

        launch_app(proj, host=host, port=port, open_browser=open_browser)
