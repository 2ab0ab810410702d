"""Running workspaces: cells on a real (synthetic LeRobot) dataset, guided checks, the
notebook session (edit, move, delete, autosave, invalid files), plugin cell kinds."""

import csv

import numpy as np
import pytest

from studio.plugins import PluginHost
from studio.workspaces import (
    Cell, CellKind, Output, RunContext, Workspace, cell_kinds, ensure_guided, list_workspaces, parse, progress,
    read, run_all, run_cell, serialize,
)
from studio.workspaces.checks import CHECKS, score_selection
from studio.workspaces.session import NotebookSession
from studio.workspaces.store import GUIDED_DIR, guided_names

QUALITY = np.array([0.95, 0.9, 0.92, 0.97, 0.2, 0.15, 0.3, 0.1, 0.6, 0.65])


@pytest.fixture
def synth(project):
    """A 10-episode LeRobot v3.0 dataset in the project, and hidden labels like the demo world's."""
    from studio.synthetic import write_synthetic_dataset

    write_synthetic_dataset(project.datasets_dir / "synth", episodes=10, frames=40, fps=10, quality=QUALITY, seed=3)
    with (project.home / "demo_labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["episode_index", "operator", "skill", "success"])
        for i, q in enumerate(QUALITY):
            w.writerow([i, "expert" if q > 0.8 else "novice" if q < 0.5 else "careful", q, 1])
    return project


def ws_of(*cells, dataset="synth"):
    return Workspace(tuple(cells), (("title", "test"), ("dataset", dataset)))


def test_shipped_guided_workspaces_are_valid_and_checked():
    names = guided_names()
    assert names == ["01-first-look", "02-curate", "03-fine-tune", "04-evaluate", "05-compare"]
    kinds = cell_kinds()
    for name in names:
        text = (GUIDED_DIR / f"{name}.md").read_text()
        ws = parse(text, name=name, known_kinds=kinds.keys())
        assert serialize(ws) == text  # shipped files are canonical: saving them changes nothing
        steps = [c for c in ws.cells if c.kind != "markdown"]
        assert steps and all(c.check in CHECKS for c in steps), name
        assert ws.get("dataset") == "pick_cube_demos"


def test_guided_workspaces_are_copied_on_first_use_never_edited_in_place(project):
    shipped = (GUIDED_DIR / "01-first-look.md").read_text()
    assert list_workspaces(project) == guided_names()
    mine = project.workspaces_dir / "01-first-look.md"
    mine.write_text(shipped.replace("Welcome!", "Hello!"))
    assert ensure_guided(project) == []  # the user's copy is kept
    assert "Hello!" in mine.read_text()
    assert (GUIDED_DIR / "01-first-look.md").read_text() == shipped


def test_cells_run_on_a_real_dataset_and_checks_pass(synth):
    ws = ws_of(
        Cell("overview", "", (("check", "opened_dataset"),)),
        Cell("sql", "SELECT episode_index, length FROM episodes ORDER BY length DESC",
             (("id", "q"), ("check", "ran_query"), ("chart", "bar"))),
        Cell("chart", "", (("from", "q"), ("chart", "histogram"), ("x", "length"), ("check", "drew_chart"))),
        Cell("markdown", "Just prose."),
    )
    ctx = RunContext(synth, ws, "mine")
    results = run_all(ctx)
    assert [r.error for r in results] == [None] * 4
    overview, sql, chart, md = results
    assert overview.check.passed and "10 episodes" in overview.check.message
    table = next(o.data for o in sql.outputs if o.kind == "table")
    assert len(table) == 10 and list(table.columns) == ["episode_index", "length"]
    assert any(o.kind == "plotly" for o in sql.outputs)
    assert sql.check.message.startswith("You ran your first query")
    assert chart.check.passed and [o.kind for o in chart.outputs] == ["plotly"]
    assert md.outputs == [Output("markdown", "Just prose.")]
    # the runs are recorded: guided progress survives a closed tab
    done = progress(synth, "mine")
    assert done["q"].passed and done["#1"].passed


def test_failing_cell_is_one_sentence_and_its_check_says_not_yet(synth):
    ws = ws_of(Cell("sql", "SELECT nope FROM nowhere", (("check", "ran_query"),)), Cell("sql", "", ()))
    ctx = RunContext(synth, ws, "bad")
    res = run_cell(ctx, 0)
    assert res.error and "\n" not in res.error and "nowhere" in res.error
    assert not res.check.passed and res.check.message.startswith("Not yet")
    assert "empty" in run_cell(ctx, 1).error
    missing = run_cell(RunContext(synth, ws_of(Cell("overview"), dataset="pick_cube_demos"), "x"), 0)
    assert "studio demo" in missing.error


def test_evaluate_alldata_is_the_all_data_job_not_a_pipeline_stage(project):
    """Workspace 4's baseline (`:checkpoint: alldata`) is the single job trained on the workspace
    dataset itself — never a stage of the recipe's pipeline, never a job on a selection."""
    from studio import jobs
    from studio.curation.selections import save_selection
    from studio.datasets import open_dataset
    from studio.synthetic import write_synthetic_dataset

    root = project.datasets_dir / "reach"
    write_synthetic_dataset(root, episodes=6, frames=30, environment_state=True, seed=1)
    ws = ws_of(Cell("evaluate", "", (("checkpoint", "alldata"), ("check", "rollouts_done"))), dataset="reach")
    res = run_cell(RunContext(project, ws, "mine"), 0)
    assert "no all-data training job yet" in res.error and not res.check.passed
    alldata = jobs.submit(project, jobs.validate(project, dataset="reach", policy="act", steps=30),
                          name="03-fine-tune: act on reach")
    save_selection(project, "few", open_dataset(root), predicate="episode_index < 3")
    pipe = jobs.submit_pretrain_posttrain(project, pretrain="reach", posttrain="few", pretrain_steps=20,
                                          posttrain_steps=10)
    jobs.submit(project, jobs.validate(project, dataset="few", policy="act", steps=30), name="03-fine-tune: act on few")
    assert pipe.jobs[0].id > alldata.id and pipe.jobs[0].name.endswith(" on reach")
    res = run_cell(RunContext(project, ws, "mine"), 0)
    assert res.error.startswith(f"job #{alldata.id}") and "queued" in res.error, res.error
    assert not res.check.passed


def test_curate_cell_saves_selection_and_scores_it_against_the_hidden_truth(synth):
    from studio.curation.selections import get_selection

    ws = ws_of(Cell("curate", "quality_pct >= 50", (("save", "smooth"), ("check", "selection_scored"), ("exclude", "9"))))
    res = run_cell(RunContext(synth, ws, "cur", user="ana"), 0)
    assert res.error is None, res.error
    info = next(o.data for o in res.outputs if o.kind == "json")
    sel = get_selection(synth, "smooth")
    assert sel.author == "ana" and sel.predicate == "quality_pct >= 50" and 9 in sel.excludes
    assert info["kept_count"] == sel.n_episodes and 9 not in info["kept"]
    assert sum(o.kind == "plotly" for o in res.outputs) == 2  # histograms + scatter
    score = score_selection(synth, info["kept"])
    e, n = score["expert"], score["novice"]
    assert f"you kept {e[0]} of {e[1]} expert episodes and {n[0]} of {n[1]} novice ones" in res.check.message
    assert res.check.passed == (e[0] / e[1] >= 0.5 and e[0] / e[1] - n[0] / n[1] >= 0.3)
    # keep everything: the check says why it is not good enough
    ws2 = ws_of(Cell("curate", "", (("save", "all"), ("check", "selection_scored"))))
    res2 = run_cell(RunContext(synth, ws2, "cur"), 0)
    assert not res2.check.passed and "you kept 4 of 4 expert episodes and 4 of 4 novice ones" in res2.check.message


def test_playback_cell_gives_the_viewer_a_recording(synth):
    ws = ws_of(Cell("playback", "", (("episode", "2"), ("check", "played_episode"))))
    res = run_cell(RunContext(synth, ws, "pb"), 0)
    assert res.error is None, res.error
    rrd = next(o.data for o in res.outputs if o.kind == "viewer")
    assert rrd.suffix == ".rrd" and rrd.stat().st_size > 0
    assert res.check.passed and "episode 2" in res.check.message


def test_plugin_cell_kind_parses_runs_and_round_trips(synth):
    from studio.hookspecs import hookimpl

    class Plugin:
        @hookimpl
        def studio_cell_kinds(self):
            return [CellKind("shout", "Upper-cases its source.", lambda cell, ctx: [Output("markdown", cell.source.upper())])]

    host = PluginHost(load_entry_points=False)
    host.register(Plugin(), name="shouter")
    kinds = cell_kinds(host)
    assert "shout" in kinds and "sql" in kinds
    text = "```{shout}\n:id: s\nhello\n```\n"
    ws = parse(text, known_kinds=kinds.keys())
    assert serialize(ws) == text
    res = run_cell(RunContext(synth, ws, "p"), 0, kinds=kinds)
    assert res.outputs == [Output("markdown", "HELLO")]
    # without the plugin the kind is unknown: one sentence, naming the cell
    res = run_cell(RunContext(synth, ws, "p"), 0, kinds=cell_kinds(PluginHost(load_entry_points=False)))
    assert res.error == "cell 1: unknown cell kind 'shout' (is its plugin installed?)"


def test_session_edits_structure_and_autosaves_atomically(synth):
    path = synth.workspaces_dir / "nb.md"
    path.write_text(serialize(ws_of(Cell("markdown", "# Notes"), Cell("sql", "SELECT 1 AS one", (("id", "a"),)))))
    nb = NotebookSession(synth, "nb")
    assert nb.error is None and len(nb.workspace.cells) == 2
    nb.edit(1, ":id: a\n:check: ran_query\nSELECT 2 AS two")
    assert nb.autosave() and not nb.autosave()  # nothing left to save the second time
    saved = read(path)
    assert saved.cells[1].source == "SELECT 2 AS two" and saved.cells[1].check == "ran_query"
    res = nb.run(1)
    assert res.ok and res.check.passed
    i = nb.add("chart")
    assert i == 2 and read(path).cells[2].kind == "chart"  # structural edits autosave
    nb.move(2, -2)
    assert [c.kind for c in read(path).cells] == ["chart", "markdown", "sql"]
    assert nb.results[2] is res  # outputs travel with their cell
    nb.delete(0)
    assert [c.kind for c in read(path).cells] == ["markdown", "sql"]
    assert sorted(p.name for p in synth.workspaces_dir.iterdir() if p.name.startswith(".")) == []
    # a reopened session shows the guided check it passed
    again = NotebookSession(synth, "nb")
    assert again.check_of(1).passed and again.checks_done() == (1, 1)
    # autosave never overwrites what another tab or user saved meanwhile; an explicit save does
    other = NotebookSession(synth, "nb")
    other.edit(0, "# Their notes")
    assert other.autosave()
    again.edit(0, "# My notes")
    assert again.changed_on_disk() and not again.autosave()
    assert "# Their notes" in path.read_text()
    again.save()
    assert "# My notes" in path.read_text()
    # a viewer's edits stay in their tab
    again.readonly = True
    again.edit(1, "SELECT 3")
    assert not again.autosave() and "SELECT 2" in path.read_text()


def test_invalid_file_opens_with_a_message_pointing_at_the_bad_cell_and_can_be_repaired(synth):
    path = synth.workspaces_dir / "broken.md"
    path.write_text("# Title\n\n```{sql}\nSELECT 1\n```\n\n```{sqll}\nSELECT 2\n```\n")
    nb = NotebookSession(synth, "broken")
    assert nb.error.startswith("broken.md: line 7 (cell 3): unknown cell kind 'sqll'")
    assert nb.raw == path.read_text()
    with pytest.raises(Exception, match="unknown cell kind"):
        nb.repair(nb.raw)  # still broken: refused, file untouched
    nb.repair(nb.raw.replace("{sqll}", "{sql}"))
    assert nb.error is None and [c.kind for c in nb.workspace.cells] == ["markdown", "sql", "sql"]


def test_bad_cell_body_edit_is_reported_and_not_saved(synth):
    path = synth.workspaces_dir / "e.md"
    path.write_text(serialize(ws_of(Cell("sql", "SELECT 1"))))
    nb = NotebookSession(synth, "e")
    nb.edit(0, ":id a\nSELECT 1")
    assert not nb.autosave()
    with pytest.raises(Exception, match=r"cell 1, line 1: option line ':id a' is not ':key: value'"):
        nb.save()
    assert path.read_text() == serialize(ws_of(Cell("sql", "SELECT 1")))


def test_cli_runs_a_workspace_and_prints_checks(synth, capsys):
    from studio.cli import main

    (synth.workspaces_dir / "cli.md").write_text(serialize(ws_of(
        Cell("markdown", "# CLI"), Cell("sql", "SELECT count(*) AS n FROM episodes", (("check", "ran_query"),)))))
    assert main(["workspaces", "run", "cli", "--project", str(synth.home)]) == 0
    out = capsys.readouterr().out
    assert "── cell 2 (sql)" in out and "✔ You ran your first query (1 row)." in out and "\n10\n" in out
    assert main(["workspaces", "list", "--project", str(synth.home)]) == 0
    assert "cli\n" in capsys.readouterr().out
    (synth.workspaces_dir / "bad.md").write_text(serialize(ws_of(Cell("sql", "SELECT * FROM nowhere"))))
    assert main(["workspaces", "run", "bad", "--project", str(synth.home)]) == 2
    assert "error: bad: 1 cell(s) failed" in capsys.readouterr().err
    (synth.workspaces_dir / "broken.md").write_text("```{sql}\nSELECT 1\n")
    assert main(["workspaces", "run", "broken", "--project", str(synth.home)]) == 2
    assert "error: broken.md: line 1 (cell 1): the {sql} cell's fence ``` is never closed" in capsys.readouterr().err
