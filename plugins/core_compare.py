"""Built-in comparison metrics, contributed through the public `studio_comparison_metrics`
hook exactly as a third-party plugin would (entry point `core_compare` in pyproject.toml).

- success rate: 95% Wilson interval; B vs A by McNemar's exact test on shared seeds,
  otherwise Fisher's exact test.
- mean progress: seeded bootstrap interval; paired bootstrap on shared seeds.
- time to success (successful rollouts only): seeded bootstrap interval.
- action smoothness: mean ‖Δ²a‖ per frame from the rollout set's action data (lower is
  smoother); seeded bootstrap interval.
"""

from __future__ import annotations

import numpy as np

from studio.compare import (
    ComparisonMetric,
    Estimate,
    PairTest,
    RolloutSet,
    bootstrap_difference,
    bootstrap_mean,
    fisher_exact,
    is_paired,
    mcnemar_exact,
    n_mcnemar,
    n_two_proportions,
    paired_grid,
    wilson_interval,
)
from studio.hookspecs import hookimpl


def success_rate(rs: RolloutSet) -> Estimate:
    success = rs.episodes["success"].to_numpy(dtype=bool)
    return wilson_interval(int(success.sum()), len(success))


def success_test(a: RolloutSet, b: RolloutSet) -> PairTest:
    grid = paired_grid(a, b)
    if is_paired(a, b, grid):
        only_a = sum(g.success_a and not g.success_b for g in grid)
        only_b = sum(g.success_b and not g.success_a for g in grid)
        n = len(grid)
        return PairTest(mcnemar_exact(only_a, only_b),
                        f"McNemar exact on {n} shared seeds ({only_a} only A, {only_b} only B)",
                        n_mcnemar(only_a / n, only_b / n), paired=True, n=n)
    ka, na = int(a.episodes["success"].sum()), a.n
    kb, nb = int(b.episodes["success"].sum()), b.n
    return PairTest(fisher_exact(ka, na, kb, nb), "Fisher exact (no shared seeds)",
                    n_two_proportions(ka / na, kb / nb), paired=False, n=max(na, nb))


def _paired_values(a: RolloutSet, b: RolloutSet, column: str):
    ea = a.episodes.dropna(subset=["seed"]).drop_duplicates("seed")[["seed", column]]
    eb = b.episodes.dropna(subset=["seed"]).drop_duplicates("seed")[["seed", column]]
    m = ea.merge(eb, on="seed", suffixes=("_a", "_b"))
    return m[f"{column}_a"].to_numpy(dtype=float), m[f"{column}_b"].to_numpy(dtype=float)


def mean_progress(rs: RolloutSet) -> Estimate:
    return bootstrap_mean(rs.episodes["progress"].to_numpy(dtype=float))


def progress_test(a: RolloutSet, b: RolloutSet) -> PairTest:
    if is_paired(a, b):
        return bootstrap_difference(*_paired_values(a, b, "progress"), paired=True)
    return bootstrap_difference(a.episodes["progress"].to_numpy(dtype=float),
                                b.episodes["progress"].to_numpy(dtype=float))


def _time_to_success(rs: RolloutSet) -> np.ndarray:
    t = rs.episodes["time_to_success_s"].to_numpy(dtype=float)
    return t[rs.episodes["success"].to_numpy(dtype=bool)]


def time_to_success(rs: RolloutSet) -> Estimate:
    return bootstrap_mean(_time_to_success(rs))


def time_test(a: RolloutSet, b: RolloutSet) -> PairTest:
    # successes differ between sets, so the honest comparison is unpaired
    return bootstrap_difference(_time_to_success(a), _time_to_success(b))


def action_smoothness(rs: RolloutSet) -> Estimate:
    return bootstrap_mean(rs.action_smoothness)


def smoothness_test(a: RolloutSet, b: RolloutSet) -> PairTest:
    return bootstrap_difference(a.action_smoothness, b.action_smoothness)


METRICS = [
    ComparisonMetric(
        name="success rate",
        doc="Share of successful rollouts, 95% Wilson interval; B vs A by McNemar's exact test on "
            "shared seeds (Fisher's exact test otherwise).",
        direction="higher", fn=success_rate, test=success_test, fmt="percent", primary=True,
    ),
    ComparisonMetric(
        name="mean progress",
        doc="Mean task progress (0–1) per rollout, seeded bootstrap 95% interval; paired bootstrap on "
            "shared seeds.",
        direction="higher", fn=mean_progress, test=progress_test, fmt="percent",
    ),
    ComparisonMetric(
        name="time to success",
        doc="Mean seconds to success over the successful rollouts, seeded bootstrap 95% interval.",
        direction="lower", fn=time_to_success, test=time_test, unit="s",
    ),
    ComparisonMetric(
        name="action smoothness",
        doc="Mean ‖a[t+1] − 2a[t] + a[t−1]‖ of the commanded actions per frame (lower is smoother), "
            "seeded bootstrap 95% interval.",
        direction="lower", fn=action_smoothness, test=smoothness_test,
    ),
]


@hookimpl
def studio_comparison_metrics():
    return list(METRICS)
