"""Train panel on a real-world-shaped dataset: v2.1, keys `actions`/`state`, videos absent.

The proposal is right, so the user only clicks Preview (optional) and Fine-tune.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from studio import jobs


def test_panel_queues_a_v21_renamed_dataset_with_the_proposed_map_and_it_converts(project, serve_app, page):
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
    assert cams.inner_text().count("image (0 present, 3 missing)") == 1, cams.inner_text()
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
    # the job converts the v2.1 dataset into its work folder (the CLI tests train to the end; here
    # the conversion is enough, so the job is cancelled once it is done)
    work = Path(job.spec["train_root"]) / "provenance.json"
    deadline = time.time() + 120
    while not work.exists() and time.time() < deadline:
        time.sleep(0.5)
    assert work.exists(), jobs.tail(jobs.get_job(project, job.id).log_path, 20)
    assert json.loads(work.read_text())["feature_map"] == job.spec["inputs"]["feature_map"]
    jobs.cancel(project, job.id, grace_s=5)
    assert not page.console_errors.errors()
