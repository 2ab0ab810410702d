"""Guided checks: after a cell of a guided workspace runs, its `:check:` tells the newcomer
in one sentence whether the step worked ("You ran your first query.")."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from studio.workspaces.format import Cell

LABELS_FILE = "demo_labels.csv"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str


@dataclass(frozen=True)
class Check:
    name: str
    doc: str
    fn: Callable[[Cell, Any, Any], CheckResult]


def _outputs(result, kind: str) -> list:
    return [o.data for o in getattr(result, "outputs", ()) if o.kind == kind]


def _info(result) -> dict:
    merged: dict = {}
    for d in _outputs(result, "json"):
        if isinstance(d, dict):
            merged.update(d)
    return merged


def _failed(result) -> CheckResult | None:
    if result is None:
        return CheckResult(False, "Run the cell above first.")
    if result.error:
        return CheckResult(False, f"Not yet: the cell failed ({result.error}). Fix it and run it again.")
    return None


def _opened_dataset(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    info = _info(result)
    n = int(info.get("episodes", 0))
    if n <= 0:
        return CheckResult(False, "The dataset opened but holds no episodes.")
    from studio.workspaces.cells import duration_text

    return CheckResult(True, f"You opened your first dataset: {n} episodes, {duration_text(float(info.get('hours', 0)))} of demonstrations.")


def _ran_query(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    tables = _outputs(result, "table")
    if not tables or len(tables[0]) == 0:
        return CheckResult(False, "The query ran but returned no rows; try a broader one.")
    n = len(tables[0])
    rows = f"{n} row{'s' if n != 1 else ''}"
    first = next((c for c in ctx.workspace.cells if c.check == "ran_query"), None) is cell if ctx is not None else True
    return CheckResult(True, f"You ran your first query ({rows})." if first else f"Your query returned {rows}.")


def _drew_chart(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    if not _outputs(result, "plotly"):
        return CheckResult(False, "The cell ran but drew no chart; set `:chart:` (bar, line, scatter, histogram).")
    return CheckResult(True, "You drew your first chart.")


def _played_episode(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    views = _outputs(result, "viewer")
    if not views:
        return CheckResult(False, "Nothing to play yet.")
    info = _info(result)
    what = f"episode {info['episode']}" if "episode" in info else "the recording"
    return CheckResult(True, f"You played {what} in the viewer: drag the timeline to scrub, rotate the 3D view.")


def _curated(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    info = _info(result)
    kept, total = int(info.get("kept_count", 0)), int(info.get("total", 0))
    if kept == 0:
        return CheckResult(False, f"Your predicate keeps none of the {total} episodes; loosen it.")
    if kept == total:
        return CheckResult(False, f"Your predicate keeps all {total} episodes; tighten it to drop the worst ones.")
    return CheckResult(True, f"Your predicate keeps {kept} of {total} episodes.")


def read_labels(project) -> dict[int, dict[str, str]]:
    """The demo world's hidden truth: episode_index -> {operator, skill, success}."""
    path = Path(project.home) / LABELS_FILE
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        return {int(row["episode_index"]): row for row in csv.DictReader(fh)}


def score_selection(project, kept: Iterable[int]) -> dict[str, tuple[int, int]]:
    """Per operator (expert, careful, novice, distracted): (kept, total) against the hidden truth."""
    labels = read_labels(project)
    kept_set = {int(i) for i in kept}
    score: dict[str, list[int]] = {}
    for idx, row in labels.items():
        s = score.setdefault(str(row.get("operator") or row.get("skill") or "unknown"), [0, 0])
        s[1] += 1
        s[0] += int(idx in kept_set)
    return {k: (v[0], v[1]) for k, v in score.items()}


def score_sentence(score: dict[str, tuple[int, int]]) -> str:
    e, n = score.get("expert", (0, 0)), score.get("novice", (0, 0))
    return f"you kept {e[0]} of {e[1]} expert episodes and {n[0]} of {n[1]} novice ones"


def _selection_scored(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    info = _info(result)
    name = info.get("selection")
    if not name or not info.get("saved"):
        return CheckResult(False, "Save your selection (set `:save: <name>` on the curate cell) and run it.")
    score = score_selection(ctx.project, info.get("kept", ()))
    if not score:
        return CheckResult(False, f"Selection '{name}' is saved, but this project has no {LABELS_FILE} to score it against.")
    e, n = score.get("expert", (0, 0)), score.get("novice", (0, 0))
    sentence = score_sentence(score)
    kept_e = e[0] / e[1] if e[1] else 0.0
    kept_n = n[0] / n[1] if n[1] else 0.0
    # worked = most experts kept, and experts kept far more often than novices
    if e[1] and kept_e >= 0.5 and kept_e - kept_n >= 0.3:
        return CheckResult(True, f"Selection '{name}' saved: {sentence}.")
    return CheckResult(False, f"Selection '{name}' saved, but {sentence}: aim to keep most experts and drop most novices.")


def _jobs_submitted(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    jobs = _info(result).get("jobs") or []
    if not jobs:
        return CheckResult(False, "No job was submitted.")
    return CheckResult(True, f"{len(jobs)} job(s) in the queue: {', '.join(map(str, jobs))}. They keep running if you close the tab.")


def _rollouts_done(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    info = _info(result)
    if "success_rate" not in info:
        return CheckResult(False, "No rollouts yet.")
    n = int(info.get("n_episodes") or 0)
    return CheckResult(True, f"You evaluated {info.get('policy', 'the policy')} on {n} rollout{'s' if n != 1 else ''}: "
                             f"success {info['success_rate']:.0%} [{info.get('low', 0):.0%}–{info.get('high', 1):.0%}].")


def _compared(cell, result, ctx) -> CheckResult:
    if (bad := _failed(result)) is not None:
        return bad
    verdict = _info(result).get("verdict")
    if not verdict:
        return CheckResult(False, "The comparison gave no verdict.")
    return CheckResult(True, f"You compared two checkpoints: {verdict}.")


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check("opened_dataset", "The overview cell showed a dataset with episodes.", _opened_dataset),
        Check("ran_query", "The SQL cell returned rows.", _ran_query),
        Check("drew_chart", "The cell drew a chart.", _drew_chart),
        Check("played_episode", "The playback cell produced a recording for the viewer.", _played_episode),
        Check("curated", "The curate cell kept some but not all episodes.", _curated),
        Check("selection_scored", "The saved selection keeps most experts and drops most novices (demo truth).", _selection_scored),
        Check("jobs_submitted", "The train cell put jobs in the queue.", _jobs_submitted),
        Check("rollouts_done", "The evaluate cell produced a rollout set.", _rollouts_done),
        Check("compared", "The compare cell gave a verdict.", _compared),
    )
}


def evaluate(cell: Cell, result, ctx) -> CheckResult | None:
    """The check named by the cell's `:check:` option (None when it has none)."""
    name = cell.check
    if not name:
        return None
    check = CHECKS.get(name)
    if check is None:
        return CheckResult(False, f"Unknown check '{name}' (known: {', '.join(sorted(CHECKS))}).")
    try:
        return check.fn(cell, result, ctx)
    except Exception as exc:  # a check must never break the notebook
        import logging

        logging.getLogger("studio.workspaces").exception("check %s failed", name)
        return CheckResult(False, f"The check could not run ({type(exc).__name__}: {exc}).")
