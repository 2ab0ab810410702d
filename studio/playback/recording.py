"""Episodes → a Rerun recording (.rrd), with vectorised logging only.

Per episode (entity prefix `/<label>`):
    /<label>/<feature>/<joint>    scalar curves (state, action, environment_state, …) named
                                  from info.json, sent with one `send_columns` per curve
    /<label>/cameras/<video key>  the mp4 as an `AssetVideo` (static) + one
                                  `VideoFrameReference` per frame (no frame is decoded)
    /<label>/scene/<body>/<geom>  sim rollouts: MuJoCo geoms (static) under per-frame body
                                  `Transform3D`s from the sim sidecar
    /<label>/task, /<label>/notes, /<label>/events   task text, problems, success markers
Timelines `frame_index` (sequence) and `time` (duration) start at 0 for every episode, so
several episodes in one recording play aligned (side by side).

In a v3.0 dataset one mp4 holds many episodes. A small file is embedded whole; from a
large one (> SEGMENT_ABOVE_BYTES) the episode's packets are copied (remuxed, not decoded)
into a small mp4 so a recording carries only its own video. Either way frame references
are the video's own presentation timestamps (`AssetVideo.read_frame_timestamps_nanos`)
matched to `from_timestamp + timestamp` of each frame.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from studio.errors import DatasetError, StudioError

log = logging.getLogger("studio.playback")

# Bump when what a recording contains changes (invalidates cached recordings).
# 3: one application id per recording (a kept-alive viewer applies each recording's blueprint)
FORMAT = 3
INDEX_COLUMNS = {"timestamp", "frame_index", "episode_index", "index", "task_index"}
NUMERIC = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
           "uint64", "bool"}
SEGMENT_MODES = ("auto", "file", "segment")
# "auto" cuts an episode out of a shared mp4 only when the file is bigger than this: copying
# packets costs ~10 µs each, embedding a small file costs nothing and stays small.
SEGMENT_ABOVE_BYTES = 8 * 1024 * 1024
PLANE_MAX_HALF = 1.0  # metres


class PlaybackError(StudioError):
    """An episode cannot be turned into a recording."""


# --------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class EpisodeSource:
    """One episode to play: a dataset (path or opened `Dataset`), an episode index and an
    optional label (the entity prefix; e.g. the checkpoint name in a side-by-side view)."""

    dataset: Any
    episode: int
    label: str | None = None


@dataclass(frozen=True)
class EpisodeLayout:
    """What was logged for one episode: the blueprint and the tests read it."""

    label: str
    prefix: str
    episode: int
    dataset: str
    frames: int
    fps: float
    task: str = ""
    cameras: tuple[str, ...] = ()  # entity paths
    curves: tuple[tuple[str, str], ...] = ()  # (feature key, entity path of its curves)
    curve_names: tuple[tuple[str, ...], ...] = ()  # per curve feature: its element (joint) names
    scene: str | None = None  # entity path of the 3D scene
    outcome: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recording:
    path: Path
    episodes: tuple[EpisodeLayout, ...]
    seconds: float = 0.0
    cached: bool = False

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(n for e in self.episodes for n in e.notes)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "seconds": self.seconds,
            "episodes": [
                {**e.__dict__, "cameras": list(e.cameras), "curves": [list(c) for c in e.curves],
                 "curve_names": [list(c) for c in e.curve_names], "notes": list(e.notes)}
                for e in self.episodes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, cached: bool = True) -> "Recording":
        eps = []
        for e in data["episodes"]:
            e = dict(e)
            e["cameras"] = tuple(e.get("cameras", ()))
            e["curves"] = tuple(tuple(c) for c in e.get("curves", ()))
            e["curve_names"] = tuple(tuple(c) for c in e.get("curve_names", ()))
            e["notes"] = tuple(e.get("notes", ()))
            eps.append(EpisodeLayout(**e))
        return cls(Path(data["path"]), tuple(eps), float(data.get("seconds", 0.0)), cached)


@dataclass
class _Video:
    key: str
    blob: bytes | None = None  # mp4 bytes (whole file or the episode's remuxed segment)
    refs_ns: np.ndarray | None = None  # per dataset frame: the referenced video timestamp
    note: str | None = None


@dataclass
class EpisodeData:
    """One episode's columns, read with pyarrow (no per-frame Python)."""

    dataset: Any
    episode: int
    frame_index: np.ndarray  # 0..n-1
    time_s: np.ndarray  # seconds since the episode's first frame
    timestamp: np.ndarray  # the dataset's own per-frame timestamps (for video lookup)
    curves: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)
    images: dict[str, tuple[list[bytes], str]] = field(default_factory=dict)  # image features: blobs, media type
    task: str = ""
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _open(dataset: Any):
    if hasattr(dataset, "root") and hasattr(dataset, "info"):
        return dataset
    from studio.datasets import open_dataset

    return open_dataset(dataset)


def _episode_row(ds, episode: int) -> dict[str, Any]:
    eps = ds.episodes
    match = eps.index[eps["episode_index"] == episode]
    if len(match) == 0:
        total = len(eps)
        raise PlaybackError(f"episode {episode}", f"is not in {Path(ds.root).name} (it has {total} episodes"
                            + (f", 0-{int(eps['episode_index'].max())})" if total else ")"))
    return eps.loc[match[0]].to_dict()


def joint_names(key: str, feature: dict[str, Any], dim: int) -> list[str]:
    """Curve names from info.json `names` (list, {'motors': [...]} or None)."""
    if dim > 1:
        from studio.datasets import element_names

        names = element_names({**feature, "shape": [dim]})
        if len(names) == dim:
            return names
    names = feature.get("names")
    if isinstance(names, dict):
        names = next((v for v in names.values() if isinstance(v, list)), None)
    if isinstance(names, list) and len(names) == dim and all(isinstance(n, str) and n for n in names):
        out = [str(n) for n in names]
        if len(set(out)) == dim:
            return out
    if dim == 1:
        return [key.rsplit(".", 1)[-1]]
    return [f"{i}" for i in range(dim)]


def _data_file(ds, row: dict[str, Any], episode: int) -> Path:
    info = ds.info
    pattern = info.get("data_path") or ""
    chunks = int(info.get("chunks_size") or 1000)
    if str(getattr(ds, "version", info.get("codebase_version", ""))).startswith("v2"):
        rel = pattern.format(episode_chunk=episode // chunks, episode_index=episode)
    else:
        rel = pattern.format(chunk_index=int(row.get("data/chunk_index", 0)), file_index=int(row.get("data/file_index", 0)))
    return Path(ds.root) / rel


def _to_2d(col) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type) or pa.types.is_large_list(col.type):
        n = len(col)
        flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
        return flat.reshape(n, -1) if n else flat.reshape(0, 1)
    return col.to_numpy(zero_copy_only=False).reshape(-1, 1)


def read_episode(dataset: Any, episode: int) -> EpisodeData:
    """Read one episode's numeric features and timestamps (one parquet read, filtered)."""
    import pyarrow.parquet as pq

    ds = _open(dataset)
    episode = int(episode)
    row = _episode_row(ds, episode)
    path = _data_file(ds, row, episode)
    if not path.is_file():
        raise DatasetError(str(path.relative_to(ds.root)) if path.is_relative_to(ds.root) else str(path),
                           f"the data file of episode {episode} is missing")
    features = ds.features
    wanted = [k for k, ft in features.items()
              if k not in INDEX_COLUMNS and str(ft.get("dtype")) in NUMERIC]
    schema_names = set(pq.read_schema(path).names)
    cols = [k for k in wanted if k in schema_names]
    image_cols = [k for k, ft in features.items() if ft.get("dtype") == "image" and k in schema_names]
    base = [c for c in ("episode_index", "frame_index", "timestamp") if c in schema_names]
    try:
        table = pq.read_table(path, columns=base + cols + image_cols, filters=[("episode_index", "=", episode)]
                              if "episode_index" in schema_names else None)
    except Exception as exc:  # noqa: BLE001 - corrupt file: one sentence
        raise DatasetError(str(path), f"cannot be read ({exc})") from None
    n = table.num_rows
    if n == 0:
        raise PlaybackError(f"episode {episode}", "has no frames in its data file")
    if "frame_index" in table.column_names:
        fi = table.column("frame_index").to_numpy()
        order = np.argsort(fi, kind="stable")
        if not np.all(order == np.arange(n)):
            table = table.take(order)
    fps = float(ds.fps or 30)
    if "timestamp" in table.column_names:
        ts = table.column("timestamp").to_numpy().astype(np.float64)
    else:
        ts = np.arange(n, dtype=np.float64) / fps
    data = EpisodeData(ds, episode, np.arange(n, dtype=np.int64), ts - ts[0], ts)
    for key in cols:
        arr = _to_2d(table.column(key))
        if arr.dtype == bool:
            arr = arr.astype(np.float64)
        data.curves[key] = (joint_names(key, features[key], arr.shape[1]), arr.astype(np.float64, copy=False))
    for key in image_cols:
        encoded, note = _image_blobs(table.column(key))
        if note:
            data.notes.append(f"camera {key}: {note}")
        if encoded:
            data.images[key] = encoded
    for key in wanted:
        if key not in schema_names:
            data.notes.append(f"feature {key} is declared in info.json but missing from {path.name}")
    tasks = row.get("tasks")
    if tasks is not None and not isinstance(tasks, str):
        tasks = "; ".join(str(t) for t in list(tasks))
    data.task = str(tasks or "")
    return data


def _image_blobs(col) -> tuple[tuple[list[bytes], str] | None, str | None]:
    """Encoded frames of an `image` feature (struct {bytes, path} per row) → (blobs, media type)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_struct(col.type) and col.type.get_field_index("bytes") >= 0:
        col = pc.struct_field(col, "bytes")
    if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
        return None, f"image column of type {col.type} is not encoded images; shown without it"
    if col.null_count:
        return None, f"{col.null_count} of {len(col)} frames have no embedded image bytes; shown without it"
    blobs = col.to_pylist()
    head = blobs[0][:4] if blobs else b""
    media = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg" if head.startswith(b"\xff\xd8") else ""
    if not media:
        return None, "images are neither PNG nor JPEG; shown without it"
    return (blobs, media), None


# --------------------------------------------------------------------------- videos


def _video_location(ds, key: str, episode: int) -> tuple[Path, float, float | None, bool]:
    """(path, from_timestamp, to_timestamp, exists) of an episode's video (Dataset.video_location)."""
    loc = ds.video_location(key, episode)
    path = Path(loc.path)
    if not path.is_absolute():
        path = Path(ds.root) / path
    end = getattr(loc, "to_ts", None)
    exists = bool(getattr(loc, "exists", True)) and path.is_file()
    return path, float(getattr(loc, "from_ts", 0.0) or 0.0), (float(end) if end is not None else None), exists


def _shares_file(ds, key: str, row: dict[str, Any]) -> bool:
    """True when other episodes live in the same mp4 (v3.0 multi-episode files)."""
    eps = ds.episodes
    c, f = f"videos/{key}/chunk_index", f"videos/{key}/file_index"
    if c not in eps.columns or f not in eps.columns:
        return False
    same = (eps[c] == row.get(c)) & (eps[f] == row.get(f))
    return int(same.sum()) > 1


def remux_segment(path: Path, start: float, end: float) -> tuple[bytes, np.ndarray]:
    """Copy the packets covering [start, end] s (from the keyframe before `start`) into a
    new mp4 in memory, without decoding. Returns (mp4 bytes, sorted original pts in ns)."""
    import av

    buf = io.BytesIO()
    pts: list[int] = []
    with av.open(str(path)) as inp:
        ist = inp.streams.video[0]
        tb = ist.time_base
        # Integer ticks: Fraction arithmetic per packet would dominate the cost.
        end_ticks = int(math.floor((end + 1e-6) * tb.denominator / tb.numerator))
        inp.seek(max(0, int(start * tb.denominator / tb.numerator)), stream=ist, backward=True, any_frame=False)
        with av.open(buf, "w", format="mp4") as out:
            ost = out.add_stream_from_template(ist, opaque=True)
            for pkt in inp.demux(ist):
                dts = pkt.dts
                if dts is None or pkt.size == 0:
                    continue
                # Every frame shown at or before `end` has dts <= its pts <= end.
                if dts > end_ticks:
                    break
                if pkt.pts is not None:
                    pts.append(pkt.pts)
                pkt.stream = ost
                out.mux(pkt)
    pts_ns = np.round(np.asarray(pts, dtype=np.float64) * (1e9 * tb.numerator / tb.denominator)).astype(np.int64)
    if not len(pts_ns):
        raise ValueError(f"no video packets between {start:.3f}s and {end:.3f}s")
    return buf.getvalue(), np.sort(pts_ns)


def _nearest(sorted_values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of the nearest value in `sorted_values` for each of `wanted` (vectorised)."""
    idx = np.searchsorted(sorted_values, wanted)
    idx = np.clip(idx, 1, len(sorted_values) - 1) if len(sorted_values) > 1 else np.zeros_like(idx)
    if len(sorted_values) > 1:
        left = sorted_values[idx - 1]
        right = sorted_values[idx]
        idx = np.where(np.abs(wanted - left) <= np.abs(right - wanted), idx - 1, idx)
    return idx


def load_video(ds, key: str, data: EpisodeData, mode: str = "auto") -> _Video:
    """The camera stream of one episode: mp4 bytes + the frame reference of every frame."""
    import rerun as rr

    row = _episode_row(ds, data.episode)
    video = _Video(key)
    try:
        path, start, end, exists = _video_location(ds, key, data.episode)
    except Exception as exc:  # noqa: BLE001
        video.note = f"camera {key}: no video location for episode {data.episode} ({exc}); shown without it"
        return video
    rel = path.relative_to(ds.root) if path.is_relative_to(ds.root) else path
    if not exists:
        why = "is missing" if not path.is_file() else "is unreadable"
        video.note = f"camera {key}: video file {rel} {why}; the recording has no {key} stream"
        return video
    fps = float(ds.fps or 30)
    if end is None:
        end = start + float(data.timestamp[-1] - data.timestamp[0]) + 1.0 / fps
    wanted_s = start + data.timestamp  # v3.0: the episode starts at from_timestamp in the file
    segment = mode == "segment" or (
        mode == "auto" and path.stat().st_size > SEGMENT_ABOVE_BYTES and _shares_file(ds, key, row))
    try:
        if segment:
            blob, orig_ns = remux_segment(path, start, end)
            asset = rr.AssetVideo(contents=blob, media_type="video/mp4")
            vts = np.sort(asset.read_frame_timestamps_nanos())
            if len(vts) != len(orig_ns):
                raise ValueError(f"remuxed segment has {len(vts)} frames for {len(orig_ns)} packets")
            idx = _nearest(orig_ns, np.round(wanted_s * 1e9).astype(np.int64))
            refs = vts[idx]
            err_ns = np.abs(orig_ns[idx] - np.round(wanted_s * 1e9))
        else:
            blob = path.read_bytes()
            asset = rr.AssetVideo(contents=blob, media_type="video/mp4")
            vts = np.sort(asset.read_frame_timestamps_nanos())
            idx = _nearest(vts, np.round(wanted_s * 1e9).astype(np.int64))
            refs = vts[idx]
            err_ns = np.abs(refs - np.round(wanted_s * 1e9))
    except Exception as exc:  # noqa: BLE001 - an unreadable video is a note, not a failure
        log.warning("video %s of episode %s unreadable: %s", rel, data.episode, exc)
        video.note = f"camera {key}: video file {rel} cannot be read ({exc}); shown without it"
        return video
    if len(vts) == 0:
        video.note = f"camera {key}: video file {rel} has no frames; shown without it"
        return video
    far = int((err_ns > 1.5e9 / fps).sum())
    if far:
        video.note = (f"camera {key}: {far} of {len(refs)} frames have no video frame within 1.5 frame periods "
                      f"(video shorter than the episode?); the nearest frame is shown")
    video.blob, video.refs_ns = blob, refs.astype(np.int64)
    return video


# --------------------------------------------------------------------------- sim scene


def _sim_poses(ds, episode: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """{body: (frame_index, xyz, quat xyzw)} of an episode from the sim sidecar, or None."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(ds.root) / "sim" / "poses.parquet"
    if not path.is_file():
        return None
    table = pq.read_table(path, filters=[("episode_index", "=", int(episode))])
    if table.num_rows == 0:
        return None
    body = table.column("body")
    if pa.types.is_dictionary(body.type):
        body = body.cast(pa.string())
    bodies = np.asarray(body.to_numpy(), dtype=object).astype(str)
    fi = table.column("frame_index").to_numpy()
    cols = {k: table.column(k).to_numpy().astype(np.float32) for k in ("px", "py", "pz", "qw", "qx", "qy", "qz")}
    order = np.lexsort((fi, bodies))
    bodies, fi = bodies[order], fi[order]
    xyz = np.column_stack([cols["px"], cols["py"], cols["pz"]])[order]
    quat = np.column_stack([cols["qx"], cols["qy"], cols["qz"], cols["qw"]])[order]  # rerun wants xyzw
    names, starts = np.unique(bodies, return_index=True)
    ends = np.append(starts[1:], len(bodies))
    return {str(n): (fi[a_:b_], xyz[a_:b_], quat[a_:b_]) for n, a_, b_ in zip(names, starts, ends)}


def _sim_env(ds) -> Any:
    path = Path(ds.root) / "sim" / "env.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _rgba(rgba: Any) -> np.ndarray:
    c = np.asarray(rgba if rgba is not None else (0.7, 0.7, 0.7, 1.0), dtype=np.float64).reshape(-1)
    if c.size == 3:
        c = np.append(c, 1.0)
    if c.max() <= 1.0:
        c = c * 255.0
    return np.clip(np.round(c), 0, 255).astype(np.uint8)


def geom_archetype(geom: Any):
    """A MuJoCo geom (body-relative) → a Rerun archetype, or None for unsupported types."""
    import rerun as rr

    kind = str(_get(geom, "type", "")).lower().replace("mjgeom_", "")
    size = np.asarray(_get(geom, "size", (0.01, 0.01, 0.01)), dtype=np.float32).reshape(-1)
    size = np.pad(size, (0, max(0, 3 - size.size)), constant_values=0.0)
    color = _rgba(_get(geom, "rgba"))
    if kind == "box":
        return rr.Boxes3D(half_sizes=[size[:3]], colors=[color], fill_mode="solid")
    if kind == "sphere":
        return rr.Ellipsoids3D(half_sizes=[[size[0]] * 3], colors=[color], fill_mode="solid")
    if kind == "ellipsoid":
        return rr.Ellipsoids3D(half_sizes=[size[:3]], colors=[color], fill_mode="solid")
    if kind == "capsule":  # mujoco: radius, half-length along z; rerun: starts at the origin
        return rr.Capsules3D(lengths=[2 * size[1]], radii=[size[0]], translations=[[0, 0, -size[1]]], colors=[color])
    if kind == "cylinder":
        return rr.Cylinders3D(lengths=[2 * size[1]], radii=[size[0]], colors=[color], fill_mode="solid")
    if kind == "plane":  # a finite, thin slab no wider than PLANE_MAX_HALF (the view frames the robot, not the floor)
        hx = min(size[0], PLANE_MAX_HALF) if size[0] > 0 else PLANE_MAX_HALF
        hy = min(size[1], PLANE_MAX_HALF) if size[1] > 0 else PLANE_MAX_HALF
        return rr.Boxes3D(half_sizes=[[hx, hy, 0.0005]], centers=[[0, 0, -0.0005]], colors=[color], fill_mode="solid")
    if kind == "mesh":
        verts = _get(geom, "vertices")
        faces = _get(geom, "faces")
        if verts is None or faces is None:
            return None
        return rr.Mesh3D(vertex_positions=np.asarray(verts, np.float32).reshape(-1, 3),
                         triangle_indices=np.asarray(faces, np.uint32).reshape(-1, 3), albedo_factor=color)
    return None


@dataclass
class _Scene:
    poses: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    geoms: list[Any]


def load_scene(ds, data: EpisodeData) -> _Scene | None:
    """The sim sidecar's body poses of the episode and the env's geoms (None: not a sim dataset)."""
    poses = _sim_poses(ds, data.episode)
    if poses is None:
        return None
    env = _sim_env(ds)
    from studio.sim.scene import geoms as scene_geoms

    try:
        name = env.get("env") if isinstance(env, dict) else None
        geoms = list(scene_geoms(name or "pick_cube"))
    except Exception as exc:  # noqa: BLE001 - the scene is optional: poses without geoms is a note
        log.warning("no geoms for %s: %s", env, exc)
        data.notes.append(f"3D scene: the geoms of this environment are unavailable ({exc}); body frames only")
        geoms = []
    return _Scene(poses, geoms)


def log_scene(rec, scene_path: str, scene: _Scene, data: EpisodeData) -> None:
    """Geoms once (static, body-relative), body poses per frame (one send_columns per body)."""
    import rerun as rr

    rec.log(scene_path, rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    counts: dict[str, int] = {}
    for g in scene.geoms:
        body = str(_get(g, "body", "world") or "world")
        arche = geom_archetype(g)
        if arche is None:
            continue
        i = counts.get(body, 0)
        counts[body] = i + 1
        name = str(_get(g, "name", "") or f"geom_{i}")
        name = name[len(body) + 1:] if name.startswith(f"{body}/") else name
        path = f"{scene_path}/{_part(body)}/{_part(name)}"
        pos = np.asarray(_get(g, "pos", (0, 0, 0)), np.float32).reshape(3)
        quat = np.asarray(_get(g, "quat", (1, 0, 0, 0)), np.float32).reshape(4)  # mujoco wxyz
        rec.log(path, rr.Transform3D(translation=pos, quaternion=rr.Quaternion(xyzw=[*quat[1:], quat[0]])), static=True)
        rec.log(path, arche, static=True)
    n = len(data.frame_index)
    for body, (fi, pos, quat) in scene.poses.items():
        keep = (fi >= 0) & (fi < n)
        if not keep.any():
            continue
        fi, pos, quat = fi[keep], pos[keep], quat[keep]
        rec.send_columns(
            f"{scene_path}/{_part(body)}",
            indexes=[rr.TimeColumn("frame_index", sequence=fi), rr.TimeColumn("time", duration=data.time_s[fi])],
            columns=rr.Transform3D.columns(translation=pos, quaternion=quat),
        )


# --------------------------------------------------------------------------- writing


def _part(name: str) -> str:
    import rerun as rr

    return rr.escape_entity_path_part(str(name))


def _label(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_")
    return text or "episode"


def _outcome(ds, episode: int) -> dict[str, Any] | None:
    path = Path(ds.root) / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text())
        for e in summary.get("episodes") or []:
            if int(e.get("episode_index", -1)) == episode:
                return e
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return None


@dataclass
class PreparedEpisode:
    """Everything one episode's logging needs, read up front so that the blueprint (which
    must lead the file for the viewer to apply it) is known before anything is logged."""

    prefix: str
    data: EpisodeData
    videos: list[_Video]
    scene: _Scene | None
    outcome: dict[str, Any] | None
    layout: EpisodeLayout


def prepare_episode(prefix: str, data: EpisodeData, *, video_mode: str = "auto", cameras: bool = True,
                    scene: bool = True, label: str | None = None) -> PreparedEpisode:
    ds = data.dataset
    fps = float(ds.fps or 30)
    n = len(data.frame_index)
    videos = [load_video(ds, key, data, video_mode) for key in _video_keys(ds)] if cameras else []
    sc = load_scene(ds, data) if scene else None
    notes = list(data.notes) + [v.note for v in videos if v.note]
    out = _outcome(ds, data.episode)
    outcome_text = ""
    if out is not None:
        outcome_text = "success" if bool(out.get("success")) else "fail"
        if out.get("progress") is not None:
            outcome_text += f" · progress {100 * float(out['progress']):.0f}%"
        if out.get("seed") is not None:
            outcome_text += f" · seed {out['seed']}"
    layout = EpisodeLayout(
        label=label or prefix.strip("/"), prefix=prefix, episode=data.episode, dataset=str(ds.root), frames=n,
        fps=fps, task=data.task,
        cameras=tuple(f"{prefix}/cameras/{_part(v.key)}" for v in videos if v.blob is not None)
        + (tuple(f"{prefix}/cameras/{_part(k)}" for k in data.images) if cameras else ()),
        curves=tuple((key, f"{prefix}/{_part(key)}") for key in data.curves),
        curve_names=tuple(tuple(names) for names, _ in data.curves.values()),
        scene=f"{prefix}/scene" if sc is not None else None, outcome=outcome_text, notes=tuple(notes),
    )
    return PreparedEpisode(prefix, data, videos, sc, out, layout)


def log_episode(rec, ep: PreparedEpisode) -> EpisodeLayout:
    """Log one prepared episode under its prefix (aligned timelines starting at 0)."""
    import rerun as rr

    data, prefix, lay = ep.data, ep.prefix, ep.layout
    ds = data.dataset
    n, fps = lay.frames, lay.fps
    index = [rr.TimeColumn("frame_index", sequence=data.frame_index), rr.TimeColumn("time", duration=data.time_s)]
    for key, (names, values) in data.curves.items():
        origin = f"{prefix}/{_part(key)}"
        for j, name in enumerate(names):
            rec.send_columns(f"{origin}/{_part(name)}", indexes=index, columns=rr.Scalars.columns(scalars=values[:, j]))
    for video in ep.videos:
        if video.blob is None:
            continue
        path = f"{prefix}/cameras/{_part(video.key)}"
        rec.log(path, rr.AssetVideo(contents=video.blob, media_type="video/mp4"), static=True)
        rec.send_columns(path, indexes=index, columns=rr.VideoFrameReference.columns_nanos(video.refs_ns))
    for key, (blobs, media) in ep.data.images.items():
        path = f"{prefix}/cameras/{_part(key)}"
        if path in lay.cameras:
            rec.send_columns(path, indexes=index, columns=rr.EncodedImage.columns(blob=blobs, media_type=[media] * n))
    if ep.scene is not None and lay.scene:
        log_scene(rec, lay.scene, ep.scene, data)

    out = ep.outcome
    if out is not None:
        success = bool(out.get("success"))
        marks = []
        tts = out.get("time_to_success_s")
        if success and tts is not None:
            marks.append((min(n - 1, max(0, int(round(float(tts) * fps)))), "success", rr.TextLogLevel.INFO))
        marks.append((n - 1, f"end: {lay.outcome}", rr.TextLogLevel.INFO if success else rr.TextLogLevel.WARN))
        fi = np.asarray([m[0] for m in marks], dtype=np.int64)
        rec.send_columns(
            f"{prefix}/events",
            indexes=[rr.TimeColumn("frame_index", sequence=fi), rr.TimeColumn("time", duration=data.time_s[fi])],
            columns=rr.TextLog.columns(text=[m[1] for m in marks], level=[m[2] for m in marks]),
        )

    name = Path(ds.root).name
    doc = [f"### {lay.label} · episode {data.episode}", "", f"**Task:** {data.task or '—'}  ",
           f"**Frames:** {n} at {fps:g} fps ({n / fps:.1f} s) · dataset `{name}`  "]
    if lay.outcome:
        doc.append(f"**Outcome:** {lay.outcome}")
    if lay.notes:
        doc += ["", "**Notes**", ""] + [f"- ⚠️ {n_}" for n_ in lay.notes]
    rec.log(f"{prefix}/task", rr.TextDocument("\n".join(doc), media_type=rr.MediaType.MARKDOWN), static=True)
    if lay.notes:
        rec.log(f"{prefix}/notes", rr.TextDocument("\n".join(lay.notes)), static=True)
    return lay


def _video_keys(ds) -> list[str]:
    if hasattr(ds, "video_keys"):
        keys = ds.video_keys() if callable(ds.video_keys) else ds.video_keys
        return list(keys)
    return [k for k, ft in ds.features.items() if ft.get("dtype") == "video"]


def _labels(sources: Sequence[EpisodeSource], datasets: Sequence[Any]) -> list[str]:
    many_ds = len({str(Path(d.root).resolve()) for d in datasets}) > 1
    labels = []
    for s, d in zip(sources, datasets):
        if s.label:
            lab = _label(s.label)
        elif many_ds:
            lab = _label(f"{Path(d.root).name}_ep{s.episode}")
        else:
            lab = f"episode_{s.episode}"
        base, k = lab, 2
        while lab in labels:
            lab, k = f"{base}_{k}", k + 1
        labels.append(lab)
    return labels


def as_sources(items: Any) -> list[EpisodeSource]:
    """Accept EpisodeSource, (dataset, episode[, label]) tuples or dicts."""
    out = []
    for it in items:
        if isinstance(it, EpisodeSource):
            out.append(it)
        elif isinstance(it, dict):
            out.append(EpisodeSource(it["dataset"], int(it["episode"]), it.get("label")))
        else:
            out.append(EpisodeSource(it[0], int(it[1]), it[2] if len(it) > 2 else None))
    if not out:
        raise PlaybackError("episodes", "name at least one episode")
    return out


def write_recording(sources: Any, out: str | os.PathLike, *, video_mode: str = "auto", blueprint: bool = True,
                    application_id: str | None = None) -> Recording:
    """Write one or more episodes (aligned, side by side) to an .rrd file, atomically."""
    import rerun as rr

    from studio.playback.blueprint import default_blueprint

    if video_mode not in SEGMENT_MODES:
        raise PlaybackError("video_mode", f"{video_mode!r} is not one of {', '.join(SEGMENT_MODES)}")
    t0 = time.perf_counter()
    sources = as_sources(sources)
    datasets = [_open(s.dataset) for s in sources]
    labels = _labels(sources, datasets)
    episodes = [read_episode(d, s.episode) for d, s in zip(datasets, sources)]  # validate before writing

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    prepared = [prepare_episode(f"/{lab}", data, video_mode=video_mode, label=src.label or lab)
                for lab, data, src in zip(labels, episodes, sources)]
    layouts = [p.layout for p in prepared]
    # One application id per recording: Rerun keeps one active blueprint per application id, so
    # a viewer that plays several recordings (panels/viewer.py) would show the first one's views
    # for all (rerun-io/rerun#5640). The file's name is stable for a cached recording.
    application_id = application_id or f"flywheel_studio/{out.stem}"
    rec = rr.RecordingStream(application_id, recording_id=f"{labels[0]}-{time.time_ns()}")
    try:
        # The blueprint goes first: the web viewer ignores one that arrives after the data.
        rec.save(str(tmp), default_blueprint=default_blueprint(layouts) if blueprint else None)
        for p in prepared:
            log_episode(rec, p)
        rec.flush()
        rec.disconnect()
        del rec
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Recording(out, tuple(layouts), time.perf_counter() - t0)
