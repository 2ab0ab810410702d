"""The studio's plugin hooks, declared once. Built-in plugins (plugins/) and third-party
packages implement them alike and are found through the entry-point group
`flywheel_studio` (see docs/plugins.md).

Every hook returns a list (possibly empty); the studio concatenates the lists of all
plugins. A plugin whose hook raises is disabled with a visible message and the call
goes on with the remaining plugins.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "flywheel_studio"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def studio_episode_metrics():
    """Called when curation computes per-episode quality metrics for a dataset.

    Return a list of `studio.curation.metrics.EpisodeMetric` (name, one-line doc,
    direction 'higher'/'lower', and a vectorised function over all episodes at once).
    """


@hookspec
def studio_comparison_metrics():
    """Called each time two or more rollout sets are compared (Compare panel, `studio compare`).

    Return a list of `studio.compare.ComparisonMetric`: name, one-sentence doc, direction
    ('higher' or 'lower' is better), `fn(rollout_set) -> studio.compare.Estimate(value,
    ci_low, ci_high, n)` with a 95% interval (n == 0: not available for that set), and
    optionally `test(a, b) -> studio.compare.PairTest` for a dedicated two-set test. A
    metric whose `fn` or `test` raises is dropped and its plugin disabled.
    """


@hookspec
def studio_catalog_views(dataset, project):
    """Called when a dataset's SQL catalog is built (after `frames`, `episodes`, `tasks`).

    `dataset` is a `studio.datasets.Dataset`, `project` a `studio.project.Project` or None.
    Return a list of `(view_name, provider)` where provider is a callable taking the
    catalog and returning a pandas DataFrame, a pyarrow Table or a SQL string over the
    catalog's existing views. Views are created lazily on first use.
    """


@hookspec
def studio_environments():
    """Called when the simulation registry is first used.

    Return a list of `studio.sim.registry.EnvSpec` (name, description, factory). The
    built-in `pick_cube` task is registered this way.
    """


@hookspec
def studio_exporters():
    """Called when the export menu / `studio export --format` is built.

    Return a list of `studio.curation.export.Exporter` (name, doc, function that writes a
    selection of a dataset to a target folder atomically).
    """


@hookspec
def studio_panels():
    """Called when the app shell is built.

    Return a list of `panels.registry.Panel` to add to the sidebar (name, order, build
    function taking the app context). Built-in panels register from `panels/`.
    """


@hookspec
def studio_handler_permissions():
    """Called when the app is built, for the event handlers a plugin's panels add.

    Return a dict {handler: action}: handler is `<module>.<function>` of the callback (see
    `studio.permissions.handler_key`), action is "view" for a read-only one or one of
    `studio.auth.PERMISSIONS` ("tag", "train", …). A served studio refuses any handler that
    no list names; a plugin cannot change the action of a built-in handler.
    """


@hookspec
def studio_cell_kinds():
    """Called when a workspace is parsed or rendered.

    Return a list of `studio.workspaces.CellKind` (kind name, doc, run function that takes
    the cell source and a context and returns outputs).
    """
