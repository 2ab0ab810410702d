"""Curate: per-episode quality metrics, a filter (SQL predicate or a box/lasso on the
scatter plot), tags and notes, saved selections with revisions, "selection vs rest",
and export as a LeRobot dataset. Every number comes from studio.curation; this panel
only drives it.

Plotly selections do not travel back through gr.Plot, so a small script (installed on
page load) listens to `plotly_selected` on the scatter and writes the picked points into
the `#curate-picked` textbox, whose input event turns them into a predicate.
"""

from __future__ import annotations

import json
import logging

import gradio as gr

from panels.common import column_widths, guarded
from panels.registry import AppContext, Panel
from studio.errors import StudioError

log = logging.getLogger("studio.ui.curate")

BRIDGE_JS = """
() => {
  if (window.__studioCurateBridge) return;
  window.__studioCurateBridge = true;
  const bind = () => {
    document.querySelectorAll('#curate-scatter .js-plotly-plot').forEach((div) => {
      if (div.__studioBound || typeof div.on !== 'function') return;
      div.__studioBound = true;
      div.on('plotly_selected', (ev) => {
        if (!ev) return;
        const eps = (ev.points || []).map((p) => Array.isArray(p.customdata) ? p.customdata[0] : p.customdata);
        const box = document.querySelector('#curate-picked textarea, #curate-picked input');
        if (!box) return;
        box.value = JSON.stringify({episodes: eps, range: ev.range || null});
        box.dispatchEvent(new Event('input', {bubbles: true}));
      });
    });
  };
  setInterval(bind, 400);
}
"""

_THUMB_UP = ("M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7"
             "a2 2 0 0 1 2-2h3")
_THUMB_DOWN = ("M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 "
               "22 4v7a2.31 2.31 0 0 1-2.33 2H17")


def _icon_css(cls: str, path: str) -> str:
    """An inline-SVG icon before a button's text: drawn as a mask, so no emoji font is needed."""
    svg = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' "
           f"stroke='black' stroke-width='2' stroke-linecap='round' stroke-linejoin='round'%3E%3Cpath d='{path}'/%3E%3C/svg%3E")
    return (f".{cls}::before{{content:'';display:inline-block;width:1.1em;height:1.1em;margin-right:.35em;"
            f"vertical-align:-.2em;background:currentColor;-webkit-mask:url(\"{svg}\") center/contain no-repeat;"
            f"mask:url(\"{svg}\") center/contain no-repeat}}")


HIDE_CSS = ("<style>#curate-picked{position:absolute;left:-10000px;width:10px;height:10px;overflow:hidden}"
            + _icon_css("studio-icon-good", _THUMB_UP) + _icon_css("studio-icon-bad", _THUMB_DOWN) + "</style>")


# ----------------------------------------------------------------------------- pure helpers


def dataset_choices(ctx: AppContext) -> list[str]:
    from studio import datasets as dsm

    items = [str(p) for p in dsm.list_project_datasets(ctx.project) if p.parent != ctx.project.selections_dir]
    for r in dsm.recent(ctx.project):
        if r not in items:
            items.append(r)
    return items


def open_ds(source: str):
    from studio.datasets import open_dataset

    source = (source or "").strip()
    if not source:
        raise StudioError("dataset", "pick a dataset first")
    return open_dataset(source)


def weights_text(weights: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in weights.items())


def view_state(ctx: AppContext, source: str, where: str, weights: str):
    """Everything the panel shows for one dataset + predicate + weights."""
    from studio.curation.metrics import registered_metrics
    from studio.curation.score import parse_weights, scored_metrics
    from studio.curation.selections import episode_facts, resolve

    ds = open_ds(source)
    w = parse_weights([weights] if weights and weights.strip() else [], [m.name for m in registered_metrics(ctx.plugins)])
    scored = scored_metrics(ds, ctx.project, weights=w, plugin_host=ctx.plugins)
    facts = episode_facts(ds, ctx.project, scored=scored)
    res = resolve(ds, ctx.project, predicate=where or "", facts=facts)
    return ds, scored, facts, res


def table_frame(facts, res, metrics: list[str]):
    import pandas as pd

    chosen = set(res.episodes)
    cols = ["episode_index", "quality_score", "quality_pct"] + [m for m in metrics if m in facts.columns]
    df = facts[cols].copy()
    df.insert(0, "selected", ["✓" if int(e) in chosen else "" for e in facts["episode_index"]])
    df["tags"] = [", ".join(t) for t in facts["tags"]]
    df["note"] = facts["note"]
    df = df.sort_values("quality_score", ascending=False)
    num = df.select_dtypes("number").columns
    df[num] = df[num].round(3)
    return pd.DataFrame(df).reset_index(drop=True)


def histogram(facts, res, metric: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    if metric in facts.columns:
        mask = facts["episode_index"].astype(int).isin(set(res.episodes))
        fig.add_trace(go.Histogram(x=facts.loc[~mask, metric].astype(float), name="rest", opacity=0.6, marker_color="#9aa5b1"))
        fig.add_trace(go.Histogram(x=facts.loc[mask, metric].astype(float), name="selection", opacity=0.75, marker_color="#2f7ed8"))
    fig.update_layout(barmode="overlay", title=f"{metric} per episode", height=300, margin=dict(l=40, r=10, t=40, b=40),
                      xaxis_title=metric, yaxis_title="episodes")
    return fig


def scatter(facts, res, x: str, y: str):
    import plotly.graph_objects as go

    fig = go.Figure()
    if x in facts.columns and y in facts.columns:
        mask = facts["episode_index"].astype(int).isin(set(res.episodes)).to_numpy()
        for sel_flag, name, color in ((False, "rest", "#9aa5b1"), (True, "selection", "#2f7ed8")):
            part = facts[mask == sel_flag]
            fig.add_trace(go.Scatter(
                x=part[x].astype(float), y=part[y].astype(float), mode="markers", name=name, marker=dict(color=color, size=8),
                customdata=part["episode_index"].astype(int).to_numpy(),
                hovertemplate="episode %{customdata}<br>" + x + " %{x:.3f}<br>" + y + " %{y:.3f}<extra></extra>",
            ))
    fig.update_layout(dragmode="select", title=f"{y} vs {x} — drag a box (or lasso) to select", height=380,
                      margin=dict(l=50, r=10, t=40, b=40), xaxis_title=x, yaxis_title=y)
    return fig


def predicate_from_pick(payload: str, x: str, y: str) -> str:
    """A plot selection → a predicate: a box becomes metric ranges, a lasso an episode list."""
    try:
        data = json.loads(payload or "{}")
    except ValueError:
        return ""
    rng = data.get("range") or {}
    if rng.get("x") and rng.get("y"):
        (x0, x1), (y0, y1) = sorted(rng["x"]), sorted(rng["y"])
        return f'"{x}" BETWEEN {x0:.6g} AND {x1:.6g} AND "{y}" BETWEEN {y0:.6g} AND {y1:.6g}'
    eps = sorted({int(e) for e in data.get("episodes") or [] if e is not None})
    return f"episode_index IN ({', '.join(map(str, eps))})" if eps else "FALSE"


def summary_markdown(res) -> str:
    s = res.summary()
    return (f"**Selection:** {s['episodes']} of {s['total_episodes']} episodes "
            f"({100 * s['share_episodes']:.0f} % of episodes, {100 * s['share_frames']:.0f} % of frames) · "
            f"{s['frames']} frames · {s['hours']:.3f} h")


def compare_frame(facts, res, metrics: dict):
    """(table, note) for "This selection vs the rest": with nothing left out there is no rest,
    so the note says so plainly and the table holds the selection's own statistics."""
    import pandas as pd

    from studio.curation.selections import compare_selection, selection_stats

    arrow = {"higher": "higher ↑", "lower": "lower ↓"}
    total, kept = len(facts), len(set(res.episodes))
    if kept == 0:
        return pd.DataFrame(), "The filter keeps **no episodes**, so there is nothing to compare: loosen the filter."
    if kept >= total:
        df = pd.DataFrame(selection_stats(facts, res.episodes, metrics))
        note = (f"Nothing is filtered out: the selection is all {total} episodes, so there is **no rest** to compare "
                "with. Below are the selection's own statistics; filter or drag a box to compare.")
        if len(df):
            df["better is"] = df["direction"].map(arrow)
            df = df[["metric", "better is", "episodes", "mean", "median", "min", "max"]]
    else:
        df = pd.DataFrame(compare_selection(facts, res.episodes, metrics))
        note = f"The selection ({kept} episodes) against the other {total - kept}."
        if len(df):
            df["better is"] = df["direction"].map(arrow)
            df["95% interval"] = [f"[{a:.3g}, {b:.3g}]" if a is not None and b == b else ""
                                  for a, b in zip(df["ci_low"], df["ci_high"])]
            df = df[["metric", "better is", "selection", "rest", "difference", "95% interval", "verdict"]]
    num = [c for c in df.columns if c not in ("metric", "better is", "95% interval", "verdict", "episodes")]
    for c in num:
        df[c] = [("" if v is None or v != v else f"{v:.3g}") for v in df[c]]
    return df, note


def saved_markdown(ctx: AppContext, ds=None) -> str:
    from studio.curation.selections import history, list_selections

    sels = list_selections(ctx.project, ds)
    if not sels:
        return "_No saved selections for this dataset yet._"
    lines = ["| selection | episodes | predicate | note | revisions |", "|---|---|---|---|---|"]
    for s in sels:
        revs = len(history(ctx.project, s.name))
        pred = (s.predicate or "(all)").replace("|", "\\|")
        lines.append(f"| `{s.label}` | {s.n_episodes} | `{pred}` | {s.note} | {revs} |")
    return "\n".join(lines)


def selection_predicate(sel) -> str:
    """A saved selection as one predicate the filter box can show."""
    parts = [f"({sel.predicate})" if sel.predicate else "TRUE"]
    for t in sel.tags:
        parts.append(f"list_contains(tags, '{t}')")
    pred = " AND ".join(parts)
    if sel.includes:
        pred = f"({pred}) OR episode_index IN ({', '.join(map(str, sel.includes))})"
    if sel.excludes:
        pred = f"({pred}) AND episode_index NOT IN ({', '.join(map(str, sel.excludes))})"
    return pred


def _episodes_text(text: str, res) -> list[int]:
    from studio.curation.selections import parse_episode_ranges

    text = (text or "").strip()
    return parse_episode_ranges(text) if text else list(res.episodes)


def _author(request: gr.Request | None) -> str:
    return (getattr(request, "username", None) or "") if request is not None else ""


# ----------------------------------------------------------------------------- UI


def build(ctx: AppContext) -> None:
    from studio.curation.metrics import registered_metrics

    default_metrics = [m.name for m in registered_metrics(ctx.plugins)]
    from studio.curation.score import effective_weights

    default_weights = weights_text(effective_weights({m.name: m for m in registered_metrics(ctx.plugins)}, ctx.project))

    gr.HTML(HIDE_CSS, padding=False)
    gr.Markdown("Find the **successful, consistent, efficient and fluent** demonstrations: filter by metric, "
                "drag a box on the scatter, tag what you watched, save the selection and export it as a dataset.")
    with gr.Row():
        pick = gr.Dropdown(choices=dataset_choices(ctx), label="Dataset", allow_custom_value=True, scale=4,
                           elem_id="curate-dataset")
        load_btn = gr.Button("Load", variant="primary", scale=1, elem_id="curate-load")
    with gr.Accordion("Quality score weights", open=False):
        weights = gr.Textbox(value=default_weights, label="Weights (metric=weight, comma separated; 0 = not scored)",
                             elem_id="curate-weights")
        with gr.Row():
            save_w = gr.Button("Save as this dataset's weights", size="sm", elem_id="curate-save-weights")
            fit_w = gr.Button("Fit weights from good/bad tags", size="sm", elem_id="curate-fit-weights")
        fit_status = gr.Markdown(elem_id="curate-fit-status")
        metric_docs = gr.Markdown(elem_id="curate-metric-docs")
    with gr.Row():
        where = gr.Textbox(label="Filter (SQL predicate over episodes, metrics, tags)", scale=5,
                           placeholder="e.g. jerk < 12 AND idle_fraction < 0.1 AND NOT list_contains(tags, 'bad')",
                           elem_id="curate-where")
        apply_btn = gr.Button("Apply", scale=1, elem_id="curate-apply")
    summary = gr.Markdown("_Pick a dataset and press **Load** to see its episodes._", elem_id="curate-summary")
    score_check = gr.Markdown(elem_id="curate-score-check")
    picked = gr.Textbox(label="plot selection", elem_id="curate-picked", container=False)
    with gr.Row():
        with gr.Column():
            hist_metric = gr.Dropdown(choices=default_metrics, value="jerk" if "jerk" in default_metrics else None,
                                      label="Histogram of", elem_id="curate-hist-metric")
            hist = gr.Plot(elem_id="curate-hist", show_label=False)
        with gr.Column():
            with gr.Row():
                x_metric = gr.Dropdown(choices=default_metrics, value="duration_s", label="x", elem_id="curate-x")
                y_metric = gr.Dropdown(choices=default_metrics, value="jerk", label="y", elem_id="curate-y")
            scat = gr.Plot(elem_id="curate-scatter", show_label=False)
    table = gr.Dataframe(label="Episodes (click a row to pick it for tagging)", interactive=False, wrap=True,
                         max_height=420, elem_id="curate-table", visible=False)
    with gr.Row():
        tag_eps = gr.Textbox(label="Episodes to tag (empty = the whole selection)", scale=3, elem_id="curate-tag-episodes")
        tag_name = gr.Textbox(label="Custom tag", value="", scale=2, elem_id="curate-tag-name")
    with gr.Row():
        good_btn = gr.Button("good", size="sm", elem_id="curate-tag-good", elem_classes="studio-icon-good")
        bad_btn = gr.Button("bad", size="sm", elem_id="curate-tag-bad", elem_classes="studio-icon-bad")
        add_btn = gr.Button("Add tag", size="sm", elem_id="curate-tag-add")
        rm_btn = gr.Button("Remove tag", size="sm", elem_id="curate-tag-remove")
    with gr.Row():
        note_text = gr.Textbox(label="Note on the picked episode", scale=4, elem_id="curate-note")
        note_btn = gr.Button("Save note", size="sm", scale=1, elem_id="curate-note-save")
    tag_status = gr.Markdown(elem_id="curate-tag-status")
    episode_link = gr.Markdown(elem_id="curate-episode-link")
    with gr.Accordion("Play the picked episode (Rerun viewer)", open=False):
        play_btn = gr.Button("▶ Play picked episode", size="sm", elem_id="curate-play")
        play_note = gr.Markdown(elem_id="curate-play-note")
        from panels.viewer import rerun_viewer

        viewer = rerun_viewer(elem_id="curate-viewer")
    gr.Markdown("### This selection vs the rest")
    compare_note = gr.Markdown("_Load a dataset to compare the selection with the rest._", elem_id="curate-compare-note")
    compare = gr.Dataframe(interactive=False, visible=False, elem_id="curate-compare")
    gr.Markdown("### Save and export")
    with gr.Row():
        sel_name = gr.Textbox(label="Selection name", placeholder="smooth-and-fast", elem_id="curate-sel-name")
        sel_note = gr.Textbox(label="Note", elem_id="curate-sel-note")
        save_btn = gr.Button("Save selection", variant="primary", elem_id="curate-save")
    sel_status = gr.Markdown(elem_id="curate-sel-status")
    saved = gr.Markdown(elem_id="curate-saved")
    with gr.Row():
        saved_pick = gr.Dropdown(choices=[], label="Open a saved selection", allow_custom_value=False,
                                 elem_id="curate-saved-pick")
        videos_mode = gr.Radio(["cut", "copy"], value="cut", label="Videos", elem_id="curate-videos")
        export_btn = gr.Button("Export as LeRobot dataset", elem_id="curate-export")
        list_btn = gr.Button("Episode list for lerobot-train", elem_id="curate-episode-list")
    export_status = gr.Markdown(elem_id="curate-export-status")

    view_inputs = [pick, where, weights, hist_metric, x_metric, y_metric]
    view_outputs = [summary, table, hist, scat, compare, saved, saved_pick, metric_docs, score_check, compare_note]

    def _render(source, where_v, weights_v, hm, xm, ym):
        from studio.curation.selections import list_selections

        ds, scored, facts, res = view_state(ctx, source, where_v, weights_v)
        metrics = list(scored.metrics)
        docs = "\n".join(f"- **{n}** ({'higher' if m.direction == 'higher' else 'lower'} is better, "
                         f"weight {scored.weights.get(n, 0):g}): {m.doc}" for n, m in scored.metrics.items())
        for feature, dims in (scored.dropped or {}).items():
            docs += "\n\nLeft out of the motion metrics: " + "; ".join(
                f"`{feature}` {dim} ({why})" for dim, why in dims.items())
        names = [s.name for s in list_selections(ctx.project, ds)]
        from studio.curation.validation import score_check_markdown

        check = score_check_markdown(ds, ctx.project, weights=_parsed_weights(weights_v), plugin_host=ctx.plugins)
        cmp, cmp_note = compare_frame(facts, res, scored.metrics)
        episodes_df = table_frame(facts, res, metrics)
        return (summary_markdown(res),
                gr.update(value=episodes_df, visible=True, column_widths=column_widths(episodes_df, wrap=("tags", "note"))),
                histogram(facts, res, hm or metrics[0]),
                scatter(facts, res, xm or metrics[0], ym or metrics[-1]),
                gr.update(value=cmp, visible=len(cmp) > 0, column_widths=column_widths(cmp) if len(cmp) else None),
                saved_markdown(ctx, ds), gr.update(choices=names), docs,
                check, cmp_note)

    @guarded
    def on_view(source, where_v, weights_v, hm, xm, ym):
        return _render(source, where_v, weights_v, hm, xm, ym)

    @guarded
    def on_load(source, where_v, weights_v, hm, xm, ym, progress=gr.Progress()):
        progress(0.1, desc="computing metrics (cached after the first time)")
        ds = open_ds(source)
        from studio.curation.metrics import compute_metrics

        compute_metrics(ds, ctx.project, plugin_host=ctx.plugins)
        return _render(source, where_v, weights_v, hm, xm, ym)

    @guarded
    def on_pick(payload, source, weights_v, hm, xm, ym):
        if not (payload or "").strip():
            return (gr.update(),) + tuple(gr.update() for _ in view_outputs)
        pred = predicate_from_pick(payload, xm, ym)
        return (pred,) + tuple(_render(source, pred, weights_v, hm, xm, ym))

    def _tag(action: str, source, where_v, weights_v, eps_text, custom, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "tag")  # team review roles (studio serve)
        from studio.curation import tags as tg

        ds, scored, facts, res = view_state(ctx, source, where_v, weights_v)
        eps = _episodes_text(eps_text, res)
        if not eps:
            raise StudioError("tag", "no episodes to tag: the selection is empty")
        name = {"good": "good", "bad": "bad"}.get(action, custom)
        if action == "remove":
            if not (custom or "").strip():
                raise StudioError("tag", "type the tag to remove in 'Custom tag'")
            n = tg.remove_tags(ctx.project, ds, eps, custom)
            return f"Removed '{custom}' from {n} episode(s)."
        n = tg.add_tags(ctx.project, ds, eps, name, author=_author(request))
        return f"Tagged {n} episode(s) '{name}' ({len(set(eps)) - n} already were)."

    def make_tagger(action):
        @guarded
        def fn(source, where_v, weights_v, eps_text, custom, request: gr.Request):
            return _tag(action, source, where_v, weights_v, eps_text, custom, request)

        return fn

    @guarded
    def on_note(source, eps_text, text, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "tag")  # team review roles (studio serve)
        from studio.curation import tags as tg

        ds = open_ds(source)
        eps = [int(e) for e in (eps_text or "").replace(" ", "").split(",") if e]
        if len(eps) != 1:
            raise StudioError("note", "pick exactly one episode (click its row) to write a note")
        tg.set_note(ctx.project, ds, eps[0], text or "", author=_author(request))
        return f"Note saved on episode {eps[0]}."

    @guarded
    def on_play(source, eps_text):
        from panels.viewer import notes_markdown, show_episodes

        ds = open_ds(source)
        eps = [int(e) for e in (eps_text or "").replace(" ", "").split(",") if e.strip().lstrip("-").isdigit()]
        if len(eps) != 1:
            raise StudioError("play", "pick one episode (click its row in the table) to play it")
        value, rec = show_episodes(ctx.project, [(ds, eps[0], f"episode {eps[0]}")])
        return value, notes_markdown(rec) or f"Playing episode {eps[0]}."

    @guarded
    def on_row(df, evt: gr.SelectData):
        if evt is None or df is None or len(df) == 0:
            return gr.update()
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return str(int(df.iloc[int(row)]["episode_index"]))

    @guarded
    def on_episode_link(source, eps_text):
        """The picked row as links: its episode in Datasets (playing) and its rollouts-style review."""
        from studio.flywheel import link

        eps = [e for e in (eps_text or "").replace(" ", "").split(",") if e.isdigit()]
        if len(eps) != 1 or not source:
            return ""
        ds = open_ds(source)
        return (f"Episode {eps[0]}: [open in Datasets and play it]({link('Datasets', dataset=str(ds.root), episode=eps[0])})"
                f" · [review it in Rollouts]({link('Rollouts', set=str(ds.root), episode=eps[0])})")

    @guarded
    def on_save(source, where_v, name, note, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "select")  # team review roles (studio serve)
        from studio.curation.selections import save_selection

        ds = open_ds(source)
        from studio.curation.selections import list_selections

        try:
            s = save_selection(ctx.project, name, ds, predicate=where_v or "", note=note or "", author=_author(request))
        except StudioError as exc:  # stays on screen (a toast vanishes): e.g. a selection that keeps no episodes
            return f"⚠ **Not saved.** {exc.ui_sentence()}", gr.update()
        names = [x.name for x in list_selections(ctx.project, ds)]
        from studio.flywheel import link

        return (f"Saved **{s.label}**: {s.n_episodes} episodes. ➜ [Fine-tune on it]({link('Train', dataset=s.name)})",
                gr.update(choices=names, value=s.name))

    @guarded
    def on_open_saved(name):
        from studio.curation.selections import get_selection

        if not name:
            return gr.update(), gr.update()
        s = get_selection(ctx.project, name)
        return selection_predicate(s), s.name

    @guarded
    def on_export(name, mode, request: gr.Request, progress=gr.Progress()):
        from studio.auth import require

        require(ctx.auth, request, "export")  # team review roles (studio serve)
        from studio.curation.export import export_selection
        from studio.curation.selections import get_selection

        name = (name or "").strip()
        if not name:
            raise StudioError("export", "save the selection first (give it a name), then export it")
        s = get_selection(ctx.project, name)
        target = ctx.project.selections_dir / s.label
        if (target / "provenance.json").exists():
            return f"Already exported: `{target}` ({s.n_episodes} episodes)."
        progress(0.0, desc="exporting")
        export_selection(ctx.project, s.name, target, videos=mode or "cut",
                         progress=lambda f, m: progress(f, desc=m))
        return f"Exported **{s.label}** ({s.n_episodes} episodes) to `{target}` — ready for `lerobot-train --dataset.root={target}`."

    @guarded
    def on_list(source, where_v, weights_v):
        from studio.curation.export import episode_list_args

        ds, scored, facts, res = view_state(ctx, source, where_v, weights_v)
        if not res.episodes:
            return "⚠ **No episode list:** the filter keeps no episodes, so there is nothing to train on."
        return f"`lerobot-train {episode_list_args(ds.root, res.episodes)}`  \n(normalization stats stay those of the full dataset; export for recomputed stats)"

    def _parsed_weights(weights_v):
        from studio.curation.score import parse_weights

        return parse_weights([weights_v] if weights_v and weights_v.strip() else [], default_metrics + ["curator_tag", "review_verdict"])

    @guarded
    def on_save_weights(source, weights_v):
        from studio.curation.score import save_weights

        ds = open_ds(source)
        save_weights(ctx.project, _parsed_weights(weights_v), dataset=ds)
        return f"Weights saved for `{ds.name}` (the `metrics` view and `studio metrics` use them)."

    @guarded
    def on_dataset_weights(source):
        from studio.curation.score import effective_weights

        ds = open_ds(source)
        metrics = {m.name: m for m in registered_metrics(ctx.plugins)}
        return weights_text(effective_weights(metrics, ctx.project, dataset=ds))

    @guarded
    def on_fit_weights(source, weights_v):
        from studio.curation.score import scored_metrics
        from studio.curation.validation import fit_weights, labels_from_tags

        ds = open_ds(source)
        labels = labels_from_tags(ctx.project, ds)
        sm = scored_metrics(ds, ctx.project, weights=_parsed_weights(weights_v), plugin_host=ctx.plugins, labels=False)
        fit = fit_weights(sm.df, sm.metrics, labels)
        msg = (f"Fitted from {fit.n_pos} good / {fit.n_neg} bad tags: held-out AUROC **{fit.heldout_auroc:.2f}** "
               f"[{fit.ci_low:.2f}, {fit.ci_high:.2f}] ({fit.folds}-fold cross-validation). The weights box now holds "
               "them; Apply to see the ranking, Save to keep them for this dataset.")
        return weights_text(fit.weights), msg

    load_btn.click(on_dataset_weights, pick, weights).then(on_load, view_inputs, view_outputs)
    apply_btn.click(on_view, view_inputs, view_outputs)
    where.submit(on_view, view_inputs, view_outputs)
    for comp in (hist_metric, x_metric, y_metric):
        comp.input(on_view, view_inputs, view_outputs)
    picked.input(on_pick, [picked, pick, weights, hist_metric, x_metric, y_metric], [where] + view_outputs)
    tag_inputs = [pick, where, weights, tag_eps, tag_name]
    for btn, action in ((good_btn, "good"), (bad_btn, "bad"), (add_btn, "custom"), (rm_btn, "remove")):
        btn.click(make_tagger(action), tag_inputs, tag_status).then(on_view, view_inputs, view_outputs)
    note_btn.click(on_note, [pick, tag_eps, note_text], tag_status).then(on_view, view_inputs, view_outputs)
    table.select(on_row, [table], tag_eps).then(on_episode_link, [pick, tag_eps], episode_link)
    play_btn.click(on_play, [pick, tag_eps], [viewer, play_note])
    save_btn.click(on_save, [pick, where, sel_name, sel_note], [sel_status, saved_pick]).then(
        on_view, view_inputs, view_outputs)
    saved_pick.input(on_open_saved, saved_pick, [where, sel_name]).then(on_view, view_inputs, view_outputs)
    export_btn.click(on_export, [sel_name, videos_mode], export_status)
    list_btn.click(on_list, [pick, where, weights], export_status)
    save_w.click(on_save_weights, [pick, weights], fit_status).then(on_view, view_inputs, view_outputs)
    fit_w.click(on_fit_weights, [pick, weights], [weights, fit_status])

    @guarded
    def open_link(params, weights_v, hm, xm, ym, progress=gr.Progress()):
        """`?panel=Curate&dataset=…[&selection=name]`: load the dataset (and open the saved selection)."""
        from studio.curation.selections import get_selection

        src = params.get("dataset") or ""
        name = params.get("selection") or ""
        if not src and name:
            src = get_selection(ctx.project, name).dataset_path
        if not src:
            return [gr.skip()] * (4 + len(view_outputs))
        where_v = selection_predicate(get_selection(ctx.project, name)) if name else ""
        w = on_dataset_weights(src)
        rendered = on_load(src, where_v, w, hm, xm, ym)
        return [gr.update(choices=dataset_choices(ctx), value=src), w, where_v, name or gr.skip(), *rendered]

    ctx.on_link("Curate", open_link, [weights, hist_metric, x_metric, y_metric],
                [pick, weights, where, sel_name] + view_outputs)

    def refresh_choices():
        return gr.update(choices=dataset_choices(ctx))

    def install(demo):
        demo.load(refresh_choices, None, pick, queue=False)
        demo.load(None, None, None, js=BRIDGE_JS)

    ctx.handlers["on_load:curate"] = install


PANEL = Panel(name="Curate", build=build, order=20, description="Quality metrics, tags, selections, export")
