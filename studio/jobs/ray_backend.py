"""The Ray backend: the same job spec runs as a Ray task on a cluster.

    python -m studio.jobs.ray_backend <run_dir>

The executor launches this *driver* exactly like a local trainer (own process group,
pid/start time in studio.db, `status.json` at the end), so queueing, cancel, re-attach and
resume work the same. The driver connects to the cluster (project setting `ray.address`),
ships the dataset (and the checkpoint to start or resume from) through the object store,
and runs a streaming task that runs `studio.jobs.train_entry` on a worker. The task
streams back metrics lines, log text and every complete checkpoint as it is written;
the driver writes them into the job's run folder, so artifacts live in the project even
though training ran elsewhere.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from studio.errors import JobError


def check_available(project) -> str:
    """The cluster address to use; refuse in one sentence when Ray or an address is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise JobError("backend", "Ray is not installed; install the studio's 'ray' extra "
                                  "(pip install 'flywheel-studio[ray]')") from None
    address = project.get_setting("ray.address") or os.environ.get("RAY_ADDRESS")
    if not address:
        raise JobError("ray.address", "no Ray cluster is configured; set it with `studio jobs ray-address HOST:PORT`")
    return address


# -- packing --------------------------------------------------------------------------

def pack(folder: Path, arcname: str = ".") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        tar.add(str(folder), arcname=arcname)
    return buf.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(str(dest), filter="data")
            except tarfile.FilterError as exc:
                raise JobError("Ray backend", f"refusing to unpack an archive: {exc}") from None
        else:  # Python < 3.11.4 (Debian 12 ships 3.11.2) has no extraction filters: check by hand
            _check_members(tar, dest)
            tar.extractall(str(dest))


def _check_members(tar: tarfile.TarFile, dest: Path) -> None:
    """What the "data" filter refuses: paths or links leaving `dest`, devices, FIFOs."""
    root = dest.resolve()
    for m in tar.getmembers():
        target = (root / m.name).resolve()
        ok = target.is_relative_to(root) and not (m.isdev() or m.isfifo())
        if ok and m.issym():
            ok = (target.parent / m.linkname).resolve().is_relative_to(root)
        elif ok and m.islnk():
            ok = (root / m.linkname).resolve().is_relative_to(root)
        if not ok:
            raise JobError("Ray backend", f"refusing to unpack '{m.name}': it would land outside {dest}")


def _replace_arg(args: list[str], name: str, value: str) -> list[str]:
    prefix = f"--{name}="
    out = [a for a in args if not a.startswith(prefix)]
    out.append(prefix + value)
    return out


# -- the remote side --------------------------------------------------------------------

def _set_pdeathsig() -> None:
    """Linux: the trainer dies with the Ray worker that started it (no orphans on cancel)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort on non-Linux
        pass


# A watcher left on the worker's node for each job: it deletes the job's folder (stopping any
# trainer still in it) once the worker process that owns it is gone. Ray kills a cancelled
# task's worker when the driver disconnects, which can cut the task's own `finally` short;
# the watcher is detached (new session, double fork) so it outlives that worker, and it
# exits on its own as soon as the folder is gone (the normal end: the `finally` removed it).
_REAPER = """
import os, sys, time
if os.fork():
    os._exit(0)
owner, wd = int(sys.argv[1]), sys.argv[2]
from studio.jobs.executor import process_alive
while os.path.isdir(wd) and process_alive(owner, None):
    time.sleep(0.5)
if os.path.isdir(wd):
    from studio.jobs.ray_backend import remove_workdir
    remove_workdir(wd, 5.0)
"""


def _start_reaper(wd: Path) -> None:
    import subprocess

    import studio

    env = dict(os.environ)
    root = str(Path(studio.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    first = subprocess.Popen([sys.executable, "-c", _REAPER, str(os.getpid()), str(wd)], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    first.wait(timeout=30)  # the watcher itself is its child, now orphaned (no longer the worker's)


def remote_train(launch: dict[str, Any], dataset_tar: bytes, init_tar: bytes | None,
                 resume_tar: bytes | None, resume_step: int) -> Iterator[dict[str, Any]]:
    """Runs on a Ray worker: unpack inputs, run the trainer, stream progress and checkpoints."""
    import subprocess

    import studio

    wd = Path(tempfile.mkdtemp(prefix="studio-ray-job-"))
    proc = None
    try:
        _start_reaper(wd)
        unpack(dataset_tar, wd / "dataset")
        out = wd / "output"
        args = list(launch["args"])
        if init_tar is not None:
            unpack(init_tar, wd / "init")
            args = _replace_arg(args, "policy.path", str(wd / "init"))
        if resume_tar is not None:
            ck = out / "checkpoints" / f"{resume_step:06d}"
            unpack(resume_tar, ck)
            args = [a for a in args if not a.startswith("--config_path=")]
            args.insert(0, f"--config_path={ck / 'pretrained_model' / 'train_config.json'}")
        args = _replace_arg(args, "output_dir", str(out))
        args = _replace_arg(args, "dataset.root", str(wd / "dataset"))
        (wd / "launch.json").write_text(json.dumps({**launch, "args": args}))
        import ray

        yield {"workdir": str(wd), "node": ray.get_runtime_context().get_node_id()}

        env = dict(os.environ)
        root = str(Path(studio.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        if launch.get("offline"):
            env["HF_HUB_OFFLINE"] = env["HF_DATASETS_OFFLINE"] = "1"
        log = open(wd / "train.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "studio.jobs.train_entry", str(wd)], cwd=str(wd),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=_set_pdeathsig)
        offsets = {"metrics": 0, "log": 0}
        sent: set[str] = set()
        while True:
            done = proc.poll() is not None
            item: dict[str, Any] = {}
            for key, name in (("metrics", "metrics.jsonl"), ("log", "train.log")):
                path = wd / name
                if path.exists():
                    with open(path, "rb") as fh:
                        fh.seek(offsets[key])
                        chunk = fh.read()
                    if key == "metrics":  # only whole lines
                        chunk = chunk[: chunk.rfind(b"\n") + 1]
                    offsets[key] += len(chunk)
                    if chunk:
                        item[key] = chunk.decode("utf-8", errors="replace")
            ckroot = out / "checkpoints"
            if ckroot.is_dir():
                for d in sorted(ckroot.iterdir()):
                    if d.name.isdigit() and d.name not in sent and (d / "studio.json").exists():
                        sent.add(d.name)
                        yield {"checkpoint": d.name, "tar": pack(d)}
            if item:
                yield item
            if done:
                break
            time.sleep(1.0)
        try:
            status = json.loads((wd / "status.json").read_text())
        except (OSError, ValueError):
            status = {"state": "failed", "error": f"the trainer on the Ray worker exited with code {proc.returncode}"}
        yield {"status": status}
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                proc.kill()
        shutil.rmtree(wd, ignore_errors=True)


def remove_workdir(wd: str, grace_s: float = 5.0) -> bool:
    """Runs on the node of a cancelled job: stop any trainer still working in `wd` (a worker
    killed before its `finally` ran leaves one until PDEATHSIG reaches it), then delete `wd`.
    Only studio-made folders (the `studio-ray-job-` prefix in the temp dir) are touched."""
    path = Path(wd)
    if not path.name.startswith("studio-ray-job-") or path.parent != Path(tempfile.gettempdir()):
        return False
    deadline = time.time() + grace_s
    while True:
        alive = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if os.readlink(proc / "cwd") == str(path):
                    alive.append(int(proc.name))
            except OSError:
                continue
        if not alive or time.time() > deadline:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        time.sleep(0.2)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def _clean_after_cancel(ray, gen, remote_wd: str | None, node: str | None, budget_s: float = 7.0) -> None:
    """After `ray.cancel`: let the worker's own `finally` stop the trainer and delete its
    folder (the generator ends with TaskCancelledError), then make sure on that node — the
    driver's disconnect kills the job's workers, which can cut that `finally` short."""
    deadline = time.time() + budget_s
    try:
        ray.wait([gen.completed()], timeout=budget_s)
    except BaseException:  # noqa: BLE001 - TaskCancelledError and the like: the task has ended
        pass
    if not remote_wd or not node:
        return
    try:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        task = ray.remote(num_cpus=0, max_retries=0,
                          scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))(remove_workdir)
        ray.get(task.remote(remote_wd, 2.0), timeout=max(1.0, deadline + 2.0 - time.time()))
    except BaseException:  # noqa: BLE001 - best effort: the cancel itself has happened
        pass


# -- the driver (local process) ---------------------------------------------------------

class _Cancelled(BaseException):
    pass


def _localize_checkpoint(ck: Path, remote_wd: str | None, run_dir: Path, launch: dict[str, Any]) -> None:
    """Point a shipped checkpoint's train_config.json at the local output dir and dataset."""
    cfg_path = ck / "pretrained_model" / "train_config.json"
    try:
        cfg = json.loads(cfg_path.read_text())
    except (OSError, ValueError):
        return
    cfg["output_dir"] = str(run_dir / "output")
    if isinstance(cfg.get("dataset"), dict):
        cfg["dataset"]["root"] = launch.get("train_root") or launch["dataset"]
    if remote_wd and isinstance(cfg.get("policy"), dict) and str(cfg["policy"].get("pretrained_path", "")).startswith(remote_wd):
        cfg["policy"]["pretrained_path"] = launch.get("init_from")
    cfg_path.write_text(json.dumps(cfg, indent=4))


def drive(run_dir: Path) -> int:
    from studio.fsutil import atomic_write_json

    launch = json.loads((run_dir / "launch.json").read_text())
    metrics = open(run_dir / "metrics.jsonl", "a", encoding="utf-8")

    cancel_requested: list[bool] = []

    def _on_term(signum, frame):  # noqa: ARG001
        cancel_requested.append(True)
        raise _Cancelled()

    signal.signal(signal.SIGTERM, _on_term)
    status: dict[str, Any] = {"state": "failed", "error": None}
    gen = None
    remote_wd = node = None
    try:
        # Ray >=2.5x enables token auth on new clusters, but a connecting driver only sends the
        # token in token mode, which must be set before `import ray`
        if "RAY_AUTH_MODE" not in os.environ and (os.environ.get("RAY_AUTH_TOKEN")
                                                  or (Path.home() / ".ray" / "auth_token").exists()):
            os.environ["RAY_AUTH_MODE"] = "token"
        import ray

        address = launch.get("ray_address") or "auto"
        print(f"studio: connecting to the Ray cluster at {address}", flush=True)
        studio_pkg = str(Path(__file__).resolve().parents[1])
        ray.init(address=address, runtime_env={"py_modules": [studio_pkg]}, logging_level="WARNING",
                 log_to_driver=False)
        # ray.init installs its own SIGTERM handler (sys.exit), which would skip the cancel
        # below: the worker is then killed as its owner dies, before its `finally` runs
        signal.signal(signal.SIGTERM, _on_term)
        train_root = launch["dataset"]
        if launch.get("prepare"):  # convert here; the worker gets the ready work folder
            from studio.jobs.inputs import materialize

            train_root = str(materialize(launch["prepare"]))
            launch = {**launch, "prepare": None, "train_root": train_root}
        dataset_ref = ray.put(pack(Path(train_root)))
        init_tar = None
        init = launch.get("init_from")
        if init and not str(init).startswith("job:") and Path(init).is_dir() and not launch.get("resume"):
            init_tar = pack(Path(init))
        resume_tar, resume_step = None, int(launch.get("resume_step") or 0)
        if launch.get("resume"):
            resume_tar = pack(run_dir / "output" / "checkpoints" / f"{resume_step:06d}")
        task = ray.remote(num_cpus=1, num_returns="streaming", max_retries=0)(remote_train)
        gen = task.remote({k: v for k, v in launch.items()}, dataset_ref, init_tar, resume_tar, resume_step)
        for ref in gen:
            item = ray.get(ref)
            if "workdir" in item:
                remote_wd, node = item["workdir"], item.get("node")
                print(f"studio: running on a Ray worker in {remote_wd}", flush=True)
            if "log" in item:
                sys.stdout.write(item["log"])
                sys.stdout.flush()
            if "metrics" in item:
                text = item["metrics"]
                if remote_wd:
                    text = text.replace(remote_wd + "/output", str(run_dir / "output"))
                metrics.write(text)
                metrics.flush()
            if "checkpoint" in item:
                final = run_dir / "output" / "checkpoints" / item["checkpoint"]
                tmp = final.parent / f".{final.name}.partial"
                shutil.rmtree(tmp, ignore_errors=True)
                unpack(item["tar"], tmp)
                _localize_checkpoint(tmp, remote_wd, run_dir, launch)
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
            if "status" in item:
                status = dict(item["status"])
        code = 0 if status.get("state") == "succeeded" else 1
    except BaseException as exc:  # noqa: BLE001 - every failure must reach status.json
        if cancel_requested:
            # The handler's _Cancelled can arrive wrapped: raised inside Ray's Cython wait loop
            # it surfaces as a SystemError caused by it. Either way the user cancelled.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut the clean-up
            if gen is not None:
                try:
                    import ray

                    ray.cancel(gen)
                    _clean_after_cancel(ray, gen, remote_wd, node)
                except Exception:  # noqa: BLE001 - best effort: the job is cancelled either way
                    pass
            status, code = {"state": "cancelled", "error": "cancelled by the user"}, 143
        else:
            import traceback

            traceback.print_exc()
            first = (str(exc).strip().splitlines() or [""])[0]
            status, code = {"state": "failed", "error": f"Ray backend: {type(exc).__name__}: {first}"}, 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        status["finished_at"] = time.time()
        atomic_write_json(run_dir / "status.json", status)
        try:
            import ray

            ray.shutdown()
        except Exception:  # noqa: BLE001
            pass
    return code


if __name__ == "__main__":
    sys.exit(drive(Path(sys.argv[1]).resolve()))
