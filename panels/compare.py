"""Compare: two or more checkpoints' rollout sets, every comparison metric with its 95%
interval, a plain verdict, bars with error bars, the per-seed outcome grid, and side-by-side
playback of one seed. All numbers come from studio.compare; this panel only drives it."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from panels.common import column_widths, guarded
from panels.registry import AppContext, Panel
from studio import compare as cmp

log = logging.getLogger("studio.ui.compare")

KIND_STYLE = {
    "both": "background-color: #d1fae5",
    "only A": "background-color: #fde68a",
    "only B": "background-color: #bfdbfe",
    "neither": "background-color: #e5e7eb",
}
LEGEND = ("Each cell: seed, then A's and B's outcome (✓ success, ◐ partial, ✗ fail). "
          "Green: both succeed · blue: only B · yellow: only A · grey: neither. "
          "Click a cell to watch both rollouts of that seed side by side.")


def set_choices(ctx: AppContext) -> list[tuple[str, str]]:
    """(label, path) for every rollout set the project knows: 'name — checkpoint (n rollouts)'."""
    return [(ref.label, str(ref.path)) for ref in cmp.list_rollout_sets(ctx.project)]


def sets_note(ctx: AppContext) -> str:
    """Why some registered rollout sets are not offered (nothing to compare until reviewed)."""
    names = cmp.unreviewed_sets(ctx.project)
    if not names:
        return ""
    shown = ", ".join(f"`{n}`" for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"<small>Not offered until reviewers judge some of their episodes (Rollouts panel): {shown} — "
            "real-robot sets have no outcomes of their own.</small>")


def failures_markdown(ctx: AppContext, extra: list[str] | None = None) -> str:
    sentences = [f.sentence() for f in (ctx.plugins.failures() if ctx.plugins is not None else [])]
    sentences += [s for s in (extra or []) if s not in sentences]
    if not sentences:
        return ""
    return "**Plugin problems** (these plugins are disabled; everything else works):\n\n" + "\n".join(
        f"- ⚠️ {s}" for s in sentences)


def verdict_markdown(comp: cmp.Comparison) -> str:
    lines = [f"> ⚠️ **Check before trusting this comparison:** {w}." for w in comp.warnings]
    if lines:
        lines.append("")
    for i, rs in enumerate(comp.sets):
        tag = "A (baseline)" if i == 0 else ("B" if len(comp.sets) == 2 else f"B{i}")
        reviewed = int((rs.episodes["source"] == "review").sum())
        extra = f", {reviewed} judged by reviewers" if reviewed else ""
        lines.append(f"- **{tag}:** `{rs.name}` — {rs.policy or '?'} ({rs.n} rollouts{extra})")
    lines.append("")
    for i in range(1, len(comp.sets)):
        v = comp.verdict(i)
        head = comp.headline(i)
        who = comp.sets[i].name
        lines.append(f"### Verdict: {head}" if len(comp.sets) == 2 else f"### `{who}` vs baseline: {head}")
        if v is not None and v.p_value is not None:
            lines.append(f"<small>p = {v.p_value:.3g} ({v.method})</small>")
    return "\n".join(lines)


def figure(comp: cmp.Comparison):
    """One small bar chart per metric, a bar per set with its 95% interval as error bars."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = [r for r in comp.rows if any(e.available for e in r.estimates)]
    if not rows:
        return None
    fig = make_subplots(rows=1, cols=len(rows), subplot_titles=[
        f"{r.metric.name} ({'↑' if r.metric.direction == 'higher' else '↓'} better)" for r in rows])
    palette = ["#6b7280", "#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626"]
    for j, row in enumerate(rows, start=1):
        scale = 100.0 if row.metric.fmt == "percent" else 1.0
        for i, (rs, est) in enumerate(zip(comp.sets, row.estimates)):
            if not est.available:
                continue
            fig.add_trace(go.Bar(
                x=[rs.name], y=[est.value * scale], name=rs.name, legendgroup=rs.name, showlegend=(j == 1),
                marker_color=palette[i % len(palette)],
                error_y=dict(type="data", symmetric=False, array=[(est.ci_high - est.value) * scale],
                             arrayminus=[(est.value - est.ci_low) * scale]),
                hovertemplate=f"{rs.name}: {row.metric.format(est)} (n={est.n})<extra></extra>",
            ), row=1, col=j)
    fig.update_layout(height=340, margin=dict(l=30, r=10, t=50, b=30), barmode="group",
                      legend=dict(orientation="h", y=-0.15))
    return fig


def grid_frame(grid: list[cmp.SeedOutcome]):
    import pandas as pd

    rows = cmp.seed_grid(grid)
    if not rows:
        return pd.DataFrame({"": ["no shared seeds: the sets were run on different seeds, so no paired view"]})
    df = pd.DataFrame(rows, columns=[f"{i}" for i in range(1, len(rows[0]) + 1)])
    kinds = {cmp.seed_cell(g): g.kind for g in grid}
    return df.style.map(lambda v: KIND_STYLE.get(kinds.get(v, ""), ""))


def run_comparison(ctx: AppContext, paths: list[str]):
    if not paths or len(paths) < 2:
        raise cmp.CompareError("Compare", "choose at least two rollout sets (the first one is the baseline A)")
    return cmp.compare_paths(paths, ctx.project, plugin_host=ctx.plugins)


def build(ctx: AppContext) -> None:
    import pandas as pd

    from panels.viewer import rerun_viewer

    gr.Markdown(
        "Is checkpoint B better than A? Choose two or more rollout sets (the first is the baseline). "
        "Every metric comes with its 95% interval; the verdict says whether the difference is real "
        "and, if not, how many more rollouts would settle it. Metrics come from plugins "
        "(`studio plugins` lists them).")
    problems = gr.Markdown(failures_markdown(ctx), elem_id="compare-plugin-problems")
    with gr.Row():
        sets = gr.Dropdown(choices=set_choices(ctx), multiselect=True, label="Rollout sets (first = baseline A)",
                           elem_id="compare-sets", scale=5)
        refresh = gr.Button("↻", size="sm", scale=0, elem_id="compare-refresh")
        run = gr.Button("Compare", variant="primary", scale=1, elem_id="compare-run")
    note = gr.Markdown(sets_note(ctx), elem_id="compare-sets-note")
    verdict = gr.Markdown(elem_id="compare-verdict")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="compare-table", label="Comparison metrics")
    plot = gr.Plot(elem_id="compare-plot", label="Metrics with 95% intervals")
    gr.Markdown("#### Per-seed outcomes (A vs B on the same seed)")
    challenger = gr.Radio(choices=[], label="Grid: baseline against", visible=False, elem_id="compare-challenger")
    gr.Markdown(LEGEND)
    grid = gr.Dataframe(interactive=False, elem_id="compare-grid", label="Seeds", show_label=False)
    with gr.Row():
        seed = gr.Dropdown(choices=[], label="Seed", elem_id="compare-seed", scale=2)
        play = gr.Button("▶ Play side by side", elem_id="compare-play", scale=1)
    play_status = gr.Markdown(elem_id="compare-play-status")
    viewer = rerun_viewer(elem_id="compare-viewer", empty="Choose a seed and press ▶ Play side by side.")
    state = gr.State({})

    def _grid_outputs(comp: cmp.Comparison, i: int):
        g = comp.grids[i - 1]
        return grid_frame(g), gr.update(choices=[str(x.seed) for x in g], value=None)

    @guarded
    def do_compare(paths: list[str]):
        try:
            comp = run_comparison(ctx, paths)
        except cmp.CompareError as exc:  # a refusal stays on the page, and no stale result stays beside it
            empty = pd.DataFrame()
            return (f"### Not compared\n\n⛔ {exc.sentence()}", empty, None, gr.update(),
                    gr.update(choices=[], value=None, visible=False), empty, gr.update(choices=[], value=None), {})
        tab = pd.DataFrame(cmp.comparison_table(comp))
        names = [s.name for s in comp.sets]
        st = {"paths": [str(s.root) for s in comp.sets], "names": names, "challenger": 1}
        more = len(comp.sets) > 2
        g, seeds = _grid_outputs(comp, 1)
        # intervals ("3.07 s [2.41–3.89]") and plugin names on one line; only the verdict wraps
        widths = column_widths(tab, wrap=("verdict",), fill={"verdict": 1.0}, min_px={"verdict": 280})
        tab = gr.update(value=tab, column_widths=widths)
        return (verdict_markdown(comp), tab, figure(comp), failures_markdown(ctx, comp.skipped),
                gr.update(choices=names[1:], value=names[1], visible=more), g, seeds, st)

    run.click(do_compare, sets, [verdict, table, plot, problems, challenger, grid, seed, state])

    @guarded
    def do_challenger(name: str, st: dict):
        if not st or not name:
            return gr.update(), gr.update(), st
        i = st["names"].index(name)
        comp = cmp.compare_paths([st["paths"][0], st["paths"][i]], ctx.project, plugin_host=ctx.plugins)
        st = {**st, "challenger": i}
        return (*_grid_outputs(comp, 1), st)

    challenger.input(do_challenger, [challenger, state], [grid, seed, state])

    def _play(seed_value: Any, st: dict, progress: gr.Progress):
        if not st:
            raise cmp.CompareError("Compare", "run a comparison first")
        s = cmp.seed_from_cell(str(seed_value)) if seed_value not in (None, "") else None
        if s is None:
            raise cmp.CompareError("seed", "choose a seed shared by both sets")
        i = st.get("challenger", 1)
        a = cmp.load_rollout_set(st["paths"][0], ctx.project, name=st["names"][0])
        b = cmp.load_rollout_set(st["paths"][i], ctx.project, name=st["names"][i])
        ea, eb = a.episode_for_seed(s), b.episode_for_seed(s)
        if ea is None or eb is None:
            raise cmp.CompareError(f"seed {s}", "was not rolled out in both sets")
        progress(0.1, desc=f"Preparing seed {s}: {a.name} episode {ea} and {b.name} episode {eb}")
        from panels.viewer import notes_markdown, show_episodes

        # the views' titles name set and episode: another seed retitles them
        value, rec = show_episodes(ctx.project, [(str(a.root), ea, f"A {a.name} ep{ea}"),
                                                 (str(b.root), eb, f"B {b.name} ep{eb}")])
        oa = a.episodes.loc[a.episodes["episode_index"] == ea, "outcome"].iloc[0]
        ob = b.episodes.loc[b.episodes["episode_index"] == eb, "outcome"].iloc[0]
        text = f"Seed **{s}**: A `{a.name}` episode {ea} ({oa}) beside B `{b.name}` episode {eb} ({ob})"
        notes = notes_markdown(rec)
        return gr.update(value=str(s)), text + ("\n\n" + notes if notes else ""), value

    @guarded
    def do_play(seed_value, st, progress=gr.Progress()):
        return _play(seed_value, st, progress)

    @guarded
    def do_cell(st, evt: gr.SelectData, progress=gr.Progress()):
        return _play(evt.value, st, progress)

    play.click(do_play, [seed, state], [seed, play_status, viewer])
    grid.select(do_cell, [state], [seed, play_status, viewer])

    @guarded
    def do_refresh():
        return gr.update(choices=set_choices(ctx)), failures_markdown(ctx), sets_note(ctx)

    refresh.click(do_refresh, None, [sets, problems, note])
    if ctx.changes is not None:  # rollout sets written while the page is open appear by themselves
        ctx.changes.change(do_refresh, None, [sets, problems, note], show_progress="hidden")

    @guarded
    def open_link(params):
        """`?panel=Compare&a=<set>&b=<set>`: choose both (a = baseline) and compare them."""
        refs = [params[k] for k in ("a", "b") if params.get(k)]
        if not refs:
            return [gr.skip()] * 9
        paths = [str(cmp.resolve_rollout_path(r, ctx.project)) for r in refs]
        chosen = gr.update(choices=set_choices(ctx), value=paths)
        if len(paths) < 2:
            return [chosen] + [gr.skip()] * 8
        return [chosen, *do_compare(paths)]

    ctx.on_link("Compare", open_link, [], [sets, verdict, table, plot, problems, challenger, grid, seed, state])
    # rollout sets written after the app started appear on the next page load
    ctx.handlers["on_load:compare"] = lambda demo: demo.load(do_refresh, None, [sets, problems, note], queue=False)


PANEL = Panel(name="Compare", build=build, order=50, description="Compare checkpoints' rollout sets")
