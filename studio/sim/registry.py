"""The environment registry: every simulated task the studio can record or roll out in.

Environments come from plugins through the `studio_environments` hook (the built-in
`pick_cube` is registered by `plugins/core_envs.py`, exactly as a third party would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from studio.errors import StudioError


@dataclass(frozen=True)
class EnvSpec:
    """A simulated task.

    `factory(cameras=bool)` builds an env object with `reset(seed) -> obs`,
    `step(action) -> (obs, StepInfo)`, `body_poses()`, `body_names`, `render()`, `close()`;
    `features(cameras, outcomes=)` is its LeRobot feature spec.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    features: Callable[..., dict]
    fps: int
    max_steps: int
    task: str
    robot_type: str = "unknown"
    version: int = 1
    extra: dict = field(default_factory=dict)

    def make(self, cameras: bool = False):
        return self.factory(cameras=cameras)


def environments() -> dict[str, EnvSpec]:
    """All registered environments by name (plugins are asked on every call; cheap)."""
    from studio.plugins import host

    found: dict[str, EnvSpec] = {}
    for spec in host().call("studio_environments"):
        if isinstance(spec, EnvSpec) and spec.name not in found:
            found[spec.name] = spec
    return found


def get_env(name: str) -> EnvSpec:
    envs = environments()
    if name not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise StudioError("--env", f"unknown environment '{name}' (registered: {known})")
    return envs[name]
