"""Opening and validating LeRobot datasets: every problem kind, built on disk, read-only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.datasets import (
    Problem,
    list_project_datasets,
    open_dataset,
    recent,
    remember_recent,
)
from studio.errors import DatasetError
from studio.synthetic import write_synthetic_dataset

SO101 = Path(__file__).resolve().parent / "data" / "so101_record_test"
DATA = "data/chunk-000/file-000.parquet"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"


def snapshot(root: Path) -> dict[str, str]:
    """Every file (and symlink target) under root with its content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def open_checked(root: Path):
    """open_dataset, asserting the folder is byte-identical afterwards."""
    before = snapshot(root)
    ds = open_dataset(root)
    assert snapshot(root) == before, "opening a dataset changed its files"
    return ds


def has(ds, where: str, what_part: str) -> bool:
    return any(p.where == where and what_part in p.what for p in ds.problems)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("base") / "ds", episodes=3, frames=[10, 12, 14],
                                   videos=("observation.images.front",))


@pytest.fixture
def ds_copy(base, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(base, dst)
    return dst


def rewrite_data(root: Path, fn) -> None:
    path = root / DATA
    schema = pq.read_schema(path)
    df = pq.read_table(path).to_pandas()
    df = fn(df)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    del schema


def edit_info(root: Path, fn) -> None:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    fn(info)
    path.write_text(json.dumps(info))


# ----------------------------------------------------------------------------- good datasets


def test_opens_clean_v30(base):
    ds = open_checked(base)
    assert ds.version == "v3.0" and ds.fps == 30 and ds.problems == ()
    assert ds.total_episodes == 3 and ds.total_frames == 36
    assert list(ds.episodes.columns[:7]) == ["episode_index", "tasks", "length", "data/chunk_index", "data/file_index",
                                             "dataset_from_index", "dataset_to_index"]
    assert ds.tasks["task"].tolist() == ["pick the cube"]
    assert ds.vector_features()["action"][-1] == "gripper.pos"
    assert ds.action_key == "action" and ds.state_key == "observation.state"
    ref = ds.video_location("observation.images.front", 1)
    assert ref.exists and ref.from_ts == pytest.approx(10 / 30) and ref.to_ts == pytest.approx(22 / 30)
    path, from_ts, to_ts = ref
    assert path.name == "file-000.mp4" and (from_ts, to_ts) == (ref.from_ts, ref.to_ts)
    assert ds.stats["action"]["count"] == [36]
    assert len(ds.fingerprint) == 16


def test_opens_clean_v21(tmp_path):
    root = write_synthetic_dataset(tmp_path / "v21", episodes=3, frames=[5, 6, 7], version="v2.1",
                                   videos=("observation.images.front",))
    ds = open_checked(root)
    assert ds.version == "v2.1" and ds.problems == ()
    assert ds.episodes["dataset_from_index"].tolist() == [0, 5, 11]
    ref = ds.video_location("observation.images.front", 2)
    assert ref.exists and ref.path.name == "episode_000002.mp4" and ref.from_ts == 0 and ref.to_ts == pytest.approx(7 / 30)
    assert len(ds.data_files()) == 3


def test_fingerprint_changes_with_data(ds_copy):
    fp = open_dataset(ds_copy).fingerprint
    assert open_dataset(ds_copy).fingerprint == fp
    rewrite_data(ds_copy, lambda df: df)
    assert open_dataset(ds_copy).fingerprint != fp


def test_so101_acceptance():
    ds = open_checked(SO101)
    assert ds.total_episodes == 4 and ds.total_frames == 1492 and ds.fps == 30
    assert ds.robot_type == "so101_follower"
    absent = {p.where for p in ds.problems if "declared video is absent" in p.what}
    assert absent == {"observation.images.front", "observation.images.top"}
    assert not any(ds.video_location(k, 0).exists for k in ds.video_keys())
    assert len(ds.vector_features()["observation.state"]) == 6


def test_problem_as_dict():
    assert Problem("a", "b").as_dict() == {"where": "a", "what": "b"}


# ----------------------------------------------------------------------------- unreadable


def test_missing_info_is_an_error(ds_copy):
    (ds_copy / "meta/info.json").unlink()
    with pytest.raises(DatasetError, match="no meta/info.json"):
        open_checked(ds_copy)


def test_corrupt_info_is_an_error(ds_copy):
    (ds_copy / "meta/info.json").write_text('{"codebase_version": "v3.0", "fps": ')
    with pytest.raises(DatasetError) as err:
        open_checked(ds_copy)
    assert err.value.where == "meta/info.json" and "corrupt or truncated" in err.value.what


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        open_dataset(tmp_path / "nope")


def test_unknown_version_without_layout_is_an_error(tmp_path):
    (tmp_path / "x/meta").mkdir(parents=True)
    (tmp_path / "x/meta/info.json").write_text(json.dumps({"codebase_version": "v9.9", "features": {}}))
    with pytest.raises(DatasetError, match="codebase_version 'v9.9' is not supported"):
        open_checked(tmp_path / "x")


def test_hub_repo_offline_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(DatasetError) as err:
        open_dataset("someone/not-cached-dataset")
    assert err.value.where == "someone/not-cached-dataset"
    assert "offline" in err.value.what and "\n" not in err.value.what


# ----------------------------------------------------------------------------- problems


def test_missing_data_file(tmp_path):
    root = write_synthetic_dataset(tmp_path / "v21", episodes=3, frames=5, version="v2.1")
    (root / "data/chunk-000/episode_000001.parquet").unlink()
    ds = open_checked(root)
    assert has(ds, "data/chunk-000/episode_000001.parquet", "data file is missing")
    assert len(ds.data_files()) == 2


def test_corrupt_data_file(ds_copy):
    (ds_copy / DATA).write_bytes(b"this is not parquet at all" * 10)
    ds = open_checked(ds_copy)
    assert has(ds, DATA, "is corrupt or truncated")
    assert ds.data_files() == []


def test_truncated_data_file(ds_copy):
    blob = (ds_copy / DATA).read_bytes()
    (ds_copy / DATA).write_bytes(blob[: len(blob) // 2])
    ds = open_checked(ds_copy)
    assert has(ds, DATA, "is corrupt or truncated")


def test_corrupt_episodes_metadata_falls_back_to_data(ds_copy):
    (ds_copy / EPISODES).write_bytes(b"garbage")
    ds = open_checked(ds_copy)
    assert has(ds, EPISODES, "is corrupt or truncated")
    assert ds.episodes["length"].tolist() == [10, 12, 14]


def test_truncated_jsonl_v21(tmp_path):
    root = write_synthetic_dataset(tmp_path / "v21", episodes=3, frames=5, version="v2.1")
    text = (root / "meta/episodes.jsonl").read_text()
    (root / "meta/episodes.jsonl").write_text(text[:-10])
    ds = open_checked(root)
    assert has(ds, "meta/episodes.jsonl", "1 corrupt or truncated line")
    assert has(ds, "meta/episodes.jsonl", "does not list episode 2")


def test_missing_stats_and_tasks(ds_copy):
    (ds_copy / "meta/stats.json").unlink()
    (ds_copy / "meta/tasks.parquet").unlink()
    ds = open_checked(ds_copy)
    assert has(ds, "meta/stats.json", "is missing")
    assert has(ds, "meta/tasks.parquet", "is missing")
    assert ds.tasks["task"].tolist() == ["pick the cube"]  # recovered from the episodes


def test_unknown_codebase_version(ds_copy):
    edit_info(ds_copy, lambda i: i.update(codebase_version="v9.9"))
    ds = open_checked(ds_copy)
    assert has(ds, "meta/info.json", "codebase_version 'v9.9' is not supported (v2.1, v3.0 are)")
    assert ds.version == "v3.0" and ds.total_frames == 36


@pytest.mark.parametrize("fps", [-5, 0, "thirty", None])
def test_bad_fps(ds_copy, fps):
    edit_info(ds_copy, lambda i: i.update(fps=fps))
    ds = open_checked(ds_copy)
    assert has(ds, "meta/info.json", f"fps {fps!r} is not a positive number; using 30 (inferred from timestamps)")
    assert ds.fps == 30


def test_feature_missing_from_data(ds_copy):
    edit_info(ds_copy, lambda i: i["features"].update({"observation.velocity": {"dtype": "float32", "shape": [6], "names": None}}))
    ds = open_checked(ds_copy)
    assert has(ds, "meta/info.json", "feature 'observation.velocity' is declared but missing from the data files")


def test_no_features_declared(ds_copy):
    edit_info(ds_copy, lambda i: i.pop("features"))
    ds = open_checked(ds_copy)
    assert has(ds, "meta/info.json", "has no 'features'")
    assert ds.total_frames == 36


def test_declared_video_absent(ds_copy):
    edit_info(ds_copy, lambda i: i["features"].update(
        {"observation.images.wrist": dict(i["features"]["observation.images.front"])}))
    ds = open_checked(ds_copy)
    assert has(ds, "observation.images.wrist", "declared video is absent for all episodes")
    assert not ds.video_location("observation.images.wrist", 0).exists


def test_declared_video_unreadable(ds_copy):
    (ds_copy / "videos/observation.images.front/chunk-000/file-000.mp4").write_bytes(b"\x00" * 100)
    ds = open_checked(ds_copy)
    assert has(ds, "videos/observation.images.front/chunk-000/file-000.mp4", "video for observation.images.front is unreadable")
    assert not ds.video_location("observation.images.front", 0).exists


def test_nan_and_inf_values(ds_copy):
    t = pq.read_table(ds_copy / DATA)
    a = np.stack(t.column("action").to_numpy(zero_copy_only=False)).astype(np.float32)
    a[15, 2] = np.nan
    a[16, 0] = np.inf
    col = pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), 6)
    pq.write_table(t.set_column(t.schema.get_field_index("action"), "action", col), ds_copy / DATA)
    ds = open_checked(ds_copy)
    assert has(ds, "action", "has NaN/inf/missing values in 2 frame(s) of episode 1")


def test_null_values_in_vectors(ds_copy):
    def hole(df):
        rows = [list(r) for r in df["observation.state"]]
        rows[3][1] = None
        df["observation.state"] = rows
        return df

    rewrite_data(ds_copy, hole)
    ds = open_checked(ds_copy)
    assert has(ds, "observation.state", "has NaN/inf/missing values in 1 frame(s) of episode 0")


def test_null_vector_rows(ds_copy):
    t = pq.read_table(ds_copy / DATA)
    rows = t.column("action").to_pylist()
    rows[11] = None
    col = pa.array(rows, type=t.schema.field("action").type)
    pq.write_table(t.set_column(t.schema.get_field_index("action"), "action", col), ds_copy / DATA)
    ds = open_checked(ds_copy)
    assert has(ds, "action", "has NaN/inf/missing values in 1 frame(s) of episode 1")
    assert not any("wrong length" in p.what for p in ds.problems)


def test_ragged_vectors(ds_copy):
    def ragged(df):
        rows = list(df["observation.state"].to_numpy())
        rows[30] = rows[30][:4]
        df["observation.state"] = rows
        return df

    rewrite_data(ds_copy, ragged)
    ds = open_checked(ds_copy)
    assert has(ds, "observation.state", "vectors have the wrong length (declared shape [6]) in episode 2")


def test_non_monotonic_timestamps(ds_copy):
    def shuffle(df):
        ts = df["timestamp"].to_numpy().copy()
        ts[3], ts[4] = ts[4], ts[3]
        df["timestamp"] = ts
        return df

    rewrite_data(ds_copy, shuffle)
    ds = open_checked(ds_copy)
    assert has(ds, "timestamp", "is not strictly increasing within episode 0")


def test_duplicate_indices(ds_copy):
    def dup(df):
        idx = df["index"].to_numpy().copy()
        idx[20] = idx[19]
        df["index"] = idx
        return df

    rewrite_data(ds_copy, dup)
    ds = open_checked(ds_copy)
    assert has(ds, "data/", "1 duplicate value(s) of `index` (e.g. 19) in episode 1")


def test_duplicate_frame_index(ds_copy):
    def dup(df):
        fi = df["frame_index"].to_numpy().copy()
        fi[5] = fi[4]
        df["frame_index"] = fi
        return df

    rewrite_data(ds_copy, dup)
    ds = open_checked(ds_copy)
    assert has(ds, "frame_index", "repeats within episode 0")


def test_episode_bounds_disagree_with_data(ds_copy):
    t = pq.read_table(ds_copy / EPISODES).to_pandas()
    t.loc[1, "length"] = 99
    t.loc[2, "dataset_from_index"] = 23
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), ds_copy / EPISODES)
    ds = open_checked(ds_copy)
    assert has(ds, "episode 1", "metadata says length 99 but the data has 12 frames")
    assert has(ds, "episode 2", "metadata bounds [23, 36) disagree with the data's index range [22, 36)")
    assert has(ds, "meta/info.json", "total_frames is 36 but the episodes hold 123 frames")


def test_episodes_without_frames(ds_copy):
    t = pq.read_table(ds_copy / EPISODES).to_pandas()
    extra = t.iloc[[2]].copy()
    extra["episode_index"] = 7
    t = __import__("pandas").concat([t, extra], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(t, preserve_index=False), ds_copy / EPISODES)
    ds = open_checked(ds_copy)
    assert has(ds, "meta/episodes/", "lists episode 7 that have no frames in the data")


def test_template_escaping_root_is_refused(ds_copy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(ds_copy / DATA, outside / "stolen.parquet")
    edit_info(ds_copy, lambda i: i.update(data_path="../outside/stolen.parquet"))
    ds = open_checked(ds_copy)
    assert has(ds, "meta/info.json", "data_path '../outside/stolen.parquet' points outside the dataset folder (refused)")
    assert ds.data_files() == []


def test_absolute_template_is_refused(ds_copy):
    edit_info(ds_copy, lambda i: i.update(video_path="/etc/{video_key}.mp4"))
    ds = open_checked(ds_copy)
    assert has(ds, "meta/info.json", "video_path '/etc/{video_key}.mp4' points outside the dataset folder (refused)")


def test_symlink_escaping_root_is_refused(ds_copy, tmp_path):
    outside = tmp_path / "elsewhere.parquet"
    shutil.move(ds_copy / DATA, outside)
    os.symlink(outside, ds_copy / DATA)
    ds = open_checked(ds_copy)
    assert has(ds, DATA, "is a symlink that leads outside the dataset folder (refused)")
    assert ds.data_files() == []


def test_symlink_inside_root_is_fine(ds_copy):
    inner = ds_copy / "data/real.parquet"
    shutil.move(ds_copy / DATA, inner)
    os.symlink(inner, ds_copy / DATA)
    ds = open_checked(ds_copy)
    assert ds.problems == () and len(ds.data_files()) == 1


# ----------------------------------------------------------------------------- messy real-world layouts


def test_non_standard_keys_nested_and_null_names(tmp_path):
    src = write_synthetic_dataset(tmp_path / "src", episodes=2, frames=8, environment_state=False)
    root = tmp_path / "renamed-by-someone"
    shutil.copytree(src, root)
    t = pq.read_table(root / DATA)
    t = t.rename_columns(["actions" if c == "action" else "state" if c == "observation.state" else c for c in t.column_names])
    pq.write_table(t, root / DATA)

    def fix(info):
        f = info["features"]
        f["actions"] = dict(f.pop("action"), names={"motors": [f"m{i}" for i in range(6)]})
        f["state"] = dict(f.pop("observation.state"), names=None)
        f["image"] = {"dtype": "image", "shape": [48, 64, 3], "names": ["height", "width", "channel"]}

    edit_info(root, fix)
    ds = open_checked(root)
    assert ds.action_key == "actions" and ds.state_key == "state"
    assert ds.vector_features()["actions"] == [f"m{i}" for i in range(6)]
    assert ds.vector_features()["state"] == [str(i) for i in range(6)]
    assert has(ds, "meta/info.json", "feature 'image' is declared but missing")
    from studio.plugins import PluginHost
    from studio.query import Catalog

    cat = Catalog(dataset=ds).build(PluginHost(load_entry_points=False))
    assert {"actions.m5", "state.0"} <= set(cat.frame_columns)
    assert cat.sql('SELECT count("actions.m0") AS n FROM frames').df["n"][0] == 16


def test_open_nested_folder_and_info_path(base, tmp_path):
    wrapper = tmp_path / "download-main"
    shutil.copytree(base, wrapper / "inner")
    assert open_dataset(wrapper).root == (wrapper / "inner").resolve()
    assert open_dataset(base / "meta/info.json").root == base.resolve()


# ----------------------------------------------------------------------------- project


def test_project_datasets_and_recent(project, base):
    write_synthetic_dataset(project.datasets_dir / "a", episodes=1, frames=3)
    write_synthetic_dataset(project.selections_dir / "b", episodes=1, frames=3)
    write_synthetic_dataset(project.rollouts_dir / "c", episodes=1, frames=3)
    (project.datasets_dir / "not-a-dataset").mkdir()
    names = [p.name for p in list_project_datasets(project)]
    assert names == ["a", "b", "c"]
    assert recent(project) == []
    open_dataset(base, project=project)
    remember_recent(project, "x/y")
    remember_recent(project, str(base.resolve()))
    assert recent(project) == [str(base.resolve()), "x/y"]


# ----------------------------------------------------------------------------- CLI


def test_cli_info_json(base, capsys):
    from studio.cli import main

    assert main(["info", str(base), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("codebase_version", "robot_type", "fps", "total_episodes", "total_frames", "features", "problems"):
        assert key in out
    assert out["total_frames"] == 36 and out["features"]["action"]["shape"] == [6] and out["problems"] == []


def test_cli_info_text_lists_problems(capsys):
    from studio.cli import main

    assert main(["info", str(SO101)]) == 0
    out = capsys.readouterr().out
    assert "episodes  4" in out and "frames    1492" in out and "fps       30" in out
    assert "observation.images.front: declared video is absent for all episodes" in out


def test_cli_info_errors_exit_2(tmp_path, capsys):
    from studio.cli import main

    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no such folder" in err and "Traceback" not in err


def test_scan_cache_is_reused_and_invalidated(ds_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    first = open_checked(ds_copy)
    cached = list((tmp_path / "cache/scans").glob("*.json"))
    assert len(cached) == 1 and first.problems == ()
    assert open_checked(ds_copy).problems == ()  # served from the cache
    rewrite_data(ds_copy, lambda df: df.assign(index=df["index"].where(df.index != 20, 19)))
    again = open_checked(ds_copy)  # file changed: scanned again, not served stale
    assert has(again, "data/", "duplicate value(s) of `index`")
    assert len(list((tmp_path / "cache/scans").glob("*.json"))) == 2


def test_v21_wrong_length_is_reported_once(tmp_path):
    root = write_synthetic_dataset(tmp_path / "v21", episodes=3, frames=5, version="v2.1")
    lines = (root / "meta/episodes.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["length"] = 9
    lines[0] = json.dumps(first)
    (root / "meta/episodes.jsonl").write_text("\n".join(lines) + "\n")
    ds = open_checked(root)
    assert has(ds, "episode 0", "metadata says length 9 but the data has 5 frames")
    assert not any("bounds" in p.what for p in ds.problems)
    assert ds.episode_bounds(2) == (10, 15)


def test_hub_repo_from_cache_offline(base, tmp_path, monkeypatch):
    """A cached Hub dataset opens offline; its snapshot files are symlinks into blobs/ (allowed)."""
    import huggingface_hub.constants as c

    cache = tmp_path / "hf"
    repo = cache / "datasets--someone--cached-ds"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs/main").write_text(commit)
    for src in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = src.relative_to(base)
        blob = repo / "blobs" / hashlib.sha256(src.read_bytes()).hexdigest()
        shutil.copy(src, blob)
        dst = snap / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, dst.parent), dst)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    before = snapshot(repo)
    ds = open_dataset("someone/cached-ds")
    assert snapshot(repo) == before
    assert ds.repo_id == "someone/cached-ds" and ds.name == "someone/cached-ds"
    assert ds.problems == () and ds.total_frames == 36 and len(ds.data_files()) == 1
    from studio.plugins import PluginHost
    from studio.query import Catalog

    cat = Catalog(dataset=ds).build(PluginHost(load_entry_points=False))
    assert cat.sql("SELECT count(*) AS n FROM frames").df["n"][0] == 36
    assert ds.video_location("observation.images.front", 0).exists


def test_corrupt_pages_with_intact_footer(tmp_path):
    """Damage inside the column data (footer intact) is found by the scan, file by file."""
    root = write_synthetic_dataset(tmp_path / "v21", episodes=3, frames=20, version="v2.1")
    bad = root / "data/chunk-000/episode_000001.parquet"
    blob = bytearray(bad.read_bytes())
    blob[200:1200] = b"\xab" * 1000
    bad.write_bytes(bytes(blob))
    ds = open_checked(root)
    assert has(ds, "data/chunk-000/episode_000001.parquet", "is corrupt or truncated")
    assert [p.name for p in ds.data_files()] == ["episode_000000.parquet", "episode_000002.parquet"]
    assert has(ds, "meta/episodes.jsonl", "lists episode 1 that have no frames in the data")
