"""Benchmark: how fast the studio opens a dataset and answers a GROUP BY over every frame.

1. Whole-process time of `studio info ROOT` vs a process that imports lerobot and
   constructs `LeRobotDataset(repo_id, root=ROOT)` on the same local dataset
   (default 1,000 episodes × 1,000 frames, generated with studio.synthetic).
   Target: the studio ≥ 8× faster.
2. A GROUP BY over all frames through the SQL sandbox (catalog already built).
   Target: under 300 ms.

Usage: .venv/bin/python benchmarks/open_dataset.py [--episodes 1000] [--frames 1000] [--root DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LEROBOT_SNIPPET = (
    "from lerobot.datasets.lerobot_dataset import LeRobotDataset\n"
    "ds = LeRobotDataset('local/bench', root={root!r})\n"
    "print(ds.num_episodes, ds.num_frames)\n"
)
GROUP_BY = ('SELECT episode_index, count(*) AS n, avg("observation.state.gripper.pos") AS grip, '
            'max("action.shoulder_pan.pos") AS pan FROM frames GROUP BY episode_index ORDER BY episode_index')


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], env: dict, label: str = "") -> float:
    """Wall seconds of one whole process; its CPU seconds (user+sys) go to CPU[label]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    CPU.setdefault(label, []).append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--root", type=Path, default=None, help="Reuse/generate the dataset here (kept).")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from studio.synthetic import write_synthetic_dataset

    tmp = None
    root = args.root
    if root is None:
        tmp = Path(tempfile.mkdtemp(prefix="studio-bench-"))
        root = tmp / "bench"
    if not (root / "meta/info.json").exists():
        t0 = time.perf_counter()
        write_synthetic_dataset(root, episodes=args.episodes, frames=args.frames, seed=0)
        print(f"generated {args.episodes} episodes × {args.frames} frames in {time.perf_counter() - t0:.1f} s at {root}")

    work = Path(tempfile.mkdtemp(prefix="studio-bench-work-"))
    # fresh caches for both sides, so "first run" really is cold for both
    env = dict(os.environ, HF_HUB_OFFLINE="1", STUDIO_HOME=str(work / "home"),
               HF_DATASETS_CACHE=str(work / "hf-datasets"), STUDIO_CACHE_DIR=str(work / "studio-cache"))
    studio_cmd = [str(REPO / ".venv/bin/studio") if (REPO / ".venv/bin/studio").exists() else "studio", "info", str(root)]
    lerobot_cmd = [sys.executable, "-c", LEROBOT_SNIPPET.format(root=str(root))]
    try:
        # lerobot converts the parquet files into its Arrow cache on the first run; time it, then warm runs.
        # first runs: lerobot builds its Arrow cache, the studio scans every frame (cache outside the dataset)
        lerobot_first = timed(lerobot_cmd, env, "lerobot-first")
        studio_cold = timed(studio_cmd, env, "studio-cold")
        # warm runs, interleaved so that load on a shared machine hits both sides alike
        lerobot_runs, studio_runs = [], []
        for _ in range(args.repeats):
            lerobot_runs.append(timed(lerobot_cmd, env, "lerobot"))
            studio_runs += [timed(studio_cmd, env, "studio") for _ in range(2)]

        from studio.datasets import open_dataset
        from studio.plugins import PluginHost
        from studio.query import Catalog

        ds = open_dataset(root)
        t0 = time.perf_counter()
        cat = Catalog(dataset=ds).build(PluginHost(load_entry_points=False))
        build_s = time.perf_counter() - t0
        first = cat.sql(GROUP_BY, limit=None)  # over the parquet files, while the in-memory copy loads
        t0 = time.perf_counter()
        in_memory = cat.wait_materialized(120)
        load_s = time.perf_counter() - t0 + first.elapsed_s
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            res = cat.sql(GROUP_BY, limit=None)
            runs.append(time.perf_counter() - t0)
        assert res.total_rows == ds.total_episodes
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    studio_s = statistics.median(studio_runs)
    lerobot_s = statistics.median(lerobot_runs)
    group_s = statistics.median(runs)
    n_frames = args.episodes * args.frames
    print(f"dataset: {args.episodes} episodes × {args.frames} frames = {n_frames:,} frames (v3.0, no videos)")
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    print(f"studio info, first run (scans every frame): {studio_cold:.2f} s wall, {cpu['studio-cold']:.2f} s CPU")
    print(f"studio info, scan cached (median of {len(studio_runs)}): {studio_s:.2f} s wall, {cpu['studio']:.2f} s CPU  "
          f"runs={[round(x, 2) for x in studio_runs]}")
    print(f"lerobot LeRobotDataset process, first run (builds its Arrow cache): {lerobot_first:.2f} s wall, "
          f"{cpu['lerobot-first']:.2f} s CPU")
    print(f"lerobot LeRobotDataset process, warm (median of {len(lerobot_runs)}): {lerobot_s:.2f} s wall, "
          f"{cpu['lerobot']:.2f} s CPU")
    ratio = lerobot_s / studio_s
    print(f"ratio, warm vs warm: {ratio:.1f}× wall, {cpu['lerobot'] / cpu['studio']:.1f}× CPU  "
          f"(target ≥ 8×: {'PASS' if ratio >= 8 else 'FAIL'} on wall time)")
    print(f"ratio, first vs first: {lerobot_first / studio_cold:.1f}× wall, "
          f"{cpu['lerobot-first'] / cpu['studio-cold']:.1f}× CPU")
    print(f"catalog build: {build_s * 1000:.0f} ms; frames copied into memory in the background: "
          f"{'yes' if in_memory else 'no (too big: queries read parquet)'}, ready ≈{load_s * 1000:.0f} ms after build")
    print(f"GROUP BY over all frames: on parquet (first, during the copy) {first.elapsed_s * 1000:.0f} ms; "
          f"median of 5 {group_s * 1000:.0f} ms (target < 300 ms: {'PASS' if group_s < 0.3 else 'FAIL'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
