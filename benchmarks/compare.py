"""Benchmark: checkpoint comparison (studio.compare) against straightforward baselines.

    .venv/bin/python benchmarks/compare.py [--episodes 1000] [--frames 200]

Prints, for each piece, our time, the baseline's time and the ratio (baseline / ours):
- bootstrap interval: vectorised NumPy resampling vs a Python loop of 2000 resamples;
- action smoothness: one vectorised pass over all frames vs a per-episode pandas groupby;
- the whole comparison of two rollout sets (all built-in metrics, paired grid), absolute.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio import compare as cmp  # noqa: E402


def timed(fn, repeat: int = 3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bootstrap_loop(x, resamples=cmp.BOOTSTRAP_RESAMPLES, seed=0):
    rng = random.Random(seed)
    n = len(x)
    means = sorted(sum(x[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def write_set(root: Path, n_eps: int, frames: int, p: float, seed: int, dim: int = 7) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    success = rng.random(n_eps) < p
    episodes = [{"episode_index": i, "seed": i, "success": bool(s), "progress": 1.0 if s else float(rng.random()),
                 "steps": frames, "time_to_success_s": float(rng.uniform(3, 8)) if s else None}
                for i, s in enumerate(success)]
    root.mkdir(parents=True)
    (root / "summary.json").write_text(json.dumps({"n_episodes": n_eps, "policy": root.name, "env": "bench",
                                                   "episodes": episodes}))
    ep = np.repeat(np.arange(n_eps), frames)
    fr = np.tile(np.arange(frames), n_eps)
    act = np.cumsum(rng.normal(0, 0.01, size=(n_eps * frames, dim)), axis=0).astype(np.float32)
    (root / "data" / "chunk-000").mkdir(parents=True)
    arr = pa.FixedSizeListArray.from_arrays(pa.array(act.reshape(-1)), dim)
    pq.write_table(pa.table({"episode_index": ep, "frame_index": fr, "action": arr}),
                   root / "data" / "chunk-000" / "file-000.parquet")
    return root


def smoothness_groupby(root: Path) -> dict[int, float]:
    import pandas as pd

    df = pd.read_parquet(root / "data")
    out = {}
    for e, g in df.sort_values(["episode_index", "frame_index"]).groupby("episode_index"):
        a = np.stack(g["action"].to_numpy())
        out[int(e)] = float(np.linalg.norm(a[2:] - 2 * a[1:-1] + a[:-2], axis=1).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()

    x = np.random.default_rng(0).random(args.episodes)
    ours, _ = timed(lambda: cmp.bootstrap_mean(x))
    base, _ = timed(lambda: bootstrap_loop(x.tolist()), repeat=1)
    print(f"bootstrap interval, n={args.episodes}: ours {ours * 1e3:.1f} ms, python loop {base * 1e3:.1f} ms, "
          f"ratio {base / ours:.1f}x")

    with tempfile.TemporaryDirectory() as tmp:
        a = write_set(Path(tmp) / "A", args.episodes, args.frames, 0.55, 1)
        b = write_set(Path(tmp) / "B", args.episodes, args.frames, 0.65, 2)
        rs = cmp.load_rollout_set(a)
        ours, vec = timed(lambda: cmp._action_second_difference(rs))
        base, loop = timed(lambda: smoothness_groupby(a), repeat=1)
        assert np.allclose(vec, [loop[i] for i in range(args.episodes)], rtol=1e-4), "smoothness disagrees"
        frames = args.episodes * args.frames
        print(f"action smoothness, {args.episodes} episodes × {args.frames} frames ({frames:,} frames): "
              f"ours {ours * 1e3:.0f} ms, per-episode groupby {base * 1e3:.0f} ms, ratio {base / ours:.1f}x")
        total, comp = timed(lambda: cmp.compare_paths([a, b]), repeat=1)
        print(f"full comparison (4 built-in metrics, paired grid of {len(comp.grids[0])} seeds): "
              f"{total:.2f} s; verdict: {comp.headline()}")


if __name__ == "__main__":
    main()
