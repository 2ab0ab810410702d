"""studio.query details the mutation pass found unguarded (docs/testing.md): ISO dates in JSON
records, one catalog per project, a failing plugin view named after its plugin, quoted names."""

from __future__ import annotations

import pandas as pd
import pytest

from studio.datasets import open_dataset
from studio.errors import QueryError
from studio.hookspecs import hookimpl
from studio.plugins import PluginHost
from studio.project import open_project
from studio.query import _q, catalog_for
from studio.synthetic import write_synthetic_dataset


@pytest.fixture
def ds(tmp_path):
    return open_dataset(write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=[6, 9], tasks=("pick",)))


def test_records_carry_iso_timestamps(ds):
    cat = catalog_for(ds, plugin_host=PluginHost(load_entry_points=False), materialize=False)
    rec = cat.sql("SELECT TIMESTAMP '2024-01-02 03:04:05' AS t, 7 AS n").as_records()
    assert rec == [{"t": "2024-01-02T03:04:05.000", "n": 7}]


def test_each_project_gets_its_own_catalog(ds, tmp_path):
    host = PluginHost(load_entry_points=False)
    a, b = open_project(tmp_path / "a"), open_project(tmp_path / "b")
    assert catalog_for(ds, a, plugin_host=host) is catalog_for(ds, a, plugin_host=host)
    assert catalog_for(ds, a, plugin_host=host) is not catalog_for(ds, b, plugin_host=host)
    assert catalog_for(ds, a, plugin_host=host) is not catalog_for(ds, plugin_host=host)


class _Failing:
    @hookimpl
    def studio_catalog_views(self, dataset, project):
        return [("ok_view", lambda c: pd.DataFrame({"x": [1, 2]})),
                ("from_catalog", lambda c: c.df("SELECT count(*) AS n FROM episodes")),  # gets the catalog
                ("bad_view", lambda c: c.df("SELECT * FROM no_such_table"))]


def test_failing_plugin_view_is_reported_under_its_plugin_and_dropped(ds):
    host = PluginHost(load_entry_points=False)
    host.register(_Failing(), name="failing_views")
    cat = catalog_for(ds, plugin_host=host, materialize=False)
    assert cat.ensure_view("ok_view") and "ok_view" in cat._ready_views
    assert cat.ensure_view("bad_view") is False
    (failure,) = [f for f in host.failures() if f.plugin == "failing_views"]
    assert "catalog view 'bad_view' failed" in failure.what
    assert "bad_view" not in cat.views() and cat.ensure_view("bad_view") is False
    with pytest.raises(QueryError):
        cat.sql("SELECT * FROM bad_view")
    assert cat.sql("SELECT sum(x) AS s FROM ok_view").df["s"][0] == 3
    assert cat.sql("SELECT n FROM from_catalog").df["n"][0] == 2


def test_identifiers_with_quotes_are_escaped(ds):
    assert _q('a"b') == '"a""b"' and _q("plain") == '"plain"'
    cat = catalog_for(ds, plugin_host=PluginHost(load_entry_points=False), materialize=False)
    weird = 'we"ird'
    assert cat.sql("SELECT 1 AS " + _q(weird)).columns == [weird]


def test_views_have_their_documented_column_names(ds):
    cat = catalog_for(ds, plugin_host=PluginHost(load_entry_points=False), materialize=False)
    assert cat.sql("SELECT * FROM tasks").columns == ["task_index", "task"]  # DuckDB matches names case-blind
    cols = cat.sql("SELECT * FROM episodes").columns
    assert {"episode_index", "length", "duration_s", "tasks", "task", "dataset_from_index", "dataset_to_index"} <= set(cols)
