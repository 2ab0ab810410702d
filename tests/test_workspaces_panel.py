"""The Workspaces panel in headless chromium: create a workspace, add/run/move/delete cells,
save; an invalid file shows the bad cell; a viewer may run but not change workspaces."""

from studio.workspaces import read


def _synth(project):
    from studio.synthetic import write_synthetic_dataset

    write_synthetic_dataset(project.datasets_dir / "synth", episodes=6, frames=30, fps=10)


def test_notebook_editing_in_the_browser(project, serve_app, page):
    _synth(project)
    (project.workspaces_dir / "mine.md").write_text("---\ntitle: Mine\ndataset: synth\n---\n\n# My notes\n")
    url = serve_app(project)
    page.goto(url + "?panel=Workspaces&workspace=mine")
    page.locator("#ws-cell-0").wait_for()
    assert page.locator("#ws-cell-1").count() == 0

    # add a SQL cell (the kind picker defaults to sql), run it, see its table
    page.locator("#ws-add").click()
    page.locator("#ws-cell-1-run").wait_for()
    page.locator("#ws-cell-1-run").click()
    page.locator("#ws-cell-1-out-0").wait_for()
    assert "6 row(s)" in page.locator("#ws-cell-1-out-0").inner_text()
    path = project.workspaces_dir / "mine.md"
    assert [c.kind for c in read(path).cells] == ["markdown", "sql"]  # autosaved

    # move it above the prose, then delete the prose; the file follows
    page.locator("#ws-cell-1-up").click()
    page.locator("#ws-cell-0-run").wait_for()
    assert [c.kind for c in read(path).cells] == ["sql", "markdown"]
    page.locator("#ws-cell-1-delete").click()
    page.locator("#ws-cell-1").wait_for(state="detached")
    assert [c.kind for c in read(path).cells] == ["sql"]

    # edit the query in the editor and save explicitly
    editor = page.locator("#ws-cell-0-editor .cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" LIMIT 2")
    page.locator("#ws-save").click()
    page.wait_for_function("document.querySelector('#ws-status')?.innerText.includes('Saved')")
    assert read(path).cells[0].source.endswith("LIMIT 2")
    page.locator("#ws-cell-0-run").click()
    page.wait_for_function("document.querySelector('#ws-cell-0-out-0')?.innerText.includes('2 row(s)')")
    assert not page.console_errors.errors(), page.console_errors


def test_invalid_workspace_opens_with_the_bad_cell_named(project, serve_app, page):
    (project.workspaces_dir / "broken.md").write_text("# Hi\n\n```{sql}\nSELECT 1\n```\n\n```{chart}\n:x: a\n")
    url = serve_app(project)
    page.goto(url + "?panel=Workspaces&workspace=broken")
    msg = page.locator("#ws-error")
    msg.wait_for()
    assert "broken.md: line 7 (cell 3): the {chart} cell's fence ``` is never closed" in msg.inner_text()
    assert page.locator("#ws-raw").is_visible()
