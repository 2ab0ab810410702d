"""The Ray backend against a local Ray instance that the test starts and stops (with the
Diffusion Policy CPU preset, so both CPU presets train in the default run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio import jobs
from studio.errors import JobError

# Starts a one-CPU local Ray instance, prints its address, and shuts it down when stdin closes.
RAY_HEAD = """
import sys, ray
ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR", _node_ip_address="127.0.0.1")
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()
ray.shutdown()
"""


@pytest.fixture
def ray_cluster():
    proc = subprocess.Popen([sys.executable, "-c", RAY_HEAD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address, "the local Ray instance did not start"
        yield address
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ray_backend_needs_an_address(project, tmp_path):
    from studio.jobs.ray_backend import check_available

    with pytest.raises(JobError, match="ray.address"):
        check_available(project)


def test_job_runs_on_ray_and_returns_artifacts_to_the_project(project, tmp_path, ray_cluster):
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=30, environment_state=True)
    project.set_setting("ray.address", ray_cluster)
    spec = jobs.validate(project, dataset=str(ds), policy="diffusion", steps=8, batch_size=4, save_freq=4)
    job = jobs.submit(project, spec, backend="ray")
    (job,) = jobs.wait(project, [job.id], timeout=300, poll_s=0.5)
    assert job.state == jobs.SUCCEEDED, (job.error, jobs.tail(job.log_path))
    assert "running on a Ray worker" in job.log_path.read_text()
    steps = [r["step"] for r in jobs.step_records(jobs.read_metrics(job.metrics_path))]
    assert steps == list(range(1, 9))
    cks = jobs.list_checkpoints(project, job_id=job.id)
    assert [c.step for c in cks] == [4, 8]
    assert json.loads((cks[-1].pretrained_dir / "config.json").read_text())["type"] == "diffusion"
    for c in cks:  # the checkpoints now live in the project's job folder
        assert Path(c.path).is_relative_to(job.folder) and c.exists
    # the weights were trained on the worker, in its own folder, and shipped back: they load,
    # and differ between steps 4 and 8 (a faked or copied checkpoint would not)
    log = job.log_path.read_text()
    remote = log.split("running on a Ray worker in ", 1)[1].split()[0]
    assert not Path(remote).is_relative_to(job.folder) and not Path(remote).exists()  # the worker cleaned up
    w4, w8 = (_weights(c.pretrained_dir) for c in cks)
    assert w4.keys() == w8.keys() and len(w4) > 10
    assert any(not np.array_equal(w4[k], w8[k]) for k in w4)
    assert all(np.isfinite(v).all() for v in w8.values())
    for c in cks:
        state = json.loads((Path(c.path) / "training_state" / "training_step.json").read_text())
        assert state["step"] == c.step


def _weights(pretrained_dir: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(pretrained_dir / "model.safetensors"))


def _trainers_in(folder: str) -> list[int]:
    """Pids of live trainer processes whose command line names `folder` (the worker's job dir)."""
    pids = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmd.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (cmd.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "studio.jobs.train_entry" in text and folder in text and state != "Z":
            pids.append(int(cmd.parent.name))
    return pids


def _raw_steps(job) -> list[int]:
    """Every step record in the order written (a resumed run appends after the cancelled one)."""
    return [int(r["step"]) for r in jobs.read_metrics(job.metrics_path) if r.get("kind") == "step"]


def _until(pred, sup, timeout: float = 240.0):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        sup.tick()
        v = pred()
        if v:
            return v
        time.sleep(0.5)
    raise AssertionError("condition not met in time")


@pytest.mark.slow  # two Ray trainer launches: ~3 min on 2 busy cores
def test_ray_job_cancels_on_the_worker_and_resumes_from_its_checkpoint(project, tmp_path, ray_cluster):
    from studio.jobs.executor import Supervisor, process_alive
    from studio.synthetic import write_synthetic_dataset

    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=30, environment_state=True)
    project.set_setting("ray.address", ray_cluster)
    spec = jobs.validate(project, dataset=str(ds), policy="act", steps=100_000, batch_size=4, save_freq=3)
    job = jobs.submit(project, spec, backend="ray")
    sup = Supervisor(project)
    _until(lambda: jobs.list_checkpoints(project, job_id=job.id), sup)
    running = jobs.get_job(project, job.id)
    remote = _until(lambda: "running on a Ray worker in " in running.log_path.read_text(), sup) and \
        running.log_path.read_text().split("running on a Ray worker in ", 1)[1].split()[0]
    assert running.state == jobs.RUNNING and _trainers_in(remote)

    cancelled = jobs.cancel(project, job.id)
    assert cancelled.state == jobs.CANCELLED and not process_alive(running.pid, running.proc_start)
    _until(lambda: not _trainers_in(remote), sup, timeout=60)  # the trainer on the worker stopped
    _until(lambda: not Path(remote).exists(), sup, timeout=30)  # and its folder is gone
    last = max(c.step for c in jobs.list_checkpoints(project, job_id=job.id))
    done = _raw_steps(job)

    resumed = jobs.resume(project, job.id)
    assert resumed.state == jobs.QUEUED and resumed.resumes == 1
    _until(lambda: len(_raw_steps(job)) > len(done) + 2, sup)
    again = jobs.get_job(project, job.id)
    assert again.state == jobs.RUNNING and again.pid != running.pid
    new = _raw_steps(job)[len(done):]
    assert new[0] == last + 1 and new == list(range(last + 1, last + 1 + len(new)))  # from the checkpoint on
    assert "running on a Ray worker" in again.log_path.read_text().split("resum", 1)[-1]
    assert jobs.cancel(project, job.id).state == jobs.CANCELLED


@pytest.mark.parametrize("filters", [True, False], ids=["extraction-filters", "python-3.11.2-no-filters"])
def test_artifacts_unpack_with_links_inside_and_refuse_paths_outside(tmp_path, monkeypatch, filters):
    import io
    import tarfile

    from studio.jobs.ray_backend import pack, unpack

    if not filters:  # Debian 12's Python 3.11.2 predates tarfile's extraction filters (3.11.4)
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    run = tmp_path / "run"
    (run / "checkpoints" / "000010").mkdir(parents=True)
    (run / "checkpoints" / "000010" / "model.safetensors").write_bytes(b"weights")
    (run / "checkpoints" / "last").symlink_to("000010")  # lerobot's own link to the latest checkpoint
    unpack(pack(run), tmp_path / "back")
    assert (tmp_path / "back" / "checkpoints" / "last" / "model.safetensors").read_bytes() == b"weights"

    for name, link in (("../evil.txt", None), ("ok/../../evil.txt", None), ("sneaky", "../../evil.txt")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            if link is None:
                info.size = 4
                tar.addfile(info, io.BytesIO(b"evil"))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
        with pytest.raises(JobError, match="refusing to unpack"):
            unpack(buf.getvalue(), tmp_path / "dest" / "inner")
        assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "dest" / "evil.txt").exists()
        assert not (tmp_path / "dest" / "inner" / "sneaky").exists()


OWNER = """
import subprocess, sys, tempfile, time
from pathlib import Path
from studio.jobs.ray_backend import _start_reaper
wd = Path(tempfile.mkdtemp(prefix="studio-ray-job-"))
_start_reaper(wd)
trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], cwd=wd)
print(wd, trainer.pid, flush=True)
if sys.argv[1] == "finish":  # the normal end: the task's own `finally` stops the trainer and deletes the folder
    import shutil
    sys.stdin.readline()  # once the test has seen the folder
    trainer.kill(); trainer.wait(); shutil.rmtree(wd)
    print("done", flush=True)
time.sleep(300)
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _watchers(wd: str) -> list[int]:
    out = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmd.read_bytes().split(b"\0")
        except OSError:
            continue
        if wd.encode() in args and not _gone(int(cmd.parent.name)):
            out.append(int(cmd.parent.name))
    return out


@pytest.mark.parametrize("end", ["worker-killed", "finish"])
def test_a_job_folder_never_outlives_its_worker(tmp_path, monkeypatch, end):
    """Ray kills a cancelled task's worker when the driver disconnects, which can cut the
    task's `finally` short (seen under load: the trainer stopped, its folder stayed). The
    watcher each job starts on its node then stops the trainer and deletes the folder; after
    a normal end it leaves by itself."""
    import os
    import signal
    import time

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    owner = subprocess.Popen([sys.executable, "-c", OWNER, end], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=str(Path(__file__).resolve().parents[1]))
    try:
        wd, trainer = owner.stdout.readline().split()
        trainer = int(trainer)
        assert Path(wd).is_dir() and Path(wd).parent == tmp_path
        if end == "worker-killed":
            os.kill(owner.pid, signal.SIGKILL)
        else:
            owner.stdin.write("go\n")
            owner.stdin.flush()
            assert owner.stdout.readline().strip() == "done"
        deadline = time.time() + 30
        while time.time() < deadline and (Path(wd).exists() or not _gone(trainer) or _watchers(wd)):
            time.sleep(0.2)
        assert not Path(wd).exists(), "the job folder outlived its worker"
        assert _gone(trainer), "the trainer outlived its worker"
        assert not _watchers(wd), "the watcher stayed behind"
        if end == "finish":
            assert owner.poll() is None  # the worker lives on (Ray reuses it); only the folder went
    finally:
        owner.kill()
        owner.wait()
