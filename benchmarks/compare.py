"""Benchmark: checkpoint comparison (studio.compare) against fair anchors and floors.

    .venv/bin/python benchmarks/compare.py [--episodes 1000] [--frames 200] [--repeat 5]

Every side runs the same number of times and is reported by the same statistic (median
wall time; best too). For each piece it prints studio / anchor and studio / floor:
- bootstrap 95% interval of a mean (2000 resamples): anchor = the textbook vectorised NumPy
  bootstrap (`rng.choice(x, (B, n)).mean(1)`, `np.percentile`); floor = drawing the B × n
  resample indices alone, which any bootstrap of that size must do;
- action smoothness (mean ‖a[t+1] − 2a[t] + a[t−1]‖ per episode, read from parquet): anchor =
  a per-episode pandas groupby (the straightforward code, not a vectorised one); floor =
  pyarrow reading the three columns it needs;
- the whole comparison of two rollout sets (all built-in metrics, paired grid): floor = the
  smoothness floor for both sets (reading the data every comparison must read).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from studio import compare as cmp  # noqa: E402


def timed(fn, repeat: int):
    """(median, best, last result) over `repeat` runs of fn(), after one untimed warm-up run."""
    runs, out = [], fn()
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), min(runs), out


def bootstrap_numpy(x: np.ndarray, resamples: int = cmp.BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """The textbook vectorised percentile bootstrap of the mean."""
    rng = np.random.default_rng(seed)
    means = rng.choice(x, size=(resamples, len(x)), replace=True).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def bootstrap_floor(x: np.ndarray, resamples: int = cmp.BOOTSTRAP_RESAMPLES, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))


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


def read_columns_floor(root: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).read(columns=["episode_index", "frame_index", "action"]).num_rows
               for f in sorted((root / "data").rglob("*.parquet")))


def report(label: str, studio: tuple, anchor: tuple | None, floor: tuple, anchor_name: str = "") -> None:
    parts = [f"{label}: studio {studio[0] * 1e3:.1f} ms (best {studio[1] * 1e3:.1f})"]
    if anchor is not None:
        parts.append(f"{anchor_name} {anchor[0] * 1e3:.1f} ms (best {anchor[1] * 1e3:.1f})")
    parts.append(f"floor {floor[0] * 1e3:.1f} ms (best {floor[1] * 1e3:.1f})")
    ratios = []
    if anchor is not None:
        ratios.append(f"studio/anchor {studio[0] / anchor[0]:.2f}")
    ratios.append(f"studio/floor {studio[0] / floor[0]:.2f}")
    print("; ".join(parts) + "  →  " + ", ".join(ratios) + "  (medians)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5, help="runs per side (the same for every side)")
    args = ap.parse_args()
    r = args.repeat
    print(f"load average (1/5/15 min) at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs; {r} runs per side, medians")

    x = np.random.default_rng(0).random(args.episodes)
    studio = timed(lambda: cmp.bootstrap_mean(x), r)
    anchor = timed(lambda: bootstrap_numpy(x), r)
    floor = timed(lambda: bootstrap_floor(x), r)
    est, (lo, hi) = studio[2], anchor[2]
    # the same interval up to resampling noise (different random draws): ends within 0.01 of each other
    assert abs(est.ci_low - lo) < 0.01 and abs(est.ci_high - hi) < 0.01, (est, lo, hi)
    report(f"bootstrap 95% interval, n={args.episodes}, {cmp.BOOTSTRAP_RESAMPLES} resamples", studio, anchor, floor,
           "numpy rng.choice bootstrap")

    with tempfile.TemporaryDirectory() as tmp:
        a = write_set(Path(tmp) / "A", args.episodes, args.frames, 0.55, 1)
        b = write_set(Path(tmp) / "B", args.episodes, args.frames, 0.65, 2)
        rs = cmp.load_rollout_set(a)
        studio = timed(lambda: cmp._action_second_difference(rs), r)
        anchor = timed(lambda: smoothness_groupby(a), r)
        floor = timed(lambda: read_columns_floor(a), r)
        assert np.allclose(studio[2], [anchor[2][i] for i in range(args.episodes)], rtol=1e-4), "smoothness disagrees"
        frames = args.episodes * args.frames
        report(f"action smoothness, {args.episodes} episodes × {args.frames} frames ({frames:,} frames)", studio,
               anchor, floor, "per-episode pandas groupby")
        studio = timed(lambda: cmp.compare_paths([a, b]), r)
        floor = timed(lambda: read_columns_floor(a) + read_columns_floor(b), r)
        report(f"full comparison (4 built-in metrics, paired grid of {len(studio[2].grids[0])} seeds)", studio, None,
               floor)
        print(f"verdict: {studio[2].headline()}")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
