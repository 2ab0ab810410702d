"""Datasets: open a LeRobot dataset (folder or Hub id), see what is wrong with it, page
through its episodes, query it with SQL (and chart the result), and look at one episode's
joint curves and camera frames. All numbers come from studio.datasets / studio.query /
studio.video; this panel only drives them."""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from panels.common import guarded
from panels.registry import AppContext, Panel
from studio import datasets as dsm
from studio.errors import StudioError

log = logging.getLogger("studio.ui.datasets")

DEFAULT_SQL = "SELECT episode_index, length, duration_s FROM episodes ORDER BY length DESC"
RESULT_ROWS = 1000  # rows a query fetches: charted and written to the CSV
SHOWN_ROWS = 100  # rows the result table draws (a 1,000-row table costs the browser ~1 s to draw)
PAGE_SIZES = [10, 25, 50, 100]
_open_lock = threading.Lock()
_opened: dict[str, Any] = {}  # source string -> Dataset (re-opened on every explicit Open)


# ----------------------------------------------------------------------------- pure helpers


def source_choices(ctx: AppContext) -> list[str]:
    """Recent datasets first, then the project's datasets/selections/rollouts folders, then
    the repo ids found in lerobot's home ($HF_LEROBOT_HOME)."""
    items = list(dsm.recent(ctx.project))
    for s in [str(p) for p in dsm.list_project_datasets(ctx.project)] + dsm.list_lerobot_home():
        if s not in items:
            items.append(s)
    return items


def open_source(ctx: AppContext, source: str, *, fresh: bool = True):
    source = (source or "").strip()
    if not source:
        raise StudioError("dataset", "type a dataset folder or a Hub repo id (owner/name), or pick one from the list")
    with _open_lock:
        if not fresh and source in _opened:
            return _opened[source]
    ds = dsm.open_dataset(source, project=ctx.project)
    with _open_lock:
        _opened[source] = ds
    return ds


def catalog(ctx: AppContext, ds):
    from studio.query import catalog_for

    return catalog_for(ds, ctx.project, plugin_host=ctx.plugins)


def views_markdown(ctx: AppContext, ds) -> str:
    cat = catalog(ctx, ds)
    elements = [f"{key}.{names[0]}" for key, names in ds.vector_features().items() if names]
    frame_cols = [c for c in elements if c in cat.frame_columns][:3]
    example = ", ".join(f'`"{c}"`' for c in frame_cols) or "`episode_index`"
    return ("Read-only SQL (one `SELECT`) over the views " + ", ".join(f"`{v}`" for v in cat.views()) +
            f". `frames` has one row per frame and one column per joint, e.g. {example}.")


def overview_markdown(ds, project=None) -> str:
    """The dataset's overview; each feature shows the lerobot name it trains as (the map the
    project confirmed for this dataset, else the studio's proposal)."""
    from studio import featuremap

    trains_as = {key: role for role, key in featuremap.for_dataset(project, ds).items()}
    s = ds.summary()
    hours = s["duration_s"] / 3600
    lines = [
        f"### {s['name']}",
        f"`{s['root']}`",
        "",
        "| robot | fps | episodes | frames | hours | version |",
        "|---|---|---|---|---|---|",
        (f"| {s['robot_type'] or '–'} | {s['fps']:g} | {s['total_episodes']} | {s['total_frames']:,} | "
         f"{hours:.2f} | {s['codebase_version']} |"),
        "",
        "**Features**",
        "",
        "| feature | trains as | dtype | <span style='white-space:nowrap'>shape</span> | names |",
        "|---|---|---|---|---|",
    ]
    vec = ds.vector_features()
    for key, ft in s["features"].items():
        names = names_cell(vec.get(key, [])) if key in vec else ""
        if ft["dtype"] == "video":
            v = s["videos"].get(key, {})
            names = f"{v.get('present', 0)} present, {v.get('missing', 0)} missing"
        role = f"`{trains_as[key]}`" if key in trains_as else "–"
        shape = "×".join(str(x) for x in ft["shape"]) if isinstance(ft["shape"], (list, tuple)) else str(ft["shape"])
        lines.append(f"| `{key}` | {role} | {_nowrap(ft['dtype'])} | {_nowrap(shape)} | {names} |")
    problems = s["problems"]
    lines += ["", f"**Problems ({len(problems)})**" if problems else "**Problems:** none found ✓", ""]
    for p in problems[:50]:
        lines.append(f"- ⚠️ `{p['where']}`: {p['what']}")
    if len(problems) > 50:
        lines.append(f"- … and {len(problems) - 50} more (`studio info --json` lists all)")
    return "\n".join(lines)


NAMES_SHOWN = 3  # joint names listed in the Features table before the rest fold away


def _nowrap(text: str) -> str:
    return f"<span style='white-space:nowrap'>{html.escape(str(text))}</span>"


def names_cell(names) -> str:
    """A feature's element names: a few inline, the rest folded (a 29-joint humanoid does not
    push the tabs down the page)."""
    names = [str(n) for n in names]
    if len(names) <= NAMES_SHOWN + 1:
        return html.escape(", ".join(names))
    first = names[0] if len(names[0]) <= 28 else names[0][:27] + "…"
    return (f"<details class='feature-names'><summary>{len(names)} names ({html.escape(first)}, …)</summary>"
            f"{html.escape(', '.join(names))}</details>")


def next_links(ds) -> str:
    """Where a dataset goes next in the loop, as links into the other panels."""
    from studio.flywheel import link

    src = str(ds.root)
    return (f"➜ [Curate it]({link('Curate', dataset=src)}) · [Fine-tune on it]({link('Train', dataset=src)}) · "
            f"[Review its episodes]({link('Rollouts', set=src)})")


def episode_columns(ds) -> list[str]:
    cols = ["episode_index", "length", "duration_s", "task"]
    cols += [f"has_video.{k}" for k in ds.video_keys()]
    return cols


def episodes_page(ctx: AppContext, ds, sort: str, descending: bool, page: int, size: int):
    """One server-side page of the episodes table, sorted by a known column."""
    cols = episode_columns(ds)
    if sort not in cols:
        sort = "episode_index"
    size = int(size) if int(size or 0) in PAGE_SIZES else PAGE_SIZES[1]
    total = ds.total_episodes
    pages = max(1, -(-total // size))
    page = min(max(1, int(page or 1)), pages)
    order = "DESC" if descending else "ASC"
    quoted = ", ".join("round(duration_s, 2) AS duration_s" if c == "duration_s" else '"' + c + '"' for c in cols)
    res = catalog(ctx, ds).sql(f'SELECT {quoted} FROM episodes ORDER BY "{sort}" {order}, episode_index',
                               limit=size, offset=(page - 1) * size)
    return res.df, page, f"page {page} of {pages} · {total} episodes"


AXES = ["auto", "one axis", "left + right axes", "one panel per column"]


def chart_figure(df, x: str | None = None, ys: list[str] | None = None, axes: str = "auto"):
    """A plotly chart of a query result: `x` across (any scalar column, never a vector one),
    `ys` up; bars for few rows, lines for a rising x, points otherwise. `axes`: one shared y
    axis, the first column left and the rest right, or one panel per column; "auto" splits
    them when their scales differ (studio.console.scales_differ)."""
    import pandas as pd
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from studio.console import chart_columns, default_axes, scales_differ

    if df is None or len(df) == 0 or len(df.columns) == 0:
        raise StudioError("chart", "run a query that returns rows first")
    xs, numeric = chart_columns(df)
    if not numeric:
        raise StudioError("chart", "the result has no numeric column to plot")
    if x and x not in xs:
        what = "holds a list per row (a vector)" if x in df.columns else "is not a column of the result"
        raise StudioError("chart", f"'{x}' {what}; choose a column with one value per row across")
    if not x:
        x = default_axes(df)[0]
    ys = [y for y in (ys or []) if y in numeric and y != x][:8] or [y for y in numeric if y != x][:4]
    if not ys and x in numeric:
        fig = go.Figure(go.Histogram(x=df[x], name=str(x)))  # one numeric column: its distribution
        fig.update_layout(xaxis_title=str(x), yaxis_title="count", height=360,
                          margin={"l": 40, "r": 10, "t": 30, "b": 40})
        return fig
    if not ys:
        raise StudioError("chart", f"choose a numeric column to plot up (across: '{x}')")
    if axes == "auto":
        axes = ("one panel per column" if len(ys) > 2 else "left + right axes") if scales_differ(df, ys) else "one axis"
    numeric_x = pd.api.types.is_numeric_dtype(df[x])
    xv = df[x] if numeric_x else df[x].astype(str)

    def trace(y: str, i: int):
        if len(df) <= 60:
            return go.Bar(x=xv, y=df[y], name=str(y), offsetgroup=str(i))
        if numeric_x and df[x].is_monotonic_increasing:
            return go.Scatter(x=xv, y=df[y], mode="lines", name=str(y))
        return go.Scatter(x=xv, y=df[y], mode="markers", name=str(y), marker={"size": 5})

    if axes == "one panel per column" and len(ys) > 1:
        fig = make_subplots(rows=len(ys), cols=1, shared_xaxes=True, vertical_spacing=0.04)
        for i, y in enumerate(ys):
            fig.add_trace(trace(y, i), row=i + 1, col=1)
            fig.update_yaxes(title_text=str(y), row=i + 1, col=1)
        fig.update_xaxes(title_text=str(x), row=len(ys), col=1)
        fig.update_layout(height=max(360, 170 * len(ys)))
    elif axes == "left + right axes" and len(ys) > 1:
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        for i, y in enumerate(ys):
            fig.add_trace(trace(y, i), secondary_y=i > 0)
        fig.update_yaxes(title_text=str(ys[0]), secondary_y=False)
        fig.update_yaxes(title_text=", ".join(map(str, ys[1:])), secondary_y=True)
        fig.update_layout(xaxis_title=str(x), barmode="group", height=360)
    else:
        fig = go.Figure([trace(y, i) for i, y in enumerate(ys)])
        fig.update_layout(xaxis_title=str(x), barmode="group", height=360)
    fig.update_layout(margin={"l": 40, "r": 40, "t": 30, "b": 40}, legend={"orientation": "h", "y": 1.08})
    return fig


def schema_html(ctx: AppContext, ds) -> str:
    """The schema browser beside the SQL box: each view with its columns and their types."""
    from studio.console import schema_rows

    parts = ["<div class='sql-schema' style='max-height:460px;overflow:auto;font-size:0.85em'>"]
    for view, cols in schema_rows(catalog(ctx, ds).schema()):
        name = html.escape(view)
        if cols is None:
            parts.append(f"<details><summary><code>{name}</code> <small>(plugin view: columns appear once a query "
                         "uses it)</small></summary></details>")
            continue
        rows = "".join(f"<tr><td style='padding:1px 6px 1px 0'><code>{html.escape(c)}</code></td>"
                       f"<td style='white-space:nowrap;color:#6b7280'>{html.escape(t)}</td></tr>" for c, t in cols)
        opened = " open" if view in ("frames", "episodes", "tasks") else ""
        parts.append(f"<details{opened} data-view='{name}'><summary><code>{name}</code> "
                     f"<small>{len(cols)} columns</small></summary><table>{rows}</table></details>")
    parts.append("</div>")
    return "".join(parts)


def error_html(sentence: str) -> str:
    """A refused or failed query: the sentence stays on the page until the next run."""
    return (f"<div class='sql-error' style='color:#b91c1c;font-weight:600'>⛔ {html.escape(sentence)}</div>"
            "<small>The previous result is cleared; fix the query and run it again.</small>")


def joint_figure(ds, arrays: dict):
    """One subplot per joint (names from info.json): state solid, action dashed."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    vec = ds.vector_features()
    s_key, a_key = ds.state_key, ds.action_key
    s_names = vec.get(s_key, []) if s_key in arrays else []
    a_names = vec.get(a_key, []) if a_key in arrays else []
    names = list(s_names) or list(a_names)
    if not names:
        raise StudioError("episode", "this dataset has no state or action vectors to plot")
    n = len(names)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, subplot_titles=names, vertical_spacing=min(0.04, 0.6 / n))
    t = arrays["timestamp"]
    for i, name in enumerate(names):
        if s_names and i < arrays[s_key].shape[1]:
            fig.add_trace(go.Scatter(x=t, y=arrays[s_key][:, i], mode="lines", name=f"{s_key}", legendgroup="s",
                                     showlegend=(i == 0), line={"color": "#2563eb", "width": 1.5}), row=i + 1, col=1)
        if a_names and i < arrays[a_key].shape[1]:
            fig.add_trace(go.Scatter(x=t, y=arrays[a_key][:, i], mode="lines", name=f"{a_key}", legendgroup="a",
                                     showlegend=(i == 0), line={"color": "#f97316", "width": 1.2, "dash": "dash"}),
                          row=i + 1, col=1)
    height = max(320, 150 * n)
    fig.update_layout(height=height, margin={"l": 40, "r": 10, "t": 80, "b": 30},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0 + 30.0 / height, "x": 1,
                              "xanchor": "right"})
    fig.update_xaxes(title_text="time (s)", row=n, col=1)
    return fig


def camera_view(ds, episode: int):
    """(gallery items, note) for an episode's cameras; the note explains absent videos."""
    from studio.video import camera_thumbnails

    items, notes = [], []
    if not ds.video_keys() and not ds.image_keys():
        return [], "This dataset has no cameras (no video or image features)."
    for key, thumb in camera_thumbnails(ds, episode, max_side=320).items():
        if isinstance(thumb, str):
            notes.append(f"- `{key}`: {thumb.split(': ', 1)[-1]}")
        else:
            items.append((thumb, key))
    note = ("**Cameras**\n\n" + "\n".join(notes)) if notes else ""
    return items, note


def neighbour_episode(ds, episode: int, step: int) -> int:
    """The episode `step` places from `episode` in index order (clamped to the first/last)."""
    eps = sorted(int(e) for e in ds.episodes["episode_index"])
    if not eps:
        raise StudioError("dataset", "has no episodes")
    if episode not in eps:
        if step == 0:
            raise StudioError(f"episode {episode}", f"is not in this dataset (episodes {eps[0]}–{eps[-1]})")
        import bisect

        i = bisect.bisect_left(eps, episode) - (1 if step < 0 else 0)
        return eps[min(max(i, 0), len(eps) - 1)]
    i = eps.index(episode) + step
    return eps[min(max(i, 0), len(eps) - 1)]


def cameras_markdown(ds, recording) -> str:
    """Which cameras play, and which are missing and why (from the recording's notes)."""
    keys = list(ds.video_keys()) + list(ds.image_keys())
    if not keys:
        return "This dataset has no cameras (no video or image features)."
    from studio.playback.recording import _part

    shown = {c.rsplit("/", 1)[-1] for lay in recording.episodes for c in lay.cameras}
    present = [k for k in keys if _part(k) in shown]
    missing = [k for k in keys if _part(k) not in shown]
    lines = [f"**Cameras** playing: {', '.join(f'`{k}`' for k in present) or 'none'}"]
    for k in missing:
        why = next((n.split(": ", 1)[-1] for n in recording.notes if k in n), "not in this episode")
        lines.append(f"- ⚠️ missing `{k}`: {why}")
    return "\n".join(lines)


def play_episode(ctx: AppContext, ds, episode: int):
    """(viewer value, info markdown, cameras markdown) of one episode in the embedded viewer."""
    from panels.viewer import show_episodes

    value, rec = show_episodes(ctx.project, [(ds, episode)])
    row = ds.episodes[ds.episodes["episode_index"] == episode].iloc[0]
    tasks = ", ".join(row["tasks"]) if len(row["tasks"]) else "–"
    start, end = ds.episode_bounds(episode)
    n = int(row["length"])
    info = (f"**Episode {episode}** · {n} frames · {n / ds.fps:.1f} s · task: {tasks} · frames [{start}, {end})"
            f" · recording {'from the cache' if rec.cached else f'built in {rec.seconds:.2f} s'}")
    return value, info, cameras_markdown(ds, rec)


# Ctrl+Enter (⌘+Enter) or Shift+Enter in the SQL box runs the query, as in SQL consoles; the
# capture listener runs before the editor, which would otherwise insert a new line.
SQL_KEYS_JS = """
() => {
  if (window.__studioSqlKeys) return;
  window.__studioSqlKeys = true;
  window.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey || e.shiftKey) || e.altKey) return;
    const box = document.querySelector("#datasets-sql");
    if (!box || !e.target || !box.contains(e.target)) return;
    const run = document.querySelector("#datasets-run");
    if (!run) return;
    e.preventDefault(); e.stopPropagation();
    setTimeout(() => run.click(), 0);  // after the editor has sent its latest text
  }, true);
}
"""

# Keyboard navigation of the Episode tab: ←/→ previous/next episode, space plays or pauses
# the viewer (the key is handed to its canvas). Keys typed into fields are left alone.
EPISODE_KEYS_JS = """
() => {
  if (window.__studioEpisodeKeys) return;
  window.__studioEpisodeKeys = true;
  const visible = (el) => el && el.offsetParent !== null;
  window.addEventListener("keydown", (e) => {
    const tab = document.querySelector("#datasets-tab-episode");
    if (!visible(tab) || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      const btn = document.querySelector(e.key === "ArrowLeft" ? "#datasets-episode-prev" : "#datasets-episode-next");
      if (btn) { e.preventDefault(); e.stopPropagation(); btn.click(); }
    } else if (e.key === " ") {
      const canvas = document.querySelector("#datasets-viewer canvas");
      if (!canvas || t === canvas) return;  // the viewer handles its own key
      e.preventDefault(); e.stopPropagation();
      canvas.setAttribute("tabindex", canvas.getAttribute("tabindex") || "0");
      canvas.focus();
      for (const type of ["keydown", "keyup"]) {
        canvas.dispatchEvent(new KeyboardEvent(type, {key: " ", code: "Space", keyCode: 32, bubbles: true}));
      }
    }
  }, true);
}
"""


# ----------------------------------------------------------------------------- UI


def build(ctx: AppContext) -> None:
    current = gr.State("")  # the source string of the open dataset
    with gr.Row(equal_height=True):
        source = gr.Textbox(label="Dataset folder or Hub repo id", placeholder="/path/to/dataset or owner/name",
                            scale=4, elem_id="datasets-source")
        pick = gr.Dropdown(label="Recent and project datasets", choices=source_choices(ctx), value=None,
                           scale=3, elem_id="datasets-pick", allow_custom_value=False)
        open_btn = gr.Button("Open", variant="primary", scale=1, elem_id="datasets-open")
    overview = gr.Markdown("Open a dataset to see its overview.", elem_id="datasets-overview")

    with gr.Tabs(elem_id="datasets-tabs", selected="episodes") as tabs:
        with gr.Tab("Episodes", id="episodes", elem_id="datasets-tab-episodes"):
            with gr.Row():
                sort = gr.Dropdown(label="Sort by", choices=["episode_index"], value="episode_index", elem_id="datasets-sort")
                desc = gr.Checkbox(label="Descending", value=False, elem_id="datasets-desc")
                size = gr.Dropdown(label="Rows per page", choices=PAGE_SIZES, value=PAGE_SIZES[1], elem_id="datasets-page-size")
                page = gr.Number(label="Page", value=1, precision=0, minimum=1, elem_id="datasets-page")
            with gr.Row():
                prev_btn = gr.Button("◀ Previous", size="sm", elem_id="datasets-prev")
                page_info = gr.Markdown("", elem_id="datasets-page-info")
                next_btn = gr.Button("Next ▶", size="sm", elem_id="datasets-next")
            episodes = gr.Dataframe(interactive=False, elem_id="datasets-episodes", label="Episodes (click a row to view it)",
                                    max_height=420)

        with gr.Tab("SQL", id="sql", elem_id="datasets-tab-sql"):
            with gr.Row():
                with gr.Column(scale=3):
                    views_md = gr.Markdown("Read-only SQL over the views `frames` (one row per frame, one column per "
                                           "joint, e.g. `\"action.gripper.pos\"`), `episodes`, `tasks` and plugin views.",
                                           elem_id="datasets-views")
                    sql = gr.Code(value=DEFAULT_SQL, language="sql", lines=4, label="SQL (Ctrl+Enter or Shift+Enter runs)",
                                  elem_id="datasets-sql", interactive=True)
                    with gr.Row():
                        run_btn = gr.Button("Run", variant="primary", elem_id="datasets-run", scale=2)
                        csv_btn = gr.DownloadButton("⬇ CSV", value=None, visible=False, elem_id="datasets-csv", scale=1)
                    sql_status = gr.HTML("", elem_id="datasets-sql-status")
                with gr.Column(scale=1, min_width=240):
                    gr.Markdown("**Schema**")
                    schema = gr.HTML("<small>Open a dataset to see its views and columns.</small>",
                                     elem_id="datasets-schema")
            result = gr.Dataframe(interactive=False, elem_id="datasets-result", label="Result", max_height=420,
                                  visible=False)
            with gr.Row(equal_height=True):
                chart_x = gr.Dropdown(label="Across (x)", choices=[], value=None, elem_id="datasets-chart-x", scale=2)
                chart_y = gr.Dropdown(label="Up (y)", choices=[], value=[], multiselect=True, elem_id="datasets-chart-y",
                                      scale=3)
                chart_axes = gr.Dropdown(label="Axes", choices=AXES, value="auto", elem_id="datasets-chart-axes", scale=2)
                chart_btn = gr.Button("Chart", elem_id="datasets-chart", scale=1)
            chart_note = gr.HTML("", elem_id="datasets-chart-note")
            chart = gr.Plot(elem_id="datasets-chart-plot", label="Chart")
            last_result = gr.State(None)  # the fetched result (server side), for the chart

        with gr.Tab("Episode", id="episode", elem_id="datasets-tab-episode"):
            from panels.viewer import rerun_viewer

            with gr.Row(equal_height=True):
                ep_prev = gr.Button("◀ Previous episode", size="sm", scale=1, elem_id="datasets-episode-prev")
                ep_num = gr.Number(label="Episode", value=0, precision=0, minimum=0, scale=1, elem_id="datasets-episode")
                ep_btn = gr.Button("▶ Play episode", variant="primary", scale=1, elem_id="datasets-show-episode")
                ep_next = gr.Button("Next episode ▶", size="sm", scale=1, elem_id="datasets-episode-next")
            gr.Markdown("<small>Keys: ← / → previous / next episode, space plays or pauses (outside text fields). "
                        "Every camera's video plays in step with the state and action curves.</small>")
            ep_info = gr.Markdown("", elem_id="datasets-episode-info")
            cam_note = gr.Markdown("", elem_id="datasets-camera-note")
            viewer = rerun_viewer(elem_id="datasets-viewer", empty="Open a dataset and press ▶ Play episode.")

    # ---------------------------------------------------------------- callbacks
    @guarded
    def on_pick(choice):
        return choice or gr.update()

    @guarded
    def on_open(src, size_v, progress=gr.Progress()):
        progress(0.1, desc="Reading metadata and scanning frames")
        ds = open_source(ctx, src, fresh=True)
        progress(0.7, desc="Building the SQL catalog")
        cols = episode_columns(ds)
        df, _, info = episodes_page(ctx, ds, "episode_index", False, 1, size_v)
        first = int(ds.episodes["episode_index"].iloc[0]) if ds.total_episodes else 0
        return (
            src.strip(), overview_markdown(ds, ctx.project) + "\n\n" + next_links(ds), gr.update(choices=cols, value="episode_index"), False, 1, df, info,
            gr.update(choices=source_choices(ctx)), first, views_markdown(ctx, ds), schema_html(ctx, ds),
        )

    def _ds(src):
        if not src:
            raise StudioError("dataset", "open a dataset first")
        return open_source(ctx, src, fresh=False)

    @guarded
    def on_page(src, sort_v, desc_v, page_v, size_v):
        if not src:
            return gr.update(), page_v, ""
        ds = _ds(src)
        df, pg, info = episodes_page(ctx, ds, sort_v, bool(desc_v), int(page_v or 1), size_v)
        return df, pg, info

    @guarded
    def on_step(src, sort_v, desc_v, page_v, size_v, step):
        return on_page(src, sort_v, desc_v, int(page_v or 1) + step, size_v)

    @guarded
    def on_run(src, query):
        from studio.console import default_axes, chart_columns, display_frame, write_csv

        try:
            ds = _ds(src)
            res = catalog(ctx, ds).sql(query or "", limit=RESULT_ROWS)
        except StudioError as exc:  # shown where the result was, until the next run
            none = gr.update(choices=[], value=None)
            return (gr.update(value=None, visible=False), error_html(exc.sentence()), gr.update(value=None, visible=False),
                    None, none, gr.update(choices=[], value=[]))
        more = f" (showing the first {len(res.df):,}; the CSV has them too)" if res.truncated else ""
        status = f"✓ {res.total_rows:,} rows{more} in {res.elapsed_s * 1000:.0f} ms"
        csv = write_csv(ctx.project, res.df, Path(str(ds.root)).name)
        xs, ys = chart_columns(res.df)
        x, y_default = default_axes(res.df)
        return (gr.update(value=display_frame(res.df.head(SHOWN_ROWS)), visible=True), f"<div class='sql-ok'>{html.escape(status)}</div>",
                gr.update(value=str(csv), visible=True), res.df, gr.update(choices=xs, value=x),
                gr.update(choices=ys, value=y_default))

    @guarded
    def on_chart(df, x, ys, axes):
        try:
            if df is None:
                raise StudioError("chart", "run a query first")
            return chart_figure(df, x or None, list(ys or []), axes or "auto"), ""
        except StudioError as exc:
            return None, error_html(exc.sentence()).split("<small>")[0]

    @guarded
    def on_episode(src, ep, step=0, progress=gr.Progress()):
        ds = _ds(src)
        ep = neighbour_episode(ds, int(ep or 0), step)
        progress(0.1, desc=f"Preparing episode {ep}")
        value, info, note = play_episode(ctx, ds, ep)
        return ep, info, note, value

    @guarded
    def on_select_row(src, df, evt: gr.SelectData):
        if evt is None or df is None or len(df) == 0:
            return gr.update(), gr.skip()
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return int(df.iloc[int(row)]["episode_index"]), gr.Tabs(selected="episode")

    pick.change(on_pick, pick, source, queue=False)
    open_outputs = [current, overview, sort, desc, page, episodes, page_info, pick, ep_num, views_md, schema]
    open_btn.click(on_open, [source, size], open_outputs)
    source.submit(on_open, [source, size], open_outputs)
    page_inputs = [current, sort, desc, page, size]
    for comp in (sort, desc, size):
        comp.input(on_page, page_inputs, [episodes, page, page_info])  # user edits only, not our updates
    page.submit(on_page, page_inputs, [episodes, page, page_info])
    prev_btn.click(lambda *a: on_step(*a, -1), page_inputs, [episodes, page, page_info])
    next_btn.click(lambda *a: on_step(*a, +1), page_inputs, [episodes, page, page_info])
    run_outputs = [result, sql_status, csv_btn, last_result, chart_x, chart_y]
    run_btn.click(on_run, [current, sql], run_outputs, queue=False)
    chart_btn.click(on_chart, [last_result, chart_x, chart_y, chart_axes], [chart, chart_note])
    play_outputs = [ep_num, ep_info, cam_note, viewer]
    ep_btn.click(on_episode, [current, ep_num], play_outputs)
    ep_num.submit(on_episode, [current, ep_num], play_outputs)
    ep_prev.click(lambda src, ep: on_episode(src, ep, -1), [current, ep_num], play_outputs)
    ep_next.click(lambda src, ep: on_episode(src, ep, +1), [current, ep_num], play_outputs)
    episodes.select(on_select_row, [current, episodes], [ep_num, tabs]).then(on_episode, [current, ep_num], play_outputs)
    keys_js = f"() => {{ ({EPISODE_KEYS_JS.strip()})(); ({SQL_KEYS_JS.strip()})(); }}"
    ctx.handlers["on_load:datasets-keys"] = lambda demo: demo.load(None, None, None, js=keys_js)

    def on_load():
        return gr.update(choices=source_choices(ctx))

    ctx.handlers["on_load:datasets"] = lambda demo: demo.load(on_load, None, pick, queue=False)

    @guarded
    def open_link(params, size_v):
        """`?panel=Datasets&dataset=<folder or owner/name>[&episode=N]`: open it (and play episode N
        on the Episode tab, chosen by the server so it holds however fast the play comes back)."""
        from studio.flywheel import link_int

        src = params.get("dataset") or ""
        if not src:  # nothing asked for: leave the panel as it is
            return [gr.skip()] * len(link_outputs)
        opened = list(on_open(src, size_v))
        ep = link_int(params, "episode")
        if ep is None:
            return [src] + opened + [gr.skip()] * 4
        num, info, note, value = on_episode(src, ep)
        opened[open_outputs.index(ep_num)] = num
        return [src] + opened + [info, note, value, gr.Tabs(selected="episode")]

    link_outputs = [source] + open_outputs + [ep_info, cam_note, viewer, tabs]
    ctx.on_link("Datasets", open_link, [size], link_outputs)


PANEL = Panel(name="Datasets", build=build, order=10, description="Open, validate, browse and query datasets")
