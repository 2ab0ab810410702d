"""The thin training entry: runs lerobot's own `train()` and emits exact structured progress.

    python -m studio.jobs.train_entry <run_dir>

`<run_dir>/launch.json` holds the lerobot-train arguments and what the studio wants
recorded. lerobot logs only to stderr (rounded, `step:2K`), so instead of scraping it this
entry hooks two names that lerobot's training loop looks up at call time:

- `MetricsTracker.step()`, called once after every optimizer update → one `step` record
  in `metrics.jsonl` (step, loss, loss_avg as the log prints it, lr, grad_norm, samples_per_s,
  eta_s);
- `save_checkpoint()`, wrapped so a checkpoint is written to a temporary folder and renamed
  into place only when complete (a KILL mid-save never leaves a half checkpoint), with a
  `studio.json` provenance file (job, step, loss at save, dataset) → a `checkpoint` record.

When training ends the entry itself writes `status.json` (succeeded / failed / cancelled);
a trainer killed with SIGKILL writes nothing, which is how the studio tells "interrupted".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class Cancelled(BaseException):
    """SIGTERM from the studio's cancel."""


class Emitter:
    """Appends JSON lines to metrics.jsonl; one line per event, flushed at once."""

    def __init__(self, path: Path, total: int, batch_size: int):
        self.fh = open(path, "a", encoding="utf-8")
        self.total = int(total)
        self.batch_size = int(batch_size)
        self.last_t: float | None = None
        self.step_s: float | None = None  # smoothed seconds per step
        self.last_loss: float | None = None
        self.last_step = 0

    def write(self, rec: dict[str, Any]) -> None:
        rec.setdefault("t", time.time())
        self.fh.write(json.dumps(rec) + "\n")
        self.fh.flush()

    def on_step(self, tracker) -> None:
        now = time.perf_counter()
        m = tracker.metrics
        step = int(tracker.steps)
        if self.last_t is None:
            dt = float(m["update_s"].val) + float(m["dataloading_s"].val)
        else:
            dt = now - self.last_t
        self.last_t = now
        dt = max(dt, 1e-6)
        self.step_s = dt if self.step_s is None else 0.9 * self.step_s + 0.1 * dt
        loss = float(m["loss"].val)
        self.last_loss, self.last_step = loss, step
        self.write({
            "kind": "step", "step": step, "total": self.total, "loss": loss,
            "loss_avg": float(m["loss"].avg),  # what lerobot's log line prints at this step
            "lr": float(m["lr"].val), "grad_norm": float(m["grad_norm"].val),
            "samples_per_s": self.batch_size / dt,
            "eta_s": max(0, self.total - step) * self.step_s,
        })

    def on_checkpoint(self, step: int, path: Path) -> None:
        self.write({"kind": "checkpoint", "step": int(step), "path": str(path), "loss": self.last_loss})


def install_hooks(lerobot_train, emitter: Emitter, launch: dict[str, Any]) -> None:
    base = lerobot_train.MetricsTracker

    class StudioMetricsTracker(base):  # type: ignore[misc, valid-type]
        def step(self) -> None:
            super().step()
            if "loss" in self.metrics:  # the training tracker (not an eval tracker)
                emitter.on_step(self)

    lerobot_train.MetricsTracker = StudioMetricsTracker
    original_save = lerobot_train.save_checkpoint

    def save_checkpoint(checkpoint_dir, step, *args, **kwargs):
        final = Path(checkpoint_dir)
        tmp = final.parent / f".{final.name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            original_save(tmp, step, *args, **kwargs)
            prov = {
                "job_id": launch.get("job_id"), "attempt": launch.get("attempt"), "step": int(step),
                "loss": emitter.last_loss, "policy": launch.get("policy"), "dataset": launch.get("dataset"),
                "selection": launch.get("selection"), "dataset_fingerprint": launch.get("dataset_fingerprint"),
                "init_from": launch.get("init_from"), "saved_at": time.time(),
            }
            (tmp / "studio.json").write_text(json.dumps(prov, indent=2) + "\n")
            if final.exists():  # a resumed run re-doing a step it had saved before
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        emitter.on_checkpoint(step, final)

    lerobot_train.save_checkpoint = save_checkpoint


def _write_status(run_dir: Path, status: dict[str, Any]) -> None:
    from studio.fsutil import atomic_write_json

    atomic_write_json(run_dir / "status.json", status)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_dir = Path(argv[0]).resolve()
    launch = json.loads((run_dir / "launch.json").read_text())
    emitter = Emitter(run_dir / "metrics.jsonl", launch["total_steps"], launch["batch_size"])

    def _on_term(signum, frame):  # noqa: ARG001
        raise Cancelled()

    signal.signal(signal.SIGTERM, _on_term)
    emitter.write({"kind": "start", "pid": os.getpid(), "resume": bool(launch.get("resume")),
                   "attempt": launch.get("attempt")})
    state, error, code = "failed", None, 1
    try:
        if launch.get("prepare"):
            from studio.jobs.inputs import materialize

            print(f"studio: preparing training inputs in {launch['prepare']['work_dir']}", file=sys.stderr)
            emitter.write({"kind": "prepare", "state": "started"})
            path = materialize(launch["prepare"])
            emitter.write({"kind": "prepare", "state": "done", "path": str(path)})
        from lerobot.scripts import lerobot_train
        from lerobot.utils.import_utils import register_third_party_plugins

        install_hooks(lerobot_train, emitter, launch)
        sys.argv = ["lerobot-train", *launch["args"]]
        register_third_party_plugins()
        lerobot_train.train()
        if emitter.last_step >= int(launch["total_steps"]):
            state, code = "succeeded", 0
        else:
            error = f"training stopped at step {emitter.last_step} of {launch['total_steps']}"
    except (Cancelled, KeyboardInterrupt):
        state, error, code = "cancelled", "cancelled by the user", 143
    except BaseException as exc:  # noqa: BLE001 - every failure must reach status.json
        traceback.print_exc()
        msg = str(exc).strip().splitlines()
        error = f"{type(exc).__name__}: {msg[0] if msg else ''}".strip().rstrip(":")
        if hasattr(exc, "sentence"):  # a StudioError (e.g. preparing the inputs) is already one sentence
            error = exc.sentence()
        if isinstance(exc, SystemExit) and not exc.code:
            error = f"training exited early at step {emitter.last_step}"
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _write_status(run_dir, {"state": state, "error": error, "step": emitter.last_step,
                                "loss": emitter.last_loss, "finished_at": time.time(), "pid": os.getpid()})
        emitter.write({"kind": "end", "state": state, "step": emitter.last_step})
        sys.stdout.flush()
        sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
