"""The exporter, panel and environment hooks, driven by a third-party plugin installed as a
distribution with entry points (the way `pip install` would), not registered by hand."""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys

import pytest
from test_plugins import fake_distribution

from studio.plugins import reset_host

PLUGIN = {
    "hooks_demo_plugin": """
        import csv
        import os
        from dataclasses import replace
        from pathlib import Path

        from studio.hookspecs import hookimpl


        def write_lengths(dataset, episodes, target, **kw):
            target = Path(target)
            target.mkdir(parents=True)
            lengths = dict(zip(dataset.episode_column("episode_index").tolist(), dataset.episode_column("length").tolist()))
            tmp = target / ".lengths.csv.tmp"
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["episode_index", "length"])
                w.writerows([e, lengths[e]] for e in episodes)
            os.replace(tmp, target / "lengths.csv")
            return target


        @hookimpl
        def studio_exporters():
            from studio.curation.export import Exporter

            return [Exporter("lengths-csv", "episode lengths as CSV", write_lengths)]


        def build_hello(ctx):
            import gradio as gr

            gr.Markdown("Hello from a plugin panel", elem_id="hello-plugin-text")


        @hookimpl
        def studio_panels():
            from panels.registry import Panel

            return [Panel(name="Hello plugin", build=build_hello, order=99, description="a third-party panel")]


        @hookimpl
        def studio_environments():
            from plugins.core_envs import studio_environments as core

            (cube,) = [e for e in core() if e.name == "pick_cube"]
            return [replace(cube, name="plugin_cube", description="pick_cube under a plugin's name")]
        """,
}


@pytest.fixture
def hooks_plugin(tmp_path, monkeypatch):
    site = fake_distribution(tmp_path / "site", "hooks-demo-plugin", {"hooks_demo": "hooks_demo_plugin"}, PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    reset_host()
    yield site
    sys.modules.pop("hooks_demo_plugin", None)
    reset_host()


def test_plugin_exporter_is_a_cli_format(hooks_plugin, tmp_path):
    from studio.datasets import open_dataset
    from studio.synthetic import write_synthetic_dataset

    root = write_synthetic_dataset(tmp_path / "ds", episodes=5, frames=[20, 31, 22, 43, 24], seed=1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooks_plugin), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "lengths"
    r = subprocess.run([sys.executable, "-m", "studio.cli", "export", str(root), "--where", "length > 25",
                        "--format", "lengths-csv", "--out", str(out), "--project", str(tmp_path / "home")],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "exported 2 episodes" in r.stdout and "(lengths-csv)" in r.stdout
    with open(out / "lengths.csv") as fh:
        assert list(csv.DictReader(fh)) == [{"episode_index": "1", "length": "31"}, {"episode_index": "3", "length": "43"}]
    assert int(open_dataset(root).episode_column("length")[3]) == 43  # the source is untouched

    from studio.curation.export import exporters

    assert "lengths-csv" in [e.name for e in exporters()]


def test_plugin_panel_is_in_the_app(hooks_plugin, project):
    from panels.app import build_app

    demo = build_app(project)
    texts = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "hello-plugin-text"]
    assert len(texts) == 1 and "Hello from a plugin panel" in texts[0].value
    (nav,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "studio-nav"]
    assert "Hello plugin" in [c[0] if isinstance(c, (list, tuple)) else c for c in nav.choices]


def test_plugin_environment_records_rollouts(hooks_plugin, tmp_path):
    from studio.sim.registry import environments, get_env
    from studio.sim.rollout import run_rollouts

    assert {"pick_cube", "plugin_cube"} <= set(environments())
    out = run_rollouts("scripted:expert", env="plugin_cube", episodes=1, seed=0, workers=1, out=tmp_path / "r")
    import json

    env = json.loads((out / "sim" / "env.json").read_text())
    assert env["env"] == "plugin_cube"
    assert json.loads((out / "meta" / "info.json").read_text())["total_episodes"] == 1
    reset_host()
    sys.modules.pop("hooks_demo_plugin", None)
    sys.path.remove(str(hooks_plugin))
    importlib.invalidate_caches()
    with pytest.raises(Exception, match="unknown environment 'plugin_cube'"):
        get_env("plugin_cube")
