"""What to train: the job spec, the policy presets, validation at submit, and the lerobot
command line that a spec becomes.

Validation happens here, before anything is queued: a spec that would fail minutes later
inside lerobot (missing features, no GPU for a VLA, no weights offline) is refused in one
sentence.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.errors import DatasetError, JobError, StudioError

STATE = "observation.state"
ENV_STATE = "observation.environment_state"
ACTION = "action"


@dataclass(frozen=True)
class PolicyPreset:
    """How the studio configures one lerobot policy type."""

    key: str
    label: str
    type: str
    cpu_ok: bool
    # small architecture that makes a useful CPU run in minutes (only for fresh models)
    overrides: dict[str, Any] = field(default_factory=dict)
    lr: float | None = None
    base_weights: str | None = None  # Hub repo of the pretrained base a fine-tune starts from
    base_via: str = "path"  # "path": --policy.path=<repo>; or a policy field naming the base repo
    needs_images: bool = False
    needs_state: bool = False


POLICIES: dict[str, PolicyPreset] = {
    "act": PolicyPreset(
        "act", "ACT", "act", cpu_ok=True, lr=1e-3,
        overrides={
            "dim_model": 64, "n_heads": 2, "dim_feedforward": 256, "chunk_size": 10,
            "n_action_steps": 10, "n_encoder_layers": 1, "n_decoder_layers": 1, "use_vae": False,
            # lerobot's default mapping has no "ENV": the cube position would reach the
            # policy raw (std ~0.05 next to unit-scaled state) and be ignored in closed loop
            "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MEAN_STD", "ENV": "MEAN_STD",
                                      "ACTION": "MEAN_STD"},
        },
    ),
    "diffusion": PolicyPreset(
        "diffusion", "Diffusion Policy", "diffusion", cpu_ok=True, lr=1e-3, needs_state=True,
        overrides={
            "n_obs_steps": 2, "horizon": 8, "n_action_steps": 4, "drop_n_last_frames": 3,
            "down_dims": [32, 64], "diffusion_step_embed_dim": 32, "num_train_timesteps": 50,
            "scheduler_warmup_steps": 10,
            "normalization_mapping": {"VISUAL": "MEAN_STD", "STATE": "MIN_MAX", "ENV": "MIN_MAX",
                                      "ACTION": "MIN_MAX"},
        },
    ),
    "smolvla": PolicyPreset("smolvla", "SmolVLA", "smolvla", cpu_ok=False, base_weights="lerobot/smolvla_base",
                            needs_images=True),
    "pi0": PolicyPreset("pi0", "π0", "pi0", cpu_ok=False, base_weights="lerobot/pi0_base", needs_images=True),
    "pi05": PolicyPreset("pi05", "π0.5", "pi05", cpu_ok=False, base_weights="lerobot/pi05_base", needs_images=True),
    "groot": PolicyPreset("groot", "GR00T N1.5", "groot", cpu_ok=False, base_weights="nvidia/GR00T-N1.5-3B",
                          base_via="base_model_path", needs_images=True),
}


@dataclass(frozen=True)
class JobSpec:
    """A validated training request. `dataset` is a resolved local LeRobot v3.0 folder."""

    dataset: str
    policy: str = "act"
    steps: int = 2000
    batch_size: int = 8
    lr: float | None = None
    device: str = "cpu"
    seed: int = 1000
    save_freq: int | None = None
    num_workers: int = 0
    init_from: str | None = None  # a checkpoint (pretrained_model folder) or "job:<id>" (pipeline)
    source: str | None = None  # what the user named: a dataset path or a selection name
    selection: str | None = None
    dataset_fingerprint: str | None = None
    policy_overrides: dict[str, Any] = field(default_factory=dict)
    train_root: str | None = None  # the converted work folder lerobot reads (None: `dataset` as is)
    inputs: dict[str, Any] = field(default_factory=dict)  # studio.jobs.inputs.TrainInputs (map, cameras…)
    push_to_hub: str | None = None  # Hub repo id the trained policy is pushed to
    resume_from: str | None = None  # a checkpoint step folder of a lerobot-train run to continue

    @property
    def effective_save_freq(self) -> int:
        return int(self.save_freq) if self.save_freq else max(1, self.steps // 4)

    @property
    def preset(self) -> PolicyPreset:
        return POLICIES[self.policy]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "JobSpec":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def with_(self, **kw: Any) -> "JobSpec":
        return replace(self, **kw)


# -- dataset resolution ---------------------------------------------------------------

def resolve_dataset(project, source: str) -> tuple[Path, str | None]:
    """A dataset path, a repo id (lerobot home or Hub cache), or a saved selection's name →
    (local dataset folder, selection name)."""
    if not source or not str(source).strip():
        raise JobError("dataset", "name a dataset folder or a saved selection")
    source = str(source).strip()
    for cand in (Path(source).expanduser(), project.datasets_dir / source if project else None):
        if cand is not None and cand.is_dir():
            return cand.resolve(), None
    from studio.datasets import _REPO_ID, resolve_root

    if _REPO_ID.match(source):
        return resolve_root(source)[0], None
    if project is not None:
        from studio.curation import export as _export

        try:
            path = _export.ensure_export(project, source)
        except DatasetError:
            raise
        except StudioError as exc:  # a missing selection is a user error
            raise JobError("dataset", f"'{source}' is not a dataset folder and {exc.sentence()}") from None
        return Path(path).resolve(), source
    raise JobError("dataset", f"'{source}' is neither a dataset folder nor a saved selection")


@dataclass(frozen=True)
class DatasetFacts:
    features: dict[str, Any]
    episodes: int
    frames: int
    version: str
    fingerprint: str | None


def dataset_facts(path: Path) -> DatasetFacts:
    """What training needs to know of a dataset."""
    from studio.datasets import open_dataset

    ds = open_dataset(path)
    info = dict(ds.info)
    return DatasetFacts(dict(ds.features), int(info.get("total_episodes") or len(ds.episodes)),
                        int(info.get("total_frames") or 0), str(ds.version), ds.fingerprint)


# -- environment probes ---------------------------------------------------------------

def cuda_available() -> bool:
    if not (shutil.which("nvidia-smi") or Path("/proc/driver/nvidia").exists()):
        return False
    import torch

    return bool(torch.cuda.is_available())


def is_offline(project=None) -> bool:
    """Offline unless the Hub answers (setting `hub.offline` or HF_HUB_OFFLINE decide first)."""
    if project is not None:
        val = project.get_setting("hub.offline")
        if val is not None:
            return val.lower() in ("1", "true", "yes")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return True
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=1.5):
            return False
    except OSError:
        return True


def _hub_cached(repo: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo, "config.json")
        return isinstance(hit, str)
    except Exception:  # noqa: BLE001 - a broken cache means "not cached"
        return False


def normalize_checkpoint(path: str | os.PathLike) -> Path:
    """A checkpoint given as `<step>/`, `<step>/pretrained_model/` or a job output → pretrained_model dir."""
    p = Path(path).expanduser()
    for cand in (p, p / "pretrained_model", p / "checkpoints" / "last" / "pretrained_model"):
        if (cand / "config.json").is_file() and (cand / "model.safetensors").exists():
            return cand.resolve()
    raise JobError(str(path), "is not a lerobot checkpoint (no pretrained_model/config.json with model.safetensors)")


def checkpoint_policy_type(pretrained_dir: Path) -> str | None:
    try:
        return json.loads((pretrained_dir / "config.json").read_text()).get("type")
    except (OSError, ValueError):
        return None


# -- validation -----------------------------------------------------------------------

def validate(project, *, dataset: str, policy: str = "act", steps: int = 2000, batch_size: int = 8,
             lr: float | None = None, device: str = "cpu", seed: int = 1000, save_freq: int | None = None,
             init_from: str | None = None, num_workers: int = 0,
             policy_overrides: dict[str, Any] | None = None, check_dataset: bool = True,
             feature_map: str | dict | None = None, cameras: str | list | None = None,
             episodes: str | list | None = None, image_size: int | None = None,
             push_to_hub: str | None = None, resume: bool = False) -> JobSpec:
    """Check a training request end to end and return the spec to queue (raises JobError).

    feature_map / cameras / episodes / image_size choose the training inputs
    (`studio.jobs.inputs.plan`); a dataset that is not already what lerobot wants is
    converted into a cached work folder when the job starts."""
    policy = (policy or "").strip().lower().replace("π", "pi").replace(".", "")
    if policy not in POLICIES:
        raise JobError("--policy", f"'{policy}' is not a known policy (choose one of {', '.join(POLICIES)})")
    preset = POLICIES[policy]
    for name, value in (("--steps", steps), ("--batch-size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise JobError(name, f"must be a positive whole number (got {value!r})")
    if save_freq is not None and (int(save_freq) <= 0):
        raise JobError("--save-freq", f"must be a positive whole number (got {save_freq!r})")
    if lr is not None and not (float(lr) > 0 and float(lr) < 1):
        raise JobError("--lr", f"must be between 0 and 1 (got {lr!r})")
    if int(num_workers) < 0:
        raise JobError("--num-workers", "must be 0 or more")
    device = (device or "cpu").strip().lower()
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise JobError("--device", f"'{device}' is not a device (cpu, cuda, cuda:N, mps)")

    # VLAs: refuse now, in one sentence, what would fail later
    if not preset.cpu_ok:
        if not device.startswith("cuda") or not cuda_available():
            raise JobError(
                "--policy",
                f"{preset.label} needs a CUDA GPU to fine-tune and this machine has none; "
                "choose ACT or Diffusion to train on CPU",
            )
    elif device.startswith("cuda") and not cuda_available():
        raise JobError("--device", "CUDA was requested but no CUDA GPU is available here; use --device cpu")

    init_path: str | None = None
    resume_from: str | None = None
    if resume:
        if not init_from or str(init_from).startswith("job:"):
            raise JobError("--resume", "needs --from with a lerobot-train output folder to continue")
        step_dir, done = external_run_checkpoint(init_from)
        if int(steps) <= done:
            raise JobError("--steps", f"is the run's total; it has done {done} steps already, so ask for more")
        ctype = checkpoint_policy_type(step_dir / "pretrained_model")
        if ctype and ctype != preset.type:
            raise JobError("--from", f"{step_dir} is a '{ctype}' run but the job trains '{preset.type}'")
        resume_from, init_from = str(step_dir), None
    if init_from:
        if str(init_from).startswith("job:"):
            init_path = str(init_from)
        else:
            ckpt = normalize_checkpoint(init_from)
            ctype = checkpoint_policy_type(ckpt)
            if ctype and ctype != preset.type:
                raise JobError("--from", f"{ckpt} is a '{ctype}' checkpoint but the job trains '{preset.type}'")
            init_path = str(ckpt)
    elif preset.base_weights:
        offline = is_offline(project)
        if offline and not _hub_cached(preset.base_weights):
            raise JobError(
                "--policy",
                f"{preset.label} fine-tunes from pretrained weights ({preset.base_weights}) that are not on this "
                "machine and the Hub is unreachable; pass --from with a local checkpoint",
            )

    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16):
        raise JobError("--image-size", f"must be a whole number of 16 pixels or more (got {image_size!r})")
    if push_to_hub is not None:
        from studio.datasets import _REPO_ID

        push_to_hub = str(push_to_hub).strip()
        if not _REPO_ID.match(push_to_hub):
            raise JobError("--push-to-hub", f"'{push_to_hub}' is not a Hub repo id (owner/name)")
        if is_offline(project):
            raise JobError("--push-to-hub", "the Hugging Face Hub cannot be reached (offline), so the trained "
                                            "policy cannot be pushed; train without it and push the checkpoint later")

    overrides = dict(policy_overrides or {})
    path, selection = resolve_dataset(project, dataset)
    facts = None
    inputs = None
    if check_dataset:
        from studio.datasets import open_dataset
        from studio.jobs.inputs import effective_features, plan

        ds = open_dataset(path)
        if selection is not None and episodes is not None and str(episodes).strip():
            episodes = _selection_episodes(path, episodes, selection)
        inputs = plan(project, ds, feature_map=feature_map, cameras=cameras, episodes=episodes,
                      image_size=image_size)
        feats = effective_features(ds, inputs)
        facts = DatasetFacts(feats, len(inputs.episodes) if inputs.episodes is not None else ds.total_episodes,
                             inputs.frames, str(ds.version), ds.fingerprint)
        _check_features(preset, facts, path, overrides, init_from=bool(init_path))
        if init_path and not init_path.startswith("job:"):
            _check_action_dim(Path(init_path), feats)
        if feature_map:
            from studio import featuremap

            featuremap.save(project, ds, {**featuremap.saved(project, ds), **featuremap.parse(feature_map)})

    return JobSpec(
        dataset=str(path), policy=policy, steps=int(steps), batch_size=int(batch_size),
        lr=float(lr) if lr is not None else None, device=device, seed=int(seed),
        save_freq=int(save_freq) if save_freq else None, num_workers=int(num_workers),
        init_from=init_path, source=str(dataset), selection=selection,
        dataset_fingerprint=facts.fingerprint if facts else None, policy_overrides=overrides,
        train_root=inputs.work_dir if inputs else None, inputs=inputs.to_dict() if inputs else {},
        push_to_hub=push_to_hub, resume_from=resume_from,
    )


def external_run_checkpoint(path: str | os.PathLike) -> tuple[Path, int]:
    """A lerobot-train output folder (or one of its checkpoint step folders) → (step folder, step)."""
    p = Path(path).expanduser()
    for cand in (p / "checkpoints" / "last", p, p.parent if p.name == "pretrained_model" else None):
        if cand is None:
            continue
        step_file = cand / "training_state" / "training_step.json"
        if (cand / "pretrained_model" / "train_config.json").is_file() and step_file.is_file():
            try:
                step = int(json.loads(step_file.read_text())["step"])
            except (OSError, ValueError, KeyError, TypeError):
                raise JobError(str(step_file), "is unreadable; cannot tell where the run stopped") from None
            return cand.resolve(), step
    raise JobError(str(path), "is not a lerobot-train run to resume (no checkpoints/last with training_state)")


def _selection_episodes(export: Path, episodes: str, selection: str) -> list[int]:
    """--episodes (source numbering) with a selection: its episodes among them, in the export's numbering."""
    from studio.curation.selections import parse_episode_ranges

    try:
        emap = json.loads((export / "provenance.json").read_text())["episode_map"]
    except (OSError, ValueError, KeyError):
        raise JobError("--episodes", f"the export of selection '{selection}' has no episode map") from None
    wanted = parse_episode_ranges(str(episodes), "--episodes")
    kept = sorted(int(emap[str(e)]) for e in set(wanted) if str(e) in emap)
    if not kept:
        raise JobError("--episodes", f"none of episodes {episodes} are in selection '{selection}'")
    return kept


def _check_action_dim(ckpt: Path, feats: dict) -> None:
    """A checkpoint's action size must match the dataset's (else lerobot fails deep in loading)."""
    try:
        cfg = json.loads((ckpt / "config.json").read_text())
        shape = cfg["output_features"][ACTION]["shape"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    have = list((feats.get(ACTION) or {}).get("shape") or [])
    if have and list(shape) != have:
        raise JobError("--from", f"{ckpt} predicts actions of size {shape[0]} but this dataset's action has "
                                 f"size {have[0]}; start from a checkpoint of the same robot or train from scratch")


def _check_features(preset: PolicyPreset, facts: DatasetFacts, path: Path, overrides: dict,
                    *, init_from: bool) -> None:
    where = str(path)
    feats = facts.features
    if facts.episodes < 1 or facts.frames < 1:
        raise JobError(where, "has no episodes to train on")
    if ACTION not in feats:
        raise JobError(where, "has no action feature to learn; name it with --map KEY=action")
    images = [k for k, v in feats.items() if isinstance(v, dict) and v.get("dtype") in ("video", "image")]
    if preset.needs_images and not images:
        raise JobError(where, f"{preset.label} needs camera images and this dataset has none")
    if preset.cpu_ok and not init_from and ENV_STATE not in feats and not images:
        raise JobError(where, f"{preset.label} needs '{ENV_STATE}' or a camera image besides '{STATE}', "
                              "and this dataset has neither")
    if preset.needs_state and STATE not in feats:
        raise JobError(where, f"{preset.label} needs '{STATE}' and this dataset has none")
    horizon = int(overrides.get("chunk_size") or overrides.get("horizon")
                  or preset.overrides.get("chunk_size") or preset.overrides.get("horizon") or 1)
    if facts.frames < horizon:
        raise JobError(where, f"has {facts.frames} frames, fewer than the policy's action horizon ({horizon})")


# -- the lerobot command line ---------------------------------------------------------

def _fmt(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def lerobot_args(spec: JobSpec, output_dir: Path, *, offline: bool, init_path: str | None = None,
                 resume_config: Path | None = None) -> list[str]:
    """The `lerobot-train` arguments for a spec (also used verbatim by the benchmark)."""
    if resume_config is not None:
        # lerobot restores the whole config from the checkpoint; only re-assert the safety flags
        args = [
            f"--config_path={resume_config}", "--resume=true",
            "--policy.push_to_hub=false", f"--policy.device={spec.device}",
            "--dataset.video_backend=pyav", "--wandb.enable=false", "--eval_freq=0",
        ]
        if spec.resume_from:  # someone else's run: point it at this job's folder, data and length
            root = spec.train_root or spec.dataset
            args += [f"--output_dir={output_dir}", f"--steps={spec.steps}", f"--save_freq={spec.effective_save_freq}",
                     f"--dataset.root={root}", "--dataset.repo_id=" + _repo_id(root)]
        return args
    preset = spec.preset
    args = [
        "--dataset.repo_id=" + _repo_id(spec.train_root or spec.dataset),
        f"--dataset.root={spec.train_root or spec.dataset}",
        "--dataset.video_backend=pyav",
        f"--output_dir={output_dir}",
        f"--steps={spec.steps}",
        f"--batch_size={spec.batch_size}",
        f"--save_freq={spec.effective_save_freq}",
        f"--log_freq={max(1, min(200, spec.steps // 10 or 1))}",
        f"--num_workers={spec.num_workers}",
        f"--seed={spec.seed}",
        "--eval_freq=0",
        "--wandb.enable=false",
        f"--job_name=studio-{preset.key}",
    ]
    init = init_path or (spec.init_from if spec.init_from and not spec.init_from.startswith("job:") else None)
    if init:
        args.append(f"--policy.path={init}")
    elif preset.base_weights and preset.base_via == "path":
        args.append(f"--policy.path={preset.base_weights}")
    else:
        args.append(f"--policy.type={preset.type}")
        if preset.base_weights:
            args.append(f"--policy.{preset.base_via}={preset.base_weights}")
        for k, v in {**preset.overrides, **spec.policy_overrides}.items():
            args.append(f"--policy.{k}={_fmt(v)}")
    if init and spec.policy_overrides:
        for k, v in spec.policy_overrides.items():
            args.append(f"--policy.{k}={_fmt(v)}")
    lr = spec.lr if spec.lr is not None else preset.lr
    if lr is not None:
        args.append(f"--policy.optimizer_lr={lr}")
    args.append(f"--policy.device={spec.device}")
    if spec.push_to_hub and not offline:
        args += ["--policy.push_to_hub=true", f"--policy.repo_id={spec.push_to_hub}"]
    else:
        args.append("--policy.push_to_hub=false")
    if offline and preset.cpu_ok:
        args.append("--policy.pretrained_backbone_weights=null")
    return args


def _repo_id(dataset: str) -> str:
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(dataset).name) or "dataset"
    return f"local/{name}"


def preview(spec: JobSpec, output_dir: str | Path = "<job folder>/run-1/output", *, offline: bool | None = None) -> str:
    """The exact lerobot-train command a spec runs, then what the studio does to the data first.

    `offline`: what the job will see when it starts (`is_offline(project)`, as the executor
    asks); it changes the arguments (no Hub push, no backbone download)."""
    if offline is None:
        offline = not spec.push_to_hub
    args = lerobot_args(spec, Path(str(output_dir)), offline=offline)
    lines = ["lerobot-train \\"] + [f"  {a} \\" for a in args[:-1]] + [f"  {args[-1]}"]
    if spec.init_from and spec.init_from.startswith("job:"):
        lines.append(f"# --policy.path: the final checkpoint of job {spec.init_from[4:]}")
    from studio.jobs.inputs import TrainInputs

    if spec.inputs:
        notes = TrainInputs(**spec.inputs).notes()
        lines += [f"# {n}" for n in notes]
    return "\n".join(lines)
