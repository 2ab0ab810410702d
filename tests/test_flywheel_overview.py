"""studio.flywheel: what Home shows (read from a real project home), the links between panels
and the change token that lets open pages refresh themselves."""

from __future__ import annotations

import json

from studio import flywheel, review
from studio.synthetic import write_synthetic_dataset


def _sim_set(project, name, successes, policy=None):
    n = len(successes)
    root = write_synthetic_dataset(project.rollouts_dir / name, episodes=n, frames=12, seed=2)
    (root / "summary.json").write_text(json.dumps({
        "n_episodes": n, "success_rate": sum(successes) / n, "mean_progress": 0.5, "policy": policy or name,
        "env": "pick_cube", "seeds": list(range(n)),
        "episodes": [{"episode_index": i, "seed": i, "success": bool(s), "progress": 1.0 if s else 0.3,
                      "steps": 12, "time_to_success_s": None} for i, s in enumerate(successes)]}))
    return root


def test_links_round_trip_and_drop_unknown_keys():
    url = flywheel.link("Datasets", dataset="/data/my set&x", episode=3, selection=None)
    assert url.startswith("?panel=Datasets&") and "selection" not in url
    assert flywheel.parse_link(url) == {"panel": "Datasets", "dataset": "/data/my set&x", "episode": "3"}
    assert flywheel.parse_link("http://h:7860/?panel=Compare&a=x&b=y&evil=1#frag") == {
        "panel": "Compare", "a": "x", "b": "y"}
    assert flywheel.link_int({"episode": "7"}, "episode") == 7
    assert flywheel.link_int({"episode": "seven"}, "episode") is None


def test_overview_shows_each_stage_and_suggests_the_next_step(project):
    from studio.curation.selections import save_selection
    from studio.datasets import open_dataset

    root = write_synthetic_dataset(project.datasets_dir / "reach", episodes=4, frames=20)
    ov = flywheel.overview(project)
    (d,) = ov.datasets
    assert (d.name, d.episodes, d.frames, d.error) == ("reach", 4, 80, None)
    assert d.link == flywheel.link("Datasets", dataset=str(root))
    assert ov.next_step.link == flywheel.link("Curate", dataset=str(root))  # curate comes first

    save_selection(project, "short", open_dataset(root), predicate="episode_index < 2")
    ov = flywheel.overview(project)
    (s,) = ov.selections
    assert (s.name, s.n_episodes) == ("short", 2)
    assert ov.next_step.link == flywheel.link("Train", dataset="short")  # then train on it

    _sim_set(project, "base", [1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    _sim_set(project, "new", [1, 1, 1, 1, 0, 1, 1, 1, 1, 1])
    review.set_verdict(project, "new", 4, "success", author="ana")  # the reviewer's verdict wins
    rates = {r.name: (r.successes, r.judged, round(r.ci_low, 3), round(r.ci_high, 3)) for r in flywheel.overview(project).rollouts}
    assert rates["base"] == (2, 10, 0.057, 0.51)  # Wilson 95% for 2/10
    assert rates["new"][:2] == (10, 10) and rates["new"][3] == 1.0
    (act,) = flywheel.overview(project).activity
    assert (act.author, act.action, act.episode) == ("ana", "verdict", 4)
    assert act.link == flywheel.link("Rollouts", set="new", episode=4)


def test_rollout_sets_belong_to_the_job_whose_checkpoint_ran(project):
    _sim_set(project, "job3-step4-pick_cube-s0-n2", [1, 0], policy=str(project.jobs_dir / "3/run-1/output/x"))
    _sim_set(project, "job3-step8-pick_cube-s0-n2", [1, 1])
    _sim_set(project, "baseline", [0, 0])
    links = flywheel.job_links(project, 3)
    assert sorted(r.name for r in links["rollouts"]) == ["job3-step4-pick_cube-s0-n2", "job3-step8-pick_cube-s0-n2"]
    params = flywheel.parse_link(links["compare"])
    assert params["panel"] == "Compare" and {params["a"], params["b"]} == {r.name for r in links["rollouts"]}
    assert flywheel.job_links(project, 4)["rollouts"] == []


def test_change_token_moves_only_when_the_project_changes(project):
    write_synthetic_dataset(project.datasets_dir / "reach", episodes=2, frames=10)
    t0 = flywheel.change_token(project)
    assert flywheel.change_token(project) == t0  # nothing changed: same token
    _sim_set(project, "night", [1, 0])
    t1 = flywheel.change_token(project)
    assert t1 != t0  # a new rollout set
    review.set_verdict(project, "night", 1, "fail", author="ana")
    t2 = flywheel.change_token(project)
    assert t2 != t1  # a review
    assert flywheel.change_token(project) == t2
