"""Every built-in curation metric against an independent per-episode NumPy reference.

The references below are written from the metric definitions (docs/curation.md), one
episode at a time, in float64, without the implementation's helpers (no EpisodeFrames,
no studio.curation.signals): dimension selection, scaling, noise floors, smoothing and
every metric are recomputed here from the raw columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio.curation.metrics import compute_metrics
from studio.datasets import open_dataset
from studio.synthetic import write_arrays_dataset

FPS = 30
NAMES = ["base.deg", "shoulder.rad", "elbow.deg", "wrist_roll.deg", "gripper.pos", "thumb.pos"]
ROLES = ["arm", "arm", "arm", "arm", "gripper", "hand"]


def _episode(rng, n):
    t = np.arange(n) / FPS
    u = np.clip((t - rng.uniform(0.2, 0.8)) / (t[-1] * 0.6), 0, 1)
    mj = u ** 3 * (10 - 15 * u + 6 * u * u)
    x = np.zeros((n, 6))
    x[:, 0] = 40 * mj * rng.choice([-1, 1]) + 10 * np.sin(2 * np.pi * 0.5 * t)  # degrees
    x[:, 1] = 0.5 * mj + 0.05 * rng.standard_normal() + 0.003 * np.sin(2 * np.pi * rng.uniform(4, 8) * t)  # radians
    x[:, 2] = -30 * np.sin(np.pi * mj)  # degrees, returns home
    x[:, 3] = rng.integers(-2, 3, n) * 0.088  # jitters by a few encoder steps: near-constant
    x[:, 4] = np.where((mj > 0.3) & (mj < 0.8), 5.0, 80.0)  # gripper, percent
    x[:, 5] = np.where((mj > 0.35) & (mj < 0.75), 60.0, 0.0)  # a finger resting at its limit
    if rng.random() < 0.5:  # a mid-task pause
        k0 = n // 2
        x[k0:k0 + 20, :3] = x[k0, :3]
    if rng.random() < 0.5:  # chatter
        k0 = n // 3
        x[k0:k0 + 12, 4] += 10 * np.sign(np.sin(np.arange(12) * 2.0))
    q = np.array([0.088, 0.0015, 0.088, 0.088, 0.5, 0.5])
    state = np.round(x / q) * q
    action = np.round((np.roll(x, -2, axis=0) + rng.normal(0, 0.3, x.shape) * q) / q) * q
    action[-2:] = action[-3]
    env = np.column_stack([0.3 + 0.1 * mj * rng.uniform(0, 1), np.full(n, 0.1), 0.02 + 0.05 * np.sin(np.pi * mj)])
    reward = np.zeros(n)
    ok = rng.random() < 0.7
    if ok:
        reward[-5:] = 1.0
    return action, state, env, reward, (reward > 0)


@pytest.fixture(scope="module")
def ref_ds(tmp_path_factory):
    rng = np.random.default_rng(11)
    lengths = rng.integers(70, 160, 14)
    parts = [_episode(rng, int(n)) for n in lengths]
    root = tmp_path_factory.mktemp("ref") / "ds"
    cols = {"action": np.concatenate([p[0] for p in parts]), "observation.state": np.concatenate([p[1] for p in parts]),
            "observation.environment_state": np.concatenate([p[2] for p in parts]),
            "next.reward": np.concatenate([p[3] for p in parts]), "next.success": np.concatenate([p[4] for p in parts])}
    write_arrays_dataset(root, cols, lengths, fps=FPS, names={"action": NAMES, "observation.state": NAMES,
                                                             "observation.environment_state": ["x", "y", "z"]})
    d = pd.read_parquet(root / "data/chunk-000/file-000.parquet").sort_values(["episode_index", "frame_index"])
    raw = {k: np.stack(d[k].to_numpy()).astype(np.float32).astype(np.float64)
           for k in ("action", "observation.state", "observation.environment_state")}
    raw["next.reward"] = d["next.reward"].to_numpy(np.float64)
    raw["next.success"] = d["next.success"].to_numpy().astype(np.float64)
    return open_dataset(root), raw, d["episode_index"].to_numpy()


# ----------------------------------------------------------------- reference helpers


def ref_plan(x, roles_wanted, allow_switch):
    """(kept dims, ranges, quantum/range, noise/range) from the definitions in docs/curation.md."""
    keep, rng_, qs, ns = [], [], [], []
    for j, role in enumerate(ROLES):
        if role not in roles_wanted:
            continue
        col = x[:, j]
        lo, hi = np.percentile(col, 1), np.percentile(col, 99)
        r = hi - lo
        if r <= 1e-9:
            lo, hi = col.min(), col.max()
            r = hi - lo
        if r <= 1e-9:
            continue
        steps = np.abs(col[1:] - col[:-1])
        steps = steps[steps > 1e-9 * max(1.0, abs(hi))]
        q = steps.min() if len(steps) else 0.0
        sd = 1.4826 * np.median(np.abs(col[2:] - 2 * col[1:-1] + col[:-2])) / np.sqrt(6)
        floor = max(sd, q / np.sqrt(12))
        if len(set(col.tolist())) <= 3:
            if not allow_switch:
                continue
            q, floor = 0.0, 0.0
        elif r < max(10 * q, 8 * sd):
            continue
        keep.append(j)
        rng_.append(r)
        qs.append(q / r)
        ns.append(floor / r)
    return keep, np.array(rng_), np.array(qs), np.array(ns)


def episodes(ep):
    return [np.flatnonzero(ep == e) for e in np.unique(ep)]


def ma(z, h):
    out = np.empty_like(z)
    n = len(z)
    for t in range(n):
        out[t] = z[max(0, t - h):min(n, t + h + 1)].mean(axis=0)
    return out


def sg_fit_center(win):
    """Value at the centre of a least-squares parabola through `win` (Savitzky–Golay)."""
    k = np.arange(len(win)) - len(win) // 2
    return np.polyval(np.polyfit(k, win, 2), 0.0)


def reference(raw, ep):
    st, act, env = raw["observation.state"], raw["action"], raw["observation.environment_state"]
    arm, arm_scale, _, _ = ref_plan(st, ("arm",), False)
    carm, carm_scale, carm_q, carm_noise = ref_plan(act, ("arm",), False)
    cgrip, cgrip_scale, _, _ = ref_plan(act, ("gripper", "hand"), True)
    mgrip, mgrip_scale, _, _ = ref_plan(st, ("gripper", "hand"), True)
    z_all = st[:, arm] / arm_scale
    h = max(1, round(0.1 * FPS))
    eps = episodes(ep)
    sm = [ma(z_all[r], h) for r in eps]
    v = []
    for s in sm:
        sp = np.linalg.norm(s[1:] - s[:-1], axis=1) * FPS
        v.append(np.r_[sp, sp[-1:]])
    thr = 0.05 * np.percentile(np.concatenate(v), 95)
    out = {k: [] for k in ("duration_s", "lead_in_s", "tail_s", "pause_fraction", "tremor", "retrace",
                           "command_roughness", "tracking_error", "gripper_chatter", "path_length",
                           "path_efficiency", "jerk", "sparc", "idle_fraction", "gripper_toggles",
                           "action_saturation", "success", "total_reward", "scene_change")}
    # tracking lag over the whole dataset
    pairs = [(j, arm_scale[i]) for i, j in enumerate(arm) if j in carm]
    errs = []
    for k in range(round(0.5 * FPS) + 1):
        tot, cnt = 0.0, 0
        for r in eps:
            a, s = act[r], st[r]
            if len(r) <= k:
                continue
            d = np.column_stack([(a[:len(r) - k, j] - s[k:, j]) / sc for j, sc in pairs])
            tot += (d ** 2).sum(axis=0)
            cnt += len(d)
        errs.append(float((tot / cnt).sum()))
    lag = int(np.argmin(errs))
    # idle_fraction threshold over all episodes
    w_idle = round(0.5 * FPS)
    ws_all = [np.linalg.norm(z_all[r][w_idle:] - z_all[r][:-w_idle], axis=1) * FPS / w_idle for r in eps]
    idle_thr = 0.05 * np.percentile(np.concatenate(ws_all), 95)
    g_lo, g_hi = np.percentile(act[:, 4], [1, 99])
    env_lo, env_hi = np.percentile(env, [1, 99], axis=0)
    moved, spans = [], []
    for i, r in enumerate(eps):
        L = len(r)
        z, s, vv = z_all[r], sm[i], v[i]
        out["duration_s"].append(L / FPS)
        active = vv > thr
        idx = np.flatnonzero(active)
        first, last = (idx[0], idx[-1]) if len(idx) else (L, -1)
        spans.append((first, last))
        out["lead_in_s"].append(min(first, L) / FPS)
        out["tail_s"].append((L - 1 - last) / FPS if last >= 0 else L / FPS)
        min_run = max(2, round(0.3 * FPS))
        runs, cur = [], 0
        for t in range(L):
            if first <= t <= last and not active[t]:
                cur += 1
            else:
                if cur:
                    runs.append(cur)
                cur = 0
        if cur:
            runs.append(cur)
        paused = sum(x for x in runs if x >= min_run)
        span = max(last - first + 1, 0)
        out["pause_fraction"].append(paused / span if span > 0 else 0.0)
        ht = max(2, round(0.1 * FPS))
        acc, cnt = 0.0, 0
        for t in range(ht, L - ht):
            if first <= t <= last:
                acc += sum((z[t, d] - sg_fit_center(z[t - ht:t + ht + 1, d])) ** 2 for d in range(z.shape[1]))
                cnt += 1
        out["tremor"].append(np.sqrt(acc / max(cnt, 1)))
        w = round(1.0 * FPS)
        net = sum(np.linalg.norm(s[t + w] - s[t]) for t in range(L - w))
        trav = sum(np.linalg.norm(s[t + 1:t + w + 1] - s[t:t + w], axis=1).sum() for t in range(L - w))
        out["retrace"].append(min(max(1 - net / trav, 0.0), 1.0) if trav > 1e-9 else 0.0)
        cz = act[r][:, carm] / carm_scale
        num = den = 0.0
        for d in range(cz.shape[1]):
            db = 1.5 * carm_q[d] if carm_q[d] > 0 else 2 * carm_noise[d]
            d1 = np.r_[0.0, np.diff(cz[:, d])]
            d1[np.abs(d1) <= db] = 0.0
            d2 = np.r_[0.0, np.diff(d1)]
            d2[:2] = 0.0
            num += (d2 ** 2).sum()
            den += (d1 ** 2).sum()
        out["command_roughness"].append(num / den if den > 0 else 0.0)
        a, sst = act[r], st[r]
        e = np.column_stack([(a[:L - lag, j] - sst[lag:, j]) / sc for j, sc in pairs])
        out["tracking_error"].append(np.sqrt((e ** 2).sum(axis=1).mean()))
        hc = max(1, round(0.15 * FPS))
        gz = act[r][:, cgrip] / cgrip_scale

        def flat(x, op, hc=hc):  # a flat ±hc window clipped to the episode
            return np.array([op(x[max(0, t - hc):t + hc + 1], axis=0) for t in range(len(x))])

        closed = flat(flat(gz, np.max), np.min)
        opened = flat(flat(closed, np.min), np.max)
        res = np.abs(gz - opened).sum()
        out["gripper_chatter"].append(res / L / gz.shape[1])
        step = np.linalg.norm(np.diff(z, axis=0), axis=1)
        pl = step.sum()
        out["path_length"].append(pl)
        out["path_efficiency"].append(min(np.linalg.norm(z[-1] - z[0]) / pl, 1.0) if pl > 1e-9 else 1.0)
        d3 = z[3:] - 3 * z[2:-1] + 3 * z[1:-2] - z[:-3]
        integral = (d3 ** 2).sum() * FPS ** 6 / FPS
        vpk = (step * FPS).max()
        out["jerk"].append(np.log((L / FPS) ** 3 / vpk ** 2 * integral))
        spd = np.r_[0.0, step * FPS]
        nfft = int(2 ** (np.ceil(np.log2(max(L, 2))) + 2))
        spec = np.abs(np.fft.rfft(spd, nfft))
        nb = int(np.floor(min(10.0, FPS / 2) * nfft / FPS)) + 1
        mag = spec[:nb] / spec[:nb].max()
        above = np.flatnonzero(mag >= 0.05)
        lastb = max(int(above[-1]), 1)
        df_ = FPS / nfft
        out["sparc"].append(-np.sqrt((df_ / (lastb * df_)) ** 2 + np.diff(mag[:lastb + 1]) ** 2).sum())
        ws = np.linalg.norm(z[w_idle:] - z[:-w_idle], axis=1) * FPS / w_idle
        out["idle_fraction"].append(float((ws < idle_thr).mean()))
        state, tog = None, 0
        for t, val in enumerate((a[:, 4] - g_lo) / (g_hi - g_lo)):
            new = (1 if val >= 0.5 else 0) if t == 0 else (1 if val > 0.6 else 0 if val < 0.4 else state)
            tog += int(t > 0 and new != state)
            state = new
        out["gripper_toggles"].append(tog)
        sat = np.zeros(L, dtype=bool)
        for j in (0, 1, 2, 3):
            lo, hi = act[:, j].min(), act[:, j].max()
            tol = 0.005 * (hi - lo)
            sat |= (a[:, j] <= lo + tol) | (a[:, j] >= hi - tol)
        out["action_saturation"].append(sat.mean())
        out["success"].append(raw["next.success"][r].max())
        out["total_reward"].append(raw["next.reward"][r].sum())
        env_scale = np.where(env_hi - env_lo > 1e-9, env_hi - env_lo, 1.0)
        moved.append(np.linalg.norm((env[r][-1] - env[r][0]) / env_scale))
    moved = np.array(moved)
    out["scene_change"] = list(np.minimum(moved / np.median(moved), 1.0))
    # consistency: leave-one-episode-out ridge regression of the command on the state
    X_eps, Y_eps = [], []
    for i, r in enumerate(eps):
        s = sm[i]
        vel = np.r_[s[1:] - s[:-1], np.zeros((1, s.shape[1]))] * FPS
        f, l_ = spans[i]
        keep = slice(f, l_ + 1) if l_ >= f else slice(0, len(r))  # the active span only
        X_eps.append(np.column_stack([np.ones(len(r)), st[r][:, arm] / arm_scale, st[r][:, mgrip] / mgrip_scale,
                                      vel])[keep])
        Y_eps.append(np.column_stack([act[r][:, carm] / carm_scale, act[r][:, cgrip] / cgrip_scale])[keep])
    X_all = np.concatenate(X_eps)
    p = X_all.shape[1]
    lam = 1e-3 * np.trace(X_all.T @ X_all) / p
    mse = []
    for i in range(len(eps)):
        Xo = np.concatenate([x for k, x in enumerate(X_eps) if k != i])
        Yo = np.concatenate([y for k, y in enumerate(Y_eps) if k != i])
        beta = np.linalg.solve(Xo.T @ Xo + lam * np.eye(p), Xo.T @ Yo)
        mse.append(((Y_eps[i] - X_eps[i] @ beta) ** 2).mean())
    mse = np.array(mse)
    out["action_surprise"] = list(mse / np.median(mse))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def test_every_metric_matches_an_independent_reference(ref_ds):
    ds, raw, ep = ref_ds
    table = compute_metrics(ds)
    ref = reference(raw, ep)
    df = table.df.sort_values("episode_index")
    assert set(ref) == set(table.names), set(ref) ^ set(table.names)
    for name, want in ref.items():
        got = df[name].to_numpy(dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-4, err_msg=name)
    # the data is not degenerate: each metric varies over the episodes
    for name in ("pause_fraction", "tremor", "retrace", "command_roughness", "gripper_chatter", "action_surprise"):
        assert np.ptp(ref[name]) > 0, name


def test_near_constant_and_quantised_dimensions_are_dropped_and_named(ref_ds):
    from studio.curation.metrics import load_frames

    ds, _, _ = ref_ds
    fr = load_frames(ds)
    dropped = fr.dropped_dims()["observation.state"]
    assert "wrist_roll.deg" in dropped and "near-constant" in dropped["wrist_roll.deg"]
    assert fr.plan("motion", "arm").keep == (0, 1, 2)  # degrees and radians side by side
    assert fr.plan("command", "grip").keep == (4, 5)  # gripper and the hand's finger
