"""Rollout engine throughput: rollouts/s with 2 worker processes vs 1, same seeds.

Baseline: `run_rollouts(..., workers=1)` (simulation and recording in one process).
Candidate: `workers=2` (two spawn-started simulation workers; the parent records).
Both write a complete rollout set (LeRobot dataset + sidecar + summary.json); the
per-episode outcomes must be identical. Target: >= 1.8x.

    .venv/bin/python benchmarks/rollouts.py [--episodes 100] [--policy scripted:careful]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MUJOCO_GL", "osmesa")


def _cpu() -> tuple[float, float]:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def run(policy: str, episodes: int, workers: int, out: Path) -> tuple[float, dict, tuple[float, float]]:
    from studio.sim.rollout import run_rollouts

    c0 = _cpu()
    t0 = time.perf_counter()
    run_rollouts(policy, episodes=episodes, workers=workers, seed=0, out=out)
    took = time.perf_counter() - t0
    c1 = _cpu()
    return took, json.loads((out / "summary.json").read_text()), (c1[0] - c0[0], c1[1] - c0[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--policy", default="scripted:careful")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    # warm the import caches once so neither side pays first-import costs alone
    from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: F401

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-rollouts-"))
    try:
        best = {1: float("inf"), 2: float("inf")}
        summaries, cpu = {}, {}
        for r in range(args.repeats):
            for w in (1, 2):
                took, s, c = run(args.policy, args.episodes, w, tmp / f"w{w}-r{r}")
                if took < best[w]:
                    best[w], cpu[w] = took, c
                summaries[w] = s
        strip = lambda s: [(e["seed"], e["success"], e["steps"]) for e in s["episodes"]]  # noqa: E731
        same = strip(summaries[1]) == strip(summaries[2])
        steps = sum(e["steps"] for e in summaries[1]["episodes"])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"policy {args.policy}, {args.episodes} episodes ({steps} steps), seeds 0..{args.episodes - 1}, "
              f"cpus {os.cpu_count()}, load {load:.1f}")
        for w in (1, 2):
            print(f"  workers={w}: {best[w]:6.1f} s  {args.episodes / best[w]:5.2f} rollouts/s  "
                  f"{steps / best[w]:6.1f} steps/s  (cpu: parent {cpu[w][0]:.1f} s, workers {cpu[w][1]:.1f} s)")
        print(f"  speed-up 2 vs 1 workers: {best[1] / best[2]:.2f}x (target >= 1.8x); identical outcomes: {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
