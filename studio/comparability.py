"""Can two rollout sets be compared? What each set records about itself (robot type, env,
task strings, action space) read from its own files, and the refusal or warnings a
comparison must carry.

Refused (the policies act on different bodies): different robot types, different action
spaces (shape). Warned: different simulated environments or versions of one, one set
simulated and the other on a real robot, different task strings, same shape but different
action names. Unknown facts (a set without meta/) never refuse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


@dataclass(frozen=True)
class SetIdentity:
    """What a rollout set says about where it ran; '' / () / None when it does not say."""

    name: str
    robot: str = ""
    env: str = ""  # the simulated environment; '' for a real robot or unknown
    env_version: str = ""
    simulated: bool | None = None  # None: unknown
    tasks: tuple[str, ...] = ()
    action_shape: tuple[int, ...] | None = None
    action_names: tuple[str, ...] | None = None

    @property
    def where(self) -> str:
        if self.simulated:
            return f"simulation ({self.env})" if self.env else "simulation"
        return f"a real {self.robot}" if self.robot else "a real robot"


@dataclass(frozen=True)
class Compatibility:
    refusal: str | None  # one sentence, or None when the sets may be compared
    warnings: tuple[str, ...] = ()


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _tasks(root: Path) -> tuple[str, ...]:
    meta = root / "meta"
    found: list[str] = []
    if (meta / "tasks.parquet").is_file():  # v3.0: the task string is the (pandas) index
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(meta / "tasks.parquet")
            col = "task" if "task" in table.column_names else next(
                (c for c in table.column_names if c != "task_index"), None)
            if col is not None:
                found = [str(t) for t in table.column(col).to_pylist() if t is not None]
        except Exception:  # noqa: BLE001 - an unreadable tasks file says nothing about the task
            found = []
    elif (meta / "tasks.jsonl").is_file():  # v2.1
        try:
            for line in (meta / "tasks.jsonl").read_text().splitlines():
                if line.strip():
                    t = json.loads(line).get("task")
                    if t:
                        found.append(str(t))
        except (OSError, ValueError, AttributeError):
            found = []
    return tuple(sorted(set(found)))


def identity(root: Path | None, *, name: str = "", env: str = "", summary: dict | None = None) -> SetIdentity:
    """Read a rollout set's identity from its folder: summary.json, sim/env.json, meta/."""
    if root is None:
        return SetIdentity(name=name, env=env, simulated=bool(env) or None)
    root = Path(root)
    summary = summary if summary is not None else _json(root / "summary.json")
    sim = _json(root / "sim" / "env.json")
    info = _json(root / "meta" / "info.json")
    # a caller's `env` counts only for a bare summary-less folder (compare labels real sets by robot)
    env = str(summary.get("env") or sim.get("env") or sim.get("name") or ("" if info else env) or "")
    version = str(summary.get("env_version") or sim.get("version") or "")
    has_meta = bool(info)
    simulated = True if env else (False if has_meta else None)
    action = (info.get("features") or {}).get("action") or {}
    shape = tuple(int(x) for x in action.get("shape") or ()) or None
    names = action.get("names")
    if isinstance(names, dict):  # v2.x style {"motors": [...]}
        names = next(iter(names.values()), None)
    if isinstance(names, list) and names and isinstance(names[0], list):  # nested [[...]] (Unitree G1)
        names = names[0]
    names = tuple(str(n) for n in names) if isinstance(names, (list, tuple)) and names else None
    robot = str(info.get("robot_type") or "")
    if robot == "unknown":
        robot = ""
    return SetIdentity(name=name or root.name, robot=robot, env=env, env_version=version, simulated=simulated,
                       tasks=_tasks(root) if has_meta else (), action_shape=shape, action_names=names)


def _quote(tasks: tuple[str, ...]) -> str:
    shown = ", ".join(f"'{t}'" for t in tasks[:2])
    return shown + (f" and {len(tasks) - 2} more" if len(tasks) > 2 else "")


def check_pair(a: SetIdentity, b: SetIdentity) -> Compatibility:
    """Refusal or warnings for comparing challenger `b` against baseline `a`."""
    pair = f"'{a.name}' and '{b.name}'"
    if a.robot and b.robot and a.robot != b.robot:
        return Compatibility(f"{pair} ran on different robots ({a.robot} vs {b.robot}); "
                             "their success rates measure different things, so they are not compared")
    if a.action_shape and b.action_shape and a.action_shape != b.action_shape:
        return Compatibility(f"{pair} have different action spaces ({list(a.action_shape)} vs "
                             f"{list(b.action_shape)} values per step), so they are not compared")
    warnings = []
    if a.env and b.env and a.env != b.env:
        warnings.append(f"{pair} ran in different environments ({a.env} vs {b.env}); "
                        "a difference may come from the environment, not the checkpoint")
    elif a.simulated is not None and b.simulated is not None and a.simulated != b.simulated:
        warnings.append(f"{pair} were not run in the same world: A in {a.where}, B in {b.where}; "
                        "a difference may come from the world, not the checkpoint")
    elif a.env and a.env == b.env and a.env_version and b.env_version and a.env_version != b.env_version:
        warnings.append(f"{pair} ran in different versions of {a.env} ({a.env_version} vs {b.env_version})")
    if a.tasks and b.tasks and set(a.tasks) != set(b.tasks):
        warnings.append(f"{pair} were recorded on different tasks ({_quote(a.tasks)} vs {_quote(b.tasks)})")
    if (a.action_names and b.action_names and a.action_names != b.action_names
            and (not a.action_shape or a.action_shape == b.action_shape)):
        warnings.append(f"{pair} name their actions differently ({', '.join(a.action_names[:3])}… vs "
                        f"{', '.join(b.action_names[:3])}…); check they drive the same joints")
    return Compatibility(None, tuple(warnings))


def check(identities: Sequence[SetIdentity]) -> Compatibility:
    """Every challenger against the baseline (the first): the first refusal, all warnings."""
    warnings: list[str] = []
    for b in identities[1:]:
        c = check_pair(identities[0], b)
        if c.refusal:
            return c
        warnings += [w for w in c.warnings if w not in warnings]
    return Compatibility(None, tuple(warnings))
