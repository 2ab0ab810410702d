"""The `studio` command line. Subcommands live in `studio/commands/<feature>.py`, each
exposing `register(app)`; they are discovered here so features never edit this file.

Expected failures print `error: <where>: <what>` and exit 2; tracebacks go to the log.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import click
import typer

from studio import __version__
from studio.errors import StudioError

log = logging.getLogger("studio.cli")

app = typer.Typer(
    name="studio",
    help="Flywheel Studio: browse, curate, fine-tune, roll out and compare robot-learning data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"flywheel-studio {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version_callback
    ),
) -> None:
    """Flywheel Studio: browse, curate, fine-tune, roll out and compare robot-learning data."""


_registered = False


def register_commands() -> None:
    global _registered
    if _registered:
        return
    from studio import commands

    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"studio.commands.{mod.name}")
        module.register(app)
    _registered = True


def os_error_sentence(exc: OSError) -> str:
    """`<path>: <what the OS said>` for any OSError (e.g. `/proc/x: No such file or directory`)."""
    where = exc.filename if exc.filename is not None else "file system"
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename2 is not None:
        what += f" (with {exc.filename2})"
    return f"{where}: {what}"


def main(argv: list[str] | None = None) -> int:
    register_commands()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        rv = app(args=args, prog_name="studio", standalone_mode=False)
        return int(rv or 0) if isinstance(rv, int) else 0
    except StudioError as exc:
        log.info("expected failure: %s", exc.sentence())
        typer.echo(f"error: {exc.sentence()}", err=True)
        return 2
    except OSError as exc:  # the file system said no: one sentence naming the path
        log.info("file system error in `studio %s`", " ".join(args), exc_info=True)
        typer.echo(f"error: {os_error_sentence(exc)}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # unexpected: one sentence to the user, traceback to the log
        log.exception("unexpected failure in `studio %s`", " ".join(args))
        typer.echo(
            f"error: internal error ({type(exc).__name__}: {exc}); details in the project's logs/studio.log",
            err=True,
        )
        return 1


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
