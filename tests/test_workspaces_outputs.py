"""Cell outputs live in the workspace file: a reopened workspace shows its table, chart and
errors as they were; the file stays a readable Markdown notebook that round-trips."""

from __future__ import annotations

import pytest

from studio.workspaces import Cell, Workspace, parse, read, serialize
from studio.workspaces.format import WorkspaceError
from studio.workspaces.session import NotebookSession


@pytest.fixture
def synth(project):
    from studio.synthetic import write_synthetic_dataset

    write_synthetic_dataset(project.datasets_dir / "synth", episodes=6, frames=20, fps=10, seed=3)
    return project


def _ws(*cells):
    return Workspace(tuple(cells), (("title", "t"), ("dataset", "synth")))


def test_outputs_are_saved_in_the_file_and_shown_on_reopen(synth):
    path = synth.workspaces_dir / "nb.md"
    path.write_text(serialize(_ws(
        Cell("markdown", "# Notes"),
        Cell("sql", "SELECT episode_index, length FROM episodes ORDER BY episode_index", (("id", "len"), ("chart", "bar"))),
        Cell("sql", "SELECT * FROM no_such_table"))))
    nb = NotebookSession(synth, "nb")
    first = nb.run(1)
    failed = nb.run(2)
    assert first.ok and failed.error
    text = path.read_text()
    assert "```{output}" in text and '"kind":"table"' in text and '"kind":"plotly"' in text

    again = NotebookSession(synth, "nb")  # a closed tab, reopened
    shown = again.results[1]
    assert shown is not None and [o.kind for o in shown.outputs] == [o.kind for o in first.outputs]
    table = next(o.data for o in shown.outputs if o.kind == "table")
    ran = next(o.data for o in first.outputs if o.kind == "table")
    assert table.values.tolist() == ran.values.tolist() and list(table.columns) == list(ran.columns)
    chart = next(o.data for o in shown.outputs if o.kind == "plotly")
    assert list(chart.data[0].y) == list(next(o.data for o in first.outputs if o.kind == "plotly").data[0].y)
    assert again.results[2].error == failed.error
    # editing a cell's text keeps its outputs; the editor never shows them
    again.edit(1, ":id: len\n:chart: bar\nSELECT 1 AS one")
    assert again.autosave() and "{output}" not in again.body(1)
    assert read(path).cells[1].outputs == NotebookSession(synth, "nb").workspace.cells[1].outputs != ""


def test_a_viewers_runs_do_not_write_outputs(synth):
    path = synth.workspaces_dir / "v.md"
    path.write_text(serialize(_ws(Cell("sql", "SELECT 1 AS one"))))
    before = path.read_text()
    nb = NotebookSession(synth, "v", readonly=True)
    assert nb.run(0).ok and path.read_text() == before


def test_output_blocks_round_trip_and_are_refused_out_of_place():
    ws = _ws(Cell("markdown", "# a"), Cell("sql", "SELECT 1", (("id", "x"),), outputs='{"kind":"text","data":"1"}'))
    text = serialize(ws)
    assert parse(text) == ws and serialize(parse(text)) == text
    with pytest.raises(WorkspaceError, match=r"line 3 \(cell 1\): an \{output\} block belongs right after"):
        parse("# a\n\n```{output}\n{}\n```\n")
    damaged = _ws(Cell("sql", "SELECT 1", outputs='not json\n{"kind":"text","data":"kept"}'))
    from studio.workspaces.outputs import load

    outs, err = load(damaged.cells[0].outputs)
    assert [(o.kind, o.data) for o in outs] == [("text", "kept")] and err is None
