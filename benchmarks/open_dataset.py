"""Benchmark: how fast the studio opens a dataset, against LeRobot and against the floor.

Three ways to open the same local v3.0 dataset (default 1,000 episodes × 1,000 frames,
generated with studio.synthetic), each measured two ways, in the same run:

- **cold process** (import included, what a user waits for on the command line): `studio
  info ROOT`; a process that imports lerobot and constructs `LeRobotDataset(repo_id,
  root=ROOT)`; the floor, a process that imports pyarrow and reads the columns the studio
  checks (frame order + every float feature) from every data file.
- **warm process** (imports done, untimed; what a long-running app or notebook pays): the
  studio's `open_dataset(ROOT).summary()` (what `studio info` prints); `LeRobotDataset(...)`;
  the floor, `pyarrow.parquet.read_table` of those columns.

Each side is timed first with fresh caches (LeRobot converts the parquet into its Arrow
cache, the studio scans and validates every frame and caches the scan outside the dataset)
and then cached. Every side gets the same number of runs and the same statistic (median
wall seconds; bests and CPU seconds are printed too). Ratios are studio / anchor and studio /
floor (below 1: the studio is faster than the anchor; the floor ratio is ≥ 1 by nature).
A GROUP BY over all frames through the SQL sandbox is timed as well (target < 300 ms).

Usage: .venv/bin/python benchmarks/open_dataset.py [--episodes 1000] [--frames 1000] [--root DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
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
FLOOR_SNIPPET = (
    "import pyarrow.parquet as pq\n"
    "n = sum(pq.ParquetFile(f).read(columns={columns!r}).num_rows for f in {files!r})\n"
    "print(n)\n"
)
# Warm processes: imports, and the lazy imports of a first open (one untimed open of a tiny
# dataset), are done before the clock starts; then `repeats` rounds of (first open with fresh
# caches, cached open). Prints RESULT {"first": [...], "cached": [...], "cpu_first": [...], ...}.
WARM_WORKER = r"""
import json, os, sys, time
from pathlib import Path
side, root, work, repeats, tiny = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
if side == "lerobot":
    import datasets.config
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    def cache(r): datasets.config.HF_DATASETS_CACHE = work / f"hf-warm-{r}"
    def open_(root=root): return LeRobotDataset("local/bench", root=root).num_frames
elif side == "studio":
    from studio.datasets import open_dataset
    def cache(r): os.environ["STUDIO_CACHE_DIR"] = str(work / f"studio-warm-{r}")
    def open_(root=root): return open_dataset(root).summary()["total_frames"]
else:
    import pyarrow.parquet as pq
    columns, files = json.loads(os.environ["FLOOR_COLUMNS"]), json.loads(os.environ["FLOOR_FILES"])
    def cache(r): pass
    def open_(root=root):
        fs = files if root != tiny else sorted(str(f) for f in Path(tiny).glob("data/*/*.parquet"))
        return sum(pq.ParquetFile(f).read(columns=columns).num_rows for f in fs)
cache("warmup")
open_(tiny)
out = {"first": [], "cached": [], "cpu_first": [], "cpu_cached": []}
for r in range(repeats):
    cache(r)
    for key in ("first", "cached"):
        c0, t0 = time.process_time(), time.perf_counter()
        n = open_()
        out[key].append(time.perf_counter() - t0)
        out["cpu_" + key].append(time.process_time() - c0)
out["frames"] = n
print("RESULT " + json.dumps(out))
"""
GROUP_BY = ('SELECT episode_index, count(*) AS n, avg("observation.state.gripper.pos") AS grip, '
            'max("action.shoulder_pan.pos") AS pan FROM frames GROUP BY episode_index ORDER BY episode_index')
FRAME_ORDER = ["episode_index", "frame_index", "index", "timestamp"]


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], env: dict, label: str = "") -> float:
    """Wall seconds of one whole process; its CPU seconds (user+sys) go to CPU[label]."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    CPU.setdefault(label, []).append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return elapsed


def warm(side: str, root: Path, work: Path, repeats: int, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", WARM_WORKER, side, str(root), str(work), str(repeats),
                           str(work / "tiny")],
                          env=env, capture_output=True, text=True, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"warm {side} worker failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def floor_columns(root: Path) -> list[str]:
    """The columns the studio's scan reads: the frame-order columns and every float feature."""
    features = json.loads((root / "meta" / "info.json").read_text())["features"]
    floats = [k for k, ft in features.items() if ft.get("dtype") in ("float32", "float64")]
    return [c for c in FRAME_ORDER if c in features] + [c for c in floats if c not in FRAME_ORDER]


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
        took = time.perf_counter() - t0
        print(f"generated {args.episodes} episodes × {args.frames} frames in {took:.1f} s "
              f"({args.episodes * args.frames / took:,.0f} frames/s; target ≥ 20,000 frames/s) at {root}")

    work = Path(tempfile.mkdtemp(prefix="studio-bench-work-"))
    load_before = os.getloadavg()
    base_env = dict(os.environ, HF_HUB_OFFLINE="1", STUDIO_HOME=str(work / "home"))
    # studio code first on the path, for the warm worker and for `python -m studio.cli`
    base_env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    studio_cmd = [sys.executable, "-m", "studio.cli", "info", str(root)]
    lerobot_cmd = [sys.executable, "-c", LEROBOT_SNIPPET.format(root=str(root))]
    files = [str(f) for f in sorted((root / "data").glob("*/*.parquet"))]
    columns = floor_columns(root)
    floor_cmd = [sys.executable, "-c", FLOOR_SNIPPET.format(columns=columns, files=files)]
    # site-packages (lerobot and its stack) hold compiled bytecode; the studio is an editable checkout,
    # and this sandbox sets PYTHONDONTWRITEBYTECODE=1, so without this its modules would be compiled
    # from source at every start, which an installed studio never does. Its bytecode goes to a
    # private folder (not the checkout), written by one untimed warm-up run.
    studio_env = {k: v for k, v in base_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    studio_env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    cold = {k: [] for k in ("studio-first", "studio", "lerobot-first", "lerobot", "floor")}
    try:
        tiny = work / "tiny"
        write_synthetic_dataset(tiny, episodes=2, frames=10, seed=0)
        timed(studio_cmd[:-1] + [str(tiny)], dict(studio_env, STUDIO_CACHE_DIR=str(work / "warmup")), "warmup")
        timed(floor_cmd, base_env, "warmup")  # the data files into the page cache for every side
        # Cold processes, in rounds that interleave the sides so that load on a shared machine hits
        # them alike. Each round starts both with fresh caches, then times cached runs.
        for r in range(args.repeats):
            env = dict(base_env, HF_DATASETS_CACHE=str(work / f"hf-datasets-{r}"),
                       STUDIO_CACHE_DIR=str(work / f"studio-cache-{r}"))
            st_env = dict(studio_env, STUDIO_CACHE_DIR=env["STUDIO_CACHE_DIR"])
            cold["lerobot-first"].append(timed(lerobot_cmd, env, "lerobot-first"))
            cold["studio-first"].append(timed(studio_cmd, st_env, "studio-first"))
            cold["floor"].append(timed(floor_cmd, env, "floor"))
            cold["lerobot"].append(timed(lerobot_cmd, env, "lerobot"))
            cold["studio"].append(timed(studio_cmd, st_env, "studio"))
        # Warm processes: one per side, imports untimed, the same number of rounds.
        floor_env = dict(base_env, FLOOR_COLUMNS=json.dumps(columns), FLOOR_FILES=json.dumps(files))
        hot = {side: warm(side, root, work, args.repeats, dict(studio_env if side == "studio" else floor_env))
               for side in ("lerobot", "studio", "floor")}
        load_after = os.getloadavg()

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

    med = statistics.median
    n_frames = args.episodes * args.frames
    assert all(h["frames"] == n_frames for h in hot.values()), {k: h["frames"] for k, h in hot.items()}
    print(f"dataset: {args.episodes} episodes × {args.frames} frames = {n_frames:,} frames (v3.0, no videos), "
          f"{len(files)} data file(s); floor columns: {', '.join(columns)}")
    print(f"load average (1/5/15 min): before {' '.join(f'{x:.1f}' for x in load_before)}, "
          f"after the timed runs {' '.join(f'{x:.1f}' for x in load_after)}; {os.cpu_count()} CPUs")

    def line(label, runs_s, cpu_s):
        print(f"  {label:<46} median {med(runs_s):7.3f} s, best {min(runs_s):7.3f} s wall; "
              f"median {med(cpu_s):6.3f} s CPU  runs={[round(x, 3) for x in runs_s]}")

    def ratios(label, st, anchor, floor, cpu):
        """Wall ratios of the medians; `cpu`: the three sides' median CPU seconds (steadier under load)."""
        print(f"  {label}: studio/anchor {med(st) / med(anchor):.3f} (anchor is {med(anchor) / med(st):.1f}× "
              f"the studio's time), studio/floor {med(st) / med(floor):.2f} wall (medians); "
              f"CPU: studio/anchor {cpu[0] / cpu[1]:.3f}, studio/floor {cpu[0] / cpu[2]:.2f}")

    print(f"cold process (import included), {args.repeats} runs each:")
    line("studio info, first (scans every frame)", cold["studio-first"], CPU["studio-first"])
    line("studio info, scan cached", cold["studio"], CPU["studio"])
    line("LeRobotDataset process, first (Arrow cache)", cold["lerobot-first"], CPU["lerobot-first"])
    line("LeRobotDataset process, Arrow cache reused", cold["lerobot"], CPU["lerobot"])
    line("floor: pyarrow process reading the columns", cold["floor"], CPU["floor"])
    ratios("cold, first open ", cold["studio-first"], cold["lerobot-first"], cold["floor"],
           [med(CPU[k]) for k in ("studio-first", "lerobot-first", "floor")])
    ratios("cold, cached open", cold["studio"], cold["lerobot"], cold["floor"],
           [med(CPU[k]) for k in ("studio", "lerobot", "floor")])
    print(f"warm process (imports excluded), {args.repeats} runs each:")
    line("studio open_dataset().summary(), first", hot["studio"]["first"], hot["studio"]["cpu_first"])
    line("studio open_dataset().summary(), scan cached", hot["studio"]["cached"], hot["studio"]["cpu_cached"])
    line("LeRobotDataset(), first (Arrow cache)", hot["lerobot"]["first"], hot["lerobot"]["cpu_first"])
    line("LeRobotDataset(), Arrow cache reused", hot["lerobot"]["cached"], hot["lerobot"]["cpu_cached"])
    line("floor: pyarrow reading the columns", hot["floor"]["first"], hot["floor"]["cpu_first"])
    wfloor = hot["floor"]["first"]
    fcpu = med(hot["floor"]["cpu_first"])
    ratios("warm, first open ", hot["studio"]["first"], hot["lerobot"]["first"], wfloor,
           [med(hot["studio"]["cpu_first"]), med(hot["lerobot"]["cpu_first"]), fcpu])
    ratios("warm, cached open", hot["studio"]["cached"], hot["lerobot"]["cached"], wfloor,
           [med(hot["studio"]["cpu_cached"]), med(hot["lerobot"]["cpu_cached"]), fcpu])

    group_s = med(runs)
    print(f"catalog build: {build_s * 1000:.0f} ms; frames copied into memory in the background: "
          f"{'yes' if in_memory else 'no (too big: queries read parquet)'}, ready ≈{load_s * 1000:.0f} ms after build")
    print(f"GROUP BY over all frames: on parquet (first, during the copy) {first.elapsed_s * 1000:.0f} ms; "
          f"median of 5 {group_s * 1000:.0f} ms (target < 300 ms: {'PASS' if group_s < 0.3 else 'FAIL'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
