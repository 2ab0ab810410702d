"""studio.sim.rollout: rollout sets (LeRobot v3.0 + sim sidecar + summary.json), fixed
seeds over worker processes, scripted and lerobot-checkpoint policies, `studio eval`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "osmesa")

SUMMARY_KEYS = {"n_episodes", "success_rate", "mean_progress", "policy", "env", "seeds", "episodes"}
EPISODE_KEYS = {"episode_index", "seed", "success", "progress", "steps", "time_to_success_s"}


def _studio(*args, timeout=300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "osmesa")}
    return subprocess.run([sys.executable, "-m", "studio.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_rollout_sets_follow_the_contract(rollout_pair):
    import pandas as pd
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    summaries = []
    for path in rollout_pair:
        s = json.loads((path / "summary.json").read_text())
        assert SUMMARY_KEYS <= set(s)
        assert s["env"] == "pick_cube" and s["n_episodes"] == 10 and s["seeds"] == list(range(10))
        assert all(EPISODE_KEYS <= set(e) for e in s["episodes"])
        assert [e["seed"] for e in s["episodes"]] == s["seeds"]
        assert s["success_rate"] == pytest.approx(sum(e["success"] for e in s["episodes"]) / 10)
        assert 0.0 <= s["mean_progress"] <= 1.0
        for e in s["episodes"]:
            assert (e["time_to_success_s"] is not None) == e["success"]
            assert e["progress"] == 1.0 if e["success"] else e["progress"] < 1.0
        ds = LeRobotDataset("local/rollouts", root=path)
        assert ds.num_episodes == 10
        lengths = pd.read_parquet(path / "meta" / "episodes").sort_values("episode_index").length.tolist()
        assert lengths == [e["steps"] for e in s["episodes"]]
        assert json.loads((path / "sim" / "env.json").read_text())["env"] == "pick_cube"
        poses = pd.read_parquet(path / "sim" / "poses.parquet")
        assert poses.groupby("episode_index").frame_index.max().add(1).tolist() == lengths
        # per-frame outcomes in the dataset agree with the summary
        frames = pd.read_parquet(path / "data")
        last = frames.groupby("episode_index")["next.success"].max().astype(bool).tolist()
        assert last == [e["success"] for e in s["episodes"]]
        summaries.append(s)
    expert, novice = summaries
    assert expert["policy"] == "scripted:expert" and novice["policy"] == "scripted:novice"
    assert expert["success_rate"] >= 0.9 and expert["success_rate"] > novice["success_rate"]
    assert expert["mean_progress"] >= novice["mean_progress"]


def test_two_workers_give_the_same_episodes_as_one(rollout_pair, tmp_path):
    from studio.sim.rollout import load_rollout, run_rollouts

    par = run_rollouts("scripted:novice", episodes=4, workers=2, seed=0, out=tmp_path / "par")
    ref = load_rollout(rollout_pair[1]).summary["episodes"][:4]
    got = load_rollout(par).summary["episodes"]
    strip = lambda es: [{k: e[k] for k in ("seed", "success", "progress", "steps")} for e in es]  # noqa: E731
    assert strip(got) == strip(ref)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # staged and renamed


def test_rollouts_refuse_bad_input(tmp_path, rollout_pair):
    from studio.errors import StudioError
    from studio.sim.rollout import run_rollouts

    with pytest.raises(StudioError, match="unknown operator profile"):
        run_rollouts("scripted:wizard", out=tmp_path / "a")
    with pytest.raises(StudioError, match="neither scripted"):
        run_rollouts(str(tmp_path / "missing"), out=tmp_path / "b")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudioError, match="no lerobot checkpoint"):
        run_rollouts(str(tmp_path / "empty"), out=tmp_path / "c")
    with pytest.raises(StudioError, match="already exists"):
        run_rollouts("scripted:expert", out=rollout_pair[0])
    with pytest.raises(StudioError, match="unknown environment"):
        run_rollouts("scripted:expert", env="mars", out=tmp_path / "d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_studio_eval_cli_errors_are_one_sentence(tmp_path):
    r = _studio("eval", "scripted:wizard", "--project", tmp_path / "home")
    assert r.returncode == 2 and r.stderr.startswith("error: operator: unknown operator profile")


def _train_act(dataset_root: Path, out: Path) -> subprocess.CompletedProcess:
    """20 steps of `lerobot-train` with exactly the arguments a studio ACT job uses."""
    from studio.jobs.spec import JobSpec, lerobot_args

    spec = JobSpec(dataset=str(dataset_root), policy="act", steps=20, batch_size=8, save_freq=20, device="cpu")
    exe = Path(sys.executable).with_name("lerobot-train")
    args = [str(exe), *lerobot_args(spec, out, offline=True)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def act_checkpoint(demo_world, tmp_path_factory):
    """A 20-step ACT checkpoint trained on the demo world with the studio's ACT preset."""
    from studio.demo import demo_path

    out = tmp_path_factory.mktemp("act") / "train"
    r = _train_act(demo_path(demo_world), out)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = out / "checkpoints" / "000020"
    assert (ckpt / "pretrained_model" / "model.safetensors").is_file()
    return ckpt


def test_act_trains_on_the_demo_world_and_its_checkpoint_rolls_out(act_checkpoint, tmp_path):
    from studio.datasets import open_dataset

    ckpt = act_checkpoint

    out = tmp_path / "ro"
    r = _studio("eval", ckpt, "--env", "pick_cube", "--episodes", "2", "--workers", "2", "--seed", "5",
                "--out", out, "--max-steps", "25", "--project", tmp_path / "home")
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((out / "summary.json").read_text())
    assert s["n_episodes"] == 2 and s["seeds"] == [5, 6]
    assert s["policy"] == str((ckpt / "pretrained_model").resolve())
    assert all(e["steps"] == 25 or e["success"] for e in s["episodes"])  # the policy acted every step

    info = _studio("info", out)
    assert info.returncode == 0, info.stderr
    assert "problems  none" in info.stdout or "problems: none" in info.stdout
    assert open_dataset(out).problems == ()

    # a checkpoint made for another robot is refused in one sentence, before any simulation
    import shutil

    other = tmp_path / "other"
    shutil.copytree(ckpt / "pretrained_model", other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["output_features"]["action"]["shape"] = [7]
    (other / "config.json").write_text(json.dumps(cfg))
    r = _studio("eval", other, "--episodes", "1", "--project", tmp_path / "home")
    assert r.returncode == 2 and "expects 'action' of shape [7]; pick_cube has [4]" in r.stderr


def test_checkpoint_sees_recorded_observations_as_lerobot_does(act_checkpoint, demo_world):
    """Regression (closed-loop 0 % with a good offline fit): every input the policy reads,
    the cube position included, is normalised by the checkpoint's preprocessor (lerobot's
    default mapping leaves `observation.environment_state` raw, which the policy then
    ignores), and the rollout actor fed recorded observations returns exactly what the
    checkpoint's own pre-processor → select_action → post-processor gives on
    LeRobotDataset frames."""
    import numpy as np
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from studio.demo import demo_path
    from studio.sim.pick_cube import TASK
    from studio.sim.policies import LeRobotActor

    actor = LeRobotActor(str(act_checkpoint / "pretrained_model"), task=TASK)
    ds = LeRobotDataset("local/pick_cube_demos", root=demo_path(demo_world), video_backend="pyav")
    stats = ds.meta.stats
    keys = ("observation.state", "observation.environment_state")
    assert set(keys) == actor.inputs
    # the dataset mean of every input maps to ~0, its mean + std to ~1
    at_mean = actor.pre({k: torch.as_tensor(stats[k]["mean"], dtype=torch.float32) for k in keys} | {"task": TASK})
    at_1sd = actor.pre({k: torch.as_tensor(stats[k]["mean"] + stats[k]["std"], dtype=torch.float32) for k in keys}
                       | {"task": TASK})
    for k in keys:
        np.testing.assert_allclose(at_mean[k].numpy(), 0.0, atol=1e-4, err_msg=f"{k} is not normalised")
        big = np.asarray(stats[k]["std"]) > 1e-6
        np.testing.assert_allclose(at_1sd[k].numpy()[0][big], 1.0, atol=1e-3, err_msg=f"{k} is not normalised")

    # an independent reference: the checkpoint loaded by lerobot itself, stepped in lockstep
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    model_dir = str(act_checkpoint / "pretrained_model")
    cfg = PreTrainedConfig.from_pretrained(model_dir)
    ref_policy = get_policy_class(cfg.type).from_pretrained(model_dir, config=cfg).eval()
    ref_pre, ref_post = make_pre_post_processors(cfg, pretrained_path=model_dir)
    start = int(ds.meta.episodes["dataset_from_index"][1])
    actor.reset(0)
    ref_policy.reset()
    for i in range(start, start + 2 * cfg.n_action_steps + 1):  # crosses action-chunk boundaries
        item = ds[i]
        ours = actor.act(None, {"agent_pos": item["observation.state"].numpy(),
                                "environment_state": item["observation.environment_state"].numpy()})
        assert ours.dtype == np.float32 and ours.shape == (4,)
        with torch.inference_mode():
            ref = ref_post(ref_policy.select_action(ref_pre({k: item[k] for k in keys} | {"task": item["task"]})))
        np.testing.assert_allclose(ours, ref.numpy().reshape(-1), atol=1e-6)


def test_cameras_are_recorded_as_videos_lerobot_decodes(tmp_path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from studio.sim.rollout import run_rollouts

    out = run_rollouts("scripted:expert", episodes=1, seed=0, out=tmp_path / "cam", cameras=True, max_steps=3)
    ds = LeRobotDataset("local/cam", root=out, video_backend="pyav")
    assert ds.meta.video_keys == ["observation.images.front", "observation.images.wrist"]
    item = ds[2]
    front = item["observation.images.front"]
    assert tuple(front.shape) == (3, 96, 96)
    assert float(front.std()) > 0.02  # a rendered scene, not a blank frame


def test_two_evaluations_started_together_each_get_their_own_folder(tmp_path):
    """Issue 18 item 2: the second evaluation of one checkpoint, started while the first runs,
    gets `<name>-2` (no 'already exists', no 'Directory not empty'); a dead one's claim is reused."""
    import threading

    from studio.sim.rollout import reserve_out, run_rollouts

    base = tmp_path / "rollouts" / "job1-step4-pick_cube-s0-n1"
    outs, errors, started = [], [], threading.Barrier(2)

    def evaluate():
        try:
            with reserve_out(base) as out:
                started.wait(timeout=30)  # both have chosen a folder before either finishes
                outs.append(run_rollouts("scripted:expert", episodes=1, workers=1, seed=0, out=out, max_steps=15))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(p.name for p in outs) == [base.name, base.name + "-2"]
    for p in outs:
        assert json.loads((p / "summary.json").read_text())["n_episodes"] == 1
    assert sorted(p.name for p in base.parent.iterdir()) == [base.name, base.name + "-2"]  # no markers left

    (base.parent / f".{base.name}-3.reserved").write_text("999999999")  # a killed evaluation's claim
    with reserve_out(base) as out:
        assert out.name == base.name + "-3"
