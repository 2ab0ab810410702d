"""The Datasets panel: its helpers on real data, and the main path in headless chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from panels import datasets as panel
from panels.registry import AppContext
from studio.plugins import PluginHost
from studio.synthetic import write_synthetic_dataset

SO101 = Path(__file__).resolve().parent / "data" / "so101_record_test"


@pytest.fixture
def ctx(project):
    return AppContext(project=project, plugins=PluginHost(load_entry_points=False))


def test_overview_and_episode_view_on_so101(ctx):
    ds = panel.open_source(ctx, str(SO101))
    md = panel.overview_markdown(ds)
    assert "| so101_follower | 30 | 4 | 1,492 | 0.01 | v3.0 |" in md
    assert "declared video is absent for all episodes" in md
    arrays = panel.catalog(ctx, ds).episode_arrays(2, [ds.state_key, ds.action_key])
    fig = panel.joint_figure(ds, arrays)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["shoulder_pan.pos", "shoulder_lift.pos", "elbow_flex.pos", "wrist_flex.pos", "wrist_roll.pos", "gripper.pos"]
    assert len(fig.data) == 12 and len(fig.data[0].x) == 372
    items, note = panel.camera_view(ds, 2)
    assert items == [] and "observation.images.top" in note and "absent" in note
    assert str(SO101.resolve()) in panel.source_choices(ctx)  # remembered as recent


def test_episodes_page_is_sorted_and_paged_on_the_server(ctx, tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=30, frames=[10 + (i * 7) % 30 for i in range(30)])
    ds = panel.open_source(ctx, str(root))
    df, page, info = panel.episodes_page(ctx, ds, "length", True, 2, 10)
    assert len(df) == 10 and page == 2 and info == "page 2 of 3 · 30 episodes"
    lengths = sorted((10 + (i * 7) % 30 for i in range(30)), reverse=True)
    assert df["length"].tolist() == lengths[10:20]
    _, page, _ = panel.episodes_page(ctx, ds, "length; DROP", False, 99, 10)
    assert page == 3  # unknown sort column falls back, page clamps


def test_chart_figure_kinds():
    import pandas as pd

    fig = panel.chart_figure(pd.DataFrame({"episode_index": [0, 1, 2], "length": [5, 6, 7]}))
    assert fig.data[0].type == "bar"
    fig = panel.chart_figure(pd.DataFrame({"t": range(100), "v": range(100)}))
    assert fig.data[0].type == "scatter" and fig.data[0].mode == "lines"
    assert panel.chart_figure(pd.DataFrame({"length": [1, 2, 2]})).data[0].type == "histogram"
    from studio.errors import StudioError

    with pytest.raises(StudioError):
        panel.chart_figure(pd.DataFrame({"task": ["a"]}))


def test_panel_opens_dataset_and_runs_query(project, serve_app, page):
    root = write_synthetic_dataset(project.datasets_dir / "demo_ds", episodes=4, frames=[20, 25, 30, 35],
                                   videos=("observation.images.front",))
    url = serve_app(project)
    page.set_default_timeout(60_000)  # a shared 2-core machine can be slow; the path is what is tested
    page.goto(url + "?panel=Datasets")
    page.locator("#datasets-source textarea, #datasets-source input").first.fill(str(root))
    page.locator("#datasets-open").click()
    page.locator("#datasets-overview").get_by_text("Problems: none found").wait_for()
    assert "demo_ds" in page.locator("#datasets-overview").inner_text()
    page.locator("#datasets-episodes").get_by_text("35", exact=True).first.wait_for()
    # server-side sorting: longest episode first
    page.locator("#datasets-desc input").check()
    page.locator("#datasets-page-info").get_by_text("page 1 of 1").wait_for()
    first_row = page.locator("#datasets-episodes tbody tr").first
    first_row.get_by_text("35", exact=True).wait_for()
    # clicking a row opens that episode in the episode view
    # gradio draws the visible cell over a sizing copy of the table: click where the cell is
    first_row.locator("td").first.click(force=True)
    page.get_by_role("tab", name="Episode", exact=True).click()
    page.locator("#datasets-episode-info").get_by_text("Episode 3").wait_for()

    page.get_by_role("tab", name="SQL").click()
    editor = page.locator("#datasets-sql .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type('SELECT episode_index, max("action.gripper.pos") AS grip FROM frames GROUP BY 1 ORDER BY 1')
    page.locator("#datasets-run").click()
    page.locator("#datasets-sql-status").get_by_text("4 rows").wait_for()
    assert "grip" in page.locator("#datasets-result").inner_text()
    page.locator("#datasets-chart").click()
    page.locator("#datasets-chart-plot .js-plotly-plot, #datasets-chart-plot .plotly").first.wait_for()

    page.get_by_role("tab", name="Episode", exact=True).click()
    page.locator("#datasets-episode input").fill("2")
    page.locator("#datasets-show-episode").click()
    page.locator("#datasets-episode-info").get_by_text("Episode 2").wait_for()
    page.locator("#datasets-viewer canvas").wait_for(state="attached")  # the episode plays in the viewer
    assert "playing: observation.images.front" in page.locator("#datasets-camera-note").inner_text()

    # a refused query shows one sentence, not a traceback
    page.get_by_role("tab", name="SQL").click()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("SELECT * FROM read_csv('/etc/passwd')")
    page.locator("#datasets-run").click()
    page.get_by_text("read_csv() is not allowed").first.wait_for()
    assert not page.console_errors.errors(), page.console_errors


def test_panel_url_opens_so101_and_plots_six_joints(project, serve_app, page):
    from urllib.parse import quote

    url = serve_app(project)
    page.set_default_timeout(60_000)
    page.goto(url + "?panel=Datasets&dataset=" + quote(str(SO101)))
    page.locator("#datasets-overview").get_by_text("Problems (2)").wait_for()
    text = page.locator("#datasets-overview").inner_text()
    assert "so101_follower" in text and "1,492" in text and "0 present, 4 missing" in text
    page.locator("#datasets-page-info").get_by_text("page 1 of 1 · 4 episodes").wait_for()
    page.get_by_role("tab", name="SQL").click()
    page.locator("#datasets-run").click()  # the pre-filled query
    page.locator("#datasets-sql-status").get_by_text("4 rows").wait_for()
    page.get_by_role("tab", name="Episode", exact=True).click()
    page.locator("#datasets-show-episode").click()
    page.locator("#datasets-episode-info").get_by_text("Episode 0").wait_for()
    page.locator("#datasets-viewer canvas").wait_for(state="attached")  # joints plotted in the viewer
    page.locator("#datasets-camera-note").get_by_text("observation.images.front").wait_for()
    assert "missing observation.images.top: video file" in page.locator("#datasets-camera-note").inner_text()
    assert not page.console_errors.errors(), page.console_errors
