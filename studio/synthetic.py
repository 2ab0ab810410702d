"""Synthetic LeRobot datasets (v3.0 and v2.1) for tests, benchmarks and demos.

`write_synthetic_dataset` writes exactly the files lerobot 0.4.4 writes (info.json,
stats.json, tasks, episodes metadata with per-episode stats, data parquet, optional mp4
videos), so `LeRobotDataset(repo_id, root=path)` loads the result offline. All arrays are
built with vectorised NumPy/Arrow work: 10,000 episodes × 1,000 frames take seconds.

Lower per-episode `quality` makes an episode jerkier (white noise on the joints), idler
(still at the start and the end) and longer (a detour away from the straight path), so
curation metrics have signal to find.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from studio.stats import QUANTILES, episode_stats, q_name

SO101_JOINTS = (
    "shoulder_pan.pos",
    "shoulder_lift.pos",
    "elbow_flex.pos",
    "wrist_flex.pos",
    "wrist_roll.pos",
    "gripper.pos",
)
CUBE_NAMES = ("x", "y", "z")
VIDEO_W, VIDEO_H = 64, 48
DATA_PATH_V30 = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH_V30 = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
DATA_PATH_V21 = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH_V21 = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
CHUNKS_SIZE = 1000
# lerobot starts a new data file at ~100 MB; the same budget (in bytes per frame) here.
DATA_FILE_BYTES = 100 * 1024 * 1024


def write_synthetic_dataset(
    root: str | os.PathLike,
    *,
    episodes: int = 4,
    frames: int | Sequence[int] = 60,
    fps: int = 30,
    version: str = "v3.0",
    state_names: Sequence[str] | None = None,
    environment_state: bool = True,
    videos: Sequence[str] = (),
    tasks: Sequence[str] = ("pick the cube",),
    seed: int = 0,
    quality: Sequence[float] | np.ndarray | None = None,
    robot_type: str = "so101_follower",
    names_style: str = "flat",
    rename: dict[str, str] | None = None,
    missing_videos: str | Sequence[int] | None = None,
    stats_json: bool = True,
) -> Path:
    """Write a LeRobot dataset at `root` (must not exist or be empty) and return its path.

    Shapes real recordings come in: `names_style` "nested" writes `[[...]]` names (Unitree
    G1) and "dict" `{"motors": [...]}`; `rename` renames features (e.g. `{"action":
    "actions", "observation.state": "state", "observation.images.front": "image"}`);
    `missing_videos` ("all" or episode indices) deletes those episodes' video files after
    writing; `stats_json=False` leaves out meta/stats.json (v2.1 ships episodes_stats.jsonl).
    """
    if version not in ("v3.0", "v2.1"):
        raise ValueError(f"version must be 'v3.0' or 'v2.1', not {version!r}")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(state_names or SO101_JOINTS)
    lengths = _lengths(episodes, frames)
    if quality is None:
        qual = rng.uniform(0.6, 1.0, size=episodes)
    else:
        qual = np.clip(np.asarray(quality, dtype=np.float64), 0.0, 1.0)
        if qual.shape != (episodes,):
            raise ValueError(f"quality must have one value per episode ({episodes})")
    tasks = list(tasks) or ["pick the cube"]

    cols = _frames(rng, lengths, fps, len(names), qual, environment_state, len(tasks))
    features = _features(names, environment_state, videos, fps)
    frames_by_key: dict[str, np.ndarray] = {}
    for i, key in enumerate(videos):
        frames_by_key[key] = _video_frames(cols["observation.state"], i)
    if names_style != "flat":
        for key in ("action", "observation.state"):
            flat = features[key]["names"]
            features[key]["names"] = [flat] if names_style == "nested" else {"motors": flat}
    if rename:
        ren = lambda k: rename.get(k, k)  # noqa: E731
        features = {ren(k): v for k, v in features.items()}
        cols = {ren(k): v for k, v in cols.items()}
        frames_by_key = {ren(k): v for k, v in frames_by_key.items()}
        videos = [ren(k) for k in videos]

    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    numeric = [k for k, ft in features.items() if ft["dtype"] not in ("video", "image", "string")]
    ep_stats = {k: episode_stats(cols[k], starts, lengths, quantiles=(version == "v3.0")) for k in numeric}
    for key in videos:
        ep_stats[key] = _video_episode_stats(frames_by_key[key], starts, lengths, quantiles=(version == "v3.0"))
    global_stats = {k: _aggregate(v, lengths) for k, v in ep_stats.items()}
    ep_tasks = [[tasks[i % len(tasks)]] for i in range(episodes)]

    info = {
        "codebase_version": version,
        "robot_type": robot_type,
        "total_episodes": int(episodes),
        "total_frames": int(lengths.sum()),
        "total_tasks": len(tasks),
    }
    if version == "v3.0":
        info.update(
            {
                "chunks_size": CHUNKS_SIZE,
                "data_files_size_in_mb": 100,
                "video_files_size_in_mb": 200,
                "fps": int(fps),
                "splits": {"train": f"0:{episodes}"},
                "data_path": DATA_PATH_V30,
                "video_path": VIDEO_PATH_V30 if videos else None,
                "features": features,
            }
        )
        _write_v30(root, info, cols, features, lengths, starts, ep_stats, ep_tasks, tasks, frames_by_key, fps)
    else:
        n_chunks = (episodes + CHUNKS_SIZE - 1) // CHUNKS_SIZE
        info.update(
            {
                "total_videos": int(episodes * len(videos)),
                "total_chunks": int(n_chunks),
                "chunks_size": CHUNKS_SIZE,
                "fps": int(fps),
                "splits": {"train": f"0:{episodes}"},
                "data_path": DATA_PATH_V21,
                "video_path": VIDEO_PATH_V21 if videos else None,
                "features": features,
            }
        )
        _write_v21(root, info, cols, features, lengths, starts, ep_stats, ep_tasks, tasks, frames_by_key, fps)
    _write_json(root / "meta/info.json", info)
    if stats_json:
        _write_json(root / "meta/stats.json", _jsonable(global_stats))
    if missing_videos is not None and videos:
        gone = range(episodes) if missing_videos == "all" else [int(e) for e in missing_videos]
        for key in videos:
            for e in gone:
                if version == "v3.0":
                    path = root / VIDEO_PATH_V30.format(video_key=key, chunk_index=0, file_index=0)
                else:
                    path = root / VIDEO_PATH_V21.format(episode_chunk=e // CHUNKS_SIZE, video_key=key, episode_index=e)
                path.unlink(missing_ok=True)
    return root


# ---------------------------------------------------------------------------- trajectories


def _lengths(episodes: int, frames: int | Sequence[int]) -> np.ndarray:
    if isinstance(frames, (int, np.integer)):
        lengths = np.full(episodes, int(frames), dtype=np.int64)
    else:
        lengths = np.asarray(list(frames), dtype=np.int64)
        if lengths.shape != (episodes,):
            raise ValueError(f"frames must be an int or one length per episode ({episodes})")
    if episodes < 1 or (lengths < 2).any():
        raise ValueError("need at least one episode of at least 2 frames")
    return lengths


def _smoothstep(u: np.ndarray) -> np.ndarray:
    return u * u * (3.0 - 2.0 * u)


def _frames(rng, lengths, fps, n_joints, qual, environment_state, n_tasks) -> dict[str, np.ndarray]:
    n = int(lengths.sum())
    n_ep = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ep = np.repeat(np.arange(n_ep, dtype=np.int64), lengths)
    frame_index = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    s = (frame_index / np.repeat(lengths - 1, lengths)).astype(np.float32)  # 0..1 within each episode
    q = qual[ep].astype(np.float32)
    # Idle: a low-quality operator waits before moving and lingers at the end.
    idle = 0.4 * (1.0 - q)
    u = np.clip((s - idle / 2) / np.maximum(1.0 - idle, 1e-6), 0.0, 1.0).astype(np.float32)

    lo = np.full(n_joints, -90.0)
    hi = np.full(n_joints, 90.0)
    lo[-1], hi[-1] = 0.0, 100.0  # gripper opening in percent
    start = rng.uniform(lo * 0.5, hi * 0.5, size=(n_ep, n_joints)).astype(np.float32)
    goal = rng.uniform(lo * 0.8, hi * 0.8, size=(n_ep, n_joints)).astype(np.float32)
    detour_dir = rng.normal(size=(n_ep, n_joints))
    detour_dir = (detour_dir / np.linalg.norm(detour_dir, axis=1, keepdims=True)).astype(np.float32)

    ss = _smoothstep(u)[:, None]
    state = start[ep]
    state += (goal - start)[ep] * ss
    # Detour: longer path for lower quality.
    state += (1.0 - q)[:, None] * 40.0 * np.sin(np.pi * u)[:, None] * detour_dir[ep]
    # Jerk: white noise that grows as quality drops, only while the arm moves (idle stays still).
    moving = np.sqrt(np.clip(np.sin(np.pi * u), 0.0, None))
    jerk = ((1.0 - q) ** 1.5 * 3.0 * moving + 0.02)[:, None]
    state += jerk * rng.standard_normal((n, n_joints), dtype=np.float32)
    # Gripper closes in the middle of the episode (grasp), opens at the end.
    grip = np.where((u > 0.35) & (u < 0.85), 5.0, 80.0)
    state[:, -1] = grip + rng.standard_normal(n, dtype=np.float32) * 0.5
    state = state.astype(np.float32)

    # Action = next commanded position (one frame ahead within the episode).
    nxt = np.minimum(np.arange(n) + 1, np.repeat(starts + lengths - 1, lengths))
    action = state[nxt] + rng.standard_normal((n, n_joints), dtype=np.float32) * np.float32(0.2)

    cols = {
        "action": action,
        "observation.state": state,
        "timestamp": (frame_index / float(fps)).astype(np.float32),
        "frame_index": frame_index,
        "episode_index": ep,
        "index": np.arange(n, dtype=np.int64),
        "task_index": (ep % n_tasks).astype(np.int64),
    }
    if environment_state:
        cube0 = np.column_stack([rng.uniform(0.2, 0.4, n_ep), rng.uniform(-0.15, 0.15, n_ep), np.full(n_ep, 0.02)])
        cube1 = np.column_stack([rng.uniform(0.2, 0.4, n_ep), rng.uniform(-0.15, 0.15, n_ep), np.full(n_ep, 0.02)])
        carry = _smoothstep(np.clip((u - 0.4) / 0.4, 0.0, 1.0))[:, None]
        lift = (0.05 * np.sin(np.pi * np.clip((u - 0.4) / 0.4, 0.0, 1.0)))
        cube = cube0[ep] + (cube1 - cube0)[ep] * carry
        cube[:, 2] += lift
        cols["observation.environment_state"] = cube.astype(np.float32)
    return cols


def _features(names, environment_state, videos, fps) -> dict:
    feats: dict[str, dict] = {
        "action": {"dtype": "float32", "shape": [len(names)], "names": list(names)},
        "observation.state": {"dtype": "float32", "shape": [len(names)], "names": list(names)},
    }
    if environment_state:
        feats["observation.environment_state"] = {"dtype": "float32", "shape": [3], "names": list(CUBE_NAMES)}
    for key in videos:
        feats[key] = {
            "dtype": "video",
            "shape": [VIDEO_H, VIDEO_W, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": VIDEO_H,
                "video.width": VIDEO_W,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": int(fps),
                "video.channels": 3,
                "has_audio": False,
            },
        }
    for key in ("timestamp",):
        feats[key] = {"dtype": "float32", "shape": [1], "names": None}
    for key in ("frame_index", "episode_index", "index", "task_index"):
        feats[key] = {"dtype": "int64", "shape": [1], "names": None}
    return feats


# ---------------------------------------------------------------------------- stats


def _aggregate(ep: dict[str, np.ndarray], lengths) -> dict[str, np.ndarray]:
    """Global stats from per-episode stats, as lerobot's aggregate_stats does."""
    w = lengths.astype(np.float64).reshape((-1,) + (1,) * (ep["mean"].ndim - 1))
    total = w.sum()
    mean = (ep["mean"] * w).sum(axis=0) / total
    var = ((ep["std"] ** 2 + (ep["mean"] - mean) ** 2) * w).sum(axis=0) / total
    out = {
        "min": ep["min"].min(axis=0),
        "max": ep["max"].max(axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(lengths.sum())], dtype=np.int64),
    }
    for k, v in ep.items():
        if k.startswith("q"):
            out[k] = (v * w).sum(axis=0) / total
    return out


def _video_episode_stats(frames: np.ndarray, starts, lengths, *, quantiles: bool) -> dict[str, np.ndarray]:
    """Per-channel image stats in [0, 1], shape (n_ep, 3, 1, 1) like lerobot's."""
    n_ep = len(lengths)
    # A per-frame channel mean stands in for lerobot's sampled pixels: cheap and representative.
    pix = frames.reshape(len(frames), -1, 3).astype(np.float64) / 255.0
    per_frame = {
        "min": pix.min(axis=1),
        "max": pix.max(axis=1),
        "mean": pix.mean(axis=1),
        "sq": (pix * pix).mean(axis=1),
    }
    cnt = lengths.astype(np.float64)[:, None]
    mean = np.add.reduceat(per_frame["mean"], starts, axis=0) / cnt
    sq = np.add.reduceat(per_frame["sq"], starts, axis=0) / cnt
    out = {
        "min": np.minimum.reduceat(per_frame["min"], starts, axis=0),
        "max": np.maximum.reduceat(per_frame["max"], starts, axis=0),
        "mean": mean,
        "std": np.sqrt(np.maximum(sq - mean * mean, 0.0)),
    }
    if quantiles:
        for qv in QUANTILES:
            out[q_name(qv)] = out["min"] + (out["max"] - out["min"]) * qv
    out = {k: v.reshape(n_ep, 3, 1, 1) for k, v in out.items()}
    out["count"] = lengths.astype(np.int64)[:, None]
    return out


def _jsonable(stats: dict) -> dict:
    return {k: {s: np.asarray(a).tolist() for s, a in v.items()} for k, v in stats.items()}


def _nested_list_array(arr: np.ndarray) -> pa.Array:
    """(n, *shape) array → nested Arrow list column (list<list<...<double|int64>>>)."""
    flat = pa.array(np.ascontiguousarray(arr).reshape(-1))
    shape = arr.shape
    out: pa.Array = flat
    for dim in reversed(shape[1:]):
        n_lists = len(out) // dim
        offsets = pa.array(np.arange(n_lists + 1, dtype=np.int32) * dim)
        out = pa.ListArray.from_arrays(offsets, out)
    return out


# ---------------------------------------------------------------------------- videos


def _video_frames(state: np.ndarray, cam: int) -> np.ndarray:
    """Small RGB frames (n, H, W, 3): a square that moves with the first two joints, and a
    top row of 8 black/white blocks spelling the frame's index mod 256 (so tests can tell
    exactly which frame a decoder returned)."""
    n = len(state)
    px = np.clip((state[:, 0] + 100.0) / 200.0, 0.0, 1.0)
    py = np.clip((state[:, 1 if state.shape[1] > 1 else 0] + 100.0) / 200.0, 0.0, 1.0)
    cx = (px * (VIDEO_W - 12) + 6).astype(np.int32)
    cy = (py * (VIDEO_H - 20) + 14).astype(np.int32)
    xs = np.arange(VIDEO_W)
    ys = np.arange(VIDEO_H)
    mx = np.abs(xs[None, :] - cx[:, None]) < 6
    my = np.abs(ys[None, :] - cy[:, None]) < 6
    mask = my[:, :, None] & mx[:, None, :]
    frames = np.empty((n, VIDEO_H, VIDEO_W, 3), dtype=np.uint8)
    frames[:] = np.array([40 + 60 * cam, 60, 90], dtype=np.uint8)
    frames[mask] = np.array([230, 120 + 40 * cam, 30], dtype=np.uint8)
    bits = (np.arange(n)[:, None] >> np.arange(8)[None, :]) & 1  # (n, 8)
    row = np.repeat(bits, VIDEO_W // 8, axis=1).astype(np.uint8) * 255  # (n, W)
    frames[:, :8, :, :] = row[:, None, :, None]
    return frames


def _encode_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"g": "2", "crf": "23", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = VIDEO_W, VIDEO_H, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# ---------------------------------------------------------------------------- writers


def _hf_features_json(features: dict) -> bytes:
    out = {}
    for key, ft in features.items():
        if ft["dtype"] in ("video", "image"):
            continue
        if list(ft["shape"]) == [1]:
            out[key] = {"dtype": ft["dtype"], "_type": "Value"}
        else:
            out[key] = {"feature": {"dtype": ft["dtype"], "_type": "Value"}, "length": int(ft["shape"][0]), "_type": "List"}
    return json.dumps({"info": {"features": out}}).encode()


def _data_table(cols: dict[str, np.ndarray], features: dict, lo: int, hi: int) -> pa.Table:
    arrays, fields = [], []
    for key, ft in features.items():
        if ft["dtype"] in ("video", "image"):
            continue
        v = cols[key][lo:hi]
        if v.ndim == 2:
            arr = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(v).reshape(-1)), v.shape[1])
        else:
            arr = pa.array(v)
        arrays.append(arr)
        fields.append(pa.field(key, arr.type))
    schema = pa.schema(fields, metadata={b"huggingface": _hf_features_json(features)})
    return pa.Table.from_arrays(arrays, schema=schema)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=4, ensure_ascii=False))


def _write_v30(root, info, cols, features, lengths, starts, ep_stats, ep_tasks, tasks, frames_by_key, fps):
    import pandas as pd

    n_ep = len(lengths)
    # Split data files at episode boundaries when a file would pass lerobot's size budget.
    bytes_per_frame = sum(np.asarray(cols[k][:1]).nbytes for k in cols)
    frames_per_file = max(1, DATA_FILE_BYTES // max(bytes_per_frame, 1))
    file_no = np.empty(n_ep, dtype=np.int64)
    cur, acc = 0, 0
    for i, ln in enumerate(lengths.tolist()):  # per episode, not per frame
        if acc and acc + ln > frames_per_file:
            cur, acc = cur + 1, 0
        file_no[i] = cur
        acc += ln
    data_chunk, data_file = file_no // CHUNKS_SIZE, file_no % CHUNKS_SIZE
    for f in np.unique(file_no).tolist():
        eps = np.flatnonzero(file_no == f)
        lo, hi = int(starts[eps[0]]), int(starts[eps[-1]] + lengths[eps[-1]])
        path = root / DATA_PATH_V30.format(chunk_index=f // CHUNKS_SIZE, file_index=f % CHUNKS_SIZE)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = _data_table(cols, features, lo, hi)
        # lerobot appends one row group per episode (ParquetWriter.write_table per save_episode).
        # Dictionary-encode only the index columns: 2x faster writes, smaller files, same schema.
        with pq.ParquetWriter(path, table.schema, use_dictionary=["episode_index", "task_index"]) as writer:
            for e in eps.tolist():
                a = int(starts[e]) - lo
                writer.write_table(table.slice(a, int(lengths[e])))

    meta: dict[str, pa.Array] = {
        "episode_index": pa.array(np.arange(n_ep, dtype=np.int64)),
        "tasks": pa.array(ep_tasks, type=pa.list_(pa.string())),
        "length": pa.array(lengths.astype(np.int64)),
        "data/chunk_index": pa.array(data_chunk),
        "data/file_index": pa.array(data_file),
        "dataset_from_index": pa.array(starts.astype(np.int64)),
        "dataset_to_index": pa.array((starts + lengths).astype(np.int64)),
    }
    for key, frames in frames_by_key.items():
        _encode_mp4(root / VIDEO_PATH_V30.format(video_key=key, chunk_index=0, file_index=0), frames, fps)
        from_ts = starts / float(fps)
        meta[f"videos/{key}/chunk_index"] = pa.array(np.zeros(n_ep, dtype=np.int64))
        meta[f"videos/{key}/file_index"] = pa.array(np.zeros(n_ep, dtype=np.int64))
        meta[f"videos/{key}/from_timestamp"] = pa.array(from_ts.astype(np.float64))
        meta[f"videos/{key}/to_timestamp"] = pa.array((from_ts + lengths / float(fps)).astype(np.float64))
    for key, st in ep_stats.items():
        for name, arr in st.items():
            meta[f"stats/{key}/{name}"] = _nested_list_array(arr)
    meta["meta/episodes/chunk_index"] = pa.array(np.zeros(n_ep, dtype=np.int64))
    meta["meta/episodes/file_index"] = pa.array(np.zeros(n_ep, dtype=np.int64))
    path = root / "meta/episodes/chunk-000/file-000.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(meta), path)
    pd.DataFrame({"task_index": np.arange(len(tasks), dtype=np.int64)}, index=list(tasks)).to_parquet(
        root / "meta/tasks.parquet"
    )


def _write_v21(root, info, cols, features, lengths, starts, ep_stats, ep_tasks, tasks, frames_by_key, fps):
    n_ep = len(lengths)
    for i in range(n_ep):  # one file per episode is the v2.1 layout
        lo, hi = int(starts[i]), int(starts[i] + lengths[i])
        path = root / DATA_PATH_V21.format(episode_chunk=i // CHUNKS_SIZE, episode_index=i)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(_data_table(cols, features, lo, hi), path)
        for key, frames in frames_by_key.items():
            vpath = root / VIDEO_PATH_V21.format(episode_chunk=i // CHUNKS_SIZE, video_key=key, episode_index=i)
            _encode_mp4(vpath, frames[lo:hi], fps)
    meta = root / "meta"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "tasks.jsonl").write_text(
        "".join(json.dumps({"task_index": i, "task": t}) + "\n" for i, t in enumerate(tasks))
    )
    (meta / "episodes.jsonl").write_text(
        "".join(
            json.dumps({"episode_index": i, "tasks": ep_tasks[i], "length": int(lengths[i])}) + "\n"
            for i in range(n_ep)
        )
    )
    lines = []
    for i in range(n_ep):
        st = {k: {s: np.asarray(a[i]).tolist() for s, a in v.items()} for k, v in ep_stats.items()}
        lines.append(json.dumps({"episode_index": i, "stats": st}) + "\n")
    (meta / "episodes_stats.jsonl").write_text("".join(lines))


def remove(root: str | os.PathLike) -> None:
    """Delete a synthetic dataset folder (tests / benchmarks)."""
    shutil.rmtree(root, ignore_errors=True)


def write_arrays_dataset(
    root: str | os.PathLike,
    columns: dict[str, np.ndarray],
    lengths: Sequence[int],
    *,
    fps: int = 30,
    names: dict[str, Sequence[str]] | None = None,
    tasks: Sequence[str] = ("pick the cube",),
    robot_type: str = "so101_follower",
) -> Path:
    """Write given per-frame vector columns (e.g. {"action": (frames, d), "observation.state":
    (frames, d), "next.success": (frames,)}) as a LeRobot v3.0 dataset of episodes of the
    given lengths, with the same metadata and stats as `write_synthetic_dataset` (used to
    build test sets from real recordings and from other operator models)."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    root.mkdir(parents=True, exist_ok=True)
    lengths = np.asarray(list(lengths), dtype=np.int64)
    n = int(lengths.sum())
    n_ep = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ep = np.repeat(np.arange(n_ep, dtype=np.int64), lengths)
    frame_index = np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)
    tasks = list(tasks) or ["pick the cube"]
    names = dict(names or {})
    cols: dict[str, np.ndarray] = {}
    features: dict[str, dict] = {}
    for key, arr in columns.items():
        a = np.asarray(arr)
        if len(a) != n:
            raise ValueError(f"column {key} has {len(a)} rows, the episodes {n} frames")
        if a.ndim == 1:
            dtype = "bool" if a.dtype == bool else "float32"
            cols[key] = a.astype(np.float32) if dtype == "float32" else a
            features[key] = {"dtype": dtype, "shape": [1], "names": None}
        else:
            cols[key] = a.astype(np.float32)
            nm = list(names.get(key) or [f"{key.split('.')[-1]}_{i}" for i in range(a.shape[1])])
            features[key] = {"dtype": "float32", "shape": [a.shape[1]], "names": nm}
    cols["timestamp"] = (frame_index / float(fps)).astype(np.float32)
    cols["frame_index"] = frame_index
    cols["episode_index"] = ep
    cols["index"] = np.arange(n, dtype=np.int64)
    cols["task_index"] = (ep % len(tasks)).astype(np.int64)
    features["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for key in ("frame_index", "episode_index", "index", "task_index"):
        features[key] = {"dtype": "int64", "shape": [1], "names": None}
    numeric = [k for k, ft in features.items() if ft["dtype"] not in ("video", "image", "string", "bool")]
    ep_stats = {k: episode_stats(cols[k], starts, lengths, quantiles=True) for k in numeric}
    global_stats = {k: _aggregate(v, lengths) for k, v in ep_stats.items()}
    ep_tasks = [[tasks[i % len(tasks)]] for i in range(n_ep)]
    info = {
        "codebase_version": "v3.0",
        "robot_type": robot_type,
        "total_episodes": int(n_ep),
        "total_frames": int(n),
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": int(fps),
        "splits": {"train": f"0:{n_ep}"},
        "data_path": DATA_PATH_V30,
        "video_path": None,
        "features": features,
    }
    _write_v30(root, info, cols, features, lengths, starts, ep_stats, ep_tasks, tasks, {}, fps)
    _write_json(root / "meta/info.json", info)
    _write_json(root / "meta/stats.json", _jsonable(global_stats))
    return root
