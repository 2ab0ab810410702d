"""Train: one-click fine-tuning, the job queue, live progress, loss curve, log and checkpoints.

The panel only drives `studio.jobs`; the app's supervisor thread runs the queue, and the
trainers run in their own process groups, so closing the tab never stops a job.
"""

from __future__ import annotations

import html

import gradio as gr

from panels.common import column_widths, guarded, shown_table
from panels.registry import AppContext, Panel

QUEUE_HEADERS = ["id", "stage", "job", "state", "progress", "loss", "ETA", "note"]
CKPT_HEADERS = ["id", "job", "step", "loss", "policy", "data", "path"]
QUEUE_EMPTY = "_No jobs yet: fill in **New job** above and press **Fine-tune**._"
CKPT_EMPTY = "_No checkpoints yet: a job saves one every **Save every** steps and when it ends._"


def _eta(s):
    if s is None:
        return ""
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def dataset_choices(project) -> list[str]:
    """Datasets in the project home, saved selections (by name), then lerobot's home (repo ids)."""
    out = []
    if project.datasets_dir.exists():
        out += sorted(str(p) for p in project.datasets_dir.iterdir()
                      if p.is_dir() and (p / "meta" / "info.json").exists())
    from studio.curation.selections import list_selections
    from studio.datasets import list_lerobot_home

    out += [s.name for s in list_selections(project)]
    out += list_lerobot_home()
    return out


def _short(text: str, limit: int = 72) -> str:
    """A table cell keeps one line of a long note; the job's full error shows under the queue."""
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def queue_rows(project) -> list[list]:
    from studio import jobs
    from studio.jobs.curves import loss_text

    rows = []
    for j in jobs.list_jobs(project, limit=50):
        p = jobs.progress(j)
        stage = f"{j.pipeline_id}.{j.stage}" if j.pipeline_id else ""
        note = j.error or (f"waits for job {j.depends_on}" if j.depends_on and j.state == jobs.QUEUED else "")
        rows.append([j.id, stage, j.name, j.state, f"{p.step} / {p.total}", loss_text(p.loss), _eta(p.eta_s),
                     _short(note)])
    return rows


def queue_widths(rows) -> list[str]:
    import pandas as pd

    return column_widths(pd.DataFrame(rows, columns=QUEUE_HEADERS), min_px={"note": 240, "job": 180},
                         fill={"job": 0.42, "note": 0.58})


def ckpt_widths(rows) -> list[str]:
    import pandas as pd

    return column_widths(pd.DataFrame(rows, columns=CKPT_HEADERS), min_px={"data": 120, "path": 240},
                         fill={"data": 0.3, "path": 0.7})


def progress_html(job, prog) -> str:
    if job is None:
        return "<div id='train-progress-bar' data-step='0' data-total='0'><em>No job selected.</em></div>"
    pct = 100.0 * prog.fraction
    color = {"succeeded": "#16a34a", "failed": "#dc2626", "interrupted": "#d97706",
             "cancelled": "#6b7280"}.get(job.state, "#2563eb")
    eta = f" · ETA {_eta(prog.eta_s)}" if prog.eta_s is not None else ""
    sps = f" · {prog.samples_per_s:.0f} samples/s" if prog.samples_per_s else ""
    return (
        f"<div id='train-progress-bar' data-step='{prog.step}' data-total='{prog.total}' "
        f"data-state='{job.state}'>"
        f"<div style='font-weight:600'>Job {job.id}: {html.escape(job.name)} — {job.state}</div>"
        f"<div style='background:#e5e7eb;border-radius:6px;height:18px;margin:6px 0'>"
        f"<div style='width:{pct:.1f}%;background:{color};height:18px;border-radius:6px'></div></div>"
        f"<div>step {prog.step} / {prog.total} ({pct:.0f}%){eta}{sps}</div>"
        + (f"<div style='color:#b45309'>{html.escape(job.error)}</div>" if job.error else "")
        + "</div>"
    )


def loss_figure(project, job, records, overlay=()):
    """The studio's one loss figure (studio.jobs.curves) for a job, with other runs overlaid."""
    from studio.jobs.curves import job_runs
    from studio.jobs.curves import loss_figure as figure

    runs = [(f"job {job.id}: {job.name}", records)] if job is not None else []
    others = [int(j) for j in overlay or () if str(j).strip().isdigit() and (job is None or int(j) != job.id)]
    runs += job_runs(project, others)
    return figure(runs, title=f"Training — job {job.id}" + (f" vs {len(others)} other run(s)" if others else "")
                  if job else "Training")


def job_choices(project) -> list[tuple[str, int]]:
    from studio import jobs

    return [(f"{j.id}: {j.name}", j.id) for j in jobs.list_jobs(project, limit=50)]


def checkpoint_rows(project, job_id=None) -> list[list]:
    from studio import jobs
    from studio.jobs.curves import loss_text

    rows = []
    for c in jobs.list_checkpoints(project, job_id=job_id)[-50:]:
        data = c.selection or (c.dataset.rsplit("/", 1)[-1] if c.dataset else "")
        rows.append([c.id, c.job_id, c.step, loss_text(c.loss), c.policy, data,
                     str(c.pretrained_dir)])
    return rows


def eval_message(project, out) -> str:
    """Where an evaluation's rollouts went, as links: the set in Rollouts, and a prefilled Compare."""
    from pathlib import Path

    from studio import flywheel

    name = Path(out).name
    msg = f"Rollouts written to [{name}]({flywheel.link('Rollouts', set=name)}) (`{out}`)."
    entries = flywheel.rollout_entries(project)
    mine = next((r for r in entries if r.name == name), None)
    others = [r for r in entries if r.name != name]
    # a baseline is another policy's set: an earlier evaluation of this same checkpoint is not one
    baselines = [r for r in others if mine is None or r.checkpoint != mine.checkpoint] or others
    if baselines:
        msg += f" [Compare with {baselines[0].name}]({flywheel.link('Compare', a=baselines[0].name, b=name)})."
    return msg


def job_links_markdown(project, job_id: int) -> str:
    """What a job leads to: its checkpoints (the table below), its rollout sets, a prefilled Compare."""
    from studio import flywheel

    links = flywheel.job_links(project, job_id)
    parts = [f"**Job {job_id}:** [checkpoints]({links['checkpoints']})"]
    parts += [f"[rollouts {r.name}]({r.link})" for r in links["rollouts"][:5]]
    if links["compare"]:
        parts.append(f"[compare its rollouts]({links['compare']})")
    elif not links["rollouts"]:
        parts.append("no rollouts yet: pick a checkpoint below and Evaluate")
    return " · ".join(parts)


def build(ctx: AppContext) -> None:
    from studio import jobs
    from studio.jobs.spec import POLICIES

    project = ctx.project
    jobs.ensure_supervisor(project)
    policy_choices = [(p.label, k) for k, p in POLICIES.items()]
    ds_choices = dataset_choices(project)

    gr.Markdown("Fine-tune a policy on a dataset or a saved selection. Jobs run in their own processes "
                "and keep running when this tab closes; reopen the panel to see them.")
    with gr.Accordion("New job", open=True):
        with gr.Row():
            dataset = gr.Dropdown(ds_choices, value=ds_choices[0] if ds_choices else None, allow_custom_value=True,
                                  label="Dataset or selection", elem_id="train-dataset", scale=3)
            policy = gr.Dropdown(policy_choices, value="act", label="Policy", elem_id="train-policy", scale=1)
            backend = gr.Radio(["local", "ray"], value="local", label="Run on", elem_id="train-backend", scale=1)
        with gr.Row():
            steps = gr.Number(2000, precision=0, label="Steps", elem_id="train-steps", minimum=1)
            batch = gr.Number(8, precision=0, label="Batch size", elem_id="train-batch", minimum=1)
            lr = gr.Number(0, label="Learning rate (0 = preset)", elem_id="train-lr")
            device = gr.Dropdown(["cpu", "cuda", "mps", "auto"], value="cpu", label="Device", elem_id="train-device")
            seed = gr.Number(1000, precision=0, label="Seed", elem_id="train-seed")
            save_freq = gr.Number(0, precision=0, label="Save every (0 = steps/4)", elem_id="train-save-freq")
        init_from = gr.Textbox(label="Start from checkpoint (optional)", elem_id="train-from",
                               placeholder="…/checkpoints/002000, a pretrained_model or a lerobot-train output folder")
        with gr.Row():
            fmap = gr.Textbox(label="Feature map (dataset key=lerobot key; proposed, edit to override)",
                              elem_id="train-map", scale=3)
            episodes = gr.Textbox(label="Episodes (e.g. 0-9; empty = all)", elem_id="train-episodes", scale=1)
            image_size = gr.Number(0, precision=0, label="Image size (px, 0 = original)", elem_id="train-image-size",
                                   scale=1)
        cams = gr.CheckboxGroup([], value=[], label="Cameras (video present / missing per episode)",
                                elem_id="train-cameras")
        with gr.Row():
            preview_btn = gr.Button("Preview command", elem_id="train-preview")
            submit_btn = gr.Button("Fine-tune", variant="primary", elem_id="train-submit")
        preview_out = gr.Textbox(label="lerobot-train command", lines=6, max_lines=30, interactive=False,
                                 elem_id="train-preview-text")
        with gr.Row():
            curated = gr.Dropdown(ds_choices, value=None, allow_custom_value=True, label="Curated selection (stage 2)",
                                  elem_id="train-curated", scale=3)
            post_steps = gr.Number(1000, precision=0, label="Post-train steps", elem_id="train-post-steps", scale=1)
        pipeline_btn = gr.Button("Pre-train → post-train", elem_id="train-pipeline")
    message = gr.Markdown("", elem_id="train-message")

    gr.Markdown("### Queue")
    rows0, ckpts0 = queue_rows(project), checkpoint_rows(project)
    queue_note = gr.Markdown(QUEUE_EMPTY, visible=not rows0, elem_id="train-queue-empty")
    queue = gr.Dataframe(headers=QUEUE_HEADERS, value=rows0, interactive=False, visible=bool(rows0),
                         elem_id="train-queue", wrap=True, column_widths=queue_widths(rows0))
    with gr.Row():
        job_id = gr.Number(value=None, precision=0, label="Job (empty/0 = newest; click a row)", elem_id="train-job", scale=1)
        cancel_btn = gr.Button("Cancel", elem_id="train-cancel", scale=1)
        resume_btn = gr.Button("Resume", elem_id="train-resume", scale=1)
        retry_btn = gr.Button("Retry", elem_id="train-retry", scale=1)
    progress = gr.HTML(progress_html(None, None), elem_id="train-progress")
    overlay = gr.Dropdown(job_choices(project), value=[], multiselect=True, label="Overlay other runs",
                          elem_id="train-overlay")
    loss_plot = gr.Plot(label="Loss, learning rate and gradient norm", elem_id="train-loss")
    log = gr.Textbox(label="Log (tail)", lines=12, max_lines=12, interactive=False, elem_id="train-log",
                     autoscroll=True)
    gr.Markdown("### Checkpoints")
    ckpt_note = gr.Markdown(CKPT_EMPTY, visible=not ckpts0, elem_id="train-checkpoints-empty")
    ckpt_table = gr.Dataframe(headers=CKPT_HEADERS, value=ckpts0, interactive=False, visible=bool(ckpts0),
                              elem_id="train-checkpoints", wrap=True, column_widths=ckpt_widths(ckpts0))
    with gr.Row():
        ckpt_id = gr.Number(value=None, precision=0, label="Checkpoint (click a row)", elem_id="train-ckpt-id")
        eval_episodes = gr.Number(50, precision=0, label="Rollouts", elem_id="train-eval-episodes")
        eval_workers = gr.Number(2, precision=0, label="Workers", elem_id="train-eval-workers")
        eval_btn = gr.Button("Evaluate", elem_id="train-evaluate")
    eval_msg = gr.Markdown("", elem_id="train-eval-message")
    job_links = gr.Markdown("", elem_id="train-job-links")
    seen = gr.State(None)  # (job id, state, metrics size) last drawn, to skip unchanged redraws
    overlay_offered = gr.State(job_choices(project))  # the overlay's choices as last sent
    timer = gr.Timer(2.0)

    def _selected(jid):
        if jid is not None and jid > 0:
            try:
                return jobs.get_job(project, int(jid))
            except Exception:  # noqa: BLE001 - a stale id shows nothing
                return None
        latest = jobs.list_jobs(project, limit=1)
        return latest[0] if latest else None

    def refresh(jid, last, others=()):
        job = _selected(jid)
        rows = shown_table(queue_rows(project), QUEUE_EMPTY, queue_widths)
        if job is None:
            return (*rows, progress_html(None, None), gr.update(), "", gr.update(), gr.update(), last)
        paths = [job.metrics_path] + [j.metrics_path for j in (_selected(o) for o in others or ()) if j is not None]
        sizes = tuple(p.stat().st_size if p.exists() else 0 for p in paths)
        key = (job.id, job.state, sizes, job.attempt, tuple(others or ()))
        if key == last:
            return (*rows, gr.update(), gr.update(), gr.update(), gr.update(), gr.update(), last)
        records = jobs.read_metrics(job.metrics_path)
        prog = jobs.progress(job, records)
        return (*rows, progress_html(job, prog), loss_figure(project, job, records, others),
                jobs.tail(job.log_path, 60), *shown_table(checkpoint_rows(project, job.id), CKPT_EMPTY, ckpt_widths), key)

    outs = [queue, queue_note, progress, loss_plot, log, ckpt_table, ckpt_note, seen]
    watch = [job_id, seen, overlay]

    def _spec(ds, pol, n_steps, bs, lr_, dev, sd, sf, frm, fm, cam, eps, size):
        return jobs.validate(project, dataset=ds or "", policy=pol, steps=int(n_steps or 0), batch_size=int(bs or 0),
                             lr=float(lr_) if lr_ else None, device=dev, seed=int(sd or 0),
                             save_freq=int(sf) if sf else None, init_from=(frm or "").strip() or None,
                             feature_map=(fm or "").strip() or None, cameras=list(cam or []) or "none",
                             episodes=(eps or "").strip() or None, image_size=int(size) if size else None)

    @guarded
    def on_dataset(ds):
        from studio.jobs.inputs import form_defaults

        if not ds:
            return gr.update(value=""), gr.update(choices=[], value=[])
        d = form_defaults(project, ds)
        return gr.update(value=d["feature_map"]), gr.update(choices=d["cameras"], value=d["cameras_checked"])

    @guarded
    def on_preview(ds, pol, n_steps, bs, lr_, dev, sd, sf, frm, be, fm, cam, eps, size):
        from studio.jobs.spec import is_offline, preview

        spec = _spec(ds, pol, n_steps, bs, lr_, dev, sd, sf, frm, fm, cam, eps, size)
        return preview(spec, project.home / "jobs" / "<id>" / "run-1" / "output", offline=is_offline(project))

    @guarded
    def on_submit(ds, pol, n_steps, bs, lr_, dev, sd, sf, frm, be, fm, cam, eps, size, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "train")  # team review roles (studio serve)
        spec = _spec(ds, pol, n_steps, bs, lr_, dev, sd, sf, frm, fm, cam, eps, size)
        job = jobs.submit(project, spec, backend=be)
        jobs.ensure_supervisor(project).tick()
        return f"Queued job {job.id}: {job.name}.", job.id

    @guarded
    def on_pipeline(ds, cur, pol, n_steps, n_post, bs, lr_, dev, sd, sf, be, request: gr.Request):
        from studio.auth import require

        require(ctx.auth, request, "train")  # team review roles (studio serve)
        if not cur:
            raise gr.Error("Pick the curated selection (or dataset) for stage 2.", print_exception=False)
        pipe = jobs.submit_pretrain_posttrain(
            project, pretrain=ds or "", posttrain=cur, policy=pol, pretrain_steps=int(n_steps or 0),
            posttrain_steps=int(n_post or 0), batch_size=int(bs or 0), lr=float(lr_) if lr_ else None, device=dev,
            seed=int(sd or 0), save_freq=int(sf) if sf else None, backend=be)
        jobs.ensure_supervisor(project).tick()
        return (f"Queued pipeline {pipe.id}: job {pipe.jobs[0].id} (pre-train) then job {pipe.jobs[1].id} "
                "(post-train from its final checkpoint)."), pipe.jobs[0].id

    def _action(fn, verb):
        @guarded
        def run(jid):
            job = _selected(jid)
            if job is None:
                raise gr.Error("Select a job first.", print_exception=False)
            job = fn(project, job.id)
            jobs.ensure_supervisor(project).tick()
            return f"Job {job.id} {verb}: now {job.state}."
        return run

    @guarded
    def on_evaluate(cid, n, w, request: gr.Request, prog=gr.Progress()):
        from studio.auth import require

        require(ctx.auth, request, "evaluate")  # team review roles (studio serve)
        if not cid:
            raise gr.Error("Enter a checkpoint id from the table.", print_exception=False)

        def cb(done, total):
            prog(done / max(total, 1), desc=f"rollout {done}/{total}")

        out = jobs.evaluate(project, int(cid), episodes=int(n or 1), workers=int(w or 1), progress=cb)
        return eval_message(project, out)

    form = [dataset, policy, steps, batch, lr, device, seed, save_freq, init_from, backend, fmap, cams, episodes,
            image_size]
    def on_overlay_choices(offered):
        """New jobs join the overlay list as they are queued; what is chosen stays chosen (the
        update never carries a value), and nothing is sent when the list is unchanged."""
        choices = job_choices(project)
        if [tuple(c) for c in offered or ()] == choices:
            return gr.update(), offered
        return gr.update(choices=choices), choices

    submit_btn.click(on_submit, form, [message, job_id]).then(refresh, watch, outs).then(
        on_overlay_choices, overlay_offered, [overlay, overlay_offered], show_progress="hidden")
    preview_btn.click(on_preview, form, preview_out)
    dataset.change(on_dataset, [dataset], [fmap, cams])
    pipeline_btn.click(on_pipeline, [dataset, curated, policy, steps, post_steps, batch, lr, device, seed,
                                     save_freq, backend], [message, job_id]).then(refresh, watch, outs).then(
        on_overlay_choices, overlay_offered, [overlay, overlay_offered], show_progress="hidden")
    cancel_btn.click(_action(lambda p, i: jobs.cancel(p, i, grace_s=10), "cancelled"), [job_id], message)
    resume_btn.click(_action(jobs.resume, "resumed"), [job_id], message)
    retry_btn.click(_action(jobs.retry, "queued again"), [job_id], message)
    eval_btn.click(on_evaluate, [ckpt_id, eval_episodes, eval_workers], eval_msg)
    def _row_id(evt: gr.SelectData):
        row = getattr(evt, "row_value", None) or []
        try:
            return int(row[0])
        except (TypeError, ValueError, IndexError):
            return gr.update()

    queue.select(_row_id, None, job_id)
    ckpt_table.select(_row_id, None, ckpt_id)
    job_id.change(refresh, watch, outs)
    overlay.input(refresh, watch, outs)

    @guarded
    def on_job_links(jid):
        job = _selected(jid)
        return job_links_markdown(project, job.id) if job is not None else ""

    job_id.change(on_job_links, job_id, job_links)
    if ctx.changes is not None:  # a job finishing or its rollouts landing redraws the links
        ctx.changes.change(on_job_links, job_id, job_links, show_progress="hidden")
        ctx.changes.change(on_overlay_choices, overlay_offered, [overlay, overlay_offered], show_progress="hidden")

    @guarded
    def open_link(params):
        """`?panel=Train&job=N` shows job N (progress, loss, checkpoints, links); `&dataset=` fills the form."""
        from studio.flywheel import link_int

        jid, ds = link_int(params, "job"), params.get("dataset") or ""
        return (jid if jid is not None else gr.skip(),
                gr.update(choices=dataset_choices(project), value=ds) if ds else gr.skip())

    ctx.on_link("Train", open_link, [], [job_id, dataset])
    timer.tick(refresh, watch, outs)

    def on_open(ds):
        choices = dataset_choices(project)
        try:
            fm, cm = on_dataset(ds) if ds else (gr.update(), gr.update())
        except gr.Error:  # a dataset that no longer opens shows nothing here; Fine-tune says why
            fm, cm = gr.update(), gr.update()
        return gr.update(choices=choices), gr.update(choices=choices), fm, cm, gr.update(choices=job_choices(project))

    ctx.handlers["on_load:train"] = lambda demo: demo.load(on_open, [dataset], [dataset, curated, fmap, cams, overlay],
                                                           queue=False)


PANEL = Panel(name="Train", build=build, order=30, description="Fine-tune policies: queue, progress, checkpoints")
