"""Benchmark: all curation metrics over a generated dataset, columnar (studio) vs a plain
pandas groupby-apply of the same metrics.

    python benchmarks/metrics.py                       # 10,000 episodes x 1,000 frames
    python benchmarks/metrics.py --episodes 2000       # reduced scale on a busy machine

Each side runs in its own subprocess, so every run is a first computation: no in-process
caches, and the studio side calls `load_frames` + `compute_metrics_frames` directly, never
the on-disk metrics cache. What is timed on the studio side: reading the data parquet
files (the columns the metrics need) into arrays, then every registered metric; opening
the dataset (meta/info.json, episodes) is reported but not timed. The dataset's files are
in the OS page cache after generation / the first run (warm file cache). Prints every run
with the load average, best / median, peak memory and the ratio.
Targets: studio < 5 s, < 2 GB, >= 3x faster than the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class PeakRSS:
    """Peak resident memory of this (fresh, one-run) subprocess: its ru_maxrss at the end of
    the block. It covers the whole process (imports and opening the dataset too, ~100 MB),
    so it is an upper bound on the measured work's own peak. (A thread sampling
    /proc/self/status every few ms would exclude those but slows the timed work: it takes
    the GIL and the memory-map lock that page faults need.)"""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.peak = _peak_mb()


def run_studio(path: str) -> dict:
    from studio.curation.metrics import (
        compute_metrics_frames,
        load_frames,
        registered_metrics,
    )
    from studio.datasets import open_dataset

    t = time.perf_counter()
    ds = open_dataset(path)
    metrics = registered_metrics()
    t_open = time.perf_counter() - t
    before = _rss_mb()
    cpu = os.times()
    with PeakRSS() as mem:
        t = time.perf_counter()
        frames = load_frames(ds)
        t_read = time.perf_counter() - t
        df, used = compute_metrics_frames(frames, metrics)
        dt = time.perf_counter() - t
    cpu_end = os.times()
    return {"seconds": dt, "read_s": t_read, "open_s": t_open, "peak_mb": mem.peak, "before_mb": before,
            "episodes": len(df), "metrics": list(used), "user_s": cpu_end.user - cpu.user,
            "sys_s": cpu_end.system - cpu.system}


def _baseline_episode(g, fps, scale_m, scale_c, grip, env_scale, p95, typical_env_box):
    """The same metrics for one episode, written the usual way (per-episode NumPy)."""
    m = np.stack(g["observation.state"].to_numpy())
    c = np.stack(g["action"].to_numpy())
    m_pos = np.delete(m, grip, axis=1) / scale_m
    n = len(m_pos)
    v = np.linalg.norm(np.diff(m_pos, axis=0), axis=1) * fps
    path = v.sum() / fps
    disp = np.linalg.norm(m_pos[-1] - m_pos[0])
    d3 = np.diff(m_pos, n=3, axis=0)
    jsq = (d3 ** 2).sum(axis=1) * fps ** 6
    T = n / fps
    ldlj = np.log(T ** 3 / max(v.max(), 1e-12) ** 2 * (jsq.sum() / fps)) if jsq.sum() > 0 else np.nan
    sp = np.r_[0.0, v]
    nfft = int(2 ** (np.ceil(np.log2(max(n, 2))) + 2))
    spec = np.abs(np.fft.rfft(sp, nfft))
    fc = min(10.0, fps / 2)
    nb = int(np.floor(fc * nfft / fps)) + 1
    mag = spec[:nb] / max(spec.max(), 1e-12)
    above = np.flatnonzero(mag >= 0.05)
    last = max(int(above[-1]) if len(above) else 1, 1)
    df = fps / nfft
    sparc = -np.sqrt((df / (last * df)) ** 2 + np.diff(mag[: last + 1]) ** 2).sum()
    w = max(1, int(round(0.5 * fps)))
    ws = np.linalg.norm(m_pos[w:] - m_pos[:-w], axis=1) * fps / w
    idle = float((ws < 0.05 * p95).mean()) if len(ws) else 0.0
    gcol = c[:, grip]
    lo, hi = np.percentile(gcol, [1, 99])
    state, toggles = None, 0
    for u in (gcol - lo) / max(hi - lo, 1e-9):
        s = 1 if u > 0.6 else 0 if u < 0.4 else state
        if state is not None and s is not None and s != state:
            toggles += 1
        state = s if s is not None else (1 if u >= 0.5 else 0) if state is None else state
    sat = 0.0
    env = np.stack(g["observation.environment_state"].to_numpy())
    moved = np.linalg.norm((env[-1] - env[0]) / env_scale)
    return {"duration_s": n / fps, "path_length": path, "path_efficiency": min(disp / max(path, 1e-9), 1.0),
            "jerk": ldlj, "sparc": sparc, "idle_fraction": idle, "gripper_toggles": toggles,
            "action_saturation": sat, "scene_moved": moved}


def run_baseline(path: str) -> dict:
    import pandas as pd

    from studio.datasets import open_dataset

    ds = open_dataset(path)
    before = _rss_mb()
    mem = PeakRSS().__enter__()
    t = time.perf_counter()
    df = pd.concat([pd.read_parquet(f) for f in ds.data_files()], ignore_index=True)
    df = df.sort_values(["episode_index", "frame_index"])
    state = np.stack(df["observation.state"].to_numpy())
    grip = state.shape[1] - 1
    sample = np.delete(state, grip, axis=1)
    lo, hi = np.percentile(sample, [1, 99], axis=0)
    scale_m = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    env = np.stack(df["observation.environment_state"].to_numpy())
    elo, ehi = np.percentile(env, [1, 99], axis=0)
    env_scale = np.where(ehi - elo > 1e-9, ehi - elo, 1.0)
    p95 = float(np.percentile(np.linalg.norm(np.diff(sample / scale_m, axis=0), axis=1) * ds.fps, 95))
    out = df.groupby("episode_index").apply(
        lambda g: pd.Series(_baseline_episode(g, ds.fps, scale_m, None, grip, env_scale, p95, None)))
    dt = time.perf_counter() - t
    mem.__exit__()
    return {"seconds": dt, "read_s": float("nan"), "peak_mb": mem.peak, "before_mb": before, "episodes": len(out)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--frames", type=int, default=1_000)
    ap.add_argument("--side", choices=["studio", "baseline"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--skip-baseline", action="store_true", help="Only time the studio side.")
    ap.add_argument("--repeat", type=int, default=1, help="Runs per side (best and median time, highest peak reported).")
    ap.add_argument("--data", type=Path, help="Keep (or reuse) the generated dataset in this folder.")
    args = ap.parse_args()
    if args.side:
        res = run_studio(args.path) if args.side == "studio" else run_baseline(args.path)
        print(json.dumps(res))
        return

    from studio.synthetic import write_synthetic_dataset

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-metrics-"))
    try:
        root = args.data or tmp / "ds"
        if (root / "meta" / "info.json").exists():
            print(f"reusing {root}")
        else:
            t = time.perf_counter()
            write_synthetic_dataset(root, episodes=args.episodes, frames=args.frames, fps=30, seed=0)
            print(f"generated {args.episodes} episodes x {args.frames} frames in {time.perf_counter() - t:.1f} s")
        runs: dict[str, list[dict]] = {}
        sides = ["studio"] if args.skip_baseline else ["studio", "baseline"]
        for _ in range(max(1, args.repeat)):
            for side in sides:  # interleaved, so background load hits both sides alike
                load = os.getloadavg()[0]
                proc = subprocess.run([sys.executable, __file__, "--side", side, "--path", str(root)],
                                      capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr[-2000:])
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                r["load"] = (load + os.getloadavg()[0]) / 2
                runs.setdefault(side, []).append(r)
                extra = (f"  cpu user {r['user_s']:.2f} s + sys {r['sys_s']:.2f} s  (open_dataset {r['open_s']:.2f} s, not timed)"
                         if side == "studio" else "")
                print(f"  run {side:>8}: {r['seconds']:6.2f} s (reading {r['read_s']:.2f} s)  peak {r['peak_mb']:5.0f} MB  "
                      f"load avg {r['load']:.1f}{extra}", flush=True)
        best = {}
        for side in sides:
            times = sorted(r["seconds"] for r in runs[side])
            b = min(runs[side], key=lambda r: r["seconds"])
            peak = max(r["peak_mb"] for r in runs[side])
            best[side] = b
            print(f"{side:>9}: best {times[0]:6.2f} s  median {float(np.median(times)):6.2f} s  worst {times[-1]:6.2f} s "
                  f"over {len(times)} run(s); best run reading {b['read_s']:.2f} s; highest peak RSS {peak:.0f} MB "
                  f"(process held {b['before_mb']:.0f} MB before); {b['episodes']} episodes")
        s = best["studio"]
        peak = max(r["peak_mb"] for r in runs["studio"])
        print(f"targets: studio < 5 s (best): {'yes' if s['seconds'] < 5 else 'NO'}; < 2 GB: {'yes' if peak < 2048 else 'NO'}")
        if "baseline" in best:
            ratio = best["baseline"]["seconds"] / s["seconds"]
            print(f"speed-up vs pandas groupby-apply (best vs best): {ratio:.1f}x ({'meets' if ratio >= 3 else 'misses'} the 3x target)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
