"""Training on your own robot's data: ACT steps/s on 96 px camera frames vs state only, on this CPU.

    .venv/bin/python benchmarks/train_inputs.py [--steps 60] [--batch-size 8] [--episodes 20]

Builds a LeRobot v2.1 dataset the way real recordings come (nested joint names, no
stats.json, one camera as real H.264 video, 64×48 source frames), then runs two real
studio jobs through the queue on it, exactly as `studio train` does:

- state only:   `--cameras none` (the robot state is also fed as the environment state);
- 96 px frames: `--image-size 96` (frames re-encoded to 96×128, ResNet-18 backbone).

Reported per run: the one-off conversion into the work folder (s), the training loop's
steps/s from the per-step records in metrics.jsonl (first 5 steps excluded as warm-up)
and the samples/s that implies. Machine, date and load average are printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WARMUP = 5


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_mode(project, dataset: Path, label: str, steps: int, batch: int, **inputs) -> dict:
    from studio import jobs

    spec = jobs.validate(project, dataset=str(dataset), policy="act", steps=steps, batch_size=batch,
                         save_freq=steps, **inputs)
    t0 = time.time()
    job = jobs.submit(project, spec, name=label)
    (job,) = jobs.wait(project, [job.id], poll_s=0.5)
    wall = time.time() - t0
    if job.state != jobs.SUCCEEDED:
        raise SystemExit(f"{label}: job {job.state}: {job.error}")
    recs = jobs.read_metrics(job.metrics_path)
    prep = [r for r in recs if r.get("kind") == "prepare"]
    prep_s = prep[-1]["t"] - prep[0]["t"] if len(prep) == 2 else 0.0
    st = jobs.step_records(recs)
    ts = [r["t"] for r in st][WARMUP:]
    loop = (len(ts) - 1) / (ts[-1] - ts[0]) if len(ts) > 1 else float("nan")
    dts = [b - a for a, b in zip(ts, ts[1:])]
    return {"mode": label, "steps": steps, "batch": batch, "convert_s": round(prep_s, 2),
            "steps_per_s": round(loop, 3), "median_step_s": round(statistics.median(dts), 3) if dts else None,
            "samples_per_s": round(loop * batch, 1), "end_to_end_s": round(wall, 1),
            "inputs": spec.inputs.get("feature_map")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from studio.project import open_project
    from studio.synthetic import write_synthetic_dataset

    with tempfile.TemporaryDirectory(prefix="bench-train-inputs-") as tmp:
        tmp = Path(tmp)
        ds = write_synthetic_dataset(tmp / "robot_v21", version="v2.1", episodes=args.episodes, frames=args.frames,
                                     names_style="nested", environment_state=False,
                                     videos=["observation.images.front"], stats_json=False)
        project = open_project(tmp / "home")
        load0 = os.getloadavg()
        results = [
            run_mode(project, ds, "state only (--cameras none)", args.steps, args.batch_size, cameras="none"),
            run_mode(project, ds, "96 px frames (--image-size 96)", args.steps, args.batch_size, image_size=96),
        ]
        load1 = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {_cpu()} · {os.cpu_count()} cores · "
          f"load avg before {load0[0]:.1f}, after {load1[0]:.1f}")
    print(f"# dataset: v2.1, {args.episodes} episodes × {args.frames} frames, 6-joint state, one 64×48 camera")
    print("| mode | convert once (s) | steps/s | median step (s) | samples/s | end to end (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['mode']} | {r['convert_s']} | {r['steps_per_s']} | {r['median_step_s']} | "
              f"{r['samples_per_s']} | {r['end_to_end_s']} |")
    ratio = results[0]["steps_per_s"] / results[1]["steps_per_s"]
    print(f"state only is {ratio:.1f}× faster per step than 96 px frames")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
