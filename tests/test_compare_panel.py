"""The Compare panel in headless chromium: choose rollout sets, read the verdict, the
metric table, the bars and the per-seed grid; broken plugins are shown, not fatal."""

from __future__ import annotations

import importlib

from test_compare import paired_sets
from test_plugins import BROKEN, fake_distribution


def choose_sets(page, labels: list[str]) -> None:
    for label in labels:
        page.click("#compare-sets input")
        page.locator("ul.options li", has_text=label).first.click()
    page.keyboard.press("Escape")


def test_compare_panel_shows_verdict_table_grid_and_plugin_problems(project, serve_app, page, tmp_path, monkeypatch):
    from studio.plugins import PluginHost

    paired_sets(project.rollouts_dir, both=20, only_a=2, only_b=10, neither=18)
    site = fake_distribution(tmp_path / "site", "broken-plugins", {"raising_hook": "raising_hook_mod"},
                             {"raising_hook_mod": BROKEN["raising_hook_mod"]})
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    url = serve_app(project, plugin_host=PluginHost())
    page.goto(url + "?panel=Compare")
    page.wait_for_selector("#compare-run")
    choose_sets(page, ["A (50 rollouts)", "B (50 rollouts)"])
    page.click("#compare-run")
    verdict = page.locator("#compare-verdict")
    verdict.get_by_text("B better (B)").wait_for()
    assert "p = 0.0386" in verdict.inner_text()
    for metric in ("success rate", "mean progress", "time to success", "action smoothness"):
        # the table is drawn row by row after the verdict (seen under load): wait for each row
        page.locator("#compare-table").get_by_text(metric, exact=True).first.wait_for(timeout=30_000)
    table = page.locator("#compare-table").inner_text()
    assert "44% [31–58]" in table and "60% [46–72]" in table
    page.wait_for_selector("#compare-plot .js-plotly-plot")
    assert page.locator("#compare-plot .js-plotly-plot .bars path").count() >= 4
    grid = page.locator("#compare-grid")
    grid.get_by_text("1020 ✓✗").wait_for()  # seed 1020: only A succeeded
    problems = page.locator("#compare-plugin-problems").inner_text()
    assert "plugin 'raising_hook' disabled: hook studio_comparison_metrics raised RuntimeError" in problems
    assert not page.console_errors.errors(), page.console_errors
    import sys

    sys.modules.pop("raising_hook_mod", None)


def test_compare_panel_names_a_missing_choice(project, serve_app, page):
    paired_sets(project.rollouts_dir, both=2, only_a=0, only_b=1, neither=1)
    page.goto(serve_app(project) + "?panel=Compare")
    page.wait_for_selector("#compare-run")
    choose_sets(page, ["A (4 rollouts)"])
    page.click("#compare-run")
    page.get_by_text("choose at least two rollout sets").first.wait_for()


def test_compare_panel_three_sets_verdict_per_challenger_and_grid_switch(project, serve_app, page):
    from test_compare import write_rollout_set

    paired_sets(project.rollouts_dir, both=10, only_a=0, only_b=10, neither=10)
    write_rollout_set(project.rollouts_dir / "C", [(1000 + i, i < 10) for i in range(30)])
    page.goto(serve_app(project) + "?panel=Compare")
    page.wait_for_selector("#compare-run")
    choose_sets(page, ["A (30 rollouts)", "B (30 rollouts)", "C (30 rollouts)"])
    page.click("#compare-run")
    verdict = page.locator("#compare-verdict")
    verdict.get_by_text("B vs baseline: B better (B)").wait_for()
    assert "C vs baseline: no detectable difference at n=30 paired seeds" in verdict.inner_text()
    page.locator("#compare-table").get_by_text("verdict C").first.wait_for()  # the table: drawn a moment later
    page.locator("#compare-grid").get_by_text("1010 ✗✓").wait_for()  # A failed, B succeeded
    page.locator("#compare-challenger label", has_text="C").click()
    page.locator("#compare-grid").get_by_text("1010 ✗✗").wait_for()  # A and C both failed


def test_compare_panel_refuses_other_robots_warns_on_tasks_and_hides_unreviewed_real_sets(project, serve_app, page,
                                                                                            tmp_path):
    """Issue 18 item 5: a refusal stays on the page in one sentence (no verdict beside it), a task
    difference is a warning above the verdict, and a real set nobody reviewed is not offered."""
    from test_comparability import sim_set

    from studio import review
    from studio.synthetic import write_synthetic_dataset

    sim_set(project.rollouts_dir / "sim_a")
    sim_set(project.rollouts_dir / "sim_b", task="stack two cubes")
    sim_set(project.rollouts_dir / "humanoid", robot="unitree_g1", action=29)
    real = write_synthetic_dataset(tmp_path / "real", episodes=3, frames=10)
    review.register_rollouts(project, real, checkpoint="ckpt-9", name="real_unreviewed")
    page.goto(serve_app(project) + "?panel=Compare")
    page.wait_for_selector("#compare-run")
    page.locator("#compare-sets-note").get_by_text("real_unreviewed").wait_for()
    page.click("#compare-sets input")
    options = page.locator("ul.options li")
    options.first.wait_for()
    assert sorted(options.all_inner_texts()) == ["humanoid (20 rollouts)", "sim_a (20 rollouts)",
                                                 "sim_b (20 rollouts)"]
    options.filter(has_text="sim_a (20 rollouts)").first.click()
    choose_sets(page, ["humanoid (20 rollouts)"])
    page.click("#compare-run")
    verdict = page.locator("#compare-verdict")
    verdict.get_by_text("ran on different robots (panda vs unitree_g1)").wait_for()
    assert "Not compared" in verdict.inner_text() and "better" not in verdict.inner_text()
    page.wait_for_timeout(1500)  # an error toast would vanish; the sentence stays
    assert "ran on different robots" in verdict.inner_text()

    page.reload()
    page.wait_for_selector("#compare-run")
    choose_sets(page, ["sim_a (20 rollouts)", "sim_b (20 rollouts)"])
    page.click("#compare-run")
    verdict.get_by_text("Verdict:").wait_for()
    text = verdict.inner_text()
    assert "Check before trusting this comparison" in text
    assert "'sim_a' and 'sim_b' were recorded on different tasks ('pick up the cube' vs 'stack two cubes')" in text
    # the table is the same event's other output, drawn by its own component a moment later
    page.locator("#compare-table").get_by_text("success rate", exact=True).first.wait_for(timeout=30_000)
    assert not page.console_errors.errors(), page.console_errors
