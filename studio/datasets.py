"""Open and validate LeRobot datasets (v3.0 and v2.1; local folder or Hub repo id).

`open_dataset` reads `meta/` and scans the data files once (vectorised, Arrow/NumPy) to
report problems as `Problem(where, what)` records instead of crashing. A dataset that
still has readable frames opens with its problems listed; only a dataset with nothing
readable (no folder, no `meta/info.json`, unknown layout) raises `DatasetError`.

Opening never writes inside the dataset folder (Hub datasets go to the huggingface_hub
cache, which is huggingface_hub's to manage).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.errors import DatasetError

log = logging.getLogger("studio.datasets")

SUPPORTED_VERSIONS = ("v2.1", "v3.0")
DEFAULT_FRAME_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")
ACTION_KEYS = ("action", "actions", "action.joints")
STATE_KEYS = ("observation.state", "state", "observation.states", "observation.joints", "qpos")
RECENT_KEY = "datasets.recent"
RECENT_MAX = 12
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# Bump when the data scan changes what it reports (invalidates cached scans).
SCAN_VERSION = 3
# Beyond this many video files, only their existence is checked (probing each one costs I/O).
MAX_VIDEO_PROBES = 64


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset: where (a file or episode) and what, in one sentence."""

    where: str
    what: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "what": self.what}

    def sentence(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass(frozen=True)
class VideoRef:
    """Where one episode of one camera lives: a file and the [from, to) seconds inside it."""

    key: str
    episode_index: int
    path: Path
    from_ts: float
    to_ts: float
    exists: bool

    def __iter__(self):  # unpack as (path, from_ts, to_ts)
        return iter((self.path, self.from_ts, self.to_ts))


@dataclass(frozen=True, eq=False)
class Dataset:
    """An opened LeRobot dataset: metadata in memory, frames on disk (read through the catalog)."""

    root: Path
    info: dict
    version: str
    fps: float
    features: dict
    episode_table: Any  # pyarrow.Table; `episodes` is its pandas view
    task_table: Any  # pyarrow.Table (task_index, task); `tasks` is its pandas view
    stats: dict
    problems: tuple[Problem, ...]
    fingerprint: str
    repo_id: str | None = None
    _data_files: tuple[Path, ...] = field(default=(), repr=False)
    _video_status: dict = field(default_factory=dict, repr=False)
    _trusted_root: Path | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def episodes(self):
        """Episodes as a pandas DataFrame: episode_index, tasks, length, dataset_from_index,
        dataset_to_index (+ data/…, videos/<key>/… columns in v3.0). Built on first use."""
        df = self._cache.get("episodes_df")
        if df is None:
            df = self.episode_table.to_pandas()
            df["tasks"] = [list(t) if t is not None else [] for t in df["tasks"]]
            self._cache["episodes_df"] = df
        return df

    @property
    def tasks(self):
        """Tasks as a pandas DataFrame (task_index, task)."""
        df = self._cache.get("tasks_df")
        if df is None:
            df = self._cache["tasks_df"] = self.task_table.to_pandas()
        return df

    def episode_column(self, name: str) -> np.ndarray:
        """One column of the episodes table as a NumPy array (no pandas needed)."""
        return _np(self.episode_table.column(name))

    @property
    def trusted_root(self) -> Path:
        """Files may resolve anywhere under here (the repo's cache folder for Hub datasets)."""
        return self._trusted_root or self.root

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return self.repo_id or self.root.name

    @property
    def robot_type(self) -> str | None:
        return self.info.get("robot_type")

    @property
    def total_episodes(self) -> int:
        return int(self.episode_table.num_rows)

    @property
    def total_frames(self) -> int:
        return int(self.episode_column("length").sum()) if self.episode_table.num_rows else 0

    @property
    def duration_s(self) -> float:
        return self.total_frames / self.fps if self.fps else 0.0

    # ------------------------------------------------------------------ features
    def data_files(self) -> list[Path]:
        """Readable data parquet files (refused / corrupt ones are left out and reported)."""
        return list(self._data_files)

    def video_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft.get("dtype") == "video"]

    def image_keys(self) -> list[str]:
        return [k for k, ft in self.features.items() if ft.get("dtype") == "image"]

    def vector_features(self) -> dict[str, list[str]]:
        """Float vector features (shape [n], n > 1 or named) → element names, in info.json order."""
        out: dict[str, list[str]] = {}
        for key, ft in self.features.items():
            if not str(ft.get("dtype", "")).startswith("float"):
                continue
            shape = list(ft.get("shape") or [])
            # shape [1] is stored as a scalar column by lerobot (datasets.Value), not a vector
            if len(shape) != 1 or shape[0] < 2 or key in DEFAULT_FRAME_COLUMNS:
                continue
            out[key] = element_names(ft)
        return out

    def _first_key(self, candidates: Iterable[str]) -> str | None:
        vec = self.vector_features()
        for key in candidates:
            if key in vec:
                return key
        return None

    @property
    def action_key(self) -> str | None:
        """The action feature, whatever it is called (`action`, `actions`, …)."""
        return self._first_key(ACTION_KEYS)

    @property
    def state_key(self) -> str | None:
        """The proprioceptive state feature (`observation.state`, `state`, …)."""
        return self._first_key(STATE_KEYS)

    # ------------------------------------------------------------------ videos
    def video_location(self, key: str, episode_index: int) -> VideoRef:
        """The file and time range holding camera `key` for one episode (exists or not)."""
        table = self._video_table(key)
        pos = self._episode_pos(episode_index)
        path, from_ts, to_ts, ok = table[pos]
        return VideoRef(key, int(episode_index), path, from_ts, to_ts, ok)

    def _video_table(self, key: str) -> list[tuple[Path, float, float, bool]]:
        """(path, from_ts, to_ts, exists) per episode row, computed once per camera.

        Files are stat'ed once each (v3.0 files hold many episodes)."""
        if key not in self.video_keys():
            raise DatasetError(key, f"is not a video feature of {self.name}")
        cached = self._cache.get(("video", key))
        if cached is not None:
            return cached
        eps = self.episode_table
        n = eps.num_rows
        names = set(eps.column_names)
        template = self.info.get("video_path") or ""
        lengths = self.episode_column("length").astype(np.float64) if n else np.zeros(0)
        ep_idx = self.episode_column("episode_index") if n else np.zeros(0, dtype=np.int64)
        rels: list[str | None]
        c_col, f_col = f"videos/{key}/chunk_index", f"videos/{key}/file_index"
        if self.version == "v3.0" and f_col in names and c_col in names:
            chunks = _float_col(eps, c_col)
            files = _float_col(eps, f_col)
            memo: dict[tuple[int, int], str | None] = {}
            rels = []
            for c, f in zip(chunks.tolist(), files.tolist()):
                if math.isnan(c) or math.isnan(f):
                    rels.append(None)
                    continue
                k = (int(c), int(f))
                if k not in memo:
                    memo[k] = _format_template(template, video_key=key, chunk_index=k[0], file_index=k[1])
                rels.append(memo[k])
            from_col = f"videos/{key}/from_timestamp"
            to_col = f"videos/{key}/to_timestamp"
            from_ts = np.nan_to_num(_float_col(eps, from_col), nan=0.0) if from_col in names else np.zeros(n)
            to_ts = _float_col(eps, to_col) if to_col in names else from_ts + lengths / self.fps
            to_ts = np.where(np.isnan(to_ts), from_ts + lengths / self.fps, to_ts)
        else:
            size = int(self.info.get("chunks_size") or 1000)
            rels = [_format_template(template, video_key=key, episode_chunk=int(e) // size, episode_index=int(e),
                                     chunk_index=int(e) // size, file_index=0) for e in ep_idx.tolist()]
            from_ts = np.zeros(n)
            to_ts = lengths / self.fps
        exists: dict[str, bool] = {}
        out = []
        for rel, a, b in zip(rels, from_ts.tolist(), to_ts.tolist()):
            if rel is None:
                out.append((self.root / "videos" / key, a, b, False))
                continue
            if rel not in exists:
                path = self.root / rel
                ok = _inside(path, self.trusted_root) and path.is_file()
                exists[rel] = bool(ok and self._video_status.get(str(path), True))
            out.append((self.root / rel, a, b, exists[rel]))
        self._cache[("video", key)] = out
        return out

    def video_present(self) -> dict[str, Any]:
        """{key: boolean array over episodes (in `episodes` order)} — whether each video exists."""
        return {key: np.array([row[3] for row in self._video_table(key)], dtype=bool) for key in self.video_keys()}

    def _episode_pos(self, episode_index: int) -> int:
        pos = self._cache.get("pos")
        if pos is None:
            pos: dict[int, int] = {}
            for i, e in enumerate(self.episode_column("episode_index").tolist()):
                pos.setdefault(int(e), i)  # the first row wins for a duplicated index
            self._cache["pos"] = pos
        try:
            return pos[int(episode_index)]
        except (KeyError, ValueError, TypeError):
            raise DatasetError(f"episode {episode_index}",
                               f"is not in {self.name} ({self.total_episodes} episodes)") from None

    def episode_bounds(self, episode_index: int) -> tuple[int, int]:
        """[from, to) global frame indices of an episode."""
        i = self._episode_pos(episode_index)
        return (int(self.episode_table.column("dataset_from_index")[i].as_py()),
                int(self.episode_table.column("dataset_to_index")[i].as_py()))

    def summary(self) -> dict[str, Any]:
        """The `studio info --json` object."""
        return {
            "name": self.name,
            "root": str(self.root),
            "repo_id": self.repo_id,
            "codebase_version": self.info.get("codebase_version"),
            "robot_type": self.robot_type,
            "fps": self.fps,
            "total_episodes": self.total_episodes,
            "total_frames": self.total_frames,
            "total_tasks": int(self.task_table.num_rows),
            "duration_s": round(self.duration_s, 3),
            "features": {
                k: {"dtype": ft.get("dtype"), "shape": list(ft.get("shape") or []), "names": _names_for_json(ft)}
                for k, ft in self.features.items()
            },
            "videos": {
                k: {"present": int(v.sum()), "missing": int((~v).sum())} for k, v in self.video_present().items()
            },
            "problems": [p.as_dict() for p in self.problems],
            "fingerprint": self.fingerprint,
        }


# ---------------------------------------------------------------------------- helpers


def element_names(ft: dict) -> list[str]:
    """Element names of a 1-D feature: flat list, nested {"motors": [...]}, or null → "0".."n-1"."""
    shape = list(ft.get("shape") or [1])
    n = int(shape[0]) if shape else 1
    names = ft.get("names")
    flat: list[str] = []
    if isinstance(names, dict):
        for v in names.values():
            if isinstance(v, (list, tuple)):
                flat += [str(x) for x in v]
    elif isinstance(names, (list, tuple)):
        for x in names:
            if isinstance(x, (list, tuple)):
                flat += [str(y) for y in x]
            else:
                flat.append(str(x))
    if len(flat) != n:
        flat = [str(i) for i in range(n)]
    seen: dict[str, int] = {}
    out = []
    for nm in flat:  # duplicate names would collide as SQL columns
        if nm in seen:
            seen[nm] += 1
            nm = f"{nm}_{seen[nm]}"
        else:
            seen[nm] = 0
        out.append(nm)
    return out


# Roles of one vector dimension, read from its element name (one place: metrics, the
# Datasets panel and training all ask here). Order matters: velocity before joint.
_ROLE_WORDS = (
    ("velocity", ("vel", "speed")),
    ("effort", ("effort", "torque", "force", "current", "load")),
    ("hand", ("hand", "thumb", "index", "middle", "ring", "pinky", "finger")),
    ("gripper", ("grip", "grasp", "claw", "jaw")),
)
ROLES = ("arm", "gripper", "hand", "velocity", "effort")


def dimension_role(name: str) -> str:
    """Role of one dimension from its element name: gripper, hand (finger joints), velocity,
    effort, else arm (a joint or a Cartesian coordinate)."""
    low = str(name).lower()
    for role, words in _ROLE_WORDS:
        if any(w in low for w in words):
            return role
    return "arm"


def dimension_roles(ft: dict) -> list[str]:
    """Role of each element of a 1-D feature, in element order (see `element_names`)."""
    return [dimension_role(n) for n in element_names(ft)]


_NP_TYPES = {"float": np.float32, "double": np.float64, "halffloat": np.float16}


def _np(col) -> np.ndarray:
    """An Arrow column as NumPy. Plain numeric columns are read from their buffer because
    pyarrow's to_numpy() imports pandas (≈0.3 s of CPU for `studio info`); others fall back."""
    import pyarrow as pa

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    typ = arr.type
    if arr.null_count == 0 and (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        dtype = np.dtype(_NP_TYPES.get(str(typ), str(typ)))
        buf = arr.buffers()[1]
        if buf is None:
            return np.zeros(0, dtype=dtype)
        return np.frombuffer(buf, dtype=dtype)[arr.offset: arr.offset + len(arr)]
    return arr.to_numpy(zero_copy_only=False)


def _float_col(table, name: str) -> np.ndarray:
    """A numeric Arrow column as float64 NumPy (nulls → NaN)."""
    return _np(table.column(name)).astype(np.float64)


def _names_for_json(ft: dict):
    names = ft.get("names")
    return names if isinstance(names, (list, dict)) or names is None else str(names)


def _isnan(x) -> bool:
    try:
        return isinstance(x, float) and math.isnan(x)
    except TypeError:
        return False


def _inside(path: Path, root: Path) -> bool:
    """True when `path` (following symlinks) stays inside `root`."""
    try:
        return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))
    except (OSError, ValueError):
        return False


class _Keep(dict):
    def __missing__(self, key):  # unknown template fields stay as written
        return "{" + key + "}"


def _format_template(template: str, **values) -> str | None:
    try:
        return template.format_map(_Keep(values))
    except (ValueError, IndexError, KeyError, AttributeError):
        return None


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _episodes_list(eps: Iterable[int], limit: int = 8) -> str:
    eps = sorted({int(e) for e in eps})
    head = ", ".join(str(e) for e in eps[:limit])
    more = f" and {len(eps) - limit} more" if len(eps) > limit else ""
    word = "episode" if len(eps) == 1 else "episodes"
    return f"{word} {head}{more}"


# ---------------------------------------------------------------------------- opening


def resolve_root(path_or_repo: str | os.PathLike) -> tuple[Path, str | None]:
    """A local dataset folder for a path or a Hub repo id (downloaded into the HF cache)."""
    text = str(path_or_repo).strip()
    if not text:
        raise DatasetError("dataset", "no path or repo id given")
    path = Path(text).expanduser()
    if path.exists():
        if path.is_file() and path.name == "info.json" and path.parent.name == "meta":
            path = path.parent.parent
        elif path.is_file():
            raise DatasetError(str(path), "is a file; give the dataset folder (the one holding meta/info.json)")
        if not (path / "meta" / "info.json").exists():
            if path.name == "meta" and (path / "info.json").exists():
                return path.parent.resolve(), None
            # A download/unzip often nests the dataset one level down (e.g. name-main/).
            inner = [p for p in sorted(path.iterdir()) if p.is_dir() and (p / "meta" / "info.json").exists()]
            if len(inner) == 1:
                return inner[0].resolve(), None
            if not (path / "meta").exists():
                raise DatasetError(str(path), "is not a LeRobot dataset (no meta/info.json)")
        return path.resolve(), None
    if _REPO_ID.match(text) and not text.startswith((".", "/", "~")):
        local = lerobot_home() / text  # where lerobot-record and LeRobotDataset keep datasets
        if (local / "meta" / "info.json").is_file():
            return local.resolve(), text
        return _download(text), text
    raise DatasetError(text, "no such folder, and it is not a Hugging Face repo id (owner/name)")


def lerobot_home() -> Path:
    """lerobot's dataset home: $HF_LEROBOT_HOME, else $HF_HOME/lerobot (~/.cache/huggingface/lerobot)."""
    if os.environ.get("HF_LEROBOT_HOME"):
        return Path(os.environ["HF_LEROBOT_HOME"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return Path(hf_home).expanduser() / "lerobot"


def list_lerobot_home() -> list[str]:
    """Repo ids (`user/name`) of the datasets found in `lerobot_home()`, sorted."""
    home = lerobot_home()
    if not home.is_dir():
        return []
    out = []
    try:
        for info in sorted(home.glob("*/*/meta/info.json")):
            user, name = info.parent.parent.parent.name, info.parent.parent.name
            if user.startswith(".") or name.startswith(".") or user == "calibration":
                continue
            out.append(f"{user}/{name}")
    except OSError:  # an unreadable home lists nothing rather than failing a picker
        return out
    return out


def _download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        local = snapshot_download(repo_id, repo_type="dataset")
    except LocalEntryNotFoundError:
        raise DatasetError(
            repo_id,
            f"is no local folder, and as a repo id it is neither in lerobot's home ({lerobot_home()}) nor in the "
            "local Hugging Face cache while the Hub cannot be reached (offline); connect to the internet or "
            "open a local folder",
        ) from None
    except RepositoryNotFoundError:
        raise DatasetError(repo_id, "no such dataset on the Hugging Face Hub (or it is private)") from None
    except Exception as exc:  # network and validation errors come in many classes
        log.info("Hub download of %s failed", repo_id, exc_info=True)
        raise DatasetError(
            repo_id, f"could not be downloaded from the Hugging Face Hub ({type(exc).__name__}: {_short(exc)})"
        ) from None
    root = Path(local)
    if not (root / "meta" / "info.json").exists():
        raise DatasetError(repo_id, "was downloaded but is not a LeRobot dataset (no meta/info.json)")
    return root


def open_dataset(path_or_repo: str | os.PathLike, *, project=None) -> Dataset:
    """Open a LeRobot dataset (v3.0 or v2.1) from a folder or a Hub repo id; validate it.

    Raises DatasetError only when nothing can be read; other faults become `problems`.
    """
    root, repo_id = resolve_root(path_or_repo)
    ds = _Opener(root, repo_id).open()
    if project is not None:
        try:
            remember_recent(project, repo_id or str(root))
        except Exception:  # the recent list is a convenience; never fail an open for it
            log.info("could not remember recent dataset", exc_info=True)
    return ds


class _Opener:
    """One open: accumulates problems while reading meta, episodes, tasks, stats and data."""

    def __init__(self, root: Path, repo_id: str | None):
        self.root = root
        self.repo_id = repo_id
        self.problems: list[Problem] = []
        # Hub snapshots are symlinks into the repo cache's blobs/ folder.
        self.trusted = root.parent.parent if repo_id and root.parent.name == "snapshots" else root

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(str(where), str(what)))

    # -------------------------------------------------------------- meta
    def open(self) -> Dataset:
        info = self._info()
        version = self._version(info)
        features = self._features(info)
        fps_declared = info.get("fps")
        if version == "v3.0":
            episodes, tasks = self._episodes_v30(info), self._tasks_v30()
        else:
            episodes, tasks = self._episodes_v21(info), self._tasks_v21()
        stats = self._stats()
        data_files = self._data_files(info, version, episodes)
        scan = _DataScan(self, features, data_files)
        if not scan.load_cached():
            scan.run()
            scan.save_cached()
        self.problems.extend(scan.problems)
        fps = self._fps(fps_declared, scan.median_dt)
        episodes = self._reconcile_episodes(info, episodes, scan, version)
        if tasks is None or tasks.num_rows == 0:
            tasks = _tasks_from_episodes(episodes)
        self._totals(info, episodes)
        video_status = self._videos(info, version, episodes, features, fps)
        fingerprint = _fingerprint(self.root, data_files)
        if not scan.readable_files and len(data_files):
            self.add("data/", "no data file could be read; the dataset has no frames")
        return Dataset(
            root=self.root,
            info=info,
            version=version,
            fps=fps,
            features=features,
            episode_table=episodes,
            task_table=tasks,
            stats=stats,
            problems=tuple(_dedupe(self.problems)),
            fingerprint=fingerprint,
            repo_id=self.repo_id,
            _data_files=tuple(scan.readable_files),
            _video_status=video_status,
            _trusted_root=self.trusted,
        )

    def _info(self) -> dict:
        path = self.root / "meta" / "info.json"
        if not path.exists():
            raise DatasetError(str(self.root), "is not a LeRobot dataset (no meta/info.json)")
        if not _inside(path, self.trusted):
            raise DatasetError("meta/info.json", "is a symlink that leads outside the dataset folder (refused)")
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DatasetError("meta/info.json", f"is corrupt or truncated ({type(exc).__name__}: {exc})") from None
        if not isinstance(info, dict):
            raise DatasetError("meta/info.json", "must hold a JSON object")
        return info

    def _version(self, info: dict) -> str:
        declared = info.get("codebase_version")
        if declared in SUPPORTED_VERSIONS:
            return str(declared)
        meta = self.root / "meta"
        if (meta / "episodes").is_dir():
            guess = "v3.0"
        elif (meta / "episodes.jsonl").exists():
            guess = "v2.1"
        else:
            raise DatasetError(
                "meta/info.json",
                f"codebase_version {declared!r} is not supported ({', '.join(SUPPORTED_VERSIONS)} are) "
                "and the folder layout matches neither",
            )
        if declared == "v2.0":
            self.add("meta/info.json", "codebase_version 'v2.0' is older than v2.1; read with the v2.1 layout "
                     "(per-episode stats are absent)")
        else:
            self.add(
                "meta/info.json",
                f"codebase_version {declared!r} is not supported ({', '.join(SUPPORTED_VERSIONS)} are); "
                f"read as the {guess} layout it resembles",
            )
        return guess

    def _features(self, info: dict) -> dict:
        feats = info.get("features")
        if not isinstance(feats, dict) or not feats:
            self.add("meta/info.json", "has no 'features'; columns are taken from the data files")
            return {}
        clean = {}
        for key, ft in feats.items():
            if not isinstance(ft, dict) or "dtype" not in ft:
                self.add("meta/info.json", f"feature {key!r} has no dtype; ignored")
                continue
            ft = dict(ft)
            shape = ft.get("shape")
            if not isinstance(shape, (list, tuple)) or not all(isinstance(s, int) for s in shape):
                self.add("meta/info.json", f"feature {key!r} has a bad shape {shape!r}")
                ft["shape"] = [1]
            ft["shape"] = list(ft["shape"])
            if len(ft["shape"]) == 1 and ft.get("names") is not None:
                n = ft["shape"][0]
                if _flat_count(ft.get("names")) != n:
                    self.add("meta/info.json", f"feature {key!r} names do not match its shape [{n}]; using 0..{n - 1}")
            clean[key] = ft
        return clean

    def _fps(self, declared, median_dt: float | None) -> float:
        ok = isinstance(declared, (int, float)) and not isinstance(declared, bool) and math.isfinite(declared) and declared > 0
        if ok:
            return float(declared)
        inferred = round(1.0 / median_dt, 3) if median_dt and median_dt > 0 else None
        fallback = inferred or 30.0
        how = "inferred from timestamps" if inferred else "assumed"
        self.add("meta/info.json", f"fps {declared!r} is not a positive number; using {fallback:g} ({how})")
        return float(fallback)

    # -------------------------------------------------------------- episodes / tasks / stats
    def _episodes_v30(self, info: dict):
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted((self.root / "meta" / "episodes").glob("*/*.parquet"))
        tables = []
        for f in files:
            rel = _rel(f, self.root)
            if not _inside(f, self.trusted):
                self.add(rel, "is a symlink that leads outside the dataset folder (refused)")
                continue
            try:
                schema = pq.read_schema(f)
                cols = [c for c in schema.names if not c.startswith("stats/")]
                tables.append(pq.ParquetFile(f).read(columns=cols))  # not read_table: it imports pandas
            except (OSError, pa.ArrowException) as exc:
                self.add(rel, f"is corrupt or truncated ({_short(exc)}); episodes taken from the data")
        if not files:
            self.add("meta/episodes/", "is missing; episodes are taken from the data")
        if not tables:
            return None
        try:
            table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowException as exc:
            self.add("meta/episodes/", f"files disagree on their columns ({_short(exc)})")
            table = tables[0]
        missing = [c for c in ("episode_index", "length") if c not in table.column_names]
        if missing:
            self.add("meta/episodes/", f"lacks column(s) {', '.join(missing)}; episodes taken from the data")
            return None
        table = _sorted_by(table, "episode_index")
        if "dataset_from_index" not in table.column_names or "dataset_to_index" not in table.column_names:
            lengths = _np(table.column("length")).astype(np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            table = _set_col(table, "dataset_from_index", starts)
            table = _set_col(table, "dataset_to_index", starts + lengths)
        return table

    def _episodes_v21(self, info: dict):
        import pyarrow as pa

        rows = self._jsonl("meta/episodes.jsonl")
        if rows is None:
            return None
        rows = [r for r in rows if isinstance(r, dict) and "episode_index" in r and "length" in r]
        if not rows:
            self.add("meta/episodes.jsonl", "has no episode_index/length records; episodes taken from the data")
            return None
        try:
            rows.sort(key=lambda r: int(r["episode_index"]))
            ep = np.array([int(r["episode_index"]) for r in rows], dtype=np.int64)
            lengths = np.array([int(r["length"]) for r in rows], dtype=np.int64)
        except (TypeError, ValueError):
            self.add("meta/episodes.jsonl", "has non-integer episode_index/length values; episodes taken from the data")
            return None
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        return pa.table({
            "episode_index": ep,
            "tasks": pa.array([_task_list(r.get("tasks")) for r in rows], type=pa.list_(pa.string())),
            "length": lengths,
            "dataset_from_index": starts,
            "dataset_to_index": starts + lengths,
        })

    def _jsonl(self, rel: str) -> list | None:
        path = self.root / rel
        if not path.exists():
            self.add(rel, "is missing")
            return None
        if not _inside(path, self.trusted):
            self.add(rel, "is a symlink that leads outside the dataset folder (refused)")
            return None
        rows, bad = [], 0
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(rel, f"is unreadable ({_short(exc)})")
            return None
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                bad += 1
        if bad:
            self.add(rel, f"has {bad} corrupt or truncated line(s); they were skipped")
        return rows

    def _tasks_v30(self):
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.root / "meta" / "tasks.parquet"
        if not path.exists():
            self.add("meta/tasks.parquet", "is missing; tasks are taken from the episodes")
            return None
        if not _inside(path, self.trusted):
            self.add("meta/tasks.parquet", "is a symlink that leads outside the dataset folder (refused)")
            return None
        try:
            table = pq.ParquetFile(path).read()
        except (OSError, pa.ArrowException) as exc:
            self.add("meta/tasks.parquet", f"is corrupt or truncated ({_short(exc)})")
            return None
        names = table.column_names
        # lerobot writes the task strings as the pandas index (__index_level_0__)
        task_col = "task" if "task" in names else ("__index_level_0__" if "__index_level_0__" in names else None)
        if task_col is None or "task_index" not in names:
            self.add("meta/tasks.parquet", "lacks task/task_index columns")
            return None
        # select/rename/sort, not pa.array(): building arrays from Python makes pyarrow import pandas
        table = table.select(["task_index", task_col]).rename_columns(["task_index", "task"])
        return _sorted_by(table, "task_index")

    def _tasks_v21(self):
        rows = self._jsonl("meta/tasks.jsonl")
        if not rows:
            return None
        rows = [r for r in rows if isinstance(r, dict) and "task" in r and "task_index" in r]
        if not rows:
            self.add("meta/tasks.jsonl", "lacks task/task_index fields")
            return None
        return _tasks_table([r["task_index"] for r in rows], [r["task"] for r in rows])

    def _stats(self) -> dict:
        path = self.root / "meta" / "stats.json"
        if not path.exists() and (self.root / "meta" / "episodes_stats.jsonl").is_file():
            return {}  # v2.1 keeps per-episode stats there; lerobot aggregates them on load
        if not path.exists():
            self.add("meta/stats.json", "is missing (normalisation stats must be recomputed before training)")
            return {}
        if not _inside(path, self.trusted):
            self.add("meta/stats.json", "is a symlink that leads outside the dataset folder (refused)")
            return {}
        try:
            stats = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.add("meta/stats.json", f"is corrupt or truncated ({_short(exc)})")
            return {}
        return stats if isinstance(stats, dict) else {}

    # -------------------------------------------------------------- data files
    def _template_ok(self, info: dict, key: str) -> str | None:
        template = info.get(key)
        if template is None:
            return None
        if not isinstance(template, str):
            self.add("meta/info.json", f"{key} {template!r} is not a path template")
            return None
        probe = _format_template(template, chunk_index=0, file_index=0, episode_chunk=0, episode_index=0,
                                 video_key="cam")
        if probe is None or os.path.isabs(template) or ".." in Path(template).parts or \
                not _inside_lexically(self.root / probe, self.root):
            self.add("meta/info.json", f"{key} {template!r} points outside the dataset folder (refused)")
            return None
        return template

    def _data_files(self, info: dict, version: str, episodes) -> list[Path]:
        template = self._template_ok(info, "data_path")
        declared_default = "data_path" not in info
        if template is None and not declared_default:
            return []
        if template is None:
            template = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet" if version == "v3.0" else \
                "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
            self.add("meta/info.json", "has no data_path; using the standard layout")
        files: list[Path] = []
        if episodes is not None:
            chunks = int(info.get("chunks_size") or 1000)
            names = episodes.column_names
            if version == "v3.0" and "data/file_index" in names and "data/chunk_index" in names:
                c = _float_col(episodes, "data/chunk_index")
                f = _float_col(episodes, "data/file_index")
                ok = ~(np.isnan(c) | np.isnan(f))
                pairs = sorted(set(zip(c[ok].astype(np.int64).tolist(), f[ok].astype(np.int64).tolist())))
                rels = [_format_template(template, chunk_index=a, file_index=b) for a, b in pairs]
            elif version == "v3.0":
                rels = []
            else:
                rels = [
                    _format_template(template, episode_chunk=int(e) // chunks, episode_index=int(e))
                    for e in episodes.column("episode_index").to_pylist()
                ]
            files = [self.root / r for r in rels if r]
        # lerobot reads every data/*/*.parquet, listed or not; so does the scan.
        files += sorted((self.root / "data").glob("*/*.parquet"))
        seen, out = set(), []
        for f in files:
            if f in seen:
                continue
            seen.add(f)
            out.append(f)
        return sorted(out)

    def _reconcile_episodes(self, info, episodes, scan: _DataScan, version):
        """Compare episode metadata with the data; derive episodes from the data if needed."""
        import pyarrow as pa

        actual = scan.episode_counts  # {episode_index, n, first_index, last_index} arrays, sorted
        if episodes is None:
            if actual is None:
                actual = {k: np.zeros(0, dtype=np.int64) for k in ("episode_index", "n", "first_index", "last_index")}
            return pa.table({
                "episode_index": actual["episode_index"].astype(np.int64),
                "tasks": pa.array([[] for _ in range(len(actual["episode_index"]))], type=pa.list_(pa.string())),
                "length": actual["n"].astype(np.int64),
                "dataset_from_index": actual["first_index"].astype(np.int64),
                "dataset_to_index": (actual["last_index"] + 1).astype(np.int64),
            })
        if "tasks" not in episodes.column_names:
            episodes = episodes.append_column("tasks", pa.array([[] for _ in range(episodes.num_rows)],
                                                                type=pa.list_(pa.string())))
        elif not pa.types.is_list(episodes.schema.field("tasks").type):
            fixed = [_task_list(t) for t in episodes.column("tasks").to_pylist()]
            episodes = _set_col(episodes, "tasks", pa.array(fixed, type=pa.list_(pa.string())))
        where = _episodes_meta(version)
        meta_ep = _np(episodes.column("episode_index")).astype(np.int64)
        uniq, first_pos, counts = np.unique(meta_ep, return_index=True, return_counts=True)
        if (counts > 1).any():
            self.add(where, f"episode_index repeats for {_episodes_list(uniq[counts > 1])}")
        if actual is None or not scan.readable_files:
            return episodes
        act_ep = actual["episode_index"]
        only_meta = np.setdiff1d(uniq, act_ep, assume_unique=True)
        only_data = np.setdiff1d(act_ep, uniq, assume_unique=True)
        if len(only_meta) and not scan.missing_files:
            self.add(where, f"lists {_episodes_list(only_meta)} that have no frames in the data")
        if len(only_data):
            self.add(where, f"does not list {_episodes_list(only_data)} found in the data")
        both = np.intersect1d(uniq, act_ep, assume_unique=True)
        mpos = first_pos[np.searchsorted(uniq, both)]  # rows of the metadata
        apos = np.searchsorted(act_ep, both)  # rows of the data counts
        lengths = _np(episodes.column("length")).astype(np.int64)
        bad_len = lengths[mpos] != actual["n"][apos]
        for e, a, b in list(zip(both[bad_len], lengths[mpos][bad_len], actual["n"][apos][bad_len]))[:20]:
            self.add(f"episode {int(e)}", f"metadata says length {int(a)} but the data has {int(b)} frames")
        if not scan.has_index:
            return episodes
        f_act = actual["first_index"][apos]
        t_act = actual["last_index"][apos] + 1
        if version != "v3.0":
            # v2.1 stores no bounds (they were derived from lengths): take the data's own.
            start = _np(episodes.column("dataset_from_index")).astype(np.int64).copy()
            stop = _np(episodes.column("dataset_to_index")).astype(np.int64).copy()
            start[mpos], stop[mpos] = f_act, t_act
            episodes = _set_col(_set_col(episodes, "dataset_from_index", start), "dataset_to_index", stop)
            return episodes
        f_meta = _np(episodes.column("dataset_from_index")).astype(np.int64)[mpos]
        t_meta = _np(episodes.column("dataset_to_index")).astype(np.int64)[mpos]
        bad_b = ((f_meta != f_act) | (t_meta != t_act)) & ~bad_len
        for e, a, b, c, d in list(zip(both[bad_b], f_meta[bad_b], t_meta[bad_b], f_act[bad_b], t_act[bad_b]))[:20]:
            self.add(f"episode {int(e)}", f"metadata bounds [{int(a)}, {int(b)}) disagree with the data's index "
                     f"range [{int(c)}, {int(d)})")
        return episodes

    def _totals(self, info: dict, episodes) -> None:
        te, tf = info.get("total_episodes"), info.get("total_frames")
        n_ep = episodes.num_rows
        n_fr = int(_np(episodes.column("length")).sum()) if n_ep else 0
        if isinstance(te, int) and te != n_ep:
            self.add("meta/info.json", f"total_episodes is {te} but {n_ep} episodes were found")
        if isinstance(tf, int) and tf != n_fr:
            self.add("meta/info.json", f"total_frames is {tf} but the episodes hold {n_fr} frames")

    def _videos(self, info, version, episodes, features, fps) -> dict:
        keys = [k for k, ft in features.items() if ft.get("dtype") == "video"]
        status: dict[str, bool] = {}
        if not keys:
            return status
        template = self._template_ok(info, "video_path")
        if template is None:
            if "video_path" not in info or info.get("video_path") is None:
                self.add("meta/info.json", f"declares video features ({', '.join(keys)}) but no video_path")
            for k in keys:
                self.add(k, "declared video is absent (no video_path)")
            return status
        if episodes is None or not episodes.num_rows:
            return status
        probe = Dataset(self.root, info, version, fps, features, episodes, None, {}, (), "", None,
                        _trusted_root=self.trusted)
        probes = 0
        for key in keys:
            missing_eps, unreadable_eps, outside = [], [], []
            checked: dict[Path, bool] = {}
            for ep in episodes.column("episode_index").to_pylist():
                ref = probe.video_location(key, int(ep))
                path = ref.path
                if path not in checked:
                    if not _inside(path, self.trusted):
                        outside.append(int(ep))
                        checked[path] = False
                        status[str(path)] = False
                        continue
                    if not path.is_file():
                        checked[path] = False
                    elif probes < MAX_VIDEO_PROBES:
                        probes += 1
                        err = _probe_video(path)
                        checked[path] = err is None
                        if err:
                            status[str(path)] = False
                            self.add(_rel(path, self.root), f"video for {key} is unreadable ({err})")
                    else:
                        checked[path] = True
                if not checked[path]:
                    if path.is_file() and _inside(path, self.trusted):
                        unreadable_eps.append(int(ep))
                    elif int(ep) not in outside:
                        missing_eps.append(int(ep))
            if outside:
                self.add(key, f"video files of {_episodes_list(outside)} are symlinks leading outside the dataset folder (refused)")
            if missing_eps:
                n = episodes.num_rows
                scope = "all episodes" if len(missing_eps) == n else _episodes_list(missing_eps)
                self.add(key, f"declared video is absent for {scope}")
        return status


def _flat_count(names) -> int:
    if isinstance(names, dict):
        return sum(len(v) for v in names.values() if isinstance(v, (list, tuple)))
    if isinstance(names, (list, tuple)):
        return sum(len(x) if isinstance(x, (list, tuple)) else 1 for x in names)
    return -1


def _inside_lexically(path: Path, root: Path) -> bool:
    return os.path.normpath(str(path)).startswith(os.path.normpath(str(root)) + os.sep)


def _episodes_meta(version: str) -> str:
    return "meta/episodes/" if version == "v3.0" else "meta/episodes.jsonl"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _task_list(value) -> list[str]:
    """A task list from messy metadata: a list, a single string or nothing."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    try:
        return [str(x) for x in value]
    except TypeError:
        return [str(value)]


def _tasks_table(indices: list, names: list):
    import pyarrow as pa

    pairs = sorted((int(i), str(t)) for i, t in zip(indices, names) if i is not None and t is not None)
    return pa.table({"task_index": pa.array([i for i, _ in pairs], type=pa.int64()),
                     "task": pa.array([t for _, t in pairs], type=pa.string())})


def _tasks_from_episodes(episodes):
    names: list[str] = []
    if "tasks" in episodes.column_names:
        for t in episodes.column("tasks").to_pylist():
            for x in t or []:
                if x not in names:
                    names.append(x)
    return _tasks_table(list(range(len(names))), names)


def _sorted_by(table, column: str):
    """`table` sorted by an integer column; already-sorted tables are returned as they are
    (sort_by imports pyarrow.compute, ≈0.06 s of `studio info`)."""
    col = table.column(column)
    if col.null_count == 0 and table.num_rows > 1:
        values = _np(col)
        if values.dtype.kind in "iu" and bool(np.all(values[1:] >= values[:-1])):
            return table
    return table.sort_by(column) if table.num_rows > 1 else table


def _set_col(table, name: str, values):
    import pyarrow as pa

    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, arr)
    return table.append_column(name, arr)


def _probe_video(path: Path) -> str | None:
    """None when the file opens as a video with at least one video stream; else a reason."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
    except Exception as exc:  # noqa: BLE001 - PyAV raises many error classes for bad files
        return _short(exc)
    return None


def _fingerprint(root: Path, data_files: list[Path]) -> str:
    h = hashlib.sha1(str(root).encode())
    paths = sorted(p for p in (root / "meta").rglob("*") if p.is_file()) if (root / "meta").exists() else []
    for p in paths + sorted(data_files):
        try:
            st = p.stat()
            h.update(f"{_rel(p, root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{_rel(p, root)}|missing\n".encode())
    return h.hexdigest()[:16]


class _DataScan:
    """One vectorised pass over the data files: readability, columns, values, ordering."""

    def __init__(self, opener: _Opener, features: dict, files: list[Path]):
        self.o = opener
        self.features = features
        self.files = files
        self.readable_files: list[Path] = []
        self.missing_files: list[Path] = []
        self.episode_counts = None
        self.median_dt: float | None = None
        self.has_index = True
        self.problems: list[Problem] = []

    def add(self, where: str, what: str) -> None:
        self.problems.append(Problem(str(where), str(what)))

    # ---- cache: a scan of unchanged files (same sizes and mtimes, same features) is reused
    def cache_key(self) -> str:
        h = hashlib.sha1(f"{SCAN_VERSION}|{self.o.root}|{self.o.trusted}".encode())
        h.update(json.dumps(self.features, sort_keys=True, default=str).encode())
        for f in self.files:
            try:
                st = f.stat()
                h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}|{os.path.realpath(f)}\n".encode())
            except OSError:
                h.update(f"{f}|absent\n".encode())
        return h.hexdigest()

    def load_cached(self) -> bool:
        path = _scan_cache_dir() / f"{self.cache_key()}.json"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        try:
            self.problems = [Problem(p["where"], p["what"]) for p in data["problems"]]
            self.readable_files = [Path(p) for p in data["readable"]]
            self.missing_files = [Path(p) for p in data["missing"]]
            self.median_dt = data["median_dt"]
            self.has_index = bool(data["has_index"])
            ec = data["episode_counts"]
            self.episode_counts = None if ec is None else {k: np.asarray(v, dtype=np.int64) for k, v in ec.items()}
        except (KeyError, TypeError, ValueError):
            return False
        return True

    def save_cached(self) -> None:
        ec = self.episode_counts
        data = {
            "problems": [p.as_dict() for p in self.problems],
            "readable": [str(p) for p in self.readable_files],
            "missing": [str(p) for p in self.missing_files],
            "median_dt": self.median_dt,
            "has_index": self.has_index,
            "episode_counts": None if ec is None else {k: v.astype(np.int64).tolist() for k, v in ec.items()},
        }
        try:
            from studio.fsutil import atomic_write_text

            # compact: indenting 4 lists of one number per episode costs more than the scan's checks
            atomic_write_text(_scan_cache_dir() / f"{self.cache_key()}.json", json.dumps(data, separators=(",", ":")))
        except OSError:  # a read-only cache only costs speed
            log.debug("scan cache not writable", exc_info=True)

    def run(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        root = self.o.root
        declared = {k for k, ft in self.features.items() if ft.get("dtype") not in ("video",)}
        missing_cols: set[str] = set()
        nonfinite: dict[str, set] = {}
        nonfinite_n: dict[str, int] = {}
        ragged: dict[str, set] = {}
        # 1. per file: containment, existence, a readable footer and schema (cheap)
        metas: dict[Path, Any] = {}
        for f in self.files:
            rel = _rel(f, root)
            if not _inside(f, self.o.trusted):
                self.add(rel, "is a symlink that leads outside the dataset folder (refused)")
                continue
            if not f.exists():
                self.missing_files.append(f)
                self.add(rel, "data file is missing")
                continue
            try:
                metas[f] = pq.read_metadata(f)
            except (OSError, pa.ArrowException) as exc:
                self.add(rel, f"is corrupt or truncated ({_short(exc)}); its frames are left out")
        # 2. per file: read the frame-order columns and the checked columns once (Arrow, buffered
        # reads), check values on the flat buffers with NumPy; per-episode detail only when bad
        parts: dict[Path, dict] = {}
        for f, meta in metas.items():
            try:
                schema = meta.schema.to_arrow_schema()
            except (OSError, pa.ArrowException) as exc:
                self.add(_rel(f, root), f"is corrupt or truncated ({_short(exc)}); its frames are left out")
                continue
            # the frame-order columns the checks below use (task_index is not one of them)
            scalars = [c for c in ("timestamp", "frame_index", "episode_index", "index") if c in schema.names]
            checks = []
            for c in schema.names:
                if c in DEFAULT_FRAME_COLUMNS or (declared and c not in declared):
                    continue
                typ = schema.field(c).type
                if pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ) or pa.types.is_large_list(typ):
                    shape = list(self.features.get(c, {}).get("shape") or [])
                    want = shape[0] if len(shape) == 1 else None
                    checks.append((c, "list", want, pa.types.is_floating(typ.value_type)))
                elif pa.types.is_floating(typ):
                    checks.append((c, "scalar", None, True))
            missing_cols |= {k for k in declared if k not in schema.names}
            found = self._scan_file(f, meta, scalars, checks)
            if found is None:
                continue
            cols, bad = found
            parts[f] = cols
            self.readable_files.append(f)
            for c, kind, eps, n in bad:
                if kind == "nan":
                    nonfinite.setdefault(c, set()).update(eps)
                    nonfinite_n[c] = nonfinite_n.get(c, 0) + n
                else:
                    ragged.setdefault(c, set()).update(eps)
        ts_all, ep_all, idx_all, fi_all = [], [], [], []
        for f in self.files:  # keep the data files' order
            cols = parts.get(f)
            if cols is None:
                continue
            n = cols["__n"]
            ep = cols["episode_index"] if "episode_index" in cols else np.zeros(n, dtype=np.int64)
            if "index" in cols:
                idx = cols["index"]
            else:
                self.has_index = False
                idx = np.arange(n, dtype=np.int64)
            ep_all.append(ep)
            idx_all.append(idx)
            if "timestamp" in cols:
                ts = cols["timestamp"]
                ts = ts if ts.dtype.kind == "f" else ts.astype(np.float64)
                ts_all.append(ts)
                bad_ts = ~np.isfinite(ts)
                if bad_ts.any():
                    nonfinite.setdefault("timestamp", set()).update(np.unique(ep[bad_ts]).tolist())
                    nonfinite_n["timestamp"] = nonfinite_n.get("timestamp", 0) + int(bad_ts.sum())
            if "frame_index" in cols:
                fi_all.append(cols["frame_index"])
        for c in sorted(missing_cols):
            self.add("meta/info.json", f"feature {c!r} is declared but missing from the data files")
        for c, eps in nonfinite.items():
            self.add(c, f"has NaN/inf/missing values in {nonfinite_n[c]} frame(s) of {_episodes_list(eps)}")
        for c, eps in ragged.items():
            shape = self.features.get(c, {}).get("shape")
            self.add(c, f"vectors have the wrong length (declared shape {shape}) in {_episodes_list(eps)}")
        if not ep_all or not sum(len(e) for e in ep_all):
            if ep_all:  # readable files without a single frame
                self.episode_counts = {k: np.zeros(0, dtype=np.int64)
                                       for k in ("episode_index", "n", "first_index", "last_index")}
            return
        ep = np.concatenate(ep_all) if len(ep_all) > 1 else ep_all[0]
        idx = np.concatenate(idx_all) if len(idx_all) > 1 else idx_all[0]
        # neighbour comparisons (1 byte a frame) rather than np.diff (8 bytes a frame)
        idx_up = idx[1:] > idx[:-1]
        idx_increasing = bool(idx_up.all())
        in_order = bool(np.all(ep[1:] >= ep[:-1])) and (idx_increasing or bool(np.all(idx_up | (ep[1:] != ep[:-1]))))
        order = None if in_order else np.lexsort((idx, ep))
        ep_s = ep if order is None else ep[order]
        idx_s = idx if order is None else idx[order]
        starts = np.flatnonzero(ep_s[1:] != ep_s[:-1]) + 1
        first = np.concatenate([[0], starts]).astype(np.int64)
        n = np.diff(np.concatenate([first, [len(ep_s)]]))
        # ep_s is sorted, so each episode is one run: its count and index range
        self.episode_counts = {
            "episode_index": ep_s[first].astype(np.int64),
            "n": n.astype(np.int64),
            "first_index": idx_s[first].astype(np.int64),
            "last_index": idx_s[first + n - 1].astype(np.int64),
        }
        if self.has_index and not (len(idx) < 2 or idx_increasing):
            vals, cnt = np.unique(idx, return_counts=True)
            dup = vals[cnt > 1]
            if len(dup):
                eps = np.unique(ep[np.isin(idx, dup)])
                self.add("data/", f"{len(dup)} duplicate value(s) of `index` (e.g. {int(dup[0])}) in {_episodes_list(eps)}")
        # frame pairs (k-1, k) inside one episode; all pairs but the episode starts
        same = np.ones(max(len(ep_s) - 1, 0), dtype=bool)
        same[starts - 1] = False
        if fi_all and len(fi_all) == len(ep_all):
            fi = np.concatenate(fi_all) if len(fi_all) > 1 else fi_all[0]
            fi_s = fi if order is None else fi[order]
            if not np.all((fi_s[1:] > fi_s[:-1]) | ~same):
                key = ep_s.astype(np.int64) * (int(fi_s.max()) + 1) + fi_s.astype(np.int64)
                u, c2 = np.unique(key, return_counts=True)
                dup_eps = u[c2 > 1] // (int(fi_s.max()) + 1)
                if len(dup_eps):
                    self.add("frame_index", f"repeats within {_episodes_list(dup_eps)}")
        if ts_all and len(ts_all) == len(ep_all):
            ts = np.concatenate(ts_all) if len(ts_all) > 1 else ts_all[0]
            ts = ts if order is None else ts[order]
            dt = np.subtract(ts[1:], ts[:-1], dtype=np.float64)
            up = dt > 0
            bad = same & ~up
            if bad.any():
                self.add("timestamp", f"is not strictly increasing within {_episodes_list(ep_s[1:][bad])}")
            ok = same & up & np.isfinite(dt)
            head = ok[:200_000]  # the first 100,000 good intervals are almost always in here
            good = dt[:200_000][head] if int(head.sum()) >= 100_000 else dt[ok]
            if len(good):
                self.median_dt = _median(good[:100_000])

    def _scan_file(self, f: Path, meta, scalars: list[str], checks: list) -> tuple[dict, list] | None:
        """Read one data file's frame-order columns and run the value checks on the checked
        columns, in row-group batches of bounded size. Returns ({column: array, "__n": rows},
        [(column, "nan" | "ragged", episodes, frames)]) or None (problem recorded) if unreadable."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = list(scalars) + [c for c, *_ in checks]
        out: dict[str, np.ndarray] = {}  # the scalar columns, filled batch by batch (one copy)
        bad: list[tuple[str, str, Any, int]] = []
        n_rows = 0
        try:
            # threads and coalesced reads cost more than they save on small files
            big = meta.num_rows * len(columns) > 100_000
            pf = pq.ParquetFile(f, metadata=meta, pre_buffer=big)
            for rgs in _row_group_batches(meta):
                table = pf.read_row_groups(rgs, columns=columns, use_threads=big) if columns else None
                if table is None:
                    n_rows += sum(meta.row_group(i).num_rows for i in rgs)
                    continue
                n = table.num_rows
                for c in scalars:
                    _fill(out, c, table.column(c), n_rows, meta.num_rows)
                ep = out["episode_index"][n_rows:n_rows + n] if "episode_index" in out else None
                for c in scalars:
                    col = table.column(c)
                    if col.null_count and pa.types.is_integer(col.type):
                        rows = ~np.concatenate([_valid(ch) for ch in col.chunks])
                        bad.append((c, "nan", np.unique(ep[rows]).tolist() if ep is not None else [0], int(rows.sum())))
                for c, kind, want, is_float in checks:
                    col = table.column(c)
                    chunks = col.chunks if col.num_chunks else [col.combine_chunks()]
                    masks = [_value_masks(ch, kind, want, is_float) for ch in chunks]
                    for which, pos in (("nan", 0), ("ragged", 1)):
                        if all(m[pos] is None for m in masks):
                            continue
                        rows = np.concatenate([np.zeros(len(ch), dtype=bool) if m[pos] is None else m[pos]
                                               for ch, m in zip(chunks, masks)])
                        eps = np.unique(ep[rows]).tolist() if ep is not None else [0]
                        bad.append((c, which, eps, int(rows.sum())))
                n_rows += n
        except (OSError, pa.ArrowException) as exc:
            self.add(_rel(f, self.o.root), f"is corrupt or truncated ({_short(exc)}); its frames are left out")
            return None
        cols_out: dict[str, Any] = {c: out[c][:n_rows] if c in out else np.zeros(0, dtype=np.int64) for c in scalars}
        cols_out["__n"] = n_rows
        return cols_out, bad


def _fill(out: dict, name: str, col, pos: int, total: int) -> None:
    """Copy an Arrow column (chunk by chunk, straight from its buffers) into out[name][pos:],
    allocating out[name] for `total` rows on first use. Nulls fall back to pyarrow's conversion."""
    import pyarrow as pa

    dest = out.get(name)
    for chunk in col.chunks:
        n = len(chunk)
        typ = chunk.type
        # integers keep their type (null slots hold whatever the writer left; the caller reports
        # them); floats with nulls become NaN, which the timestamp check counts
        plain = pa.types.is_integer(typ) or (chunk.null_count == 0 and pa.types.is_floating(typ))
        vals = _float_values(chunk) if plain else chunk.to_numpy(zero_copy_only=False)
        if dest is None:
            dest = np.empty(max(total, pos + n), dtype=vals.dtype)
        elif dest.dtype != np.result_type(dest.dtype, vals.dtype):
            dest = dest.astype(np.result_type(dest.dtype, vals.dtype))  # e.g. ints with nulls become floats
        if pos + n > len(dest):
            dest = np.concatenate([dest, np.empty(pos + n - len(dest), dtype=dest.dtype)])
        dest[pos:pos + n] = vals
        pos += n
    if dest is not None:
        out[name] = dest


def _median(x: np.ndarray) -> float:
    """np.median without its import of numpy.ma (≈0.02 s of `studio info`)."""
    lo, hi = (len(x) - 1) // 2, len(x) // 2
    part = np.partition(x, [lo, hi])
    return float((part[lo] + part[hi]) / 2)


# Row groups are read in batches of about this many uncompressed bytes: small batches reuse
# memory (one 256 MB batch cost ≈0.4 s of page-fault system time on 1,000,000 frames).
_SCAN_BATCH_BYTES = 4 << 20


def _row_group_batches(meta) -> list[list[int]]:
    batches: list[list[int]] = []
    size = 0
    for i in range(meta.num_row_groups):
        b = meta.row_group(i).total_byte_size
        if not batches or size + b > _SCAN_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(i)
        size += b
    return batches


def _valid(arr) -> np.ndarray:
    """The validity bitmap of an Arrow array as a bool NumPy array (True = not null)."""
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[arr.offset: arr.offset + len(arr)].astype(bool)


def _float_values(arr) -> np.ndarray:
    """A numeric (floating or integer) Arrow array's values as NumPy, zero-copy (slots of nulls hold anything)."""
    dtype = np.dtype(_NP_TYPES.get(str(arr.type), str(arr.type)))
    buf = arr.buffers()[1]
    if buf is None:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(buf, dtype=dtype)[arr.offset: arr.offset + len(arr)]


def _value_masks(arr, kind: str, want, is_float: bool) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(rows with NaN/inf/null, rows of the wrong vector length) of one Arrow chunk; None for
    "no such rows". A null row, an empty float vector or a null element counts as missing."""
    import pyarrow as pa

    n = len(arr)
    if kind == "scalar":
        vals = _float_values(arr)
        if arr.null_count == 0 and bool(np.isfinite(vals).all()):
            return None, None
        return ~np.isfinite(vals) | ~_valid(arr), None
    row_ok = _valid(arr)
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        lengths = None
        start = arr.offset * size
        stop = start + n * size
    else:
        offs = _np(arr.offsets).astype(np.int64)
        lengths = np.diff(offs)
        start, stop = int(offs[0]), int(offs[-1])
    wrong = None
    if want is not None:
        if lengths is None:  # one length for every row
            wrong = row_ok.copy() if size != want and n else None
        else:
            wrong_rows = (lengths != want) & row_ok  # a null row has no length; it counts as missing below
            wrong = wrong_rows if wrong_rows.any() else None
    if not is_float:
        return None, wrong
    child = arr.values
    vals = _float_values(child)[start:stop]
    clean = arr.null_count == 0 and child.null_count == 0 and bool(np.isfinite(vals).all())
    if lengths is not None:
        clean = clean and (n == 0 or int(lengths.min()) > 0)
    if clean:
        return None, wrong
    el_bad = ~np.isfinite(vals)
    if child.null_count:
        el_bad |= ~_valid(child)[start:stop]
    cs = np.concatenate([[0], np.cumsum(el_bad, dtype=np.int64)])
    if lengths is None:
        bounds = np.arange(n + 1, dtype=np.int64) * size
        lengths_ = np.full(n, size)
    else:
        bounds = offs - start
        lengths_ = lengths
    rows_bad = (cs[bounds[1:]] - cs[bounds[:-1]] > 0) | ~row_ok | (lengths_ == 0)
    return (rows_bad if rows_bad.any() else None), wrong




def _scan_cache_dir() -> Path:
    """Cached data scans live outside every dataset: $STUDIO_CACHE_DIR or the user cache."""
    env = os.environ.get("STUDIO_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flywheel-studio"
    return base / "scans"


# ---------------------------------------------------------------------------- project


def list_project_datasets(project) -> list[Path]:
    """Dataset folders (holding meta/info.json) under the project's datasets/, selections/, rollouts/."""
    out: list[Path] = []
    for base in (project.datasets_dir, project.selections_dir, project.rollouts_dir):
        if not base.exists():
            continue
        for info in sorted(base.glob("*/meta/info.json")) + sorted(base.glob("*/*/meta/info.json")):
            root = info.parent.parent
            if root.name.startswith("."):
                continue
            if root not in out:
                out.append(root)
    return out


def recent(project) -> list[str]:
    """Recently opened datasets (paths or repo ids), newest first."""
    raw = project.get_setting(RECENT_KEY)
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        items = []
    return [str(x) for x in items if isinstance(x, str)]


def remember_recent(project, path_or_repo: str | os.PathLike) -> list[str]:
    item = str(path_or_repo)
    items = [item] + [x for x in recent(project) if x != item]
    items = items[:RECENT_MAX]
    project.set_setting(RECENT_KEY, json.dumps(items))
    return items
