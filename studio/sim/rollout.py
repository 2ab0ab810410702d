"""The rollout engine: run a policy for N episodes over fixed seeds in W worker processes.

Each rollout set is a LeRobot v3.0 dataset (with per-frame `next.reward` = progress and
`next.success`) + the sim sidecar + `summary.json`, written atomically:

    summary.json: n_episodes, success_rate, mean_progress, policy, env, seeds, workers,
                  wall_s, episodes: [{episode_index, seed, success, progress, steps,
                  time_to_success_s}]
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from studio.errors import StudioError
from studio.fsutil import atomic_write_json


@dataclass(frozen=True)
class Rollout:
    """One rollout set on disk (read from its summary.json)."""

    root: Path
    summary: dict

    @property
    def success_rate(self) -> float:
        return float(self.summary["success_rate"])

    @property
    def seeds(self) -> list[int]:
        return list(self.summary["seeds"])


def load_rollout(path: str | Path) -> Rollout:
    import json

    root = Path(path)
    f = root / "summary.json"
    try:
        return Rollout(root, json.loads(f.read_text()))
    except (OSError, ValueError) as exc:
        raise StudioError(str(f), f"is missing or unreadable ({exc.__class__.__name__})") from None


def default_out(rollouts_dir: Path, policy_label: str, env: str, seed: int, episodes: int) -> Path:
    if policy_label.startswith("scripted:"):
        tail = policy_label.replace(":", "-")
    else:  # <run>/checkpoints/<step>/pretrained_model -> <run>-<step>
        p = Path(policy_label)
        p = p.parent if p.name == "pretrained_model" else p
        tail = f"{p.parent.parent.name}-{p.name}"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-") or "policy"
    base = rollouts_dir / f"{env}-{slug}-s{seed}-n{episodes}"
    out, i = base, 1
    while out.exists():
        i += 1
        out = base.with_name(f"{base.name}-{i}")
    return out


def _reservation_alive(marker: Path) -> bool:
    """A `.<name>.reserved` marker holds its name while the process in it lives."""
    try:
        pid = int(marker.read_text().strip() or 0)
    except (OSError, ValueError):
        return True  # being written right now
    from studio.jobs.executor import process_alive

    return pid > 0 and process_alive(pid, None)


@contextmanager
def reserve_out(base: Path) -> Iterator[Path]:
    """The first of `base`, `base-2`, `base-3`, … that no finished rollout set, running writer
    or other reservation holds; held until the block ends (so two evaluations of the same
    checkpoint started together each get their own folder)."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    i = 1
    while True:
        out = base if i == 1 else base.with_name(f"{base.name}-{i}")
        i += 1
        if out.exists():
            continue
        marker = out.with_name(f".{out.name}.reserved")
        # The claim appears with its process id already in it (written aside, then hard-linked,
        # which fails if the name exists): a rival never reads a half-made, "dead" claim.
        pending = marker.with_name(f"{marker.name}.{os.getpid()}.{threading.get_ident()}")
        pending.write_text(str(os.getpid()))
        try:
            os.link(pending, marker)
        except FileExistsError:
            if _reservation_alive(marker):
                continue
            marker.unlink(missing_ok=True)  # left by a killed evaluation
            i -= 1
            continue
        finally:
            pending.unlink(missing_ok=True)
        if out.exists():  # finished between our check and the marker
            marker.unlink(missing_ok=True)
            continue
        try:
            yield out
        finally:
            marker.unlink(missing_ok=True)
        return


def run_rollouts(
    policy: str,
    *,
    env: str = "pick_cube",
    episodes: int = 10,
    workers: int = 1,
    seed: int = 0,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
    max_steps: int | None = None,
    cameras: bool = False,
) -> Path:
    """Roll `policy` out on seeds seed..seed+episodes-1; write the rollout set at `out`."""
    from studio.sim.episodes import EpisodeJob
    from studio.sim.policies import resolve_policy
    from studio.sim.registry import get_env

    if episodes < 1:
        raise StudioError("--episodes", "must be at least 1")
    if workers < 1:
        raise StudioError("--workers", "must be at least 1")
    out = Path(out)
    if out.exists():
        raise StudioError(str(out), "already exists; choose another --out")
    spec = get_env(env)
    ref = resolve_policy(policy)
    cameras = bool(cameras or ref.needs_cameras)
    ref.check_fits(spec.name, spec.features(cameras))
    steps = int(max_steps or spec.max_steps)
    seeds = list(range(int(seed), int(seed) + int(episodes)))
    jobs = [EpisodeJob(env=spec.name, actor=ref.spec, seed=s, max_steps=steps, cameras=cameras) for s in seeds]
    rows: list[dict] = []

    def on_episode(i: int, ep) -> None:
        rows.append({
            "episode_index": i,
            "seed": ep.seed,
            "success": ep.succeeded,
            "progress": round(ep.final_progress, 4),
            "steps": ep.steps,
            "time_to_success_s": ep.time_to_success_s(spec.fps),
        })

    t0 = time.perf_counter()
    if progress is not None:
        progress(0, len(jobs))
    try:
        _record(out, jobs, spec, ref, cameras, seeds, steps, workers, t0, rows, progress, on_episode)
    except OSError as exc:
        if out.exists() and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # lost the final rename
            raise StudioError(str(out), "was written by another evaluation while this one ran; "
                                        "these rollouts were not kept (run it again)") from None
        raise
    return out


def _record(out, jobs, spec, ref, cameras, seeds, steps, workers, t0, rows, progress, on_episode) -> None:
    from studio.sim.episodes import JobStream
    from studio.sim.recorder import record_episodes, staging_dir

    with JobStream(jobs, workers=workers) as stream, staging_dir(out) as tmp:
        record_episodes(
            tmp,
            stream,
            spec=spec,
            cameras=cameras,
            outcomes=True,
            repo_id=f"local/{out.name}",
            total=len(jobs),
            progress=progress,
            on_episode=on_episode,
            env_extra={"policy": ref.label, "seeds": seeds},
        )
        n = len(rows)
        summary = {
            "n_episodes": n,
            "success_rate": round(sum(r["success"] for r in rows) / n, 4),
            "mean_progress": round(sum(r["progress"] for r in rows) / n, 4),
            "policy": ref.label,
            "policy_kind": ref.kind,
            "env": spec.name,
            "env_version": spec.version,
            "seeds": seeds,
            "workers": workers,
            "max_steps": steps,
            "fps": spec.fps,
            "wall_s": round(time.perf_counter() - t0, 3),
            "episodes": rows,
        }
        atomic_write_json(tmp / "summary.json", summary)
