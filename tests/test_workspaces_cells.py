"""Cells that drive jobs, simulation and statistics: train (pre-train → post-train),
evaluate (simulated rollouts), compare, and side-by-side playback."""

import json
from pathlib import Path

from studio.workspaces import Cell, RunContext, Workspace, run_cell


def _ws(*cells):
    return Workspace(tuple(cells), (("title", "t"), ("dataset", "synth")))


def test_evaluate_compare_and_side_by_side_playback_of_rollouts(project, monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    ws = _ws(
        Cell("evaluate", "", (("policy", "scripted:expert"), ("name", "exp"), ("episodes", "1"), ("workers", "1"),
                              ("check", "rollouts_done"))),
        Cell("evaluate", "", (("policy", "scripted:distracted"), ("name", "dis"), ("episodes", "1"), ("workers", "1"),
                              ("check", "rollouts_done"))),
        Cell("compare", "", (("a", "dis"), ("b", "exp"), ("check", "compared"))),
        Cell("playback", "", (("rollouts", "dis"), ("b_rollouts", "exp"), ("episode", "0"), ("check", "played_episode"))),
    )
    ctx = RunContext(project, ws, "eval")
    ev = run_cell(ctx, 0)
    assert ev.error is None, ev.error
    assert ev.check.passed and "scripted:expert on 1 rollout:" in ev.check.message
    assert (project.rollouts_dir / "exp" / "summary.json").is_file()
    files = {p: p.stat().st_mtime_ns for p in (project.rollouts_dir / "exp").rglob("*") if p.is_file()}
    again = run_cell(ctx, 0)  # an existing rollout set is shown, not recomputed
    assert again.check.passed and again.check.message == ev.check.message
    assert {p: p.stat().st_mtime_ns for p in (project.rollouts_dir / "exp").rglob("*") if p.is_file()} == files
    assert run_cell(ctx, 1).error is None
    cmp_ = run_cell(ctx, 2)
    assert cmp_.error is None, cmp_.error
    assert cmp_.check.passed and "You compared two checkpoints" in cmp_.check.message
    table = next(o.data for o in cmp_.outputs if o.kind == "table")
    assert "metric" in table.columns and len(table) >= 1
    pb = run_cell(ctx, 3)
    assert pb.error is None, pb.error
    assert next(o.data for o in pb.outputs if o.kind == "viewer").stat().st_size > 0
    # a checkpoint reference with nothing trained yet is one clear sentence
    bad = run_cell(RunContext(project, _ws(Cell("evaluate", "", (("checkpoint", "posttrain"),))), "eval"), 0)
    assert "no pre-train → post-train pipeline yet" in bad.error
    short = run_cell(RunContext(project, _ws(Cell("evaluate", "", (("policy", "scripted:expert"), ("max_steps", "-3")))),
                                "eval"), 0)
    assert short.error.startswith("evaluate :max_steps:") and "must be at least 1" in short.error


def test_train_cell_queues_the_pipeline_once(project):
    from studio import jobs
    from studio.synthetic import write_synthetic_dataset

    write_synthetic_dataset(project.datasets_dir / "synth", episodes=4, frames=30, environment_state=True)
    ws = _ws(
        Cell("curate", "episode_index < 2", (("save", "firsts"),)),
        Cell("train", "", (("pipeline", "pretrain-posttrain"), ("selection", "firsts"), ("steps", "2"),
                           ("posttrain_steps", "2"), ("batch_size", "2"), ("check", "jobs_submitted"))),
    )
    ctx = RunContext(project, ws, "ft")
    try:
        assert run_cell(ctx, 0).error is None
        res = run_cell(ctx, 1)
        assert res.error is None, res.error
        ids = next(o.data for o in res.outputs if o.kind == "json")["jobs"]
        assert len(ids) == 2 and res.check.passed and "2 job(s) in the queue" in res.check.message
        pipe = jobs.get_pipeline(project, next(o.data for o in res.outputs if o.kind == "json")["pipeline"])
        assert [j.stage for j in pipe.jobs] == [1, 2] and pipe.jobs[1].depends_on == pipe.jobs[0].id
        again = run_cell(ctx, 1)  # shown where it is, not queued twice
        assert next(o.data for o in again.outputs if o.kind == "json")["jobs"] == ids
        assert "already queued" in next(o.data for o in again.outputs if o.kind == "markdown")
        assert len(jobs.list_jobs(project)) == 2
    finally:
        for j in jobs.list_jobs(project):
            if j.state in (jobs.QUEUED, jobs.RUNNING):
                jobs.cancel(project, j.id, grace_s=5)


def test_guided_workspaces_3_to_5_end_to_end(demo_world, tmp_path, monkeypatch):
    """Fine-tune → evaluate → compare through the shipped workspaces (tiny steps and rollouts)."""
    import shutil

    from studio import jobs
    from studio.project import open_project
    from studio.workspaces.session import NotebookSession

    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    home = tmp_path / "home"
    shutil.copytree(demo_world.home, home, ignore=shutil.ignore_patterns("studio.db*", "studio.json", "backups", "cache", "workspaces"))
    project = open_project(home)

    def session(name, add=None, **small):
        """The shipped workspace with its sizes made small; `add`: {cell kind: {option: value}}."""
        nb = NotebookSession(project, name)
        for i, cell in enumerate(nb.workspace.cells):
            for key, value in small.items():
                if cell.option(key) is not None:
                    cell = cell.with_option(key, value)
            for key, value in (add or {}).get(cell.kind, {}).items():
                cell = cell.with_option(key, value)
            nb.workspace = nb.workspace.replace_cell(i, cell)
        return nb

    def run_checked(nb):
        for i, cell in enumerate(nb.workspace.cells):
            if cell.check:
                res = nb.run(i)
                assert res.error is None, (nb.name, i, res.error)
                assert res.check.passed, (nb.name, i, res.check.message)

    run_checked(session("02-curate"))
    ft = session("03-fine-tune", steps="4", posttrain_steps="2")
    run_checked(ft)
    ids = [j.id for j in jobs.list_jobs(project)]
    done = jobs.wait(project, ids, timeout=900, poll_s=0.5)
    # the pipeline's two stages and the all-data baseline with the same total steps
    assert [j.state for j in done] == [jobs.SUCCEEDED] * 3, [j.error for j in done]
    (single,) = [j for j in done if j.pipeline_id is None]
    assert single.spec["dataset"].endswith("pick_cube_demos") and single.spec["selection"] is None
    from studio.workspaces.format import read as read_workspace

    # the file in the repository (the project's copy now holds this run's cells and outputs)
    shipped_ws = read_workspace(Path(__file__).resolve().parents[1] / "workspaces" / "03-fine-tune.md")
    shipped = [c for c in shipped_ws.cells if c.kind == "train"]
    pipe, base = shipped  # as shipped, the baseline trains as many steps as both stages together
    assert int(base.option("steps")) == int(pipe.option("steps")) + int(pipe.option("posttrain_steps"))
    run_checked(session("04-evaluate", add={"evaluate": {"max_steps": "20"}}, episodes="2", workers="1"))
    curated = json.loads((project.rollouts_dir / "curated" / "summary.json").read_text())
    assert curated["n_episodes"] == 2 and all(e["steps"] <= 20 for e in curated["episodes"])
    alldata = json.loads((project.rollouts_dir / "all-data" / "summary.json").read_text())
    assert f"/jobs/{single.id}/" in alldata["policy"]  # workspace 5's baseline is the all-data job
    run_checked(session("05-compare", episode="1"))
