"""One simulated episode as columnar arrays, and running many of them in worker processes.

Frame t holds the observation before action t, the action, the body poses at that
observation and (as outcomes) the progress / success reached after the action.
"""

from __future__ import annotations

import atexit
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np


@dataclass
class EpisodeRecord:
    seed: int
    state: np.ndarray  # (T, S) float32
    env_state: np.ndarray  # (T, 3) float32
    action: np.ndarray  # (T, A) float32
    progress: np.ndarray  # (T,) float32, after each action
    success: np.ndarray  # (T,) bool, after each action
    poses: np.ndarray  # (T, B, 7) float32 px py pz qw qx qy qz
    body_names: list[str]
    images: dict[str, np.ndarray] | None = None  # camera -> (T, H, W, 3) uint8
    gave_up: bool = False
    meta: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return int(self.action.shape[0])

    @property
    def succeeded(self) -> bool:
        return bool(self.success.any())

    @property
    def final_progress(self) -> float:
        return float(self.progress.max()) if self.progress.size else 0.0

    def time_to_success_s(self, fps: int) -> float | None:
        hits = np.flatnonzero(self.success)
        return round(float(hits[0] + 1) / fps, 3) if hits.size else None


def simulate_episode(env, actor, seed: int, *, max_steps: int, cameras: bool = False) -> EpisodeRecord:
    """Run `actor` (reset(seed); act(env, obs) -> action | None to give up) in `env`."""
    obs = env.reset(seed)
    actor.reset(seed)
    states, envs, actions, progress, success, poses = [], [], [], [], [], []
    frames: dict[str, list] = {}
    gave_up = False
    for _ in range(max_steps):
        action = actor.act(env, obs)
        if action is None:
            gave_up = True
            if actions:
                break
            action = np.zeros(env_action_dim(env), dtype=np.float32)  # an episode needs one frame
            action[-1] = -1.0
        states.append(obs["agent_pos"])
        envs.append(obs["environment_state"])
        poses.append(env.body_poses())
        if cameras:
            for cam, img in env.render().items():
                frames.setdefault(cam, []).append(img)
        actions.append(np.asarray(action, dtype=np.float32).reshape(-1))
        obs, info = env.step(action)
        progress.append(info.progress)
        success.append(info.success)
        if info.done or gave_up:
            break
    return EpisodeRecord(
        seed=int(seed),
        state=np.stack(states).astype(np.float32),
        env_state=np.stack(envs).astype(np.float32),
        action=np.stack(actions).astype(np.float32),
        progress=np.asarray(progress, dtype=np.float32),
        success=np.asarray(success, dtype=bool),
        poses=np.stack(poses).astype(np.float32),
        body_names=list(env.body_names),
        images={k: np.stack(v) for k, v in frames.items()} if cameras else None,
        gave_up=gave_up,
        meta=dict(getattr(actor, "meta", {}) or {}),
    )


def env_action_dim(env) -> int:
    from studio.sim.pick_cube import ACTION_NAMES

    return len(getattr(env, "action_names", ACTION_NAMES))


# -- worker processes --------------------------------------------------------------------

@dataclass(frozen=True)
class EpisodeJob:
    env: str
    actor: str  # "scripted:<profile>" or a checkpoint directory
    seed: int
    max_steps: int
    cameras: bool = False
    extra: dict = field(default_factory=dict)


_cache: dict[tuple, Any] = {}  # a worker process's envs and actors, reused across its jobs


def _env_for(name: str, cameras: bool, cache: dict):
    key = ("env", name, cameras)
    if key not in cache:
        from studio.sim.registry import get_env

        if cache is _cache and not any(k[0] == "env" for k in cache):
            atexit.register(close_cached)
        cache[key] = get_env(name).make(cameras=cameras)
    return cache[key]


def close_cached(cache: dict | None = None) -> None:
    """Close cached envs while the interpreter is intact (their GL contexts else complain)."""
    cache = _cache if cache is None else cache
    for key in [k for k in cache if k[0] == "env"]:
        try:
            cache.pop(key).close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    cache.clear()


def _actor_for(spec: str, cache: dict):
    key = ("actor", spec)
    if key not in cache:
        from studio.sim.policies import make_actor

        cache[key] = make_actor(spec)
    return cache[key]


def run_job(job: EpisodeJob, cache: dict | None = None) -> EpisodeRecord:
    """Simulate one job; env and actor are built once per `cache` (default: this worker
    process's) and reused."""
    cache = _cache if cache is None else cache
    env = _env_for(job.env, job.cameras, cache)
    actor = _actor_for(job.actor, cache)
    rec = simulate_episode(env, actor, job.seed, max_steps=job.max_steps, cameras=job.cameras)
    rec.meta.update(job.extra)
    return rec


def _worker_init() -> None:
    from studio.sim import ensure_gl

    ensure_gl()
    # Each worker is one core's worth of work: keep BLAS / torch from oversubscribing.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


class JobStream:
    """Episode records in job order. workers=1 runs in this process; more use a
    spawn-started process pool with a bounded number of jobs in flight. The pool starts
    (and its workers import and build their envs) as soon as the stream is made, so the
    caller can do its own set-up meanwhile."""

    def __init__(self, jobs: Iterable[EpisodeJob], *, workers: int = 1, window: int | None = None):
        self.jobs = list(jobs)
        self.workers = max(1, min(int(workers), len(self.jobs) or 1))
        self._pool = None
        self._pending: deque = deque()
        self._next = 0
        if self.workers > 1:
            import multiprocessing as mp

            self.window = window or 2 * self.workers
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init
            )
            self._fill()

    def _fill(self) -> None:
        while self._next < len(self.jobs) and len(self._pending) < self.window:
            self._pending.append(self._pool.submit(run_job, self.jobs[self._next]))
            self._next += 1

    def __iter__(self) -> Iterator[EpisodeRecord]:
        if self._pool is None:
            # in this process: a private env per stream (callers may run streams in threads)
            cache: dict = {}
            try:
                for job in self.jobs:
                    yield run_job(job, cache)
            finally:
                close_cached(cache)
            return
        try:
            while self._pending:
                rec = self._pending.popleft().result()
                self._fill()
                yield rec
        finally:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            for fut in self._pending:
                fut.cancel()
            self._pending.clear()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "JobStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_jobs(jobs: Iterable[EpisodeJob], *, workers: int = 1, window: int | None = None) -> Iterator[EpisodeRecord]:
    """Yield episode records in job order (see JobStream)."""
    return iter(JobStream(jobs, workers=workers, window=window))


ProgressFn = Callable[[int, int], None]
