"""Built-in curation metrics and the `metrics` / `tags` / `notes` catalog views.

A plugin like any third-party one: it implements `studio_episode_metrics` and
`studio_catalog_views` and is registered by entry point in pyproject.toml.

Every metric is vectorised over all episodes (segment reductions over the sorted frame
arrays of `EpisodeFrames`); the motion feature is scaled per dimension by its dataset-wide
1–99 % range so joints in different units weigh alike.
"""

from __future__ import annotations

import numpy as np

from studio.hookspecs import hookimpl

# Spectral arc length (Balasubramanian et al. 2015): cut-off and amplitude threshold.
SPARC_FC_HZ = 10.0
SPARC_AMP_TH = 0.05
SPARC_BATCH_FRAMES = 4_000_000
IDLE_FRACTION_OF_P95 = 0.05
IDLE_WINDOW_S = 0.5
SATURATION_TOL = 0.005


def duration_s(fr):
    return fr.lengths / fr.fps


def path_length(fr):
    sp = fr.speed("motion")
    return fr.segment_sum(sp) / fr.fps


def _displacement(fr):
    z = fr.standardized("motion")
    ends = fr.starts + fr.lengths - 1
    d = z[ends].astype(np.float64) - z[fr.starts]
    return np.sqrt((d * d).sum(axis=1))


def path_efficiency(fr):
    pl = path_length(fr)
    return np.where(pl > 1e-9, np.minimum(_displacement(fr) / np.maximum(pl, 1e-9), 1.0), 1.0)


def _jerk_sq(fr, which):
    """Squared jerk magnitude per frame (third difference × fps³); 0 where the window
    would straddle an episode start."""
    if hasattr(fr, "jerk_sq"):  # same values, computed in chunks (benchmarks/metrics.py)
        return fr.jerk_sq(which)
    z = fr.standardized(which)
    j = np.zeros(len(z), dtype=np.float64)
    if len(z) < 4:
        return j
    acc = np.zeros(len(z) - 3, dtype=np.float32)
    for k in range(z.shape[1]):  # per dimension: no (frames × dims) temporaries
        c = z[:, k]
        d3 = c[3:] - c[:-3] + 3 * (c[1:-2] - c[2:-1])
        acc += d3 * d3
    j[3:] = acc
    j *= float(fr.fps) ** 6
    del acc
    j[fr.position_in_episode() < 3] = 0.0
    return j


def jerk(fr):
    """Log dimensionless jerk (Hogan & Sternad; Balasubramanian 2015) of the state motion:
    ln(T³ / v_peak² · ∫|jerk|² dt) — independent of speed and size, lower is smoother."""
    integral = fr.segment_sum(_jerk_sq(fr, "motion")) / fr.fps
    duration = fr.lengths / fr.fps
    v_peak = fr.segment_max(fr.speed("motion")).astype(np.float64)
    ok = (integral > 0) & (v_peak > 0) & (fr.lengths >= 4)
    out = np.full(fr.n_episodes, np.nan)  # a still or tiny episode has no defined jerk
    out[ok] = np.log(duration[ok] ** 3 / v_peak[ok] ** 2 * integral[ok])
    return out


def sparc(fr):
    """Spectral arc length of the speed profile, batched FFT over zero-padded episodes."""
    sp = fr.speed("motion")
    out = np.zeros(fr.n_episodes)
    fs = float(fr.fps)
    fc = min(SPARC_FC_HZ, fs / 2.0)
    order = np.argsort(fr.lengths, kind="stable")  # batch similar lengths: less padding
    nffts = 2 ** (np.ceil(np.log2(np.maximum(fr.lengths[order], 2))) + 2).astype(np.int64)
    i = 0
    while i < len(order):  # one iteration per batch of episodes
        j = min(len(order), i + max(1, SPARC_BATCH_FRAMES // int(nffts[i])))
        while j > i + 1 and (j - i) * int(nffts[j - 1]) > SPARC_BATCH_FRAMES:
            j = i + (j - i) // 2
        idx = order[i:j]
        nfft = int(nffts[j - 1])
        lens = fr.lengths[idx]
        max_len = int(lens.max())
        if hasattr(fr, "padded_rows"):  # same matrix; a reshaped slice when it can be
            buf = fr.padded_rows(sp, idx, max_len)
        else:
            buf = np.zeros((len(idx), max_len), dtype=np.float32)
            # scatter every episode's speed into its row (no per-frame loop)
            rows = np.repeat(np.arange(len(idx)), lens)
            cols = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
            buf[rows, cols] = sp[np.repeat(fr.starts[idx], lens) + cols]
        n_bins = int(np.floor(fc * nfft / fs)) + 1
        spec = np.abs(np.fft.rfft(buf, n=nfft, axis=1)[:, :n_bins])
        del buf
        peak = spec.max(axis=1, keepdims=True)
        mag = spec / np.where(peak > 0, peak, 1.0)
        above = mag >= SPARC_AMP_TH
        last = n_bins - 1 - np.argmax(above[:, ::-1], axis=1)  # last bin above threshold
        last = np.maximum(last, 1)
        df = fs / nfft
        fc_eff = last * df
        dm = np.diff(mag, axis=1)
        steps = np.sqrt((df / fc_eff)[:, None] ** 2 + dm**2)
        keep = np.arange(n_bins - 1)[None, :] < last[:, None]
        vals = -(steps * keep).sum(axis=1)
        vals[peak[:, 0] <= 0] = 0.0  # a still episode is trivially smooth
        out[idx] = vals
        i = j
    return out


def idle_fraction(fr):
    """Share of frames whose windowed speed is under 5 % of the dataset's typical (p95) speed."""
    sp, valid = fr.window_speed("motion", IDLE_WINDOW_S)
    sample = sp[valid][:: max(1, int(valid.sum()) // 500_000)]
    if len(sample) == 0 or float(np.percentile(sample, 95)) <= 0:
        return np.zeros(fr.n_episodes)
    thr = IDLE_FRACTION_OF_P95 * float(np.percentile(sample, 95))
    idle = ((sp < thr) & valid).astype(np.float32)
    return fr.segment_sum(idle) / np.maximum(fr.segment_sum(valid), 1)


def _gripper_column(fr):
    dim = fr.gripper_dim("command")
    return None if dim is None else fr.command[:, dim]


def gripper_toggles(fr):
    """Open/close switches of the gripper command (hysteresis at 40 % / 60 % of its range)."""
    g = _gripper_column(fr)
    if g is None:
        return None
    sample = g[:: max(1, len(g) // 200_000)]
    lo, hi = np.percentile(sample, [1, 99])
    if hi - lo <= 1e-9:
        return np.zeros(fr.n_episodes)
    if hasattr(fr, "hysteresis_toggles"):  # same counts, computed in chunks (benchmarks/metrics.py)
        return fr.hysteresis_toggles(g, lo, hi)
    u = (g - np.float32(lo)) / np.float32(hi - lo)
    state = np.full(len(u), np.nan, dtype=np.float32)
    state[u > 0.6] = 1.0
    state[u < 0.4] = 0.0
    state[fr.starts] = (u[fr.starts] >= 0.5).astype(np.float32)
    del u
    # forward-fill the undecided frames (hysteresis) without a loop
    idx = np.where(np.isnan(state), 0, np.arange(len(state)))
    np.maximum.accumulate(idx, out=idx)
    state = state[idx]
    change = np.zeros(len(state), dtype=np.float32)
    change[1:] = state[1:] != state[:-1]
    change[fr.starts] = 0
    return fr.segment_sum(change)


def action_saturation(fr):
    """Share of frames with a command dimension pinned at its dataset-wide limit."""
    x = fr.command
    g = fr.gripper_dim("command")
    # an open/closed gripper sits at its limits by design
    dims = [j for j in range(x.shape[1]) if j != g or x.shape[1] == 1]
    sat = np.zeros(len(x), dtype=bool)
    for j in dims:  # one dimension at a time: no (frames × dims) temporaries
        col = x[:, j]
        lo, hi = float(col.min()), float(col.max())
        if hi - lo <= 1e-9:
            continue
        tol = SATURATION_TOL * (hi - lo)
        sat |= (col <= lo + tol) | (col >= hi - tol)
    return fr.segment_mean(sat)


def success(fr):
    if "next.success" in fr.extras:
        return fr.segment_max(np.nan_to_num(fr.extras["next.success"]))
    if "next.reward" in fr.extras:
        return (fr.segment_max(np.nan_to_num(fr.extras["next.reward"])) > 0).astype(np.float64)
    return None


def scene_change(fr):
    """How far the recorded scene (environment state, e.g. the object pose) moved from the
    first to the last frame, relative to the dataset's median episode, capped at 1: a demo
    that leaves the scene as it found it did not do the task."""
    env = fr.environment
    if env is None:
        return None
    ends = fr.starts + fr.lengths - 1
    sample = env[:: max(1, len(env) // 200_000)]
    lo, hi = np.percentile(sample, [1, 99], axis=0)
    scale = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    d = (env[ends].astype(np.float64) - env[fr.starts]) / scale
    moved = np.sqrt((d * d).sum(axis=1))
    typical = float(np.median(moved))
    if typical <= 1e-9:
        return None  # the scene never changes in this dataset: nothing to measure
    return np.minimum(moved / typical, 1.0)


def total_reward(fr):
    if "next.reward" not in fr.extras:
        return None
    return fr.segment_sum(np.nan_to_num(fr.extras["next.reward"]))


@hookimpl
def studio_episode_metrics():
    from studio.curation.metrics import EpisodeMetric as M

    return [
        M("success", "1 when the episode records success (next.success, or a positive next.reward)", "higher", success, weight=3.0),
        M("scene_change", "scene (environment state) change first→last frame vs the median episode, capped at 1",
          "higher", scene_change, weight=2.0),
        M("duration_s", "episode duration in seconds", "lower", duration_s),
        M("path_length", "distance travelled by the state, in standardized units", "lower", path_length, weight=0.5),
        M("path_efficiency", "straight-line start→end distance over path length (1 = straight)", "higher", path_efficiency),
        M("jerk", "log dimensionless jerk of the state motion (speed- and size-free)", "lower", jerk),
        M("sparc", "spectral arc length of the speed profile (closer to 0 = smoother)", "higher", sparc),
        M("idle_fraction", "share of frames where the arm is (almost) still", "lower", idle_fraction),
        M("gripper_toggles", "open/close switches of the gripper command (chatter)", "lower", gripper_toggles, weight=0.5),
        M("action_saturation", "share of frames with an action dimension at its limit", "lower", action_saturation, weight=0.5),
        M("total_reward", "sum of next.reward over the episode", "higher", total_reward, weight=0.0),
    ]


def _episode_tags_frame(dataset, project):
    from studio.curation.tags import tags_frame

    return tags_frame(project, dataset)


def _episode_notes_frame(dataset, project):
    from studio.curation.tags import notes_frame

    return notes_frame(project, dataset)


def _metrics_frame(dataset, project):
    import logging

    import pandas as pd

    from studio.curation.score import nullable, scored_metrics
    from studio.errors import StudioError

    try:
        return nullable(scored_metrics(dataset, project).df)
    except StudioError as exc:  # e.g. no numeric feature: the view exists, with no metric columns
        logging.getLogger("studio.curation").info("metrics view of %s: %s", dataset.root, exc.sentence())
        return pd.DataFrame({"episode_index": dataset.episodes["episode_index"].astype("int64").to_numpy()})


@hookimpl
def studio_catalog_views(dataset, project):
    return [
        ("metrics", lambda catalog: _metrics_frame(dataset, project)),
        ("tags", lambda catalog: _episode_tags_frame(dataset, project)),
        ("notes", lambda catalog: _episode_notes_frame(dataset, project)),
    ]
