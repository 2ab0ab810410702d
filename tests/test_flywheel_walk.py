"""A newcomer walks the whole loop by links, in headless chromium on the demo world: Home →
the dataset → Curate it → save a selection → Fine-tune on it (a real lerobot job of a few
steps) → Evaluate its checkpoint in simulation → Compare with a baseline. Every move between
panels is a link click; the buttons pressed are the ones that do the work (Save, Fine-tune,
Evaluate). Slow: a real trainer and real rollouts."""

from __future__ import annotations

import re
import shutil

import pytest

from studio import jobs
from studio.project import open_project

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]  # a real trainer and real rollouts on 2 loaded cores


def _fresh_copy(demo_world, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(demo_world.home, home,
                    ignore=shutil.ignore_patterns("studio.db*", "studio.json", "backups", "cache", "workspaces"))
    return open_project(home)


def test_home_to_compare_by_links_only(demo_world, tmp_path, page):
    from helpers import launch

    from studio.sim.rollout import run_rollouts

    project = _fresh_copy(demo_world, tmp_path)
    run_rollouts("scripted:expert", episodes=2, seed=0, workers=1, out=project.rollouts_dir / "scripted-expert")
    demo, url = launch(project)
    try:
        page.goto(url + "?panel=Home")
        home = page.locator("#home-summary")
        home.get_by_text("Next step").wait_for()
        page.evaluate("() => { window.__sameDocument = 'yes'; }")

        # Home → the dataset
        home.get_by_role("link", name="pick_cube_demos", exact=True).click()
        overview = page.locator("#datasets-overview")
        overview.get_by_text("Curate it").wait_for()
        # the dataset → Curate
        overview.get_by_role("link", name="Curate it").click()
        page.locator("#curate-summary").get_by_text("of 24 episodes").wait_for()
        page.locator("#curate-where textarea").fill("episode_index < 12")
        page.locator("#curate-apply").click()
        page.locator("#curate-summary").get_by_text("12 of 24 episodes").wait_for()
        page.locator("#curate-sel-name textarea").fill("first-half")
        page.locator("#curate-save").click()
        status = page.locator("#curate-sel-status")
        # the saved selection → Train, the form filled with it
        status.get_by_role("link", name="Fine-tune on it").click()
        page.locator("#panel-train").wait_for(state="visible")
        page.wait_for_function(
            "() => (document.querySelector('#train-dataset input') || {}).value === 'first-half'")
        # the form follows the dataset (feature map proposed, cameras listed) before it is edited
        page.wait_for_function("() => (document.querySelector('#train-map textarea, #train-map input') || {}).value")
        page.locator("#train-steps input").fill("2")
        page.locator("#train-batch input").fill("2")
        page.locator("#train-save-freq input").fill("2")
        for box in page.locator("#train-cameras input[type=checkbox]").all():
            if box.is_checked():
                box.uncheck()  # state only: a few CPU steps
        page.locator("#train-submit").click()
        page.locator("#train-message").get_by_text(re.compile(r"Queued job \d+")).wait_for(timeout=60_000)
        (job,) = jobs.list_jobs(project)
        # the new job joins "Overlay other runs" without a reload (issue 18: lists refresh themselves)
        page.locator("#train-overlay input").click()
        page.get_by_role("option", name=re.compile(rf"^{job.id}: ")).wait_for(timeout=30_000)
        page.keyboard.press("Escape")
        page.wait_for_function("() => (document.querySelector('#train-progress-bar') || {dataset: {}})"
                               ".dataset.state === 'succeeded'", timeout=600_000)
        page.locator("#train-job-links").get_by_text("no rollouts yet").wait_for()
        # its checkpoint → Evaluate (2 rollouts on the baseline's seeds)
        page.locator("#train-checkpoints td").first.wait_for()
        page.locator("#train-checkpoints tbody tr").last.locator("td").first.click()
        page.wait_for_function("() => Number((document.querySelector('#train-ckpt-id input') || {}).value) > 0")
        page.locator("#train-eval-episodes input").fill("2")
        page.locator("#train-eval-workers input").fill("1")
        page.locator("#train-evaluate").click()
        message = page.locator("#train-eval-message")
        message.get_by_text("Rollouts written to").wait_for(timeout=600_000)
        first = re.search(r"Rollouts written to (\S+) \(", message.inner_text()).group(1)
        # Evaluate the same checkpoint again: a second folder of its own, no "already exists"
        page.locator("#train-evaluate").click()
        page.wait_for_function(
            "first => { const t = (document.querySelector('#train-eval-message') || {}).innerText || '';"
            " return t.includes('Rollouts written to') && !t.includes(first + ' ('); }", arg=first, timeout=600_000)
        text = message.inner_text()
        second = re.search(r"Rollouts written to (\S+) \(", text).group(1)
        assert second != first and "exists" not in text and "error" not in text.lower(), text
        assert (project.rollouts_dir / first).is_dir() and (project.rollouts_dir / second).is_dir()
        # the job now leads to its rollouts, and the evaluation to a prefilled Compare
        page.locator("#train-job-links").get_by_text(f"rollouts job{job.id}-").wait_for(timeout=30_000)
        message.get_by_role("link", name=re.compile("Compare with scripted-expert")).click()
        verdict = page.locator("#compare-verdict")
        verdict.get_by_text("Verdict").wait_for()
        text = verdict.inner_text()
        assert "A (baseline): scripted-expert" in text and f"job{job.id}-" in text
        assert page.locator("#studio-nav input[value='Compare']").is_checked()
        assert page.evaluate("() => window.__sameDocument") == "yes"  # one page all along: no reloads
        assert not page.console_errors.errors(), page.console_errors
    finally:
        demo.close()
        for j in jobs.list_jobs(project, states=[jobs.QUEUED, jobs.RUNNING]):
            jobs.cancel(project, j.id, grace_s=5)
