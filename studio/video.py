"""Decode video frames of a dataset's cameras (PyAV): one frame at a time, thumbnails, strips.

Times are seconds *within the episode*; in v3.0 files that hold many episodes the
episode's `from_timestamp` is added before seeking, so callers never see file times.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import DatasetError

_av_lock = threading.Lock()


def _av():
    with _av_lock:  # first PyAV import is not thread-safe in every build
        import av

    return av


def decode_frame(path: str | Path, ts: float) -> np.ndarray:
    """The RGB frame (H, W, 3 uint8) shown at file time `ts` seconds (nearest at or before)."""
    av = _av()
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            rate = float(stream.average_rate or stream.base_rate or 30)
            half = 0.5 / rate
            container.seek(max(0, int((ts - half) / tb)), stream=stream, backward=True, any_frame=False)
            best = None
            for frame in container.decode(stream):
                t = frame.pts * tb if frame.pts is not None else 0.0
                if t > ts + half and best is not None:
                    break
                best = frame
                if abs(t - ts) <= half:
                    break
            if best is None:
                raise DatasetError(str(path), f"has no frame at {ts:.3f} s")
            return best.to_ndarray(format="rgb24")
    except DatasetError:
        raise
    except (IndexError, OSError, av.error.FFmpegError) as exc:  # type: ignore[attr-defined]
        raise DatasetError(str(path), f"video is unreadable ({type(exc).__name__}: {exc})") from None


def decode_frames(path: str | Path, times: list[float] | np.ndarray) -> list[np.ndarray]:
    """Frames at several file times, decoding forward once (for strips and thumbnails)."""
    av = _av()
    times = sorted(float(t) for t in times)
    if not times:
        return []
    out: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            rate = float(stream.average_rate or stream.base_rate or 30)
            half = 0.5 / rate
            container.seek(max(0, int((times[0] - half) / tb)), stream=stream, backward=True, any_frame=False)
            i = 0
            last = None
            for frame in container.decode(stream):
                t = frame.pts * tb if frame.pts is not None else 0.0
                while i < len(times) and t + half > times[i]:
                    out.append(frame.to_ndarray(format="rgb24"))
                    i += 1
                last = frame
                if i >= len(times):
                    break
            while i < len(times) and last is not None:  # past the end: repeat the last frame
                out.append(last.to_ndarray(format="rgb24"))
                i += 1
    except (IndexError, OSError, av.error.FFmpegError) as exc:  # type: ignore[attr-defined]
        raise DatasetError(str(path), f"video is unreadable ({type(exc).__name__}: {exc})") from None
    return out


def _ref(dataset, key: str, episode_index: int):
    ref = dataset.video_location(key, episode_index)
    if not ref.exists:
        raise DatasetError(key, f"video of episode {episode_index} is absent ({_rel(ref.path, dataset.root)})")
    return ref


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def frame_at(dataset, key: str, episode_index: int, t: float) -> np.ndarray:
    """The frame of camera `key` at `t` seconds into an episode (clamped to the episode)."""
    ref = _ref(dataset, key, episode_index)
    duration = max(0.0, ref.to_ts - ref.from_ts)
    last = max(0.0, duration - 1.0 / dataset.fps)
    t = min(max(0.0, float(t)), last)
    return decode_frame(ref.path, ref.from_ts + t)


def resize(img: np.ndarray, max_side: int) -> np.ndarray:
    """Nearest-neighbour downscale so the longer side is at most `max_side` (no extra deps)."""
    h, w = img.shape[:2]
    scale = max(h, w) / float(max_side)
    if scale <= 1:
        return img
    ys = (np.arange(int(h / scale)) * scale).astype(int)
    xs = (np.arange(int(w / scale)) * scale).astype(int)
    return img[ys][:, xs]


def thumbnail(dataset, key: str, episode_index: int, t: float | None = None, max_side: int = 240) -> np.ndarray:
    """A small frame for lists and the episode view (default: the episode's middle)."""
    ref = _ref(dataset, key, episode_index)
    if t is None:
        t = (ref.to_ts - ref.from_ts) / 2
    return resize(frame_at(dataset, key, episode_index, t), max_side)


def strip(dataset, key: str, episode_index: int, n: int = 6, max_side: int = 160) -> list[tuple[np.ndarray, float]]:
    """`n` evenly spaced thumbnails across an episode with their episode times."""
    ref = _ref(dataset, key, episode_index)
    duration = max(0.0, ref.to_ts - ref.from_ts - 1.0 / dataset.fps)
    times = np.linspace(0.0, duration, num=max(1, int(n)))
    frames = decode_frames(ref.path, ref.from_ts + times)
    return [(resize(f, max_side), float(t)) for f, t in zip(frames, times)]


def image_at(dataset, key: str, episode_index: int, t: float) -> np.ndarray:
    """The frame of an `image` feature (PNG/JPEG bytes stored in the data parquet) at `t` s."""
    import io

    import duckdb
    from PIL import Image

    files = dataset.data_files()
    if key not in dataset.image_keys():
        raise DatasetError(key, f"is not an image feature of {dataset.name}")
    if not files:
        raise DatasetError(key, "no readable data file holds its images")
    start, end = dataset.episode_bounds(episode_index)
    frame = int(round(min(max(0.0, float(t)), (end - start - 1) / dataset.fps) * dataset.fps))
    lits = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    col = '"' + key.replace('"', '""') + '"'
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            f"SELECT {col} FROM read_parquet([{lits}], union_by_name=true) "
            "WHERE episode_index = ? AND frame_index = ? LIMIT 1", [int(episode_index), frame]).fetchall()
    except duckdb.Error as exc:
        raise DatasetError(key, f"images are unreadable ({exc})") from None
    finally:
        con.close()
    value = rows[0][0] if rows else None
    data = value.get("bytes") if isinstance(value, dict) else value
    if not data:
        raise DatasetError(key, f"has no image for episode {episode_index} at frame {frame}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - PIL raises many error classes for bad bytes
        raise DatasetError(key, f"image of episode {episode_index} frame {frame} is unreadable ({exc})") from None


def camera_thumbnails(dataset, episode_index: int, max_side: int = 240) -> dict[str, Any]:
    """{camera key: thumbnail array, or the sentence saying why there is none} for video and
    image features, taken at the middle of the episode."""
    out: dict[str, Any] = {}
    for key in dataset.video_keys():
        try:
            out[key] = thumbnail(dataset, key, episode_index, max_side=max_side)
        except DatasetError as exc:
            out[key] = exc.sentence()
    for key in dataset.image_keys():
        try:
            start, end = dataset.episode_bounds(episode_index)
            out[key] = resize(image_at(dataset, key, episode_index, (end - start) / 2 / dataset.fps), max_side)
        except DatasetError as exc:
            out[key] = exc.sentence()
    return out

