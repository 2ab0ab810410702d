"""The embedded Rerun viewer (gradio-rerun), shared by panels that play episodes.

No PANEL here: this is a helper module. Usage inside a panel's build():

    from panels.viewer import rerun_viewer, show_episodes
    view = rerun_viewer(elem_id="compare-viewer")          # a slot: send it viewer values
    btn.click(lambda: show_episodes(ctx.project, [(root_a, 17, "all-data"), (root_b, 17, "curated")])[0],
              None, view)

One viewer per slot, kept while its panel is shown (gradio 5 unmounts a hidden panel's
components: coming back starts a viewer, which reopens the slot's recording). gradio-rerun's
own front end never closes a recording it opened and keeps the blueprint that was active, so
from the second play on every view showed the first recording's entities and drew nothing. The studio's component
(`panels.rerun_frontend.StudioRerun`, gradio-rerun with checked edits to its front
end) closes the previous play's recordings before opening the next and starts the web
viewer on the first play only: the page shows exactly the recording asked for, with its own
blueprint, from frame 0, and later plays skip the viewer's start (most of a play's cost).

Recordings come from `studio.playback` (cached under the project, which the app serves).
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Any

import gradio as gr

# The viewer's own top bar ("Waiting for logging data…", the recordings menu) and blueprint
# tree are noise inside a panel; the time panel is the play button, so it stays.
PANEL_STATES = {"top": "hidden", "blueprint": "collapsed", "selection": "collapsed", "time": "expanded"}
HEIGHT = 760  # px; wide (the full panel width) and tall enough for cameras above grouped plots

_plays = itertools.count(1)
log = logging.getLogger("studio.ui")

EMPTY_STYLE = ("min-height:96px;display:flex;align-items:center;justify-content:center;"
               "border:1px dashed var(--border-color-primary);border-radius:8px;color:var(--body-text-color-subdued)")


def rerun_component(files: list[str] | None, *, elem_id: str = "rerun-viewer", height: int | str = HEIGHT,
                    label: str | None = None, request: Any = None, **kwargs: Any):
    """One viewer showing `files` (create it inside a Blocks or render context; inside an
    event, e.g. a `gr.render`, the files are opened by their URL: see served_urls)."""
    from panels.rerun_frontend import StudioRerun

    if files:
        files = served_urls(viewer_files(files), request if request is not None else _current_request())
    return StudioRerun(value=files, height=height, elem_id=elem_id, label=label, show_label=label is not None,
                       panel_states=kwargs.pop("panel_states", PANEL_STATES), **kwargs)


def rerun_viewer(*, elem_id: str = "rerun-viewer", height: int | str = HEIGHT,
                 label: str | None = None, empty: str = "Pick an episode and press ▶ Play: it plays here.",
                 **kwargs: Any):
    """A viewer slot (a `gr.State`): every value sent to it is drawn by the slot's one viewer,
    the previous value's recordings closed first.

    Send it `viewer_value(recording)` (or None to clear). Inside a Blocks context."""
    kwargs.pop("visible", None)  # nothing is shown until there is something to play
    slot = gr.State(None)
    placeholder = _placeholder(elem_id, empty)
    view = rerun_component(None, elem_id=elem_id, height=height, label=label, visible=False, **kwargs)

    def show_play(v, request: gr.Request):
        files = viewer_files(v)
        if not files:
            return gr.update(value=None, visible=False), gr.update(visible=True)
        return gr.update(value=served_urls(files, request), visible=True), gr.update(visible=False)

    slot.change(show_play, [slot], [view, placeholder], show_progress="hidden", queue=False)
    return slot


def _placeholder(elem_id: str, text: str):
    """What a slot shows before anything is played (and after a clear)."""
    return gr.HTML(f"<div style='{EMPTY_STYLE}'>{text}</div>", elem_id=f"{elem_id}-empty")


def _current_request():
    from gradio.context import LocalContext

    return LocalContext.request.get(None)


def served_urls(files: list[str], request: Any) -> list[str]:
    """The app's URLs of these files: the viewer opens a URL itself (an HTTP recording opens
    at the blueprint's time cursor), while a file handed over by gradio-rerun is pushed into
    its channel like a live stream and the viewer follows it to the last frame."""
    from gradio import route_utils

    if not files:
        return files
    if request is None or getattr(request, "request", None) is None:
        log.warning("viewer: no request to build URLs from; %d recording(s) handed over as files "
                    "(they open at their last frame)", len(files))
        return files
    try:
        req = request.request
        # the route the event came by: /gradio_api/queue/join, /gradio_api/call/…, or
        # /gradio_api/run/predict for an unqueued event (which gradio's get_api_call_path refuses)
        path = req.url.path.rstrip("/")
        at = path.rfind(route_utils.API_PREFIX + "/")
        route = path[at:] if at >= 0 else route_utils.get_api_call_path(req)
        root = route_utils.get_root_url(req, route, req.scope.get("root_path") or None)
    except Exception as exc:  # noqa: BLE001 - no usable request: gradio-rerun serves the files itself
        log.warning("viewer: cannot build URLs from the request (%s: %s); %d recording(s) handed over as "
                    "files (they open at their last frame)", type(exc).__name__, exc, len(files))
        return files
    from urllib.parse import quote

    return [f if f.startswith(("http://", "https://")) else f"{root}/gradio_api/file={quote(str(Path(f).resolve()))}"
            for f in files]


def viewer_files(value: Any) -> list[str]:
    """The .rrd files of a viewer value ({'files': [...], 'play': n}, a list, a path or None)."""
    if not value:
        return []
    if isinstance(value, dict):
        value = value.get("files") or []
    if isinstance(value, (str, Path)):
        value = [value]
    return [str(v) for v in value]


def viewer_value(recording: Any) -> dict[str, Any]:
    """What a viewer slot takes for a `studio.playback.Recording` (or an .rrd path): its file
    and a play number, so that playing the same recording again replays it from frame 0."""
    path = getattr(recording, "path", recording)
    return {"files": [str(Path(path))], "play": f"{time.time_ns()}-{next(_plays)}"}


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
