"""The Ray backend against a local Ray instance that the test starts and stops (with the
Diffusion Policy CPU preset, so both CPU presets train in the default run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    for c in cks:  # the checkpoints now live in the project's job folder, pointing at local paths
        assert Path(c.path).is_relative_to(job.folder) and c.exists
        cfg = json.loads((c.pretrained_dir / "train_config.json").read_text())
        assert cfg["output_dir"] == str(job.output_dir) and cfg["dataset"]["root"] == str(ds)
    assert all(str(job.output_dir) in r["path"] for r in jobs.read_metrics(job.metrics_path)
               if r["kind"] == "checkpoint")


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
