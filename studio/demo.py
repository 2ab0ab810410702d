"""The demo world: pick-cube demonstrations from scripted operators of known skill.

`build_demo_world(project)` writes `<home>/datasets/pick_cube_demos` (LeRobot v3.0 + sim
sidecar) and the hidden ground truth `<home>/demo_labels.csv` (episode_index, operator,
skill, success, seed) — outside the dataset, so curation can be scored without leaking it.
Every frame records `next.reward` (task progress so far) and `next.success`, as real
teleoperation logs record the outcome: the success signal is explicit, the operator is not.

World v2 (frozen for the flywheel benchmark, docs/benchmarks.md): like real teleoperation,
most demonstrations succeed (~85–90 %) and operators differ in efficiency, smoothness,
hesitation, re-grasps and tremor. Operator mix (150 → 45 expert, 35 careful, 40 novice,
30 distracted) is chosen so that no operator dominates the frames by episode length;
shuffled with the seed so skill is not readable from episode order.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from studio.fsutil import atomic_write_text
from studio.project import Project

DEMO_NAME = "pick_cube_demos"
LABELS = "demo_labels.csv"
MIX = {"expert": 45, "careful": 35, "novice": 40, "distracted": 30}  # per 150 episodes
COMPLETE = "sim/env.json"
WORLD_VERSION = 2  # operators + mix + outcomes; bump when the world changes (benchmarks quote it)


def demo_path(project: Project) -> Path:
    return project.datasets_dir / DEMO_NAME


def labels_path(project: Project) -> Path:
    return project.home / LABELS


def is_built(project: Project) -> bool:
    root = demo_path(project)
    return (root / COMPLETE).is_file() and (root / "meta" / "info.json").is_file() and labels_path(project).is_file()


def _is_ours(root: Path) -> bool:
    import json

    try:
        return json.loads((root / COMPLETE).read_text()).get("source") == "demo"
    except (OSError, ValueError):
        return False


def operator_plan(episodes: int, seed: int = 0) -> list[str]:
    """The operator of each episode: MIX scaled to `episodes` (every operator at least once
    when episodes >= 4), shuffled deterministically by `seed`."""
    total = sum(MIX.values())
    names = list(MIX)
    counts = {k: int(np.floor(v * episodes / total)) for k, v in MIX.items()}
    if episodes >= len(names):
        for k in names:
            counts[k] = max(counts[k], 1)
    # hand out (or take back) the rounding remainder by largest fractional share
    order = sorted(names, key=lambda k: -(MIX[k] * episodes / total - np.floor(MIX[k] * episodes / total)))
    i = 0
    while sum(counts.values()) < episodes:
        counts[order[i % len(order)]] += 1
        i += 1
    while sum(counts.values()) > episodes:
        k = max(counts, key=lambda n: counts[n])
        counts[k] -= 1
    plan = [k for k in names for _ in range(counts[k])]
    rng = np.random.default_rng([int(seed), 0xDE30])
    rng.shuffle(plan)
    return plan


def build_demo_world(
    project: Project,
    *,
    episodes: int = 150,
    seed: int = 0,
    cameras: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Path:
    """Build the demo world (idempotent: a complete one is left as it is)."""
    from studio.errors import StudioError
    from studio.sim.episodes import EpisodeJob, JobStream
    from studio.sim.recorder import record_episodes, staging_dir
    from studio.sim.registry import get_env

    root = demo_path(project)
    if is_built(project):
        if progress is not None:
            progress(episodes, episodes)
        return root
    if episodes < 1:
        raise StudioError("--episodes", "must be at least 1")
    if root.exists():
        if not _is_ours(root):
            raise StudioError(str(root), "exists and is not a demo world; move it away to build the demo")
        shutil.rmtree(root)  # our own demo whose labels were lost: rebuild both together
    spec = get_env("pick_cube")
    plan = operator_plan(episodes, seed)
    # Seeds for the scene and the operator: distinct per episode, reproducible from `seed`.
    base = int(seed) * 100_003
    jobs = [
        EpisodeJob(env=spec.name, actor=f"scripted:{op}", seed=base + i, max_steps=spec.max_steps,
                   cameras=cameras, extra={"operator": op})
        for i, op in enumerate(plan)
    ]
    workers = workers or max(1, min(os.cpu_count() or 1, 8))
    rows: list[dict] = []

    def on_episode(i: int, ep) -> None:
        rows.append({"episode_index": i, "operator": ep.meta["operator"], "skill": ep.meta["skill"],
                     "success": int(ep.succeeded), "seed": ep.seed})

    if progress is not None:
        progress(0, len(jobs))
    with JobStream(jobs, workers=workers) as stream, staging_dir(root) as tmp:
        record_episodes(
            tmp,
            stream,
            spec=spec,
            cameras=cameras,
            outcomes=True,
            repo_id=f"local/{DEMO_NAME}",
            total=len(jobs),
            progress=progress,
            on_episode=on_episode,
            env_extra={"source": "demo", "seed": int(seed), "world": WORLD_VERSION},
        )
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["episode_index", "operator", "skill", "success", "seed"])
        w.writeheader()
        w.writerows(rows)
        # labels land before the rename, so a complete dataset always has its labels
        atomic_write_text(labels_path(project), buf.getvalue())
    return root


def read_labels(project: Project):
    """The demo world's ground truth as a pandas DataFrame."""
    import pandas as pd

    return pd.read_csv(labels_path(project))
