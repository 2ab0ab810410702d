"""The flywheel benchmark: does curating the demo world beat training on all of it?

    .venv/bin/python benchmarks/flywheel.py --out DIR              # the published run
    .venv/bin/python benchmarks/flywheel.py --out DIR --quick      # 1 seed, few steps, 20 rollouts
    .venv/bin/python benchmarks/flywheel.py --out DIR --report     # the table, from DIR/results.jsonl

Everything runs as the studio runs it: the demo world (`studio.demo`, world v2), the frozen
quality score (`studio.curation`), selections saved in the project, training through the
studio's own job queue (`studio.jobs.submit` / `submit_pretrain_posttrain`, the ACT CPU
preset), rollouts through the studio's rollout engine (`studio.sim.rollout.run_rollouts`),
verdicts from `studio.compare`. Arms, all with the same total training steps:

    all       train on all demonstrations
    success   train on the successful ones only (next.success; no quality score)
    random    a random subset of the curated size (a fresh draw per training seed)
    shortest  the N shortest episodes (N = the curated size)
    quality   the quality-score selection alone (`quality_pct >= 60`)
    recipe    pre-train on all data (2/3 of the steps) → post-train on the quality selection
              (1/3), a studio pipeline: stage 2 starts from stage 1's checkpoint

Every arm × training seed is one line of DIR/results.jsonl, written when its rollouts are
done; a re-launch skips finished lines (and reuses finished jobs and rollout sets), so a
killed run resumes. The report is computed from results.jsonl alone: per arm the mean
success over training seeds with a t-interval, the pooled Wilson interval over all its
rollouts, the paired per-seed difference to `all` and to `random` (same training seed, same
rollout seeds) with a t-interval, and `studio compare` verdicts on the pooled rollouts.

Rollout seeds: the published run uses 200000.. (`--rollout-seed`, default); development
and `--quick` runs use 900000.. — the published seeds were never looked at before the run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARMS = ("all", "success", "random", "shortest", "quality", "recipe")
ARM_TEXT = {
    "all": "all data",
    "success": "success-only",
    "random": "random subset (curated size)",
    "shortest": "shortest-N",
    "quality": "quality-score selection alone",
    "recipe": "recipe: pre-train all → post-train quality",
}
QUALITY_PREDICATE = "quality_pct >= 60"  # the guided workspace's `smooth-and-fast` selection
SUCCESS_PREDICATE = "success >= 1"
NONE_PREDICATE = "episode_index < 0"  # picks nothing; the episodes come from `includes`
PUBLISHED_ROLLOUT_SEED = 200_000
DEV_ROLLOUT_SEED = 900_000
GOALS = {"all": 0.15, "random": 0.10}  # the recipe's paired difference over these arms
# two-sided 97.5 % quantiles of Student's t (no scipy in the studio's environment)
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}


def t975(df: int) -> float:
    if df <= 0:
        return float("nan")
    keys = sorted(T975)
    for k in keys:
        if df <= k:
            return T975[k]
    return 1.96


def t_interval(values) -> tuple[float, float, float]:
    """Mean and two-sided 95 % t-interval (NaN bounds for a single value)."""
    v = [float(x) for x in values]
    n = len(v)
    m = sum(v) / n if n else float("nan")
    if n < 2:
        return m, float("nan"), float("nan")
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1))
    h = t975(n - 1) * sd / math.sqrt(n)
    return m, m - h, m + h


# --------------------------------------------------------------------------- the run


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_results(out: Path) -> list[dict]:
    f = out / "results.jsonl"
    if not f.exists():
        return []
    rows = []
    for line in f.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a kill: that run is redone
    return rows


def _append(out: Path, row: dict) -> None:
    with open(out / "results.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _config(a) -> dict:
    return {"total_steps": a.total_steps, "post_fraction": a.post_fraction, "batch_size": a.batch_size,
            "policy": a.policy, "rollouts": a.rollouts, "rollout_seed": a.rollout_seed,
            "demo_episodes": a.demo_episodes, "demo_seed": a.demo_seed, "quality_predicate": QUALITY_PREDICATE}


def _selections(project, ds, seed: int) -> dict:
    """The datasets each arm trains on (selections saved in the project), and the curated size."""
    import numpy as np

    from studio.curation.selections import (
        episode_facts,
        filter_episodes,
        get_selection,
        save_selection,
    )

    def ensure(name: str, **kw):
        try:
            return get_selection(project, name)
        except Exception:  # noqa: BLE001 - first run: save it
            return save_selection(project, name, ds, **kw)

    facts = episode_facts(ds, project)
    quality = ensure("fw-quality", predicate=QUALITY_PREDICATE, note="flywheel: quality-score selection")
    n = len(filter_episodes(facts, QUALITY_PREDICATE))
    ensure("fw-success", predicate=SUCCESS_PREDICATE, note="flywheel: successful episodes")
    eps = ds.episodes.sort_values(["length", "episode_index"])
    shortest = [int(e) for e in eps["episode_index"].head(n)]
    ensure("fw-shortest", predicate=NONE_PREDICATE, includes=shortest, note=f"flywheel: {n} shortest")
    rng = np.random.default_rng([int(seed), 0xF1A7])
    pick = sorted(int(e) for e in rng.choice(ds.episodes["episode_index"].to_numpy(), size=n, replace=False))
    ensure(f"fw-random-s{seed}", predicate=NONE_PREDICATE, includes=pick, note=f"flywheel: random {n}, seed {seed}")
    return {"all": str(ds.root), "success": "fw-success", "random": f"fw-random-s{seed}", "shortest": "fw-shortest",
            "quality": quality.name, "n_curated": n}


LIVE = ("succeeded", "running", "queued")  # a job of a killed run that finished or still trains is reused


def _find_job(project, name: str):
    from studio import jobs

    live = [j for j in jobs.list_jobs(project) if j.name == name and j.state in LIVE]
    return max(live, key=lambda j: j.id) if live else None


def _train(project, arm: str, data: dict, seed: int, a) -> tuple[object, list[int], float]:
    """Train one arm with one seed through the studio's queue; returns (final job, job ids, wall s)."""
    from studio import jobs

    name = f"flywheel {arm} seed {seed} ({a.total_steps} steps)"
    t0 = time.time()
    if arm == "recipe":
        post = max(1, round(a.total_steps * a.post_fraction))
        pre = a.total_steps - post
        prev = [p for p in jobs.list_pipelines(project) if p.name == name and p.state in LIVE]
        if prev:
            p = prev[0]
        else:
            p = jobs.submit_pretrain_posttrain(project, pretrain=data["all"], posttrain=data["quality"],
                                               policy=a.policy, pretrain_steps=pre, posttrain_steps=post,
                                               batch_size=a.batch_size, seed=seed, name=name)
        ids = [j.id for j in p.jobs]
    else:
        job = _find_job(project, name)
        if job is None:
            spec = jobs.validate(project, dataset=data[arm], policy=a.policy, steps=a.total_steps,
                                 batch_size=a.batch_size, seed=seed)
            job = jobs.submit(project, spec, name=name)
        ids = [job.id]
    done = jobs.wait(project, ids, poll_s=2.0)
    bad = [j for j in done if j.state != jobs.SUCCEEDED]
    if bad:
        raise SystemExit(f"{name}: training failed: {[(j.id, j.state, j.error) for j in bad]}\n"
                         f"{jobs.tail(bad[0].log_path)}")
    return done[-1], ids, time.time() - t0


def run(a) -> Path:
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    from studio import jobs
    from studio.datasets import open_dataset
    from studio.demo import WORLD_VERSION, build_demo_world
    from studio.project import open_project
    from studio.sim.rollout import run_rollouts

    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = _config(a)
    cfg_file = out / "config.json"
    if cfg_file.exists():
        old = json.loads(cfg_file.read_text())
        if {k: old.get(k) for k in cfg} != cfg:
            raise SystemExit(f"{cfg_file}: this folder holds a run with other settings ({old}); use another --out")
    else:
        cfg_file.write_text(json.dumps({**cfg, "started_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                                        "machine": machine()}, indent=1))
    project = open_project(out / "home")
    project.set_setting("hub.offline", "true")
    t0 = time.time()
    demos = build_demo_world(project, episodes=a.demo_episodes, seed=a.demo_seed, workers=a.workers)
    ds = open_dataset(demos)
    _log(f"demo world v{WORLD_VERSION}: {ds.root} ({len(ds.episodes)} episodes, fingerprint {ds.fingerprint}, "
         f"{time.time() - t0:.0f} s)")
    finished = {(r["arm"], r["train_seed"]) for r in read_results(out)}
    arms = [x for x in ARMS if x in a.arms]
    for i in range(a.seeds):
        seed = a.first_seed + i
        data = _selections(project, ds, seed)
        for arm in arms:
            if (arm, seed) in finished:
                continue
            load0 = os.getloadavg()[0]
            job, ids, train_s = _train(project, arm, data, seed, a)
            ck = jobs.final_checkpoint(project, job)
            if ck is None:
                raise SystemExit(f"{arm} seed {seed}: job {job.id} saved no final checkpoint")
            rdir = project.rollouts_dir / f"fw-{arm}-s{seed}-r{a.rollout_seed}-n{a.rollouts}"
            r0 = time.time()
            if not (rdir / "summary.json").exists():
                run_rollouts(str(ck.pretrained_dir), episodes=a.rollouts, workers=a.workers, seed=a.rollout_seed,
                             out=rdir)
            rollout_s = time.time() - r0
            summ = json.loads((rdir / "summary.json").read_text())
            eps = [{k: e[k] for k in ("seed", "success", "progress", "steps")} for e in summ["episodes"]]
            k = sum(bool(e["success"]) for e in eps)
            row = {"arm": arm, "train_seed": seed, "job_ids": ids, "checkpoint": str(ck.pretrained_dir),
                   "steps": a.total_steps, "n_train_episodes": _n_episodes(project, ds, data, arm),
                   "rollout_set": str(rdir), "rollout_seed": a.rollout_seed, "rollouts": len(eps),
                   "successes": k, "success_rate": k / len(eps), "train_s": round(train_s, 1),
                   "rollout_s": round(rollout_s, 1), "load_before": round(load0, 2),
                   "load_after": round(os.getloadavg()[0], 2), "world": WORLD_VERSION,
                   "dataset_fingerprint": ds.fingerprint, "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                                     time.gmtime()),
                   "episodes": eps}
            _append(out, row)
            _log(f"{arm:8s} seed {seed}: {k}/{len(eps)} successes; train {train_s:.0f} s, rollouts {rollout_s:.0f} s, "
                 f"load {row['load_after']}")
    return write_report(out)


def _n_episodes(project, ds, data: dict, arm: str) -> int:
    if arm == "all":
        return len(ds.episodes)
    from studio.curation.selections import get_selection, resolve_selection

    name = data["quality"] if arm == "recipe" else data[arm]
    return len(resolve_selection(get_selection(project, name), ds, project).episodes)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


# --------------------------------------------------------------------------- the report


def _pooled_set(rows: list[dict], name: str):
    """All rollouts of one arm as one studio rollout set; each (training seed, rollout seed)
    pair is its own seed, so `studio compare` pairs arm A's and arm B's attempts exactly."""
    from studio.compare import RolloutSet, _episodes_frame

    eps = []
    for r in sorted(rows, key=lambda r: r["train_seed"]):
        for e in r["episodes"]:
            eps.append({**e, "seed": int(r["train_seed"]) * 10_000_000 + int(e["seed"]), "episode_index": len(eps)})
    return RolloutSet(name=name, root=Path(rows[0]["rollout_set"]), policy=name, env="pick_cube",
                      episodes=_episodes_frame(eps, name), fps=10.0)


def summarise(rows: list[dict]) -> dict:
    from studio.compare import compare, wilson_interval

    by = {arm: {r["train_seed"]: r for r in rows if r["arm"] == arm} for arm in ARMS}
    arms = {}
    for arm in ARMS:
        runs = by[arm]
        if not runs:
            continue
        rates = [runs[s]["success_rate"] for s in sorted(runs)]
        m, lo, hi = t_interval(rates)
        k = sum(r["successes"] for r in runs.values())
        n = sum(r["rollouts"] for r in runs.values())
        w = wilson_interval(k, n)
        prog = [e["progress"] for r in runs.values() for e in r["episodes"] if e.get("progress") is not None]
        arms[arm] = {"seeds": sorted(runs), "rates": rates, "mean": m, "t_low": lo, "t_high": hi, "k": k, "n": n,
                     "wilson": [w.value, w.ci_low, w.ci_high],
                     "mean_progress": sum(prog) / len(prog) if prog else float("nan"),
                     "n_train_episodes": sorted({r["n_train_episodes"] for r in runs.values()})}
    diffs = {}
    for base in ("all", "random"):
        for arm in ARMS:
            if arm in (base, "all") or arm not in arms or base not in arms:
                continue
            common = sorted(set(by[arm]) & set(by[base]))
            pairs = [(by[arm][s], by[base][s]) for s in common
                     if [e["seed"] for e in by[arm][s]["episodes"]] == [e["seed"] for e in by[base][s]["episodes"]]]
            if not pairs:
                continue
            d = [x["success_rate"] - y["success_rate"] for x, y in pairs]
            m, lo, hi = t_interval(d)
            a_set = _pooled_set([y for _, y in pairs], ARM_TEXT[base])
            b_set = _pooled_set([x for x, _ in pairs], ARM_TEXT[arm])
            v = compare([a_set, b_set]).verdict(1)
            per_seed = []
            for x, y in pairs:
                vs = compare([_pooled_set([y], base), _pooled_set([x], arm)]).verdict(1)
                per_seed.append(vs.winner if vs is not None else None)
            diffs[f"{arm}-{base}"] = {
                "arm": arm, "base": base, "seeds": [x["train_seed"] for x, _ in pairs], "diffs": d, "mean": m,
                "t_low": lo, "t_high": hi,
                "verdict": v.text if v is not None else "", "winner": v.winner if v is not None else None,
                "p_value": v.p_value if v is not None else None, "method": v.method if v is not None else "",
                "seed_verdicts": per_seed,
            }
    goals = {}
    for base, need in GOALS.items():
        d = diffs.get(f"recipe-{base}")
        if d is None:
            continue
        met = d["mean"] >= need and (d["t_low"] > 0 if not math.isnan(d["t_low"]) else False)
        goals[base] = {"need": need, "mean": d["mean"], "t_low": d["t_low"], "t_high": d["t_high"], "met": met,
                       "short_by": max(0.0, need - d["mean"])}
    return {"arms": arms, "diffs": diffs, "goals": goals}


def _pct(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}"


def _ci(lo: float, hi: float) -> str:
    return "n/a (1 seed)" if math.isnan(lo) else f"[{_pct(lo)}, {_pct(hi)}]"


def markdown(summary: dict, rows: list[dict], cfg: dict) -> str:
    arms, diffs = summary["arms"], summary["diffs"]
    loads = [r["load_before"] for r in rows] + [r["load_after"] for r in rows]
    train = [r["train_s"] for r in rows]
    roll = [r["rollout_s"] for r in rows]
    dates = sorted(r["finished_at"] for r in rows)
    pre = cfg["total_steps"] - round(cfg["total_steps"] * cfg["post_fraction"])
    run_line = (f"Run: {len(rows)} arm × seed runs, finished {dates[0]} … {dates[-1]}; machine: "
                f"{cfg.get('machine', '?')}; load average {min(loads):.1f}–{max(loads):.1f} (1-min, sampled "
                f"before/after each run). Per run: training {min(train):.0f}–{max(train):.0f} s, {cfg['rollouts']} "
                f"rollouts {min(roll):.0f}–{max(roll):.0f} s.")
    settings = (f"Settings: {cfg['policy']} CPU preset, batch {cfg['batch_size']}, {cfg['total_steps']} training "
                f"steps per arm (recipe: {pre} pre + {cfg['total_steps'] - pre} post); demo world "
                f"{cfg['demo_episodes']} episodes, seed {cfg['demo_seed']}; quality selection "
                f"`{cfg['quality_predicate']}`; rollout seeds {cfg['rollout_seed']}–"
                f"{cfg['rollout_seed'] + cfg['rollouts'] - 1} for every checkpoint.")
    header = ("| arm | train episodes | training seeds | success per seed (%) | mean success "
              "| 95 % t-interval (seeds) | pooled Wilson 95 % | mean progress |")
    lines = [run_line, settings, "", header, "|---|---|---|---|---|---|---|---|"]
    for arm in ARMS:
        s = arms.get(arm)
        if s is None:
            lines.append(f"| {ARM_TEXT[arm]} | — | — | not run | — | — | — | — |")
            continue
        w = s["wilson"]
        n_eps = "/".join(map(str, s["n_train_episodes"]))
        if arm == "recipe" and "all" in arms:  # stage 1 on everything, stage 2 on the selection
            n_eps = f"{'/'.join(map(str, arms['all']['n_train_episodes']))} → {n_eps}"
        row = (f"| {ARM_TEXT[arm]} | {n_eps} | "
               f"{', '.join(map(str, s['seeds']))} | {', '.join(_pct(x) for x in s['rates'])} | "
               f"**{_pct(s['mean'])} %** ({s['k']}/{s['n']}) | {_ci(s['t_low'], s['t_high'])} | "
               f"[{_pct(w[1])}, {_pct(w[2])}] | {s['mean_progress']:.2f} |")
        lines.append(row)
    intro = ("Paired differences (same training seed, same rollout seeds), in percentage points, and the "
             "`studio compare` verdict on the pooled rollouts (each training-seed × rollout-seed pair is one "
             "paired attempt; per-seed verdicts: B = the arm better, A = the baseline better, · = no detectable "
             "difference):")
    lines += ["", intro, "",
              "| arm − baseline | per-seed differences | mean | 95 % t-interval | studio compare (pooled) | per seed |",
              "|---|---|---|---|---|---|"]
    for d in diffs.values():
        per = " ".join(w or "·" for w in d["seed_verdicts"])
        p = f", p = {d['p_value']:.2g}" if d["p_value"] is not None else ""
        lines.append(f"| {ARM_TEXT[d['arm']]} − {ARM_TEXT[d['base']]} | {', '.join(f'{100 * x:+.0f}' for x in d['diffs'])} "
                     f"| **{100 * d['mean']:+.1f}** | {_ci(d['t_low'], d['t_high'])} | {d['verdict']}{p} | {per} |")
    lines.append("")
    for base, g in summary["goals"].items():
        state = "**met**" if g["met"] else f"**not met** (short by {100 * g['short_by']:.1f} points" + (
            "; interval includes zero)" if not (g["t_low"] > 0) else ")")
        lines.append(f"- Goal: recipe − {ARM_TEXT[base]} ≥ {100 * g['need']:.0f} points with the interval above "
                     f"zero: {100 * g['mean']:+.1f} {_ci(g['t_low'], g['t_high'])} → {state}.")
    return "\n".join(lines) + "\n"


def write_report(out: Path) -> Path:
    rows = read_results(out)
    if not rows:
        raise SystemExit(f"{out / 'results.jsonl'}: no finished runs yet")
    cfg = json.loads((out / "config.json").read_text())
    summary = summarise(rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    md = markdown(summary, rows, cfg)
    (out / "flywheel.md").write_text(md)
    print(md)
    return out / "flywheel.md"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="results folder (results.jsonl, config.json, flywheel.md, home/)")
    ap.add_argument("--quick", action="store_true", help="1 seed, 300 steps, 20 rollouts, 40-episode world, dev seeds")
    ap.add_argument("--report", action="store_true", help="only regenerate the table from results.jsonl")
    ap.add_argument("--seeds", type=int, default=5, help="training seeds per arm")
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--rollouts", type=int, default=100, help="seeded rollouts per checkpoint")
    ap.add_argument("--rollout-seed", type=int, default=PUBLISHED_ROLLOUT_SEED)
    ap.add_argument("--total-steps", type=int, default=3000)
    ap.add_argument("--post-fraction", type=float, default=1 / 3)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--policy", default="act")
    ap.add_argument("--demo-episodes", type=int, default=150)
    ap.add_argument("--demo-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="rollout / demo-building processes")
    ap.add_argument("--arms", default=",".join(ARMS), help="comma-separated subset of: " + ", ".join(ARMS))
    a = ap.parse_args(argv)
    a.arms = [x.strip() for x in a.arms.split(",") if x.strip()]
    unknown = [x for x in a.arms if x not in ARMS]
    if unknown:
        ap.error(f"unknown arm(s) {unknown}; known: {', '.join(ARMS)}")
    if a.quick:
        a.seeds, a.total_steps, a.rollouts, a.demo_episodes = 1, 300, 20, 40
        if a.rollout_seed == PUBLISHED_ROLLOUT_SEED:
            a.rollout_seed = DEV_ROLLOUT_SEED
    if a.report:
        write_report(Path(a.out).resolve())
        return
    run(a)


if __name__ == "__main__":
    main()
