"""Training curves (studio.jobs.curves): the loss the queue shows is the loss the trainer's
log prints at the same step; smoothing; the one loss figure (raw under smoothed, lr,
grad-norm, several runs overlaid)."""

from __future__ import annotations

import json
import re

import pytest

from studio.jobs.curves import curves, job_runs, logged_loss, loss_figure, loss_text, smooth


def _tracker():
    """lerobot's own training tracker, with the meters lerobot_train.py gives it."""
    from lerobot.utils.logging_utils import AverageMeter, MetricsTracker

    meters = {"loss": AverageMeter("loss", ":.3f"), "grad_norm": AverageMeter("grdn", ":.3f"),
              "lr": AverageMeter("lr", ":0.1e"), "update_s": AverageMeter("updt_s", ":.3f"),
              "dataloading_s": AverageMeter("data_s", ":.3f")}
    return MetricsTracker(4, 100, 2, meters)


def test_queue_loss_is_the_loss_the_log_prints_at_that_step(tmp_path):
    """lerobot logs the mean loss since its previous log line; the studio's step records and
    the queue's number agree with that line at every log step (they showed the last step's)."""
    from studio.jobs.train_entry import Emitter

    path = tmp_path / "metrics.jsonl"
    em = Emitter(path, total=30, batch_size=4)
    tr = _tracker()
    logged = {}
    losses = [1.0 / (1 + 0.3 * i) + (0.2 if i % 3 == 0 else 0.0) for i in range(30)]
    for i, loss in enumerate(losses):  # the loop of lerobot_train.train(), log_freq = 10
        tr.loss, tr.grad_norm, tr.lr, tr.update_s, tr.dataloading_s = loss, 2.0 - i / 30, 1e-4, 0.01, 0.001
        tr.step()
        em.on_step(tr)
        if tr.steps % 10 == 0:
            logged[tr.steps] = re.search(r"loss:(\S+)", str(tr)).group(1)
            tr.reset_averages()
    em.fh.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for step, text in logged.items():
        upto = [r for r in records if r["step"] <= step]
        s, value = logged_loss(upto)
        assert s == step and loss_text(value) == text, (step, text, value)
    # the last step's loss alone would not have matched (the bug this guards)
    assert loss_text(losses[9]) != logged[10]


def test_records_from_before_loss_avg_show_their_own_loss():
    assert logged_loss([{"kind": "step", "step": 3, "loss": 0.25}]) == (3, 0.25)
    assert logged_loss([{"kind": "start"}]) is None


def test_smooth_is_a_debiased_moving_average():
    assert smooth([1.0, 0.0], 0.5) == pytest.approx([1.0, 1.0 / 3.0])
    assert smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0 at the start
    assert smooth([1.0, None, float("nan"), 3.0], 0.0) == [1.0, None, None, 3.0]
    with pytest.raises(ValueError):
        smooth([1.0], 1.0)


def _records(scale: float, n: int = 20):
    out = [{"kind": "start"}]
    for s in range(1, n + 1):
        out.append({"kind": "step", "step": s, "loss": scale / s + (0.1 if s % 2 else 0.0), "lr": 1e-4 * s / n,
                    "grad_norm": 3.0 / s})
        if s % 10 == 0:
            out.append({"kind": "checkpoint", "step": s, "loss": scale / s})
    return out


def test_loss_figure_overlays_runs_with_raw_smoothed_lr_and_grad_norm():
    a, b = _records(1.0), _records(2.0, n=12)
    fig = loss_figure([("job 1", a), ("job 2", b)], smoothing=0.6)
    by = {t.name: t for t in fig.data}
    for label, recs in (("job 1", a), ("job 2", b)):
        c = curves(recs, 0.6)
        raw, sm = by[f"{label} raw"], by[label]
        assert list(raw.y) == pytest.approx(c.loss) and list(sm.y) == pytest.approx(smooth(c.loss, 0.6))
        assert raw.opacity < 1 and sm.line.width > raw.line.width and raw.line.color == sm.line.color
        assert raw.yaxis == sm.yaxis == "y"
        assert by[f"{label} lr"].yaxis == "y2" and list(by[f"{label} lr"].y) == pytest.approx(c.lr)
        assert by[f"{label} grad norm"].yaxis == "y3" and list(by[f"{label} grad norm"].y) == pytest.approx(c.grad_norm)
        assert list(by[f"{label} checkpoint"].x) == [s for s, _ in c.checkpoints]
    assert by["job 1"].line.color != by["job 2"].line.color
    assert len(by["job 2"].x) == 12


def test_a_constant_small_learning_rate_fills_its_axis():
    """lerobot's CPU presets hold lr at 1e-5: plotly's default axis for a constant series is
    ±1 around it, where 1e-5 draws as a flat line on 0. The axis spans [0, max lr] instead."""
    recs = [{"kind": "step", "step": s, "loss": 1.0 / s, "lr": 1e-5, "grad_norm": 1.0} for s in range(1, 21)]
    fig = loss_figure([("job 1", recs)])
    lo, hi = fig.layout.yaxis2.range
    assert lo == 0 and 1e-5 < hi < 2e-5
    assert fig.layout.yaxis2.tickformat == ".1e"


def test_job_runs_reads_each_jobs_metrics_and_skips_unknown_ids(project, tmp_path):
    from studio import jobs
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=20, environment_state=True)
    job = jobs.submit(project, jobs.validate(project, dataset=str(ds), policy="act", steps=10, batch_size=2))
    job.metrics_path.parent.mkdir(parents=True, exist_ok=True)
    job.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in _records(1.0, 5)))
    runs = job_runs(project, [job.id, 999, job.id])
    assert [label for label, _ in runs] == [f"job {job.id}: {job.name}"]
    assert [r["step"] for r in runs[0][1] if r.get("kind") == "step"] == [1, 2, 3, 4, 5]
    with open(job.metrics_path, "a") as fh:  # the queue's loss is the log's (loss_avg), not the step's
        fh.write(json.dumps({"kind": "step", "step": 6, "total": 10, "loss": 0.9, "loss_avg": 0.45}) + "\n")
    assert jobs.progress(jobs.get_job(project, job.id)).loss == 0.45


def test_train_preview_is_the_command_the_job_runs(project, tmp_path):
    """The Train panel's preview lists exactly the arguments the executor will launch with
    (online, it used to show the offline-only `pretrained_backbone_weights=null`)."""
    import gradio as gr
    from helpers import handler

    from panels import train
    from panels.registry import AppContext
    from studio import jobs
    from studio.jobs.spec import lerobot_args
    from studio.plugins import host
    from studio.synthetic import write_synthetic_dataset

    project.set_setting("hub.offline", "0")  # online: the case the preview got wrong
    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=20, environment_state=True)
    with gr.Blocks() as demo:
        train.build(AppContext(project=project, plugins=host()))
    text = handler(demo, "train-preview")(str(ds), "act", 50, 4, 0, "cpu", 7, 0, "", "local", "", [], "", 0)
    shown = [ln.strip().rstrip("\\").strip() for ln in text.splitlines()[1:] if ln.strip().startswith("--")]
    spec = jobs.validate(project, dataset=str(ds), policy="act", steps=50, batch_size=4, device="cpu", seed=7,
                         cameras="none")
    out = project.home / "jobs" / "<id>" / "run-1" / "output"
    assert shown == lerobot_args(spec, out, offline=False)
    assert "--policy.pretrained_backbone_weights=null" not in shown
