"""The embedded Rerun viewer (gradio-rerun), shared by panels that play episodes.

No PANEL here: this is a helper module. Usage inside a panel's build():

    from panels.viewer import rerun_viewer, show_episodes
    view = rerun_viewer(elem_id="compare-viewer")
    btn.click(lambda: show_episodes(ctx.project, [(root_a, 17, "all-data"), (root_b, 17, "curated")])[0],
              None, view)

Recordings come from `studio.playback` (cached under the project, which the app serves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The viewer's own top bar and blueprint tree are noise inside a panel; the time panel is
# the play button, so it stays.
PANEL_STATES = {"top": "hidden", "blueprint": "collapsed", "selection": "collapsed", "time": "expanded"}


def rerun_viewer(*, elem_id: str = "rerun-viewer", height: int | str = 640, value: Any = None,
                 label: str | None = None, **kwargs: Any):
    """A gradio-rerun viewer component (create it inside a Blocks context)."""
    from gradio_rerun import Rerun

    return Rerun(value=value, height=height, elem_id=elem_id, label=label, show_label=label is not None,
                 panel_states=kwargs.pop("panel_states", PANEL_STATES), **kwargs)


def viewer_value(recording: Any) -> list[str]:
    """What the viewer component takes for a `studio.playback.Recording` or an .rrd path."""
    path = getattr(recording, "path", recording)
    return [str(Path(path))]


def show_episodes(project, sources: Any, **kwargs: Any):
    """(viewer value, Recording) for one or more episodes [(dataset, episode[, label]), …]."""
    from studio.playback import cached_recording

    rec = cached_recording(project, sources, **kwargs)
    return viewer_value(rec), rec


def notes_markdown(recording: Any) -> str:
    """The recording's notes (missing videos, …) as a visible Markdown list ('' when none)."""
    notes = list(getattr(recording, "notes", ()) or ())
    if not notes:
        return ""
    return "\n".join(["**Notes on this recording**", ""] + [f"- ⚠️ {n}" for n in notes])
