"""Workspaces panel actions: New and Run all through the panel's own handlers, Repair in the
browser (its button is drawn per invalid file); each checked on the file and the results."""

from __future__ import annotations

import gradio as gr
import pytest
from helpers import handler

from studio.workspaces import read

BROKEN = "# Hi\n\n```{sql}\nSELECT 1\n```\n\n```{chart}\n:x: a\n"


@pytest.fixture
def ws_panel(project):
    from panels import workspaces
    from panels.registry import AppContext
    from studio.plugins import host

    with gr.Blocks() as demo:
        workspaces.build(AppContext(project=project, plugins=host()))
    return demo


def test_new_workspace_button_creates_the_file(project, ws_panel):
    create = handler(ws_panel, "ws-new")
    req = gr.Request()
    nb, tick, picker, header, status, cleared = create("my-analysis", 0, req)
    path = project.workspaces_dir / "my-analysis.md"
    assert path.is_file() and nb.path == path and tick == 1 and cleared == ""
    assert picker["value"] == "my-analysis" and "my-analysis" in [c[0] if isinstance(c, tuple) else c
                                                                 for c in picker["choices"]]
    assert "Opened `my-analysis.md`" in status and "### my-analysis" in header
    assert [c.kind for c in read(path).cells] == ["markdown"]
    before = path.read_text()
    with pytest.raises(gr.Error, match="workspace 'my-analysis'.*already exists"):
        create("my-analysis", 1, req)
    with pytest.raises(gr.Error, match="letters, digits"):
        create("../escape", 1, req)
    assert path.read_text() == before and not (project.home / "escape.md").exists()


def test_run_all_runs_every_cell_and_names_the_failed_ones(project, ws_panel):
    from studio.synthetic import write_synthetic_dataset
    from studio.workspaces.session import NotebookSession

    write_synthetic_dataset(project.datasets_dir / "synth", episodes=6, frames=[20, 30, 25, 40, 22, 31], fps=10)
    (project.workspaces_dir / "all.md").write_text(
        "---\ntitle: All\ndataset: synth\n---\n\n# Notes\n\n"
        "```{sql}\nSELECT episode_index, length FROM episodes ORDER BY length DESC\n```\n\n"
        "```{sql}\nSELECT no_such_column FROM episodes\n```\n\n"
        "```{sql}\nSELECT count(*) AS n FROM frames\n```\n")
    run_all = handler(ws_panel, "ws-run-all")
    nb = NotebookSession(project, "all")
    tick, header, status = run_all(nb, 1, gr.Request())
    assert tick == 2 and status == "<small>Ran all cells; cells 3 failed</small>"
    table = nb.results[1].outputs[0].data
    assert table["length"].tolist() == [40, 31, 30, 25, 22, 20]
    assert "no_such_column" in nb.results[2].error and "\n" not in nb.results[2].error
    assert int(nb.results[3].outputs[0].data["n"].iloc[0]) == 168  # cells after a failure still run


def test_repair_saves_the_fixed_file_and_refuses_a_still_broken_one(project, serve_app, page):
    path = project.workspaces_dir / "broken.md"
    path.write_text(BROKEN)
    page.goto(serve_app(project) + "?panel=Workspaces&workspace=broken")
    page.locator("#ws-error").wait_for()

    def replace_text(text: str) -> None:
        editor = page.locator("#ws-raw .cm-content")
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(text)

    replace_text(BROKEN + "\n```{nope}\nx\n")
    page.locator("#ws-repair").click()
    page.get_by_text("line 7 (cell 3)").last.wait_for()  # the same sentence: still broken, nothing written
    assert path.read_text() == BROKEN

    replace_text("# Hi\n\n```{sql}\nSELECT 41 + 1 AS answer\n```\n")
    page.locator("#ws-repair").click()
    page.locator("#ws-cell-1-run").wait_for()
    assert page.locator("#ws-error").count() == 0
    assert [c.kind for c in read(path).cells] == ["markdown", "sql"]
    assert "SELECT 41 + 1 AS answer" in path.read_text()
    assert "SELECT 41 + 1 AS answer" in page.locator("#ws-cell-1").inner_text()  # the reopened file's cell
    assert "Repaired and reopened" in page.locator("#ws-status").inner_text()
