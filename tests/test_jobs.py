"""Jobs: real lerobot training in its own process group, persisted in studio.db.

Each test trains a tiny ACT (the studio's CPU preset) on a small synthetic dataset; the
lerobot import alone costs ~10 s per trainer, so step counts stay small.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio import jobs
from studio.errors import JobError
from studio.jobs.executor import process_alive

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def train_ds(tmp_path_factory) -> Path:
    from studio.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("jobs") / "reach", episodes=3, frames=40,
                                   environment_state=True)


@pytest.fixture(scope="module")
def curated_ds(tmp_path_factory) -> Path:
    from studio.synthetic import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("jobs") / "curated", episodes=2, frames=30,
                                   environment_state=True, seed=3)


def _wait_for(pred, timeout: float = 90.0, every: float = 0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("condition not met in time")


def _studio(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def test_invalid_specs_are_refused_before_queueing(project, train_ds, tmp_path, monkeypatch):
    from studio.jobs import spec as job_spec
    from studio.synthetic import write_synthetic_dataset

    with pytest.raises(JobError, match="positive"):
        jobs.validate(project, dataset=str(train_ds), steps=0)
    with pytest.raises(JobError, match="not a known policy"):
        jobs.validate(project, dataset=str(train_ds), policy="gpt5")
    with pytest.raises(JobError, match="neither a dataset folder nor a saved selection|is not a dataset"):
        jobs.validate(project, dataset=str(tmp_path / "nowhere"))
    state_only = write_synthetic_dataset(tmp_path / "state_only", episodes=2, frames=20, environment_state=False)
    # state only: the robot state is also fed as the environment state ACT needs (issue 14) …
    assert jobs.validate(project, dataset=str(state_only), policy="act", steps=10).inputs["state_as_env"]
    # … unless there is no state either
    with pytest.raises(JobError, match="observation.environment_state"):
        jobs.validate(project, dataset=str(state_only), policy="act", steps=10, feature_map="observation.state=-")
    # a VLA on a machine without a GPU is refused in one sentence, before anything is queued
    # (the probe answers "no GPU" here, so the test means the same on a machine that has one)
    monkeypatch.setattr(job_spec, "cuda_available", lambda: False)
    with pytest.raises(JobError, match="needs a CUDA GPU") as err:
        jobs.validate(project, dataset=str(train_ds), policy="smolvla", steps=10, device="cuda")
    assert "\n" not in err.value.sentence()
    with pytest.raises(JobError, match="not a lerobot checkpoint"):
        jobs.validate(project, dataset=str(train_ds), init_from=str(tmp_path))
    assert jobs.list_jobs(project) == []

    # the CLI prints the one sentence and exits 2; still nothing queued
    out = subprocess.run([sys.executable, "-m", "studio.cli", "train", str(train_ds), "--steps", "-3",
                          "--project", str(project.home)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: --steps: must be a positive whole number")
    assert jobs.list_jobs(project) == []


def test_every_policy_builds_its_lerobot_config(train_ds, tmp_path):
    from studio.jobs.spec import POLICIES, JobSpec, lerobot_args

    for key, preset in POLICIES.items():
        args = lerobot_args(JobSpec(dataset=str(train_ds), policy=key, steps=5), tmp_path / "o", offline=True)
        assert "--policy.push_to_hub=false" in args and "--dataset.video_backend=pyav" in args
        assert any(a.startswith("--policy.device=") for a in args)
        if preset.base_weights:
            assert any(preset.base_weights in a for a in args), key
        else:
            assert f"--policy.type={preset.type}" in args
            assert "--policy.pretrained_backbone_weights=null" in args


def test_sigkilled_trainer_is_interrupted_and_resumes_to_succeeded(project, train_ds):
    spec = jobs.validate(project, dataset=str(train_ds), policy="act", steps=60, batch_size=4, save_freq=10)
    job = jobs.submit(project, spec)
    sup = jobs.Supervisor(project)
    sup.tick()
    job = jobs.get_job(project, job.id)
    assert job.state == jobs.RUNNING and job.pid and job.pgid == job.pid
    _wait_for(lambda: job.last_checkpoint(), timeout=120)
    os.kill(job.pid, signal.SIGKILL)
    _wait_for(lambda: (sup.tick(), jobs.get_job(project, job.id).state)[1] != jobs.RUNNING, timeout=20)
    job = jobs.get_job(project, job.id)
    assert job.state == jobs.INTERRUPTED
    assert job.status_path.exists() is False
    kept = job.last_checkpoint()
    assert kept is not None and int(kept.name) < 60

    job = jobs.resume(project, job.id)
    (job,) = jobs.wait(project, [job.id], supervisor=sup, timeout=180, poll_s=0.3)
    assert job.state == jobs.SUCCEEDED, (job.error, jobs.tail(job.log_path))
    assert job.resumes == 1 and job.attempt == 1
    records = jobs.read_metrics(job.metrics_path)
    starts = [r for r in records if r["kind"] == "start"]
    assert [s["resume"] for s in starts] == [False, True]
    # lerobot resumed from the kept checkpoint, not from scratch
    resumed = records[records.index(starts[1]):]
    assert next(r["step"] for r in resumed if r["kind"] == "step") == int(kept.name) + 1
    assert [c.step for c in jobs.list_checkpoints(project, job_id=job.id)] == list(range(10, 61, 10))


def test_studio_killed_and_restarted_mid_job_reattaches_without_losing_checkpoints(project, train_ds):
    home = str(project.home)
    studio = _studio("train", str(train_ds), "--steps", "60", "--batch-size", "4", "--save-freq", "10",
                     "--wait", "--project", home)
    try:
        job = _wait_for(lambda: next(iter(jobs.list_jobs(project)), None), timeout=60)
        # the trainer reports its start before lerobot's ~10 s import: kill the studio in that window
        _wait_for(lambda: any(r["kind"] == "start" for r in jobs.read_metrics(job.metrics_path)), timeout=120)
        studio.kill()  # the studio dies; the trainer runs in its own session and must not
        studio.wait(timeout=10)
    finally:
        if studio.poll() is None:
            studio.kill()
    job = jobs.get_job(project, job.id)
    assert job.state == jobs.RUNNING and process_alive(job.pid, job.proc_start)
    jobs.reconcile(project)  # a restarted studio re-attaches: still running, not interrupted
    assert jobs.get_job(project, job.id).state == jobs.RUNNING

    restarted = _studio("jobs", "wait", str(job.id), "--project", home)
    out, _ = restarted.communicate(timeout=480)  # 60 steps; generous for a loaded 2-core machine
    assert restarted.returncode == 0, out
    job = jobs.get_job(project, job.id)
    assert job.state == jobs.SUCCEEDED
    assert [c.step for c in jobs.list_checkpoints(project, job_id=job.id)] == [10, 20, 30, 40, 50, 60]
    assert all(c.exists for c in jobs.list_checkpoints(project, job_id=job.id))
    assert not list((job.output_dir / "checkpoints").glob(".*partial*"))


def test_queue_respects_concurrency_and_cancel_stops_the_process_group(project, train_ds):
    assert jobs.concurrency(project) == 1
    spec = jobs.validate(project, dataset=str(train_ds), policy="act", steps=50, batch_size=4)
    first, second = jobs.submit(project, spec), jobs.submit(project, spec)
    sup = jobs.Supervisor(project)
    sup.tick()
    first, second = jobs.get_job(project, first.id), jobs.get_job(project, second.id)
    assert (first.state, second.state) == (jobs.RUNNING, jobs.QUEUED)
    # a second supervisor (another studio process) does not over-commit the slot
    jobs.Supervisor(project).tick()
    assert jobs.get_job(project, second.id).state == jobs.QUEUED

    second = jobs.cancel(project, second.id)
    assert second.state == jobs.CANCELLED
    _wait_for(lambda: first.metrics_path.exists() and first.metrics_path.stat().st_size > 0, timeout=60)
    first = jobs.cancel(project, first.id, grace_s=15)
    assert first.state == jobs.CANCELLED
    assert not process_alive(first.pid, first.proc_start)
    with pytest.raises(ProcessLookupError):
        os.killpg(first.pgid, 0)
    status = json.loads(first.status_path.read_text())
    assert status["state"] == "cancelled"  # the trainer handled TERM and reported it itself
    sup.tick()
    assert jobs.get_job(project, first.id).state == jobs.CANCELLED
    with pytest.raises(JobError, match="no checkpoint"):
        jobs.resume(project, first.id)
    retried = jobs.retry(project, first.id)
    assert retried.state == jobs.QUEUED and retried.attempt == 2
    jobs.cancel(project, retried.id)


def test_act_job_succeeds_with_a_loadable_checkpoint_and_post_train_starts_from_it(project, train_ds, curated_ds):
    # one pipeline covers both: stage 1 is a plain 10-step ACT job, stage 2 post-trains from it
    pipe = jobs.submit_pretrain_posttrain(project, pretrain=str(train_ds), posttrain=str(curated_ds),
                                          pretrain_steps=10, posttrain_steps=4, batch_size=4, save_freq=5)
    s1, s2 = pipe.jobs
    assert (s1.state, s2.state) == (jobs.QUEUED, jobs.QUEUED)
    assert (s1.stage, s2.stage, s2.depends_on) == (1, 2, s1.id)
    done = jobs.wait(project, [s1.id, s2.id], timeout=240, poll_s=0.3)
    assert [j.state for j in done] == [jobs.SUCCEEDED, jobs.SUCCEEDED], [j.error for j in done]
    job = done[0]

    records = jobs.step_records(jobs.read_metrics(job.metrics_path))
    assert [r["step"] for r in records] == list(range(1, 11))  # exact per-step progress, not lerobot's log
    assert {"loss", "lr", "grad_norm", "samples_per_s", "eta_s"} <= records[-1].keys()
    cks = jobs.list_checkpoints(project, job_id=job.id)
    assert [c.step for c in cks] == [5, 10]
    assert all(c.loss is not None and c.dataset == str(train_ds) for c in cks)
    final = jobs.final_checkpoint(project, job)
    assert final.step == 10

    from lerobot.policies.act.modeling_act import ACTPolicy

    policy = ACTPolicy.from_pretrained(str(final.pretrained_dir))
    assert policy.config.dim_model == 64 and policy.config.chunk_size == 10

    launch = json.loads((done[1].run_dir / "launch.json").read_text())
    assert f"--policy.path={final.pretrained_dir}" in launch["args"]
    s2_final = jobs.final_checkpoint(project, done[1])
    assert s2_final.init_from == str(final.pretrained_dir)
    assert s2_final.dataset == str(curated_ds)
    cfg = json.loads((s2_final.pretrained_dir / "train_config.json").read_text())
    assert cfg["steps"] == 4 and cfg["dataset"]["root"] == str(curated_ds)
    assert jobs.get_pipeline(project, pipe.id).state == jobs.SUCCEEDED


def test_post_train_stage_is_cancelled_when_pre_train_fails_and_requeued_by_retry(project, train_ds, curated_ds):
    pipe = jobs.submit_pretrain_posttrain(project, pretrain=str(train_ds), posttrain=str(curated_ds),
                                          pretrain_steps=10, posttrain_steps=4)
    s1, s2 = pipe.jobs
    jobs.cancel(project, s1.id)
    jobs.Supervisor(project).tick()
    s2 = jobs.get_job(project, s2.id)
    assert s2.state == jobs.CANCELLED and "did not succeed" in s2.error
    jobs.retry(project, s1.id)
    assert jobs.get_job(project, s2.id).state == jobs.QUEUED
    for j in (s1, s2):
        jobs.cancel(project, j.id)


def test_a_saved_selection_name_trains_on_its_export(project, train_ds):
    from studio.curation.selections import save_selection
    from studio.datasets import open_dataset

    save_selection(project, "smooth", open_dataset(train_ds), excludes=[1])
    spec = jobs.validate(project, dataset="smooth", policy="act", steps=5)
    assert spec.selection == "smooth" and spec.source == "smooth"
    export = Path(spec.dataset)
    assert export.is_relative_to(project.selections_dir)
    assert json.loads((export / "meta" / "info.json").read_text())["total_episodes"] == 2
    with pytest.raises(JobError, match="neither|does not exist"):
        jobs.validate(project, dataset="no-such-selection")


def test_evaluate_hands_a_checkpoint_to_the_rollout_engine(demo_world, project, tmp_path):
    demos = demo_world.datasets_dir / "pick_cube_demos"  # read-only: jobs live in this test's project
    spec = jobs.validate(project, dataset=str(demos), policy="act", steps=4, batch_size=4)
    job = jobs.submit(project, spec)
    (job,) = jobs.wait(project, [job.id], timeout=300, poll_s=0.3)
    assert job.state == jobs.SUCCEEDED, job.error
    ck = jobs.final_checkpoint(project, job)
    out = jobs.evaluate(project, ck.id, episodes=2, workers=1, seed=5, out=tmp_path / "eval", max_steps=20)
    summary = json.loads((Path(out) / "summary.json").read_text())
    assert summary["n_episodes"] == 2 and [e["seed"] for e in summary["episodes"]] == [5, 6]
    assert str(ck.pretrained_dir) in str(summary["policy"])
