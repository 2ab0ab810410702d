"""Cell kinds: what each fenced `{kind}` cell does when run.

Built-in kinds live here; plugins add kinds through the `studio_cell_kinds` hook
(return `CellKind` objects). A kind's `run(cell, ctx)` returns a list of `Output`s; it
calls into the core modules (datasets, query, curation, jobs, sim, playback, compare),
so everything a cell shows is also reachable from the CLI.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from studio.errors import StudioError
from studio.workspaces.format import MARKDOWN, Cell, Workspace, WorkspaceError

log = logging.getLogger("studio.workspaces")

OUTPUT_KINDS = ("markdown", "table", "plotly", "viewer", "text", "json")


@dataclass(frozen=True)
class Output:
    """One thing a cell shows: markdown text, a table (DataFrame), a plotly figure,
    a viewer (path of an .rrd recording), plain text or a JSON-able value."""

    kind: str
    data: Any
    title: str = ""


@dataclass
class RunContext:
    """What a running cell can see: the project, its workspace, earlier results, the user."""

    project: Any
    workspace: Workspace = field(default_factory=Workspace)
    workspace_name: str = "workspace"
    user: str = "local"
    results: dict[str, Any] = field(default_factory=dict)  # cell id / index -> CellResult
    progress: Callable[[float, str], None] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def report(self, fraction: float, what: str) -> None:
        if self.progress is not None:
            self.progress(fraction, what)


@dataclass(frozen=True)
class CellKind:
    """A cell kind: `run(cell, ctx) -> list[Output]`; `template`/`options` fill a new cell."""

    name: str
    doc: str
    run: Callable[[Cell, RunContext], list[Output]]
    template: str = ""
    options: tuple[tuple[str, str], ...] = ()
    language: str | None = None  # editor highlighting: 'sql', 'markdown', None


# ---------------------------------------------------------------- helpers for kinds


def dataset_for(cell: Cell, ctx: RunContext):
    """The dataset a cell works on: its `:dataset:` option, else the workspace's `dataset:`.

    A bare name is looked up in the project's datasets/ then selections/; a path is used as is.
    """
    name = cell.option("dataset") or ctx.workspace.get("dataset")
    if not name:
        raise StudioError("cell :dataset:", "no dataset named (set `:dataset:` on the cell or `dataset:` in the front matter)")
    key = f"dataset:{name}"
    if key in ctx.cache:
        return ctx.cache[key]
    from studio.datasets import open_dataset

    candidates = [Path(name).expanduser()]
    if ctx.project is not None:
        candidates = [ctx.project.datasets_dir / name, ctx.project.selections_dir / name] + candidates
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        hint = " (build the demo world with `studio demo`)" if name == "pick_cube_demos" else ""
        raise StudioError(f"dataset '{name}'", f"not found in the project's datasets/ or selections/{hint}")
    ds = open_dataset(path)
    ctx.cache[key] = ds
    return ds


def to_frame(result: Any):
    """A pandas DataFrame from whatever a query returned (DataFrame, Arrow, DuckDB relation)."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(getattr(result, "df", None), pd.DataFrame):  # studio.query.QueryResult
        return result.df
    for attr in ("df", "to_pandas", "to_df"):
        fn = getattr(result, attr, None)
        if callable(fn):
            return fn()
    frame = getattr(result, "frame", None)
    if isinstance(frame, pd.DataFrame):
        return frame
    return pd.DataFrame(result)


def run_sql(cell: Cell, ctx: RunContext, query: str | None = None):
    from studio.query import catalog_for

    ds = dataset_for(cell, ctx)
    key = f"catalog:{ds.root}"
    cat = ctx.cache.get(key)
    if cat is None:
        cat = ctx.cache[key] = catalog_for(ds, ctx.project)
    limit = cell.int_option("limit", 1000)
    q = (query if query is not None else cell.source).strip().rstrip(";")
    if not q:
        raise StudioError("sql cell", "the query is empty")
    return to_frame(cat.sql(q, limit=limit))


def make_chart(df, cell: Cell, default_type: str = "bar"):
    """A plotly figure of a table following the cell's `:chart:`/`:x:`/`:y:`/`:color:` options."""
    import plotly.express as px

    if df is None or len(df.columns) == 0:
        raise StudioError("chart", "the query returned no columns to plot")
    kind = (cell.option("chart") or cell.option("type") or default_type).lower()
    cols = list(df.columns)
    x = cell.option("x") or cols[0]
    y = cell.option("y") or (cols[1] if len(cols) > 1 else None)
    color = cell.option("color") or None
    for c in (x, y, color):
        if c is not None and c not in cols:
            raise StudioError("chart", f"column '{c}' is not in the result (columns: {', '.join(map(str, cols))})")
    title = cell.option("title") or ""
    if kind in ("histogram", "hist"):
        fig = px.histogram(df, x=x, color=color, nbins=cell.int_option("bins", 30), title=title)
    elif kind == "line":
        fig = px.line(df, x=x, y=y, color=color, title=title)
    elif kind == "scatter":
        fig = px.scatter(df, x=x, y=y, color=color, title=title)
    elif kind == "bar":
        fig = px.bar(df, x=x, y=y, color=color, title=title)
    else:
        raise StudioError("chart :chart:", f"'{kind}' is not a chart type (bar, line, scatter, histogram)")
    fig.update_layout(height=cell.int_option("height", 360), margin=dict(l=40, r=20, t=40 if title else 20, b=40))
    return fig


# ---------------------------------------------------------------- built-in kinds


def _run_markdown(cell: Cell, ctx: RunContext) -> list[Output]:
    return [Output("markdown", cell.source)]


def duration_text(hours: float) -> str:
    """'2.1 hours', or '9.8 minutes' for less than an hour of data."""
    return f"{hours:.1f} hours" if hours >= 1 else f"{hours * 60:.1f} minutes"


def _run_overview(cell: Cell, ctx: RunContext) -> list[Output]:
    ds = dataset_for(cell, ctx)
    eps = ds.episodes
    n = len(eps)
    frames = None
    for col in ("length", "num_frames", "n_frames"):
        if col in getattr(eps, "columns", ()):
            frames = int(eps[col].sum())
            break
    if frames is None:
        frames = int((ds.info or {}).get("total_frames", 0))
    fps = float(ds.fps or 0)
    hours = frames / fps / 3600 if fps else 0.0
    info = ds.info or {}
    robot = info.get("robot_type") or "unknown robot"
    lines = [
        f"**{Path(ds.root).name}** · robot `{robot}` · {fps:g} fps · **{n} episodes** · "
        f"{frames:,} frames · **{duration_text(hours)}** · LeRobot {ds.version}",
    ]
    problems = tuple(getattr(ds, "problems", ()) or ())
    if problems:
        lines.append("")
        lines.append(f"⚠ {len(problems)} problem(s) found:")
        for p in problems[:10]:
            where = p.get("where") if isinstance(p, dict) else getattr(p, "where", "")
            what = p.get("what") if isinstance(p, dict) else getattr(p, "what", str(p))
            lines.append(f"- `{where}`: {what}")
    import pandas as pd

    feats = info.get("features") or getattr(ds, "features", {}) or {}
    table = pd.DataFrame(
        [{"feature": k, "dtype": v.get("dtype", ""), "shape": str(v.get("shape", ""))} for k, v in feats.items()]
        if isinstance(feats, dict) else []
    )
    out = [Output("markdown", "\n".join(lines)), Output("json", {"episodes": n, "frames": frames, "fps": fps, "hours": round(hours, 4)})]
    if len(table):
        out.append(Output("table", table, "features"))
    return out


def _run_sql(cell: Cell, ctx: RunContext) -> list[Output]:
    df = run_sql(cell, ctx)
    out = [Output("table", df, f"{len(df)} row(s)")]
    if cell.option("chart"):
        out.append(Output("plotly", make_chart(df, cell)))
    return out


def _run_chart(cell: Cell, ctx: RunContext) -> list[Output]:
    source_id = cell.option("from")
    if source_id:
        res = ctx.results.get(source_id)
        table = next((o.data for o in getattr(res, "outputs", ()) if o.kind == "table"), None)
        if table is None:
            raise StudioError(f"chart :from: {source_id}", "run that cell first (it has no table yet)")
        df = table
    else:
        df = run_sql(cell, ctx)
    return [Output("plotly", make_chart(df, cell, default_type="histogram" if len(df.columns) == 1 else "bar"))]


def _lazy(module: str, func: str) -> Callable[[Cell, RunContext], list[Output]]:
    """A run function that lives in another module (imported on first run)."""

    def run(cell: Cell, ctx: RunContext) -> list[Output]:
        import importlib

        return getattr(importlib.import_module(module), func)(cell, ctx)

    run.__name__ = f"{module}.{func}"
    return run


BUILTIN_KINDS: tuple[CellKind, ...] = (
    CellKind(MARKDOWN, "Prose: instructions, notes, explanations.", _run_markdown, "Write notes here.", language="markdown"),
    CellKind("overview", "Dataset overview: robot, fps, episodes, hours, problems.", _run_overview),
    CellKind("sql", "A SQL query over the dataset catalog (frames, episodes, tasks, metrics, tags).",
             _run_sql, "SELECT episode_index, length FROM episodes ORDER BY length DESC", language="sql"),
    CellKind("chart", "A chart of a SQL query (or of another cell's table with :from:).", _run_chart,
             "SELECT length FROM episodes", (("chart", "histogram"),), language="sql"),
    CellKind("curate", "Quality metrics, a keep-predicate over them, and a saved selection.",
             _lazy("studio.workspaces.kinds", "run_curate"),
             "jerk_rms <= quantile(jerk_rms, 0.75)", (("save", "my-selection"),), language="sql"),
    CellKind("train", "Submit a training job (or the pre-train → post-train pipeline).",
             _lazy("studio.workspaces.kinds", "run_train"), "", (("selection", "my-selection"),)),
    CellKind("evaluate", "Simulated rollouts of a checkpoint, summarised with intervals.",
             _lazy("studio.workspaces.kinds", "run_evaluate"), "", (("episodes", "50"), ("workers", "2"))),
    CellKind("playback", "Play an episode (or a rollout) in the embedded Rerun viewer.",
             _lazy("studio.workspaces.kinds", "run_playback"), "", (("episode", "0"),)),
    CellKind("compare", "Compare rollout sets: success with 95% intervals and a verdict.",
             _lazy("studio.workspaces.kinds", "run_compare"), "", (("a", ""), ("b", ""))),
)

_lock = threading.Lock()


def cell_kinds(plugin_host: Any = None) -> dict[str, CellKind]:
    """Every known kind: built-ins first, then plugin kinds (a plugin cannot replace a built-in)."""
    kinds = {k.name: k for k in BUILTIN_KINDS}
    if plugin_host is None:
        from studio.plugins import host

        try:
            plugin_host = host()
        except Exception:  # pragma: no cover - the plugin host itself failed
            log.exception("plugin host unavailable")
            plugin_host = None
    if plugin_host is not None:
        for kind in plugin_host.call("studio_cell_kinds"):
            if isinstance(kind, CellKind) and kind.name not in kinds:
                kinds[kind.name] = kind
            elif isinstance(kind, CellKind):
                log.warning("plugin cell kind %s ignored: a built-in kind has that name", kind.name)
    return kinds


def new_cell(kind: str, kinds: dict[str, CellKind] | None = None) -> Cell:
    kinds = kinds if kinds is not None else cell_kinds()
    if kind not in kinds:
        raise WorkspaceError("new cell", f"unknown cell kind '{kind}' (known: {', '.join(sorted(kinds))})")
    k = kinds[kind]
    return Cell(kind, k.template, k.options)
