"""Synthetic LeRobot datasets: real format (v3.0 / v2.1), quality signal, speed."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from studio.synthetic import SO101_JOINTS, write_synthetic_dataset


def test_v30_layout_matches_lerobot(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=3, frames=[20, 30, 40], videos=("observation.images.front",))
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0"
    assert info["total_episodes"] == 3 and info["total_frames"] == 90
    assert info["features"]["action"]["names"] == list(SO101_JOINTS)
    assert info["features"]["observation.environment_state"]["shape"] == [3]
    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pandas()
    for col in ("episode_index", "tasks", "length", "data/chunk_index", "data/file_index", "dataset_from_index",
                "dataset_to_index", "videos/observation.images.front/chunk_index",
                "videos/observation.images.front/file_index", "videos/observation.images.front/from_timestamp",
                "videos/observation.images.front/to_timestamp", "stats/action/mean", "stats/action/q99",
                "meta/episodes/chunk_index"):
        assert col in eps.columns, col
    assert eps["dataset_to_index"].tolist() == [20, 50, 90]
    assert eps["videos/observation.images.front/from_timestamp"].tolist() == pytest.approx([0, 20 / 30, 50 / 30])
    data = pq.read_table(root / "data/chunk-000/file-000.parquet")
    assert data.num_rows == 90
    assert b"huggingface" in data.schema.metadata
    assert (root / "videos/observation.images.front/chunk-000/file-000.mp4").stat().st_size > 0
    tasks = pq.read_table(root / "meta/tasks.parquet").to_pandas()
    assert tasks.index.tolist() == ["pick the cube"]
    stats = json.loads((root / "meta/stats.json").read_text())
    assert stats["action"]["count"] == [90]
    assert np.array(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)


def test_v21_layout(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=10, version="v2.1",
                                   videos=("observation.images.top",), tasks=("a", "b"))
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v2.1" and info["total_videos"] == 2
    assert (root / "data/chunk-000/episode_000001.parquet").exists()
    assert (root / "videos/chunk-000/observation.images.top/episode_000001.mp4").exists()
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    assert json.loads(lines[1]) == {"episode_index": 1, "tasks": ["b"], "length": 10}
    assert len((root / "meta/episodes_stats.jsonl").read_text().splitlines()) == 2
    assert [json.loads(x)["task"] for x in (root / "meta/tasks.jsonl").read_text().splitlines()] == ["a", "b"]


def test_lower_quality_is_jerkier_and_idler(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=200, quality=[1.0, 0.0], environment_state=False)
    t = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pandas()
    jerk, still = [], []
    for ep in (0, 1):
        s = np.stack(t[t.episode_index == ep]["observation.state"].to_numpy())[:, :-1]
        jerk.append(np.abs(np.diff(s, n=3, axis=0)).mean())
        speed = np.abs(np.diff(s, axis=0)).max(axis=1)
        still.append((speed < 0.05 * np.percentile(speed, 95)).mean())
    assert jerk[1] > 5 * jerk[0]
    assert still[1] > still[0] + 0.2  # the low-quality operator idles at the start and the end
    assert "observation.environment_state" not in json.loads((root / "meta/info.json").read_text())["features"]


def test_refuses_non_empty_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("1")
    with pytest.raises(FileExistsError):
        write_synthetic_dataset(tmp_path / "x")


def test_v30_loads_in_lerobot(tmp_path, monkeypatch):
    """With lerobot's default decoder (torchcodec, on the FFmpeg libraries the bootstrap installs)
    and with PyAV: the same frame, the same pixels."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=15, videos=("observation.images.front",))
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    default = LeRobotDataset(repo_id="local/x", root=root)
    assert default.video_backend == "torchcodec"
    pyav = LeRobotDataset(repo_id="local/x", root=root, video_backend="pyav")
    assert len(default) == 30 and default.num_episodes == 2
    for i in (0, 20):
        a, b = default[i], pyav[i]
        assert tuple(a["observation.images.front"].shape) == (3, 48, 64)
        assert tuple(a["action"].shape) == (6,)
        assert float(a["observation.images.front"].std()) > 0.01  # a picture, not a blank
        assert np.abs(a["observation.images.front"].numpy() - b["observation.images.front"].numpy()).max() < 0.02
    assert np.abs(default[0]["observation.images.front"].numpy() - default[20]["observation.images.front"].numpy()).mean() > 0.01


def test_lower_quality_takes_a_longer_path(tmp_path):
    lengths = []
    for q in (1.0, 0.3):
        root = write_synthetic_dataset(tmp_path / f"q{q}", episodes=1, frames=300, quality=[q], environment_state=False)
        s = np.stack(pq.read_table(root / "data/chunk-000/file-000.parquet").column("observation.state").to_pylist())[:, :-1]
        kernel = np.ones(15) / 15
        smooth = np.stack([np.convolve(s[:, j], kernel, mode="valid") for j in range(s.shape[1])], axis=1)
        lengths.append(np.linalg.norm(np.diff(smooth, axis=0), axis=1).sum())
    assert lengths[1] > 1.2 * lengths[0]
