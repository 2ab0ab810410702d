"""The Curate panel in headless chromium: filter by a metric, pick on the scatter, tag,
save a selection, export it."""

from __future__ import annotations

import json


from panels.curate import predicate_from_pick, selection_predicate
from studio.curation import selections as sel
from studio.curation import tags
from studio.datasets import open_dataset
from studio.synthetic import write_synthetic_dataset


def test_plot_pick_becomes_a_predicate():
    box = json.dumps({"episodes": [1, 2], "range": {"x": [3.0, 1.0], "y": [0.5, 2.5]}})
    assert predicate_from_pick(box, "duration_s", "jerk") == '"duration_s" BETWEEN 1 AND 3 AND "jerk" BETWEEN 0.5 AND 2.5'
    assert predicate_from_pick(json.dumps({"episodes": [4, 2, 4]}), "a", "b") == "episode_index IN (2, 4)"


def test_saved_selection_round_trips_as_one_predicate(project, tmp_path):
    root = tmp_path / "ds"
    write_synthetic_dataset(root, episodes=6, frames=30, seed=2)
    ds = open_dataset(root)
    tags.add_tags(project, ds, [0, 1, 2, 3], "good")
    s = sel.save_selection(project, "s", ds, predicate="episode_index < 3", tags=["good"], includes=[5], excludes=[1])
    assert sel.resolve(ds, project, predicate=selection_predicate(s)).episodes == sel.resolve_selection(s, ds, project).episodes


def test_curate_panel_filter_tag_save_export(project, serve_app, page, tmp_path):
    root = project.datasets_dir / "demo"
    write_synthetic_dataset(root, episodes=12, frames=40, seed=5)
    ds = open_dataset(root)
    url = serve_app(project)
    page.goto(url + "?panel=Curate")
    page.wait_for_selector("#curate-dataset", timeout=120_000)  # the whole app loads first; slow on a busy machine
    page.locator("#curate-dataset input").fill(str(root))
    page.locator("#curate-dataset input").press("Enter")
    page.click("#curate-load")
    page.get_by_text("of 12 episodes").first.wait_for(timeout=90_000)

    # filter by a metric
    page.locator("#curate-where textarea").fill("quality_pct > 50")
    page.click("#curate-apply")
    page.locator("#curate-summary").get_by_text("6 of 12 episodes").wait_for()

    # a box dragged on the scatter becomes the filter
    plot = page.locator("#curate-scatter .js-plotly-plot .nsewdrag").first
    plot.wait_for()
    box = plot.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3, steps=8)
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] * 0.5, steps=8)  # the upper half
    page.mouse.up()
    page.wait_for_function(
        "() => (document.querySelector('#curate-where textarea') || {}).value.includes('BETWEEN')", timeout=20_000)
    picked = box_episodes(project, ds, page.locator("#curate-where textarea").input_value())
    assert 0 < len(picked) < 12  # the box splits the episodes by jerk
    page.locator("#curate-summary").get_by_text(f"{len(picked)} of 12 episodes").wait_for()
    page.locator("#curate-where textarea").fill("quality_pct > 50")
    page.click("#curate-apply")
    page.locator("#curate-summary").get_by_text("6 of 12 episodes").wait_for()

    # tag the whole selection good, and one episode bad
    page.click("#curate-tag-good")
    page.locator("#curate-tag-status").get_by_text("Tagged 6 episode(s) 'good'").wait_for()
    page.locator("#curate-tag-episodes textarea").fill("0")
    page.click("#curate-tag-bad")
    page.locator("#curate-tag-status").get_by_text("'bad'").wait_for()
    # play the picked episode in the embedded viewer
    page.get_by_text("Play the picked episode").click()
    page.click("#curate-play")
    page.locator("#curate-play-note").get_by_text("episode 0").wait_for(timeout=60_000)
    assert len(tags.tags_by_episode(project, ds)) >= 6

    # save, then export
    page.locator("#curate-sel-name textarea").fill("smooth-and-fast")
    page.click("#curate-save")
    page.locator("#curate-sel-status").get_by_text("smooth-and-fast-r1").wait_for()
    page.click("#curate-export")
    page.locator("#curate-export-status").get_by_text("Exported").wait_for(timeout=60_000)
    out = project.selections_dir / "smooth-and-fast-r1"
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["episodes"] == 6 and prov["selection"]["predicate"] == "quality_pct > 50"
    assert not page.console_errors.errors(), page.console_errors


def box_episodes(project, ds, predicate: str) -> list[int]:
    """Episodes inside the box the predicate names, from the metric values themselves."""
    import re

    from studio.curation.score import scored_metrics

    m = re.fullmatch(r'"(\w+)" BETWEEN (\S+) AND (\S+) AND "(\w+)" BETWEEN (\S+) AND (\S+)', predicate)
    assert m, predicate
    x, x0, x1, y, y0, y1 = m.groups()
    df = scored_metrics(ds, project).df
    inside = df[x].between(float(x0), float(x1)) & df[y].between(float(y0), float(y1))
    return sorted(df.loc[inside, "episode_index"].astype(int))
