"""Jobs: a persistent queue in studio.db running real lerobot training, locally or on Ray.

    spec = validate(project, dataset="pick_cube_demos", policy="act", steps=2000)
    job = submit(project, spec)            # queued
    ensure_supervisor(project)             # starts it (the app and `studio train --wait` do this)
    cancel / resume / retry (project, job.id)

Modules: model (Job, states, metrics stream), spec (JobSpec, presets, validation, lerobot
args), executor (local process groups, supervisor), train_entry (the trainer process),
checkpoints (registry, evaluate), pipeline (pre-train → post-train), ray_backend.
"""

from studio.jobs.checkpoints import Checkpoint, evaluate, final_checkpoint, list_checkpoints, sync_job
from studio.jobs.executor import (
    Supervisor, cancel, ensure_supervisor, job_summary, reconcile, resume, retry, submit, wait,
)
from studio.jobs.model import (
    CANCELLED, FAILED, INTERRUPTED, QUEUED, RUNNING, STATES, SUCCEEDED,
    Job, Progress, concurrency, get_job, list_jobs, progress, read_metrics, set_concurrency, step_records, tail,
)
from studio.jobs.pipeline import Pipeline, get_pipeline, list_pipelines, submit_pretrain_posttrain
from studio.jobs.spec import POLICIES, JobSpec, validate

__all__ = [
    "CANCELLED", "FAILED", "INTERRUPTED", "QUEUED", "RUNNING", "STATES", "SUCCEEDED", "POLICIES",
    "Checkpoint", "Job", "JobSpec", "Pipeline", "Progress", "Supervisor",
    "cancel", "concurrency", "ensure_supervisor", "evaluate", "final_checkpoint", "get_job", "get_pipeline",
    "job_summary", "list_checkpoints", "list_jobs", "list_pipelines", "progress", "read_metrics", "reconcile",
    "resume", "retry", "set_concurrency", "step_records", "submit", "submit_pretrain_posttrain", "sync_job",
    "tail", "validate", "wait",
]
