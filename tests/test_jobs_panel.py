"""Train panel in headless chromium: start a job from the form and watch its progress advance."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import watch_console

from studio import jobs


def live_group_members(pgid: int) -> list[int]:
    """Pids of the process group that are still running (zombies are dead)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _progress(page) -> tuple[int, str]:
    bar = page.locator("#train-progress-bar")
    return int(bar.get_attribute("data-step") or 0), bar.get_attribute("data-state") or ""


def test_panel_starts_a_job_and_shows_progress_advancing(project, serve_app, page):
    from studio.synthetic import write_synthetic_dataset

    write_synthetic_dataset(project.datasets_dir / "reach", episodes=3, frames=40, environment_state=True)
    url = serve_app(project)
    page.goto(url + "?panel=Train")
    page.locator("#train-submit").wait_for(state="visible")
    steps = page.locator("#train-steps input")
    steps.fill("100000")  # far more than the test waits for: only a cancel ends it
    page.locator("#train-batch input").fill("4")
    page.locator("#train-save-freq input").fill("500")
    page.locator("#train-submit").click()
    page.locator("#train-message").get_by_text(re.compile(r"Queued job \d+")).wait_for(timeout=30_000)

    (job,) = jobs.list_jobs(project)
    assert job.spec["steps"] == 100000 and job.spec["dataset"].endswith("reach")
    page.wait_for_function(
        "() => { const b = document.querySelector('#train-progress-bar');"
        " return b && Number(b.dataset.step) > 0; }", timeout=150_000)
    first, _ = _progress(page)
    page.wait_for_function(
        f"() => Number(document.querySelector('#train-progress-bar').dataset.step) > {first}", timeout=60_000)
    later, state = _progress(page)
    assert later > first and state in ("running", "succeeded")
    assert page.locator("#train-queue").get_by_text(job.name).count() >= 1
    assert page.locator("#train-loss .js-plotly-plot").count() == 1  # the loss curve is drawn

    # closing the tab does not stop the job: a fresh page shows it further along. (The first
    # page is closed, not navigated: its requests in flight are aborted then, and the errors
    # gradio logs for them belong to a page nobody looks at.)
    assert not page.console_errors.errors()
    first_tab, page = page, watch_console(page.context.new_page())
    first_tab.close()
    page.goto(url + "?panel=Train")
    page.wait_for_function(
        f"() => {{ const b = document.querySelector('#train-progress-bar');"
        f" return b && Number(b.dataset.step) > {later}; }}", timeout=60_000)
    page.locator("#train-job input").fill(str(job.id))
    page.locator("#train-job input").press("Enter")

    # cancel from the panel: the trainer's process group is stopped
    running = jobs.get_job(project, job.id)
    assert running.state == jobs.RUNNING and running.pgid and live_group_members(running.pgid)
    page.locator("#train-cancel").click()
    page.locator("#train-message").get_by_text(re.compile(r"cancelled")).wait_for(timeout=30_000)
    assert jobs.get_job(project, job.id).state == jobs.CANCELLED
    assert not live_group_members(running.pgid), "the trainer's processes outlived the cancel"
    assert not page.console_errors.errors()
