"""Sign-in sessions of `studio serve`: throttled logins, revocable sessions, no anonymous Gradio
route, and only the files a page needs (never the users file, the database, logs or labels)."""

from __future__ import annotations

import http.cookiejar
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers import free_port, wait_http
from studio import auth as auth_mod
from studio.auth import Auth, UsersFile
from studio.sessions import FIRST_WAIT_S, LoginThrottle


def _served(project, auth):
    """A small Blocks served with the studio's real launch options (serve_options)."""
    import gradio as gr

    from panels.app import serve_options

    with gr.Blocks() as demo:
        box = gr.Textbox()
        gr.Button("go").click(lambda s: s, box, box)
    port = free_port()
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                show_api=False, **serve_options(project, auth))
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/")
    return demo, base


def _req(opener, url, data=None, form=False):
    headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"} if data else {}
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _login(base, name, password):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"username": name, "password": password}).encode()
    return _req(opener, base + "/login", form, form=True)[0], opener


@pytest.fixture
def team(project):
    uf = UsersFile(project.home / "users.json")
    uf.add("vic", "viewer", "viewer-pass-1")
    uf.add("cora", "curator", "curator-pass-1")
    auth = Auth(uf)
    demo, base = _served(project, auth)
    yield project, uf, base
    demo.close()


def test_a_viewer_cannot_download_users_db_logs_or_labels(team):
    project, _, base = team
    home = project.home
    from studio.logs import setup_logging
    from studio.permissions import served_paths

    setup_logging(project.logs_dir)
    import logging

    logging.getLogger("studio.test").warning("a log line")
    (home / "demo_labels.csv").write_text("episode,operator\n0,expert\n")
    (home / "backups").mkdir(exist_ok=True)
    (home / "backups" / "studio.db.1").write_bytes(project.db_path.read_bytes())
    conn = project.connect()  # keep the WAL files present, as in a running server
    conn.execute("INSERT INTO settings(key, value) VALUES ('probe', '1')")
    recording = __import__("pathlib").Path(served_paths(project)[0]) / "ep0.rrd"
    recording.write_bytes(b"RRF2 recording bytes")
    status, viewer = _login(base, "vic", "viewer-pass-1")
    assert status == 200
    try:
        forbidden = ["users.json", "studio.db", "studio.db-wal", "studio.db-shm", "logs/studio.log",
                     "demo_labels.csv", "backups/studio.db.1", "studio.json"]
        for rel in forbidden:
            assert (home / rel).exists(), rel
            for prefix in ("/gradio_api/file=", "/file="):
                status, body = _req(viewer, base + prefix + str(home / rel))
                assert status != 200, f"{rel} was served"
                assert b"SQLite" not in body and b"hash" not in body
            # the path text may go through a symlink or .. inside an allowed folder
            status, _ = _req(viewer, base + "/gradio_api/file=" + str(recording.parent / ".." / ".." / rel))
            assert status != 200
        status, body = _req(viewer, base + "/gradio_api/file=" + str(recording))
        assert status == 200 and body == b"RRF2 recording bytes"  # what the page needs still works
    finally:
        conn.close()
    assert project.connect().execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_gradio_routes_are_closed_to_anonymous_callers(team):
    _, _, base = team
    anon = urllib.request.build_opener()
    for path, data in [("/gradio_api/reset", b'{"event_id": "x"}'), ("/gradio_api/cancel", b'{"event_id": "x"}'),
                       ("/gradio_api/heartbeat/abc", None), ("/gradio_api/upload_progress?upload_id=x", None),
                       ("/gradio_api/queue/join", b"{}"), ("/monitoring", None), ("/gradio_api/file=/etc/hostname", None)]:
        assert _req(anon, base + path, data)[0] == 401, path
    assert _req(anon, base + "/")[0] == 200  # the login page itself


def test_removing_a_user_or_changing_their_role_ends_their_session(team):
    _, uf, base = team
    status, vic = _login(base, "vic", "viewer-pass-1")
    status2, cora = _login(base, "cora", "curator-pass-1")
    assert status == status2 == 200
    assert _req(vic, base + "/config")[0] == 200 and _req(cora, base + "/config")[0] == 200
    uf.remove("vic")
    assert _req(vic, base + "/config")[0] == 401
    assert _req(vic, base + "/gradio_api/heartbeat/abc")[0] == 401
    uf.add("cora", "reviewer", "curator-pass-1", replace=True)  # demoted: she must sign in again
    assert _req(cora, base + "/config")[0] == 401
    status, cora = _login(base, "cora", "curator-pass-1")
    assert status == 200 and _req(cora, base + "/config")[0] == 200


def test_login_backs_off_after_five_failures(team):
    """After 5 failed sign-ins from one address even the right password is refused until the 2 s
    wait has passed (a test measuring the refusal's duration: that is the feature)."""
    _, _, base = team
    for i in range(5):  # five different names: the address is what is throttled
        assert _login(base, f"ghost{i}", "wrong-password")[0] == 400
    failed_at = time.monotonic()
    assert _login(base, "vic", "viewer-pass-1")[0] == 429
    while True:
        status, _ = _login(base, "vic", "viewer-pass-1")
        if status == 200:
            break
        assert status == 429
        time.sleep(0.1)
    assert time.monotonic() - failed_at >= FIRST_WAIT_S


def test_throttle_doubles_the_wait_and_forgets_after_the_window():
    now = [1000.0]
    t = LoginThrottle(clock=lambda: now[0])
    for _ in range(4):
        t.failed("user:a", "addr:1")
    assert t.wait_s("user:a") == 0
    t.failed("user:a", "addr:1")
    assert t.wait_s("user:a") == pytest.approx(2.0) and t.wait_s("addr:1") == pytest.approx(2.0)
    assert t.wait_s("user:b", "addr:2") == 0
    now[0] += 2.0
    t.failed("user:a")
    assert t.wait_s("user:a") == pytest.approx(4.0)
    now[0] += 4.0
    t.failed("user:a")
    assert t.wait_s("user:a") == pytest.approx(8.0)
    now[0] += 16 * 60  # older than 15 minutes: forgotten
    assert t.wait_s("user:a", "addr:1") == 0


def test_unknown_user_names_cost_the_same_hash(tmp_path, monkeypatch):
    uf = UsersFile(tmp_path / "users.json")
    uf.add("ana", "viewer", "a-long-password")
    calls = []
    real = auth_mod._hash
    monkeypatch.setattr(auth_mod, "_hash", lambda *a: calls.append(a[2]) or real(*a))
    assert uf.verify("ana", "wrong-password") is None
    assert uf.verify("nobody", "wrong-password") is None
    assert calls == [auth_mod.ITERATIONS, auth_mod.ITERATIONS]
