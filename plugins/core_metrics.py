"""Built-in curation metrics and the `metrics` / `tags` / `notes` catalog views.

A plugin like any third-party one: it implements `studio_episode_metrics` and
`studio_catalog_views` and is registered by entry point in pyproject.toml.

Every metric is vectorised over all episodes (segment reductions over the sorted frame
arrays of `EpisodeFrames`) and reads the robust signals of studio.curation.signals (roles
from studio.datasets, each dimension scaled by its dataset-wide 1–99 % range, near-constant
and quantised dimensions dropped, low-passed before differentiating). Definitions,
directions, failure modes and validation: docs/curation.md.
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
        j = i + int(np.searchsorted(nffts[i:j], nffts[i], side="right"))  # one FFT size per batch: an
        # episode's value must not depend on which others share its batch
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
    roles = fr.roles("command")
    # an open/closed gripper or a resting hand sits at its limits by design
    dims = [j for j in range(x.shape[1]) if j != g and roles[j] == "arm"] or list(range(x.shape[1]))
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


# ------------------------------------------------------------------ robust defect metrics
# Each reads the robust signals of studio.curation.signals (arm dimensions scaled by their
# 1–99 % range, near-constant/quantised ones dropped, low-passed ~0.2 s) and is normalised
# by time, so that only `duration_s` measures length.

PAUSE_MIN_S = 0.3  # a stillness inside the task shorter than this is a turn, not a pause
RETRACE_WINDOW_S = 1.0  # path doubling back within this window is a retrace
CHATTER_HALF_S = 0.15  # gripper flicker: what a ±0.15 s closing-opening removes
TREMOR_HALF_S = 0.1  # quadratic fit over ±0.1 s (at least ±2 frames)
SURPRISE_MAX_ROWS = 500_000  # frames the consistency regression reads (evenly strided)
SURPRISE_RIDGE = 1e-3


def lead_in_s(fr):
    """Seconds before the arm first moves (recording slack, not a defect of the demo)."""
    act = fr.activity()
    if act is None:
        return None
    _, first, _ = act
    return np.minimum(first, fr.lengths) / fr.fps


def tail_s(fr):
    """Seconds after the arm last moves."""
    act = fr.activity()
    if act is None:
        return None
    _, _, last = act
    return np.where(last >= 0, fr.lengths - 1 - last, fr.lengths) / fr.fps


def _active_span(fr):
    """(in_span per frame, span length per episode): frames from the first to the last
    active frame of their episode."""
    active, first, last = fr.activity()
    pos = fr.position_in_episode()
    f = np.repeat(first.astype(np.int32), fr.lengths)
    l_ = np.repeat(last.astype(np.int32), fr.lengths)
    in_span = (pos >= f) & (pos <= l_)
    span = np.maximum(last - first + 1, 0)
    return in_span, span


def pause_fraction(fr):
    """Share of the active span (first to last motion, lead-in and tail trimmed) spent in
    still stretches of at least PAUSE_MIN_S: mid-task hesitation."""
    act = fr.activity()
    if act is None:
        return None
    from studio.curation.signals import run_lengths_per_episode

    active, first, last = act
    in_span, span = _active_span(fr)
    still = in_span & ~active
    min_run = max(2, int(round(PAUSE_MIN_S * fr.fps)))
    paused = run_lengths_per_episode(still, fr.starts, fr.lengths, min_run)
    return np.where(span > 0, paused / np.maximum(span, 1), 0.0)


def tremor(fr):
    """RMS of the arm's fast wiggle over the active span: each joint (in units of its
    range) minus a local quadratic (Savitzky–Golay) fit over ±TREMOR_HALF_S, so smooth
    acceleration passes and tremor, shake and jitter above ~3 Hz remain."""
    z = fr.robust("motion", "arm")
    if z is None or z.shape[1] == 0 or fr.activity() is None:
        return None
    from studio.curation.signals import half_window, savgol_residual

    h = max(2, half_window(fr.fps, TREMOR_HALF_S))
    acc = np.zeros(len(z), dtype=np.float32)
    t = np.empty(len(z), dtype=np.float32)
    for d in range(z.shape[1]):
        savgol_residual(z[:, d], h, t)
        np.multiply(t, t, out=t)
        acc += t
    in_span, _ = _active_span(fr)
    pos = fr.position_in_episode()
    ok = in_span & (pos >= h) & (pos <= np.repeat(fr.lengths - 1 - h, fr.lengths))
    acc[~ok] = 0.0
    return np.sqrt(fr.segment_sum(acc) / np.maximum(fr.segment_sum(ok), 1))


def retrace(fr):
    """Share of the path that doubles back within RETRACE_WINDOW_S: 1 − (net displacement
    over each 1 s window) / (path travelled in it), summed over the episode. 0 = never
    backtracks; retraces, re-approaches and dithering raise it."""
    s = fr.smooth("motion", "arm")
    if s is None or s.shape[1] == 0:
        return None
    n = len(s)
    w = max(2, int(round(RETRACE_WINDOW_S * fr.fps)))
    from studio.curation.metrics import _norm_diff

    step = np.zeros(n, dtype=np.float32)
    if n > 1:
        _norm_diff(s, 1, 1.0, step[1:])
    step[fr.starts] = 0.0  # no step across an episode boundary
    cum = np.empty(n + 1, dtype=np.float64)
    cum[0] = 0.0
    np.cumsum(step, dtype=np.float64, out=cum[1:])
    pos = fr.position_in_episode()
    valid = pos <= np.repeat((fr.lengths - 1 - w).astype(np.int32), fr.lengths)
    del step
    net = np.zeros(n, dtype=np.float32)
    if n > w:
        _norm_diff(s, w, 1.0, net[: n - w])
    travelled = np.zeros(n, dtype=np.float32)
    if n > w:
        np.subtract(cum[w + 1:n + 1], cum[1:n - w + 1], out=travelled[: n - w], casting="same_kind")
    del cum
    travelled[~valid] = 0.0
    net[~valid] = 0.0
    t_sum = fr.segment_sum(travelled)
    n_sum = fr.segment_sum(net)
    return np.where(t_sum > 1e-9, np.clip(1.0 - n_sum / np.maximum(t_sum, 1e-12), 0.0, 1.0), 0.0)


def command_roughness(fr):
    """Stair-stepped commands: Σ‖Δ²a‖² / Σ‖Δa‖² of the arm command (steps within one
    quantum zeroed first). ~0 for a smooth command, ~2 for one held and snapped."""
    plan = fr.plan("command", "arm")
    if plan is None or not plan.keep:
        return None
    n = fr.n_frames
    pos = fr.position_in_episode()
    num = np.zeros(n, dtype=np.float32)
    den = np.zeros(n, dtype=np.float32)
    d1 = np.zeros(n, dtype=np.float32)
    d2 = np.zeros(n, dtype=np.float32)
    for d in range(len(plan.keep)):
        db = 1.5 * plan.quantum[d] if plan.quantum[d] > 0 else 2.0 * plan.noise[d]
        col = fr.column("command", "arm", d)
        d1[0] = 0.0
        np.subtract(col[1:], col[:-1], out=d1[1:])
        del col
        d1[pos < 1] = 0.0
        d1[np.abs(d1) <= np.float32(db)] = 0.0
        d2[0] = 0.0
        np.subtract(d1[1:], d1[:-1], out=d2[1:])
        d2[pos < 2] = 0.0
        num += d2 * d2
        den += d1 * d1
    a, b = fr.segment_sum(num), fr.segment_sum(den)
    return np.where(b > 0, a / np.maximum(b, 1e-30), 0.0)


def _paired_dims(fr):
    """(command columns, motion columns, scales) of the arm dimensions both features
    name alike (a position command next to its measured position); None otherwise."""
    if fr.command is None or fr.motion is None or fr.command_key == fr.motion_key:
        return None
    plan = fr.plan("motion", "arm")
    cnames = fr.names_of("command")
    mnames = fr.names_of("motion")
    if not fr.command_names or not fr.motion_names:
        return None
    idx = {n: i for i, n in enumerate(cnames)}
    pairs = [(idx[mnames[j]], j, plan.scale[i]) for i, j in enumerate(plan.keep) if mnames[j] in idx]
    if not pairs:
        return None
    return pairs


TRACKING_MAX_LAG_S = 0.5
TRACKING_SAMPLE_ROWS = 50_000  # frames the dataset's typical lag is read from


def tracking_error(fr):
    """RMS gap between the arm command and the measured position it leads to, at the
    dataset's typical command→state lag, in units of each joint's range: laggy,
    overshooting or stepped commands the robot could not follow."""
    pairs = _paired_dims(fr)
    if pairs is None:
        return None
    from studio.curation.signals import sample_rows

    n = len(fr.command)
    kmax = max(1, int(round(TRACKING_MAX_LAG_S * fr.fps)))
    rows = sample_rows(n)[:TRACKING_SAMPLE_ROWS]
    row_end = (fr.starts + fr.lengths)[np.searchsorted(fr.starts, rows, side="right") - 1]
    err = []
    for k in range(kmax + 1):  # the dataset's typical lag, from a sample
        ok = rows[rows + k < row_end]
        e = 0.0
        for c, m, sc in pairs:
            d = (fr.command[ok, c].astype(np.float64) - fr.motion[ok + k, m]) / sc
            e += float(np.mean(d * d)) if len(d) else 0.0
        err.append(e)
    lag = int(np.argmin(err))
    pos = fr.position_in_episode()
    acc = np.zeros(n, dtype=np.float32)
    t = np.empty(max(n - lag, 0), dtype=np.float32)
    for c, m, sc in pairs:
        np.subtract(fr.command[: n - lag, c], fr.motion[lag:, m], out=t)
        t *= np.float32(1.0 / sc)
        np.multiply(t, t, out=t)
        acc[: n - lag] += t
    valid = pos <= np.repeat(fr.lengths - 1 - lag, fr.lengths)
    acc[~valid] = 0.0
    cnt = fr.segment_sum(valid)
    return np.sqrt(fr.segment_sum(acc) / np.maximum(cnt, 1))


def gripper_chatter(fr):
    """Mean flicker of the gripper/hand command per frame, in units of its range: what a
    ±0.15 s closing-then-opening (a median-like filter that keeps steps) removes. A clean
    open or close is a step and leaves nothing; chatter shorter than the window remains."""
    plan = fr.plan("command", "grip")
    if plan is None or not plan.keep:
        return None
    from studio.curation.signals import flicker, half_window

    h = half_window(fr.fps, CHATTER_HALF_S)
    pos = fr.position_in_episode()
    rem = np.repeat((fr.lengths - 1).astype(np.int32), fr.lengths) - pos
    acc = np.zeros(fr.n_frames, dtype=np.float32)
    m = np.empty(fr.n_frames, dtype=np.float32)
    for d in range(len(plan.keep)):
        flicker(np.ascontiguousarray(fr.column("command", "grip", d)), pos, rem, h, m)
        acc += m
    return fr.segment_mean(acc) / len(plan.keep)


def _surprise_design(fr, rows):
    """Features (1, state positions, low-passed state velocity) and targets (the command)
    of the given rows: float64, column-major, gathered from the raw features."""
    feats = [fr.gather("motion", fam, rows) for fam in ("arm", "grip")]
    targets = [fr.gather("command", fam, rows) for fam in ("arm", "grip")]
    if not sum(t.shape[1] for t in targets):
        return None, None
    s = fr.smooth("motion", "arm")
    vel = np.zeros((len(rows), 0))
    if s is not None and s.shape[1]:
        last = (fr.starts + fr.lengths - 1)[np.searchsorted(fr.starts, rows, side="right") - 1]
        nxt = np.minimum(rows + 1, last)
        vel = (s[nxt].astype(np.float64) - s[rows]) * fr.fps
    X = np.asfortranarray(np.concatenate([np.ones((len(rows), 1))] + feats + [vel], axis=1))
    Y = np.asfortranarray(np.concatenate(targets, axis=1))
    return X, Y


def action_surprise(fr):
    """Consistency (in the spirit of CUPID / DemInf): how badly a ridge regression of the
    command on the state (positions and velocity) fitted on every *other* episode predicts
    this episode's commands; mean squared error relative to the dataset's median episode.
    1 = typical; high = this operator acts unlike the rest of the dataset for the same state."""
    if fr.command is None or fr.motion is None or fr.n_episodes < 3:
        return None
    stride = max(1, int(np.ceil(fr.n_frames / SURPRISE_MAX_ROWS)))
    pos = fr.position_in_episode()
    take = (pos % stride == 0) if stride > 1 else np.ones(fr.n_frames, dtype=bool)
    if fr.activity() is not None:  # the task, not the recording slack around it (trivially predictable)
        in_span, span = _active_span(fr)
        take &= in_span | np.repeat(span == 0, fr.lengths)
    rows = np.flatnonzero(take)
    ep = np.searchsorted(fr.starts, rows, side="right") - 1
    chunk = 200_000
    xtx = xty = yty = None
    for a in range(0, len(rows), chunk):  # per-episode sufficient statistics, chunk by chunk
        r = rows[a:a + chunk]
        X, Y = _surprise_design(fr, r)
        if X is None:
            return None
        e = ep[a:a + chunk]
        if xtx is None:
            p, q = X.shape[1], Y.shape[1]
            xtx = np.zeros((fr.n_episodes, p, p))
            xty = np.zeros((fr.n_episodes, p, q))
            yty = np.zeros(fr.n_episodes)
        cuts = np.flatnonzero(np.r_[True, e[1:] != e[:-1]])
        ids = e[cuts]
        # one pass per entry of XᵀX (upper triangle) and XᵀY: no (rows × p × p) temporary
        for i in range(p):
            for j in range(i, p):
                v = np.add.reduceat(X[:, i] * X[:, j], cuts)
                xtx[ids, i, j] += v
                if j != i:
                    xtx[ids, j, i] += v
            for j in range(q):
                xty[ids, i, j] += np.add.reduceat(X[:, i] * Y[:, j], cuts)
        yty[ids] += np.add.reduceat((Y * Y).sum(axis=1), cuts)
    p = xtx.shape[1]
    tot_xx, tot_xy = xtx.sum(axis=0), xty.sum(axis=0)
    lam = SURPRISE_RIDGE * max(float(np.trace(tot_xx)) / p, 1e-12)
    A = tot_xx[None] - xtx + lam * np.eye(p)[None]
    B = tot_xy[None] - xty
    beta = np.linalg.solve(A, B)  # (episodes, p, q): each fitted without its own episode
    sse = yty - 2.0 * np.einsum("epq,epq->e", beta, xty) + np.einsum("epq,epr,erq->e", beta, xtx, beta)
    counts = np.bincount(ep, minlength=fr.n_episodes) * xty.shape[2]  # rows read per episode × targets
    mse = np.maximum(sse, 0.0) / np.maximum(counts, 1)
    typical = float(np.median(mse))
    return mse / typical if typical > 0 else np.zeros(fr.n_episodes)


@hookimpl
def studio_episode_metrics():
    from studio.curation.metrics import EpisodeMetric as M

    return [
        M("success", "1 when the episode records success (next.success, or a positive next.reward)", "higher", success,
          weight=4.0, ideal=1.0, scale=0.25),
        M("scene_change", "scene (environment state) change first→last frame vs the median episode, capped at 1",
          "higher", scene_change, weight=2.0, ideal=1.0, scale=0.25),
        M("duration_s", "episode duration in seconds (the one metric that measures length)", "lower", duration_s),
        M("pause_fraction", "share of the active span (lead-in and tail trimmed) spent in still stretches ≥ 0.3 s",
          "lower", pause_fraction),
        M("tremor", "RMS high-frequency content of the arm (above ~2.5 Hz), in units of each joint's range",
          "lower", tremor),
        M("retrace", "share of the path that doubles back within 1 s (retraces, re-approaches)", "lower", retrace),
        M("command_roughness", "Σ‖Δ²a‖² / Σ‖Δa‖² of the arm command: ~0 smooth, ~2 held-and-snapped", "lower",
          command_roughness),
        M("tracking_error", "RMS gap between command and measured position at the typical lag (range units)",
          "lower", tracking_error, weight=0.5),
        M("gripper_chatter", "mean flicker of the gripper/hand command around its 0.3 s average (range units)",
          "lower", gripper_chatter),
        M("action_surprise", "error predicting the commands from the state with a model fitted on the other "
          "episodes, vs the median episode (consistency)", "lower", action_surprise),
        M("lead_in_s", "seconds before the arm first moves (recording slack; shown, not scored)", "lower", lead_in_s,
          weight=0.0),
        M("tail_s", "seconds after the arm last moves (recording slack; shown, not scored)", "lower", tail_s, weight=0.0),
        M("path_length", "distance travelled by the arm, in units of each joint's range", "lower", path_length,
          weight=0.0),
        M("path_efficiency", "straight-line start→end distance over path length (1 = straight; meaningless for "
          "tasks that return home)", "higher", path_efficiency, weight=0.0),
        M("jerk", "log dimensionless jerk of the arm motion (speed- and size-free)", "lower", jerk),
        M("sparc", "spectral arc length of the speed profile (closer to 0 = smoother)", "higher", sparc, weight=0.0),
        M("idle_fraction", "share of frames where the arm is (almost) still, slack included", "lower", idle_fraction,
          weight=0.0),
        M("gripper_toggles", "open/close switches of the gripper command", "lower", gripper_toggles, weight=0.5),
        M("action_saturation", "share of frames with an arm command dimension at its limit", "lower",
          action_saturation, weight=0.0),
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
