"""What happens around launching the app that is not UI: first-launch preparation."""

from __future__ import annotations

from typing import Callable

from studio.project import Project


def prepare_first_launch(project: Project, echo: Callable[[str], None] = print, *, episodes: int = 150) -> None:
    """On an empty project home, build what a newcomer needs (the demo world of `episodes`
    demonstrations; fewer only in tests)."""
    d = project.datasets_dir
    # hidden entries are leftovers of an interrupted build (".pick_cube_demos.partial-*")
    if d.exists() and any(not p.name.startswith(".") for p in d.iterdir()):
        return
    echo(f"Project home {project.home} is empty: building the demo world "
         "(a simulated Panda arm picking a cube; demonstrations from operators of mixed skill).")
    from studio.demo import build_demo_world
    from studio.sim.progress import TerminalProgress

    try:
        root = build_demo_world(project, episodes=episodes, progress=TerminalProgress("building demo world"))
    except Exception as exc:  # the studio still opens; `studio demo` can retry later
        import logging

        logging.getLogger("studio.demo").exception("demo world build failed")
        echo(f"warning: the demo world could not be built ({type(exc).__name__}: {exc}); "
             "run `studio demo` to retry (details in logs/studio.log)")
        return
    echo(f"Demo world ready: {root}")
