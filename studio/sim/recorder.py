"""Write simulated episodes as a LeRobot v3.0 dataset plus the sim sidecar, atomically.

Recording goes through lerobot's own `LeRobotDataset.create / add_frame / save_episode /
finalize`, so the result is LeRobot v3.0 by construction. The sidecar (`sim/env.json`,
`sim/poses.parquet`) sits beside `meta/` and `data/`; see docs/architecture.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from studio.fsutil import atomic_directory, atomic_write_json
from studio.sim.episodes import EpisodeRecord
from studio.sim.registry import EnvSpec

POSE_COLUMNS = ("episode_index", "frame_index", "body", "px", "py", "pz", "qw", "qx", "qy", "qz")


def staging_dir(target: Path):
    """A not-yet-existing path beside `target`; renamed onto `target` if the block completes."""
    return atomic_directory(target, create=False)


def record_episodes(
    root: Path,
    episodes: Iterable[EpisodeRecord],
    *,
    spec: EnvSpec,
    cameras: bool = False,
    outcomes: bool = False,
    repo_id: str = "local/sim",
    total: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_episode: Callable[[int, EpisodeRecord], None] | None = None,
    env_extra: dict | None = None,
) -> int:
    """Record `episodes` into a new dataset at `root` (must not exist). Returns the count."""
    import warnings

    import datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    datasets.disable_progress_bars()  # our own progress bar is the one the user reads
    warnings.filterwarnings("ignore", message="Converting input from bool", category=RuntimeWarning)
    logging.getLogger("lerobot").setLevel(logging.WARNING)
    if cameras:
        import av

        av.logging.set_level(av.logging.ERROR)  # ffmpeg's per-file chatter is not for the user
    feats = spec.features(cameras, outcomes=outcomes)
    ds = LeRobotDataset.create(
        repo_id=repo_id,
        fps=spec.fps,
        features=feats,
        root=root,
        robot_type=spec.robot_type,
        use_videos=True,
        vcodec="h264",  # never libsvtav1: as root it leaves the thread at real-time priority (docs/testing.md)
    )
    scalar_keys = [k for k, ft in feats.items() if tuple(ft["shape"]) == (1,) and ft["dtype"] not in ("image", "video")]
    pose_chunks: list[dict] = []
    body_names: list[str] = []
    n = 0
    try:
        for ep in episodes:
            for t in range(ep.steps):
                frame = {
                    "observation.state": ep.state[t],
                    "observation.environment_state": ep.env_state[t],
                    "action": ep.action[t],
                    "task": spec.task,
                }
                if cameras and ep.images:
                    for cam, imgs in ep.images.items():
                        frame[f"observation.images.{cam}"] = imgs[t]
                if outcomes:
                    frame["next.reward"] = np.asarray([ep.progress[t]], dtype=np.float32)
                    frame["next.success"] = np.asarray([ep.success[t]], dtype=bool)
                ds.add_frame(frame)
            for key in scalar_keys:
                # lerobot stores shape-(1,) features as scalars; numpy>=2.4 no longer converts
                # a 1-element array to float implicitly, so hand save_episode scalars
                ds.episode_buffer[key] = [np.asarray(v).reshape(()) for v in ds.episode_buffer[key]]
            ds.save_episode()
            body_names = ep.body_names
            pose_chunks.append(_pose_columns(n, ep))
            if on_episode is not None:
                on_episode(n, ep)
            n += 1
            if progress is not None:
                progress(n, total or n)
    finally:
        ds.finalize()
    write_sidecar(root, spec, pose_chunks, body_names, cameras=cameras, extra=env_extra)
    return n


def _pose_columns(episode_index: int, ep: EpisodeRecord) -> dict:
    T, B, _ = ep.poses.shape
    flat = ep.poses.reshape(T * B, 7)
    return {
        "episode_index": np.full(T * B, episode_index, dtype=np.int64),
        "frame_index": np.repeat(np.arange(T, dtype=np.int64), B),
        "body": np.tile(np.arange(B, dtype=np.int32), T),
        "pose": flat,
    }


def write_sidecar(root: Path, spec: EnvSpec, chunks: list[dict], body_names: list[str], *,
                  cameras: bool, extra: dict | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sim = Path(root) / "sim"
    sim.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        sim / "env.json",
        {"env": spec.name, "version": spec.version, "fps": spec.fps, "cameras": bool(cameras),
         "bodies": list(body_names), **(extra or {})},
    )
    if chunks:
        cat = {k: np.concatenate([c[k] for c in chunks]) for k in ("episode_index", "frame_index", "body", "pose")}
    else:
        cat = {"episode_index": np.zeros(0, np.int64), "frame_index": np.zeros(0, np.int64),
               "body": np.zeros(0, np.int32), "pose": np.zeros((0, 7), np.float32)}
    names = np.asarray(body_names if body_names else [""], dtype=object)
    body = pa.DictionaryArray.from_arrays(pa.array(cat["body"], pa.int32()), pa.array(names, pa.string()))
    cols = {
        "episode_index": pa.array(cat["episode_index"]),
        "frame_index": pa.array(cat["frame_index"]),
        "body": body,
    }
    for i, k in enumerate(("px", "py", "pz", "qw", "qx", "qy", "qz")):
        cols[k] = pa.array(cat["pose"][:, i].astype(np.float32))
    pq.write_table(pa.table(cols), sim / "poses.parquet", compression="zstd")
