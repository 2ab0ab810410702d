"""Rollout review: registering real-robot rollouts, verdicts, comments, activity in studio.db."""

from __future__ import annotations

import json
import threading

import pytest

from studio import review
from studio.synthetic import write_synthetic_dataset


@pytest.fixture
def real_rollouts(tmp_path):
    # What lerobot-record writes on a real robot while a policy runs: a plain LeRobot dataset.
    return write_synthetic_dataset(tmp_path / "so101_eval_ckpt42", episodes=4, frames=20, seed=5)


def test_register_real_robot_dataset_as_rollouts_of_a_checkpoint(project, real_rollouts):
    rs = review.register_rollouts(project, real_rollouts, checkpoint="ckpt-42", author="ana")
    assert (rs.name, rs.kind, rs.checkpoint, rs.n_episodes) == ("so101_eval_ckpt42", "real", "ckpt-42", 4)
    assert [s.name for s in review.list_rollout_sets(project)] == ["so101_eval_ckpt42"]
    with pytest.raises(review.ReviewError, match="already registered"):
        review.register_rollouts(project, real_rollouts, checkpoint="ckpt-42")
    with pytest.raises(review.ReviewError, match="checkpoint"):
        review.register_rollouts(project, real_rollouts, checkpoint=" ", name="other")
    rows = review.episode_rows(project, "so101_eval_ckpt42")
    assert [r.episode_index for r in rows] == [0, 1, 2, 3] and all(r.verdict is None for r in rows)
    assert review.activity(project, 5)[0].action == "register"


def test_sim_rollout_sets_under_the_project_are_listed(project, tmp_path):
    root = write_synthetic_dataset(project.rollouts_dir / "ckpt-a_seed0", episodes=2, frames=10)
    (root / "summary.json").write_text(json.dumps({
        "n_episodes": 2, "success_rate": 0.5, "policy": "ckpt-a", "env": "pick_cube",
        "episodes": [{"episode_index": 0, "seed": 17, "success": True, "progress": 1.0},
                     {"episode_index": 1, "seed": 18, "success": False, "progress": 0.4}]}))
    (s,) = review.list_rollout_sets(project)
    assert (s.name, s.kind, s.checkpoint, s.registered) == ("ckpt-a_seed0", "sim", "ckpt-a", False)
    rows = review.episode_rows(project, s.name)
    assert [(r.seed, r.success, r.progress) for r in rows] == [(17, True, 1.0), (18, False, 0.4)]


def test_verdicts_success_partial_fail_and_latest_wins(project, real_rollouts):
    review.register_rollouts(project, real_rollouts, checkpoint="ckpt-42", name="night")
    assert review.set_verdict(project, "night", 0, "success", author="ana").progress == 100.0
    review.set_verdict(project, "night", 1, "partial", progress=60, author="ana", comment="dropped the cube at the bin")
    review.set_verdict(project, "night", 2, "fail", author="bo")
    with pytest.raises(review.ReviewError, match="partial"):
        review.set_verdict(project, "night", 3, "partial", author="bo")
    with pytest.raises(review.ReviewError, match="outside"):
        review.set_verdict(project, "night", 3, "partial", progress=130, author="bo")
    with pytest.raises(review.ReviewError, match="not one of"):
        review.set_verdict(project, "night", 3, "meh", author="bo")
    review.set_verdict(project, "night", 2, "partial", progress=20, author="cy")  # later reviewer
    v = review.verdicts(project, "night")
    assert (v[0].verdict, v[1].verdict, v[1].progress, v[2].verdict, v[2].author) == (
        "success", "partial", 60.0, "partial", "cy")
    assert len(review.list_verdicts(project, "night", 2)) == 2  # both reviewers' verdicts kept
    rows = {r.episode_index: r for r in review.episode_rows(project, "night")}
    assert rows[1].n_comments == 1 and rows[2].n_reviews == 2 and rows[3].verdict is None
    out = review.outcomes(project, "night")
    assert [(o["episode_index"], o["success"], o["progress"]) for o in out] == [(0, True, 1.0), (1, False, 0.6), (2, False, 0.2)]


def test_comments_keep_author_time_and_order(project):
    target = "/data/some_dataset"
    a = review.add_comment(project, target, 3, "ana", "gripper slips here")
    b = review.add_comment(project, target, 3, "bo", "agreed")
    review.add_comment(project, target, 4, "bo", "fine")
    got = review.list_comments(project, target, 3)
    assert [(c.author, c.body) for c in got] == [("ana", "gripper slips here"), ("bo", "agreed")]
    assert got[0].at <= got[1].at and a.id < b.id
    with pytest.raises(review.ReviewError, match="empty"):
        review.add_comment(project, target, 3, "ana", "   ")
    acts = review.activity(project, 2)
    assert [(x.action, x.author, x.episode_index) for x in acts] == [("comment", "bo", 4), ("comment", "bo", 3)]


def test_concurrent_reviewers_lose_no_writes(project):
    def reviewer(name):
        for i in range(40):
            review.add_comment(project, "night", i % 5, name, f"{name} #{i}")
            review.set_verdict(project, "night", i % 5, "partial", progress=1 + i, author=name)

    threads = [threading.Thread(target=reviewer, args=(f"r{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(review.list_comments(project, "night")) == 160
    assert len(review.list_verdicts(project, "night")) == 4 * 5
    assert len(review.activity(project, 1000)) == 320


def test_cli_register_verdict_and_list(project, real_rollouts, capsys):
    from studio.cli import main

    home = ["--project", str(project.home)]
    assert main(["rollouts", "register", str(real_rollouts), "--checkpoint", "ckpt-42", "--name", "night", *home]) == 0
    assert main(["rollouts", "verdict", "night", "1", "partial", "--progress", "50", "-m", "slow grasp",
                 "--author", "ana", *home]) == 0
    assert main(["rollouts", "verdict", "night", "2", "partial", *home]) == 2
    assert "error: progress:" in capsys.readouterr().err
    assert main(["rollouts", "episodes", "night", "--json", *home]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["verdict"] == "partial" and rows[1]["verdict_progress"] == 50 and rows[1]["n_comments"] == 1
    assert main(["rollouts", "list", *home]) == 0
    assert "night" in capsys.readouterr().out
    assert main(["rollouts", "comments", "night", *home]) == 0
    assert "ana: slow grasp" in capsys.readouterr().out
