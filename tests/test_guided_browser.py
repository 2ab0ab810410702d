"""A newcomer's first launch, in headless chromium: the studio opens guided workspace 1,
they run each step and see each check pass, then do the same in workspace 2 (curate), whose
final check scores their saved selection against the demo world's hidden truth."""

import re
import shutil

from studio.project import open_project
from studio.workspaces import read
from studio.workspaces.store import GUIDED_DIR

EXPECTED_1 = ["You opened your first dataset", "You ran your first query", "You drew your first chart",
              "You played episode 0"]
EXPECTED_2 = ["You ran your first query", "You played episode", "Selection 'smooth-and-fast' saved: you kept"]


def _fresh_copy(demo_world, tmp_path):
    """The shared demo world is read-only: the newcomer works in a copy (with a fresh studio.db)."""
    home = tmp_path / "home"
    shutil.copytree(demo_world.home, home, ignore=shutil.ignore_patterns("studio.db*", "studio.json", "backups", "cache", "workspaces"))
    return open_project(home)


def _walk(page, name, expected):
    steps = [i for i, c in enumerate(read(GUIDED_DIR / f"{name}.md").cells) if c.check]
    assert len(steps) == len(expected)
    for i, text in zip(steps, expected):
        assert "run this cell" in page.locator(f"#ws-cell-{i}-check").inner_text()
        page.locator(f"#ws-cell-{i}-run").click()
        page.locator(f"#ws-cell-{i}-check.ws-check-pass").wait_for(timeout=120_000)
        assert text in page.locator(f"#ws-cell-{i}-check").inner_text()
    page.get_by_text("all steps done").wait_for()
    return steps


def test_newcomer_walks_guided_workspaces_1_and_2(demo_world, tmp_path, serve_app, page):
    from studio.workspaces.checks import score_selection, score_sentence

    project = _fresh_copy(demo_world, tmp_path)
    url = serve_app(project)

    # first launch: the studio opens on guided workspace 1
    page.goto(url)
    page.locator("#panel-workspaces").wait_for(state="visible")
    assert page.locator("#studio-nav input[value='Workspaces']").is_checked()
    page.locator("#ws-cell-0").wait_for()
    assert "First look" in page.locator("#ws-header").inner_text()
    _walk(page, "01-first-look", EXPECTED_1)
    page.locator("#ws-cell-1-out-0").wait_for()  # the overview is shown, not just checked
    assert page.locator("#ws-cell-3 .js-plotly-plot").count() == 1  # the query's chart
    assert page.locator("#ws-cell-7 canvas").count() >= 1  # the embedded viewer

    # workspace 2, picked from the menu as the last cell says
    page.locator("#ws-picker input").click()
    page.get_by_role("option", name="02-curate").click()
    page.locator("#ws-header").get_by_text("Curate").wait_for()
    page.locator("#ws-cell-1-label").get_by_text("metrics").wait_for()  # workspace 2's cells are shown
    steps = _walk(page, "02-curate", EXPECTED_2)
    final = page.locator(f"#ws-cell-{steps[-1]}-check").inner_text()

    # the sentence is the truth about the selection the studio saved
    from studio.curation.selections import get_selection, resolve_selection
    from studio.datasets import open_dataset

    sel = get_selection(project, "smooth-and-fast")
    kept = resolve_selection(sel, open_dataset(project.datasets_dir / "pick_cube_demos"), project).episodes
    assert score_sentence(score_selection(project, kept)) in final
    assert re.search(r"you kept \d+ of \d+ expert episodes and \d+ of \d+ novice ones", final)
    assert page.locator(f"#ws-cell-{steps[-1]} .js-plotly-plot").count() == 2  # histograms + scatter

    # the newcomer's copy is saved in the project; the shipped file is untouched
    assert (project.workspaces_dir / "02-curate.md").is_file()

    assert not page.console_errors.errors(), page.console_errors
    # only the first launch opens the tour; progress survives reopening the tab
    page.goto(url)
    page.locator("#panel-home").wait_for(state="visible")
    page.goto(url + "?panel=Workspaces&workspace=02-curate")
    page.locator(f"#ws-cell-{steps[-1]}-check.ws-check-pass").wait_for()
