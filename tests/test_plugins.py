"""The plugin host: entry-point discovery, broken plugins disabled with a message while the
rest keeps working, and the third-party path proven with tests/example_plugin installed."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
from test_compare import paired_sets

from studio.compare import compare_paths, comparison_table
from studio.plugins import PluginHost, host, reset_host

EXAMPLE = Path(__file__).parent / "example_plugin"


def fake_distribution(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """An installed distribution as importlib.metadata sees one: a *.dist-info with METADATA and
    entry_points.txt, and its modules, in a folder put on sys.path."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[flywheel_studio]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    for name, src in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(src))
    return site


BROKEN = {
    # imports something that does not exist
    "broken_import_mod": "import flywheel_no_such_dependency\n",
    # its hook raises every time it is called
    "raising_hook_mod": """
        from studio.hookspecs import hookimpl

        @hookimpl
        def studio_comparison_metrics():
            raise RuntimeError("rubric file missing")
        """,
    # its hook works, but the metric it contributes raises when computed
    "raising_metric_mod": """
        from studio.compare import ComparisonMetric
        from studio.hookspecs import hookimpl

        def boom(rollout_set):
            raise ZeroDivisionError("division by zero in my metric")

        @hookimpl
        def studio_comparison_metrics():
            return [ComparisonMetric(name="flaky metric", doc="raises", direction="higher", fn=boom)]
        """,
    # a typo in the hook name: it would silently never run
    "typo_hook_mod": """
        from studio.hookspecs import hookimpl

        @hookimpl
        def studio_comparision_metrics():
            return []
        """,
    # returns something that is not a ComparisonMetric
    "wrong_type_mod": """
        from studio.hookspecs import hookimpl

        @hookimpl
        def studio_comparison_metrics():
            return [{"name": "not a metric"}]
        """,
}


@pytest.fixture
def broken_plugins(tmp_path, monkeypatch):
    site = fake_distribution(tmp_path / "site", "broken-plugins",
                             {"broken_import": "broken_import_mod", "raising_hook": "raising_hook_mod",
                              "raising_metric": "raising_metric_mod", "wrong_type": "wrong_type_mod",
                              "typo_hook": "typo_hook_mod"}, BROKEN)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    reset_host()
    yield site
    for mod in BROKEN:
        sys.modules.pop(mod, None)
    reset_host()


def test_builtin_plugins_are_registered_by_entry_point_like_third_party_ones():
    eps = {ep.name: ep for ep in metadata.entry_points(group="flywheel_studio")}
    assert eps["core_compare"].value == "plugins.core_compare"
    info = {p.name: p for p in PluginHost().plugins()}
    assert info["core_compare"].distribution == "flywheel-studio"
    assert "studio_comparison_metrics" in info["core_compare"].hooks


def test_broken_plugins_are_reported_and_skipped(broken_plugins, tmp_path):
    h = host()
    failures = {f.plugin: f for f in h.failures()}
    assert "broken_import" in failures
    assert "failed to load (ModuleNotFoundError: No module named 'flywheel_no_such_dependency')" in failures[
        "broken_import"].what
    assert failures["broken_import"].sentence().startswith("plugin 'broken_import' disabled:")
    assert "core_compare" in h.plugin_names()
    assert failures["typo_hook"].what == ("implements unknown hook(s) studio_comparision_metrics "
                                          "(see studio/hookspecs.py for the names)")

    a, b = paired_sets(tmp_path, both=20, only_a=2, only_b=10, neither=18)
    comp = compare_paths([a, b])  # the rest keeps working
    names = [r.metric.name for r in comp.rows]
    assert names[:4] == ["success rate", "mean progress", "time to success", "action smoothness"]
    assert "flaky metric" not in names
    assert comp.headline().startswith("B better")

    failures = {f.plugin: f.what for f in h.failures()}
    assert failures["raising_hook"] == "hook studio_comparison_metrics raised RuntimeError: rubric file missing"
    assert "comparison metric 'flaky metric' raised ZeroDivisionError" in failures["raising_metric"]
    assert "returned dict, not studio.compare.ComparisonMetric" in failures["wrong_type"]
    assert any("flaky metric" in s for s in comp.skipped)
    # disabled for good: the next comparison neither calls them nor reports them twice
    compare_paths([a, b])
    assert len(h.failures()) == 5
    assert not {"raising_hook", "raising_metric", "wrong_type", "broken_import", "typo_hook"} & set(h.plugin_names())


def test_plugins_command_lists_loaded_and_disabled(broken_plugins):
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken_plugins), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "studio.cli", "plugins"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    loaded, _, disabled = r.stdout.partition("disabled (")
    assert "core_compare" in loaded and "plugins.core_compare" in loaded
    assert "plugin 'broken_import' disabled: failed to load (ModuleNotFoundError" in disabled
    assert "broken_import" not in loaded
    r = subprocess.run([sys.executable, "-m", "studio.cli", "plugins", "--json"], capture_output=True, text=True,
                       env=env)
    out = json.loads(r.stdout)
    assert {"name": "core_compare", "module": "plugins.core_compare", "distribution": "flywheel-studio",
            "version": metadata.version("flywheel-studio"), "hooks": ["studio_comparison_metrics"]} in out["loaded"]
    assert any(f["name"] == "broken_import" and "ModuleNotFoundError" in f["what"] for f in out["failed"])


def _uv_pip(*args: str) -> list[str]:
    # uv comes from the dev group (`python -m uv`): a uv venv has no pip, and PATH is not ours to rely on
    return [sys.executable, "-m", "uv", "pip", *args, "--python", sys.executable]


@pytest.fixture
def example_plugin_installed(tmp_path):
    """Install tests/example_plugin into this environment like any third-party package
    (built from a copy so no build/ or egg-info lands in the source tree); uninstall after."""
    src = shutil.copytree(EXAMPLE, tmp_path / "example_plugin")
    r = subprocess.run(_uv_pip("install", "--offline", "--no-deps", "--no-build-isolation", str(src)),
                       capture_output=True, text=True)
    assert r.returncode == 0, f"installing the example plugin failed: {r.stderr}"
    importlib.invalidate_caches()
    reset_host()
    try:
        yield
    finally:
        subprocess.run(_uv_pip("uninstall", "flywheel-studio-example-plugin"), capture_output=True, text=True)
        sys.modules.pop("flywheel_example_plugin", None)
        importlib.invalidate_caches()
        reset_host()


def test_installed_third_party_plugin_shows_up_in_the_comparison_table(example_plugin_installed, tmp_path):
    h = host()
    info = {p.name: p for p in h.plugins()}
    assert info["example_episode_length"].distribution == "flywheel-studio-example-plugin"
    from test_compare import write_rollout_set

    a = write_rollout_set(tmp_path / "slow", [(i, True, 1.0, 6.0, 180 + i % 7) for i in range(20)])
    b = write_rollout_set(tmp_path / "fast", [(i, True, 1.0, 3.0, 90 + i % 7) for i in range(20)])
    table = {row["metric"]: row for row in comparison_table(compare_paths([a, b]))}
    assert table["episode length"]["plugin"] == "example_episode_length"
    assert table["episode length"]["verdict"].startswith("B better")
    assert table["episode length"]["fast"].startswith("92.8 steps [")  # mean of 90 + i % 7 over 20 rollouts = 92.85
    # and through the CLI, in a fresh process
    r = subprocess.run([sys.executable, "-m", "studio.cli", "compare", str(a), str(b), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert '"name": "episode length"' in r.stdout


def test_uninstalled_plugin_is_gone_after_reset():
    reset_host()
    assert "example_episode_length" not in host().plugin_names()
