"""benchmarks/flywheel.py --quick: every arm trains through the studio's queue, is rolled out,
and the table is computed from the results file (`make test-slow`; ~10 min on an idle machine).
The published run's table is recomputed from its committed results (default suite, seconds)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARMS = ("all", "success", "random", "shortest", "quality", "recipe")


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~10 min on an idle machine: over the suite's 600 s default
def test_quick_flywheel_runs_every_arm_and_reports_real_numbers(tmp_path):
    out = tmp_path / "fw"
    env = {**os.environ, "MUJOCO_GL": "osmesa", "PYOPENGL_PLATFORM": "osmesa", "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "flywheel.py"), "--out", str(out), "--quick"],
                       capture_output=True, text=True, env=env, timeout=3600, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(row["arm"] for row in rows) == sorted(ARMS)
    home = out / "home"
    for row in rows:
        # 20 rollouts on the development seeds, read back from the rollout set the engine wrote
        assert row["rollouts"] == 20 and [e["seed"] for e in row["episodes"]] == list(range(900_000, 900_020))
        summary = json.loads((Path(row["rollout_set"]) / "summary.json").read_text())
        assert [bool(e["success"]) for e in summary["episodes"]] == [bool(e["success"]) for e in row["episodes"]]
        assert row["successes"] == sum(bool(e["success"]) for e in row["episodes"])
        assert Path(row["checkpoint"], "model.safetensors").is_file()
    by = {row["arm"]: row for row in rows}
    # the recipe is a studio pipeline: two jobs, stage 2 from stage 1's checkpoint; the others one job each
    assert len(by["recipe"]["job_ids"]) == 2 and all(len(by[a]["job_ids"]) == 1 for a in ARMS if a != "recipe")
    stage2 = json.loads((home / "jobs" / str(by["recipe"]["job_ids"][1]) / "spec.json").read_text())
    assert stage2["init_from"] == f"job:{by['recipe']['job_ids'][0]}"
    # subsets are the curated size; all data is every episode
    assert by["all"]["n_train_episodes"] == 40
    n = by["quality"]["n_train_episodes"]
    assert 0 < n < 40 and by["random"]["n_train_episodes"] == by["shortest"]["n_train_episodes"] == n
    summary = json.loads((out / "summary.json").read_text())
    for arm in ARMS:
        s = summary["arms"][arm]
        assert s["n"] == 20 and s["k"] == by[arm]["successes"] and math.isclose(s["mean"], s["k"] / 20)
        assert s["wilson"][1] <= s["mean"] <= s["wilson"][2]
    d = summary["diffs"]["recipe-all"]
    assert math.isclose(d["mean"], by["recipe"]["success_rate"] - by["all"]["success_rate"])
    assert d["verdict"]  # studio compare gave one
    table = (out / "flywheel.md").read_text()
    for label in ("all data", "success-only", "random subset", "shortest-N", "quality-score selection alone",
                  "recipe: pre-train all"):
        line = next(ln for ln in table.splitlines() if ln.startswith(f"| {label}"))
        assert "not run" not in line and "%" in line
    # --report regenerates the same table from results.jsonl alone
    again = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "flywheel.py"), "--out", str(out), "--report"],
                           capture_output=True, text=True, env=env, timeout=600, check=False)
    assert again.returncode == 0 and (out / "flywheel.md").read_text() == table


PUBLISHED = ROOT / "docs" / "results" / "flywheel-2026-11-30"


def test_published_flywheel_table_is_what_the_committed_results_give(tmp_path):
    """docs/benchmarks.md quotes the flywheel table: it must be what `--report` computes from the
    committed raw results (every rollout's outcome), not a hand-edited or stale copy."""
    import shutil

    for name in ("results.jsonl", "config.json"):
        shutil.copy(PUBLISHED / name, tmp_path / name)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "flywheel.py"), "--out", str(tmp_path), "--report"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    table = (tmp_path / "flywheel.md").read_text()
    assert table == (PUBLISHED / "flywheel.md").read_text()
    rows = [json.loads(line) for line in (PUBLISHED / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and sorted({row["arm"] for row in rows}) == sorted(ARMS)
    assert all(len(row["episodes"]) == 100 and row["successes"] == sum(e["success"] for e in row["episodes"])
               for row in rows)
    benchmarks_md = (ROOT / "docs" / "benchmarks.md").read_text()
    for line in table.splitlines():
        if line.startswith("|"):  # every row of both tables: arms and paired differences
            assert line in benchmarks_md, f"docs/benchmarks.md lacks the published row: {line}"
