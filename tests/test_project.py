import json
import sqlite3
import sys
import subprocess

import pytest

from studio.errors import ProjectError
from studio.project import FORMAT_VERSION, SUBDIRS, open_project


def test_project_home_layout_is_created_idempotently(tmp_path):
    home = tmp_path / "home"
    p1 = open_project(home)
    (home / "datasets" / "mine").mkdir()
    p2 = open_project(home)
    assert p1 == p2
    for sub in SUBDIRS:
        assert (home / sub).is_dir()
    assert (home / "datasets" / "mine").is_dir()
    assert json.loads((home / "studio.json").read_text())["format_version"] == FORMAT_VERSION
    conn = sqlite3.connect(home / "studio.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_project_home_is_refused(tmp_path):
    home = tmp_path / "home"
    open_project(home)
    (home / "studio.json").write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ProjectError, match="newer Flywheel Studio"):
        open_project(home)


def test_settings_roundtrip(project):
    project.set_setting("ray.address", "auto")
    project.set_setting("ray.address", "ray://x:10001")
    assert project.get_setting("ray.address") == "ray://x:10001"
    assert project.get_setting("missing", "d") == "d"


def test_import_studio_is_light():
    code = (
        "import studio, studio.cli, studio.project, studio.plugins, sys;"
        "heavy = {'torch','gradio','lerobot','rerun','mujoco','ray'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
