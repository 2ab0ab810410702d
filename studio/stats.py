"""LeRobot-shaped feature statistics, vectorised over episodes (no per-frame Python loops).

Used wherever the studio writes a dataset (export of a selection, synthetic datasets), so
both write the same `stats/...` columns that lerobot computes.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)


def q_name(q: float) -> str:
    """0.01 -> 'q01', as lerobot names quantile stats."""
    return f"q{int(round(q * 100)):02d}"


def episode_stats(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *,
                  quantiles: bool = True) -> dict[str, np.ndarray]:
    """Per-episode min/max/mean/std/count (and quantiles), each of shape (n_episodes, d).

    `values` holds the frames of all episodes back to back; episode i is
    `values[starts[i]:starts[i] + lengths[i]]`. Integer features keep integer min/max.
    """
    v = values.reshape(len(values), -1)
    vf = v.astype(np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    cnt = lengths.astype(np.float64)[:, None]
    mean = np.add.reduceat(vf, starts, axis=0) / cnt
    sq = np.add.reduceat(vf * vf, starts, axis=0) / cnt
    out = {
        "min": np.minimum.reduceat(v, starts, axis=0),
        "max": np.maximum.reduceat(v, starts, axis=0),
        "mean": mean,
        "std": np.sqrt(np.maximum(sq - mean * mean, 0.0)),
        "count": lengths[:, None],
    }
    if not np.issubdtype(v.dtype, np.integer):
        out["min"] = out["min"].astype(np.float64)
        out["max"] = out["max"].astype(np.float64)
    if quantiles:
        ep = np.repeat(np.arange(len(lengths)), lengths)
        ends = starts + lengths - 1
        for q in QUANTILES:
            out[q_name(q)] = np.empty((len(lengths), v.shape[1]))
        for d in range(v.shape[1]):  # one sort per dimension, all episodes at once
            srt = vf[np.lexsort((vf[:, d], ep)), d]
            for q in QUANTILES:
                pos = starts + (lengths - 1) * q
                lo = np.floor(pos).astype(np.int64)
                hi = np.minimum(lo + 1, ends)
                frac = pos - lo
                out[q_name(q)][:, d] = srt[lo] * (1 - frac) + srt[hi] * frac
    return out
