"""Example Flywheel Studio plugin: adds an 'episode length' comparison metric.

Installed like any package (`pip install .`); the studio finds it through the entry point
`example_episode_length = "flywheel_example_plugin"` in the `flywheel_studio` group.
"""

from studio.compare import ComparisonMetric, Estimate, bootstrap_difference, bootstrap_mean
from studio.hookspecs import hookimpl


def episode_length(rollout_set) -> Estimate:
    # steps per rollout, from summary.json; n == 0 (not available) when the set has none
    return bootstrap_mean(rollout_set.episodes["steps"].to_numpy(dtype=float))


def episode_length_test(a, b):
    return bootstrap_difference(a.episodes["steps"].to_numpy(dtype=float),
                                b.episodes["steps"].to_numpy(dtype=float))


@hookimpl
def studio_comparison_metrics():
    return [
        ComparisonMetric(
            name="episode length",
            doc="Mean number of control steps per rollout (shorter is faster), seeded bootstrap 95% interval.",
            direction="lower",
            fn=episode_length,
            test=episode_length_test,
            unit="steps",
        )
    ]
