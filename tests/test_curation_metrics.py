"""Curation metrics: columnar computation, quality score, caching, feature choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from studio.curation.metrics import EpisodeMetric, compute_metrics
from studio.curation.score import parse_weights, scored_metrics
from studio.datasets import open_dataset
from studio.errors import StudioError
from studio.synthetic import write_synthetic_dataset


def _auroc(score, positive) -> float:
    r = pd.Series(score).rank().to_numpy()
    n1 = int(positive.sum())
    n0 = len(positive) - n1
    return float((r[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """24 episodes whose synthetic quality rises from 0 to 1."""
    root = tmp_path_factory.mktemp("graded") / "ds"
    q = np.linspace(0.0, 1.0, 24)
    lengths = (90 + 60 * (1 - q)).astype(int)
    write_synthetic_dataset(root, episodes=24, frames=lengths.tolist(), quality=q, seed=3)
    return open_dataset(root), q


def test_metrics_match_a_per_episode_reference(graded):
    ds, _ = graded
    table = compute_metrics(ds)
    df = table.df.set_index("episode_index")
    data = pd.concat([pd.read_parquet(f) for f in ds.data_files()])
    for ep, g in data.groupby("episode_index"):
        g = g.sort_values("frame_index")
        assert df.loc[ep, "duration_s"] == pytest.approx(len(g) / ds.fps)
    # every metric's value against an independent reference: tests/test_curation_metric_reference.py
    assert {"jerk", "sparc", "idle_fraction", "path_efficiency", "gripper_toggles", "pause_fraction", "tremor",
            "retrace", "command_roughness", "gripper_chatter", "action_surprise"} <= set(table.names)
    assert all(m.direction in ("higher", "lower") and m.doc for m in table.metrics.values())


def test_quality_score_tracks_quality_and_has_percentiles(graded):
    ds, q = graded
    sm = scored_metrics(ds)
    rho = pd.Series(sm.df["quality_score"].to_numpy()).rank().corr(pd.Series(q).rank())
    # This toy set's `quality` also makes idle lead-in and tail longer, which the score
    # deliberately no longer counts (recording slack, not a defect; see docs/curation.md),
    # and its gripper is white noise around two levels and its scene change random, which
    # the chatter and scene terms read as noise: the bar is 0.7 rather than the earlier 0.8
    # (measured 0.72). The score's real checks: tests/test_curation_quality.py.
    assert rho > 0.7
    assert sm.df["quality_pct"].between(0, 100).all()
    assert sm.df.loc[sm.df["quality_score"].idxmax(), "quality_pct"] == 100


def test_weights_change_the_score(graded):
    ds, _ = graded
    only_duration = {name: 0.0 for name in scored_metrics(ds).weights} | {"duration_s": 1.0}
    sm = scored_metrics(ds, weights=only_duration)
    # with only duration weighted, the shortest episode scores highest
    assert sm.df.loc[sm.df["quality_score"].idxmax(), "duration_s"] == sm.df["duration_s"].min()
    assert parse_weights(["jerk=2,sparc=0"]) == {"jerk": 2.0, "sparc": 0.0}
    with pytest.raises(StudioError):
        parse_weights(["jerk"])
    with pytest.raises(StudioError):
        parse_weights(["nosuch=1"], known=["jerk"])


def test_metrics_cached_in_project_never_in_dataset(graded, project):
    ds, _ = graded
    before = sorted(p.relative_to(ds.root) for p in Path(ds.root).rglob("*"))
    first = compute_metrics(ds, project)
    cached = list((project.home / "cache" / "metrics").glob("*.parquet"))
    assert len(cached) == 1
    again = compute_metrics(ds, project)
    pd.testing.assert_frame_equal(first.df, again.df)
    assert sorted(p.relative_to(ds.root) for p in Path(ds.root).rglob("*")) == before
    # another feature choice is another cache entry
    compute_metrics(ds, project, motion="observation.environment_state")
    assert len(list((project.home / "cache" / "metrics").glob("*.parquet"))) == 2


def test_nonstandard_feature_names(tmp_path):
    root = tmp_path / "ds"
    write_synthetic_dataset(root, episodes=3, frames=40, seed=1)
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["actions"] = info["features"].pop("action")
    info["features"]["state"] = info["features"].pop("observation.state")
    (root / "meta/info.json").write_text(json.dumps(info))
    f = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(f)
    t = t.rename_columns(["actions" if c == "action" else "state" if c == "observation.state" else c for c in t.column_names])
    pq.write_table(t, f)
    ds = open_dataset(root)
    table = compute_metrics(ds)
    assert (table.command_key, table.motion_key) == ("actions", "state")
    assert len(table.df) == 3 and np.isfinite(table.df["path_length"]).all()
    with pytest.raises(StudioError):
        compute_metrics(ds, motion="nope")


def test_plugin_metric_is_computed(graded):
    from studio.hookspecs import hookimpl
    from studio.plugins import PluginHost

    class Extra:
        @hookimpl
        def studio_episode_metrics(self):
            return [EpisodeMetric("frames_n", "frames per episode", "higher", lambda fr: fr.lengths)]

    host = PluginHost(load_entry_points=True)
    host.register(Extra(), name="extra")
    ds, _ = graded
    table = compute_metrics(ds, plugin_host=host)
    assert (table.df["frames_n"].to_numpy() == ds.episodes.sort_values("episode_index")["length"].to_numpy()).all()


def test_demo_world_quality_separates_experts(demo_world):
    project = demo_world if hasattr(demo_world, "home") else demo_world.project
    ds = open_dataset(project.datasets_dir / "pick_cube_demos")
    labels = pd.read_csv(project.home / "demo_labels.csv")
    df = scored_metrics(ds, project).df.merge(labels, on="episode_index")
    expert = (df["operator"] == "expert").to_numpy()
    assert 0 < expert.sum() < len(df)
    assert _auroc(df["quality_score"].to_numpy(), expert) >= 0.9


def test_nan_episodes_are_named_not_fatal(tmp_path, project):
    root = tmp_path / "ds"
    write_synthetic_dataset(root, episodes=6, frames=40, seed=9)
    f = root / "data/chunk-000/file-000.parquet"
    df = pd.read_parquet(f)
    bad = df.index[(df["episode_index"] == 2) & (df["frame_index"] == 5)][0]
    act = np.stack(df["action"].to_numpy())
    act[bad, 0] = np.nan
    t = pq.read_table(f)
    import pyarrow as pa

    col = pa.FixedSizeListArray.from_arrays(pa.array(act.reshape(-1).astype(np.float32)), act.shape[1])
    t = t.set_column(t.schema.get_field_index("action"), t.schema.field("action"), col)
    pq.write_table(t, f)
    ds = open_dataset(root)
    sm = scored_metrics(ds, project)
    row = sm.df.set_index("episode_index").loc[2]
    assert np.isnan(row["jerk"]) and np.isnan(row["quality_score"])
    assert sm.df.drop(index=2)["quality_score"].notna().all()
    from studio.curation.selections import resolve

    assert 2 not in resolve(ds, project, predicate="quality_pct >= 0").episodes
