"""Atomic writes: a crash never leaves a half-written file where a good one was."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


@contextmanager
def atomic_directory(target: str | os.PathLike, *, create: bool = True) -> Iterator[Path]:
    """Yield a temp folder beside `target`; rename it to `target` only if the block completes.

    With `create=False` the yielded path does not exist yet (for writers such as lerobot's
    `LeRobotDataset.create` that insist on making the root themselves).
    An interrupted block (exception, KILL) leaves nothing at `target`; stale temp folders
    are named `.<target>.partial-*` and are safe to delete.
    """
    target = Path(target)
    if target.exists():
        raise FileExistsError(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_partials(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    if not create:
        tmp.rmdir()
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


STALE_UNKNOWN_S = 3600.0  # a partial folder without a writer's pid in its name: stale after an hour


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_partials(target: str | os.PathLike) -> list[Path]:
    """Remove `.<target>.partial-*` folders left by a killed writer (its pid is gone); return them.

    A partial of a live writer (another export of the same target right now) is left alone."""
    import time

    target = Path(target)
    removed = []
    for p in target.parent.glob(f".{target.name}.partial-*"):
        rest = p.name[len(f".{target.name}.partial-"):]
        pid = rest.split("-", 1)[0]
        if pid.isdigit() and "-" in rest:
            stale = not _alive(int(pid))
        else:
            try:
                stale = time.time() - p.stat().st_mtime > STALE_UNKNOWN_S
            except OSError:
                continue
        if stale and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
