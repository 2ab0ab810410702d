import subprocess
import sys

from studio.cli import main


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, env=env)


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("flywheel-studio ")


def test_help_lists_only_registered_commands():
    from studio.cli import app, register_commands

    register_commands()
    r = run_cli("--help")
    assert r.returncode == 0
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    for name in names:
        assert name in r.stdout
    assert "launch" in names


def test_launch_refuses_non_loopback_host(tmp_path, capsys):
    rc = main(["launch", "--host", "0.0.0.0", "--project", str(tmp_path / "p")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --host:")
    assert "Traceback" not in err
