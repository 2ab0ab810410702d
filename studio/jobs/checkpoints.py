"""The checkpoint registry: every complete checkpoint a job wrote, with its provenance.

Checkpoints stay where lerobot wrote them (`jobs/<id>/run-<n>/output/checkpoints/<step>/`);
the trainer adds `studio.json` (job, step, loss at save, dataset) and renames a checkpoint
into place only once complete, so the registry is rebuilt from disk at any time
(`sync_job`) and survives studio restarts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio import db
from studio.errors import JobError

db.register_schema(
    "checkpoints",
    """
    CREATE TABLE IF NOT EXISTS checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        step INTEGER NOT NULL,
        path TEXT NOT NULL UNIQUE,
        loss REAL,
        policy TEXT,
        dataset TEXT,
        selection TEXT,
        dataset_fingerprint TEXT,
        init_from TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints(job_id);
    """,
)


@dataclass(frozen=True)
class Checkpoint:
    id: int
    job_id: int
    attempt: int
    step: int
    path: str
    loss: float | None
    policy: str | None
    dataset: str | None
    selection: str | None
    dataset_fingerprint: str | None
    init_from: str | None
    created_at: float

    @property
    def pretrained_dir(self) -> Path:
        """The folder lerobot loads with `from_pretrained` / `--policy.path`."""
        return Path(self.path) / "pretrained_model"

    @property
    def exists(self) -> bool:
        return (self.pretrained_dir / "config.json").exists()

    @property
    def label(self) -> str:
        loss = f", loss {self.loss:.4f}" if self.loss is not None else ""
        return f"#{self.id} job {self.job_id} step {self.step}{loss}"


def _from_row(row) -> Checkpoint:
    return Checkpoint(**dict(row))


def sync_job(project, job) -> list[Checkpoint]:
    """Register every complete checkpoint found in the job's folder (idempotent)."""
    rows = []
    existing = list_checkpoints(project, job_id=job.id)
    known = {c.path for c in existing}
    for run in sorted(job.folder.glob("run-*")):
        root = run / "output" / "checkpoints"
        if not root.is_dir():
            continue
        try:
            attempt = int(run.name.split("-", 1)[1])
        except ValueError:
            continue
        for d in root.iterdir():
            if not d.name.isdigit() or not (d / "pretrained_model" / "config.json").exists():
                continue
            if str(d.resolve()) in known:
                continue
            prov: dict[str, Any] = {}
            try:
                prov = json.loads((d / "studio.json").read_text())
            except (OSError, ValueError):
                pass
            spec = job.spec
            rows.append((
                job.id, attempt, int(prov.get("step", int(d.name))), str(d.resolve()), prov.get("loss"),
                prov.get("policy") or spec.get("policy"), prov.get("dataset") or spec.get("dataset"),
                prov.get("selection") or spec.get("selection"),
                prov.get("dataset_fingerprint") or spec.get("dataset_fingerprint"),
                prov.get("init_from") or spec.get("init_from"), float(prov.get("saved_at") or time.time()),
            ))
    if rows:
        conn = project.connect()
        try:
            with db.transaction(conn):
                conn.executemany(
                    "INSERT INTO checkpoints(job_id, attempt, step, path, loss, policy, dataset, selection, "
                    "dataset_fingerprint, init_from, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(path) DO UPDATE SET loss = COALESCE(excluded.loss, checkpoints.loss)",
                    rows,
                )
        finally:
            conn.close()
        return list_checkpoints(project, job_id=job.id)
    return existing


def list_checkpoints(project, job_id: int | None = None) -> list[Checkpoint]:
    conn = project.connect()
    try:
        if job_id is None:
            rows = conn.execute("SELECT * FROM checkpoints ORDER BY job_id DESC, attempt, step").fetchall()
        else:
            rows = conn.execute("SELECT * FROM checkpoints WHERE job_id = ? ORDER BY attempt, step",
                                (int(job_id),)).fetchall()
    finally:
        conn.close()
    return [_from_row(r) for r in rows]


def get_checkpoint(project, checkpoint_id: int) -> Checkpoint:
    conn = project.connect()
    try:
        row = conn.execute("SELECT * FROM checkpoints WHERE id = ?", (int(checkpoint_id),)).fetchone()
    finally:
        conn.close()
    if row is None:
        raise JobError(f"checkpoint {checkpoint_id}", "no such checkpoint in this project")
    return _from_row(row)


def final_checkpoint(project, job) -> Checkpoint | None:
    """The checkpoint of the job's last step (its latest attempt), if it was saved."""
    cks = [c for c in sync_job(project, job) if c.attempt == job.attempt and c.exists]
    return max(cks, key=lambda c: c.step) if cks else None


def evaluate(project, checkpoint: Checkpoint | int, *, env: str = "pick_cube", episodes: int = 50,
             workers: int = 2, seed: int = 0, out: str | Path | None = None, **kwargs: Any):
    """Hand a checkpoint to the rollout engine (`studio.sim.rollout.run_rollouts`).

    Without `out`, each evaluation gets its own numbered folder under rollouts/
    (`job1-step4-pick_cube-s0-n50`, then `…-2`, …), even while another one is running."""
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else get_checkpoint(project, checkpoint)
    if not ck.exists:
        raise JobError(ck.path, "this checkpoint's files are gone")
    from studio.sim.rollout import reserve_out, run_rollouts

    def run(path: Path) -> Path:
        return run_rollouts(policy=str(ck.pretrained_dir), env=env, episodes=int(episodes), workers=int(workers),
                            seed=int(seed), out=Path(path), **kwargs)

    if out is not None:
        return run(Path(out))
    with reserve_out(project.rollouts_dir / f"job{ck.job_id}-step{ck.step}-{env}-s{seed}-n{episodes}") as path:
        return run(path)
