"""The Rollouts panel in headless chromium: pick a rollout set, play an episode in the
embedded Rerun viewer, give a verdict with a comment."""

from __future__ import annotations

import json

from studio import review
from studio.synthetic import write_synthetic_dataset


def _sim_set(project, name="ckpt-a"):
    root = write_synthetic_dataset(project.rollouts_dir / name, episodes=3, frames=30,
                                   videos=("observation.images.front",), seed=2)
    (root / "summary.json").write_text(json.dumps({
        "n_episodes": 3, "success_rate": 2 / 3, "mean_progress": 0.8, "policy": name, "env": "pick_cube",
        "seeds": [17, 18, 19],
        "episodes": [{"episode_index": i, "seed": 17 + i, "success": i != 1, "progress": 1.0 if i != 1 else 0.4,
                      "steps": 30, "time_to_success_s": 0.5 if i != 1 else None} for i in range(3)]}))
    return root


def test_panel_helpers_list_sets_and_build_episode_rows(project):
    from panels.rollouts import episode_table, parse_others, set_summary, target_choices

    _sim_set(project)
    (label, key), = target_choices(project)
    assert key == "ckpt-a" and "sim" in label
    rows = episode_table(project, key)
    assert [r[:5] for r in rows] == [[0, 30, 17, "success", "100%"], [1, 30, 18, "fail", "40%"],
                                     [2, 30, 19, "success", "100%"]]
    assert "2/3 successful" in set_summary(project, key)
    assert parse_others(project, "2, ckpt-a:1")[0] == (None, 2, None)


def test_rollouts_panel_plays_an_episode_and_saves_a_verdict(project, serve_app, page):
    _sim_set(project)
    url = serve_app(project)
    fetched = []
    page.on("response", lambda r: fetched.append((r.url, r.status)) if r.url.endswith(".rrd") else None)
    page.goto(url + "?panel=Rollouts")
    page.wait_for_selector("#panel-rollouts", state="visible")
    page.locator("#rollouts-target input").click()
    page.get_by_role("option", name="rollouts · ckpt-a", exact=False).click()
    page.wait_for_selector("#rollouts-episodes :text('success')")
    page.locator("#rollouts-episodes td").filter(has_text="18").first.click()  # episode 1 (seed 18): plays it
    page.wait_for_selector("#rollouts-viewer canvas", state="attached", timeout=90_000)
    page.wait_for_selector("#rollouts-download a", timeout=60_000)
    assert page.locator("#rollouts-viewer canvas").count() >= 1
    assert page.locator("#rollouts-episode input").input_value() == "1"
    page.wait_for_timeout(1000)
    assert fetched and all(status == 200 for _, status in fetched), fetched  # the viewer loaded the recording

    page.locator("#rollouts-verdict label").filter(has_text="partial").click()
    page.locator("#rollouts-comment textarea").fill("dropped the cube before the bin")
    page.locator("#rollouts-save-verdict").click()
    page.wait_for_selector("#rollouts-status :text('Saved')")
    page.wait_for_selector("#rollouts-comments :text('dropped the cube')")
    page.wait_for_timeout(2000)  # let the viewer settle: errors would show up now
    assert not page.console_errors.errors(), page.console_errors

    (v,) = review.list_verdicts(project, "ckpt-a", 1)
    assert (v.verdict, v.progress) == ("partial", 50.0)
    assert [c.body for c in review.list_comments(project, "ckpt-a", 1)] == ["dropped the cube before the bin"]


def test_register_form_adds_a_real_robot_set(project, tmp_path):
    import pytest

    from panels.rollouts import register_set, target_choices
    from studio.errors import StudioError

    root = write_synthetic_dataset(tmp_path / "so101_night", episodes=2, frames=10)
    assert "2 real-robot rollouts of `ckpt-7`" in register_set(project, str(root), "ckpt-7", "", "ana")
    assert "so101_night" in [k for _, k in target_choices(project)]
    with pytest.raises(StudioError, match="checkpoint"):
        register_set(project, str(root), "", "other", "ana")
