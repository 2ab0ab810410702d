"""The default Rerun layout of a recording: cameras and the 3D scene on the left, the
curves (one plot per feature) on the right, the task and notes underneath; several
episodes side by side become columns with the same layout."""

from __future__ import annotations

from typing import Sequence

from studio.playback.recording import EpisodeLayout


def episode_container(layout: EpisodeLayout, *, compact: bool = False):
    import rerun.blueprint as rrb

    title = layout.label
    visuals = [rrb.Spatial2DView(origin=cam, name=f"{title} · {cam.rsplit('/', 1)[-1]}") for cam in layout.cameras]
    if layout.scene:
        visuals.append(rrb.Spatial3DView(origin=layout.scene, name=f"{title} · 3D"))
    plots = [rrb.TimeSeriesView(origin=origin, name=f"{title} · {key}") for key, origin in layout.curves]
    text = [rrb.TextDocumentView(origin=f"{layout.prefix}/task", name=f"{title} · task")]
    if layout.outcome:
        text.append(rrb.TextLogView(origin=f"{layout.prefix}/events", name=f"{title} · events"))

    parts = []
    if visuals:
        parts.append(rrb.Grid(*visuals) if len(visuals) > 2 else rrb.Horizontal(*visuals))
    if plots:
        parts.append(rrb.Tabs(*plots) if compact and len(plots) > 1 else rrb.Vertical(*plots))
    if compact:
        return rrb.Vertical(*parts, rrb.Tabs(*text), row_shares=[3] * (len(parts)) + [1])
    left = rrb.Vertical(*(parts[:1] if visuals else []), rrb.Tabs(*text), row_shares=[3, 1] if visuals else None)
    right = parts[1] if visuals and plots else (parts[0] if plots else None)
    return rrb.Horizontal(left, right) if right is not None else left


def default_blueprint(layouts: Sequence[EpisodeLayout]):
    """One episode: cameras/3D | plots. Several: one column per episode (aligned timelines)."""
    import rerun.blueprint as rrb

    if len(layouts) == 1:
        root = episode_container(layouts[0])
    else:
        root = rrb.Horizontal(*[episode_container(lay, compact=True) for lay in layouts])
    # The time panel stays open: it is the play button. Playback opens at frame 0.
    return rrb.Blueprint(root, rrb.BlueprintPanel(state="collapsed"), rrb.SelectionPanel(state="collapsed"),
                         rrb.TimePanel(state="expanded", timeline="frame_index", fps=float(layouts[0].fps),
                                       sequence_cursor=0))
