"""The Train panel's buttons, called as Gradio calls them (the panel's own handlers on a real
project, real trainers): cancel, resume from a checkpoint, retry, the pre-train → post-train
pipeline and evaluate, each with the message the user sees."""

from __future__ import annotations

import time

import gradio as gr
import pytest
from helpers import handler

from studio import jobs


def _until(pred, timeout: float = 240.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def _steps(job) -> list[int]:
    """Every step record in the order written (a resumed run appends after the cancelled one)."""
    return [int(r["step"]) for r in jobs.read_metrics(job.metrics_path) if r.get("kind") == "step"]


@pytest.fixture
def train_panel(project):
    from panels import train
    from panels.registry import AppContext
    from studio.plugins import host

    with gr.Blocks() as demo:
        train.build(AppContext(project=project, plugins=host()))
    yield demo
    for j in jobs.list_jobs(project, states=[jobs.QUEUED, jobs.RUNNING]):  # leave no trainer behind
        jobs.cancel(project, j.id, grace_s=5)


def test_train_panel_cancel_resume_retry(project, train_panel, tmp_path):
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=30, environment_state=True)
    submit, cancel, resume, retry = (handler(train_panel, f"train-{b}") for b in ("submit", "cancel", "resume", "retry"))
    req = gr.Request()

    msg, jid = submit(str(ds), "act", 100_000, 4, 0, "cpu", 1000, 2, "", "local", "", [], "", 0, req)
    assert msg.startswith(f"Queued job {jid}:")
    job = _until(lambda: jobs.list_checkpoints(project, job_id=jid) and jobs.get_job(project, jid))
    with pytest.raises(gr.Error, match=f"job {jid}.*only interrupted, failed or cancelled jobs resume"):
        resume(jid)  # a running job does not resume

    assert cancel(jid) == f"Job {jid} cancelled: now cancelled."
    assert jobs.get_job(project, jid).state == jobs.CANCELLED
    last = int(jobs.get_job(project, jid).last_checkpoint().name)  # the newest checkpoint on disk
    done = len(_steps(job))

    assert resume(jid).startswith(f"Job {jid} resumed: now ")
    assert jobs.get_job(project, jid).resumes == 1
    new = _until(lambda: _steps(job)[done:][:3] if len(_steps(job)) >= done + 3 else None)
    assert new == [last + 1, last + 2, last + 3]  # training continued from the checkpoint
    assert cancel(jid) == f"Job {jid} cancelled: now cancelled."

    assert retry(jid).startswith(f"Job {jid} queued again: now ")
    again = jobs.get_job(project, jid)
    assert again.attempt == 2 and again.state in (jobs.QUEUED, jobs.RUNNING)
    assert cancel(jid) == f"Job {jid} cancelled: now cancelled."
    with pytest.raises(gr.Error, match="only queued or running jobs can be cancelled"):
        cancel(jid)


def test_train_panel_pipeline_and_evaluate_messages(project, train_panel, tmp_path):
    from studio.synthetic import write_synthetic_dataset

    pre = write_synthetic_dataset(tmp_path / "all", episodes=2, frames=30, environment_state=True)
    post = write_synthetic_dataset(tmp_path / "curated", episodes=2, frames=30, environment_state=True, seed=3)
    pipeline, evaluate = handler(train_panel, "train-pipeline"), handler(train_panel, "train-evaluate")
    req = gr.Request()

    with pytest.raises(gr.Error, match="Pick the curated selection"):
        pipeline(str(pre), "", "act", 100_000, 50, 4, 0, "cpu", 1000, 0, "local", req)
    assert not jobs.list_jobs(project)  # nothing queued
    msg, first = pipeline(str(pre), str(post), "act", 100_000, 50, 4, 0, "cpu", 1000, 0, "local", req)
    (pipe,) = jobs.list_pipelines(project)
    a, b = pipe.jobs
    assert first == a.id and msg.startswith(f"Queued pipeline {pipe.id}: job {a.id} (pre-train) then job {b.id}")
    assert (a.stage, b.stage, b.depends_on) == (1, 2, a.id)
    assert a.spec["dataset"] == str(pre) and b.spec["dataset"] == str(post) and a.spec["steps"] == 100_000
    assert b.spec["steps"] == 50 and b.spec["init_from"] == f"job:{a.id}"
    assert jobs.get_job(project, b.id).state == jobs.QUEUED  # waits for stage 1
    jobs.cancel(project, a.id, grace_s=5)
    stage2 = _until(lambda: (j := jobs.get_job(project, b.id)).state != jobs.QUEUED and j, timeout=30)
    assert stage2.state == jobs.CANCELLED and f"job {a.id}" in stage2.error

    with pytest.raises(gr.Error, match="Enter a checkpoint id"):
        evaluate(0, 1, 1, req)
    with pytest.raises(gr.Error, match="9999") as err:
        evaluate(9999, 1, 1, req)
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_overlay_list_offers_new_jobs_and_keeps_the_choice(project, train_panel, tmp_path):
    """A job queued from this page, another tab or the CLI joins "Overlay other runs" without a
    reload; the update never carries a value (what the user picked stays picked) and nothing is
    sent while the list is unchanged."""
    from studio.synthetic import write_synthetic_dataset

    fn = next(f.fn for f in train_panel.fns.values() if getattr(f.fn, "__name__", "") == "on_overlay_choices")
    update, offered = fn([])
    assert update == gr.update() and offered == []  # no jobs yet: nothing to send
    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=30, environment_state=True)
    job = jobs.submit(project, jobs.validate(project, dataset=str(ds), policy="act", steps=10, batch_size=2))
    update, offered = fn(offered)
    assert update["choices"] == [(f"{job.id}: {job.name}", job.id)] and "value" not in update
    assert offered == update["choices"]
    assert fn(offered) == (gr.update(), offered)  # unchanged list: no update


def test_evaluate_message_offers_a_baseline_not_the_same_checkpoint_again(project):
    """Evaluating a checkpoint twice: the second message links a Compare with another policy's
    set (the baseline), not with the first evaluation of the same checkpoint."""
    import json
    import os

    from helpers import sim_rollout_set

    from panels.train import eval_message

    sim_rollout_set(project.rollouts_dir / "scripted-expert", [0, 1], frames=(30, 30))
    ck = str(project.home / "jobs" / "1" / "run-1" / "output" / "checkpoints" / "000002" / "pretrained_model")
    names = ("job1-step2-pick_cube-s0-n2", "job1-step2-pick_cube-s0-n2-2")
    for i, name in enumerate(names):
        root = sim_rollout_set(project.rollouts_dir / name, [0, 1], frames=(30, 30))
        summary = json.loads((root / "summary.json").read_text())
        (root / "summary.json").write_text(json.dumps({**summary, "policy": ck}))
        os.utime(root, (time.time() + 10 * (i + 1),) * 2)  # both newer than the baseline
    msg = eval_message(project, project.rollouts_dir / names[1])
    assert f"Rollouts written to [{names[1]}]" in msg
    assert "[Compare with scripted-expert]" in msg, msg
