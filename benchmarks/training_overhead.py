"""Training overhead: steps/s of a studio job vs bare `lerobot-train` with the same config.

    .venv/bin/python benchmarks/training_overhead.py [--steps 1500] [--repeats 2] [--policy act]

Both runs get the exact same lerobot arguments (`studio.jobs.spec.lerobot_args`) on the same
synthetic dataset. The studio job goes through the real queue: supervisor → own process
group → `studio.jobs.train_entry` (per-step metrics.jsonl, atomic checkpoints).

Reported per run:
- end-to-end steps/s = steps / (process start → process end), what a user waits for;
- loop steps/s = steps / (first → last training step), from lerobot's own log timestamps
  (1 s resolution) for both runs, so the comparison uses the same clock;
- CPU steps/s = steps / CPU seconds (user+sys) of the trainer process, which a shared,
  loaded machine distorts far less than wall time.
Target: studio ≥ 0.95× bare. Runs alternate (bare, studio, bare, studio…) so machine
load hits both alike; the median is reported.

The pre-train → post-train recipe against training on all data is measured by
benchmarks/flywheel.py (it replaced this script's old `--recipe` mode, whose single-seed
numbers did not hold up; docs/benchmarks.md, "flywheel").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOG_TS = re.compile(r"INFO (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) .*?(Start offline training|End of training)")


def loop_seconds(log_text: str) -> float | None:
    """Seconds between lerobot's 'Start offline training' and 'End of training' log lines."""
    start = end = None
    for line in log_text.splitlines():
        line = line.split("\r")[-1]
        m = LOG_TS.search(line)
        if not m:
            continue
        t = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
        if m.group(2).startswith("Start"):
            start = t
        else:
            end = t
    return None if start is None or end is None else max(end - start, 1.0)


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_bare(spec, out: Path) -> tuple[float, float | None, float]:
    from studio.jobs.executor import _trainer_env
    from studio.jobs.spec import lerobot_args

    args = lerobot_args(spec, out, offline=True)
    exe = str(Path(sys.executable).with_name("lerobot-train"))
    c0, t0 = _child_cpu(), time.perf_counter()
    proc = subprocess.run([exe, *args], env=_trainer_env(True), capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _child_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"bare lerobot-train failed:\n{proc.stderr[-3000:]}")
    return wall, loop_seconds(proc.stderr), cpu


def run_studio(project, spec) -> tuple[float, float | None, float]:
    import json

    from studio import jobs

    job = jobs.submit(project, spec)
    sup = jobs.Supervisor(project)
    c0, t0 = _child_cpu(), time.time()
    sup.tick()
    (job,) = jobs.wait(project, [job.id], supervisor=sup, poll_s=0.2)  # polls → reaps the trainer
    cpu = _child_cpu() - c0
    if job.state != jobs.SUCCEEDED:
        raise SystemExit(f"studio job failed: {job.error}\n{jobs.tail(job.log_path)}")
    finished = json.loads(job.status_path.read_text())["finished_at"]
    return finished - t0, loop_seconds(job.log_path.read_text()), cpu


def hook_cost_s(tmp: Path, n: int = 5000) -> float:
    """Seconds per step that the studio's hook adds (one metrics.jsonl line, flushed)."""
    from lerobot.utils.logging_utils import AverageMeter, MetricsTracker

    from studio.jobs.train_entry import Emitter

    def tracker():
        meters = {k: AverageMeter(k, ":.3f") for k in ("loss", "grad_norm", "lr", "update_s", "dataloading_s")}
        for m in meters.values():
            m.update(0.5)
        return MetricsTracker(8, 10_000, 10, meters)

    plain, hooked, em = tracker(), tracker(), Emitter(tmp / "hook.jsonl", n, 8)
    t0 = time.perf_counter()
    for _ in range(n):
        plain.step()
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        hooked.step()
        em.on_step(hooked)
    return max(0.0, (time.perf_counter() - t0 - base) / n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--policy", default="act")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--frames", type=int, default=100)
    a = ap.parse_args()

    from studio import jobs
    from studio.project import open_project
    from studio.synthetic import write_synthetic_dataset

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-train-"))
    try:
        ds = write_synthetic_dataset(tmp / "reach", episodes=a.episodes, frames=a.frames, environment_state=True)
        project = open_project(tmp / "home")
        project.set_setting("hub.offline", "true")
        spec = jobs.validate(project, dataset=str(ds), policy=a.policy, steps=a.steps, batch_size=a.batch_size,
                             save_freq=max(1, a.steps // 3))
        runs: dict[str, list[tuple[float, float | None, float]]] = {"bare": [], "studio": []}
        for i in range(a.repeats):
            for kind in ("bare", "studio"):
                w, loop, cpu = run_bare(spec, tmp / f"bare-{i}") if kind == "bare" else run_studio(project, spec)
                runs[kind].append((a.steps / w, a.steps / loop if loop else None, a.steps / cpu))
                e, lp, c = runs[kind][-1]
                print(f"{kind:6s} run {i}: {e:6.2f} steps/s end-to-end, {lp or float('nan'):6.2f} loop, "
                      f"{c:6.2f} per CPU-second", flush=True)

        def med(kind: str, k: int) -> float:
            vals = [r[k] for r in runs[kind] if r[k]]
            return statistics.median(vals) if vals else float("nan")

        print(f"\n{a.policy}, {a.steps} steps, batch {a.batch_size}, {a.episodes}x{a.frames} frames, "
              f"{a.repeats} alternating runs each (median), load avg {os.getloadavg()[0]:.1f}")
        for k, label in ((0, "end-to-end"), (1, "loop only "), (2, "CPU time  ")):
            b, st = med("bare", k), med("studio", k)
            print(f"{label}: studio {st:.2f} vs bare {b:.2f} steps/s -> ratio {st / b:.3f}x (target >= 0.95)")
        hook = hook_cost_s(tmp)
        step_s = 1.0 / med("bare", 1)
        print(f"hook cost : {hook * 1e6:.0f} us per step = {hook / step_s:.2%} of a bare training step "
              f"({step_s * 1e3:.1f} ms) -> expected ratio {step_s / (step_s + hook):.4f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
