"""studio.db fails loudly (one sentence, exit 2, the backup's path) and never reuses history."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from studio import health, jobs
from studio.cli import main
from studio.curation.tags import add_tags, tags_by_episode
from studio.errors import DatabaseError
from studio.jobs.spec import JobSpec
from studio.project import open_project


@pytest.fixture
def used(tmp_path):
    """A project with a job and a tag, backed up, then closed (WAL checkpointed)."""
    from studio.datasets import open_dataset
    from studio.synthetic import write_synthetic_dataset

    health._checked.clear()
    project = open_project(tmp_path / "home")
    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=10)
    job = jobs.submit(project, JobSpec(dataset=str(root), steps=10))
    (job.folder / "run-1").mkdir(parents=True)
    (job.folder / "run-1" / "metrics.jsonl").write_text('{"step": 1}\n')
    ds = open_dataset(root)
    add_tags(project, ds, [1], "good")
    health.backup(project)
    health._checked.clear()
    return project, job, ds


def _damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(b"")
    elif how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "page1":
        path.write_bytes(os.urandom(4096) + data[4096:])
    elif how == "jobs_page":
        conn = sqlite3.connect(path)
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'jobs'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.close()
        off = (root - 1) * size
        path.write_bytes(data[:off] + os.urandom(size) + data[off + size:])


@pytest.mark.parametrize("how", ["truncated", "half", "page1", "jobs_page"])
def test_damaged_database_is_one_sentence_exit_2_naming_the_backup(used, how, capsys):
    project, job, _ = used
    _damage(project.db_path, how)
    before = project.db_path.read_bytes()
    assert main(["jobs", "list", "--project", str(project.home)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: {project.db_path}: ")
    assert str(project.home / "backups" / "studio.db.1") in err and "studio doctor" in err
    assert "no jobs yet" not in capsys.readouterr().out
    assert project.db_path.read_bytes() == before  # nothing was changed
    with pytest.raises(DatabaseError):
        jobs.list_jobs(project)


def test_doctor_restores_the_backup(used, capsys):
    project, job, ds = used
    _damage(project.db_path, "half")
    assert main(["doctor", "--restore", "--project", str(project.home)]) == 0
    out = capsys.readouterr().out
    assert "restored" in out and "damaged-" in out
    assert [j.id for j in jobs.list_jobs(project)] == [job.id]
    assert tags_by_episode(project, ds) == {1: ["good"]}
    assert list(project.home.glob("studio.db.damaged-*"))  # kept, never deleted


def test_doctor_rebuilds_jobs_and_new_ids_skip_existing_folders(used, capsys):
    project, job, ds = used
    (project.home / "backups" / "studio.db.1").unlink()
    _damage(project.db_path, "truncated")
    assert main(["doctor", "--rebuild", "--project", str(project.home)]) == 0
    assert "1 jobs re-indexed" in capsys.readouterr().out
    (back,) = jobs.list_jobs(project)
    assert back.id == job.id and back.spec["steps"] == 10
    new = jobs.submit(project, JobSpec(dataset=back.spec["dataset"], steps=10))
    assert new.id > job.id


def test_job_ids_never_reuse_a_jobs_folder(tmp_path):
    """Even with a fresh index (e.g. a restored old backup), the next id is above every jobs/N/."""
    from studio.synthetic import write_synthetic_dataset

    project = open_project(tmp_path / "home")
    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=10)
    (project.jobs_dir / "1" / "run-1").mkdir(parents=True)
    (project.jobs_dir / "1" / "run-1" / "metrics.jsonl").write_text('{"step": 5, "loss": 1.0}\n')
    (project.jobs_dir / "7").mkdir()
    job = jobs.submit(project, JobSpec(dataset=str(root), steps=10))
    assert job.id == 8
    assert (project.jobs_dir / "1" / "run-1" / "metrics.jsonl").read_text() == '{"step": 5, "loss": 1.0}\n'


def test_backups_roll_and_are_made_daily(tmp_path):
    health._checked.clear()
    project = open_project(tmp_path / "home")
    first = health.latest_backup(project)
    assert first is not None and health.problem(first) is None  # made on the first open
    assert health.backup_if_due(project) is None  # not due again today
    project.set_setting("probe", "1")
    health.backup(project)
    assert (project.home / "backups" / "studio.db.2").exists()
    conn = sqlite3.connect(project.home / "backups" / "studio.db.1")
    assert conn.execute("SELECT value FROM settings WHERE key = 'probe'").fetchone()[0] == "1"
    conn.close()
    assert json.loads((project.home / "studio.json").read_text())["database"] == "studio.db"
