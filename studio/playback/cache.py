"""Recordings cached under the project (never inside a dataset), keyed by what they show:
(dataset fingerprint, episode, label) of every episode, the sim sidecar / summary files,
the video mode and the recording FORMAT. A changed dataset gets a new key; old files are
pruned oldest-first beyond a size budget."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from studio.fsutil import atomic_write_json
from studio.playback.recording import FORMAT, Recording, _labels, _open, as_sources, write_recording

MAX_CACHE_BYTES = 2 * 1024**3
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def cache_dir(project) -> Path:
    return Path(project.home) / "cache" / "playback"


def _stat(path: Path) -> list[Any]:
    try:
        st = path.stat()
        return [st.st_size, st.st_mtime_ns]
    except OSError:
        return []


def _fingerprint(ds) -> str:
    fp = getattr(ds, "fingerprint", None)
    if fp:
        return str(fp)
    root = Path(ds.root)  # no fingerprint: the metadata files' sizes and times stand in
    return json.dumps([_stat(p) for p in sorted((root / "meta").rglob("*")) if p.is_file()])


def cache_key(sources: Any, *, video_mode: str = "auto") -> str:
    sources = as_sources(sources)
    datasets = [_open(s.dataset) for s in sources]
    labels = _labels(sources, datasets)
    parts = []
    for s, d, lab in zip(sources, datasets, labels):
        root = Path(d.root)
        parts.append([_fingerprint(d), str(root.resolve()), int(s.episode), lab, s.label or "",
                      _stat(root / "sim" / "poses.parquet"), _stat(root / "summary.json")])
    blob = json.dumps([FORMAT, video_mode, parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def cached_recording(project, sources: Any, *, video_mode: str = "auto", refresh: bool = False) -> Recording:
    """The recording of these episodes, from the project cache or written now."""
    sources = as_sources(sources)
    datasets = [_open(s.dataset) for s in sources]
    sources = [type(s)(d, s.episode, s.label) for s, d in zip(sources, datasets)]  # open each dataset once
    key = cache_key(sources, video_mode=video_mode)
    folder = cache_dir(project)
    # A readable name: it is also the name of the downloaded file.
    slug = "_vs_".join(f"{Path(d.root).name}_ep{s.episode}" for s, d in zip(sources, datasets))
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", slug)[:80]
    rrd, meta = folder / f"{slug}-{key}.rrd", folder / f"{slug}-{key}.json"
    with _lock(key):
        if not refresh and rrd.is_file() and meta.is_file():
            try:
                rec = Recording.from_json(json.loads(meta.read_text()), cached=True)
                os.utime(rrd)  # recently used: pruned last
                return Recording(rrd, rec.episodes, rec.seconds, cached=True)
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged entry is rebuilt
        rec = write_recording(sources, rrd, video_mode=video_mode)
        atomic_write_json(meta, rec.to_json())
    prune(project)
    return rec


def prune(project, max_bytes: int = MAX_CACHE_BYTES) -> int:
    """Delete least recently used recordings beyond `max_bytes`. Returns files removed."""
    folder = cache_dir(project)
    if not folder.is_dir():
        return 0
    files = []
    for p in folder.glob("*.rrd"):
        try:
            st = p.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, p))
    total = sum(f[1] for f in files)
    removed = 0
    for _, size, p in sorted(files):
        if total <= max_bytes:
            break
        p.unlink(missing_ok=True)
        p.with_suffix(".json").unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed


def clear(project) -> int:
    folder = cache_dir(project)
    n = 0
    for p in folder.glob("*.rrd") if folder.is_dir() else []:
        p.unlink(missing_ok=True)
        p.with_suffix(".json").unlink(missing_ok=True)
        n += 1
    return n


def age_seconds(path: Path) -> float:
    return time.time() - path.stat().st_mtime
