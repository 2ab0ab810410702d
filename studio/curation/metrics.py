"""Per-episode quality metrics, computed columnar over all episodes at once.

The frames of a dataset are read once into sorted NumPy arrays (`EpisodeFrames`); every
metric is a vectorised function of those arrays returning one value per episode (segment
reductions with `np.add.reduceat`, batched FFTs; no Python loop over frames). Metrics
come from plugins through the `studio_episode_metrics` hook (the built-in ones live in
`plugins/core_metrics.py`) and are cached on disk under the project, keyed by the dataset
fingerprint and the feature choice — never inside the dataset.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from studio.errors import DatasetError, StudioError

log = logging.getLogger("studio.curation")

# Bump when a built-in metric's definition changes: old caches are then ignored.
METRICS_VERSION = 1
ACTION_KEYS = ("action", "actions", "action.joints", "actions.joints")
STATE_KEYS = ("observation.state", "state", "observation.states", "observation.joints", "observation.qpos")
EXTRA_KEYS = ("next.success", "next.reward", "next.done")
ENV_KEYS = ("observation.environment_state", "environment_state", "observation.env_state")
GRIPPER_WORDS = ("grip", "grasp", "claw", "finger")
NON_POSITION_WORDS = ("vel", "effort", "torque", "force", "current")


@dataclass(frozen=True)
class EpisodeMetric:
    """A per-episode metric: `fn(frames: EpisodeFrames) -> array (n_episodes,)` or None
    when the dataset lacks what it needs (the metric is then left out)."""

    name: str
    doc: str
    direction: str  # 'higher' or 'lower' is better
    fn: Callable[["EpisodeFrames"], Any]
    weight: float = 1.0  # default weight in quality_score (0 = shown, not scored)

    def __post_init__(self):
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"metric {self.name}: direction must be 'higher' or 'lower'")
        if not self.name.isidentifier():
            raise ValueError(f"metric {self.name!r}: name must be a SQL-friendly identifier")


@dataclass
class EpisodeFrames:
    """All frames of a dataset, sorted by (episode, frame), as arrays.

    `command` is the commanded motion (default `action`), `motion` the measured motion
    (default `observation.state`); either falls back to the other when missing.
    """

    episode_index: np.ndarray  # (n_episodes,) sorted episode ids
    starts: np.ndarray  # (n_episodes,) first row of each episode
    lengths: np.ndarray  # (n_episodes,) frames per episode
    fps: float
    command: np.ndarray | None  # (n_frames, d) float32
    motion: np.ndarray | None  # (n_frames, d) float32
    command_key: str | None = None
    motion_key: str | None = None
    command_names: list[str] = field(default_factory=list)
    motion_names: list[str] = field(default_factory=list)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    environment: np.ndarray | None = None  # (n_frames, k) object/scene state when recorded
    bad_episodes: tuple[int, ...] = ()  # episodes with NaN/inf values: their metrics are NaN
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_frames(self) -> int:
        return int(self.lengths.sum())

    @property
    def n_episodes(self) -> int:
        return len(self.lengths)

    # -- segment helpers (vectorised over all episodes) --------------------------------
    def position_in_episode(self) -> np.ndarray:
        if "pos" not in self._cache:
            n = self.n_frames
            self._cache["pos"] = np.arange(n, dtype=np.int64) - np.repeat(self.starts, self.lengths)
        return self._cache["pos"]

    def segment_sum(self, values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(np.asarray(values, dtype=np.float64), self.starts, axis=0)

    def segment_mean(self, values: np.ndarray) -> np.ndarray:
        return self.segment_sum(values) / self.lengths

    def segment_max(self, values: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(values, self.starts, axis=0)

    def gripper_dim(self, which: str) -> int | None:
        """The gripper dimension of `command`/`motion`: named '*grip*', else a two-state
        last dimension; None when there is none."""
        key = f"grip:{which}"
        if key not in self._cache:
            x = getattr(self, which)
            names = [n.lower() for n in (self.command_names if which == "command" else self.motion_names)]
            dim = next((i for i, n in enumerate(names) if any(w in n for w in GRIPPER_WORDS)), None)
            if dim is None and x is not None and x.shape[1] >= 2 and not names:
                g = x[:: max(1, len(x) // 200_000), -1]
                lo, hi = np.percentile(g, [1, 99])
                if hi - lo > 1e-9:
                    near = (np.abs(g - lo) < 0.1 * (hi - lo)) | (np.abs(g - hi) < 0.1 * (hi - lo))
                    dim = x.shape[1] - 1 if near.mean() > 0.8 else None
            self._cache[key] = dim
        return self._cache[key]

    def non_position_dims(self, which: str) -> list[int]:
        """Dimensions named like velocities/efforts (not positions), left out of motion metrics."""
        names = self.command_names if which == "command" else self.motion_names
        return [i for i, n in enumerate(names) if any(t in n.lower() for t in NON_POSITION_WORDS)]

    def standardized(self, which: str) -> np.ndarray | None:
        """`command` or `motion` without its gripper dimension, scaled per dimension by its
        dataset-wide 1–99 % range (float32), so joints in any unit weigh alike and a gripper
        snapping shut does not read as arm motion."""
        key = f"z:{which}"
        if key not in self._cache:
            x = getattr(self, which)
            if x is None:
                self._cache[key] = None
            else:
                drop = set(self.non_position_dims(which))
                g = self.gripper_dim(which)
                if g is not None:
                    drop.add(g)
                keep = [j for j in range(x.shape[1]) if j not in drop] if len(drop) < x.shape[1] else list(range(x.shape[1]))
                sample = x[:: max(1, len(x) // 200_000)][:, keep]
                lo, hi = np.percentile(sample, [1, 99], axis=0)
                scale = np.where(hi - lo > 1e-9, hi - lo, 1.0).astype(np.float32)
                # column-major: the metrics walk one dimension at a time
                z = np.empty((len(x), len(keep)), dtype=np.float32, order="F")
                for i, j in enumerate(keep):
                    np.divide(x[:, j], scale[i], out=z[:, i])
                self._cache[key] = z
        return self._cache[key]

    def speed(self, which: str = "motion") -> np.ndarray | None:
        """Per-frame speed (standardized units per second) of `which`; 0 at episode starts."""
        key = f"speed:{which}"
        if key not in self._cache:
            z = self.standardized(which)
            if z is None:
                self._cache[key] = None
            else:
                sp = np.zeros(len(z), dtype=np.float32)
                for j in range(z.shape[1]):  # per dimension: no (frames × dims) temporaries
                    d = z[1:, j] - z[:-1, j]
                    sp[1:] += d * d
                np.sqrt(sp, out=sp)
                sp *= np.float32(self.fps)
                sp[self.starts] = 0.0
                self._cache[key] = sp
        return self._cache[key]

    def window_speed(self, which: str = "motion", seconds: float = 0.25) -> tuple[np.ndarray, np.ndarray] | None:
        """Speed over a sliding window (net displacement over `seconds`), which sensor noise
        does not inflate; returns (speed, valid) where valid marks frames with a full window."""
        z = self.standardized(which)
        if z is None:
            return None
        w = max(1, int(round(seconds * self.fps)))
        sp = np.zeros(len(z), dtype=np.float32)
        if len(z) > w:
            for j in range(z.shape[1]):
                d = z[w:, j] - z[:-w, j]
                sp[w:] += d * d
            np.sqrt(sp, out=sp)
            sp *= np.float32(self.fps / w)
        valid = self.position_in_episode() >= w
        sp[~valid] = 0.0
        return sp, valid

    def free(self) -> None:
        self._cache.clear()


# ---------------------------------------------------------------------------------- reading


def _names(feature: dict | None) -> list[str]:
    names = (feature or {}).get("names")
    if isinstance(names, dict):
        for v in names.values():
            if isinstance(v, list):
                return [str(x) for x in v]
        return []
    if isinstance(names, list):
        return [str(x) for x in names]
    return []


def vector_features(features: dict) -> list[str]:
    """Numeric per-frame features with a vector shape (candidates for `command`/`motion`)."""
    skip = {"timestamp", "frame_index", "episode_index", "index", "task_index"}
    out = []
    for key, ft in (features or {}).items():
        if key in skip or ft.get("dtype") in ("video", "image", "string", "bool"):
            continue
        shape = list(ft.get("shape") or [])
        if len(shape) == 1 and int(shape[0]) >= 1 and str(ft.get("dtype", "")).startswith(("float", "int")):
            out.append(key)
    return out


def pick_features(features: dict, command: str | None = None, motion: str | None = None) -> tuple[str | None, str | None]:
    """Resolve the command/motion features: the user's choice, else the standard names."""
    vec = vector_features(features)
    for chosen, label in ((command, "--action"), (motion, "--state")):
        if chosen is not None and chosen not in vec:
            raise DatasetError(
                "meta/info.json",
                f"feature '{chosen}' ({label}) is not a numeric vector feature of this dataset "
                f"(available: {', '.join(vec) or 'none'})",
            )
    command = command or next((k for k in ACTION_KEYS if k in vec), None)
    motion = motion or next((k for k in STATE_KEYS if k in vec), None)
    if command is None and motion is None:
        if not vec:
            raise DatasetError("meta/info.json", "no numeric vector feature to compute metrics on")
        command = motion = vec[0]
    return command or motion, motion or command


def _data_files(dataset) -> list[Path]:
    fn = getattr(dataset, "data_files", None)
    if callable(fn):
        files = [Path(p) for p in fn()]
    else:
        files = sorted(Path(dataset.root).glob("data/**/*.parquet"))
    if not files:
        raise DatasetError(str(Path(dataset.root) / "data"), "no data parquet files")
    return files


def _column_numpy(col, dim: int | None) -> np.ndarray:
    import pyarrow as pa

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        if col.null_count:
            raise DatasetError("data", "a vector column has missing rows")
        values = col.flatten().to_numpy(zero_copy_only=False)
        width = dim or (len(values) // max(len(col), 1))
        if len(values) != len(col) * width:
            raise DatasetError("data", "a vector column has rows of different lengths")
        return values.astype(np.float32, copy=False).reshape(len(col), width)
    arr = col.to_numpy(zero_copy_only=False)
    return arr.astype(np.float32, copy=False).reshape(len(col), -1) if dim else arr


def _fill(out: np.ndarray, at: int, col, dim: int) -> None:
    """Copy a (chunked) vector column into `out[at:]` chunk by chunk (no combined copy)."""
    for chunk in col.chunks:
        n = len(chunk)
        if n:
            out[at:at + n] = _column_numpy(chunk, dim)
            at += n


def _prefetch(fn, files, counts, window: int = 2):
    """Yield (file, row_count, fn(file) or the exception) in order, reading up to `window`
    files ahead on threads (Arrow decodes without the GIL); memory stays bounded."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(window, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        pending = []
        it = iter(zip(files, counts))
        for _ in range(window):
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(fn, nxt[0])))
        while pending:
            (f, cnt), fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(fn, nxt[0])))
            try:
                yield f, cnt, fut.result()
            except Exception as exc:  # handed to the caller, which names the file
                yield f, cnt, exc


def load_frames(dataset, command: str | None = None, motion: str | None = None) -> EpisodeFrames:
    """Read the columns metrics need from all data files into sorted arrays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = dict(getattr(dataset, "features", None) or dataset.info.get("features", {}))
    command, motion = pick_features(features, command, motion)
    files = _data_files(dataset)
    schema_names = set(pq.read_schema(files[0]).names)
    env_key = next((k for k in ENV_KEYS if k in schema_names and k in features and k not in (command, motion)), None)
    vec_keys = sorted({command, motion} | ({env_key} if env_key else set()))
    wanted = ["episode_index", "frame_index"] + vec_keys + [k for k in EXTRA_KEYS if k in schema_names]
    missing = [c for c in wanted if c not in schema_names]
    if missing:
        raise DatasetError(str(files[0]), f"data files lack column(s) {', '.join(missing)}")
    # Read file by file into preallocated arrays: peak memory stays one file above the result.
    try:
        counts = [pq.read_metadata(f).num_rows for f in files]
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError("data", f"cannot read the data files ({exc})") from None
    n = int(sum(counts))
    dims = {k: int((features.get(k, {}).get("shape") or [1])[0]) for k in vec_keys}
    ep = np.empty(n, dtype=np.int64)
    fr = np.empty(n, dtype=np.int64)
    arrays: dict[str, np.ndarray] = {k: np.empty((n, d), dtype=np.float32) for k, d in dims.items()}
    extras = {k: np.empty(n, dtype=np.float64) for k in EXTRA_KEYS if k in schema_names}
    at = 0

    def read(f):
        # ParquetFile.read is ~2x faster than read_table on files with many small row groups
        with pq.ParquetFile(f, memory_map=True) as h:
            return h.read(columns=wanted)

    for f, cnt, t in _prefetch(read, files, counts):
        if isinstance(t, BaseException):
            raise DatasetError(str(f), f"cannot be read ({t})") from None
        if t.num_rows != cnt:
            raise DatasetError(str(f), "changed while being read")
        sl = slice(at, at + cnt)
        ep[sl] = t.column("episode_index").to_numpy()
        fr[sl] = t.column("frame_index").to_numpy()
        for k in vec_keys:
            _fill(arrays[k], at, t.column(k), dims[k])
        for k in extras:
            extras[k][sl] = t.column(k).to_numpy(zero_copy_only=False).astype(np.float64).reshape(cnt, -1)[:, 0]
        del t
        at += cnt
    if n > 1:
        d_ep = np.diff(ep)
        if not ((d_ep > 0) | ((d_ep == 0) & (np.diff(fr) > 0))).all():
            order = np.lexsort((fr, ep))
            ep = ep[order]
            arrays = {k: a[order] for k, a in arrays.items()}
            extras = {k: a[order] for k, a in extras.items()}
        del d_ep
    del fr
    if len(ep) == 0:
        raise DatasetError("data", "the dataset has no frames")
    starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
    lengths = np.diff(np.r_[starts, len(ep)])
    bad_eps: set[int] = set()
    for key, a in list(arrays.items()):
        finite = np.isfinite(a)
        if not finite.all():
            # Bad values are named, never fatal: their episodes get NaN metrics.
            rows = ~finite.all(axis=1)
            bad_eps.update(np.unique(ep[rows]).tolist())
            a = a.copy()
            a[~finite] = 0.0
            arrays[key] = a
    fps = float(getattr(dataset, "fps", None) or dataset.info.get("fps") or 30)
    return EpisodeFrames(
        episode_index=ep[starts].copy(),
        starts=starts.astype(np.int64),
        lengths=lengths.astype(np.int64),
        fps=fps,
        command=arrays[command],
        motion=arrays[motion],
        command_key=command,
        motion_key=motion,
        command_names=_names(features.get(command)),
        motion_names=_names(features.get(motion)),
        extras=extras,
        environment=arrays.get(env_key) if env_key else None,
        bad_episodes=tuple(sorted(int(e) for e in bad_eps)),
    )


# ---------------------------------------------------------------------------------- registry


def registered_metrics(plugin_host=None) -> list[EpisodeMetric]:
    """Metrics from every plugin (`studio_episode_metrics`), first definition of a name wins."""
    return [m for _, m in _registered(plugin_host)[0]]


def _registered(plugin_host=None):
    if plugin_host is None:
        from studio.plugins import host

        plugin_host = host()
    seen: dict[str, tuple[str, EpisodeMetric]] = {}
    if hasattr(plugin_host, "call_each"):
        pairs = [(p, m) for p, items in plugin_host.call_each("studio_episode_metrics") for m in items]
    else:
        pairs = [("?", m) for m in plugin_host.call("studio_episode_metrics")]
    for plugin, m in pairs:
        if isinstance(m, EpisodeMetric) and m.name not in seen:
            seen[m.name] = (plugin, m)
    if not seen and not any(f.plugin == "core_metrics" for f in plugin_host.failures()):
        # The built-in plugin is part of the studio; load it even without entry points.
        from plugins import core_metrics

        for m in core_metrics.studio_episode_metrics():
            seen.setdefault(m.name, ("core_metrics", m))
    return list(seen.values()), plugin_host


def compute_metrics_frames(frames: EpisodeFrames, metrics, plugin_host=None):
    """Run each metric over all episodes; returns (DataFrame, {name: metric}) of those that
    apply. `metrics` holds EpisodeMetric or (plugin_name, EpisodeMetric); a plugin metric
    that raises disables its plugin (named in the plugin failures) and is left out."""
    import pandas as pd

    out = {"episode_index": frames.episode_index}
    used: dict[str, EpisodeMetric] = {}
    for item in metrics:
        plugin, m = item if isinstance(item, tuple) else ("", item)
        try:
            values = m.fn(frames)
        except StudioError:
            raise
        except Exception as exc:
            log.exception("metric %s failed", m.name)
            what = f"metric {m.name} raised {type(exc).__name__}: {exc}"
            if plugin and plugin != "core_metrics" and hasattr(plugin_host, "disable"):
                plugin_host.disable(plugin, what)
                continue
            raise StudioError(f"metric {m.name}", f"failed ({type(exc).__name__}: {exc})") from None
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != (frames.n_episodes,):
            raise StudioError(f"metric {m.name}", f"returned {values.shape[0]} values for {frames.n_episodes} episodes")
        if frames.bad_episodes:
            values = values.copy()
            values[np.isin(frames.episode_index, frames.bad_episodes)] = np.nan
        out[m.name] = values
        used[m.name] = m
    frames.free()
    return pd.DataFrame(out), used


def _cache_path(project, dataset, command, motion, metrics: Sequence[EpisodeMetric]) -> Path | None:
    if project is None:
        return None
    fp = str(getattr(dataset, "fingerprint", "") or "")
    if not fp:
        return None
    sig = json.dumps([METRICS_VERSION, command, motion, sorted(m.name for m in metrics)]).encode()
    digest = hashlib.sha256(fp.encode() + b"|" + sig).hexdigest()[:24]
    return Path(project.home) / "cache" / "metrics" / f"{digest}.parquet"


@dataclass(frozen=True)
class MetricTable:
    """Per-episode metrics of one dataset: `df` (episode_index + one column per metric) and
    the metric definitions that produced the columns."""

    df: Any
    metrics: dict[str, EpisodeMetric]
    command_key: str | None
    motion_key: str | None

    @property
    def names(self) -> list[str]:
        return list(self.metrics)


def compute_metrics(
    dataset,
    project=None,
    *,
    command: str | None = None,
    motion: str | None = None,
    plugin_host=None,
    use_cache: bool = True,
) -> MetricTable:
    """All registered metrics for every episode of `dataset` (cached under the project)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    features = dict(getattr(dataset, "features", None) or dataset.info.get("features", {}))
    command, motion = pick_features(features, command, motion)
    pairs, plugin_host = _registered(plugin_host)
    metrics = [m for _, m in pairs]
    by_name = {m.name: m for m in metrics}
    path = _cache_path(project, dataset, command, motion, metrics) if use_cache else None
    if path is not None and path.exists():
        try:
            table = pq.read_table(path)
            df = table.to_pandas()
            names = [c for c in df.columns if c != "episode_index" and c in by_name]
            return MetricTable(df[["episode_index"] + names], {n: by_name[n] for n in names}, command, motion)
        except Exception:  # a damaged cache is recomputed, never fatal
            log.warning("ignoring unreadable metrics cache %s", path)
    frames = load_frames(dataset, command, motion)
    df, used = compute_metrics_frames(frames, pairs, plugin_host)
    if path is not None:
        from studio.fsutil import atomic_write_bytes

        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return MetricTable(df, used, command, motion)
