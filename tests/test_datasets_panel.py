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
    page.locator("#datasets-result").get_by_text("grip").first.wait_for()  # the table: drawn a moment later
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
    try:
        page.locator("#datasets-page-info").get_by_text("page 1 of 1 · 4 episodes").wait_for()
    except Exception:  # noqa: BLE001 - seen once under two workers (docs/testing.md): say what the page showed
        pytest.fail(f"no page info after the overview: {page.locator('#datasets-page-info').inner_text()!r}; "
                    f"console: {page.console_errors}")
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


# ---------------------------------------------------------------------------- SQL console (issue 18 item 4)

G1_JOINTS = [f"joint_{i:02d}_with_a_long_humanoid_name.q" for i in range(29)]


def test_console_helpers_round_numbers_shorten_vectors_and_keep_vectors_off_the_x_axis(project):
    import numpy as np
    import pandas as pd

    from studio.console import chart_columns, display_frame, write_csv

    df = pd.DataFrame({"episode_index": [0, 1], "x": [0.1 + 0.2, 1 / 3], "big": [123456.789, 2.5],
                       "action": [np.arange(6, dtype=np.float32) / 3, np.zeros(6, dtype=np.float32)]})
    shown = display_frame(df)
    assert shown["x"].tolist() == [0.3, 0.3333] and shown["big"].tolist() == [123456.789, 2.5]
    assert shown["action"].tolist()[0] == "[0, 0.3333, 0.6667, 1, … (6 values)]"
    assert chart_columns(df) == (["episode_index", "x", "big"], ["episode_index", "x", "big"])
    csv = write_csv(project, df, "demo")
    assert csv.parent == project.home / "cache" / "downloads" / "sql"
    back = pd.read_csv(csv, float_precision="round_trip")
    assert back["x"].tolist() == [0.1 + 0.2, 1 / 3]  # full precision in the file
    assert back["action"].tolist()[1] == "[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]"


def test_chart_axes_choice_and_refusal_of_a_vector_x():
    import numpy as np
    import pandas as pd

    from studio.errors import StudioError

    df = pd.DataFrame({"t": range(100), "small": np.linspace(0, 1, 100), "big": np.linspace(0, 5000, 100),
                       "v": [np.zeros(3)] * 100})
    fig = panel.chart_figure(df, "t", ["small", "big"])  # auto: scales differ 5000× → right axis
    assert [tr.yaxis for tr in fig.data] == ["y", "y2"] and fig.layout.yaxis2.overlaying == "y"
    fig = panel.chart_figure(df, "t", ["small", "big"], "one axis")
    assert [tr.yaxis for tr in fig.data] == [None, None]
    fig = panel.chart_figure(df, "small", ["big", "t"], "one panel per column")
    assert [tr.yaxis for tr in fig.data] == ["y", "y2"] and fig.layout.xaxis.title.text is None
    with pytest.raises(StudioError, match="'v' holds a list per row"):
        panel.chart_figure(df, "v", ["big"])


def _type_sql(page, text: str) -> None:
    page.locator("#datasets-sql .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_sql_console_in_the_browser(project, serve_app, page):
    """Issue 18 item 4 in chromium: folded joint names keep the tabs up and dtype/shape on one
    line; the schema lists views and typed columns; Ctrl+Enter and Shift+Enter run; an error
    stays on the page with the stale result gone; numbers are rounded; the CSV downloads;
    the chart never offers a vector column across and puts a 5000× larger column on a right axis."""
    from urllib.parse import quote

    root = write_synthetic_dataset(project.datasets_dir / "g1", episodes=3, frames=40, state_names=G1_JOINTS,
                                   robot_type="unitree_g1")
    page.goto(serve_app(project) + "?panel=Datasets&dataset=" + quote(str(root)))
    overview = page.locator("#datasets-overview")
    overview.get_by_text("29 names (joint_00_with_a_long_humano…, …)").first.wait_for()
    below = page.get_by_role("tab", name="SQL").bounding_box()["y"] - overview.bounding_box()["y"]
    assert below < 700, below  # 29 names no longer push the tabs down (they did by ~900 px)
    dtype = overview.locator("td span", has_text="float32").first
    assert dtype.bounding_box()["height"] < 30  # one line, not squeezed to two characters a line

    page.get_by_role("tab", name="SQL").click()
    schema = page.locator("#datasets-schema")
    schema.get_by_text("joint_28_with_a_long_humanoid_name.q").first.wait_for()
    assert "FLOAT[]" in schema.inner_text() and "BIGINT" in schema.inner_text()

    status = page.locator("#datasets-sql-status")
    _type_sql(page, "SELECT episode_index, 0.1 + 0.2 AS x, 1 / 3 AS third FROM episodes ORDER BY 1")
    page.keyboard.press("Control+Enter")
    status.get_by_text("3 rows").wait_for()
    result = page.locator("#datasets-result")
    result.get_by_text("0.3333", exact=True).first.wait_for()
    assert "0.333333" not in result.inner_text()

    with page.expect_download() as dl:
        page.locator("#datasets-csv").click()
    lines = Path(dl.value.path()).read_text().splitlines()
    assert lines[0] == "episode_index,x,third" and len(lines) == 4 and lines[1] == "0,0.3,0.3333333333333333"  # full precision

    _type_sql(page, "SELECT nonsense FROM episodes")
    page.keyboard.press("Shift+Enter")
    status.get_by_text("nonsense").first.wait_for()
    assert "⛔" in status.inner_text()
    result.wait_for(state="hidden")  # the previous result is not left under the error
    page.wait_for_timeout(5000)  # a toast would be gone by now; the sentence is not
    assert "nonsense" in status.inner_text()

    _type_sql(page, 'SELECT "action", frame_index, "action.joint_00_with_a_long_humanoid_name.q" AS small, '
                    '"action.joint_00_with_a_long_humanoid_name.q" * 5000 + 10000 AS big FROM frames '
                    'WHERE episode_index = 0 ORDER BY frame_index')
    page.keyboard.press("Control+Enter")
    status.get_by_text("40 rows").wait_for()
    page.locator("#datasets-chart-x input").click()
    options = page.locator("ul.options li")
    options.first.wait_for()
    across = [t.replace("✓", "").strip() for t in options.all_inner_texts()]
    assert across == ["frame_index", "small", "big"]  # the vector column "action" is not offered
    page.keyboard.press("Escape")
    page.locator("#datasets-chart").click()
    plot = page.locator("#datasets-chart-plot .js-plotly-plot")
    plot.wait_for()
    assert plot.evaluate("el => [el.layout.xaxis.title.text, !!el.layout.yaxis2]") == ["frame_index", True]
    assert not page.console_errors.errors(), page.console_errors
