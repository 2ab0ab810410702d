"""The local executor: launches trainers in their own process group, watches them, and
advances the queue.

Jobs outlive the studio: a trainer runs in its own session (`start_new_session=True`), its
pid, process group and start time are recorded in studio.db, and it writes its own
`metrics.jsonl` and `status.json`. Any studio process can therefore reconcile a `running`
job: process alive (same pid *and* start time) → re-attached; process gone with a status
file → succeeded / failed / cancelled; process gone without one → `interrupted` (Resume).

A `Supervisor` thread (started by the app and by `studio train --wait`) calls `tick()`:
reconcile running jobs, register their checkpoints, start queued ones up to the
`jobs.concurrency` setting (default 1). Claiming a queued job and counting running ones
happen in one write transaction, so several supervisors never over-commit.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from studio import db
from studio.errors import JobError
from studio.fsutil import atomic_write_json
from studio.jobs import checkpoints as ckpts
from studio.jobs.model import (
    CANCELLED, FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, SUCCEEDED,
    Job, concurrency, get_job, insert_job, list_jobs, read_status, update_job,
)
from studio.jobs.spec import JobSpec, is_offline, lerobot_args

log = logging.getLogger("studio.jobs")

HOST = socket.gethostname()
# a claimed job whose trainer never got a pid within this time was lost mid-launch
LAUNCH_TIMEOUT_S = 120.0
DEPENDENCY_FAILED = "waits on a stage that did not succeed"


# -- submitting -----------------------------------------------------------------------

def submit(project, spec: JobSpec, *, name: str | None = None, backend: str = "local",
           pipeline_id: int | None = None, stage: int | None = None, depends_on: int | None = None) -> Job:
    """Queue a validated spec; returns the queued job."""
    if backend not in ("local", "ray"):
        raise JobError("backend", f"'{backend}' is not a backend (local, ray)")
    if backend == "ray":
        from studio.jobs.ray_backend import check_available

        check_available(project)
    name = name or f"{spec.policy} on {Path(spec.dataset).name}"
    conn = project.connect()
    try:
        with db.transaction(conn):
            _skip_used_folders(conn, project)
            job_id = insert_job(conn, name=name, spec=spec.to_dict(), backend=backend,
                                pipeline_id=pipeline_id, stage=stage, depends_on=depends_on)
    finally:
        conn.close()
    job = get_job(project, job_id)
    atomic_write_json(job.folder / "spec.json", {"name": name, "backend": backend, **spec.to_dict()})
    log.info("queued job %s (%s)", job_id, name)
    return job


def _skip_used_folders(conn, project) -> None:
    """The next job id is above every jobs/N/ folder: a restored or rebuilt index never hands
    out an id whose folder (spec, metrics, checkpoints) belongs to an older job."""
    from studio.health import job_folder_ids

    used = job_folder_ids(project)
    if not used:
        return
    top = used[-1]
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").fetchone()
    if row is None:
        conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('jobs', ?)", (top,))
    elif int(row[0]) < top:
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'", (top,))


# -- process identity -----------------------------------------------------------------

def proc_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (guards against pid reuse)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        return raw.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        pass
    try:
        import psutil

        return str(psutil.Process(pid).create_time())
    except Exception:  # noqa: BLE001 - no psutil, or no such process
        return None


def process_alive(pid: int | None, start: str | None) -> bool:
    if not pid:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir() and Path("/proc/self/stat").exists():
        try:
            raw = stat.read_text()
        except OSError:
            return False
        fields = raw.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):  # exited, not yet reaped
            return False
        return start is None or fields[19] == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or proc_start_time(pid) == start


# -- launching ------------------------------------------------------------------------

def _trainer_env(offline: bool) -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TQDM_MININTERVAL", "5")
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
        env["HF_DATASETS_OFFLINE"] = "1"
    return env


def prepare_launch(project, job: Job) -> dict[str, Any]:
    """Write the run folder's launch.json for the job's next start (resume when it has a checkpoint)."""
    spec = JobSpec.from_dict(job.spec)
    run_dir = job.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    job.status_path.unlink(missing_ok=True)
    offline = is_offline(project)
    last = job.last_checkpoint()
    if last is None and spec.resume_from:
        last = _adopt_external_checkpoint(job, Path(spec.resume_from))
    init_path = None
    if spec.init_from and spec.init_from.startswith("job:"):
        dep = get_job(project, int(spec.init_from.split(":", 1)[1]))
        final = ckpts.final_checkpoint(project, dep)
        if final is None:
            raise JobError(f"job {job.id}", f"stage 1 (job {dep.id}) left no checkpoint to start from")
        init_path = str(final.pretrained_dir)
    if last is not None:
        args = lerobot_args(spec, job.output_dir, offline=offline,
                            resume_config=last / "pretrained_model" / "train_config.json")
    else:
        if job.output_dir.exists():  # a start that died before its first checkpoint
            shutil.rmtree(job.output_dir)
        args = lerobot_args(spec, job.output_dir, offline=offline, init_path=init_path)
    launch = {
        "job_id": job.id, "attempt": job.attempt, "args": args, "total_steps": spec.steps,
        "batch_size": spec.batch_size, "policy": spec.policy, "dataset": spec.dataset,
        "selection": spec.selection, "dataset_fingerprint": spec.dataset_fingerprint,
        "init_from": init_path or spec.init_from, "resume": last is not None,
        "resume_step": int(last.name) if last is not None else 0, "offline": offline,
        "backend": job.backend,
        "prepare": spec.inputs if spec.train_root else None,  # the trainer converts the inputs first
    }
    if job.backend == "ray":
        launch["ray_address"] = project.get_setting("ray.address") or os.environ.get("RAY_ADDRESS") or "auto"
    atomic_write_json(run_dir / "launch.json", launch)
    return launch


def _adopt_external_checkpoint(job: Job, step_dir: Path) -> Path:
    """Copy an external run's checkpoint into the job's output so lerobot resumes from it
    (the external folder is only read)."""
    dst = job.output_dir / "checkpoints" / step_dir.name
    tmp = dst.parent / f".{dst.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(step_dir, tmp, symlinks=False)
    (tmp / "studio.json").write_text(json.dumps({"job_id": job.id, "step": int(step_dir.name),
                                                 "resumed_from": str(step_dir), "saved_at": time.time()}) + "\n")
    os.replace(tmp, dst)
    return dst


def _spawn(project, job: Job) -> subprocess.Popen:
    launch = prepare_launch(project, job)
    module = "studio.jobs.ray_backend" if job.backend == "ray" else "studio.jobs.train_entry"
    with open(job.log_path, "ab") as logf:
        logf.write(f"\n=== studio: {'resuming' if launch['resume'] else 'starting'} job {job.id} "
                   f"attempt {job.attempt} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
        logf.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(job.run_dir)],
            cwd=str(job.run_dir), stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            start_new_session=True, env=_trainer_env(launch["offline"]), close_fds=True,
        )
    return proc


# -- the supervisor -------------------------------------------------------------------

class Supervisor:
    """Advances the queue of one project. `tick()` is safe to call from any process, any time."""

    def __init__(self, project, interval: float = 1.0):
        self.project = project
        self.interval = float(interval)
        self.popens: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # background thread
    def start(self) -> "Supervisor":
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="studio-jobs-supervisor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not Path(self.project.db_path).exists():  # the project home was removed
                return
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive any one bad tick
                log.exception("supervisor tick failed")
            self._stop.wait(self.interval)

    def tick(self) -> list[Job]:
        """Reconcile running jobs, then start queued ones; returns the jobs whose state changed."""
        with self._lock:
            changed = reconcile(self.project, self.popens)
            changed += self._start_queued()
            return changed

    def _start_queued(self) -> list[Job]:
        started: list[Job] = []
        while True:
            job = claim_next(self.project)
            if job is None:
                return started
            try:
                proc = _spawn(self.project, job)
            except Exception as exc:  # noqa: BLE001 - a launch failure fails this job only
                msg = exc.sentence() if hasattr(exc, "sentence") else f"{type(exc).__name__}: {exc}"
                log.exception("job %s failed to launch", job.id)
                _finish(self.project, job.id, FAILED, f"could not start: {msg}")
                started.append(get_job(self.project, job.id))
                continue
            self.popens[job.id] = proc
            conn = self.project.connect()
            try:
                with db.transaction(conn):
                    update_job(conn, job.id, pid=proc.pid, pgid=proc.pid,
                               proc_start=proc_start_time(proc.pid), host=HOST)
            finally:
                conn.close()
            log.info("job %s started (pid %s)", job.id, proc.pid)
            started.append(get_job(self.project, job.id))


def claim_next(project) -> Job | None:
    """Atomically move the next startable queued job to `running` (respecting concurrency)."""
    conn = project.connect()
    try:
        # cheap read first: most ticks find nothing queued and must not take the write lock
        if conn.execute("SELECT 1 FROM jobs WHERE state = ? LIMIT 1", (QUEUED,)).fetchone() is None:
            return None
        limit = concurrency(project)
        with db.transaction(conn):
            n_local = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = ? AND backend = 'local'",
                                   (RUNNING,)).fetchone()[0]
            rows = conn.execute("SELECT id, backend, depends_on FROM jobs WHERE state = ? ORDER BY id",
                                (QUEUED,)).fetchall()
            for row in rows:
                if row["backend"] == "local" and n_local >= limit:
                    continue
                if row["depends_on"] is not None:
                    dep = conn.execute("SELECT state FROM jobs WHERE id = ?", (row["depends_on"],)).fetchone()
                    dep_state = dep["state"] if dep else FAILED
                    if dep_state in (FAILED, CANCELLED):
                        update_job(conn, row["id"], state=CANCELLED, finished_at=time.time(),
                                   error=f"{DEPENDENCY_FAILED} (job {row['depends_on']} {dep_state})")
                        continue
                    if dep_state != SUCCEEDED:
                        continue
                if update_job(conn, row["id"], where_state=[QUEUED], state=RUNNING, started_at=time.time(),
                              finished_at=None, pid=None, pgid=None, proc_start=None, host=HOST, error=None):
                    return get_job_conn(conn, row["id"], project.home)
            return None
    finally:
        conn.close()


def get_job_conn(conn, job_id: int, home: Path) -> Job:
    from studio.jobs.model import _row_to_job

    return _row_to_job(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone(), home)


def _finish(project, job_id: int, state: str, error: str | None, *, from_states: Iterable[str] = (RUNNING,)) -> bool:
    conn = project.connect()
    try:
        with db.transaction(conn):
            return update_job(conn, job_id, where_state=list(from_states), state=state,
                              finished_at=time.time(), error=error)
    finally:
        conn.close()


def reconcile(project, popens: dict[int, subprocess.Popen] | None = None) -> list[Job]:
    """Bring every `running` job's state in line with its process; register checkpoints."""
    popens = popens if popens is not None else {}
    changed: list[Job] = []
    running = list_jobs(project, states=[RUNNING])
    for jid in [j for j in popens if j not in {r.id for r in running}]:
        if popens[jid].poll() is not None:  # reap children of jobs finished elsewhere (e.g. cancelled)
            popens.pop(jid)
    for job in running:
        if job.host and job.host != HOST:
            continue  # another machine's job: only that machine can see its process
        if job.pid is None:
            if job.started_at and time.time() - job.started_at > LAUNCH_TIMEOUT_S:
                if _finish(project, job.id, INTERRUPTED, "the studio stopped while starting this job"):
                    changed.append(get_job(project, job.id))
            continue
        proc = popens.get(job.id)
        if proc is not None and proc.pid == job.pid:
            alive = proc.poll() is None
        else:
            alive = process_alive(job.pid, job.proc_start)
        ckpts.sync_job(project, job)
        if alive:
            continue
        popens.pop(job.id, None)
        status = read_status(job)
        if status and status.get("state") in (SUCCEEDED, FAILED, CANCELLED):
            state, error = status["state"], status.get("error")
        else:
            state = INTERRUPTED
            error = "the trainer stopped without reporting (killed or crashed); resume from the last checkpoint"
        if _finish(project, job.id, state, error):
            log.info("job %s → %s", job.id, state)
            changed.append(get_job(project, job.id))
    return changed


# -- user actions ---------------------------------------------------------------------

def cancel(project, job_id: int, *, grace_s: float = 10.0) -> Job:
    """Cancel a queued or running job: TERM to its process group, KILL after `grace_s`."""
    job = get_job(project, job_id)
    if job.state == QUEUED:
        _finish(project, job.id, CANCELLED, "cancelled by the user", from_states=[QUEUED])
        return get_job(project, job.id)
    if job.state != RUNNING:
        raise JobError(f"job {job.id}", f"is {job.state}; only queued or running jobs can be cancelled")
    _finish(project, job.id, CANCELLED, "cancelled by the user", from_states=[RUNNING])
    if job.pid and (job.host in (None, HOST)) and process_alive(job.pid, job.proc_start):
        _signal_group(job.pgid or job.pid, signal.SIGTERM)
        deadline = time.time() + grace_s
        while time.time() < deadline and process_alive(job.pid, job.proc_start):
            _reap(job.pid)
            time.sleep(0.1)
        if process_alive(job.pid, job.proc_start):
            _signal_group(job.pgid or job.pid, signal.SIGKILL)
        _reap(job.pid)
    return get_job(project, job.id)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def resume(project, job_id: int) -> Job:
    """Queue an interrupted / failed / cancelled job to continue from its last checkpoint."""
    job = get_job(project, job_id)
    if job.state not in (FAILED, CANCELLED, INTERRUPTED):
        raise JobError(f"job {job.id}", f"is {job.state}; only interrupted, failed or cancelled jobs resume")
    last = job.last_checkpoint()
    if last is None:
        raise JobError(f"job {job.id}", "has no checkpoint to resume from yet; use retry to start it again")
    _requeue(project, job, resumes=job.resumes + 1)
    return get_job(project, job.id)


def retry(project, job_id: int) -> Job:
    """Queue a finished job again from scratch, as a new attempt (old checkpoints are kept)."""
    job = get_job(project, job_id)
    if job.state not in FINISHED:
        raise JobError(f"job {job.id}", f"is {job.state}; only finished jobs can be retried")
    _requeue(project, job, attempt=job.attempt + 1)
    return get_job(project, job.id)


def _requeue(project, job: Job, **fields: Any) -> None:
    conn = project.connect()
    try:
        with db.transaction(conn):
            ok = update_job(conn, job.id, where_state=[job.state], state=QUEUED, error=None, pid=None, pgid=None,
                            proc_start=None, started_at=None, finished_at=None, **fields)
            if not ok:
                raise JobError(f"job {job.id}", "changed state meanwhile; try again")
            # a later pipeline stage cancelled because this one failed waits again
            conn.execute("UPDATE jobs SET state = ?, error = NULL, finished_at = NULL "
                         "WHERE depends_on = ? AND state = ? AND error LIKE ?",
                         (QUEUED, job.id, CANCELLED, DEPENDENCY_FAILED + "%"))
    finally:
        conn.close()


# -- waiting --------------------------------------------------------------------------

_supervisors: dict[str, Supervisor] = {}
_sup_lock = threading.Lock()


def ensure_supervisor(project, interval: float = 1.0) -> Supervisor:
    """The process-wide background supervisor of a project (started once)."""
    key = str(Path(project.home).resolve())
    with _sup_lock:
        sup = _supervisors.get(key)
        if sup is None:
            sup = _supervisors[key] = Supervisor(project, interval=interval)
        return sup.start()


def wait(project, job_ids: Iterable[int], *, supervisor: Supervisor | None = None, timeout: float | None = None,
         poll_s: float = 1.0, on_tick: Callable[[list[Job]], None] | None = None) -> list[Job]:
    """Drive the queue until every named job is finished; returns the jobs."""
    ids = [int(i) for i in job_ids]
    sup = supervisor or Supervisor(project)
    deadline = None if timeout is None else time.time() + timeout
    while True:
        sup.tick()
        jobs = [get_job(project, i) for i in ids]
        if on_tick is not None:
            on_tick(jobs)
        if all(j.state in FINISHED for j in jobs):
            return jobs
        if deadline is not None and time.time() > deadline:
            raise JobError("wait", f"jobs {ids} still not finished after {timeout:.0f} s")
        time.sleep(poll_s)


def job_summary(job: Job) -> dict[str, Any]:
    """A JSON-able view of a job (CLI `jobs show --json`, panel tables)."""
    from studio.jobs.model import progress

    p = progress(job)
    return {
        "id": job.id, "name": job.name, "state": job.state, "backend": job.backend, "policy": job.spec.get("policy"),
        "dataset": job.spec.get("dataset"), "selection": job.spec.get("selection"), "step": p.step,
        "total": p.total, "loss": p.loss, "eta_s": p.eta_s, "attempt": job.attempt, "resumes": job.resumes,
        "pipeline_id": job.pipeline_id, "stage": job.stage, "depends_on": job.depends_on, "error": job.error,
        "pid": job.pid, "folder": str(job.folder),
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
