"""Comparison statistics against known values, verdicts, reviewer-verdict sets and the CLI.

Unit tests write rollout-set summary.json files by hand (the statistics need no dataset);
tests/test_compare_rollouts.py runs the same path on real rollout sets from the demo world.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from studio import compare as cmp
from studio.cli import main
from studio.compare import (
    CompareError,
    bootstrap_mean,
    compare_paths,
    fisher_exact,
    load_rollout_set,
    mcnemar_exact,
    n_mcnemar,
    n_two_proportions,
    wilson_interval,
)


def write_rollout_set(root: Path, outcomes, *, policy: str = "", env: str = "pick_cube", fps: int = 10) -> Path:
    """A hand-written rollout set: `outcomes` is a list of (seed, success[, progress[, t, steps]])."""
    episodes = []
    for i, o in enumerate(outcomes):
        seed, success = o[0], bool(o[1])
        progress = o[2] if len(o) > 2 else (1.0 if success else 0.3)
        t = o[3] if len(o) > 3 else (4.0 if success else None)
        steps = o[4] if len(o) > 4 else 100
        episodes.append({"episode_index": i, "seed": seed, "success": success, "progress": progress,
                         "steps": steps, "time_to_success_s": t if success else None})
    root.mkdir(parents=True, exist_ok=True)
    summary = {"n_episodes": len(episodes), "success_rate": float(np.mean([e["success"] for e in episodes])),
               "mean_progress": float(np.mean([e["progress"] for e in episodes])), "policy": policy or root.name,
               "env": env, "fps": fps, "seeds": [e["seed"] for e in episodes], "episodes": episodes}
    (root / "summary.json").write_text(json.dumps(summary))
    return root


def paired_sets(tmp_path: Path, both: int, only_a: int, only_b: int, neither: int, seed0: int = 1000):
    """Two sets on the same seeds with a known 2×2 split of outcomes."""
    kinds = [(1, 1)] * both + [(1, 0)] * only_a + [(0, 1)] * only_b + [(0, 0)] * neither
    a = write_rollout_set(tmp_path / "A", [(seed0 + i, k[0]) for i, k in enumerate(kinds)])
    b = write_rollout_set(tmp_path / "B", [(seed0 + i, k[1]) for i, k in enumerate(kinds)])
    return a, b


# --------------------------------------------------------------------------- arithmetic


def test_wilson_interval_for_37_of_50_matches_known_values():
    est = wilson_interval(37, 50)
    assert est.value == pytest.approx(0.74)
    assert est.ci_low == pytest.approx(0.6045, abs=5e-4)
    assert est.ci_high == pytest.approx(0.8413, abs=5e-4)
    assert est.n == 50


def test_wilson_interval_edges_stay_inside_zero_one():
    zero, full = wilson_interval(0, 10), wilson_interval(10, 10)
    assert (zero.ci_low, zero.ci_high) == (0.0, pytest.approx(0.2775, abs=5e-4))
    assert (full.ci_low, full.ci_high) == (pytest.approx(0.7225, abs=5e-4), 1.0)
    assert not wilson_interval(0, 0).available


def test_mcnemar_exact_for_known_discordant_split():
    # b=2, c=10: 2·P(X ≤ 2), X ~ Bin(12, ½) = 2·79/4096
    assert mcnemar_exact(2, 10) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact(2, 10) == pytest.approx(2 * 79 / 4096)
    assert mcnemar_exact(10, 2) == mcnemar_exact(2, 10)
    assert mcnemar_exact(0, 5) == pytest.approx(0.0625)
    assert mcnemar_exact(4, 4) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_fisher_exact_matches_known_table():
    # R: fisher.test(matrix(c(3, 7, 8, 2), 2))$p.value = 0.06978
    assert fisher_exact(3, 10, 8, 10) == pytest.approx(0.06978, abs=1e-4)
    assert fisher_exact(5, 10, 5, 10) == pytest.approx(1.0)


def test_sample_size_formulas_match_hand_computation():
    # Fleiss without continuity correction, 0.5 vs 0.8: ≈ 38.5 per group (tables give 39)
    assert n_two_proportions(0.5, 0.8) == pytest.approx(38.48, abs=0.05)
    # Connor (1987), p10=0.1, p01=0.3: (1.96·√0.4 + 0.8416·√0.36)² / 0.04 ≈ 76.1
    assert n_mcnemar(0.1, 0.3) == pytest.approx(76.09, abs=0.05)
    assert math.isinf(n_two_proportions(0.5, 0.5))


def test_bootstrap_interval_is_seeded_and_reproducible():
    x = np.random.default_rng(3).normal(0.6, 0.2, size=40)
    e1, e2 = bootstrap_mean(x, seed=7), bootstrap_mean(x, seed=7)
    assert e1 == e2
    assert e1.ci_low < x.mean() < e1.ci_high
    # a percentile bootstrap of a mean is close to mean ± 1.96·sd/√n
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert (e1.ci_high - e1.ci_low) / 2 == pytest.approx(half, rel=0.15)
    assert bootstrap_mean(x, seed=8) != e1
    assert bootstrap_mean([0.5] * 5) == cmp.Estimate(0.5, 0.5, 0.5, 5)


# --------------------------------------------------------------------------- verdicts


def test_paired_sets_use_mcnemar_and_say_b_better(tmp_path):
    a, b = paired_sets(tmp_path, both=20, only_a=2, only_b=10, neither=18)
    comp = compare_paths([a, b])
    row = comp.primary
    assert row.metric.name == "success rate"
    assert row.estimates[0] == wilson_interval(22, 50) and row.estimates[1] == wilson_interval(30, 50)
    v = row.verdicts[1]
    assert v.p_value == pytest.approx(mcnemar_exact(2, 10)) and "McNemar" in v.method
    assert v.winner == "B" and v.text == "B better"
    grid = comp.grids[0]
    assert len(grid) == 50 and sum(g.kind == "only B" for g in grid) == 10 and sum(g.kind == "only A" for g in grid) == 2
    assert comp.headline().startswith("B better (B)")


def test_a_better_when_baseline_wins(tmp_path):
    a, b = paired_sets(tmp_path, both=5, only_a=12, only_b=1, neither=2)
    assert comp_verdict(a, b).text == "A better"


def comp_verdict(a, b, metric: str = "success rate"):
    comp = compare_paths([a, b])
    return next(r for r in comp.rows if r.metric.name == metric).verdicts[1]


def test_no_detectable_difference_says_how_many_more_rollouts(tmp_path):
    # unpaired (different seeds): 5/10 vs 6/10
    a = write_rollout_set(tmp_path / "A", [(i, i < 5) for i in range(10)])
    b = write_rollout_set(tmp_path / "B", [(100 + i, i < 6) for i in range(10)])
    v = comp_verdict(a, b)
    assert v.winner is None and v.text == "no detectable difference at n=10"
    assert "Fisher" in v.method and v.p_value == pytest.approx(fisher_exact(5, 10, 6, 10))
    assert v.more_rollouts == math.ceil(n_two_proportions(0.5, 0.6)) - 10
    assert f"≈{v.more_rollouts} more rollouts per set" in v.resolve


def test_identical_outcomes_need_no_more_rollouts_estimate(tmp_path):
    a, b = paired_sets(tmp_path, both=6, only_a=0, only_b=0, neither=4)
    v = comp_verdict(a, b)
    assert v.text == "no detectable difference at n=10 paired seeds"
    assert v.more_rollouts is None and "zero" in v.resolve


def test_lower_is_better_metrics_pick_the_faster_set(tmp_path):
    a = write_rollout_set(tmp_path / "A", [(i, True, 1.0, 8.0 + 0.1 * (i % 5)) for i in range(30)])
    b = write_rollout_set(tmp_path / "B", [(i, True, 1.0, 4.0 + 0.1 * (i % 5)) for i in range(30)])
    v = comp_verdict(a, b, "time to success")
    assert v.winner == "B" and v.difference == pytest.approx(-4.0)


def test_action_smoothness_reads_actions_from_the_dataset(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def with_actions(root: Path, jerky: bool):
        write_rollout_set(root, [(i, True) for i in range(4)])
        ep, fr, act = [], [], []
        for e in range(4):
            for t in range(20):
                ep.append(e)
                fr.append(t)
                # smooth: a straight line (Δ² = 0); jerky: ±1 alternation (|Δ²| = 4)
                act.append([0.1 * t, 1.0 if (jerky and t % 2) else (-1.0 if jerky else 0.0)])
        (root / "data" / "chunk-000").mkdir(parents=True)
        pq.write_table(pa.table({"episode_index": ep, "frame_index": fr,
                                 "action": pa.array(act, type=pa.list_(pa.float32(), 2))}),
                       root / "data" / "chunk-000" / "file-000.parquet")
        return root

    a, b = with_actions(tmp_path / "jerky", True), with_actions(tmp_path / "smooth", False)
    comp = compare_paths([a, b])
    row = next(r for r in comp.rows if r.metric.name == "action smoothness")
    assert row.estimates[0].value == pytest.approx(4.0, abs=1e-5) and row.estimates[0].n == 4
    assert row.estimates[1].value == pytest.approx(0.0, abs=1e-5)
    assert row.verdicts[1].winner == "B"


def test_three_sets_compare_each_against_the_baseline(tmp_path):
    a, b = paired_sets(tmp_path, both=10, only_a=0, only_b=10, neither=10)
    c = write_rollout_set(tmp_path / "C", [(1000 + i, i < 10) for i in range(30)])
    comp = compare_paths([a, b, c])
    row = comp.primary
    assert len(row.estimates) == 3 and row.verdicts[0] is None
    assert row.verdicts[1].winner == "B" and row.verdicts[2].winner is None
    table = cmp.comparison_table(comp)
    assert {"verdict B", "verdict C"} <= set(table[0])


def test_reviewer_verdicts_are_the_outcomes_of_real_robot_rollouts(project):
    from studio import review

    root = project.datasets_dir / "so101_rollouts_tue"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"codebase_version": "v3.0", "fps": 30, "robot_type": "so101"}))
    for ep, verdict, progress in [(0, "success", None), (1, "partial", 40), (2, "fail", None), (3, "success", None)]:
        review.set_verdict(project, str(root), ep, verdict, progress=progress, author="ana")
    rs = load_rollout_set(root, project)
    assert rs.n == 4 and list(rs.episodes["source"]) == ["review"] * 4
    assert list(rs.episodes["outcome"]) == ["success", "partial", "fail", "success"]
    assert rs.episodes["progress"].tolist() == pytest.approx([1.0, 0.4, 0.0, 1.0])
    assert rs.fps == 30
    # a verdict wins over the engine's own judgement on a sim set
    sim = write_rollout_set(project.rollouts_dir / "sim", [(i, True) for i in range(3)])
    review.set_verdict(project, str(sim), 1, "fail", author="ana")
    assert load_rollout_set(sim, project).episodes["success"].tolist() == [True, False, True]
    assert load_rollout_set("sim", project).name == "sim"  # by name under rollouts/


def test_bad_rollout_sets_are_named_in_one_sentence(tmp_path):
    with pytest.raises(CompareError, match="no such rollout set"):
        load_rollout_set(tmp_path / "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    with pytest.raises(CompareError, match="not valid JSON"):
        load_rollout_set(tmp_path / "bad")
    (tmp_path / "bad" / "summary.json").write_text(json.dumps({"n_episodes": 3}))
    with pytest.raises(CompareError, match="no per-episode 'episodes' list"):
        load_rollout_set(tmp_path / "bad")
    with pytest.raises(CompareError, match="at least two"):
        cmp.compare([load_rollout_set(write_rollout_set(tmp_path / "one", [(1, True)]))])


def test_list_rollout_sets_finds_project_sets(project):
    write_rollout_set(project.rollouts_dir / "ckpt-a", [(1, True)])
    write_rollout_set(project.rollouts_dir / "job7" / "ckpt-b", [(1, False)])
    (project.rollouts_dir / ".partial-x").mkdir()
    refs = {r.name: r for r in cmp.list_rollout_sets(project)}
    assert sorted(refs) == ["ckpt-a", "job7/ckpt-b"]
    assert refs["ckpt-a"].label == "ckpt-a (1 rollout)"
    assert refs["job7/ckpt-b"].label == "job7/ckpt-b — ckpt-b (1 rollout)"


# --------------------------------------------------------------------------- CLI


def test_cli_compare_json_gives_every_metric_an_interval_and_a_verdict(tmp_path, capsys):
    a, b = paired_sets(tmp_path, both=20, only_a=2, only_b=10, neither=18)
    assert main(["compare", str(a), str(b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [m["name"] for m in out["metrics"]]
    assert names[:4] == ["success rate", "mean progress", "time to success", "action smoothness"]
    for m in out["metrics"]:
        for side in ("a", "b"):
            assert set(m[side]) == {"value", "ci_low", "ci_high", "n"}
        assert "text" in m["verdict"]
    sr = out["metrics"][0]
    assert sr["a"]["value"] == pytest.approx(0.44) and sr["b"]["n"] == 50
    assert out["verdict"]["text"] == "B better" and out["verdict"]["p_value"] == pytest.approx(0.038574, abs=1e-6)
    assert out["paired"]["only_b"] == 10 and len(out["paired"]["seeds"]) == 50


def test_cli_compare_prints_table_and_verdict(tmp_path, capsys):
    a = write_rollout_set(tmp_path / "A", [(i, i < 5) for i in range(10)])
    b = write_rollout_set(tmp_path / "B", [(i, i < 6) for i in range(10)])
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "success rate" in out and "50% [" in out
    assert "verdict: no detectable difference at n=10 paired seeds" in out


def test_cli_compare_missing_set_is_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "nohome"))
    a = write_rollout_set(tmp_path / "A", [(1, True)])
    assert main(["compare", str(a), "no-such-set"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: no-such-set: no such rollout set" and "Traceback" not in "".join(err)
    assert not (tmp_path / "nohome").exists()  # comparing never creates a project home
