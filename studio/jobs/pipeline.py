"""The "pre-train → post-train" recipe: two jobs shown as one pipeline.

Stage 1 trains on everything; stage 2 starts from stage 1's final checkpoint
(`--policy.path=<checkpoint>/pretrained_model`) and trains on the curated export. Stage 2
is queued at once and waits on stage 1 (`depends_on`); its checkpoint is resolved when it
starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from studio import db
from studio.errors import JobError
from studio.jobs.executor import submit
from studio.jobs.model import Job, get_job, list_jobs
from studio.jobs.spec import validate


@dataclass(frozen=True)
class Pipeline:
    id: int
    name: str
    jobs: tuple[Job, ...]

    @property
    def state(self) -> str:
        states = [j.state for j in self.jobs]
        for s in ("running", "failed", "interrupted", "cancelled", "queued"):
            if s in states:
                return s
        return "succeeded"


def submit_pretrain_posttrain(project, *, pretrain: str, posttrain: str, policy: str = "act",
                              pretrain_steps: int = 2000, posttrain_steps: int = 1000, batch_size: int = 8,
                              lr: float | None = None, posttrain_lr: float | None = None, device: str = "cpu",
                              seed: int = 1000, save_freq: int | None = None, backend: str = "local",
                              name: str | None = None) -> Pipeline:
    """Validate both stages, then queue them as one pipeline (nothing is queued if either is invalid)."""
    spec1 = validate(project, dataset=pretrain, policy=policy, steps=pretrain_steps, batch_size=batch_size,
                     lr=lr, device=device, seed=seed, save_freq=save_freq)
    spec2 = validate(project, dataset=posttrain, policy=policy, steps=posttrain_steps, batch_size=batch_size,
                     lr=posttrain_lr if posttrain_lr is not None else lr, device=device, seed=seed,
                     save_freq=save_freq)
    name = name or f"pre-train on {pretrain} → post-train on {posttrain}"
    conn = project.connect()
    try:
        with db.transaction(conn):
            pid = int(conn.execute("INSERT INTO job_pipelines(name, created_at) VALUES(?, ?)",
                                   (name, time.time())).lastrowid)
    finally:
        conn.close()
    j1 = submit(project, spec1, name=f"pre-train: {spec1.policy} on {pretrain}", backend=backend,
                pipeline_id=pid, stage=1)
    j2 = submit(project, spec2.with_(init_from=f"job:{j1.id}"), name=f"post-train: {spec2.policy} on {posttrain}",
                backend=backend, pipeline_id=pid, stage=2, depends_on=j1.id)
    return Pipeline(pid, name, (j1, j2))


def get_pipeline(project, pipeline_id: int) -> Pipeline:
    conn = project.connect()
    try:
        row = conn.execute("SELECT * FROM job_pipelines WHERE id = ?", (int(pipeline_id),)).fetchone()
    finally:
        conn.close()
    if row is None:
        raise JobError(f"pipeline {pipeline_id}", "no such pipeline")
    jobs = sorted((j for j in list_jobs(project) if j.pipeline_id == row["id"]), key=lambda j: j.stage or 0)
    return Pipeline(row["id"], row["name"], tuple(jobs))


def list_pipelines(project) -> list[Pipeline]:
    conn = project.connect()
    try:
        ids = [r["id"] for r in conn.execute("SELECT id FROM job_pipelines ORDER BY id DESC").fetchall()]
    finally:
        conn.close()
    return [get_pipeline(project, i) for i in ids]


__all__ = ["Pipeline", "submit_pretrain_posttrain", "get_pipeline", "list_pipelines", "get_job"]
