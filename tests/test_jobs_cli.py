"""`studio jobs …` as a user runs it: a fresh process per command, exit codes and output
(0 on success, 1 for a job that did not succeed, 2 and one `error:` line for a refused action)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def studio(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "studio.cli", *args, "--project", str(home)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def refused(r: subprocess.CompletedProcess, text: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and text in line, line


def test_jobs_cli_lifecycle(tmp_path):
    from studio.synthetic import write_synthetic_dataset

    home = tmp_path / "home"
    ds = write_synthetic_dataset(tmp_path / "reach", episodes=2, frames=30, environment_state=True)
    r = studio(home, "jobs", "list")
    assert r.returncode == 0 and "no jobs yet" in r.stdout

    r = studio(home, "train", str(ds), "--steps", "4", "--save-freq", "2", "--batch-size", "4", "--wait", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "job 1 [succeeded]" in r.stdout.splitlines()[-1] and "step 4/4" in r.stdout.splitlines()[-1]

    (row,) = json.loads(studio(home, "jobs", "list", "--json").stdout)
    assert (row["id"], row["state"], row["step"], row["total"], row["attempt"]) == (1, "succeeded", 4, 4, 1)
    shown = studio(home, "jobs", "show", "1")
    assert shown.returncode == 0 and "checkpoints:" in shown.stdout and "step 4 loss" in shown.stdout
    cks = json.loads(studio(home, "jobs", "checkpoints", "1", "--json").stdout)
    assert [c["step"] for c in cks] == [2, 4] and all(Path(c["path"]).is_dir() for c in cks)

    refused(studio(home, "jobs", "cancel", "1"), "job 1: is succeeded; only queued or running jobs can be cancelled")
    refused(studio(home, "jobs", "resume", "1"), "only interrupted, failed or cancelled jobs resume")
    refused(studio(home, "jobs", "show", "99"), "99")

    r = studio(home, "jobs", "retry", "1")  # attempt 2, started at once when a slot is free
    assert r.returncode == 0 and ("job 1 [queued]" in r.stdout or "job 1 [running]" in r.stdout), r.stdout
    assert json.loads(studio(home, "jobs", "show", "1", "--json").stdout)["attempt"] == 2
    r = studio(home, "jobs", "cancel", "1")
    assert r.returncode == 0 and "job 1 [cancelled]" in r.stdout
    r = studio(home, "jobs", "wait", "1")
    assert r.returncode == 1 and "[cancelled]" in r.stdout and "cancelled by the user" in r.stdout

    assert "jobs.concurrency = 1" in studio(home, "jobs", "concurrency").stdout
    assert "jobs.concurrency = 3" in studio(home, "jobs", "concurrency", "3").stdout
    refused(studio(home, "jobs", "concurrency", "0"), "must be at least 1")
    assert "jobs.concurrency = 3" in studio(home, "jobs", "concurrency").stdout
    assert "ray.address = 127.0.0.1:6379" in studio(home, "jobs", "ray-address", "127.0.0.1:6379").stdout
    assert "ray.address = 127.0.0.1:6379" in studio(home, "jobs", "ray-address").stdout
    refused(studio(home, "jobs", "evaluate", "42", "--episodes", "1"), "42")
