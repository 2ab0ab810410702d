"""Playback: episodes → .rrd, read back with rerun's own dataframe reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.synthetic import write_synthetic_dataset

FRONT, WRIST = "observation.images.front", "observation.images.wrist"
LENGTHS = [40, 50, 45]


@pytest.fixture(scope="module")
def ds_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("playback") / "so101"
    return write_synthetic_dataset(root, episodes=3, frames=LENGTHS, videos=(FRONT, WRIST), seed=3)


def _load(path):
    import rerun as rr

    return rr.dataframe.load_recording(str(path))


def _entities(rec) -> set[str]:
    return {c.entity_path for c in rec.schema().component_columns()}


def _column(rec, contents: str, column: str):
    table = rec.view(index="frame_index", contents=contents).select().read_all()
    return table.column("frame_index").to_numpy(), table.column(column).to_pylist()


def _decoded(blob_or_path, pts_ns: list[int]) -> dict[int, np.ndarray]:
    """Decode the frames at the given timestamps (ns, relative to the video's first frame)."""
    import io

    import av

    src = io.BytesIO(blob_or_path) if isinstance(blob_or_path, (bytes, bytearray)) else str(blob_or_path)
    out = {}
    with av.open(src) as c:
        st = c.streams.video[0]
        frames = [(int(round(float(f.pts * st.time_base) * 1e9)), f.to_ndarray(format="rgb24")) for f in c.decode(st)]
    first = min(t for t, _ in frames)
    for t in pts_ns:  # timestamps match to within rounding (1 ms)
        dt, img = min(((abs(ft - first - t), img) for ft, img in frames), key=lambda x: x[0])
        assert dt < 1e6, f"no frame at {t} ns"
        out[t] = img
    return out


def test_episode_curves_are_named_from_info_json(ds_root, tmp_path):
    from studio.datasets import open_dataset
    from studio.playback import write_recording

    ds = open_dataset(ds_root)
    rec = write_recording([(ds, 1)], tmp_path / "ep1.rrd")
    assert rec.path.is_file() and rec.episodes[0].frames == LENGTHS[1]
    r = _load(rec.path)
    ents = _entities(r)
    for key in ("observation.state", "action"):
        for joint in ds.features[key]["names"]:
            assert f"/episode_1/{key}/{joint}" in ents
    for axis in "xyz":
        assert f"/episode_1/observation.environment_state/{axis}" in ents
    assert {f"/episode_1/cameras/{FRONT}", f"/episode_1/cameras/{WRIST}", "/episode_1/task"} <= ents

    # Timeline: one row per frame, frame_index 0..n-1, values equal to the parquet's.
    fi, vals = _column(r, "/episode_1/action/**", "/episode_1/action/gripper.pos:Scalars:scalars")
    assert fi.tolist() == list(range(LENGTHS[1]))
    import pyarrow.parquet as pq

    t = pq.read_table(ds_root / "data/chunk-000/file-000.parquet", filters=[("episode_index", "=", 1)])
    expected = np.asarray(t.column("action").to_pylist())[:, 5]
    assert np.allclose([v[0] for v in vals], expected, atol=1e-5)


def _reencode_av1(path: Path) -> None:
    """Re-encode an mp4 as AV1 the way lerobot-record does (libsvtav1, GOP 2, yuv420p)."""
    from fractions import Fraction

    import av

    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    from helpers import ordinary_priority

    tmp = path.with_name("av1.mp4")
    with ordinary_priority(), av.open(str(tmp), "w") as c:
        st = c.add_stream("libsvtav1", rate=30, options={"g": "2", "crf": "30", "preset": "12"})
        st.width, st.height, st.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 30)
            for pkt in st.encode(f):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    tmp.replace(path)


@pytest.mark.parametrize("codec,mode", [("h264", "file"), ("h264", "segment"), ("av1", "segment")])
def test_video_frames_reference_the_episode_timestamps(ds_root, tmp_path, codec, mode):
    """v3.0: episode 1 starts at from_timestamp (40/30 s) inside a shared mp4."""
    from studio.datasets import open_dataset
    from studio.playback import write_recording

    if codec == "av1":
        root = tmp_path / "av1"
        shutil.copytree(ds_root, root)
        _reencode_av1(root / f"videos/{FRONT}/chunk-000/file-000.mp4")
    else:
        root = ds_root
    ds = open_dataset(root)
    rec = write_recording([(ds, 1)], tmp_path / f"ep1-{mode}.rrd", video_mode=mode)
    r = _load(rec.path)
    ent = f"/episode_1/cameras/{FRONT}"
    fi, refs = _column(r, f"{ent}/**", f"{ent}:VideoFrameReference:timestamp")
    refs = [v[0] for v in refs]
    assert len(refs) == LENGTHS[1] and fi.tolist() == list(range(LENGTHS[1]))
    loc = ds.video_location(FRONT, 1)
    assert loc.from_ts == pytest.approx(40 / 30)
    table = r.view(index="frame_index", contents=f"{ent}/**").select().read_all()
    blob = bytes(table.column(f"{ent}:AssetVideo:blob").to_pylist()[0][0])
    if mode == "file":
        assert refs[0] == pytest.approx(loc.from_ts * 1e9, abs=1e6)
        assert np.allclose(np.diff(refs), 1e9 / 30, atol=1e6)
        assert blob == loc.path.read_bytes()
    else:  # the segment holds only this episode (plus at most a GOP before it)
        assert len(blob) < loc.path.stat().st_size
    # The referenced frame is the frame the dataset recorded: decode both and compare.
    import av

    with av.open(str(loc.path)) as c:
        st = c.streams.video[0]
        orig = {int(round(float(f.pts * st.time_base) * 30)): f.to_ndarray(format="rgb24") for f in c.decode(st)}
    got = _decoded(blob, [refs[k] for k in (0, 10, LENGTHS[1] - 1)])
    for k in (0, 10, LENGTHS[1] - 1):
        assert np.array_equal(got[refs[k]], orig[40 + k])


def test_missing_video_is_a_note_not_a_failure(ds_root, tmp_path):
    from studio.datasets import open_dataset
    from studio.playback import write_recording

    copy = tmp_path / "copy"
    shutil.copytree(ds_root, copy)
    shutil.rmtree(copy / "videos" / WRIST)
    rec = write_recording([(open_dataset(copy), 0)], tmp_path / "ep0.rrd")
    ents = _entities(_load(rec.path))
    assert f"/episode_0/cameras/{FRONT}" in ents
    assert f"/episode_0/cameras/{WRIST}" not in ents
    assert "/episode_0/notes" in ents
    assert any(WRIST in n and "missing" in n for n in rec.notes)
    static = _load(rec.path).view(index="frame_index", contents="/episode_0/task").select_static().read_all()
    assert WRIST in str(static.column("/episode_0/task:TextDocument:text").to_pylist())


def test_corrupt_video_is_a_note_not_a_failure(ds_root, tmp_path):
    from studio.playback import write_recording

    copy = tmp_path / "copy"
    shutil.copytree(ds_root, copy)
    (copy / f"videos/{FRONT}/chunk-000/file-000.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"garbage" * 50)
    rec = write_recording([(copy, 2)], tmp_path / "ep2.rrd")
    assert rec.episodes[0].cameras == (f"/episode_2/cameras/{WRIST}",)
    assert any(FRONT in n for n in rec.notes)


def test_side_by_side_episodes_share_aligned_timelines(ds_root, tmp_path):
    from studio.playback import write_recording

    rec = write_recording([(ds_root, 0, "all-data"), (ds_root, 1, "curated")], tmp_path / "sbs.rrd")
    assert [e.label for e in rec.episodes] == ["all-data", "curated"]
    r = _load(rec.path)
    ents = _entities(r)
    assert "/all-data/observation.state/gripper.pos" in ents and "/curated/observation.state/gripper.pos" in ents
    fa, _ = _column(r, "/all-data/action/**", "/all-data/action/gripper.pos:Scalars:scalars")
    fb, _ = _column(r, "/curated/action/**", "/curated/action/gripper.pos:Scalars:scalars")
    assert fa.tolist() == list(range(LENGTHS[0])) and fb.tolist() == list(range(LENGTHS[1]))
    both = r.view(index="frame_index", contents="/**").select().read_all()
    assert both.num_rows == max(LENGTHS[:2])
    times = r.view(index="time", contents="/curated/**").select().read_all().column("time").to_pylist()
    assert times[0].total_seconds() == 0.0


def test_v21_dataset_plays_with_one_file_per_episode(tmp_path):
    from studio.playback import write_recording

    root = write_synthetic_dataset(tmp_path / "v21", episodes=2, frames=30, version="v2.1", videos=(FRONT,))
    rec = write_recording([(root, 1)], tmp_path / "v21.rrd")
    fi, refs = _column(_load(rec.path), f"/episode_1/cameras/{FRONT}/**",
                       f"/episode_1/cameras/{FRONT}:VideoFrameReference:timestamp")
    assert len(fi) == 30 and refs[0][0] == 0


def test_recording_cache_is_keyed_by_fingerprint_and_episode(ds_root, project):
    from studio.playback import cached_recording

    a = cached_recording(project, [(ds_root, 0)])
    assert not a.cached and a.path.is_relative_to(project.home)
    assert not any(p.suffix == ".rrd" for p in ds_root.rglob("*"))  # never inside the dataset
    b = cached_recording(project, [(ds_root, 0)])
    assert b.cached and b.path == a.path and b.episodes == a.episodes
    c = cached_recording(project, [(ds_root, 2)])
    assert not c.cached and c.path != a.path


def test_changed_dataset_gets_a_new_recording_with_the_new_values(ds_root, project, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from studio.playback import cached_recording

    root = tmp_path / "edited"
    shutil.copytree(ds_root, root)
    old = cached_recording(project, [(root, 0)])
    assert cached_recording(project, [(root, 0)]).cached
    data = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data)
    action = np.asarray(table.column("action").to_pylist(), dtype=np.float32)
    action[:, 5] = 100.0 + np.arange(len(action))  # the gripper curve becomes a ramp
    col = pa.array(list(action), type=table.schema.field("action").type)
    pq.write_table(table.set_column(table.column_names.index("action"), "action", col), data)

    new = cached_recording(project, [(root, 0)])
    assert not new.cached and new.path != old.path and old.path.is_file()
    _, vals = _column(_load(new.path), "/episode_0/action/**", "/episode_0/action/gripper.pos:Scalars:scalars")
    assert np.allclose([v[0] for v in vals], 100.0 + np.arange(LENGTHS[0]))
    _, stale = _column(_load(old.path), "/episode_0/action/**", "/episode_0/action/gripper.pos:Scalars:scalars")
    assert not np.allclose([v[0] for v in stale], 100.0 + np.arange(LENGTHS[0]))


def test_bad_episode_is_one_sentence(ds_root, tmp_path):
    from studio.errors import StudioError
    from studio.playback import write_recording

    with pytest.raises(StudioError, match="episode 7"):
        write_recording([(ds_root, 7)], tmp_path / "x.rrd")
    assert not (tmp_path / "x.rrd").exists()


def test_cli_rrd_writes_side_by_side(ds_root, tmp_path, capsys):
    from studio.cli import main

    out = tmp_path / "cli.rrd"
    rc = main(["rrd", str(ds_root), "--episode", "0", "--episode", "2", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert {"/episode_0/task", "/episode_2/task"} <= _entities(_load(out))
    rc = main(["rrd", str(ds_root), "--episode", "5", "--out", str(tmp_path / "bad.rrd")])
    assert rc == 2
    assert capsys.readouterr().err.startswith("error: episode 5:")


@pytest.fixture(scope="module")
def sim_rollouts(tmp_path_factory) -> Path:
    import os

    os.environ.setdefault("MUJOCO_GL", "osmesa")
    from studio.sim.rollout import run_rollouts

    out = tmp_path_factory.mktemp("sim") / "expert"
    return run_rollouts("scripted:expert", episodes=1, seed=3, workers=1, out=out, max_steps=20, cameras=False)


def test_sim_rollout_has_3d_scene_with_per_frame_body_poses(sim_rollouts, tmp_path):
    import json

    import pyarrow.parquet as pq

    from studio.playback import write_recording
    from studio.sim.scene import geoms

    rec = write_recording([(sim_rollouts, 0)], tmp_path / "sim.rrd")
    lay = rec.episodes[0]
    assert lay.scene == "/episode_0/scene" and not lay.notes
    r = _load(rec.path)
    cols = r.schema().component_columns()
    shapes = {c.entity_path for c in cols if c.component in (
        "Boxes3D:half_sizes", "Mesh3D:vertex_positions", "Ellipsoids3D:half_sizes", "Capsules3D:lengths",
        "Cylinders3D:lengths")}
    assert "/episode_0/scene/block/block" in shapes
    assert len(shapes) == len(geoms("pick_cube"))  # every visual geom, logged once
    assert all(c.is_static for c in cols if c.entity_path in shapes)

    poses = pq.read_table(sim_rollouts / "sim" / "poses.parquet").to_pandas()
    block = poses[(poses["body"] == "block") & (poses["episode_index"] == 0)].sort_values("frame_index")
    fi, tr = _column(r, "/episode_0/scene/block", "/episode_0/scene/block:Transform3D:translation")
    assert fi.tolist() == block["frame_index"].tolist() == list(range(lay.frames))
    assert np.allclose([t[0] for t in tr], block[["px", "py", "pz"]].to_numpy(), atol=1e-6)

    summary = json.loads((sim_rollouts / "summary.json").read_text())["episodes"][0]
    assert lay.outcome.startswith("success" if summary["success"] else "fail")
    fi, texts = _column(r, "/episode_0/events", "/episode_0/events:TextLog:text")
    assert texts[-1][0].startswith("end: ") and fi[-1] == lay.frames - 1


def test_demo_and_rollout_side_by_side(sim_rollouts, ds_root, tmp_path):
    from studio.playback import write_recording

    rec = write_recording([(ds_root, 2, "demo"), (sim_rollouts, 0, "rollout")], tmp_path / "mixed.rrd")
    ents = _entities(_load(rec.path))
    assert f"/demo/cameras/{FRONT}" in ents and "/rollout/scene/block" in ents
    assert [e.scene for e in rec.episodes] == [None, "/rollout/scene"]


def test_image_features_are_logged_as_encoded_images(ds_root, tmp_path):
    """Datasets with `image` features (PNG bytes in the parquet, no mp4) play too."""
    import io
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from studio.playback import write_recording

    root = tmp_path / "img"
    shutil.copytree(ds_root, root)
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.images.top"] = {"dtype": "image", "shape": [8, 8, 3],
                                                   "names": ["height", "width", "channels"]}
    (root / "meta/info.json").write_text(json.dumps(info))
    data = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data)
    pngs = []
    for i in range(table.num_rows):
        buf = io.BytesIO()
        Image.fromarray(np.full((8, 8, 3), i % 256, np.uint8)).save(buf, format="PNG")
        pngs.append({"bytes": buf.getvalue(), "path": None})
    table = table.append_column("observation.images.top",
                                pa.array(pngs, pa.struct([("bytes", pa.binary()), ("path", pa.string())])))
    pq.write_table(table, data)

    rec = write_recording([(root, 1)], tmp_path / "img.rrd")
    assert "/episode_1/cameras/observation.images.top" in rec.episodes[0].cameras
    ent = "/episode_1/cameras/observation.images.top"
    fi, blobs = _column(_load(rec.path), f"{ent}/**", f"{ent}:EncodedImage:blob")
    assert fi.tolist() == list(range(LENGTHS[1]))
    first = np.asarray(Image.open(io.BytesIO(bytes(blobs[0][0]))))
    assert first[0, 0, 0] == LENGTHS[0]  # episode 1 starts at global row 40
