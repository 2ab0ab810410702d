"""`studio serve`: share the studio with a team (login required off this machine), and
`studio users add/list/remove/token` to manage who may sign in and with which role."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption, project_from
from studio.errors import StudioError

UsersOption = typer.Option(
    None, "--users", help="Users file (default: <project>/users.json).", show_default=False
)


def is_loopback(host: str) -> bool:
    if host.strip().lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _users_path(project_path: Optional[Path], users: Optional[Path]) -> Path:
    if users is not None:
        return users
    from studio.auth import default_users_path

    return default_users_path(project_from(project_path))


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on; anything but loopback needs --users."),
        port: int = typer.Option(7860, help="Port to listen on."),
        project: Optional[Path] = ProjectOption,
        users: Optional[Path] = UsersOption,
    ) -> None:
        """Serve the studio to a team: sign-in with roles viewer / reviewer / curator."""
        from studio.auth import Auth, default_users_path

        proj = project_from(project)
        users_path = users if users is not None else default_users_path(proj)
        auth = None
        if users is not None or users_path.exists():
            auth = Auth.from_file(users_path)
        if auth is None and not is_loopback(host):
            raise StudioError(
                "--host",
                f"{host} makes the studio reachable from other machines, and no users are configured; "
                "add users with `studio users add NAME --role reviewer` (or pass --users FILE), "
                "or use `studio launch` to work on this machine only",
            )
        from panels.app import launch as launch_app

        who = f"sign-in required ({len(auth.users_file.users())} users in {users_path})" if auth else "no sign-in (loopback only)"
        typer.echo(f"Serving on {host}:{port}: {who}")
        try:
            launch_app(proj, host=host, port=port, auth=auth)
        finally:
            from studio import health

            health.backup_if_due(proj, every_s=0)  # a clean stop leaves a fresh backup of studio.db

    users_app = typer.Typer(help="Manage who may sign in to `studio serve` and with which role.", no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @users_app.command("add")
    def users_add(
        name: str = typer.Argument(..., help="User name."),
        role: str = typer.Option("viewer", help="viewer (read), reviewer (+verdicts, comments), curator (+tags, selections, train)."),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
        token: bool = typer.Option(False, "--token", help="Also create an access token (printed once)."),
        replace: bool = typer.Option(False, "--replace", help="Replace an existing user of that name."),
        project: Optional[Path] = ProjectOption,
        users: Optional[Path] = UsersOption,
    ) -> None:
        """Add a user (asks for a password, or reads it with --password-stdin)."""
        from studio.auth import UsersFile

        path = _users_path(project, users)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        elif token:
            password = None
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        uf = UsersFile(path)
        user = uf.add(name, role, password, replace=replace)
        typer.echo(f"added {user.name} ({user.role}) to {path}")
        if token:
            typer.echo(f"token for {user.name} (shown once; use it as the password): {uf.new_token(user.name)}")

    @users_app.command("token")
    def users_token(
        name: str = typer.Argument(..., help="User name."),
        project: Optional[Path] = ProjectOption,
        users: Optional[Path] = UsersOption,
    ) -> None:
        """Create an access token for a user (printed once; it works as a password)."""
        from studio.auth import UsersFile

        typer.echo(UsersFile(_users_path(project, users)).new_token(name))

    @users_app.command("list")
    def users_list(
        project: Optional[Path] = ProjectOption,
        users: Optional[Path] = UsersOption,
    ) -> None:
        """List users and their roles."""
        from studio.auth import UsersFile

        path = _users_path(project, users)
        found = UsersFile(path).users()
        if not found:
            typer.echo(f"no users in {path}")
        for u in found:
            typer.echo(f"{u.name}\t{u.role}")

    @users_app.command("remove")
    def users_remove(
        name: str = typer.Argument(..., help="User name."),
        project: Optional[Path] = ProjectOption,
        users: Optional[Path] = UsersOption,
    ) -> None:
        """Remove a user (they can no longer sign in)."""
        from studio.auth import UsersFile

        path = _users_path(project, users)
        UsersFile(path).remove(name)
        typer.echo(f"removed {name} from {path}")
