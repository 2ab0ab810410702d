"""Team roles in the UI: each panel's own handlers, called as Gradio calls them for a signed-in
user (a served studio with a users file). A refused action shows one sentence naming the role
it needs and changes nothing; the role that may do it, does it."""

from __future__ import annotations

import gradio as gr
import pytest
from helpers import handler

from studio import jobs, review
from studio.auth import Auth, UsersFile
from studio.curation import selections, tags
from studio.datasets import open_dataset
from studio.synthetic import write_synthetic_dataset


@pytest.fixture
def team(project):
    users = UsersFile(project.home / "users.json")
    for name, role in (("vic", "viewer"), ("rita", "reviewer"), ("cora", "curator")):
        users.add(name, role)
    return Auth(users)


def _panel(project, auth, module):
    from panels.registry import AppContext
    from studio.plugins import host

    with gr.Blocks() as demo:
        module.build(AppContext(project=project, plugins=host(), auth=auth))
    return demo


def as_user(name: str) -> gr.Request:
    return gr.Request(username=name)


def test_reviewer_may_not_tag_save_or_train_and_nothing_changes(project, team, tmp_path):
    from panels import curate, train

    root = write_synthetic_dataset(project.datasets_dir / "ds", episodes=4, frames=20, environment_state=True)
    ds = open_dataset(root)
    demo = _panel(project, team, curate)
    tag_good, save = handler(demo, "curate-tag-good"), handler(demo, "curate-save")

    with pytest.raises(gr.Error, match=r"user 'rita' \(reviewer\).*may not tag.*needs the curator role"):
        tag_good(str(root), "", "", "0,1", "", as_user("rita"))
    assert tags.tags_by_episode(project, ds) == {} or not any(tags.tags_by_episode(project, ds).values())
    with pytest.raises(gr.Error, match=r"user 'rita' \(reviewer\).*may not select"):
        save(str(root), "episode_index < 2", "rita-pick", "", as_user("rita"))
    assert selections.list_selections(project) == []

    assert tag_good(str(root), "", "", "0,1", "", as_user("cora")).startswith("Tagged 2 episode(s) 'good'")
    assert {e for e, t in tags.tags_by_episode(project, ds).items() if "good" in t} == {0, 1}
    msg, _ = save(str(root), "episode_index < 2", "cora-pick", "", as_user("cora"))
    assert "cora-pick-r1" in msg and [s.name for s in selections.list_selections(project)] == ["cora-pick"]

    submit = handler(_panel(project, team, train), "train-submit")
    with pytest.raises(gr.Error, match=r"user 'rita' \(reviewer\).*may not train.*needs the curator role"):
        submit(str(root), "act", 4, 4, 0, "cpu", 1000, 2, "", "local", "", [], "", 0, as_user("rita"))
    assert jobs.list_jobs(project) == []


def test_viewer_may_not_give_verdicts_but_a_reviewer_may(project, team, tmp_path):
    from panels import rollouts

    root = write_synthetic_dataset(tmp_path / "night", episodes=3, frames=20, seed=5)
    review.register_rollouts(project, root, checkpoint="ckpt-7", name="night")
    verdict = handler(_panel(project, team, rollouts), "rollouts-save-verdict")
    with pytest.raises(gr.Error, match=r"user 'vic' \(viewer\).*may not verdict.*needs the reviewer role"):
        verdict("night", 1, "fail", 0, "looks wrong", "night", as_user("vic"))
    assert review.verdicts(project, "night") == {} and review.list_comments(project, "night") == []

    out = verdict("night", 1, "partial", 40, "dropped it", "night", as_user("rita"))
    assert out[0] == "Saved: episode 1 partial (40%)"
    v = review.verdicts(project, "night")[1]
    assert (v.verdict, v.progress, v.author) == ("partial", 40.0, "rita")


def test_viewer_may_not_create_a_workspace(project, team):
    from panels import workspaces

    create = handler(_panel(project, team, workspaces), "ws-new")
    with pytest.raises(gr.Error, match=r"user 'vic' \(viewer\).*may not edit workspace"):
        create("vic-notes", 0, as_user("vic"))
    assert not (project.workspaces_dir / "vic-notes.md").exists()
    create("cora-notes", 0, as_user("cora"))
    assert (project.workspaces_dir / "cora-notes.md").is_file()
