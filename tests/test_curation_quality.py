"""The quality score against labels: real SO-101 windows degraded with small defects, an
independently generated graded operator set, `studio metrics --labels`, weight fitting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import quality_sets as qs

from studio.curation.score import scored_metrics
from studio.curation.validation import (
    MIN_LABELLED,
    auroc_ci,
    fit_weights,
    spearman,
    validate,
)
from studio.datasets import open_dataset
from studio.errors import StudioError


def pairwise_auroc(score, good) -> float:
    """Independent AUROC: count every (good, bad) pair directly, ties counting half."""
    s = np.asarray(score, dtype=float)
    y = np.asarray(good).astype(bool)
    p, n = s[y][:, None], s[~y][None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


@pytest.fixture(scope="module")
def so101_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("so101win") / "ds"
    labels = qs.so101_windows(root)
    return open_dataset(root), labels


@pytest.fixture(scope="module")
def graded_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("graded_ops") / "ds"
    labels = qs.graded_operators(root)
    return open_dataset(root), labels


def test_score_finds_small_defects_in_real_recordings(so101_set):
    ds, labels = so101_set
    df = scored_metrics(ds).df.merge(labels, on="episode_index")
    good = df["good"].to_numpy().astype(bool)
    assert good.sum() >= 40 and (~good).sum() >= 40
    # every window has the same length: the -length baseline is at chance
    assert df["duration_s"].nunique() == 1
    assert pairwise_auroc(-df["duration_s"], good) == 0.5
    overall = pairwise_auroc(df["quality_score"], good)
    assert overall >= 0.85, overall
    for kind in qs.KINDS:
        sub = df[df["kind"].isin(["clean", kind])]
        assert (sub["kind"] == kind).sum() >= 40
        a = pairwise_auroc(sub["quality_score"], sub["good"].to_numpy().astype(bool))
        assert a >= 0.75, (kind, a)


def test_score_separates_experts_in_an_independent_graded_set(graded_set):
    ds, labels = graded_set
    sm = scored_metrics(ds)
    df = sm.df.merge(labels, on="episode_index")
    good = df["good"].to_numpy().astype(bool)
    assert pairwise_auroc(df["quality_score"], good) >= 0.9
    # real traits are there and handled: the near-constant wrist is dropped and named, the
    # radians joints are kept next to the degrees ones, the hand's fingers read as grip
    from studio.curation.metrics import load_frames

    fr = load_frames(ds)
    assert "wrist_roll.deg" in fr.dropped_dims()["observation.state"]
    kept = [fr.names_of("motion")[j] for j in fr.plan("motion", "arm").keep]
    assert {"shoulder.rad", "elbow.deg", "wrist_pitch.rad", "base_yaw.deg"} <= set(kept)
    assert len(fr.plan("command", "grip").keep) == 5
    calm = df[df["operator"].isin(["expert", "hesitant", "retracer"])]  # (a shaky hand shakes while it waits too)
    assert (calm["lead_in_s"] > 0.2).all() and (calm["tail_s"] > 0.2).all()
    # idle lead-in and tail are recording slack: they do not count as mid-task pauses
    hes = df[df["operator"] == "hesitant"]["pause_fraction"]
    exp = df[df["operator"] == "expert"]["pause_fraction"]
    assert hes.min() > exp.max()


def test_demo_world_score_is_not_a_length_ranking(demo_world):
    project = demo_world
    ds = open_dataset(project.datasets_dir / "pick_cube_demos")
    labels = pd.read_csv(project.home / "demo_labels.csv")
    labels["good"] = (labels["operator"] == "expert").astype(int)
    sm = scored_metrics(ds)
    v = validate(sm.df, sm.metrics, labels[["episode_index", "good"]])
    assert v.row("quality_score")["auroc"] >= 0.9
    assert v.row("quality_score")["auroc"] > v.row("-length")["auroc"]


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-m", "studio.cli", "metrics", *args], capture_output=True, text=True, env=env)


def test_metrics_labels_agrees_with_an_independent_auroc(so101_set, tmp_path):
    ds, labels = so101_set
    csv = tmp_path / "labels.csv"
    labels[["episode_index", "good"]].to_csv(csv, index=False)
    r = _cli(str(ds.root), "--labels", str(csv), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"episodes", "validation"}
    eps = pd.DataFrame(out["episodes"]).merge(labels, on="episode_index")
    assert len(eps) == len(labels)
    rows = {row["metric"]: row for row in out["validation"]}
    assert {"quality_score", "-length", "tremor", "pause_fraction"} <= set(rows)
    good = eps["good"].to_numpy().astype(bool)
    assert rows["quality_score"]["auroc"] == pytest.approx(pairwise_auroc(eps["quality_score"], good), abs=1e-9)
    assert rows["-length"]["auroc"] == pytest.approx(0.5)
    assert rows["tremor"]["auroc"] == pytest.approx(pairwise_auroc(-eps["tremor"], good), abs=1e-9)
    for row in rows.values():
        assert row["ci_low"] <= row["auroc"] <= row["ci_high"]
        assert row["n_pos"] == good.sum() and row["n_neg"] == (~good).sum()
    # text output: each metric's line and the Spearman correlation with duration
    t = _cli(str(ds.root), "--labels", str(csv))
    assert t.returncode == 0, t.stderr
    assert "Spearman(quality_score, duration_s)" in t.stdout
    assert "-length" in t.stdout and "95% CI" in t.stdout
    # without --labels the JSON stays a list of episodes
    plain = _cli(str(ds.root), "--json")
    assert isinstance(json.loads(plain.stdout), list)


def test_metrics_labels_bad_file_is_one_line_error(so101_set, tmp_path):
    ds, _ = so101_set
    bad = tmp_path / "bad.csv"
    bad.write_text("episode_index,quality\n0,1\n")
    r = _cli(str(ds.root), "--labels", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: ") and "good" in r.stderr and "Traceback" not in r.stderr
    r = _cli(str(ds.root), "--labels", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "no such labels file" in r.stderr


def test_delong_interval_covers_and_shrinks_with_more_episodes():
    rng = np.random.default_rng(0)
    small = rng.normal(size=40), np.r_[np.ones(20), np.zeros(20)].astype(bool)
    s = small[0] + 1.0 * small[1]
    a, lo, hi = auroc_ci(s, small[1])
    assert lo < a < hi and a == pytest.approx(pairwise_auroc(s, small[1]))
    y = np.r_[np.ones(400), np.zeros(400)].astype(bool)
    big = rng.normal(size=800) + 1.0 * y
    _, lo2, hi2 = auroc_ci(big, y)
    assert hi2 - lo2 < hi - lo
    assert lo2 < 0.76 < hi2  # the true AUROC of a unit shift: Φ(1/√2) ≈ 0.760


def test_fit_weights_is_cross_validated_and_refuses_few_labels(graded_set):
    ds, labels = graded_set
    sm = scored_metrics(ds)
    fit = fit_weights(sm.df, sm.metrics, labels[["episode_index", "good"]])
    assert fit.heldout_auroc >= 0.8 and fit.folds == 5
    assert all(w >= 0 for w in fit.weights.values()) and sum(fit.weights.values()) > 0
    refit = scored_metrics(ds, weights=fit.weights).df.merge(labels, on="episode_index")
    assert pairwise_auroc(refit["quality_score"], refit["good"].to_numpy().astype(bool)) >= fit.heldout_auroc - 0.1
    with pytest.raises(StudioError, match="at least 10 labelled"):
        fit_weights(sm.df, sm.metrics, labels[["episode_index", "good"]].head(MIN_LABELLED - 1))


def test_tags_feed_the_score_but_not_its_validation(graded_set, project):
    from studio.curation.tags import add_tags
    from studio.curation.validation import check_score, labels_from_tags

    ds, labels = graded_set
    before = scored_metrics(ds, project).df.set_index("episode_index")["quality_score"]
    bad_ep = int(labels[labels["good"] == 1]["episode_index"].iloc[0])
    add_tags(project, ds, [bad_ep], "bad")
    add_tags(project, ds, labels[labels["good"] == 0]["episode_index"].head(12).tolist(), "bad")
    add_tags(project, ds, labels[labels["good"] == 1]["episode_index"].iloc[1:12].tolist(), "good")
    after = scored_metrics(ds, project)
    assert "curator_tag" in after.metrics
    assert after.df.set_index("episode_index").loc[bad_ep, "quality_score"] < before.loc[bad_ep] - 20
    tag_labels = labels_from_tags(project, ds)
    assert len(tag_labels) == 24 and tag_labels.set_index("episode_index").loc[bad_ep, "good"] == 0
    sm, v, rho = check_score(ds, project, tag_labels)
    assert "curator_tag" not in sm.metrics  # recomputed without label-derived terms
    assert v.row("curator_tag") is None
    assert rho == pytest.approx(spearman(sm.df["quality_score"], sm.df["duration_s"]))


def test_weights_are_saved_per_dataset(graded_set, so101_set, project):
    from studio.curation.score import effective_weights, save_weights

    ds_a, _ = graded_set
    ds_b, _ = so101_set
    save_weights(project, {"tremor": 3.0}, dataset=ds_a)
    wa = scored_metrics(ds_a, project).weights
    wb = scored_metrics(ds_b, project).weights
    assert wa["tremor"] == 3.0 and wb["tremor"] == 1.0
    assert effective_weights(scored_metrics(ds_b).metrics, project, dataset=ds_a)["tremor"] == 3.0


def test_reviewer_verdicts_feed_the_score(graded_set, project):
    from pathlib import Path

    from studio.review import set_verdict

    ds, labels = graded_set
    expert = int(labels[labels["good"] == 1]["episode_index"].iloc[0])
    before = scored_metrics(ds, project).df.set_index("episode_index")
    assert "review_verdict" not in before
    set_verdict(project, str(Path(ds.root).resolve()), expert, "fail", author="rev")
    after = scored_metrics(ds, project)
    assert "review_verdict" in after.metrics
    row = after.df.set_index("episode_index").loc[expert]
    assert row["review_verdict"] == 0.0
    assert row["quality_score"] < before.loc[expert, "quality_score"] - 20
    # labels=False: no label-derived term at all
    assert "review_verdict" not in scored_metrics(ds, project, labels=False).metrics


def test_dropped_dimensions_are_said_in_the_cli_and_survive_the_cache(graded_set, project):
    ds, _ = graded_set
    first = scored_metrics(ds, project).dropped
    again = scored_metrics(ds, project).dropped  # from the on-disk cache
    assert "near-constant" in first["observation.state"]["wrist_roll.deg"]
    assert again == first
    r = _cli(str(ds.root))
    assert r.returncode == 0, r.stderr
    assert "left out of the motion metrics: observation.state 'wrist_roll.deg': near-constant" in r.stdout


@pytest.mark.slow
def test_bigger_demo_world_score_separates_experts(tmp_path):
    """80 episodes (another seed than the 24-episode fixture): expert vs rest ≥ 0.9."""
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    from studio.demo import build_demo_world
    from studio.project import open_project

    project = open_project(tmp_path / "home")
    build_demo_world(project, episodes=80, seed=7, workers=2)
    ds = open_dataset(project.datasets_dir / "pick_cube_demos")
    labels = pd.read_csv(project.home / "demo_labels.csv")
    df = scored_metrics(ds).df.merge(labels, on="episode_index")
    good = (df["operator"] == "expert").to_numpy()
    assert good.sum() >= 15
    assert pairwise_auroc(df["quality_score"], good) >= 0.9
