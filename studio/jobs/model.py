"""The job model persisted in studio.db: states, the `Job` record and its run folder.

A job's files live in `<home>/jobs/<id>/`: `spec.json`, and one `run-<attempt>/` per
attempt (retry starts a new attempt; resume continues the same one) holding
`train.log`, `metrics.jsonl`, `status.json` (written by the trainer itself when it ends)
and `output/` (lerobot's output dir with `checkpoints/`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from studio import db
from studio.errors import JobError

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED = (
    "queued", "running", "succeeded", "failed", "cancelled", "interrupted",
)
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)
ACTIVE = (QUEUED, RUNNING)
FINISHED = (SUCCEEDED, FAILED, CANCELLED, INTERRUPTED)

db.register_schema(
    "jobs",
    """
    CREATE TABLE IF NOT EXISTS job_pipelines (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        backend TEXT NOT NULL DEFAULT 'local',
        spec TEXT NOT NULL,
        pipeline_id INTEGER,
        stage INTEGER,
        depends_on INTEGER,
        attempt INTEGER NOT NULL DEFAULT 1,
        resumes INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        pid INTEGER,
        pgid INTEGER,
        proc_start TEXT,
        host TEXT,
        error TEXT
    );
    CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
    """,
)


@dataclass(frozen=True)
class Job:
    """One training job as stored in studio.db (a snapshot; re-read to see changes)."""

    id: int
    name: str
    state: str
    backend: str
    spec: dict[str, Any]
    created_at: float
    attempt: int = 1
    resumes: int = 0
    pipeline_id: int | None = None
    stage: int | None = None
    depends_on: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    pid: int | None = None
    pgid: int | None = None
    proc_start: str | None = None
    host: str | None = None
    error: str | None = None
    home: Path = field(default=Path("."), compare=False)

    @property
    def folder(self) -> Path:
        return self.home / "jobs" / str(self.id)

    @property
    def run_dir(self) -> Path:
        return self.folder / f"run-{self.attempt}"

    @property
    def output_dir(self) -> Path:
        return self.run_dir / "output"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "train.log"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    @property
    def status_path(self) -> Path:
        return self.run_dir / "status.json"

    @property
    def total_steps(self) -> int:
        return int(self.spec.get("steps") or 0)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def checkpoint_dirs(self) -> list[Path]:
        """Complete lerobot checkpoints of the current attempt, oldest first."""
        root = self.output_dir / "checkpoints"
        if not root.is_dir():
            return []
        return sorted(
            (p for p in root.iterdir() if p.name.isdigit() and (p / "pretrained_model" / "config.json").exists()),
            key=lambda p: int(p.name),
        )

    def last_checkpoint(self) -> Path | None:
        dirs = self.checkpoint_dirs()
        return dirs[-1] if dirs else None

    def can_resume(self) -> bool:
        return self.state in (FAILED, CANCELLED, INTERRUPTED) and self.last_checkpoint() is not None

    def can_cancel(self) -> bool:
        return self.state in ACTIVE

    def can_retry(self) -> bool:
        return self.state in FINISHED


def _row_to_job(row: sqlite3.Row, home: Path) -> Job:
    d = dict(row)
    d["spec"] = json.loads(d["spec"])
    return Job(home=home, **d)


def get_job(project, job_id: int) -> Job:
    conn = project.connect()
    try:
        row = conn.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
    finally:
        conn.close()
    if row is None:
        raise JobError(f"job {job_id}", "no such job in this project")
    return _row_to_job(row, project.home)


def list_jobs(project, states: Iterable[str] | None = None, limit: int | None = None) -> list[Job]:
    """Jobs newest first (optionally only those in `states`)."""
    sql, args = "SELECT * FROM jobs", []
    states = list(states or [])
    if states:
        sql += " WHERE state IN (%s)" % ",".join("?" * len(states))
        args += states
    sql += " ORDER BY id DESC"
    if limit:
        sql += " LIMIT %d" % int(limit)
    conn = project.connect()
    try:
        rows = conn.execute(sql, args).fetchall()
    finally:
        conn.close()
    return [_row_to_job(r, project.home) for r in rows]


def insert_job(conn: sqlite3.Connection, *, name: str, spec: dict, backend: str = "local",
               pipeline_id: int | None = None, stage: int | None = None,
               depends_on: int | None = None) -> int:
    """Insert a queued job (caller holds a transaction)."""
    cur = conn.execute(
        "INSERT INTO jobs(name, state, backend, spec, pipeline_id, stage, depends_on, created_at) "
        "VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
        (name, QUEUED, backend, json.dumps(spec), pipeline_id, stage, depends_on, time.time()),
    )
    return int(cur.lastrowid)


def update_job(conn: sqlite3.Connection, job_id: int, *, where_state: Iterable[str] | None = None,
               **fields: Any) -> bool:
    """Set columns of a job; with `where_state`, only if it is currently in one of them."""
    if not fields:
        return False
    sets = ", ".join(f"{k} = ?" for k in fields)
    args: list[Any] = [json.dumps(v) if k == "spec" else v for k, v in fields.items()]
    sql = f"UPDATE jobs SET {sets} WHERE id = ?"
    args.append(int(job_id))
    if where_state:
        ws = list(where_state)
        sql += " AND state IN (%s)" % ",".join("?" * len(ws))
        args += ws
    return conn.execute(sql, args).rowcount > 0


def concurrency(project) -> int:
    """How many local jobs may run at once (setting `jobs.concurrency`, default 1)."""
    try:
        return max(1, int(project.get_setting("jobs.concurrency", "1") or 1))
    except ValueError:
        return 1


def set_concurrency(project, n: int) -> None:
    if int(n) < 1:
        raise JobError("jobs.concurrency", f"must be at least 1 (got {n})")
    project.set_setting("jobs.concurrency", str(int(n)))


# -- metrics stream ------------------------------------------------------------------

def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl (a half-written last line is skipped)."""
    if not path.exists():
        return []
    out = []
    with open(path, "r", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def step_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-step records, one per step (after a resume the re-done steps replace the old ones)."""
    by_step: dict[int, dict[str, Any]] = {}
    for r in records:
        if r.get("kind") == "step":
            by_step[int(r["step"])] = r
    return [by_step[s] for s in sorted(by_step)]


@dataclass(frozen=True)
class Progress:
    step: int
    total: int
    loss: float | None
    samples_per_s: float | None
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total) if self.total else 0.0


def progress(job: Job, records: list[dict[str, Any]] | None = None) -> Progress:
    records = read_metrics(job.metrics_path) if records is None else records
    last = next((r for r in reversed(records) if r.get("kind") == "step"), None)
    if last is None:
        return Progress(0, job.total_steps, None, None, None)
    eta = last.get("eta_s")
    if job.state != RUNNING:
        eta = None
    loss = last.get("loss_avg", last.get("loss"))  # the log's number at this step (studio.jobs.curves)
    return Progress(int(last["step"]), int(last.get("total") or job.total_steps), loss,
                    last.get("samples_per_s"), eta)


def read_status(job: Job) -> dict[str, Any] | None:
    """The exit status the trainer wrote (None if it did not get to write one)."""
    try:
        return json.loads(job.status_path.read_text())
    except (OSError, ValueError):
        return None


def tail(path: Path, lines: int = 40, max_bytes: int = 64_000) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - max_bytes))
        data = fh.read().decode("utf-8", errors="replace")
    # tqdm redraws with \r: keep the last state of each line
    rows = [r.split("\r")[-1] for r in data.splitlines()]
    return "\n".join(rows[-lines:])
