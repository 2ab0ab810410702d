"""A project's saved quality-score weights (saved from the Curate panel, used by the score,
the `metrics` CLI in another process and the panel), and "this selection vs the rest"
against a hand-computed Welch interval."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from helpers import handler

from studio.curation.metrics import registered_metrics
from studio.curation.score import scored_metrics
from studio.curation.selections import compare_selection, episode_facts
from studio.datasets import open_dataset
from studio.synthetic import write_synthetic_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("graded") / "ds"
    q = np.linspace(0.0, 1.0, 12)
    write_synthetic_dataset(root, episodes=12, frames=(60 + 40 * (1 - q)).astype(int).tolist(), quality=q, seed=4)
    return open_dataset(root)


def test_saved_weights_drive_the_score_the_cli_and_the_panel(project, graded):
    from panels import curate
    from panels.registry import AppContext
    from studio.plugins import host

    with gr.Blocks() as demo:
        curate.build(AppContext(project=project, plugins=host()))
    names = [m.name for m in registered_metrics()]
    only_duration = ", ".join(f"{n}={1 if n == 'duration_s' else 0}" for n in names)
    assert "Weights saved" in handler(demo, "curate-save-weights")(str(graded.root), only_duration)

    sm = scored_metrics(graded, project)
    assert len(sm.weights) >= 8 and sm.weights == {n: (1.0 if n == "duration_s" else 0.0) for n in sm.weights}
    # duration alone decides: shorter is better, so the score orders episodes by duration
    dur, score = sm.df["duration_s"].to_numpy(), sm.df["quality_score"].to_numpy()
    assert len(set(dur)) == len(dur) and np.array_equal(np.argsort(-score), np.argsort(dur))
    default = scored_metrics(graded)  # no project: the built-in weights
    assert not np.allclose(default.df["quality_score"], sm.df["quality_score"])

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "studio.cli", "metrics", str(graded.root), "--json",
                        "--project", str(project.home)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    cli = {rec["episode_index"]: rec["quality_score"] for rec in json.loads(r.stdout)}
    ours = dict(zip(sm.df["episode_index"].astype(int), sm.df["quality_score"]))
    assert cli.keys() == ours.keys() and all(math.isclose(cli[e], ours[e], rel_tol=1e-9) for e in ours)

    with pytest.raises(gr.Error, match="nosuch"):
        handler(demo, "curate-save-weights")(str(graded.root), "nosuch=1")
    assert scored_metrics(graded, project).weights == sm.weights  # a refused save keeps the old weights


def _welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    diff = statistics.fmean(a) - statistics.fmean(b)
    se = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
    return diff, diff - 1.96 * se, diff + 1.96 * se


def test_selection_vs_rest_is_a_welch_interval_per_metric(project, graded):
    metrics = {m.name: m for m in registered_metrics()}
    facts = episode_facts(graded, project)
    chosen = [6, 7, 8, 9, 10, 11]  # the better half of the graded episodes
    rows = {r["metric"]: r for r in compare_selection(facts, chosen, metrics)}
    assert "quality_score" in rows
    for name in ("duration_s", "jerk", "path_efficiency", "quality_score"):
        col = dict(zip(facts["episode_index"].astype(int), facts[name].astype(float)))
        a = [col[e] for e in chosen]
        b = [v for e, v in col.items() if e not in chosen]
        diff, lo, hi = _welch(a, b)
        row = rows[name]
        assert row["selection"] == pytest.approx(statistics.fmean(a)) and row["rest"] == pytest.approx(statistics.fmean(b))
        assert (row["difference"], row["ci_low"], row["ci_high"]) == pytest.approx((diff, lo, hi))
        higher = row["direction"] == "higher"
        assert row["direction"] == (metrics[name].direction if name in metrics else "higher")
        better = lo > 0 if higher else hi < 0
        worse = hi < 0 if higher else lo > 0
        assert row["verdict"] == ("better" if better else "worse" if worse else "no clear difference")
    assert rows["duration_s"]["verdict"] == "better"  # the selected episodes are the short ones
    assert rows["quality_score"]["verdict"] == "better"

    flipped = {r["metric"]: r for r in compare_selection(facts, [0, 1, 2, 3, 4, 5], metrics)}
    assert flipped["duration_s"]["verdict"] == "worse"
    none = {r["metric"]: r for r in compare_selection(facts, [], metrics)}
    assert none["jerk"]["verdict"] == "n/a" and none["jerk"]["selection"] is None
