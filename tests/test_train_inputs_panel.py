"""Train panel on a real-world-shaped dataset: v2.1, keys `actions`/`state`, videos absent.

The proposal is right, so the user only clicks Preview (optional) and Fine-tune.
"""

from __future__ import annotations

import re

from studio import jobs


def test_panel_trains_a_v21_renamed_dataset_with_the_proposed_map(project, serve_app, page):
    from studio.synthetic import write_synthetic_dataset

    write_synthetic_dataset(project.datasets_dir / "g1_v21", version="v2.1", episodes=3, frames=30,
                            names_style="nested", environment_state=False, videos=["observation.images.front"],
                            rename={"action": "actions", "observation.state": "state",
                                    "observation.images.front": "image"},
                            missing_videos="all", stats_json=False)
    url = serve_app(project)
    page.goto(url + "?panel=Train")
    fmap = page.locator("#train-map textarea")
    page.wait_for_function(
        "() => { const t = document.querySelector('#train-map textarea'); return t && t.value.length > 0; }",
        timeout=60_000)
    assert fmap.input_value() == "actions=action,state=observation.state,image=observation.images.image"
    cams = page.locator("#train-cameras")
    assert cams.get_by_text("image (0 present, 3 missing)").count() == 1
    assert not cams.locator("input[type=checkbox]").first.is_checked()  # absent video: not ticked

    page.locator("#train-steps input").fill("3")
    page.locator("#train-batch input").fill("4")
    page.locator("#train-save-freq input").fill("3")
    page.locator("#train-preview").click()
    page.wait_for_function(
        "() => document.querySelector('#train-preview-text textarea').value.includes('lerobot-train')",
        timeout=60_000)
    text = page.locator("#train-preview-text textarea").input_value()
    assert "--policy.type=act" in text and "--steps=3" in text
    assert "actions → action, state → observation.state" in text
    assert "also fed as observation.environment_state" in text
    assert jobs.list_jobs(project) == []  # a preview queues nothing

    page.locator("#train-submit").click()
    page.locator("#train-message").get_by_text(re.compile(r"Queued job \d+")).wait_for(timeout=60_000)
    (job,) = jobs.list_jobs(project)
    assert job.spec["inputs"]["feature_map"] == {"actions": "action", "state": "observation.state"}
    assert job.spec["inputs"]["cameras"] == [] and job.spec["inputs"]["state_as_env"]
    # the job converts the v2.1 dataset and lerobot trains on it: the bar reaches the end
    page.wait_for_function(
        "() => { const b = document.querySelector('#train-progress-bar');"
        " return b && b.dataset.state === 'succeeded'; }", timeout=300_000)
    assert [c.step for c in jobs.list_checkpoints(project, job_id=job.id)] == [3]
    assert not page.console_errors.errors()
