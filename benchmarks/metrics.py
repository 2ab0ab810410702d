"""Benchmark: the curation metrics over a generated dataset — the studio against a fair
anchor and the floor.

    python benchmarks/metrics.py                       # 1 M and 10 M frames (1,000 frames per episode)
    python benchmarks/metrics.py --frames-total 1000000
    python benchmarks/metrics.py --episodes 2000       # one size, given in episodes

Sides, each in its own fresh subprocess (so every run is a first computation; the studio
side calls `load_frames` + `compute_metrics_frames` directly, never the on-disk cache):
- `studio`: every registered metric (the full set: robust signals and defect metrics);
- `studio-classic`: the ten metrics the studio had before the robust set (duration,
  path length and efficiency, jerk, SPARC, idle fraction, gripper toggles, action
  saturation, scene change, success), so "today's metrics" stay comparable over time;
- `anchor`: the same ten computed the usual fast way by hand — pyarrow reads whole
  columns, NumPy does the rest vectorised (segment reductions, batched FFTs, no Python
  loop over frames or episodes); its values are checked equal to the studio's;
- `floor`: only decoding the needed columns (episode/frame index, action, state,
  environment state) with pyarrow, left as Arrow tables — no metric can be faster.
Prints every run with the load average, best / median, peak memory and the
studio/anchor and studio/floor ratios. Targets: classic < 5 s, full set < 15 s, both
< 2 GB at 10 M frames.
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
    """This process's peak resident memory: VmHWM, which execve resets (ru_maxrss does not:
    a subprocess forked from a parent that just generated a 10 M-frame dataset would
    report the parent's peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class PeakRSS:
    """Peak resident memory of this (fresh, one-run) subprocess: its VmHWM at the end of
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
            "episodes": len(df), "metrics": list(used), "cpu_s": _cpu_since(cpu), "user_s": cpu_end.user - cpu.user,
            "sys_s": cpu_end.system - cpu.system}


def _cpu_since(t0) -> float:
    t1 = os.times()
    return (t1.user - t0.user) + (t1.system - t0.system)


CLASSIC = ("duration_s", "path_length", "path_efficiency", "jerk", "sparc", "idle_fraction", "gripper_toggles",
           "action_saturation", "scene_change", "success")


def run_classic(path: str) -> dict:
    from studio.curation.metrics import compute_metrics_frames, load_frames, registered_metrics
    from studio.datasets import open_dataset

    ds = open_dataset(path)
    metrics = [m for m in registered_metrics() if m.name in CLASSIC]
    before = _rss_mb()
    cpu = os.times()
    with PeakRSS() as mem:
        t = time.perf_counter()
        frames = load_frames(ds)
        t_read = time.perf_counter() - t
        df, used = compute_metrics_frames(frames, metrics)
        dt = time.perf_counter() - t
    out = Path(os.environ["BENCH_OUT"]) / "classic.parquet" if os.environ.get("BENCH_OUT") else None
    if out is not None:
        df.to_parquet(out)
    return {"seconds": dt, "read_s": t_read, "peak_mb": mem.peak, "before_mb": before, "episodes": len(df),
            "metrics": list(used), "cpu_s": _cpu_since(cpu)}


def _read_columns(ds):
    """pyarrow reads the needed columns whole → NumPy (the floor, and the anchor's input)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {}
    for f in ds.data_files():
        t = pq.read_table(f, columns=["episode_index", "frame_index", "action", "observation.state",
                                      "observation.environment_state"])
        for name in t.column_names:
            c = t.column(name).combine_chunks()
            if pa.types.is_fixed_size_list(c.type):
                v = c.flatten().to_numpy().reshape(len(c), -1)
            else:
                v = c.to_numpy(zero_copy_only=False)
            cols.setdefault(name, []).append(v)
    return {k: np.concatenate(v) for k, v in cols.items()}


def run_floor(path: str) -> dict:
    """Only decoding the needed columns (pyarrow, threaded, left as Arrow: no copy into
    NumPy, no index check) — no reader of these files can do less."""
    import pyarrow.parquet as pq

    from studio.datasets import open_dataset

    ds = open_dataset(path)  # not timed, as on the studio side
    before = _rss_mb()
    cpu = os.times()
    with PeakRSS() as mem:
        t = time.perf_counter()
        rows = 0
        tables = []
        for f in ds.data_files():
            tables.append(pq.read_table(f, columns=["episode_index", "frame_index", "action", "observation.state",
                                                    "observation.environment_state"], memory_map=True))
            rows += tables[-1].num_rows
        dt = time.perf_counter() - t
    return {"seconds": dt, "read_s": dt, "peak_mb": mem.peak, "before_mb": before, "episodes": int(ds.info.get(
        "total_episodes", 0)), "frames": rows, "cpu_s": _cpu_since(cpu)}


def _sample_rows(n: int, blocks: int = 8, rows: int = 25_000) -> np.ndarray:
    if n <= blocks * rows:
        return np.arange(n)
    firsts = np.linspace(0, n - rows, blocks).astype(np.int64)
    return (firsts[:, None] + np.arange(rows)[None, :]).reshape(-1)


def _keep_arm(x: np.ndarray, arm_dims: list[int]):
    """The documented dimension rule (docs/curation.md): scale by the 1–99 % range of a
    block sample; drop switches (≤ 3 values) and near-constant dimensions."""
    rows = _sample_rows(len(x))
    keep, scale = [], []
    for j in arm_dims:
        col = x[rows, j].astype(np.float64)
        lo, hi = np.percentile(col, [1, 99])
        r = hi - lo
        if r <= 1e-9:
            continue
        d1 = np.abs(np.diff(col))
        nz = d1[d1 > 1e-9 * max(1.0, abs(hi))]
        q = nz.min() if len(nz) else 0.0
        sd = 1.4826 * np.median(np.abs(np.diff(col, 2))) / np.sqrt(6)
        if len(np.unique(col[:200_000])) <= 3 or r < max(10 * q, 8 * sd):
            continue
        keep.append(j)
        scale.append(r)
    return keep, np.array(scale)


def run_anchor(path: str) -> dict:
    """The ten classic metrics, written the usual fast way: whole columns, vectorised NumPy."""
    import pandas as pd

    from studio.datasets import open_dataset

    ds = open_dataset(path)  # not timed, as on the studio side
    before = _rss_mb()
    cpu = os.times()
    with PeakRSS() as mem:
        t = time.perf_counter()
        cols = _read_columns(ds)
        t_read = time.perf_counter() - t
        fps = float(ds.fps)
        ep, fr = cols["episode_index"], cols["frame_index"]
        if not ((np.diff(ep) >= 0).all()):
            order = np.lexsort((fr, ep))
            cols = {k: v[order] for k, v in cols.items()}
            ep = cols["episode_index"]
        starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
        lengths = np.diff(np.r_[starts, len(ep)])
        n = len(ep)
        state, action, env = cols["observation.state"], cols["action"], cols["observation.environment_state"]
        pos = np.arange(n) - np.repeat(starts, lengths)
        keep, scale = _keep_arm(state, list(range(state.shape[1] - 1)))  # last = gripper
        z = state[:, keep] / scale.astype(np.float32)
        out = {"episode_index": ep[starts], "duration_s": lengths / fps}
        dz = np.diff(z, axis=0)
        speed = np.r_[0.0, np.sqrt((dz.astype(np.float64) ** 2).sum(axis=1))] * fps
        speed[starts] = 0.0
        pl = np.add.reduceat(speed, starts) / fps
        out["path_length"] = pl
        ends = starts + lengths - 1
        disp = np.linalg.norm(z[ends].astype(np.float64) - z[starts], axis=1)
        out["path_efficiency"] = np.where(pl > 1e-9, np.minimum(disp / np.maximum(pl, 1e-9), 1.0), 1.0)
        d3 = z[3:] - z[:-3] + 3 * (z[1:-2] - z[2:-1])
        jsq = np.r_[np.zeros(3), (d3.astype(np.float64) ** 2).sum(axis=1)] * fps ** 6
        jsq[pos < 3] = 0.0
        integral = np.add.reduceat(jsq, starts) / fps
        vpk = np.maximum.reduceat(speed, starts)
        ok = (integral > 0) & (vpk > 0) & (lengths >= 4)
        out["jerk"] = np.full(len(starts), np.nan)
        out["jerk"][ok] = np.log((lengths[ok] / fps) ** 3 / vpk[ok] ** 2 * integral[ok])
        # SPARC: episodes grouped by FFT size, one batched FFT per group
        sparc = np.zeros(len(starts))
        nffts = 2 ** (np.ceil(np.log2(np.maximum(lengths, 2))) + 2).astype(np.int64)
        fc = min(10.0, fps / 2)
        for nfft in np.unique(nffts):
            idx = np.flatnonzero(nffts == nfft)
            width = int(lengths[idx].max())
            buf = np.zeros((len(idx), width))
            rr = np.repeat(np.arange(len(idx)), lengths[idx])
            cc = np.arange(int(lengths[idx].sum())) - np.repeat(np.cumsum(lengths[idx]) - lengths[idx], lengths[idx])
            buf[rr, cc] = speed[np.repeat(starts[idx], lengths[idx]) + cc]
            nb = int(np.floor(fc * nfft / fps)) + 1
            spec = np.abs(np.fft.rfft(buf, n=int(nfft), axis=1)[:, :nb])
            peak = spec.max(axis=1, keepdims=True)
            mag = spec / np.where(peak > 0, peak, 1.0)
            last = np.maximum(nb - 1 - np.argmax((mag >= 0.05)[:, ::-1], axis=1), 1)
            df_ = fps / nfft
            steps = np.sqrt((df_ / (last * df_))[:, None] ** 2 + np.diff(mag, axis=1) ** 2)
            vals = -(steps * (np.arange(nb - 1)[None, :] < last[:, None])).sum(axis=1)
            vals[peak[:, 0] <= 0] = 0.0
            sparc[idx] = vals
        out["sparc"] = sparc
        w = max(1, int(round(0.5 * fps)))
        ws = np.zeros(n)
        ws[w:] = np.sqrt(((z[w:] - z[:-w]).astype(np.float64) ** 2).sum(axis=1)) * fps / w
        valid = pos >= w
        ws[~valid] = 0.0
        sample = ws[valid][:: max(1, int(valid.sum()) // 500_000)]
        thr = 0.05 * float(np.percentile(sample, 95))
        out["idle_fraction"] = (np.add.reduceat(((ws < thr) & valid).astype(np.float64), starts)
                                / np.maximum(np.add.reduceat(valid.astype(np.float64), starts), 1))
        g = action[:, -1]
        lo, hi = np.percentile(g[:: max(1, n // 200_000)], [1, 99])
        u = (g - np.float32(lo)) / np.float32(hi - lo)
        st = np.full(n, np.nan, dtype=np.float32)
        st[u > 0.6] = 1.0
        st[u < 0.4] = 0.0
        st[starts] = (u[starts] >= 0.5)
        fill = np.where(np.isnan(st), 0, np.arange(n))
        np.maximum.accumulate(fill, out=fill)
        st = st[fill]
        ch = np.r_[0.0, (st[1:] != st[:-1]).astype(np.float64)]
        ch[starts] = 0.0
        out["gripper_toggles"] = np.add.reduceat(ch, starts)
        arm = action[:, :-1]
        amin, amax = arm.min(axis=0), arm.max(axis=0)
        tol = 0.005 * (amax - amin)
        sat = ((arm <= amin + tol) | (arm >= amax - tol))[:, (amax - amin) > 1e-9].any(axis=1)
        out["action_saturation"] = np.add.reduceat(sat.astype(np.float64), starts) / lengths
        esample = env[:: max(1, n // 200_000)]
        elo, ehi = np.percentile(esample, [1, 99], axis=0)
        escale = np.where(ehi - elo > 1e-9, ehi - elo, 1.0)
        moved = np.linalg.norm((env[ends].astype(np.float64) - env[starts]) / escale, axis=1)
        out["scene_change"] = np.minimum(moved / np.median(moved), 1.0)
        df = pd.DataFrame(out)
        dt = time.perf_counter() - t
    if os.environ.get("BENCH_OUT"):
        df.to_parquet(Path(os.environ["BENCH_OUT"]) / "anchor.parquet")
    return {"seconds": dt, "read_s": t_read, "peak_mb": mem.peak, "before_mb": before, "episodes": len(df),
            "cpu_s": _cpu_since(cpu)}


def _check_equal(tmp: Path) -> str:
    import pandas as pd

    a = pd.read_parquet(tmp / "anchor.parquet").set_index("episode_index")
    s = pd.read_parquet(tmp / "classic.parquet").set_index("episode_index").loc[a.index]
    worst = []
    for c in a.columns:
        if c not in s:
            continue
        x, y = s[c].to_numpy(float), a[c].to_numpy(float)
        ok = np.isclose(x, y, rtol=2e-3, atol=2e-3) | (np.isnan(x) & np.isnan(y))
        worst.append((c, float(ok.mean())))
        if not ok.all():
            raise SystemExit(f"anchor and studio disagree on {c}: {int((~ok).sum())} episodes")
    return ", ".join(f"{c}" for c, _ in worst)


SIDES = {"studio": run_studio, "studio-classic": run_classic, "anchor": run_anchor, "floor": run_floor}


def bench_one(root: Path, repeat: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-out-"))
    try:
        runs: dict[str, list[dict]] = {}
        for _ in range(max(1, repeat)):
            for side in SIDES:  # interleaved, so background load hits every side alike
                load = os.getloadavg()[0]
                proc = subprocess.run([sys.executable, __file__, "--side", side, "--path", str(root)],
                                      capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, BENCH_OUT=str(tmp)))
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr[-2000:])
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                r["load"] = (load + os.getloadavg()[0]) / 2
                runs.setdefault(side, []).append(r)
                print(f"  run {side:>14}: {r['seconds']:6.2f} s (reading {r['read_s']:.2f} s)  cpu {r.get('cpu_s', 0):6.2f} s  "
                      f"peak {r['peak_mb']:5.0f} MB  load avg {r['load']:.1f}", flush=True)
        print(f"  values: anchor == studio (rtol/atol 2e-3) on {_check_equal(tmp)}")
        best = {side: min(rs, key=lambda r: r["seconds"]) for side, rs in runs.items()}
        for side, rs in runs.items():
            times = sorted(r["seconds"] for r in rs)
            print(f"  {side:>14}: best {times[0]:6.2f} s  median {float(np.median(times)):6.2f} s over {len(times)} run(s); "
                  f"highest peak RSS {max(r['peak_mb'] for r in rs):.0f} MB; {best[side]['episodes']} episodes")
        c, f, a, fl = (best[k]["seconds"] for k in ("studio-classic", "studio", "anchor", "floor"))
        cc, cf, ca, cfl = (best[k].get("cpu_s", float("nan")) for k in ("studio-classic", "studio", "anchor", "floor"))
        print(f"  CPU seconds (user+sys; the wall time an idle machine would need is about this over the "
              f"threads used): classic {cc:.2f}, full {cf:.2f}, anchor {ca:.2f}, floor {cfl:.2f}; "
              f"classic/anchor {cc / ca:.2f}, full/floor {cf / cfl:.1f}")
        print(f"  studio-classic/anchor = {c / a:.2f}  (anchor/studio = {a / c:.1f}x)   studio-classic/floor = {c / fl:.1f}")
        print(f"  studio(full)/floor = {f / fl:.1f}   full set {f:.2f} s, classic {c:.2f} s, floor {fl:.2f} s")
        pk = {k: max(r["peak_mb"] for r in runs[k]) for k in runs}
        print(f"  targets: classic < 5 s: {'yes' if c < 5 else 'NO'}; full < 15 s: {'yes' if f < 15 else 'NO'}; "
              f"< 2 GB: classic {'yes' if pk['studio-classic'] < 2048 else 'NO'}, full {'yes' if pk['studio'] < 2048 else 'NO'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, help="One size, in episodes of --frames frames.")
    ap.add_argument("--frames", type=int, default=1_000)
    ap.add_argument("--frames-total", type=int, action="append", help="Sizes in frames (default: 1 M and 10 M).")
    ap.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=1, help="Runs per side (best and median time, highest peak reported).")
    ap.add_argument("--data", type=Path, help="Keep (or reuse) the generated datasets in this folder.")
    args = ap.parse_args()
    if args.side:
        print(json.dumps(SIDES[args.side](args.path)))
        return

    from studio.synthetic import write_synthetic_dataset

    sizes = [args.episodes] if args.episodes else [t // args.frames for t in (args.frames_total or [1_000_000, 10_000_000])]
    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-metrics-"))
    try:
        for episodes in sizes:
            root = (args.data or tmp) / f"ds-{episodes}x{args.frames}"
            if (root / "meta" / "info.json").exists():
                print(f"reusing {root}")
            else:
                t = time.perf_counter()
                write_synthetic_dataset(root, episodes=episodes, frames=args.frames, fps=30, seed=0)
                print(f"generated {episodes} episodes x {args.frames} frames in {time.perf_counter() - t:.1f} s")
            print(f"== {episodes * args.frames:,} frames")
            bench_one(root, args.repeat)
            if args.data is None:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
