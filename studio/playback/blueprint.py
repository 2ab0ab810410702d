"""The default Rerun layout of a recording: cameras and the 3D scene on the left, the
curves on the right, grouped (arm, gripper/hand, velocity, effort; per side for bimanual
robots; at most MAX_SERIES curves a plot), named by their curves, with no legend over the
data; the task and notes underneath. Several episodes side by side become columns
with the same layout. Playback opens at frame 0."""

from __future__ import annotations

import re
from collections.abc import Sequence

from studio.playback.recording import EpisodeLayout

MAX_SERIES = 8  # curves in one plot; more are split into numbered plots
MAX_STACKED = 4  # plots stacked in one column before features go to tabs
_ROLE_ORDER = ("arm", "gripper", "hand", "velocity", "effort")
_LEFT = re.compile(r"(^|[^a-z])(left|l)([^a-z]|$)")
_RIGHT = re.compile(r"(^|[^a-z])(right|r)([^a-z]|$)")


def side_of(name: str) -> str:
    """'left', 'right' or '' from a joint name (left_shoulder, l_elbow, arm_r.wrist, …)."""
    low = str(name).lower()
    if _LEFT.search(low):
        return "left"
    if _RIGHT.search(low):
        return "right"
    return ""


def curve_groups(names: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Group a feature's elements for plotting: [(title, [element indices])], by side then role
    (studio.datasets.dimension_role), each group at most MAX_SERIES curves."""
    from studio.datasets import dimension_role

    if len(names) <= 1:
        return [(names[0] if names else "value", list(range(len(names))))]
    buckets: dict[tuple[str, str], list[int]] = {}
    for i, n in enumerate(names):
        buckets.setdefault((side_of(n), dimension_role(n)), []).append(i)
    sides = sorted({s for s, _ in buckets}, key=lambda s: ("", "left", "right").index(s))
    out = []
    for side in sides:
        for role in _ROLE_ORDER:
            idx = buckets.get((side, role))
            if not idx:
                continue
            title = f"{side} {role}".strip()
            chunks = [idx[k:k + MAX_SERIES] for k in range(0, len(idx), MAX_SERIES)]
            for c, chunk in enumerate(chunks):
                out.append((f"{title} {c + 1}" if len(chunks) > 1 else title, chunk))
    return out


def _short(key: str) -> str:
    return key.split(".", 1)[-1] if key.startswith("observation.") else key


def _series_title(names: Sequence[str], idx: Sequence[int], limit: int = 90) -> str:
    text = ", ".join(names[i] for i in idx)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def group_plots(layout: EpisodeLayout):
    """{feature: [TimeSeriesView]}: one plot per group (curve_groups). The plot's legend is
    off, so it never covers data; the view's name lists its curves and hovering names each."""
    import rerun.blueprint as rrb

    from studio.playback.recording import _part

    names_of = dict(zip((k for k, _ in layout.curves), layout.curve_names)) if layout.curve_names else {}
    out: dict[str, list] = {}
    for key, origin in layout.curves:
        names = list(names_of.get(key, ()))
        groups = curve_groups(names) if names else [(_short(key), [])]
        for title, idx in groups:
            contents = [f"{origin}/{_part(names[i])}" for i in idx] if idx else [f"{origin}/**"]
            label = f"{_short(key)} · {title}"
            if idx and len(idx) > 1:
                label += f": {_series_title(names, idx)}"
            out.setdefault(key, []).append(rrb.TimeSeriesView(
                origin=origin, contents=contents, name=label, plot_legend=rrb.PlotLegend(visible=False)))
    return out


def plots_container(layout: EpisodeLayout, *, compact: bool = False):
    import rerun.blueprint as rrb

    per_feature = group_plots(layout)
    total = sum(len(v) for v in per_feature.values())
    if not total:
        return None
    if total <= MAX_STACKED and not compact:
        return rrb.Vertical(*[p for plots in per_feature.values() for p in plots])
    tabs = [rrb.Vertical(*plots, name=_short(key)) if len(plots) > 1 else plots[0]
            for key, plots in per_feature.items()]
    return rrb.Tabs(*tabs) if len(tabs) > 1 else tabs[0]


def episode_container(layout: EpisodeLayout, *, compact: bool = False):
    import rerun.blueprint as rrb

    title = layout.label
    visuals = [rrb.Spatial2DView(origin=cam, name=f"{title} · {cam.rsplit('/', 1)[-1]}") for cam in layout.cameras]
    if layout.scene:
        visuals.append(rrb.Spatial3DView(origin=layout.scene, name=f"{title} · 3D"))
    plots = plots_container(layout, compact=compact)
    text = [rrb.TextDocumentView(origin=f"{layout.prefix}/task", name=f"{title} · task")]
    if layout.outcome:
        text.append(rrb.TextLogView(origin=f"{layout.prefix}/events", name=f"{title} · events"))

    parts = []
    if visuals:
        parts.append(rrb.Grid(*visuals) if len(visuals) > 2 else
                     (rrb.Vertical(*visuals) if compact else rrb.Horizontal(*visuals) if len(visuals) == 1
                      else rrb.Vertical(*visuals)))
    if plots is not None:
        parts.append(plots)
    if compact:
        return rrb.Vertical(*parts, rrb.Tabs(*text), row_shares=[3] * (len(parts)) + [1])
    left = rrb.Vertical(*(parts[:1] if visuals else []), rrb.Tabs(*text), row_shares=[4, 1] if visuals else None)
    right = parts[1] if visuals and plots is not None else (parts[0] if plots is not None else None)
    return rrb.Horizontal(left, right, column_shares=[2, 3]) if right is not None else left


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
