"""Export a selection as a new LeRobot v3.0 dataset (or as an episode list).

The new dataset has its episodes re-indexed 0..n-1, `index` renumbered, per-episode and
global stats recomputed from the kept frames (camera stats aggregated from the source's
per-episode stats), videos copied when a file holds only kept episodes and cut
(re-encoded, PyAV) otherwise, and a `provenance.json` (source fingerprint, selection
revision, old→new episode map). Everything is written into a temp folder beside the
target and renamed into place when complete (`studio.fsutil.atomic_directory`): an
export killed midway leaves nothing at the target. The source is only read.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from studio.errors import DatasetError, StudioError
from studio.stats import QUANTILES, episode_stats, q_name

log = logging.getLogger("studio.curation.export")

DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
CHUNKS_SIZE = 1000
DATA_FILE_BYTES = 100 * 1024 * 1024
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Exporter:
    """An export format offered by `studio export --format` and the Curate panel."""

    name: str
    doc: str
    fn: Callable[..., Path]  # fn(dataset, episodes, target, **kw) -> Path (atomic)


# ------------------------------------------------------------------------------ helpers


def _stats_of(values: np.ndarray) -> dict[str, np.ndarray]:
    """lerobot-shaped stats of a (n, d) array (exact quantiles)."""
    v = values.reshape(len(values), -1)
    vf = v.astype(np.float64)
    out = {
        "min": v.min(axis=0),
        "max": v.max(axis=0),
        "mean": vf.mean(axis=0),
        "std": vf.std(axis=0),
        "count": np.array([len(v)], dtype=np.int64),
    }
    qs = np.quantile(vf, QUANTILES, axis=0)
    for q, row in zip(QUANTILES, qs):
        out[q_name(q)] = row
    return out


def _aggregate(per_ep: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Global stats from per-episode stats, as lerobot's aggregate_stats does."""
    counts = np.array([float(np.asarray(s["count"]).reshape(-1)[0]) for s in per_ep])
    shape = (-1,) + (1,) * np.asarray(per_ep[0]["mean"]).ndim
    w = counts.reshape(shape)
    total = counts.sum()
    means = np.stack([np.asarray(s["mean"], dtype=np.float64) for s in per_ep])
    stds = np.stack([np.asarray(s["std"], dtype=np.float64) for s in per_ep])
    mean = (means * w).sum(axis=0) / total
    var = ((stds**2 + (means - mean) ** 2) * w).sum(axis=0) / total
    out = {
        "min": np.stack([np.asarray(s["min"], dtype=np.float64) for s in per_ep]).min(axis=0),
        "max": np.stack([np.asarray(s["max"], dtype=np.float64) for s in per_ep]).max(axis=0),
        "mean": mean,
        "std": np.sqrt(var),
        "count": np.array([int(total)], dtype=np.int64),
    }
    for q in QUANTILES:
        k = q_name(q)
        if all(k in s for s in per_ep):
            out[k] = (np.stack([np.asarray(s[k], dtype=np.float64) for s in per_ep]) * w).sum(axis=0) / total
    return out


def _nested(arr: np.ndarray):
    """(n, *shape) array → nested Arrow list column."""
    import pyarrow as pa

    arr = np.asarray(arr)
    out = pa.array(np.ascontiguousarray(arr).reshape(-1))
    for dim in reversed(arr.shape[1:]):
        n_lists = len(out) // dim
        out = pa.ListArray.from_arrays(pa.array(np.arange(n_lists + 1, dtype=np.int32) * dim), out)
    return out


def _deep_array(value, shape=None) -> np.ndarray:
    """Arrow/pandas nested lists (object arrays of arrays) → a float ndarray."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.array([_deep_array(v) for v in value], dtype=np.float64)
    if isinstance(value, (list, tuple)):
        return np.array([_deep_array(v) for v in value], dtype=np.float64)
    return np.asarray(value, dtype=np.float64)


def _source_camera_stats(dataset, key: str, episodes: Sequence[int]) -> list[dict[str, np.ndarray]] | None:
    """Per-episode stats of a camera from the source metadata (v3.0 parquet / v2.1 jsonl)."""
    import pyarrow.parquet as pq

    root = Path(dataset.root)
    wanted = set(int(e) for e in episodes)
    found: dict[int, dict[str, np.ndarray]] = {}
    if dataset.version == "v3.0":
        for f in sorted((root / "meta" / "episodes").glob("*/*.parquet")):
            names = pq.read_schema(f).names
            cols = [c for c in names if c.startswith(f"stats/{key}/")]
            if not cols:
                continue
            df = pq.read_table(f, columns=["episode_index"] + cols).to_pandas()
            df = df[df["episode_index"].isin(wanted)]
            for row in df.itertuples(index=False):  # per kept episode: metadata rows, not frames
                vals = list(row)
                ep = int(vals[0])
                found[ep] = {c.split("/")[-1]: _deep_array(v) for c, v in zip(cols, vals[1:])}
    else:
        path = root / "meta" / "episodes_stats.jsonl"
        if path.exists():
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                ep = int(rec.get("episode_index", -1))
                st = (rec.get("stats") or {}).get(key)
                if ep in wanted and st:
                    found[ep] = {k: _deep_array(v) for k, v in st.items()}
    if set(found) != wanted:
        return None
    out = []
    for e in sorted(wanted):
        st = found[e]
        st = {k: (v.reshape(3, 1, 1) if k != "count" and v.size == 3 else v) for k, v in st.items()}
        st["count"] = np.asarray(st.get("count", [1]), dtype=np.int64).reshape(1)
        out.append(st)
    return out


def _jsonable(stats: dict) -> dict:
    return {k: {s: np.asarray(a).tolist() for s, a in v.items()} for k, v in stats.items()}


# ------------------------------------------------------------------------------ videos


def _cut_video(src: Path, dst: Path, ranges: list[tuple[int, int]], fps: float,
               size: tuple[int, int] | None = None) -> list[dict[str, np.ndarray]]:
    """Write the frames of `ranges` ([start, end) frame numbers of `src`) into `dst` as H.264,
    resized to `size` (width, height) if given; returns per-range camera stats of what was written."""
    import av

    dst.parent.mkdir(parents=True, exist_ok=True)
    ranges = sorted(ranges)
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vin = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=rate, options={"crf": "18", "preset": "veryfast", "g": "2"})
        width, height = size or (vin.codec_context.width, vin.codec_context.height)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        tb = Fraction(1) / rate  # kept locally: the muxer rewrites stream.time_base once it starts
        stream.time_base = tb
        written = 0
        r = 0
        acc: list[list[np.ndarray]] = [[] for _ in ranges]  # per range: per-frame channel min/max/mean/sq
        for frame in inp.decode(vin):
            t = float(frame.pts * vin.time_base) if frame.pts is not None else written / fps
            k = int(round(t * fps))
            while r < len(ranges) and k >= ranges[r][1]:
                r += 1
            if r >= len(ranges):
                break
            if k < ranges[r][0]:
                continue
            # a fresh frame: decoded ones carry source timing/picture types the muxer rejects
            if size:
                frame = frame.reformat(width=width, height=height, format="rgb24")
            rgb = frame.to_ndarray(format="rgb24")
            pix = rgb[::4, ::4].reshape(-1, 3).astype(np.float64) / 255.0  # every 16th pixel is plenty
            acc[r].append(np.stack([pix.min(0), pix.max(0), pix.mean(0), (pix * pix).mean(0)]))
            new = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            new.pts = written
            new.time_base = tb
            for packet in stream.encode(new):
                out.mux(packet)
            written += 1
        for packet in stream.encode():
            out.mux(packet)
    need = sum(b - a for a, b in ranges)
    if written != need:
        raise DatasetError(str(src), f"holds {written} of the {need} frames the kept episodes need")
    out = []
    for frames in acc:
        a = np.stack(frames)  # (n, 4, 3)
        mean, sq = a[:, 2].mean(0), a[:, 3].mean(0)
        st = {"min": a[:, 0].min(0), "max": a[:, 1].max(0), "mean": mean,
              "std": np.sqrt(np.maximum(sq - mean * mean, 0.0))}
        for q in QUANTILES:
            st[q_name(q)] = st["min"] + (st["max"] - st["min"]) * q
        st = {k: v.reshape(3, 1, 1) for k, v in st.items()}
        st["count"] = np.array([len(a)], dtype=np.int64)
        out.append(st)
    return out


def _export_videos(dataset, tmp: Path, keep: list[int], new_index: dict[int, int], mode: str, progress: Progress,
                   keys: list[str] | None = None, rename: dict[str, str] | None = None,
                   size: tuple[int, int] | None = None, cam_stats: dict | None = None):
    """Copy or cut the cameras' files (`keys`, default all; written under `rename[key]`,
    re-encoded at `size` if given); returns {new_ep: {column: value}}. Stats of re-encoded
    frames go to `cam_stats[new_key][new_ep]`."""
    meta: dict[int, dict[str, Any]] = {new_index[e]: {} for e in keep}
    fps = float(dataset.fps)
    keys = dataset.video_keys() if keys is None else keys
    rename = rename or {}
    all_eps = [int(e) for e in dataset.episodes["episode_index"]]
    for ki, src_key in enumerate(keys):
        key = rename.get(src_key, src_key)
        refs = {e: dataset.video_location(src_key, e) for e in all_eps}
        missing = [e for e in keep if not refs[e].exists]
        if missing:
            raise DatasetError(
                str(refs[missing[0]].path),
                f"video '{src_key}' of episode {missing[0]} is missing or unreadable; exclude "
                f"{'it' if len(missing) == 1 else f'the {len(missing)} episodes without video'} from the selection",
            )
        by_file: dict[Path, list[int]] = {}
        for e in all_eps:
            by_file.setdefault(refs[e].path, []).append(e)
        keep_set = set(keep)
        files = [p for p, eps in by_file.items() if keep_set & set(eps)]
        files.sort(key=lambda p: min(new_index[e] for e in by_file[p] if e in keep_set))
        for fi, path in enumerate(files):
            chunk, file_no = divmod(fi, CHUNKS_SIZE)
            dst = tmp / VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file_no)
            dst.parent.mkdir(parents=True, exist_ok=True)
            kept_here = sorted((e for e in by_file[path] if e in keep_set), key=lambda e: refs[e].from_ts)
            whole = len(kept_here) == len(by_file[path])
            if (whole or mode == "copy") and size is None:
                shutil.copyfile(path, dst)
                for e in kept_here:
                    m = meta[new_index[e]]
                    m[f"videos/{key}/from_timestamp"] = float(refs[e].from_ts)
                    m[f"videos/{key}/to_timestamp"] = float(refs[e].to_ts)
            else:
                ranges = [(int(round(refs[e].from_ts * fps)), int(round(refs[e].to_ts * fps))) for e in kept_here]
                st = _cut_video(path, dst, ranges, fps, size)
                if cam_stats is not None:
                    for e, one in zip(kept_here, st):
                        cam_stats.setdefault(key, {})[new_index[e]] = one
                t = 0.0
                for e, (a, b) in zip(kept_here, ranges):
                    m = meta[new_index[e]]
                    m[f"videos/{key}/from_timestamp"] = t
                    m[f"videos/{key}/to_timestamp"] = t + (b - a) / fps
                    t += (b - a) / fps
            for e in kept_here:
                meta[new_index[e]][f"videos/{key}/chunk_index"] = chunk
                meta[new_index[e]][f"videos/{key}/file_index"] = file_no
            progress(0.5 + 0.4 * (ki + (fi + 1) / len(files)) / max(len(keys), 1), f"videos: {key} {fi + 1}/{len(files)}")
    return meta


# ------------------------------------------------------------------------------ export


def export_episodes(
    dataset,
    episodes: Iterable[int],
    target: str | os.PathLike,
    *,
    selection=None,
    predicate: str | None = None,
    videos: str = "cut",
    progress: Progress | None = None,
    extra_provenance: dict | None = None,
    feature_map: dict[str, str] | None = None,
    image_size: int | None = None,
    state_as_env: bool = False,
) -> Path:
    """Write `episodes` of `dataset` as a new LeRobot v3.0 dataset at `target` (atomic).

    videos: 'cut' re-encodes files that also hold dropped episodes, 'copy' copies whole
    files and keeps the source timestamps (faster, larger).
    feature_map: {source key: new key}; when given, only those features (and the frame
    columns) are written, under their new names (training inputs, `studio.featuremap`).
    image_size: re-encode every kept camera with this many pixels on the shorter side.
    state_as_env: also write `observation.state` as `observation.environment_state`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from studio import __version__
    from studio.fsutil import atomic_directory

    if videos not in ("cut", "copy"):
        raise StudioError("--videos", f"must be 'cut' or 'copy', not '{videos}'")
    progress = progress or (lambda f, m: None)
    target = Path(target).expanduser().resolve()
    src_root = Path(dataset.root).resolve()
    if target == src_root or src_root in target.parents:
        raise StudioError(str(target), "an export cannot be written inside the source dataset")
    if target.exists():
        raise StudioError(str(target), "already exists; choose a new folder")
    valid = [int(e) for e in dataset.episodes["episode_index"]]
    keep = sorted(set(int(e) for e in episodes))
    if not keep:
        raise StudioError("selection", "is empty; nothing to export")
    bad = sorted(set(keep) - set(valid))
    if bad:
        raise StudioError("selection", f"episode {bad[0]} is not in {dataset.root}")
    new_index = {old: new for new, old in enumerate(keep)}
    frame_cols = ("timestamp", "frame_index", "episode_index", "index", "task_index")
    if feature_map is None:
        rename = {k: k for k in dataset.features}
    else:
        rename = {k: feature_map.get(k, k) for k in dataset.features if k in feature_map or k in frame_cols}
    features = {rename[k]: (dict(ft) if feature_map is None else _out_feature(ft, image_size))
                for k, ft in dataset.features.items() if k in rename}
    video_keys = [k for k in dataset.video_keys() if k in rename]
    if state_as_env:
        features["observation.environment_state"] = dict(features["observation.state"])
    numeric = [
        k for k, ft in features.items()
        if ft.get("dtype") not in ("video", "image", "string") and k not in ("episode_index", "index")
    ]
    src_columns = [k for k in rename if dataset.features[k].get("dtype") not in ("video", "image")]
    if any(k in rename for k in dataset.image_keys()):
        raise StudioError(str(dataset.root), "datasets storing images in parquet are not supported by export yet")

    with atomic_directory(target) as tmp:
        progress(0.0, "reading frames")
        # ---- data: filter each source file, re-index, write files of ~100 MB
        keep_arr = pa.array(np.array(keep, dtype=np.int64))
        lut = np.full(max(valid) + 1, -1, dtype=np.int64)
        lut[np.array(keep)] = np.arange(len(keep))
        pending: list[pa.Table] = []
        pending_bytes = 0
        file_no = 0
        next_index = 0
        ep_rows: dict[int, dict[str, Any]] = {}
        numeric_chunks: dict[str, list[np.ndarray]] = {k: [] for k in numeric + ["episode_index", "index"]}
        files = dataset.data_files()

        def flush():
            nonlocal pending, pending_bytes, file_no, next_index
            if not pending:
                return
            table = pa.concat_tables(pending)
            ep = table.column("episode_index").to_numpy()
            order = np.lexsort((table.column("frame_index").to_numpy(), ep))
            if not (np.diff(order) == 1).all():
                table = table.take(pa.array(order))
                ep = ep[order]
            n = table.num_rows
            new_idx = np.arange(next_index, next_index + n, dtype=np.int64)
            table = table.set_column(table.schema.get_field_index("index"), table.schema.field("index"), pa.array(new_idx))
            chunk, fno = divmod(file_no, CHUNKS_SIZE)
            path = tmp / DATA_PATH.format(chunk_index=chunk, file_index=fno)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)
            starts = np.flatnonzero(np.r_[True, ep[1:] != ep[:-1]])
            ends = np.r_[starts[1:], n]
            for s, e_ in zip(starts.tolist(), ends.tolist()):
                ep_rows[int(ep[s])] = {
                    "data/chunk_index": chunk, "data/file_index": fno,
                    "dataset_from_index": int(next_index + s), "dataset_to_index": int(next_index + e_),
                }
            for k in numeric_chunks:
                col = table.column(k).combine_chunks()
                if pa.types.is_fixed_size_list(col.type) or pa.types.is_list(col.type):
                    arr = col.flatten().to_numpy(zero_copy_only=False).reshape(n, -1)
                else:
                    arr = col.to_numpy(zero_copy_only=False).reshape(n, -1)
                numeric_chunks[k].append(arr)
            next_index += n
            file_no += 1
            pending, pending_bytes = [], 0

        for i, f in enumerate(files):
            try:
                t = pq.read_table(f) if feature_map is None else pq.read_table(f, columns=src_columns)
            except (OSError, pa.ArrowException) as exc:
                raise DatasetError(str(f), f"cannot be read ({exc})") from None
            if feature_map is not None:  # new names; lerobot takes the schema from info.json
                t = t.rename_columns([rename[c] for c in t.column_names]).replace_schema_metadata(None)
                if state_as_env:
                    t = t.append_column("observation.environment_state", t.column("observation.state"))
            t = t.filter(pc.is_in(t.column("episode_index"), value_set=keep_arr))
            if t.num_rows:
                old = t.column("episode_index").to_numpy()
                t = t.set_column(t.schema.get_field_index("episode_index"), t.schema.field("episode_index"),
                                 pa.array(lut[old]))
                if pending and pending_bytes + t.nbytes > DATA_FILE_BYTES:
                    flush()
                pending.append(t)
                pending_bytes += t.nbytes
            progress(0.45 * (i + 1) / len(files), f"data: {i + 1}/{len(files)} files")
        flush()
        n_new = len(keep)
        if len(ep_rows) != n_new:
            lost = sorted(set(range(n_new)) - set(ep_rows))
            raise DatasetError("data", f"episode {keep[lost[0]]} has no frames in the data files")

        # ---- stats: exact for numeric features, aggregated for cameras
        progress(0.47, "computing stats")
        cols = {k: np.concatenate(v) for k, v in numeric_chunks.items()}
        lengths = np.array([ep_rows[i]["dataset_to_index"] - ep_rows[i]["dataset_from_index"] for i in range(n_new)])
        starts = np.array([ep_rows[i]["dataset_from_index"] for i in range(n_new)], dtype=np.int64)
        per_episode: dict[str, dict[str, np.ndarray]] = {}
        global_stats: dict[str, dict[str, np.ndarray]] = {}
        for k in numeric + ["episode_index", "index"]:
            v = cols[k]
            if not np.issubdtype(v.dtype, np.number) and v.dtype != bool:
                continue
            v = v.astype(np.float64) if v.dtype == bool else v
            per_episode[k] = episode_stats(v, starts, lengths)
            global_stats[k] = _stats_of(v)
        del cols
        numeric_chunks.clear()
        # ---- videos
        size = None
        cam_stats: dict[str, dict[int, dict]] = {}
        video_meta = {}
        if video_keys:
            if image_size:
                size = _frame_size(dataset.features, video_keys, image_size)
            video_meta = _export_videos(dataset, tmp, keep, new_index, videos, progress, keys=video_keys,
                                        rename=rename, size=size, cam_stats=cam_stats)
        for src_key in video_keys:
            key = rename[src_key]
            fresh = cam_stats.get(key, {})
            cam = [fresh[i] for i in range(n_new)] if len(fresh) == n_new else _source_camera_stats(dataset, src_key, keep)
            if cam:
                per_episode[key] = {s: np.stack([c[s] for c in cam]) for s in cam[0]}
                global_stats[key] = _aggregate(cam)
            elif src_key in (dataset.stats or {}):
                global_stats[key] = {s: np.asarray(v) for s, v in dataset.stats[src_key].items()}

        # ---- episodes metadata
        progress(0.92, "writing metadata")
        src_eps = dataset.episodes.set_index("episode_index")
        meta: dict[str, Any] = {
            "episode_index": pa.array(np.arange(n_new, dtype=np.int64)),
            "tasks": pa.array([list(_as_list(src_eps.loc[e, "tasks"])) for e in keep], type=pa.list_(pa.string())),
            "length": pa.array(lengths.astype(np.int64)),
        }
        for c in ("data/chunk_index", "data/file_index", "dataset_from_index", "dataset_to_index"):
            meta[c] = pa.array(np.array([ep_rows[i][c] for i in range(n_new)], dtype=np.int64))
        for key in (rename[k] for k in video_keys):
            for c, dt in (("chunk_index", np.int64), ("file_index", np.int64), ("from_timestamp", np.float64), ("to_timestamp", np.float64)):
                col = f"videos/{key}/{c}"
                meta[col] = pa.array(np.array([video_meta[i][col] for i in range(n_new)], dtype=dt))
        for k, st in per_episode.items():
            for s, arr in st.items():
                meta[f"stats/{k}/{s}"] = _nested(arr)
        meta["meta/episodes/chunk_index"] = pa.array(np.zeros(n_new, dtype=np.int64))
        meta["meta/episodes/file_index"] = pa.array(np.zeros(n_new, dtype=np.int64))
        (tmp / EPISODES_PATH).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(meta), tmp / EPISODES_PATH)

        # ---- tasks (kept as in the source, so task_index needs no remapping)
        import pandas as pd

        tasks = dataset.tasks
        pd.DataFrame({"task_index": tasks["task_index"].astype("int64").to_numpy()}, index=list(tasks["task"])).to_parquet(
            tmp / "meta" / "tasks.parquet"
        )

        # ---- info / stats / provenance
        info = {k: v for k, v in dataset.info.items() if k not in ("total_chunks", "total_videos")}
        info.update(
            {
                "codebase_version": "v3.0",
                "total_episodes": n_new,
                "total_frames": int(lengths.sum()),
                "total_tasks": int(len(tasks)),
                "chunks_size": CHUNKS_SIZE,
                "data_files_size_in_mb": 100,
                "video_files_size_in_mb": 200,
                "fps": int(round(float(dataset.fps))) if float(dataset.fps).is_integer() else float(dataset.fps),
                "splits": {"train": f"0:{n_new}"},
                "data_path": DATA_PATH,
                "video_path": VIDEO_PATH if video_keys else None,
                "features": features,
            }
        )
        _write_json(tmp / "meta" / "info.json", info)
        _write_json(tmp / "meta" / "stats.json", _jsonable(global_stats))
        provenance = {
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "studio_version": __version__,
            "source": {"path": str(src_root), "fingerprint": dataset.fingerprint,
                       "codebase_version": dataset.version, "total_episodes": len(valid)},
            "selection": selection.as_dict() if selection is not None else None,
            "predicate": predicate if selection is None else selection.predicate,
            "videos": videos,
            "episodes": n_new,
            "frames": int(lengths.sum()),
            "episode_map": {str(old): new for old, new in new_index.items()},
        }
        if feature_map is not None:
            provenance["feature_map"] = {k: v for k, v in rename.items() if k not in frame_cols}
            provenance["image_size"] = image_size
            provenance["state_as_environment_state"] = bool(state_as_env)
        provenance.update(extra_provenance or {})
        _write_json(tmp / "provenance.json", provenance)
        progress(1.0, "done")
    return target


def _frame_size(features: dict, keys: list[str], image_size: int) -> tuple[int, int]:
    """(width, height) with `image_size` pixels on the shorter side, both even (H.264)."""
    shape = list(features[keys[0]].get("shape") or [image_size, image_size, 3])
    names = list(features[keys[0]].get("names") or ["height", "width", "channels"])
    h, w = (shape[1], shape[2]) if names and names[0] in ("channel", "channels") else (shape[0], shape[1])
    scale = image_size / max(1, min(int(h), int(w)))
    even = lambda x: max(16, int(round(x / 2)) * 2)  # noqa: E731
    return even(int(w) * scale), even(int(h) * scale)


def _out_feature(ft: dict, image_size: int | None) -> dict:
    """A feature as written: flat element names for vectors, the new frame size for cameras."""
    ft = dict(ft)
    dtype = ft.get("dtype")
    if dtype in ("video", "image"):
        if image_size:
            w, h = _frame_size({"k": ft}, ["k"], image_size)
            names = list(ft.get("names") or ["height", "width", "channels"])
            ft["shape"] = [3, h, w] if names[0] in ("channel", "channels") else [h, w, 3]
            if isinstance(ft.get("info"), dict):
                ft["info"] = {**ft["info"], "video.height": h, "video.width": w, "video.codec": "h264",
                              "video.pix_fmt": "yuv420p"}
    elif isinstance(ft.get("names"), (dict, list)) and len(ft.get("shape") or []) == 1:
        from studio.datasets import element_names

        ft["names"] = element_names(ft)
    return ft


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return [str(x) for x in list(v)]


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=4, ensure_ascii=False, default=str))


# ------------------------------------------------------------------------------ selections


def export_selection(
    project,
    name: str,
    target: str | os.PathLike | None = None,
    *,
    revision: int | None = None,
    videos: str = "cut",
    progress: Progress | None = None,
) -> Path:
    """Export a saved selection revision (default: the latest) as a LeRobot v3.0 dataset;
    `target` defaults to `<home>/selections/<name>-r<rev>/`."""
    from studio.curation.selections import get_selection, resolve_selection
    from studio.datasets import open_dataset

    sel = get_selection(project, name, revision)
    dataset = open_dataset(sel.dataset_path)
    res = resolve_selection(sel, dataset, project)
    target = Path(target) if target is not None else Path(project.selections_dir) / sel.label
    return export_episodes(dataset, res.episodes, target, selection=sel, videos=videos, progress=progress,
                           extra_provenance={"feature_map": _confirmed_map(project, dataset)})


def _confirmed_map(project, dataset) -> dict[str, str] | None:
    """The dataset's feature map (confirmed in the project, else proposed), for provenance."""
    from studio import featuremap

    try:
        return featuremap.resolve(dataset, saved=featuremap.saved(project, dataset))
    except StudioError:
        return None


def ensure_export(project, selection_name: str, revision: int | None = None) -> Path:
    """The exported dataset of a selection revision, exporting it on first use into
    `<home>/selections/<name>-r<rev>/` (the training jobs train on this path)."""
    from studio.curation.selections import get_selection

    sel = get_selection(project, selection_name, revision)
    target = Path(project.selections_dir) / sel.label
    if (target / "provenance.json").exists():
        return target
    try:
        return export_selection(project, sel.name, target, revision=sel.revision)
    except (StudioError, OSError) as exc:
        if (target / "provenance.json").exists():
            return target  # another process finished the same export first
        if isinstance(exc, StudioError):
            raise
        raise StudioError(str(target), f"export failed ({exc})") from None


# ------------------------------------------------------------------------------ episode list / hub


def episode_list_args(dataset_root: str | os.PathLike, episodes: Sequence[int]) -> str:
    """`lerobot-train` arguments that train on these episodes of the original dataset
    (note: normalization stats then stay those of the full dataset)."""
    if not list(episodes):
        raise StudioError("episodes", "the selection keeps no episodes, so there is nothing to train on")
    eps = ",".join(str(int(e)) for e in sorted(set(episodes)))
    return f"--dataset.root={Path(dataset_root)} --dataset.episodes=[{eps}]"


def write_episode_list(path: str | os.PathLike, dataset, episodes: Sequence[int], selection=None) -> Path:
    """A JSON file with the episode list and the matching `lerobot-train` arguments (atomic)."""
    from studio.fsutil import atomic_write_json

    eps = sorted(set(int(e) for e in episodes))
    return atomic_write_json(
        path,
        {
            "dataset": str(Path(dataset.root)),
            "fingerprint": dataset.fingerprint,
            "selection": selection.label if selection is not None else None,
            "episodes": eps,
            "lerobot_train_args": episode_list_args(dataset.root, eps),
        },
    )


def push_to_hub(path: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload an exported dataset folder to the Hub as a dataset repo (tagged v3.0)."""
    path = Path(path)
    if not (path / "meta" / "info.json").exists():
        raise StudioError(str(path), "is not an exported LeRobot dataset (no meta/info.json)")
    if os.environ.get("HF_HUB_OFFLINE", "").strip() not in ("", "0", "false", "False"):
        raise StudioError("hub", "HF_HUB_OFFLINE is set, so nothing can be pushed; the export stays at " + str(path))
    try:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(path), repo_id=repo_id, repo_type="dataset",
                          commit_message="Upload curated selection from Flywheel Studio")
        try:
            api.create_tag(repo_id, tag="v3.0", repo_type="dataset", exist_ok=True)
        except TypeError:
            api.create_tag(repo_id, tag="v3.0", repo_type="dataset")
    except StudioError:
        raise
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        if any(s in text for s in ("ConnectionError", "Max retries", "Failed to resolve", "NameResolution",
                                   "Network is unreachable", "Temporary failure", "timed out", "OfflineMode")):
            raise StudioError("hub", f"cannot reach the Hugging Face Hub (offline?); the export stays at {path}") from None
        if "401" in text or "403" in text or "token" in text.lower():
            raise StudioError("hub", "the Hub refused the upload (log in with `huggingface-cli login` or pass a token)") from None
        raise StudioError("hub", f"push failed ({text.splitlines()[0][:200]})") from None
    return f"https://huggingface.co/datasets/{repo_id}"


def _episode_list_exporter(dataset, episodes, target, *, selection=None, **_):
    return write_episode_list(target, dataset, episodes, selection)


BUILTIN_EXPORTERS = (
    Exporter("lerobot", "a new LeRobot v3.0 dataset (re-indexed, stats recomputed, videos cut or copied)",
             export_episodes),
    Exporter("episode-list", "a JSON episode list + `lerobot-train --dataset.episodes` arguments",
             _episode_list_exporter),
)


def exporters(plugin_host=None) -> list[Exporter]:
    """Built-in exporters plus those of plugins (`studio_exporters`); first name wins."""
    if plugin_host is None:
        from studio.plugins import host

        plugin_host = host()
    found = {ex.name: ex for ex in BUILTIN_EXPORTERS}
    for ex in plugin_host.call("studio_exporters"):
        if isinstance(ex, Exporter) and ex.name not in found:
            found[ex.name] = ex
    return list(found.values())


def get_exporter(name: str, plugin_host=None) -> Exporter:
    known = exporters(plugin_host)
    for ex in known:
        if ex.name == name:
            return ex
    raise StudioError("--format", f"unknown export format '{name}' (known: {', '.join(e.name for e in known)})")
