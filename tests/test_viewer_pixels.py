"""The embedded Rerun viewer draws every recording it is asked to play: consecutive plays
in each panel are checked on the PIXELS of the viewer (a blank view is a dark background
with grey grid lines; a drawn one has thousands of coloured pixels: curves, video, 3D)."""

from __future__ import annotations

import json
import time

import pytest

from helpers import changed_pixels, coloured_pixels, free_port, wait_http
from studio.synthetic import write_synthetic_dataset

DRAWN = 4000  # coloured pixels: a drawn view has > 10,000; an empty one a few hundred


def _sim_set(root, seeds, frames=(40, 60, 50)):
    root = write_synthetic_dataset(root, episodes=len(seeds), frames=list(frames)[:len(seeds)],
                                   videos=("observation.images.front",), seed=seeds[0])
    (root / "summary.json").write_text(json.dumps({
        "n_episodes": len(seeds), "success_rate": 0.5, "mean_progress": 0.8, "policy": root.name, "env": "pick_cube",
        "seeds": list(seeds),
        "episodes": [{"episode_index": i, "seed": s, "success": i % 2 == 0, "progress": 1.0 if i % 2 == 0 else 0.4,
                      "steps": 30, "time_to_success_s": 0.5 if i % 2 == 0 else None} for i, s in enumerate(seeds)]}))
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One project and one served app for the whole module (browser tests are slow here)."""
    from panels.app import build_app
    from studio.project import open_project

    project = open_project(tmp_path_factory.mktemp("viewer") / "home")
    _sim_set(project.rollouts_dir / "ckpt-a", [17, 18, 19])
    _sim_set(project.rollouts_dir / "ckpt-b", [17, 18, 19], frames=(55, 35, 45))
    write_synthetic_dataset(project.datasets_dir / "demos", episodes=4, frames=[50, 70, 40, 60],
                            videos=("observation.images.front", "observation.images.wrist"), seed=5)
    demo = build_app(project)
    port = free_port()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, show_api=False,
                allowed_paths=[str(project.home)])
    url = f"http://127.0.0.1:{port}/"
    wait_http(url)
    yield project, url
    demo.close()


def open_panel(page, url: str, panel: str, ready: str) -> None:
    """Open a panel; the first load parses gradio-rerun's 54 MB bundle (a minute on a busy 2-core box)."""
    page.set_default_timeout(90_000)
    page.goto(url + f"?panel={panel}")
    page.wait_for_selector(ready, timeout=240_000)


def shot(page, selector: str) -> bytes:
    return page.locator(selector).screenshot()


def wait_drawn(page, selector: str, previous: bytes | None = None, timeout: float = 60.0) -> bytes:
    """Poll the viewer until it is drawn (coloured pixels ≥ DRAWN) and, after a previous play,
    shows something else than before. Returns the last screenshot; fails with the counts."""
    deadline = time.monotonic() + timeout
    counts = []
    while True:
        png = shot(page, selector)
        n = coloured_pixels(png)
        d = changed_pixels(previous, png) if previous is not None else None
        counts.append((n, d))
        if n >= DRAWN and (previous is None or d >= 2000):
            page.wait_for_timeout(300)
            return shot(page, selector)
        if time.monotonic() > deadline:
            pytest.fail(f"{selector} not drawn: (coloured, changed) pixels over time {counts[-8:]}")
        page.wait_for_timeout(500)


def test_rollouts_consecutive_plays_each_draw(served, page):
    project, url = served
    open_panel(page, url, "Rollouts", "#rollouts-target input")
    page.locator("#rollouts-target input").click()
    page.get_by_role("option", name="rollouts · ckpt-a", exact=False).click()
    page.wait_for_selector("#rollouts-episodes :text('success')")
    page.locator("#rollouts-episode input").fill("0")
    page.click("#rollouts-show")
    page.wait_for_selector("#rollouts-download :text('ckpt-a_ep0')", timeout=90_000)
    first = wait_drawn(page, "#rollouts-viewer")
    page.locator("#rollouts-episode input").fill("2")
    page.click("#rollouts-show")
    page.wait_for_selector("#rollouts-download :text('ckpt-a_ep2')", timeout=90_000)
    second = wait_drawn(page, "#rollouts-viewer", previous=first)
    page.locator("#rollouts-others").locator("textarea, input").first.fill("ckpt-b:1")
    page.click("#rollouts-show")
    page.wait_for_selector("#rollouts-download :text('_vs_')", timeout=90_000)
    wait_drawn(page, "#rollouts-viewer", previous=second)
    assert not page.console_errors.errors(), page.console_errors
