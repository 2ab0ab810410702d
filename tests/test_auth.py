"""Team review access: salted users file, roles, `studio serve` refusing to share without sign-in."""

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers import free_port, wait_http
from studio.auth import Auth, UsersFile, current_user, local_user, require, role_allows
from studio.cli import main
from studio.errors import AuthError

ROOT = Path(__file__).resolve().parents[1]


def test_users_file_stores_salted_hashes_never_passwords(tmp_path):
    uf = UsersFile(tmp_path / "users.json")
    uf.add("ana", "reviewer", "correct horse")
    uf.add("bo", "viewer", "correct horse")
    raw = (tmp_path / "users.json").read_text()
    assert "correct horse" not in raw
    entries = json.loads(raw)["users"]
    assert entries[0]["salt"] != entries[1]["salt"] and entries[0]["hash"] != entries[1]["hash"]
    assert oct((tmp_path / "users.json").stat().st_mode)[-3:] == "600"
    assert uf.verify("ana", "correct horse").role == "reviewer"
    assert uf.verify("ana", "wrong horse!") is None
    assert uf.verify("nobody", "correct horse") is None


def test_tokens_work_as_passwords_and_are_stored_hashed(tmp_path):
    uf = UsersFile(tmp_path / "users.json")
    uf.add("ci-bot", "viewer")  # token-only user
    token = uf.new_token("ci-bot")
    assert token not in (tmp_path / "users.json").read_text()
    assert uf.verify("ci-bot", token).name == "ci-bot"
    assert uf.verify("ci-bot", token + "x") is None


def test_bad_input_is_one_sentence(tmp_path):
    uf = UsersFile(tmp_path / "users.json")
    with pytest.raises(AuthError, match="not a role"):
        uf.add("ana", "admin", "longenough")
    with pytest.raises(AuthError, match="too short"):
        uf.add("ana", "viewer", "short")
    uf.add("ana", "viewer", "longenough")
    with pytest.raises(AuthError, match="already exists"):
        uf.add("ana", "viewer", "longenough")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(AuthError, match="not a valid users file"):
        UsersFile(tmp_path / "broken.json").users()
    with pytest.raises(AuthError, match="has no users"):
        Auth(UsersFile(tmp_path / "empty.json"))


def test_roles_grant_increasing_permissions(tmp_path):
    assert role_allows("viewer", "view") and not role_allows("viewer", "comment")
    assert role_allows("reviewer", "verdict") and not role_allows("reviewer", "tag")
    assert role_allows("curator", "train") and role_allows("curator", "comment")
    uf = UsersFile(tmp_path / "users.json")
    uf.add("vi", "viewer", "password1")
    uf.add("re", "reviewer", "password2")
    auth = Auth(uf)

    class Req:  # what gr.Request exposes after sign-in
        def __init__(self, username):
            self.username = username

    assert require(auth, Req("re"), "verdict").name == "re"
    with pytest.raises(AuthError, match="needs the reviewer role"):
        require(auth, Req("vi"), "comment")
    with pytest.raises(AuthError, match="not signed in"):
        current_user(auth, Req(None))
    assert current_user(None, None) == local_user() and local_user().role == "curator"


def test_users_cli_add_list_remove(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a-long-password\n"))
    assert main(["users", "add", "ana", "--role", "curator", "--password-stdin", "--project", str(home)]) == 0
    assert main(["users", "list", "--project", str(home)]) == 0
    assert "ana\tcurator" in capsys.readouterr().out
    assert UsersFile(home / "users.json").verify("ana", "a-long-password")
    assert main(["users", "remove", "ana", "--project", str(home)]) == 0
    assert main(["users", "remove", "ana", "--project", str(home)]) == 2
    assert "error: user 'ana': no such user" in capsys.readouterr().err


def test_serve_on_all_interfaces_without_auth_exits_with_clear_message(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "studio.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port()),
         "--project", str(tmp_path / "home")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "error: --host: 0.0.0.0 makes the studio reachable from other machines" in proc.stderr
    assert "studio users add" in proc.stderr


def _get(opener, url, data=None):
    try:
        with opener.open(url, data=data, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_served_studio_refuses_unauthenticated_requests(tmp_path):
    users = tmp_path / "team.json"
    UsersFile(users).add("ana", "reviewer", "a-long-password")
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "serve", "--host", "0.0.0.0", "--port", str(port),
         "--project", str(tmp_path / "home"), "--users", str(users)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/", timeout=120)
        anon = urllib.request.build_opener()
        assert _get(anon, base + "/config")[0] == 401
        status, _ = _get(anon, base + "/gradio_api/queue/join", data=b"{}")
        assert status == 401
        # a wrong password is refused too
        form = urllib.parse.urlencode({"username": "ana", "password": "nope-nope"}).encode()
        assert _get(anon, base + "/login", data=form)[0] == 400
        # a signed-in reviewer gets the app config
        jar = http.cookiejar.CookieJar()
        signed = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = urllib.parse.urlencode({"username": "ana", "password": "a-long-password"}).encode()
        assert _get(signed, base + "/login", data=form)[0] == 200
        status, body = _get(signed, base + "/config")
        assert status == 200 and b"Flywheel Studio" in body
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_signed_in_viewer_may_read_but_not_change(project, page):
    """Through a real login page: the viewer's name reaches the panels, and their role is enforced."""
    from panels.app import build_app, serve_options

    uf = UsersFile(project.home / "users.json")
    uf.add("vic", "viewer", "viewer-pass-1")
    auth = Auth(uf)
    demo = build_app(project, auth=auth)
    port = free_port()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **serve_options(project, auth))
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        page.goto(url + "?panel=Workspaces&workspace=01-first-look")
        page.get_by_label("username").fill("vic")
        page.get_by_label("password").fill("wrong-password")
        page.get_by_role("button", name="Login").click()
        page.get_by_text("Incorrect Credentials").wait_for()
        page.get_by_label("username").fill("vic")  # the form is cleared after a failed attempt
        page.get_by_label("password").fill("viewer-pass-1")
        page.get_by_role("button", name="Login").click()
        page.locator("#studio-nav").wait_for()
        page.goto(url + "?panel=Workspaces&workspace=01-first-look")
        page.locator("#ws-cell-0").wait_for()
        before = (project.workspaces_dir / "01-first-look.md").read_text()
        page.locator("#ws-add").click()
        page.get_by_text("user 'vic' (viewer): may not edit workspace: that needs the curator role").first.wait_for()
        assert (project.workspaces_dir / "01-first-look.md").read_text() == before
    finally:
        demo.close()
