"""Feature maps: which feature of a dataset plays which role for lerobot.

lerobot's policies read fixed keys: `action`, `observation.state`,
`observation.environment_state` and `observation.images.<camera>`. Real recordings name
them otherwise (`actions`, `state`, `image`, `cam_high`…). A feature map is
`{dataset key: lerobot key}`; the studio proposes one from names, dtypes and shapes,
the user may override any entry (`actions=action,state=observation.state`), and the map
they confirm is saved per dataset in the project. Features left out of a map are not
given to training.
"""

from __future__ import annotations

import json
import re
from typing import Any

from studio.errors import StudioError

ACTION = "action"
STATE = "observation.state"
ENV_STATE = "observation.environment_state"
IMAGES = "observation.images."
TARGETS = (ACTION, STATE, ENV_STATE)
DROP = ("-", "none", "drop")
ENV_KEYS = ("observation.environment_state", "environment_state", "env_state", "observation.env_state",
            "object_state", "observation.object_state")
SETTING = "featuremap:"
_CAMERA_NAME = re.compile(r"[^A-Za-z0-9_\-]+")


def _is_camera(ft: dict) -> bool:
    return isinstance(ft, dict) and ft.get("dtype") in ("video", "image")


def camera_target(key: str) -> str:
    """The lerobot key a camera feature gets: `observation.images.<name>` (kept if already so)."""
    if key.startswith("observation.image"):
        return key
    name = key.rsplit(".", 1)[-1] if key.startswith("observation.") else key
    return IMAGES + (_CAMERA_NAME.sub("_", name).strip("_") or "camera")


def is_target(name: str) -> bool:
    return name in TARGETS or (name.startswith(IMAGES) and len(name) > len(IMAGES)) or name == "observation.image"


def propose(dataset) -> dict[str, str]:
    """A map for `dataset` from its keys, dtypes and shapes (cameras: every declared one)."""
    feats = dataset.features
    out: dict[str, str] = {}
    action = dataset.action_key
    if action is None:  # any float vector whose key speaks of actions
        action = next((k for k in dataset.vector_features() if "action" in k.lower()), None)
    if action is not None:
        out[action] = ACTION
    state = dataset.state_key
    if state is None:
        state = next((k for k in dataset.vector_features()
                      if "state" in k.lower() and k not in ENV_KEYS and k != action), None)
    if state is not None:
        out[state] = STATE
    env = next((k for k in ENV_KEYS if k in feats and k not in out), None)
    if env is not None:
        out[env] = ENV_STATE
    for key, ft in feats.items():
        if _is_camera(ft):
            out[key] = camera_target(key)
    return out


def parse(text: str | dict | None, where: str = "--map") -> dict[str, str]:
    """`actions=action,state=observation.state` (or a dict) → {source: target}; `key=-` drops a key."""
    if not text:
        return {}
    if isinstance(text, dict):
        pairs = list(text.items())
    else:
        pairs = []
        for part in str(text).replace("\n", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise StudioError(where, f"'{part}' is not KEY=TARGET (e.g. actions=action)")
            a, b = part.split("=", 1)
            pairs.append((a.strip(), b.strip()))
    out: dict[str, str] = {}
    for src, dst in pairs:
        src, dst = str(src).strip(), str(dst).strip()
        if not src or not dst:
            raise StudioError(where, f"'{src}={dst}' needs a dataset key and a target")
        if dst.lower() in DROP:
            dst = "-"
        elif not is_target(dst):
            raise StudioError(where, f"'{dst}' is not a lerobot feature (use action, observation.state, "
                                     "observation.environment_state, observation.images.NAME or - to drop)")
        out[src] = dst
    return out


def resolve(dataset, overrides: dict[str, str] | None = None, saved: dict[str, str] | None = None,
            where: str = "--map") -> dict[str, str]:
    """The map to use: the proposal, then the saved map, then `overrides` (checked against
    the dataset). Returns {source: target} without dropped keys."""
    feats = dataset.features
    result = propose(dataset)
    for layer in (saved or {}, overrides or {}):
        for src, dst in layer.items():
            if src not in feats:
                if layer is saved:
                    continue  # a saved map outlives a renamed feature; ignore what no longer exists
                raise StudioError(where, f"'{src}' is not a feature of {dataset.name} "
                                         f"(features: {', '.join(k for k in feats if k not in _FRAME)})")
            if dst == "-":
                result.pop(src, None)
                continue
            if _is_camera(feats[src]) != dst.startswith("observation.image"):
                kind = "a camera" if _is_camera(feats[src]) else "not a camera"
                raise StudioError(where, f"'{src}' is {kind} and cannot become '{dst}'")
            for other in [k for k, v in result.items() if v == dst and k != src]:
                result.pop(other)  # the user's choice replaces the proposal for that target
            result[src] = dst
    if ACTION not in result.values():
        raise StudioError(where, f"{dataset.name} has no action feature the studio recognises; "
                                 "name it with KEY=action")
    return result


_FRAME = ("timestamp", "frame_index", "episode_index", "index", "task_index")


def is_identity(mapping: dict[str, str], dataset) -> bool:
    """True when lerobot, reading the dataset as it is, would see exactly the map: every
    feature it reads (cameras, `observation*`, `action*`) is mapped to itself."""
    seen = {k for k, ft in dataset.features.items()
            if k not in _FRAME and (_is_camera(ft) or k.startswith(("observation", "action")))}
    return set(mapping) == seen and all(k == v for k, v in mapping.items())


def format_map(mapping: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in mapping.items())


# -- saved per dataset in the project -----------------------------------------------

def _key(dataset) -> str:
    return SETTING + (dataset.repo_id or str(dataset.root))


def saved(project, dataset) -> dict[str, str]:
    """The map confirmed for this dataset in the project ({} when none)."""
    if project is None:
        return {}
    raw = project.get_setting(_key(dataset))
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save(project, dataset, mapping: dict[str, str]) -> None:
    project.set_setting(_key(dataset), json.dumps(mapping))


def for_dataset(project, dataset) -> dict[str, Any]:
    """What Datasets, Curate and metrics ask: {role: key} of the confirmed (else proposed) map."""
    try:
        m = resolve(dataset, saved=saved(project, dataset))
    except StudioError:
        m = propose(dataset)
    return {v: k for k, v in m.items()}
