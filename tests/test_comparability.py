"""studio.comparability (issue 18 item 5): Compare refuses sets from different robots, action
spaces or environments, warns when world, task or action names differ, and never offers a
set it cannot compare (a real set nobody has reviewed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_compare import write_rollout_set

from studio import compare as cmp
from studio.compare import CompareError, compare_paths
from studio.synthetic import write_synthetic_dataset


def sim_set(root: Path, *, robot: str = "panda", env: str = "pick_cube", action: int = 4,
            task: str = "pick up the cube", version: str = "1", names: list[str] | None = None) -> Path:
    """A simulated rollout set as the engine writes it: summary.json + meta/ + sim/env.json."""
    write_rollout_set(root, [(i, i % 2 == 0) for i in range(20)], env=env)
    (root / "meta").mkdir()
    names = names or [f"a{i}" for i in range(action)]
    (root / "meta" / "info.json").write_text(json.dumps({
        "codebase_version": "v3.0", "robot_type": robot, "fps": 10,
        "features": {"action": {"dtype": "float32", "shape": [action], "names": names}}}))
    (root / "meta" / "tasks.jsonl").write_text(json.dumps({"task_index": 0, "task": task}) + "\n")
    summary = json.loads((root / "summary.json").read_text())
    (root / "summary.json").write_text(json.dumps({**summary, "env_version": version}))
    return root


def _studio(*args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "studio.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=env)


def test_sets_from_different_robots_or_action_spaces_are_refused(tmp_path):
    a = sim_set(tmp_path / "panda")
    other_robot = sim_set(tmp_path / "g1", robot="unitree_g1", action=4)
    with pytest.raises(CompareError, match=r"'panda' and 'g1' ran on different robots \(panda vs unitree_g1\)"):
        compare_paths([a, other_robot])
    wider = sim_set(tmp_path / "wide", action=7)
    with pytest.raises(CompareError, match=r"different action spaces \(\[4\] vs \[7\] values per step\)"):
        compare_paths([a, wider])


def test_same_robot_and_task_compares_without_warnings(tmp_path):
    comp = compare_paths([sim_set(tmp_path / "a"), sim_set(tmp_path / "b")])
    assert comp.warnings == [] and comp.to_json()["warnings"] == []


def test_different_env_task_env_version_or_action_names_warn(tmp_path):
    a = sim_set(tmp_path / "a")
    (warning,) = compare_paths([a, sim_set(tmp_path / "push", env="push_cube")]).warnings
    assert warning == ("'a' and 'push' ran in different environments (pick_cube vs push_cube); a difference "
                       "may come from the environment, not the checkpoint")
    b = sim_set(tmp_path / "b", task="stack two cubes", version="2")
    info = json.loads((b / "meta" / "info.json").read_text())
    info["features"]["action"]["names"] = ["x", "y", "z", "grip"]
    (b / "meta" / "info.json").write_text(json.dumps(info))
    comp = compare_paths([a, b])
    text = " | ".join(comp.warnings)
    assert "ran in different versions of pick_cube (1 vs 2)" in text
    assert "recorded on different tasks ('pick up the cube' vs 'stack two cubes')" in text
    assert "name their actions differently (a0, a1, a2… vs x, y, z…)" in text
    assert comp.to_json()["warnings"] == comp.warnings


def test_real_set_without_reviews_is_not_offered_then_compared_with_a_warning(project, tmp_path):
    from studio import review

    real = write_synthetic_dataset(tmp_path / "real", episodes=4, frames=20, tasks=("pick the cube",))
    joints = json.loads((real / "meta" / "info.json").read_text())["features"]["action"]["names"]
    sim = sim_set(project.rollouts_dir / "sim_ckpt", robot="so101_follower", action=6, task="pick the cube",
                  names=joints)
    review.register_rollouts(project, real, checkpoint="ckpt-7", name="real_ckpt")
    labels = [r.label for r in cmp.list_rollout_sets(project)]
    assert labels == ["sim_ckpt (20 rollouts)"]  # the unreviewed real set is not offered as "(4 rollouts)"
    assert cmp.unreviewed_sets(project) == ["real_ckpt"]

    review.set_verdict(project, "real_ckpt", 1, "success", author="ann")
    labels = [r.label for r in cmp.list_rollout_sets(project)]
    assert "real_ckpt — ckpt-7 (1 of 4 rollouts reviewed)" in labels and cmp.unreviewed_sets(project) == []
    comp = compare_paths([str(sim), "real_ckpt"], project)
    assert comp.sets[1].n == 1
    assert comp.warnings == ["'sim_ckpt' and 'real_ckpt' were not run in the same world: A in simulation "
                             "(pick_cube), B in a real so101_follower; a difference may come from the world, "
                             "not the checkpoint"]


def test_cli_warns_on_stderr_and_refuses_with_exit_2(tmp_path):
    a = sim_set(tmp_path / "a")
    b = sim_set(tmp_path / "b", task="stack two cubes")
    ok = _studio("compare", a, b)
    assert ok.returncode == 0, ok.stderr
    assert "warning: 'a' and 'b' were recorded on different tasks" in ok.stderr and "verdict:" in ok.stdout
    g1 = sim_set(tmp_path / "g1", robot="unitree_g1", action=29)
    bad = _studio("compare", a, g1)
    assert bad.returncode == 2 and "verdict" not in bad.stdout
    assert bad.stderr.strip().splitlines() == [
        "error: compare: 'a' and 'g1' ran on different robots (panda vs unitree_g1); their success rates "
        "measure different things, so they are not compared"]
