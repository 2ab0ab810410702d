"""Policies that act in a simulated env: scripted operators and lerobot checkpoints.

A policy spec is `scripted:<profile>` or a checkpoint directory as `lerobot-train` writes it
(`.../pretrained_model/`, its parent step directory, or the training output directory,
whose `checkpoints/last` is used). Checkpoints load with lerobot's own policy classes on CPU
and normalise through the checkpoint's saved pre/post-processors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.errors import StudioError

SCRIPTED = "scripted:"


@dataclass(frozen=True)
class PolicyRef:
    """A validated policy spec (cheap: nothing heavy is loaded)."""

    spec: str  # normalised: "scripted:<profile>" or the absolute pretrained_model path
    kind: str  # "scripted" | "lerobot"
    label: str  # what summary.json records
    needs_cameras: bool = False
    policy_type: str | None = None
    input_shapes: tuple = ()  # ((feature, shape), ...) the checkpoint reads
    output_shapes: tuple = ()  # ((feature, shape), ...) the checkpoint writes

    def check_fits(self, env_name: str, env_features: dict) -> None:
        """Refuse a checkpoint whose inputs/outputs the env cannot provide/accept."""
        for key, shape in self.input_shapes + self.output_shapes:
            ft = env_features.get(key)
            if ft is None:
                raise StudioError(self.label, f"the checkpoint uses '{key}', which {env_name} does not provide")
            want = tuple(ft["shape"])
            if ft["dtype"] in ("video", "image"):
                want = (want[2], want[0], want[1])  # lerobot policies see images channel-first
            if tuple(shape) != want:
                raise StudioError(
                    self.label, f"the checkpoint expects '{key}' of shape {list(shape)}; {env_name} has {list(want)}"
                )


def resolve_policy(spec: str) -> PolicyRef:
    """Validate a policy spec at the boundary; raise StudioError with one sentence if bad."""
    spec = str(spec).strip()
    if spec.startswith(SCRIPTED):
        from studio.sim.operators import profile

        name = spec[len(SCRIPTED):]
        profile(name)
        return PolicyRef(spec=f"{SCRIPTED}{name}", kind="scripted", label=f"{SCRIPTED}{name}")
    path = Path(spec).expanduser()
    if not path.exists():
        raise StudioError(spec, "is neither scripted:<profile> nor an existing checkpoint directory")
    model_dir = _pretrained_dir(path)
    if model_dir is None:
        raise StudioError(
            spec,
            "no lerobot checkpoint found (expected pretrained_model/config.json and model.safetensors)",
        )
    try:
        cfg = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise StudioError(str(model_dir / "config.json"), f"is unreadable ({exc})") from None
    inputs = cfg.get("input_features") or {}
    outputs = cfg.get("output_features") or {}
    needs_cameras = any(k.startswith("observation.image") for k in inputs)
    shapes = lambda feats: tuple((k, tuple(v.get("shape") or ())) for k, v in feats.items())  # noqa: E731
    return PolicyRef(
        spec=str(model_dir.resolve()),
        kind="lerobot",
        label=str(model_dir.resolve()),
        needs_cameras=needs_cameras,
        policy_type=cfg.get("type"),
        input_shapes=shapes(inputs),
        output_shapes=shapes(outputs),
    )


def _pretrained_dir(path: Path) -> Path | None:
    for cand in (path, path / "pretrained_model", path / "checkpoints" / "last" / "pretrained_model"):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").is_file():
            return cand
    return None


class ScriptedActor:
    def __init__(self, profile_name: str):
        from studio.sim.operators import profile

        self.profile = profile(profile_name)
        self.meta = {"operator": self.profile.name, "skill": self.profile.skill}
        self._op = None

    def reset(self, seed: int) -> None:
        from studio.sim.operators import ScriptedOperator

        self._op = ScriptedOperator(self.profile, seed)

    def act(self, env, obs):
        return self._op.act(env)


class LeRobotActor:
    """A lerobot policy on CPU: observations batched as lerobot_eval does, then the
    checkpoint's preprocessor → select_action → postprocessor."""

    def __init__(self, model_dir: str, task: str = ""):
        import torch
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        torch.set_num_threads(1)
        self.torch = torch
        cfg = PreTrainedConfig.from_pretrained(model_dir)
        cfg.device = "cpu"
        self.policy = get_policy_class(cfg.type).from_pretrained(model_dir, config=cfg)
        self.policy.eval()
        self.pre, self.post = make_pre_post_processors(
            cfg, pretrained_path=model_dir, preprocessor_overrides={"device_processor": {"device": "cpu"}}
        )
        self.inputs = set(cfg.input_features or {})
        self.task = task
        self.meta = {"policy_type": cfg.type}

    def reset(self, seed: int) -> None:
        self.policy.reset()
        torch = self.torch
        torch.manual_seed(int(seed))

    def act(self, env, obs):
        torch = self.torch
        batch = {
            "observation.state": torch.from_numpy(np.asarray(obs["agent_pos"], dtype=np.float32)).unsqueeze(0),
            "observation.environment_state": torch.from_numpy(
                np.asarray(obs["environment_state"], dtype=np.float32)
            ).unsqueeze(0),
        }
        if any(k.startswith("observation.images.") for k in self.inputs):
            for cam, img in env.render().items():
                t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)
                batch[f"observation.images.{cam}"] = t.unsqueeze(0)
        batch = {k: v for k, v in batch.items() if k in self.inputs}
        batch["task"] = [self.task]
        with torch.inference_mode():
            batch = self.pre(batch)
            action = self.policy.select_action(batch)
            action = self.post(action)
        return action.detach().cpu().numpy().reshape(-1).astype(np.float32)


def make_actor(spec: str):
    ref = resolve_policy(spec)
    if ref.kind == "scripted":
        return ScriptedActor(ref.spec[len(SCRIPTED):])
    from studio.sim.pick_cube import TASK

    return LeRobotActor(ref.spec, task=TASK)
