"""Per-episode quality metrics, computed columnar over all episodes at once.

The frames of a dataset are read once into sorted NumPy arrays (`EpisodeFrames`); every
metric is a vectorised function of those arrays returning one value per episode (segment
reductions with `np.add.reduceat`, batched FFTs; no Python loop over frames). Metrics
come from plugins through the `studio_episode_metrics` hook (the built-in ones live in
`plugins/core_metrics.py`) and are cached on disk under the project, keyed by the dataset
fingerprint and the feature choice — never inside the dataset.

Speed (benchmarks/metrics.py, docs/benchmarks.md): only the needed columns are decoded,
in large record batches, two files at a time, straight into preallocated arrays; episode
and frame indices come from the row-group statistics when those establish them (lerobot's
one-episode-per-row-group layout) and are decoded and checked otherwise; per-frame helpers
work chunk by chunk through reused buffers; metrics run on two threads.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from studio.errors import DatasetError, StudioError

log = logging.getLogger("studio.curation")

# Bump when a built-in metric's definition changes: old caches are then ignored.
METRICS_VERSION = 2
ACTION_KEYS = ("action", "actions", "action.joints", "actions.joints")
STATE_KEYS = ("observation.state", "state", "observation.states", "observation.joints", "observation.qpos")
EXTRA_KEYS = ("next.success", "next.reward", "next.done")
ENV_KEYS = ("observation.environment_state", "environment_state", "observation.env_state")
# Metric families and the dimension roles (studio.datasets.dimension_role) they read.
ARM_ROLES = ("arm",)
GRIP_ROLES = ("gripper", "hand")


@dataclass(frozen=True)
class EpisodeMetric:
    """A per-episode metric: `fn(frames: EpisodeFrames) -> array (n_episodes,)` or None
    when the dataset lacks what it needs (the metric is then left out)."""

    name: str
    doc: str
    direction: str  # 'higher' or 'lower' is better
    fn: Callable[["EpisodeFrames"], Any]
    weight: float = 1.0  # default weight in quality_score (0 = shown, not scored)
    # When set, the score measures badness from this ideal value in steps of `scale`
    # (e.g. success: ideal 1) instead of from the dataset's median in robust spreads.
    ideal: float | None = None
    scale: float | None = None

    def __post_init__(self):
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"metric {self.name}: direction must be 'higher' or 'lower'")
        if not self.name.isidentifier():
            raise ValueError(f"metric {self.name!r}: name must be a SQL-friendly identifier")


def _locked(method):
    """Fill a cached per-frame helper under the frames' lock: metrics run on two threads,
    and the second to ask for e.g. `speed` waits for the first instead of recomputing."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


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
    _lock: Any = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def n_frames(self) -> int:
        return int(self.lengths.sum())

    @property
    def n_episodes(self) -> int:
        return len(self.lengths)

    # -- segment helpers (vectorised over all episodes) --------------------------------
    @_locked
    def position_in_episode(self) -> np.ndarray:
        """Frame number within its episode (int32; 0 at each episode start)."""
        if "pos" not in self._cache:
            self._cache["pos"] = _positions(self.starts, self.lengths)
        return self._cache["pos"]

    def segment_sum(self, values: np.ndarray) -> np.ndarray:
        """Per-episode sums in float64 (each episode summed as one float64 run)."""
        v = np.asarray(values)
        if v.dtype == np.float64 or len(v) <= _CHUNK_ROWS:
            return np.add.reduceat(np.asarray(v, dtype=np.float64), self.starts, axis=0)
        # cast a run of whole episodes at a time: no (frames,) float64 copy to allocate
        out = np.empty((self.n_episodes,) + v.shape[1:], dtype=np.float64)
        for e0, e1, r0, r1 in self._episode_chunks():
            out[e0:e1] = np.add.reduceat(v[r0:r1].astype(np.float64), self.starts[e0:e1] - r0, axis=0)
        return out

    @_locked
    def _episode_chunks(self):
        """(first episode, end episode, first row, end row) of runs of whole episodes of
        about `_CHUNK_ROWS` rows."""
        if "chunks" not in self._cache:
            ends = self.starts + self.lengths
            cuts = np.searchsorted(self.starts, np.arange(_CHUNK_ROWS, int(ends[-1]), _CHUNK_ROWS), side="left")
            cuts = np.unique(np.r_[0, cuts[cuts > 0], self.n_episodes])
            self._cache["chunks"] = [
                (int(a), int(b), int(self.starts[a]), int(ends[b - 1])) for a, b in itertools.pairwise(cuts)
            ]
        return self._cache["chunks"]

    def hysteresis_toggles(self, g: np.ndarray, lo: float, hi: float, low: float = 0.4, high: float = 0.6) -> np.ndarray:
        """Switches per episode of a two-state signal read with hysteresis: u = (g − lo) /
        (hi − lo) in float32; u > `high` is on, u < `low` off, in between keeps the previous
        state; an episode starts on when u ≥ 0.5. Counted run by run of whole episodes
        (each starts decided, so runs are independent) over the decided frames only."""
        out = np.zeros(self.n_episodes)
        f_lo, f_range = np.float32(lo), np.float32(hi - lo)
        for e0, e1, r0, r1 in self._episode_chunks():
            u = (g[r0:r1] - f_lo) / f_range
            st = self.starts[e0:e1] - r0
            state = np.full(len(u), -1, dtype=np.int8)
            state[u > high] = 1
            state[u < low] = 0
            state[st] = u[st] >= 0.5
            decided = np.flatnonzero(state >= 0)
            v = state[decided]
            at = decided[1:][v[1:] != v[:-1]]  # frames where the held state flips
            at = at[~np.isin(at, st)]  # an episode's first frame is not a switch
            out[e0:e1] = np.bincount(np.searchsorted(st, at, side="right") - 1, minlength=e1 - e0)
        return out

    def padded_rows(self, values: np.ndarray, episodes: np.ndarray, width: int) -> np.ndarray:
        """(len(episodes), width) float32: row i holds `values` of episode `episodes[i]`
        (by position), zero-padded. Consecutive episodes of length `width` are a reshaped
        slice; otherwise one scatter."""
        lens = self.lengths[episodes]
        k = len(episodes)
        if k and (lens == width).all() and (np.diff(episodes) == 1).all():
            a = int(self.starts[episodes[0]])
            return np.asarray(values[a:a + k * width], dtype=np.float32).reshape(k, width)
        buf = np.zeros((k, width), dtype=np.float32)
        rows = np.repeat(np.arange(k), lens)
        cols = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        buf[rows, cols] = values[np.repeat(self.starts[episodes], lens) + cols]
        return buf

    def jerk_sq(self, which: str = "motion") -> np.ndarray:
        """Squared jerk magnitude per frame of the standardized `which` (third difference ×
        fps³, summed over dimensions, float64); 0 where the window would straddle an
        episode start. Computed in chunks through small reused buffers."""
        z = self.standardized(which)
        n = len(z)
        if n < 4:
            return np.zeros(n, dtype=np.float64)
        j = _empty(n, np.float64)
        j[:3] = 0.0
        m = n - 3
        acc = np.empty(min(m, _CHUNK_ROWS), dtype=np.float32)
        t = np.empty_like(acc)
        u = np.empty_like(acc)
        for a in range(0, m, _CHUNK_ROWS):
            b = min(m, a + _CHUNK_ROWS)
            k = b - a
            acc_, t_, u_ = acc[:k], t[:k], u[:k]
            acc_[:] = 0.0
            for d in range(z.shape[1]):  # c[3:] − c[:-3] + 3·(c[1:-2] − c[2:-1]), in float32
                c = z[:, d]
                np.subtract(c[a + 3:b + 3], c[a:b], out=t_)
                np.subtract(c[a + 1:b + 1], c[a + 2:b + 2], out=u_)
                np.multiply(u_, np.float32(3), out=u_)
                np.add(t_, u_, out=t_)
                np.multiply(t_, t_, out=t_)
                np.add(acc_, t_, out=acc_)
            j[a + 3:b + 3] = acc_
        j *= float(self.fps) ** 6
        head = (self.starts[:, None] + np.arange(3)[None, :])
        j[head[head < (self.starts + self.lengths)[:, None]]] = 0.0
        return j

    def segment_mean(self, values: np.ndarray) -> np.ndarray:
        return self.segment_sum(values) / self.lengths

    def segment_max(self, values: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(values, self.starts, axis=0)

    def roles(self, which: str) -> list[str]:
        """Role of each dimension of `command`/`motion` (studio.datasets.dimension_role);
        unnamed dimensions are arms."""
        from studio.datasets import dimension_role

        x = getattr(self, which)
        names = self.command_names if which == "command" else self.motion_names
        width = 0 if x is None else x.shape[1]
        if len(names) != width:
            return ["arm"] * width
        return [dimension_role(n) for n in names]

    def names_of(self, which: str) -> list[str]:
        x = getattr(self, which)
        names = self.command_names if which == "command" else self.motion_names
        width = 0 if x is None else x.shape[1]
        return list(names) if len(names) == width else [str(i) for i in range(width)]

    @_locked
    def gripper_dim(self, which: str) -> int | None:
        """The gripper dimension of `command`/`motion`: the first with the gripper role,
        else (unnamed features only) a two-state last dimension; None when there is none."""
        key = f"grip:{which}"
        if key not in self._cache:
            x = getattr(self, which)
            roles = self.roles(which)
            names = self.command_names if which == "command" else self.motion_names
            dim = next((i for i, r in enumerate(roles) if r == "gripper"), None)
            if dim is None and x is not None and x.shape[1] >= 2 and len(names) != x.shape[1]:
                g = x[:: max(1, len(x) // 200_000), -1]
                lo, hi = np.percentile(g, [1, 99])
                if hi - lo > 1e-9:
                    near = (np.abs(g - lo) < 0.1 * (hi - lo)) | (np.abs(g - hi) < 0.1 * (hi - lo))
                    dim = x.shape[1] - 1 if near.mean() > 0.8 else None
            self._cache[key] = dim
        return self._cache[key]

    def non_position_dims(self, which: str) -> list[int]:
        """Dimensions whose role is velocity or effort (not positions): left out of motion metrics."""
        return [i for i, r in enumerate(self.roles(which)) if r in ("velocity", "effort")]

    # -- robust signals (studio.curation.signals) ---------------------------------------
    @_locked
    def plan(self, which: str, family: str = "arm"):
        """`signals.DimPlan` of `command`/`motion` for a metric family: 'arm' (motion
        metrics) or 'grip' (gripper and hand dimensions)."""
        from studio.curation import signals

        key = f"plan:{which}:{family}"
        if key not in self._cache:
            x = getattr(self, which)
            if x is None:
                self._cache[key] = None
            else:
                roles = self.roles(which)
                if family == "grip":
                    g = self.gripper_dim(which)
                    roles = ["gripper" if i == g else r for i, r in enumerate(roles)]
                    self._cache[key] = signals.plan_dims(x, self.names_of(which), roles, GRIP_ROLES, allow_switch=True)
                else:
                    g = self.gripper_dim(which)
                    roles = ["gripper" if i == g else r for i, r in enumerate(roles)]
                    plan = signals.plan_dims(x, self.names_of(which), roles, ARM_ROLES)
                    if not plan.keep:  # nothing moves like an arm: read every position dimension
                        plan = signals.plan_dims(x, self.names_of(which), roles, ARM_ROLES + GRIP_ROLES, allow_switch=True)
                    self._cache[key] = plan
        return self._cache[key]

    def dropped_dims(self) -> dict[str, dict[str, str]]:
        """{feature key: {dimension: why it is left out of the motion metrics}}."""
        out: dict[str, dict[str, str]] = {}
        for which, key in (("motion", self.motion_key), ("command", self.command_key)):
            plan = self.plan(which, "arm")
            if plan is not None and plan.dropped:
                out.setdefault(str(key or which), {}).update(plan.dropped)
        return out

    @_locked
    def robust(self, which: str, family: str = "arm") -> np.ndarray | None:
        """The kept dimensions of `which` for `family`, each divided by its 1–99 % range
        ((frames, kept) float32, column-major); None when the feature is missing."""
        from studio.curation import signals

        key = f"robust:{which}:{family}"
        if key not in self._cache:
            plan = self.plan(which, family)
            x = getattr(self, which)
            self._cache[key] = None if plan is None else signals.scaled(x, plan, _empty)
        return self._cache[key]

    def column(self, which: str, family: str, i: int) -> np.ndarray:
        """Kept dimension `i` of `robust(which, family)` as a fresh float32 array, without
        caching the whole scaled matrix (for metrics that walk one dimension at a time)."""
        key = f"robust:{which}:{family}"
        if key in self._cache and self._cache[key] is not None:
            return self._cache[key][:, i]
        plan = self.plan(which, family)
        x = getattr(self, which)
        return np.divide(x[:, plan.keep[i]], np.float32(plan.scale[i]), dtype=np.float32)

    def gather(self, which: str, family: str, rows: np.ndarray) -> np.ndarray:
        """`robust(which, family)[rows]` in float64, read from the raw feature."""
        plan = self.plan(which, family)
        x = getattr(self, which)
        if plan is None or not plan.keep:
            return np.zeros((len(rows), 0))
        return x[rows][:, list(plan.keep)].astype(np.float64) / plan.scale[None, :]

    @_locked
    def smooth(self, which: str, family: str = "arm") -> np.ndarray | None:
        """`robust(which, family)` low-passed by a centred ~0.2 s moving average within each episode."""
        from studio.curation import signals

        key = f"smooth:{which}:{family}"
        if key not in self._cache:
            z = self.robust(which, family)
            if z is None:
                self._cache[key] = None
            else:
                h = signals.half_window(self.fps)
                out = _empty(z.shape, np.float32, order="F")
                for i in range(z.shape[1]):
                    signals.moving_average(z[:, i], self.starts, self.lengths, h, out[:, i])
                self._cache[key] = out
        return self._cache[key]

    def standardized(self, which: str) -> np.ndarray | None:
        """The arm dimensions of `command` or `motion` scaled by their dataset-wide 1–99 %
        range (float32), so joints in any unit weigh alike; gripper, hand, velocity and
        effort dimensions, and near-constant or quantised ones, are left out
        (`robust(which, 'arm')`, see studio.curation.signals)."""
        return self.robust(which, "arm")

    @_locked
    def speed(self, which: str = "motion") -> np.ndarray | None:
        """Per-frame speed (standardized units per second) of `which`; 0 at episode starts."""
        key = f"speed:{which}"
        if key not in self._cache:
            z = self.standardized(which)
            if z is None:
                self._cache[key] = None
            else:
                sp = _empty(len(z), np.float32)
                sp[:1] = 0.0
                if len(z) > 1:
                    _norm_diff(z, 1, self.fps, sp[1:])
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
        sp = _empty(len(z), np.float32)
        sp[:w] = 0.0
        if len(z) > w:
            _norm_diff(z, w, self.fps / w, sp[w:])
        valid = self.position_in_episode() >= w
        sp[~valid] = 0.0
        return sp, valid

    @_locked
    def smooth_speed(self, which: str = "motion") -> np.ndarray | None:
        """Per-frame speed (scaled units per second) of the low-passed arm signal: forward
        difference inside each episode, the last frame repeating the one before."""
        key = f"sspeed:{which}"
        if key not in self._cache:
            s = self.smooth(which, "arm")
            if s is None or s.shape[1] == 0:
                self._cache[key] = None
            else:
                sp = _empty(len(s), np.float32)
                sp[-1:] = 0.0
                if len(s) > 1:
                    _norm_diff(s, 1, self.fps, sp[:-1])
                last = self.starts + self.lengths - 1
                prev = np.maximum(last - 1, self.starts)
                sp[last] = sp[prev]
                sp[last[self.lengths == 1]] = 0.0
                self._cache[key] = sp
        return self._cache[key]

    @_locked
    def activity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(active per frame, first active frame, last active frame per episode, as
        positions in the episode): a frame is active when the low-passed arm speed is over
        `ACTIVE_OF_P95` of the dataset's 95th percentile speed. An episode that never moves
        has first = length, last = -1."""
        if "activity" not in self._cache:
            sp = self.smooth_speed("motion")
            if sp is None:
                self._cache["activity"] = None
            else:
                from studio.curation import signals

                p95 = float(np.percentile(sp[signals.sample_rows(len(sp))], 95))
                active = sp > np.float32(ACTIVE_OF_P95 * p95) if p95 > 0 else np.zeros(len(sp), dtype=bool)
                pos = self.position_in_episode()
                big = np.int32(np.iinfo(np.int32).max)
                first = np.minimum.reduceat(np.where(active, pos, big), self.starts).astype(np.int64)
                last = np.maximum.reduceat(np.where(active, pos, np.int32(-1)), self.starts).astype(np.int64)
                first = np.minimum(first, self.lengths)
                self._cache["activity"] = (active, first, last)
        return self._cache["activity"]

    def free(self) -> None:
        self._cache.clear()


def _positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each episode, as one cumulative sum (no (frames,) int64 repeat)."""
    n = int(lengths.sum())
    pos = _empty(n, np.int32)
    pos[:] = 1
    if n:
        pos[0] = 0
        pos[starts[1:]] = 1 - lengths[:-1]
        np.cumsum(pos, out=pos)
    return pos


ACTIVE_OF_P95 = 0.05  # a frame moves when its low-passed speed exceeds this share of the p95 speed
_CHUNK_ROWS = 1 << 20  # rows per pass of the per-frame helpers (small, reused buffers)


def _norm_diff(z: np.ndarray, lag: int, scale: float, out: np.ndarray) -> None:
    """out[t] = scale · ‖z[t+lag] − z[t]‖ for t < len(z) − lag, summed one dimension at a
    time into a small reused buffer, chunk by chunk: no (frames,) temporaries to allocate."""
    n = len(z) - lag
    buf = np.empty(min(n, _CHUNK_ROWS), dtype=np.float32)
    for a in range(0, n, _CHUNK_ROWS):
        b = min(n, a + _CHUNK_ROWS)
        o, t = out[a:b], buf[: b - a]
        o[:] = 0.0
        for j in range(z.shape[1]):
            np.subtract(z[a + lag:b + lag, j], z[a:b, j], out=t)
            np.multiply(t, t, out=t)
            np.add(o, t, out=o)
        np.sqrt(o, out=o)
        o *= np.float32(scale)


def _empty(shape, dtype=np.float32, order: str = "C") -> np.ndarray:
    """np.empty, but a large array is mapped with its pages populated in one call
    (MAP_POPULATE): faulting in hundreds of MB page by page costs more system time than
    the metrics themselves on a virtual machine."""
    import mmap

    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    flags = getattr(mmap, "MAP_POPULATE", 0)
    if size < (16 << 20) or not flags or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.empty(shape, dtype=dtype, order=order)
    try:
        buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | flags)
    except (OSError, ValueError):
        return np.empty(shape, dtype=dtype, order=order)
    a = np.frombuffer(buf, dtype=dtype)
    return a.reshape(shape[::-1]).T if order == "F" else a.reshape(shape)


def _index_from_statistics(md) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(episode index, frame index) of every row of a parquet file, from its row-group
    statistics (exact min/max), without decoding the columns. lerobot writes one episode
    per row group with frames 0…n−1 in order: the episode is known when min == max in every
    row group, the frames when each row group's frame range is exactly its row count
    (rows in writer order, as lerobot's own loader assumes). None for what they don't show."""
    names = [md.schema.column(c).path for c in range(md.num_columns)]
    if "episode_index" not in names:
        return None, None
    ci = names.index("episode_index")
    fi = names.index("frame_index") if "frame_index" in names else None
    eps, rows, first = [], [], []
    for r in range(md.num_row_groups):
        rg = md.row_group(r)
        st = rg.column(ci).statistics
        if st is None or not st.has_min_max or st.min != st.max or not isinstance(st.min, int):
            return None, None
        eps.append(st.min)
        rows.append(rg.num_rows)
        if first is not None:
            fs = rg.column(fi).statistics if fi is not None else None
            if fs is None or not fs.has_min_max or not isinstance(fs.min, int) or fs.max - fs.min + 1 != rg.num_rows:
                first = None
            else:
                first.append(fs.min)
    n_rows = np.asarray(rows, dtype=np.int64)
    ep = np.repeat(np.asarray(eps, dtype=np.int64), n_rows)
    if first is None:
        return ep, None
    offset = np.asarray(first, dtype=np.int64) - (np.cumsum(n_rows) - n_rows)
    return ep, np.arange(len(ep), dtype=np.int64) + np.repeat(offset, n_rows)


def _all_finite(a: np.ndarray) -> bool:
    # A float64 sum of float32 values cannot overflow, so it is finite iff every value is.
    return bool(np.isfinite(np.add.reduce(a, axis=None, dtype=np.float64)))


# ---------------------------------------------------------------------------------- reading


def _names(feature: dict | None) -> list[str]:
    """Flat element names of a vector feature (studio.datasets.element_names); [] when the
    feature names none (roles then default to arm, and the gripper is guessed from data)."""
    from studio.datasets import element_names

    return element_names(feature) if feature and feature.get("names") else []


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


_BATCH_ROWS = 1 << 18  # rows per record batch when reading data files
_MEMORY_MAP = True  # map the data files (measured: a little less system time than reads)


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
    # Read into preallocated arrays, two files at a time on threads.
    try:
        counts = [pq.read_metadata(f).num_rows for f in files]
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError("data", f"cannot read the data files ({exc})") from None
    n = int(sum(counts))
    dims = {k: int((features.get(k, {}).get("shape") or [1])[0]) for k in vec_keys}
    arrays: dict[str, np.ndarray] = {k: _empty((n, d), np.float32) for k, d in dims.items()}
    extras = {k: _empty(n, np.float64) for k in EXTRA_KEYS if k in schema_names}
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    # Per record batch: (first row, its episode/frame, last episode/frame, rows where the
    # episode changes inside the batch, their episodes, in order inside the batch?).
    pieces: list[list[tuple]] = [[] for _ in files]

    def read_into(i: int) -> None:
        # Stream each file in large record batches straight into its slice of the result:
        # a batch spans many row groups (lerobot writes one per episode), so the per-chunk
        # work runs per batch rather than per episode, and peak memory stays one batch per
        # worker above the result. Arrow decodes and NumPy copies without the GIL. The
        # episode/frame columns are reduced per batch to episode boundaries and an order
        # check instead of being kept whole.
        at, end = int(offsets[i]), int(offsets[i + 1])
        with pq.ParquetFile(files[i], memory_map=_MEMORY_MAP) as h:
            # lerobot writes one episode per row group: the row-group statistics (exact
            # min/max) then give the episode of every row without decoding the column.
            ep_rows, fr_rows = _index_from_statistics(h.metadata)
            skip = {"episode_index"} if ep_rows is not None else set()
            if fr_rows is not None:
                skip.add("frame_index")
            cols = [c for c in wanted if c not in skip]
            if ep_rows is not None and len(ep_rows) != end - at:
                raise DatasetError(str(files[i]), "changed while being read")
            first = at
            for batch in h.iter_batches(batch_size=_BATCH_ROWS, columns=cols, use_threads=len(files) == 1):
                m = batch.num_rows
                if m == 0:
                    continue
                if at + m > end:
                    raise DatasetError(str(files[i]), "changed while being read")
                sl = slice(at, at + m)
                if ep_rows is not None:
                    e = ep_rows[at - first:at - first + m]
                else:
                    e = np.asarray(_column_numpy(batch.column("episode_index"), None), dtype=np.int64)
                if fr_rows is not None:
                    f = fr_rows[at - first:at - first + m]
                else:
                    f = np.asarray(_column_numpy(batch.column("frame_index"), None), dtype=np.int64)
                de = np.diff(e)
                change = np.flatnonzero(de) + 1
                ordered = bool((de >= 0).all()) and bool((np.diff(f)[de == 0] > 0).all())
                pieces[i].append((at, int(e[0]), int(f[0]), int(e[-1]), int(f[-1]), change + at, e[change], ordered))
                for k in vec_keys:
                    arrays[k][sl] = _column_numpy(batch.column(k), dims[k])
                for k in extras:
                    x = np.asarray(_column_numpy(batch.column(k), None), dtype=np.float64)
                    extras[k][sl] = x.reshape(m, -1)[:, 0]
                at += m
        if at != end:
            raise DatasetError(str(files[i]), "changed while being read")

    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, min(2, len(files), os.cpu_count() or 1))) as pool:
        futures = [pool.submit(read_into, i) for i in range(len(files))]
        try:
            for i, fut in enumerate(futures):
                try:
                    fut.result()
                except StudioError:
                    raise
                except Exception as exc:
                    raise DatasetError(str(files[i]), f"cannot be read ({exc})") from None
        finally:
            for fut in futures:
                fut.cancel()
    if n == 0:
        raise DatasetError("data", "the dataset has no frames")
    # Stitch the batches: an episode starts where the episode index changes.
    batches = [b for p in pieces for b in p]
    start_rows, start_eps, in_order, prev = [], [], True, None
    for at, e0, f0, e1, f1, change, change_eps, ordered in batches:
        in_order &= ordered
        if prev is None or e0 != prev[0]:
            start_rows.append(np.array([at]))
            start_eps.append(np.array([e0]))
            in_order &= prev is None or e0 > prev[0]
        else:
            in_order &= f0 > prev[1]
        start_rows.append(change)
        start_eps.append(change_eps)
        prev = (e1, f1)
    starts = np.concatenate(start_rows).astype(np.int64)
    episode_index = np.concatenate(start_eps).astype(np.int64)
    if not in_order:
        # Frames out of (episode, frame) order: read the index columns whole and sort.
        ep = np.concatenate([pq.read_table(f, columns=["episode_index"]).column(0).to_numpy() for f in files])
        fr = np.concatenate([pq.read_table(f, columns=["frame_index"]).column(0).to_numpy() for f in files])
        order = np.lexsort((fr, ep))
        del fr
        ep = ep[order]
        arrays = {k: a[order] for k, a in arrays.items()}
        extras = {k: a[order] for k, a in extras.items()}
        del order
        starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]]).astype(np.int64)
        episode_index = ep[starts].astype(np.int64)
        del ep
    lengths = np.diff(np.r_[starts, n]).astype(np.int64)
    bad_eps: set[int] = set()
    for key, a in list(arrays.items()):
        if _all_finite(a):
            continue
        finite = np.isfinite(a)
        # Bad values are named, never fatal: their episodes get NaN metrics.
        rows = np.flatnonzero(~finite.all(axis=1))
        bad_eps.update(np.unique(episode_index[np.searchsorted(starts, rows, side="right") - 1]).tolist())
        a = a.copy()
        a[~finite] = 0.0
        arrays[key] = a
    fps = float(getattr(dataset, "fps", None) or dataset.info.get("fps") or 30)
    return EpisodeFrames(
        episode_index=episode_index,
        starts=starts,
        lengths=lengths,
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


_HEAVY_FIRST = ("action_surprise", "sparc", "retrace", "tremor", "command_roughness", "gripper_chatter",
                "action_saturation", "jerk", "idle_fraction", "tracking_error", "gripper_toggles")


def _run_metrics(frames: EpisodeFrames, metrics: Sequence[EpisodeMetric]) -> list[tuple[Any, BaseException | None]]:
    """(values, exception) of each metric, in order. The metrics run on two threads: they
    are whole-array NumPy work that releases the GIL, so two cores share it. What several
    metrics derive alike (standardized motion, speed, gripper dimension) is computed first,
    once, so the threads only read the shared cache."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    def one(m):
        try:
            return m.fn(frames), None
        except Exception as exc:
            return None, exc

    workers = max(1, min(2, os.cpu_count() or 1, len(metrics)))
    if workers == 1 or frames.n_frames < 200_000:  # small data: threads cost more than they save
        return [one(m) for m in metrics]
    # the costliest built-in metrics first, so the two threads finish together
    rank = {name: i for i, name in enumerate(_HEAVY_FIRST)}
    order = sorted(range(len(metrics)), key=lambda i: rank.get(metrics[i].name, len(rank)))
    with ThreadPoolExecutor(workers) as pool:
        futures = {i: pool.submit(one, metrics[i]) for i in order}
        return [futures[i].result() for i in range(len(metrics))]


def compute_metrics_frames(frames: EpisodeFrames, metrics, plugin_host=None):
    """Run each metric over all episodes; returns (DataFrame, {name: metric}) of those that
    apply. `metrics` holds EpisodeMetric or (plugin_name, EpisodeMetric); a plugin metric
    that raises disables its plugin (named in the plugin failures) and is left out."""
    import pandas as pd

    out = {"episode_index": frames.episode_index}
    used: dict[str, EpisodeMetric] = {}
    items = [item if isinstance(item, tuple) else ("", item) for item in metrics]
    results = _run_metrics(frames, [m for _, m in items])
    for (plugin, m), (values, exc) in zip(items, results):
        if isinstance(exc, StudioError):
            raise exc
        if exc is not None:
            log.error("metric %s failed", m.name, exc_info=exc)
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
    dropped: dict = field(default_factory=dict)  # {feature: {dimension: why left out of motion metrics}}

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
            dropped = json.loads((table.schema.metadata or {}).get(b"studio.dropped", b"{}"))
            return MetricTable(df[["episode_index"] + names], {n: by_name[n] for n in names}, command, motion, dropped)
        except Exception:  # a damaged cache is recomputed, never fatal
            log.warning("ignoring unreadable metrics cache %s", path)
    frames = load_frames(dataset, command, motion)
    df, used = compute_metrics_frames(frames, pairs, plugin_host)
    dropped = frames.dropped_dims()
    frames.free()
    if path is not None:
        from studio.fsutil import atomic_write_bytes

        sink = pa.BufferOutputStream()
        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"studio.dropped"] = json.dumps(dropped).encode()
        pq.write_table(table.replace_schema_metadata(meta), sink)
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return MetricTable(df, used, command, motion, dropped)
