"""The embedded Rerun viewer draws every recording it is asked to play: consecutive plays
in each panel are checked on the PIXELS of the viewer (a blank view is a dark background
with grey grid lines; a drawn one has thousands of coloured pixels: curves, video, 3D), and
a play of another recording must change the views' titles (its entities' names): the
previous recording, still playing, changes its pixels by itself and keeps its titles."""

from __future__ import annotations

import itertools
import time

import pytest
from helpers import (
    DRAWN,
    changed_pixels,
    coloured_pixels,
    free_port,
    sim_rollout_set,
    title_bar,
    viewer_shot,
    wait_http,
)

from studio.synthetic import write_synthetic_dataset

RETITLED = 10  # title-bar pixels that change when another recording is shown (26 for episode_0 → _3 in
# Curate, 926 for episode_0 → _1 in Datasets); playing one recording changes none


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One project and one served app for the whole module (browser tests are slow here)."""
    from panels.app import build_app
    from studio.project import open_project

    project = open_project(tmp_path_factory.mktemp("viewer") / "home")
    sim_rollout_set(project.rollouts_dir / "ckpt-a", [17, 18, 19])
    sim_rollout_set(project.rollouts_dir / "ckpt-b", [17, 18, 19], frames=(55, 35, 45))
    write_synthetic_dataset(project.datasets_dir / "demos", episodes=4, frames=[50, 70, 40, 60],
                            videos=("observation.images.front", "observation.images.wrist"), seed=5)
    # 40 s long: time to see space pause and resume its playback
    write_synthetic_dataset(project.datasets_dir / "long", episodes=1, frames=1200,
                            videos=("observation.images.front",), seed=6)
    (project.workspaces_dir).mkdir(parents=True, exist_ok=True)
    (project.workspaces_dir / "watch.md").write_text(
        "---\ntitle: Watch\ndataset: demos\n---\n\n# Two episodes\n\n"
        "```{playback}\n:id: first\n:episode: 0\n```\n\n```{playback}\n:id: second\n:episode: 1\n```\n")
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


def wait_drawn(page, selector: str, previous: bytes | None = None, timeout: float = 180.0,
               same_recording: bool = False) -> bytes:
    """Poll the viewer until it is drawn (coloured pixels ≥ DRAWN) and, after a previous play,
    shows something else than before: another recording (unless `same_recording`) retitles
    the views. Returns the last screenshot; fails with the counts."""
    deadline = time.monotonic() + timeout
    counts = []
    titles = title_bar(previous) if previous is not None else None
    while True:
        png = viewer_shot(page, selector)
        n = coloured_pixels(png) if png else 0
        d = changed_pixels(previous, png) if previous is not None and png else None
        t = changed_pixels(titles, title_bar(png)) if previous is not None and png else None
        counts.append((n, d, t))
        if n >= DRAWN and (previous is None or (d >= 2000 and (same_recording or t >= RETITLED))):
            return png
        if time.monotonic() > deadline:
            pytest.fail(f"{selector} not drawn: (coloured, changed, retitled) pixels over time {counts[-8:]}")
        page.wait_for_timeout(500)


def motion(page, selector: str, gap_ms: int = 700) -> int:
    """Pixels that change over ~1.5 s in the right half of the viewer (plots and time panel,
    where the time cursor runs while playing; not the cameras, whose loading spinner turns)."""
    loc = page.locator(selector).first
    loc.evaluate("el => el.scrollIntoView({block: 'start'})")
    box = loc.bounding_box()
    clip = {"x": box["x"] + box["width"] / 2, "y": box["y"], "width": box["width"] / 2, "height": box["height"]}
    shots = [page.screenshot(clip=clip)]
    for _ in range(2):
        page.wait_for_timeout(gap_ms)
        shots.append(page.screenshot(clip=clip))
    return max(changed_pixels(a, b) for a, b in itertools.pairwise(shots))


def playing(page, selector: str) -> bool:
    """Whether the viewer's playback runs (its time cursor moves) or stands still."""
    n = motion(page, selector)
    if n < 100:
        return False
    if n > 300:
        return True
    n = motion(page, selector)  # in between: look again
    assert n < 100 or n > 300, f"{selector}: cannot tell whether it plays ({n} pixels changed)"
    return n > 300


def test_rollouts_consecutive_plays_each_draw(served, page):
    _project, url = served
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


def test_datasets_plays_episodes_with_keys_and_buttons(served, page):
    project, url = served
    root = project.datasets_dir / "demos"
    open_panel(page, url, "Datasets", "#datasets-source textarea, #datasets-source input")
    page.locator("#datasets-source textarea, #datasets-source input").first.fill(str(root))
    page.locator("#datasets-open").click()
    page.locator("#datasets-overview").get_by_text("demos").first.wait_for()
    page.get_by_role("tab", name="Episode", exact=True).click()
    page.locator("#datasets-show-episode").click()
    page.locator("#datasets-episode-info").get_by_text("Episode 0").wait_for()
    page.locator("#datasets-camera-note").get_by_text("playing").wait_for()
    assert "playing: observation.images.front, observation.images.wrist" in \
        page.locator("#datasets-camera-note").inner_text()
    first = wait_drawn(page, "#datasets-viewer")
    page.locator("#datasets-episode-info").click()  # focus on the page, outside any field
    page.keyboard.press("ArrowRight")
    page.locator("#datasets-episode-info").get_by_text("Episode 1").wait_for()
    second = wait_drawn(page, "#datasets-viewer", previous=first)
    page.locator("#datasets-episode-next").click()
    page.locator("#datasets-episode-info").get_by_text("Episode 2").wait_for()
    third = wait_drawn(page, "#datasets-viewer", previous=second)
    page.locator("#datasets-episode-info").click()
    page.keyboard.press("ArrowLeft")  # back to an episode played before (its recording was closed)
    page.locator("#datasets-episode-info").get_by_text("Episode 1").wait_for()
    wait_drawn(page, "#datasets-viewer", previous=third)
    deadline = time.monotonic() + 60
    while playing(page, "#datasets-viewer"):  # 70 frames: its playback ends within seconds
        assert time.monotonic() < deadline, "episode 1 kept playing for a minute"
    ended = viewer_shot(page, "#datasets-viewer")
    page.locator("#datasets-show-episode").click()  # the episode on screen, played again: from frame 0
    wait_drawn(page, "#datasets-viewer", previous=ended, same_recording=True)
    assert page.locator("#datasets-viewer canvas").count() == 1  # one viewer, not one per play
    assert not page.console_errors.errors(), page.console_errors


def test_datasets_space_pauses_and_resumes_playback(served, page):
    project, url = served
    from urllib.parse import quote

    open_panel(page, url, f"Datasets&dataset={quote(str(project.datasets_dir / 'long'))}",
               "#datasets-source textarea, #datasets-source input")
    page.locator("#datasets-overview").get_by_text("1,200").first.wait_for()
    page.get_by_role("tab", name="Episode", exact=True).click()
    page.locator("#datasets-show-episode").click()
    page.locator("#datasets-episode-info").get_by_text("Episode 0").wait_for()
    wait_drawn(page, "#datasets-viewer")
    page.locator("#datasets-episode-info").click()  # focus on the page, outside any field
    before = playing(page, "#datasets-viewer")  # an opened recording plays from frame 0 (40 s)
    page.keyboard.press(" ")
    assert playing(page, "#datasets-viewer") is not before, f"space did not {'pause' if before else 'play'}"
    page.keyboard.press(" ")
    assert playing(page, "#datasets-viewer") is before, f"a second space did not {'play' if before else 'pause'}"
    page.locator("#datasets-episode input").press(" ")  # typed into the episode field: not for the viewer
    assert playing(page, "#datasets-viewer") is before
    assert not page.console_errors.errors(), page.console_errors


def test_leaving_and_coming_back_redraws_the_episode(served, page):
    """gradio 5 unmounts a hidden panel's components: the viewer is stopped when its panel is left
    (no canvas, nothing playing unseen) and, back in the panel, a new one draws the episode again."""
    project, url = served
    from urllib.parse import quote

    open_panel(page, url, f"Datasets&dataset={quote(str(project.datasets_dir / 'demos'))}",
               "#datasets-source textarea, #datasets-source input")
    page.locator("#datasets-overview").get_by_text("demos").first.wait_for()
    page.get_by_role("tab", name="Episode", exact=True).click()
    page.locator("#datasets-episode input").fill("2")
    page.locator("#datasets-show-episode").click()
    page.locator("#datasets-episode-info").get_by_text("Episode 2").wait_for()
    wait_drawn(page, "#datasets-viewer")
    page.locator("#studio-nav").get_by_text("Home", exact=True).click()
    page.locator("#panel-home").wait_for(state="visible")
    page.wait_for_function("document.querySelectorAll('#datasets-viewer canvas').length === 0", timeout=30_000)
    page.locator("#studio-nav").get_by_text("Datasets", exact=True).click()
    page.locator("#panel-datasets").wait_for(state="visible")
    wait_drawn(page, "#datasets-viewer")
    assert page.locator("#datasets-viewer canvas").count() == 1
    assert page.locator("#datasets-episode-info").get_by_text("Episode 2").count() == 1
    assert not page.console_errors.errors(), page.console_errors


def test_curate_and_compare_consecutive_plays_each_draw(served, page):
    project, url = served
    open_panel(page, url, "Curate", "#curate-dataset input")
    page.locator("#curate-dataset input").fill(str(project.datasets_dir / "demos"))
    page.locator("#curate-dataset input").press("Enter")
    page.click("#curate-load")
    page.get_by_text("of 4 episodes").first.wait_for()
    page.get_by_text("Play the picked episode").click()
    shots = None
    for ep in ("0", "3"):
        page.locator("#curate-tag-episodes textarea").fill(ep)
        page.click("#curate-play")
        page.locator("#curate-play-note").get_by_text(f"episode {ep}").wait_for()
        shots = wait_drawn(page, "#curate-viewer", previous=shots)

    page.locator("#studio-nav").get_by_text("Compare", exact=True).click()
    page.wait_for_selector("#compare-run")
    for label in ("ckpt-a", "ckpt-b"):
        page.click("#compare-sets input")
        page.locator("ul.options li", has_text=label).first.click()
    page.keyboard.press("Escape")
    page.click("#compare-run")
    page.locator("#compare-verdict").get_by_text("ckpt").first.wait_for()
    shots = None
    for seed in ("17", "18"):
        page.locator("#compare-seed input").click()
        page.get_by_role("option", name=seed, exact=True).click()
        page.click("#compare-play")
        page.locator("#compare-play-status").get_by_text(f"Seed {seed}").wait_for()
        shots = wait_drawn(page, "#compare-viewer", previous=shots)
    assert not page.console_errors.errors(), page.console_errors


def test_workspace_playback_cells_each_draw(served, page):
    _project, url = served
    page.set_default_timeout(90_000)
    page.goto(url + "?panel=Workspaces&workspace=watch")
    page.locator("#ws-cell-1-run").wait_for(timeout=240_000)
    page.locator("#ws-cell-1-run").click()
    first = wait_drawn(page, "#ws-cell-1-out-0")
    page.locator("#ws-cell-2-run").click()
    page.locator("#ws-cell-2-out-0").wait_for()
    wait_drawn(page, "#ws-cell-2-out-0", previous=first)
    wait_drawn(page, "#ws-cell-1-out-0")  # the first cell's viewer, re-rendered, still draws
    assert not page.console_errors.errors(), page.console_errors
