"""Training inputs: what of a dataset a job trains on, and the work folder lerobot reads.

Any dataset the studio opens can be trained on: a v2.1 recording, features named
`actions`/`state`/`image`, cameras whose videos are absent. `plan()` decides, before
anything is queued, which features (a `studio.featuremap` map), cameras, episodes and
frame size the job uses, and refuses in one sentence what lerobot would fail on later.
When the dataset is not already exactly what lerobot wants, the job's first act is
`materialize()`: a LeRobot v3.0 copy with lerobot's keys, only the chosen cameras and
episodes (renumbered), recomputed stats and resized frames, written by the export writer
into `<home>/cache/train-inputs/<name>-<key>/` (atomic, never inside the source) and
reused by every job with the same source fingerprint and choices.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio import featuremap
from studio.errors import JobError, StudioError

log = logging.getLogger("studio.jobs.inputs")

FORMAT = 1  # bump when the work folder's layout changes (invalidates the cache)
MIN_IMAGE_SIZE = 16


@dataclass(frozen=True)
class TrainInputs:
    """The validated choice of inputs for one job (JSON-able; stored in the job spec)."""

    source: str  # the dataset folder
    fingerprint: str
    feature_map: dict[str, str]  # source key → lerobot key, chosen cameras only
    cameras: list[str]  # chosen cameras (source keys)
    episodes: list[int] | None  # None: all
    image_size: int | None
    state_as_env: bool
    work_dir: str | None  # None: lerobot reads the source as it is
    frames: int = 0
    camera_counts: dict[str, list[int]] = field(default_factory=dict)  # key → [present, missing] (all episodes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def notes(self) -> list[str]:
        """What the preview tells the user about the conversion, in plain words."""
        out = []
        renamed = {k: v for k, v in self.feature_map.items() if k != v}
        if renamed:
            out.append("features renamed for lerobot: " + ", ".join(f"{k} → {v}" for k, v in renamed.items()))
        if not self.cameras:
            out.append("no cameras: the policy sees joint states only")
        if self.state_as_env:
            out.append("no camera and no environment state: the robot state is also fed as "
                       "observation.environment_state (ACT/Diffusion need one of the two)")
        if self.episodes is not None:
            out.append(f"{len(self.episodes)} episodes ({_ranges(self.episodes)}), renumbered from 0")
        if self.image_size:
            out.append(f"frames resized to {self.image_size} px on the shorter side")
        if self.work_dir:
            out.append(f"converted once into {self.work_dir} (the source is not modified)")
        return out


def _ranges(eps: list[int]) -> str:
    parts, start, prev = [], None, None
    for e in eps:
        if start is None:
            start = prev = e
        elif e == prev + 1:
            prev = e
        else:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = e
    if start is not None:
        parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


def parse_cameras(text: str | list[str] | None, cameras: list[str], dataset_name: str,
                  targets: dict[str, str] | None = None) -> list[str]:
    """`all` (default) | `none` | KEY[,KEY] (full key, lerobot key or last name part) → source keys."""
    if text is None:
        return list(cameras)
    items = [str(x).strip() for x in (text if isinstance(text, (list, tuple)) else str(text).split(","))]
    items = [x for x in items if x]
    if not items or items == ["all"]:
        return list(cameras) if items else []
    if items == ["none"]:
        return []
    chosen: list[str] = []
    for item in items:
        match = [k for k in cameras if item in (k, featuremap.camera_target(k), k.rsplit(".", 1)[-1],
                                                 (targets or {}).get(k))]
        if not match:
            have = ", ".join(cameras) or "none"
            raise JobError("--cameras", f"'{item}' is not a camera of {dataset_name} (cameras: {have}; "
                                        "or all, none)")
        chosen += [k for k in match if k not in chosen]
    return chosen


def parse_episodes(text: str | list[int] | None, valid: list[int], dataset_name: str) -> list[int] | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, str):
        from studio.curation.selections import parse_episode_ranges

        eps = parse_episode_ranges(text, "--episodes")
    else:
        eps = [int(e) for e in text]
    eps = sorted(set(eps))
    if not eps:
        raise JobError("--episodes", f"'{text}' selects no episodes")
    bad = sorted(set(eps) - set(valid))
    if bad:
        raise JobError("--episodes", f"episode {bad[0]} is not in {dataset_name} "
                                     f"(it has episodes {_ranges(sorted(valid))})")
    return eps


def plan(project, dataset, *, feature_map: str | dict | None = None, cameras: str | list | None = None,
         episodes: str | list | None = None, image_size: int | None = None) -> TrainInputs:
    """Check the choice of inputs against `dataset` (an opened Dataset) and decide the work folder."""
    try:  # a map problem is a job-spec problem
        mapping = featuremap.resolve(dataset, featuremap.parse(feature_map), featuremap.saved(project, dataset))
    except StudioError as exc:
        raise JobError(exc.where, exc.what) from None
    if image_size is not None and (not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE):
        raise JobError("--image-size", f"must be {MIN_IMAGE_SIZE} pixels or more (got {image_size!r})")
    all_cams = [k for k in mapping if mapping[k].startswith("observation.image")]
    chosen = parse_cameras(cameras, all_cams, dataset.name, mapping)
    stored = [k for k in chosen if dataset.features[k].get("dtype") == "image"]
    if stored:
        raise JobError("--cameras", f"'{stored[0]}' stores images inside the data files, which training "
                                    "inputs cannot convert yet; choose video cameras or --cameras none")
    mapping = {k: v for k, v in mapping.items() if not v.startswith("observation.image") or k in chosen}
    valid = [int(e) for e in dataset.episode_column("episode_index").tolist()]
    eps = parse_episodes(episodes, valid, dataset.name)
    wanted = set(eps) if eps is not None else set(valid)

    present = dataset.video_present()
    counts = {k: [int(v.sum()), int((~v).sum())] for k, v in present.items()}
    for key in chosen:
        missing = [e for e, ok in zip(valid, present[key].tolist()) if not ok and e in wanted]
        if missing:
            scope = ("any episode" if len(missing) == len(wanted)
                     else f"episode{'s' if len(missing) > 1 else ''} {_ranges(missing)}")
            raise JobError(
                "--cameras",
                f"camera '{key}' has no video for {scope}; train without it (--cameras none, or name the "
                "cameras to keep) or choose episodes that have it (--episodes)",
            )
    lengths = dataset.episode_column("length").tolist()
    frames = int(sum(n for e, n in zip(valid, lengths) if e in wanted))
    targets = set(mapping.values())
    state_as_env = (not chosen and featuremap.ENV_STATE not in targets and featuremap.STATE in targets)
    image_size = image_size if chosen else None
    direct = (dataset.version == "v3.0" and featuremap.is_identity(mapping, dataset) and eps is None
              and not image_size and not state_as_env)
    work_dir = None
    if not direct:
        if project is None:
            raise JobError("dataset", "converting training inputs needs a project home")
        key = hashlib.sha256(json.dumps(
            {"f": FORMAT, "fp": dataset.fingerprint, "map": mapping, "eps": eps, "size": image_size,
             "env": state_as_env}, sort_keys=True).encode()).hexdigest()[:16]
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset.name).strip("_.") or "dataset"
        work_dir = str(Path(project.home) / "cache" / "train-inputs" / f"{slug}-{key}")
    return TrainInputs(
        source=str(dataset.root), fingerprint=dataset.fingerprint, feature_map=mapping, cameras=chosen,
        episodes=eps, image_size=image_size, state_as_env=state_as_env, work_dir=work_dir, frames=frames,
        camera_counts=counts,
    )


def effective_features(dataset, inputs: TrainInputs) -> dict[str, dict]:
    """The features lerobot will see: {lerobot key: feature}."""
    out = {dst: dataset.features[src] for src, dst in inputs.feature_map.items()}
    if inputs.state_as_env and featuremap.STATE in out:
        out[featuremap.ENV_STATE] = out[featuremap.STATE]
    return out


def materialize(inputs: dict[str, Any], progress=None) -> Path:
    """Write (or reuse) the work folder of a job's inputs (`TrainInputs.to_dict()`)."""
    from studio.curation.export import export_episodes
    from studio.datasets import open_dataset

    target = Path(inputs["work_dir"])
    if (target / "provenance.json").is_file():
        return target
    ds = open_dataset(inputs["source"])
    if inputs.get("fingerprint") and ds.fingerprint != inputs["fingerprint"]:
        raise JobError(inputs["source"], "changed since the job was queued (its data files differ); "
                                         "queue the job again")
    eps = inputs.get("episodes")
    if eps is None:
        eps = [int(e) for e in ds.episode_column("episode_index").tolist()]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        return export_episodes(ds, eps, target, videos="cut", progress=progress,
                               feature_map=dict(inputs["feature_map"]), image_size=inputs.get("image_size"),
                               state_as_env=bool(inputs.get("state_as_env")),
                               extra_provenance={"purpose": "training inputs"})
    except (StudioError, OSError) as exc:
        if (target / "provenance.json").is_file():
            return target  # another job wrote the same folder first
        if isinstance(exc, StudioError):
            raise
        raise JobError(str(target), f"could not write the training inputs ({exc})") from None


def form_defaults(project, source: str) -> dict[str, Any]:
    """What the Train panel shows for a dataset or selection before Fine-tune: the map to
    confirm (saved, else proposed), cameras with present/missing video counts, and the
    cameras to tick (those with a video for every episode)."""
    from studio.datasets import open_dataset
    from studio.jobs.spec import resolve_dataset

    path, _ = resolve_dataset(project, source)
    ds = open_dataset(path)
    try:
        mapping = featuremap.resolve(ds, saved=featuremap.saved(project, ds))
    except StudioError:
        mapping = featuremap.propose(ds)
    present = ds.video_present()
    cams = [k for k in mapping if mapping[k].startswith("observation.image")]
    counts = {k: (int(present[k].sum()), int((~present[k]).sum())) if k in present else (0, 0) for k in cams}
    return {
        "feature_map": featuremap.format_map(mapping),
        "cameras": [(f"{k} ({p} present, {m} missing)", k) for k, (p, m) in counts.items()],
        "cameras_checked": [k for k, (p, m) in counts.items() if m == 0 and k in present],
        "version": ds.version,
        "episodes": ds.total_episodes,
    }
