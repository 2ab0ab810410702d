"""Labelled test sets for the quality score (tests/test_curation_quality.py).

1. `so101_windows`: the real SO-101 recording (tests/data/so101_record_test) cut into many
   windows of equal length; each window is kept clean and also degraded once per defect
   kind — a ~1 s mid-task pause, tremor of a few % of a joint's range, a retrace under a
   second, commands held and snapped at a few Hz, gripper chatter. Lengths never change,
   so the −length baseline is at chance.
2. `graded_operators`: an independently generated set with its own operator models
   (not the demo world's): a 5-joint arm in mixed units (degrees and radians, quantised
   like real encoders), a near-constant wrist, a five-finger hand resting at its limit,
   idle lead-in and tail of random length for everyone, 50 fps. Experts move smoothly;
   each other operator has one or two habits (hesitation, shake, retracing, stepped
   commands, fumbling fingers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from studio.synthetic import SO101_JOINTS, write_arrays_dataset

SO101 = Path(__file__).parent / "data" / "so101_record_test"
KINDS = ("pause", "tremor", "retrace", "held_commands", "gripper_chatter")


def _load_so101():
    d = pd.read_parquet(SO101 / "data/chunk-000/file-000.parquet").sort_values(["episode_index", "frame_index"])
    a = np.stack(d["action"].to_numpy()).astype(np.float64)
    s = np.stack(d["observation.state"].to_numpy()).astype(np.float64)
    return d["episode_index"].to_numpy(), a, s


def _quantum(col):
    d = np.abs(np.diff(col))
    d = d[d > 1e-6]
    return float(d.min()) if len(d) else 0.0


def _lowpass(x, alpha):
    """First-order follower (what a position-controlled joint does with a command)."""
    y = np.empty_like(x)
    y[0] = x[0]
    for t in range(1, len(x)):
        y[t] = y[t - 1] + alpha * (x[t] - y[t - 1])
    return y


def _moving_frames(s, thr_frac=0.15):
    sp = np.abs(np.diff(s[:, :5], axis=0)).sum(axis=1)
    sp = np.convolve(sp, np.ones(5) / 5, mode="same")
    return np.flatnonzero(sp > thr_frac * np.percentile(sp, 95))


def degrade(kind, a, s, rng, ranges, quanta, fps=30):
    """One defect of `kind` on a window (a: commands, s: measured state); same length."""
    a, s = a.copy(), s.copy()
    n = len(a)
    moving = _moving_frames(s)
    mid = moving[(moving > n * 0.2) & (moving < n * 0.75)]
    t0 = int(rng.choice(mid)) if len(mid) else n // 2
    if kind == "pause":
        k = int(round(rng.uniform(0.8, 1.2) * fps))
        for x in (a, s):
            x[t0 + k:] = x[t0:n - k].copy()
            x[t0:t0 + k] = x[t0]
    elif kind == "tremor":
        k = int(round(rng.uniform(1.5, 2.0) * fps))
        t = np.arange(k) / fps
        env = np.sin(np.pi * np.arange(k) / k) ** 0.5
        for j in rng.choice(5, size=2, replace=False):
            amp = rng.uniform(0.02, 0.04) * ranges[j]
            wave = amp * env * np.sin(2 * np.pi * rng.uniform(4, 8) * t + rng.uniform(0, 6.28))
            seg = slice(t0, min(n, t0 + k))
            m = seg.stop - seg.start
            a[seg, j] += wave[:m]
            s[seg, j] += 0.8 * wave[:m]
    elif kind == "retrace":
        sp = np.abs(np.diff(s[:, :5], axis=0)).sum(axis=1)
        fast = np.flatnonzero(sp[: n - 30] >= np.percentile(sp[: n - 30], 70))
        t0 = int(rng.choice(fast[(fast > 5)])) if len(fast[fast > 5]) else t0
        k = int(round(rng.uniform(0.7, 0.95) * fps))
        u = np.linspace(0, 1, k)
        g = np.interp(u, [0, 0.4, 0.7, 1.0], [0, 0.8, 0.25, 1.0])
        tau = t0 + g * (k - 1)
        idx = np.arange(n)
        for x in (a, s):
            src = x.copy()
            for j in range(x.shape[1]):
                x[t0:t0 + k, j] = np.interp(tau, idx, src[:, j])[: len(x[t0:t0 + k])]
    elif kind == "held_commands":
        hz = rng.uniform(3, 5)
        step = fps / hz
        held = (np.floor(np.arange(n) / step) * step).astype(int)
        a_new = a[held]
        s = s + np.column_stack([_lowpass(a_new[:, j] - a[:, j], 0.35) for j in range(a.shape[1])])
        a = a_new
    elif kind == "gripper_chatter":
        k = int(round(rng.uniform(0.7, 1.0) * fps))
        t = np.arange(k) / fps
        amp = rng.uniform(0.08, 0.12) * ranges[5]
        wave = amp * np.sign(np.sin(2 * np.pi * rng.uniform(5, 8) * t))
        seg = slice(t0, min(n, t0 + k))
        m = seg.stop - seg.start
        a[seg, 5] += wave[:m]
        s[seg, 5] += 0.5 * _lowpass(wave, 0.5)[:m]
    else:
        raise ValueError(kind)
    # the state is read from encoders: it stays on their grid
    for j in range(s.shape[1]):
        if quanta[j] > 0:
            s[:, j] = np.round(s[:, j] / quanta[j]) * quanta[j]
    return a, s


def so101_windows(root, *, window=150, stride=8, seed=0):
    """Write the windowed, degraded SO-101 set to `root`; returns labels: a DataFrame with
    episode_index, good (1 clean / 0 degraded), kind ('clean' or the defect)."""
    rng = np.random.default_rng(seed)
    ep, a, s = _load_so101()
    ranges = np.percentile(s, 99, axis=0) - np.percentile(s, 1, axis=0)
    quanta = [_quantum(s[:, j]) for j in range(s.shape[1])]
    wins = []
    for e in np.unique(ep):
        rows = np.flatnonzero(ep == e)
        for w0 in range(0, len(rows) - window + 1, stride):
            r = rows[w0:w0 + window]
            if len(_moving_frames(s[rows])) and np.isin(r, rows[_moving_frames(s[rows])]).mean() >= 0.5:
                wins.append(r)
    acts, states, labels = [], [], []
    for i, r in enumerate(wins):
        acts.append(a[r])
        states.append(s[r])
        labels.append(("clean", 1))
        for kind in KINDS:
            da, ds = degrade(kind, a[r], s[r], rng, ranges, quanta)
            acts.append(da)
            states.append(ds)
            labels.append((kind, 0))
    order = rng.permutation(len(acts))
    acts = [acts[i] for i in order]
    states = [states[i] for i in order]
    labels = [labels[i] for i in order]
    write_arrays_dataset(root, {"action": np.concatenate(acts), "observation.state": np.concatenate(states)},
                         [window] * len(acts), fps=30,
                         names={"action": SO101_JOINTS, "observation.state": SO101_JOINTS})
    return pd.DataFrame({"episode_index": np.arange(len(acts)), "good": [g for _, g in labels],
                         "kind": [k for k, _ in labels]})


# ------------------------------------------------------------------ graded operator set

ARM = ("base_yaw.deg", "shoulder.rad", "elbow.deg", "wrist_pitch.rad", "wrist_roll.deg")
HAND = ("thumb.pos", "index.pos", "middle.pos", "ring.pos", "pinky.pos")
OPERATORS = ("expert", "hesitant", "shaky", "retracer", "stepper", "fumbler")


def _minjerk(n):
    u = np.linspace(0, 1, n)
    return u ** 3 * (10 - 15 * u + 6 * u * u)


def _operator_episode(op, rng, fps):
    """(commands, measured) of one episode: idle lead-in, reach → grasp → carry → release
    → return home, idle tail."""
    home = np.array([0.0, 0.3, 20.0, -0.2, 5.0])
    scale = np.array([60.0, 0.6, 50.0, 0.8, 0.3])  # wrist roll barely moves (near-constant)
    pts = [home, home + scale * rng.uniform(-1, 1, 5), home + scale * rng.uniform(-1, 1, 5), home]
    seg_s = rng.uniform(0.9, 1.6, 3)
    lead = int(rng.uniform(0.3, 2.5) * fps)
    tail = int(rng.uniform(0.3, 2.5) * fps)
    arm = [np.repeat(home[None], lead, axis=0)]
    hand_close = []
    for i, dur in enumerate(seg_s):
        k = int(dur * fps)
        m = _minjerk(k)[:, None]
        seg = pts[i] + (pts[i + 1] - pts[i]) * m
        if op == "retracer" and rng.random() < 0.8:
            # goes back over part of the way and comes again (a re-approach)
            back = rng.uniform(0.3, 0.6)
            kk = int(rng.uniform(0.5, 0.9) * fps)
            g = np.interp(np.linspace(0, 1, kk), [0, 0.5, 1], [1.0, 1.0 - back, 1.0])[:, None]
            seg = np.concatenate([seg, pts[i] + (pts[i + 1] - pts[i]) * g])
        arm.append(seg)
        if op == "hesitant" and i < 2:
            arm.append(np.repeat(seg[-1:], int(rng.uniform(0.6, 1.4) * fps), axis=0))
        hand_close.append(i == 0)
        arm.append(np.repeat(seg[-1:], int(0.3 * fps), axis=0))  # grasp / release dwell
    arm.append(np.repeat(home[None], tail, axis=0))
    x = np.concatenate(arm)
    n = len(x)
    t = np.arange(n) / fps
    # the hand closes after the reach and opens after the carry
    lens = np.cumsum([len(p) for p in arm])
    close_at, open_at = lens[1], lens[-3]
    closed = ((np.arange(n) >= close_at) & (np.arange(n) < open_at)).astype(float)
    closed = np.convolve(closed, np.ones(8) / 8, mode="same")
    hand = np.clip(closed[:, None] * rng.uniform(0.6, 0.9, 5)[None, :], 0, 1) * 100.0
    if op == "shaky":
        for j in range(5):
            x[:, j] += rng.uniform(0.01, 0.03) * scale[j] * 2 * np.sin(2 * np.pi * rng.uniform(5, 9) * t + rng.uniform(0, 6))
    if op == "fumbler":
        k0 = int(rng.integers(close_at, max(close_at + 1, open_at - fps)))
        k = int(rng.uniform(0.5, 1.0) * fps)
        wave = 15.0 * np.sign(np.sin(2 * np.pi * rng.uniform(4, 8) * np.arange(k) / fps))
        hand[k0:k0 + k] += wave[: len(hand[k0:k0 + k]), None]
    cmd_arm = x.copy()
    if op == "stepper":
        step = fps / rng.uniform(2.5, 5)
        held = (np.floor(np.arange(n) / step) * step).astype(int)
        cmd_arm = x[held]
    cmd = np.concatenate([cmd_arm, np.clip(hand, 0, 100)], axis=1)
    # the robot follows the command with a small lag; encoders quantise what it reports
    meas = np.column_stack([_lowpass(cmd[:, j], 0.5) for j in range(cmd.shape[1])])
    quant = np.array([0.088, 0.0015, 0.088, 0.0015, 0.088] + [0.5] * 5)
    meas = np.round((meas + rng.normal(0, 0.2, meas.shape) * quant) / quant) * quant
    cmd = np.round(cmd / quant) * quant
    return cmd, meas


def graded_operators(root, *, per_operator=12, seed=0, fps=50):
    """Write the graded operator set; returns labels (episode_index, operator, good = expert)."""
    rng = np.random.default_rng(seed)
    plan = [op for op in OPERATORS for _ in range(per_operator)]
    # a second habit for some non-experts, so 'rest' is not one defect each
    rng.shuffle(plan)
    cmds, meas, ops = [], [], []
    for op in plan:
        c, m = _operator_episode(op, rng, fps)
        cmds.append(c)
        meas.append(m)
        ops.append(op)
    names = list(ARM) + list(HAND)
    write_arrays_dataset(root, {"action": np.concatenate(cmds), "observation.state": np.concatenate(meas)},
                         [len(c) for c in cmds], fps=fps, names={"action": names, "observation.state": names},
                         robot_type="arm_with_hand")
    return pd.DataFrame({"episode_index": np.arange(len(ops)), "operator": ops,
                         "good": [int(o == "expert") for o in ops]})
