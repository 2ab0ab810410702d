"""Roles on every action of the served app: each Gradio function is on a documented list, a viewer
calling every one of them through the real HTTP API changes nothing, and writes are audited."""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from helpers import free_port, wait_http
from studio.auth import Auth, User, UsersFile
from studio.errors import AuthError
from studio.permissions import (READ_ONLY_HANDLERS, WRITE_HANDLERS, check_handler, handler_key,
                                permission_allowed, unknown_handlers)


def test_one_function_decides_and_unknown_handlers_are_refused():
    viewer, reviewer, curator = User("v", "viewer"), User("r", "reviewer"), User("c", "curator")
    assert permission_allowed(viewer, "view") and not permission_allowed(viewer, "comment")
    assert permission_allowed(reviewer, "verdict") and not permission_allowed(reviewer, "set_weights")
    assert permission_allowed(curator, "train")
    assert check_handler(viewer, "curate.on_view") == "view"
    with pytest.raises(AuthError, match="needs the curator role"):
        check_handler(viewer, "train.run")
    with pytest.raises(AuthError, match="needs the curator role"):
        check_handler(reviewer, "curate.on_save_weights")
    with pytest.raises(AuthError, match="action 'curate.brand_new'.*permission lists"):
        check_handler(curator, "curate.brand_new")
    assert not READ_ONLY_HANDLERS & set(WRITE_HANDLERS)


def test_plugins_declare_their_handlers_and_cannot_relax_built_ins():
    from studio.hookspecs import hookimpl
    from studio.permissions import plugin_handlers
    from studio.plugins import PluginHost

    class Plug:
        @hookimpl
        def studio_handler_permissions(self):
            return {"myplug.on_go": "tag", "myplug.on_look": "view", "train.run": "view"}

    class Bad:
        @hookimpl
        def studio_handler_permissions(self):
            return {"bad.on_x": "rule_the_world"}

    host = PluginHost(load_entry_points=False)
    host.register(Plug(), name="plug")
    host.register(Bad(), name="bad")
    extra = plugin_handlers(host)
    assert extra == {"myplug.on_go": "tag", "myplug.on_look": "view"}
    viewer = User("v", "viewer")
    assert check_handler(viewer, "myplug.on_look", extra) == "view"
    with pytest.raises(AuthError, match="needs the curator role"):
        check_handler(viewer, "myplug.on_go", extra)
    with pytest.raises(AuthError, match="needs the curator role"):
        check_handler(viewer, "train.run", extra)  # still a curator's action
    assert [f.plugin for f in host.failures()] == ["bad"]


def _open(opener, url, data=None, timeout=120, form=False):
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    req = urllib.request.Request(url, data=data, headers={"Content-Type": kind} if data else {})
    try:
        resp = opener.open(req, timeout=timeout)
        return resp.status, resp
    except urllib.error.HTTPError as exc:
        return exc.code, exc


def _login(base: str, name: str, password: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"username": name, "password": password}).encode()
    status, _ = _open(opener, base + "/login", data=form, form=True)
    assert status == 200
    return opener


def call_fn(opener, base: str, dep: dict, data: list, session: str | None = None) -> dict:
    """Call one function the way the page does (queue join + SSE, or run/predict); the final message."""
    session = session or uuid.uuid4().hex[:10]
    trigger = (dep.get("targets") or [[None]])[0][0]
    body = {"data": data, "fn_index": dep["id"], "session_hash": session, "trigger_id": trigger,
            "event_data": None}
    if not dep.get("queue", True):
        status, resp = _open(opener, base + "/gradio_api/run/predict", json.dumps(body).encode())
        payload = json.loads(resp.read() or b"{}")
        return {"success": status == 200, "output": payload}
    status, resp = _open(opener, base + "/gradio_api/queue/join", json.dumps(body).encode())
    assert status == 200, resp.read()
    event_id = json.loads(resp.read())["event_id"]
    status, stream = _open(opener, base + f"/gradio_api/queue/data?session_hash={session}")
    assert status == 200
    with stream:
        for raw in stream:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                return msg
    raise AssertionError(f"no result for fn {dep['id']}")


def _inputs(config: dict, dep: dict, plausible: dict[str, object]) -> list:
    comps = {c["id"]: c for c in config["components"]}
    out = []
    for cid in dep.get("inputs", []):
        props = comps.get(cid, {}).get("props", {})
        label = str(props.get("label") or "").lower()
        value = props.get("value")
        choices = [c[1] if isinstance(c, (list, tuple)) else c for c in props.get("choices") or []]
        hinted = [v for hint, v in plausible.items() if hint in label]
        if hinted and (not choices or hinted[0] in choices):
            value = hinted[0]
        elif choices and value not in choices:
            value = choices[0]
        out.append(value)
    return out


def project_state(project) -> dict[str, str]:
    """Every project file's digest (cache/ and logs/ are derived), studio.db by its logical content."""
    home = Path(project.home)
    state = {}
    for p in sorted(home.rglob("*")):
        rel = p.relative_to(home).as_posix()
        if p.is_dir() or rel.split("/")[0] in ("cache", "logs") or rel.startswith("studio.db"):
            continue
        state[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    from studio.datasets import RECENT_KEY

    conn = sqlite3.connect(f"file:{project.db_path}?mode=ro", uri=True)
    try:
        # the shared "recently opened" list is the one thing reading updates (a convenience, not data)
        lines = [line for line in conn.iterdump() if RECENT_KEY not in line]
        state["studio.db"] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    finally:
        conn.close()
    return state


@pytest.fixture
def served_team(project, tmp_path):
    """A served project with a dataset, a saved selection, a queued job and three users."""
    from panels.app import build_app, serve_options
    from studio import jobs
    from studio.curation.selections import save_selection
    from studio.jobs.spec import JobSpec
    from studio.synthetic import write_synthetic_dataset

    root = write_synthetic_dataset(project.datasets_dir / "reach", episodes=3, frames=30, environment_state=True)
    from studio.datasets import open_dataset

    save_selection(project, "first-two", open_dataset(root), predicate="episode_index < 2")
    # two queued jobs waiting on each other: real rows the app's supervisor never starts
    job = jobs.submit(project, JobSpec(dataset=str(root), steps=10))
    other = jobs.submit(project, JobSpec(dataset=str(root), steps=10), depends_on=job.id)
    from studio import db
    from studio.jobs.model import update_job

    conn = project.connect()
    with db.transaction(conn):
        update_job(conn, job.id, depends_on=other.id)
    conn.close()
    from studio.workspaces import list_workspaces

    list_workspaces(project)  # the guided workspaces are copied in on first use
    uf = UsersFile(project.home / "users.json")
    uf.add("vic", "viewer", "viewer-pass-1")
    uf.add("rita", "reviewer", "reviewer-pass-1")
    uf.add("cora", "curator", "curator-pass-1")
    auth = Auth(uf)
    demo = build_app(project, auth=auth)
    port = free_port()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                show_api=False, **serve_options(project, auth))
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/")
    try:
        yield demo, base, job, str(root)
    finally:
        demo.close()


def test_every_served_function_is_listed_and_a_viewer_changes_nothing(project, served_team):
    demo, base, job, dataset = served_team
    keys = {dep_id: handler_key(fn.fn) for dep_id, fn in demo.fns.items()}
    missing = unknown_handlers(keys.values())
    assert not missing, f"handlers on neither list in studio/permissions.py: {', '.join(missing)}"

    viewer = _login(base, "vic", "viewer-pass-1")
    status, resp = _open(viewer, base + "/config")
    assert status == 200
    config = json.loads(resp.read())
    deps = [d for d in config["dependencies"] if d.get("backend_fn")]
    assert {d["id"] for d in deps} == {i for i, f in demo.fns.items() if f.fn is not None}
    plausible = {"job": job.id, "dataset": dataset, "source": dataset, "selection": "first-two",
                 "checkpoint": "1", "where": "episode_index >= 0", "weights": "jerk=2"}
    before = project_state(project)
    refused = []
    for dep in deps:
        key = keys[dep["id"]]
        msg = call_fn(viewer, base, dep, _inputs(config, dep, plausible))
        text = json.dumps(msg.get("output"))
        if key in WRITE_HANDLERS:
            assert not msg.get("success"), f"{key} ran for a viewer"
            assert "user 'vic' (viewer): may not" in text, (key, text)
            refused.append(key)
        assert project_state(project) == before, f"{key} changed the project for a viewer"
    assert {"train.run", "curate.on_save_weights", "train.on_submit", "curate.fn"} <= set(refused)

    from studio import audit

    assert audit.entries(project) == []  # nothing was written, so nothing audited


def test_a_curators_write_is_audited_and_reviewers_may_not_cancel(project, served_team, capfd):
    from studio import jobs
    from studio.cli import main

    demo, base, job, _ = served_team
    deps = {handler_key(f.fn): i for i, f in demo.fns.items() if f.fn is not None}
    cancel = next(i for i, f in demo.fns.items() if handler_key(f.fn) == "train.run")
    reviewer = _login(base, "rita", "reviewer-pass-1")
    msg = call_fn(reviewer, base, {"id": cancel, "queue": True}, [job.id])
    assert "needs the curator role" in json.dumps(msg["output"])
    assert jobs.get_job(project, job.id).state == "queued"
    assert "refused: user 'rita' (reviewer): may not train" in capfd.readouterr().err

    curator = _login(base, "cora", "curator-pass-1")
    msg = call_fn(curator, base, {"id": cancel, "queue": True}, [job.id])
    assert msg["success"], msg
    assert jobs.get_job(project, job.id).state == "cancelled"
    assert "curate.on_save_weights" in deps
    from studio import audit

    (entry,) = audit.entries(project)
    assert (entry.user, entry.role, entry.action) == ("cora", "curator", "train")
    assert entry.target.startswith("train.run") and str(job.id) in entry.target
    assert main(["audit", "--project", str(project.home)]) == 0
    out = capfd.readouterr().out
    assert "cora" in out and "train" in out


def test_handlers_created_by_render_are_listed_and_refused_to_viewers(project, served_team):
    """Workspace cells' buttons are made per session by gr.render: they pass the same gate."""
    demo, base, _, _ = served_team
    viewer = _login(base, "vic", "viewer-pass-1")
    by_key = {handler_key(f.fn): i for i, f in demo.fns.items() if f.fn is not None}
    session = uuid.uuid4().hex[:10]
    assert call_fn(viewer, base, {"id": by_key["workspaces.initial"]}, [], session)["success"]
    render = call_fn(viewer, base, {"id": by_key["renderable.apply"]}, [None], session)
    assert render["success"], render
    rendered = demo.state_holder[session].blocks_config.fns
    keys = {i: handler_key(f.fn) for i, f in rendered.items() if i not in demo.fns}
    assert "workspaces.handler" in keys.values()  # the cells' move / delete buttons
    assert not unknown_handlers(keys.values()), unknown_handlers(keys.values())
    before = project_state(project)
    delete = next(i for i, k in keys.items() if k == "workspaces.handler")
    msg = call_fn(viewer, base, {"id": delete}, [1], session)
    assert "may not edit workspace" in json.dumps(msg["output"])
    assert project_state(project) == before
