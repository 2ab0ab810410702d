"""Run functions of the cell kinds that drive other core modules: curate (curation), train
(jobs), evaluate (sim rollouts), playback (Rerun recordings) and compare (statistics).
Each is imported only when such a cell runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from studio.errors import StudioError
from studio.workspaces.cells import Output, RunContext, dataset_for
from studio.workspaces.format import Cell

HIST_METRICS = ("jerk", "idle_fraction", "path_efficiency")


def _ints(raw: str | None, where: str) -> list[int]:
    if not raw:
        return []
    try:
        return [int(x) for x in re.split(r"[,\s]+", raw.strip()) if x]
    except ValueError:
        raise StudioError(where, f"'{raw}' is not a list of episode indices (e.g. 3, 17, 42)") from None


def _words(raw: str | None) -> list[str]:
    return [w for w in re.split(r"[,\s]+", raw or "") if w]


# ----------------------------------------------------------------------------- curate


def run_curate(cell: Cell, ctx: RunContext) -> list[Output]:
    """Metrics histograms and a scatter, kept vs dropped by the predicate; `:save:` stores it.

    Options: `save` (selection name), `tags` (required tags), `include`/`exclude` (episode
    lists), `metrics` (histograms), `x`/`y` (scatter axes). The source is a SQL predicate over
    `episode_facts` (episode columns, every metric, quality_score, quality_pct, tags, note).
    """
    import plotly.express as px

    from studio.curation.selections import episode_facts, resolve, save_selection

    ds = dataset_for(cell, ctx)
    ctx.report(0.1, "computing quality metrics")
    facts = episode_facts(ds, ctx.project)
    predicate = cell.source.strip()
    includes = _ints(cell.option("include"), "curate :include:")
    excludes = _ints(cell.option("exclude"), "curate :exclude:")
    tags = _words(cell.option("tags"))
    res = resolve(ds, ctx.project, predicate=predicate, includes=includes, excludes=excludes, tags=tags, facts=facts)
    kept = set(res.episodes)
    view = facts.drop(columns=[c for c in ("tags", "note") if c in facts.columns]).copy()
    view["kept"] = ["kept" if int(e) in kept else "dropped" for e in view["episode_index"]]
    colors = {"kept": "#2a9d8f", "dropped": "#c8c8c8"}

    names = [m for m in (_words(cell.option("metrics")) or HIST_METRICS) if m in view.columns]
    out: list[Output] = [Output("markdown", f"**Your predicate keeps {res.sentence()}.**")]
    if names:
        out.append(Output("plotly", _histograms(view, names, colors), "metrics of kept vs dropped episodes"))
    x = cell.option("x") or ("jerk" if "jerk" in view.columns else None)
    y = cell.option("y") or ("duration_s" if "duration_s" in view.columns else None)
    for axis in (x, y):
        if axis is not None and axis not in view.columns:
            raise StudioError("curate :x:/:y:", f"'{axis}' is not a column (columns: {', '.join(view.columns)})")
    if x and y:
        fig = px.scatter(view, x=x, y=y, color="kept", hover_data=["episode_index"], color_discrete_map=colors)
        fig.update_layout(height=340, margin=dict(l=30, r=10, t=20, b=30), legend_title_text="", dragmode="select")
        out.append(Output("plotly", fig, f"{y} vs {x}"))
    dropped = view[view["kept"] == "dropped"]
    if "quality_score" in view.columns and len(dropped):
        worst = dropped.sort_values("quality_score").head(10)
        cols = ["episode_index"] + [c for c in ("quality_pct", *names, "duration_s") if c in worst.columns]
        out.append(Output("table", worst[cols].reset_index(drop=True).round(3), "lowest-quality dropped episodes"))
    info = {"kept": sorted(kept), "kept_count": len(kept), "total": res.total_episodes, "selection": None, "saved": False}
    name = (cell.option("save") or "").strip()
    if name:
        sel = save_selection(ctx.project, name, ds, predicate=predicate, includes=includes, excludes=excludes,
                             tags=tags, author=ctx.user, note=f"from workspace {ctx.workspace_name}")
        info.update(selection=sel.name, saved=True, revision=sel.revision)
        out.append(Output("markdown", f"Saved selection **{sel.name}** (revision {sel.revision}, {sel.n_episodes} episodes)."))
    out.append(Output("json", info))
    return out


def _histograms(view, names, colors):
    """One histogram per metric (own bins), kept and dropped overlaid on the same bins."""
    import numpy as np
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names, horizontal_spacing=0.06)
    for col, name in enumerate(names, start=1):
        values = view[name].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        size = (hi - lo) / 25 if hi > lo else 1.0
        for label in ("dropped", "kept"):
            part = view.loc[view["kept"] == label, name]
            fig.add_trace(go.Histogram(x=part, name=label, legendgroup=label, showlegend=(col == 1),
                                       marker_color=colors[label], opacity=0.85,
                                       xbins=dict(start=lo, end=hi + size, size=size)), row=1, col=col)
    fig.update_layout(barmode="overlay", height=300, margin=dict(l=30, r=10, t=40, b=30), legend_title_text="")
    return fig


# ----------------------------------------------------------------------------- train


def _pipeline_name(ctx: RunContext, pretrain: str, posttrain: str, policy: str) -> str:
    return f"{ctx.workspace_name}: pre-train {policy} on {pretrain} → post-train on {posttrain}"


def _jobs_table(jobs):
    import pandas as pd

    from studio.jobs import progress
    from studio.jobs.curves import loss_text

    rows = []
    for j in jobs:
        p = progress(j)
        rows.append({"job": j.id, "name": j.name, "state": j.state, "step": f"{p.step} / {p.total}",
                     "loss": loss_text(p.loss)})
    return pd.DataFrame(rows)


def run_train(cell: Cell, ctx: RunContext) -> list[Output]:
    """Queue training: `:pipeline: pretrain-posttrain` (all data → `:selection:`), or one job.

    Re-running shows the same pipeline where it is instead of queueing it again (unless
    `:resubmit: yes`). Options: dataset, selection, policy, steps, posttrain_steps, batch_size.
    """
    from studio.jobs import ensure_supervisor, list_pipelines, submit, submit_pretrain_posttrain, validate

    project = ctx.project
    dataset = cell.option("dataset") or ctx.workspace.get("dataset") or ""
    policy = cell.option("policy", "act")
    steps = cell.int_option("steps", 200)
    batch = cell.int_option("batch_size", 8)
    resubmit = (cell.option("resubmit") or "").lower() in ("yes", "true", "1")
    mode = (cell.option("pipeline") or "").lower()
    if mode and mode not in ("pretrain-posttrain", "pre-train-post-train"):
        raise StudioError("train :pipeline:", f"'{mode}' is not a pipeline (use pretrain-posttrain)")
    if mode:
        selection = cell.option("selection")
        if not selection:
            raise StudioError("train :selection:", "name the selection to post-train on (saved in the Curate step)")
        name = _pipeline_name(ctx, dataset, selection, policy)
        existing = [p for p in list_pipelines(project) if p.name == name and p.state not in ("failed", "cancelled")]
        if existing and not resubmit:
            pipe = existing[0]
            note = f"Pipeline **{pipe.name}** is already queued (state: {pipe.state}); it is shown where it is."
        else:
            pipe = submit_pretrain_posttrain(
                project, pretrain=dataset, posttrain=selection, policy=policy, pretrain_steps=steps,
                posttrain_steps=cell.int_option("posttrain_steps", max(1, steps // 2)), batch_size=batch,
                name=name,
            )
            note = f"Queued pipeline **{pipe.name}**: stage 2 starts from stage 1's final checkpoint."
        jobs = list(pipe.jobs)
        info = {"jobs": [j.id for j in jobs], "pipeline": pipe.id, "pretrain_job": jobs[0].id, "posttrain_job": jobs[-1].id}
    else:
        source = cell.option("selection") or dataset
        spec = validate(project, dataset=source, policy=policy, steps=steps, batch_size=batch)
        job = submit(project, spec, name=f"{ctx.workspace_name}: {policy} on {source}")
        jobs = [job]
        note = f"Queued job **#{job.id}** ({job.name})."
        info = {"jobs": [job.id]}
    ensure_supervisor(project)
    note += " Jobs keep running when you close the tab; follow them in the **Train** panel (run this cell again to redraw the curves)."
    out = [Output("markdown", note), Output("table", _jobs_table(jobs), "jobs")]
    from studio.jobs.curves import job_runs, loss_figure

    runs = job_runs(project, [j.id for j in jobs])
    if any(r.get("kind") == "step" for _, records in runs for r in records):
        out.append(Output("plotly", loss_figure(runs, title="Training curves"), "training curves"))
    return out + [Output("json", info)]


# ----------------------------------------------------------------------------- evaluate


def _checkpoint_policy(ctx: RunContext, ref: str) -> tuple[str, str]:
    """(policy spec for the rollout engine, label) from a `:checkpoint:` reference.

    `pretrain` / `posttrain`: the final checkpoint of that stage of this workspace's latest
    pipeline; `alldata`: the latest single job (no pipeline) trained on the workspace dataset
    itself — the all-data arm the recipe is compared against; `job:N`: job N's final
    checkpoint; otherwise a checkpoint folder path.
    """
    from studio.jobs import final_checkpoint, get_job, list_jobs, list_pipelines, progress

    ref = ref.strip()
    job = None
    if ref in ("alldata", "all-data"):
        dataset = ctx.workspace.get("dataset") or ""
        mine = [j for j in list_jobs(ctx.project) if j.pipeline_id is None and j.name.endswith(f" on {dataset}")]
        if not dataset or not mine:
            raise StudioError("evaluate :checkpoint:", "no all-data training job yet; run the Fine-tune workspace first")
        job = max(mine, key=lambda j: j.id)
    elif ref in ("pretrain", "posttrain", "pre-train", "post-train"):
        pipes = [p for p in list_pipelines(ctx.project) if p.name.startswith(f"{ctx.workspace_name}:")] or list_pipelines(ctx.project)
        if not pipes:
            raise StudioError("evaluate :checkpoint:", "no pre-train → post-train pipeline yet; run the Fine-tune workspace first")
        job = pipes[0].jobs[0 if ref.startswith("pre") else -1]
    elif ref.startswith("job:"):
        try:
            job = get_job(ctx.project, int(ref[4:]))
        except ValueError:
            raise StudioError("evaluate :checkpoint:", f"'{ref}' is not job:<number>") from None
    if job is None:
        path = Path(ref).expanduser()
        if not path.exists():
            raise StudioError("evaluate :checkpoint:",
                              f"'{ref}' is not pretrain, posttrain, alldata, job:N or a checkpoint folder")
        return str(path), path.name
    job = get_job(ctx.project, job.id)
    if job.state != "succeeded":
        p = progress(job)
        raise StudioError(f"job #{job.id}", f"is {job.state} (step {p.step} of {p.total}); run this cell again when it has succeeded")
    ck = final_checkpoint(ctx.project, job)
    if ck is None:
        raise StudioError(f"job #{job.id}", "finished without a saved checkpoint")
    return str(ck.pretrained_dir), f"job{job.id}-step{ck.step}"


def _summary_outputs(summary: dict, name: str) -> list[Output]:
    import pandas as pd

    from studio.compare import wilson_interval

    n = int(summary.get("n_episodes", 0))
    k = int(round(float(summary.get("success_rate", 0.0)) * n))
    est = wilson_interval(k, n)
    lo, hi = est.ci_low, est.ci_high
    text = (f"**{name}** · {n} rollouts of `{summary.get('policy')}` · success **{k / n:.0%}** "
            f"[{lo:.0%}–{hi:.0%}] (95% interval) · mean progress {float(summary.get('mean_progress', 0)):.0%}")
    eps = pd.DataFrame(summary.get("episodes") or [])
    out = [Output("markdown", text)]
    if len(eps):
        cols = [c for c in ("episode_index", "seed", "success", "progress", "steps", "time_to_success_s") if c in eps.columns]
        eps = eps[cols].sort_values(["success", "progress"] if "progress" in cols else cols[:1])
        out.append(Output("table", eps.reset_index(drop=True), "rollouts (failures first)"))
    out.append(Output("json", {"rollouts": name, "n_episodes": n, "success_rate": k / n if n else 0.0,
                               "low": lo, "high": hi, "policy": summary.get("policy")}))
    return out


def run_evaluate(cell: Cell, ctx: RunContext) -> list[Output]:
    """Simulated rollouts of a checkpoint (or `:policy:` spec) into `<home>/rollouts/<name>`.

    An existing rollout set of that name is shown, not recomputed. Options: checkpoint,
    policy, env, episodes, workers, seed, name, max_steps (default: the environment's).
    """
    from studio.sim.rollout import run_rollouts

    if cell.option("policy"):
        policy, label = cell.option("policy"), cell.option("policy").replace(":", "-")
    elif cell.option("checkpoint"):
        policy, label = _checkpoint_policy(ctx, cell.option("checkpoint"))
    else:
        raise StudioError("evaluate cell", "set :checkpoint: (pretrain, posttrain, alldata, job:N or a folder) or :policy:")
    episodes = cell.int_option("episodes", 50)
    workers = cell.int_option("workers", 2)
    seed = cell.int_option("seed", 0)
    env = cell.option("env", "pick_cube")
    max_steps = cell.int_option("max_steps", 0) or None
    if max_steps is not None and max_steps < 1:
        raise StudioError("evaluate :max_steps:", f"{max_steps} must be at least 1")
    name = cell.option("name") or f"{label}-{env}-s{seed}-n{episodes}"
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
        raise StudioError("evaluate :name:", f"'{name}' must be letters, digits, '.', '_' or '-'")
    out = ctx.project.rollouts_dir / name
    if not (out / "summary.json").is_file():
        ctx.report(0.05, f"rolling out {episodes} episodes on {workers} workers")
        run_rollouts(policy, env=env, episodes=episodes, workers=workers, seed=seed, out=out, max_steps=max_steps,
                     progress=lambda i, n: ctx.report(i / max(n, 1), f"rollout {i} of {n}"))
    summary = json.loads((out / "summary.json").read_text())
    return _summary_outputs(summary, name)


# ----------------------------------------------------------------------------- playback


def run_playback(cell: Cell, ctx: RunContext) -> list[Output]:
    """An episode in the embedded viewer. Options: `episode` (default 0); `rollouts` (a rollout
    set name instead of the workspace dataset); `worst: yes` plays the lowest-quality episode
    (or the first failed rollout); `b` + `b_rollouts` for a side-by-side of two episodes."""
    from studio.playback import cached_recording

    sources = []
    info: dict = {}
    if cell.option("rollouts"):
        root = ctx.project.rollouts_dir / cell.option("rollouts")
        if not root.is_dir():
            raise StudioError("playback :rollouts:", f"no rollout set '{cell.option('rollouts')}'; run the evaluate cell first")
        ds_ref = root
    else:
        ds_ref = dataset_for(cell, ctx)
    episode = cell.int_option("episode", 0)
    if (cell.option("worst") or "").lower() in ("yes", "true", "1"):
        episode = _worst_episode(ds_ref, ctx)
    sources.append((ds_ref, episode, cell.option("label") or None))
    info["episode"] = episode
    if cell.option("b_rollouts"):
        root_b = ctx.project.rollouts_dir / cell.option("b_rollouts")
        if not root_b.is_dir():
            raise StudioError("playback :b_rollouts:", f"no rollout set '{cell.option('b_rollouts')}'")
        sources.append((root_b, cell.int_option("b_episode", episode), cell.option("b_label") or None))
    ctx.report(0.2, "writing the recording")
    sources = [s if s[2] else s[:2] for s in sources]
    rec = cached_recording(ctx.project, sources)
    path = getattr(rec, "path", rec)
    return [Output("viewer", Path(path), f"episode {episode}"), Output("json", info)]


def _worst_episode(ds_ref, ctx: RunContext) -> int:
    if isinstance(ds_ref, Path):
        summary = json.loads((ds_ref / "summary.json").read_text()) if (ds_ref / "summary.json").is_file() else {}
        failed = [e for e in summary.get("episodes", []) if not e.get("success")]
        return int(failed[0]["episode_index"]) if failed else 0
    from studio.curation.score import scored_metrics

    df = scored_metrics(ds_ref, ctx.project).df
    return int(df.sort_values("quality_score").iloc[0]["episode_index"])


# ----------------------------------------------------------------------------- compare


def run_compare(cell: Cell, ctx: RunContext) -> list[Output]:
    """Rollout sets `:a:` (baseline) vs `:b:`: every metric with its 95% interval and a verdict."""
    import pandas as pd

    from studio.compare import compare_paths, comparison_table

    a, b = (cell.option("a") or "").strip(), (cell.option("b") or "").strip()
    if not a or not b:
        raise StudioError("compare cell", "set :a: and :b: to two rollout sets (names under rollouts/ or paths)")
    refs = [ctx.project.rollouts_dir / r if (ctx.project.rollouts_dir / r).is_dir() else r for r in (a, b)]
    comp = compare_paths(refs, ctx.project)
    headline = comp.headline(1)
    v = comp.verdict(1)
    out = [Output("markdown", f"⚠️ Check before trusting this comparison: {w}.") for w in comp.warnings]
    out += [Output("markdown", f"**{headline}**"), Output("table", pd.DataFrame(comparison_table(comp)), "metrics")]
    grid = comp.grids[0] if comp.grids else []
    differ = [g.seed for g in grid if g.kind in ("only A", "only B")]
    if differ:
        out.append(Output("markdown", "Seeds where only one succeeded: " + ", ".join(map(str, differ[:20]))
                          + " — play one side by side with a playback cell (`:rollouts:` + `:b_rollouts:`)."))
    out.append(Output("json", {"verdict": v.text if v else None, "winner": v.winner if v else None, "headline": headline}))
    return out
