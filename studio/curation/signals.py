"""Robust per-dimension signals for the curation metrics.

Real recordings are not the clean curves metrics are usually written for: joints are
quantised (an SO-101 position moves in steps of ~0.09°), some joints barely move in a
task, units are mixed (radians next to degrees next to a 0–100 % gripper), and hands rest
at their limits. Before any metric differentiates a signal it goes through here:

- **roles** come from `studio.datasets.dimension_roles` (arm / gripper / hand / velocity /
  effort): motion metrics read arm dimensions, chatter metrics gripper and hand ones;
- **scale**: each dimension is divided by its dataset-wide 1–99 % range, so any unit gives
  the same numbers (degrees and radians of one motion are the same signal);
- **noise floor**: each dimension's quantisation step (smallest non-zero change) and its
  sensor noise (robust spread of the second difference) are measured;
- **dropped**: a dimension whose range is within a few noise floors (near-constant) or that
  takes ≤ 3 distinct values (quantised to a switch) carries no motion and is left out,
  with the reason kept for the user (`EpisodeFrames.dropped_dims`);
- **low-pass**: a centred moving average of about 0.2 s within each episode before
  differentiating, so quantisation and sensor noise do not read as motion.

Everything is vectorised over all frames; episode boundaries are respected (windows
shrink at an episode's ends instead of straddling two episodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Sample of contiguous blocks the dataset-wide statistics are read from.
SAMPLE_BLOCKS = 8
SAMPLE_BLOCK_ROWS = 25_000
# A dimension whose 1–99 % range is under this many quantisation steps, or this many
# noise spreads (pure Gaussian noise spans ~4.7), is near-constant.
MIN_RANGE_IN_QUANTA = 10.0
MIN_RANGE_IN_NOISE = 8.0
# A dimension with at most this many distinct values is a switch, not a motion.
MAX_SWITCH_LEVELS = 3
# Half-width of the low-pass window, in seconds (0.1 s → 7 frames at 30 fps, 3 at 10 fps).
SMOOTH_HALF_S = 0.1


@dataclass(frozen=True)
class DimPlan:
    """Which dimensions of a feature a family of metrics reads, and how they are scaled."""

    keep: tuple[int, ...]  # indices into the feature's columns
    scale: np.ndarray  # (len(keep),) 1–99 % range, in the feature's own units
    noise: np.ndarray  # (len(keep),) noise floor in scaled units (≥ quantisation / √12)
    quantum: np.ndarray  # (len(keep),) smallest non-zero step in scaled units (0: continuous)
    dropped: dict[str, str] = field(default_factory=dict)  # dimension name -> why


def sample_rows(n: int) -> np.ndarray:
    """Row indices of up to SAMPLE_BLOCKS contiguous blocks spread over `n` rows (so that
    consecutive-frame statistics like steps and second differences stay meaningful)."""
    if n <= SAMPLE_BLOCKS * SAMPLE_BLOCK_ROWS:
        return np.arange(n)
    firsts = np.linspace(0, n - SAMPLE_BLOCK_ROWS, SAMPLE_BLOCKS).astype(np.int64)
    return (firsts[:, None] + np.arange(SAMPLE_BLOCK_ROWS)[None, :]).reshape(-1)


def plan_dims(x: np.ndarray, names: list[str], roles: list[str], wanted: tuple[str, ...],
              *, allow_switch: bool = False) -> DimPlan:
    """Keep the dimensions of `x` whose role is in `wanted` and that carry motion."""
    rows = sample_rows(len(x))
    keep, scales, noises, quanta = [], [], [], []
    dropped: dict[str, str] = {}
    for j in range(x.shape[1]):
        name = names[j] if j < len(names) else str(j)
        role = roles[j] if j < len(roles) else "arm"
        if role not in wanted:
            continue
        col = np.asarray(x[rows, j], dtype=np.float64)
        lo, hi = np.percentile(col, [1, 99])
        rng = float(hi - lo)
        if rng <= 1e-9:
            lo, hi = float(col.min()), float(col.max())
            rng = float(hi - lo)
        if rng <= 1e-9:
            dropped[name] = "constant"
            continue
        d1 = np.abs(np.diff(col))
        nz = d1[d1 > 1e-9 * max(1.0, abs(float(hi)))]
        q = float(nz.min()) if len(nz) else 0.0
        d2 = np.abs(np.diff(col, 2))
        sigma = 1.4826 * float(np.median(d2)) / np.sqrt(6.0)
        floor = max(sigma, q / np.sqrt(12.0))
        levels = len(np.unique(col[: min(len(col), 200_000)]))
        if levels <= MAX_SWITCH_LEVELS:
            if not allow_switch:
                dropped[name] = f"quantised to {levels} values (a switch, not a motion)"
                continue
            q, floor = 0.0, 0.0  # a switch: its steps are the signal, not noise
        elif rng < max(MIN_RANGE_IN_QUANTA * q, MIN_RANGE_IN_NOISE * sigma):
            dropped[name] = f"near-constant (moves {rng:.3g} over its 1–99 % range; step {q:.3g}, noise {sigma:.3g})"
            continue
        keep.append(j)
        scales.append(rng)
        noises.append(floor / rng)
        quanta.append(q / rng)
    return DimPlan(tuple(keep), np.asarray(scales, dtype=np.float64), np.asarray(noises, dtype=np.float64),
                   np.asarray(quanta, dtype=np.float64), dropped)


def scaled(x: np.ndarray, plan: DimPlan, empty) -> np.ndarray:
    """The kept columns of `x` divided by their scale: (frames, kept) float32, column-major."""
    z = empty((len(x), len(plan.keep)), np.float32, order="F")
    for i, j in enumerate(plan.keep):
        np.divide(x[:, j], np.float32(plan.scale[i]), out=z[:, i])
    return z


def half_window(fps: float, seconds: float = SMOOTH_HALF_S) -> int:
    return max(1, int(round(seconds * float(fps))))


def moving_average(col: np.ndarray, starts: np.ndarray, lengths: np.ndarray, h: int, out: np.ndarray) -> None:
    """Centred moving average of half-width `h` within each episode (the window shrinks at
    an episode's first and last `h` frames); written into `out` (float32)."""
    n = len(col)
    c = np.empty(n + 1, dtype=np.float64)
    c[0] = 0.0
    np.cumsum(col, dtype=np.float64, out=c[1:])
    w = 2 * h + 1
    if n >= w:
        out[h:n - h] = (c[w:] - c[:n - w + 1]) / w
    # frames near an episode's start or end: a window clipped to the episode
    ends = starts + lengths
    near = np.concatenate([starts[:, None] + np.arange(h)[None, :], ends[:, None] - 1 - np.arange(h)[None, :]], axis=1)
    ep_start = np.repeat(starts, 2 * h)
    ep_end = np.repeat(ends, 2 * h)
    t = near.reshape(-1)
    ok = (t >= ep_start) & (t < ep_end)
    t, ep_start, ep_end = t[ok], ep_start[ok], ep_end[ok]
    lo = np.maximum(t - h, ep_start)
    hi = np.minimum(t + h + 1, ep_end)
    out[t] = (c[hi] - c[lo]) / (hi - lo)


def segment_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(np.asarray(values, dtype=np.float64), starts, axis=0) if len(values) else np.zeros(len(starts))


def run_lengths_per_episode(flag: np.ndarray, starts: np.ndarray, lengths: np.ndarray, min_run: int) -> np.ndarray:
    """Frames per episode that lie in runs of `flag` at least `min_run` frames long (runs
    never cross episode boundaries)."""
    f = np.asarray(flag, dtype=bool)
    if not len(f):
        return np.zeros(len(starts))
    prev = np.empty_like(f)
    prev[0] = False
    prev[1:] = f[:-1]
    prev[starts] = False
    nxt = np.empty_like(f)
    nxt[-1] = False
    nxt[:-1] = f[1:]
    nxt[starts + lengths - 1] = False
    run_starts = np.flatnonzero(f & ~prev)
    run_ends = np.flatnonzero(f & ~nxt) + 1
    length = run_ends - run_starts
    long = length >= min_run
    ep = np.searchsorted(starts, run_starts[long], side="right") - 1
    return np.bincount(ep, weights=length[long], minlength=len(starts)).astype(np.float64)


def savgol_weights(h: int) -> np.ndarray:
    """Savitzky–Golay smoothing weights (quadratic fit over 2h+1 frames, h ≥ 2): a local
    parabola passes through, so smooth acceleration is kept and only faster wiggle is left."""
    m = h
    k = np.arange(-m, m + 1, dtype=np.float64)
    return (3.0 * (3 * m * m + 3 * m - 1) - 15.0 * k * k) / ((2 * m - 1) * (2 * m + 1) * (2 * m + 3))


def savgol_residual(col: np.ndarray, h: int, out: np.ndarray) -> None:
    """out[t] = col[t] − (quadratic Savitzky–Golay fit at t) for frames with a full window
    (others are left for the caller to mask)."""
    n = len(col)
    wts = savgol_weights(h)
    out[:] = 0.0
    if n <= 2 * h:
        return
    inner = out[h:n - h]
    inner[:] = col[h:n - h]
    for i, w in enumerate(wts):
        inner -= np.float32(w) * col[i:n - 2 * h + i]


def _flat_filter(x: np.ndarray, pos: np.ndarray, rem: np.ndarray, h: int, op, out: np.ndarray) -> None:
    """out[t] = op over x[t−h … t+h] clipped to t's episode (`pos` frames since its start,
    `rem` frames until its end): `op` is np.maximum (dilation) or np.minimum (erosion)."""
    out[:] = x
    n = len(x)
    for s_ in range(1, h + 1):
        if s_ >= n:
            break
        op(out[:n - s_], x[s_:], out=out[:n - s_], where=rem[:n - s_] >= s_)  # look ahead
        op(out[s_:], x[:n - s_], out=out[s_:], where=pos[s_:] >= s_)  # look back


def flicker(g: np.ndarray, pos: np.ndarray, rem: np.ndarray, h: int, out: np.ndarray) -> None:
    """out = |g − open(close(g))| with a flat window of ±h frames inside each episode: a
    clean step (a gripper closing) survives closing and opening unchanged, a flicker
    narrower than the window is removed — so only the flicker is left in `out`."""
    a = np.empty_like(out)
    b = np.empty_like(out)
    _flat_filter(g, pos, rem, h, np.maximum, a)  # close = erode(dilate)
    _flat_filter(a, pos, rem, h, np.minimum, b)
    _flat_filter(b, pos, rem, h, np.minimum, a)  # open = dilate(erode)
    _flat_filter(a, pos, rem, h, np.maximum, b)
    np.subtract(g, b, out=out)
    np.abs(out, out=out)
