"""The DuckDB catalog and the SQL sandbox."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from studio.datasets import open_dataset
from studio.errors import QueryError
from studio.hookspecs import hookimpl
from studio.plugins import PluginHost
from studio.query import Catalog, catalog_for
from studio.synthetic import write_synthetic_dataset

SO101 = Path(__file__).resolve().parent / "data" / "so101_record_test"


@pytest.fixture(scope="module")
def cat(tmp_path_factory):
    root = write_synthetic_dataset(tmp_path_factory.mktemp("q") / "ds", episodes=3, frames=[10, 20, 30],
                                   videos=("observation.images.front",), tasks=("pick", "place"))
    return Catalog(dataset=open_dataset(root)).build(PluginHost(load_entry_points=False))


def test_frames_view_has_named_element_columns(cat):
    cols = cat.frame_columns
    assert "action" in cols and "action.gripper.pos" in cols
    assert "observation.state.shoulder_pan.pos" in cols and "observation.environment_state.z" in cols
    r = cat.sql('SELECT "action"[6] = "action.gripper.pos" AS same FROM frames')
    assert r.df["same"].all() and r.total_rows == 60


def test_episodes_and_tasks_views(cat):
    df = cat.sql("SELECT * FROM episodes ORDER BY episode_index").df
    assert df["length"].tolist() == [10, 20, 30]
    assert df["duration_s"].tolist() == pytest.approx([10 / 30, 20 / 30, 1.0])
    assert df["has_video.observation.images.front"].all()
    assert list(df["tasks"][1]) == ["place"]
    assert cat.sql("SELECT task FROM tasks ORDER BY task_index").df["task"].tolist() == ["pick", "place"]


def test_group_by_over_frames_matches_episodes(cat):
    df = cat.sql("SELECT f.episode_index, count(*) AS n, any_value(e.length) AS length FROM frames f "
                 "JOIN episodes e USING (episode_index) GROUP BY 1 ORDER BY 1").df
    assert (df["n"] == df["length"]).all()


def test_paging(cat):
    r = cat.sql("SELECT index FROM frames ORDER BY index", limit=7, offset=14)
    assert r.df["index"].tolist() == list(range(14, 21))
    assert r.total_rows == 60 and r.truncated
    last = cat.sql("SELECT index FROM frames ORDER BY index", limit=7, offset=56)
    assert last.df["index"].tolist() == [56, 57, 58, 59] and last.total_rows == 60 and not last.truncated


@pytest.mark.parametrize("query", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "FROM read_text('/etc/passwd')",
    "SELECT * FROM read_parquet('{out}/*.parquet')",
    "SELECT * FROM glob('/*')",
    "SELECT read_text('/etc/passwd')",
    "COPY frames TO '{out}/leak.csv'",
    "COPY (SELECT 1) TO '{out}/leak.csv'",
    "ATTACH '{out}/leak.db'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET threads = 1",
    "PRAGMA database_list",
    "CREATE TABLE x AS SELECT 1",
    "CREATE VIEW y AS SELECT 1",
    "EXPORT DATABASE '{out}/leak'",
    "DROP VIEW frames",
    "INSERT INTO tasks VALUES (9, 'x')",
    "UPDATE tasks SET task = 'x'",
    "DELETE FROM tasks",
    "CALL pragma_version()",
    "SELECT 1; SELECT 2",
    "SELECT current_setting('memory_limit')",
    "SELECT * FROM duckdb_settings()",
    "SUMMARIZE SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM information_schema.tables",
    "WITH t AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM t",
    "SELECT * FROM frames WHERE index IN (SELECT 1 FROM read_json('/etc/x.json'))",
    "SELECT * FROM frames f, LATERAL (SELECT * FROM read_csv_auto('/etc/passwd')) x",
    "SELECT * FROM episodes WHERE task IN (SELECT Delimiter FROM sniff_csv('/etc/passwd'))",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM \"/etc/passwd\"",
    "SELECT * FROM system.main.duckdb_settings",
    "EXPLAIN ANALYZE SELECT * FROM frames",
])
def test_sandbox_refuses(cat, query, tmp_path):
    out = tmp_path / "outside"  # a folder outside the dataset that nothing may write into
    out.mkdir()
    with pytest.raises(QueryError) as err:
        cat.sql(query.replace("{out}", str(out)))
    assert err.value.where == "query" and err.value.what
    assert list(out.iterdir()) == []


def test_schema_qualified_views_are_allowed(cat):
    assert cat.sql("SELECT count(*) AS n FROM main.tasks").df["n"][0] == 2


def test_sandbox_messages_are_clear(cat, tmp_path):
    with pytest.raises(QueryError, match="only SELECT"):
        cat.sql(f"COPY frames TO '{tmp_path / 'leak.csv'}'")
    with pytest.raises(QueryError, match="read_csv.*not allowed"):
        cat.sql("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(QueryError, match="no view named 'nope'"):
        cat.sql("SELECT * FROM nope")


def test_sandbox_configuration_is_locked(cat):
    import duckdb

    with pytest.raises(duckdb.Error, match="locked"):
        cat._sandbox.execute("SET enable_external_access = true")
    with pytest.raises(Exception, match="disabled|Permission"):
        cat._sandbox.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()


def test_long_query_is_interrupted(cat):
    start = time.perf_counter()
    with pytest.raises(QueryError, match="time limit"):
        cat.sql("SELECT count(*) FROM range(1000000000000) a", timeout_s=0.5)
    # not a speed check: uninterrupted, this query runs for hours; 60 s (120x the limit) only tells
    # "interrupted" from "ran to the end" on however loaded a machine
    assert time.perf_counter() - start < 60
    assert cat.sql("SELECT count(*) AS n FROM frames").df["n"][0] == 60  # still usable


def _limit_bytes(con) -> int:
    from studio.query import size_bytes

    return size_bytes(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def test_memory_limit_is_set(cat, tmp_path, monkeypatch):
    """The sandbox's limit is the documented 1 GB (not DuckDB's default of 80% of RAM), and configurable."""
    assert _limit_bytes(cat._sandbox) == pytest.approx(10**9, rel=0.01)
    with cat._sandbox.cursor() as cur:  # every cursor of the sandbox shares it
        assert _limit_bytes(cur) == pytest.approx(10**9, rel=0.01)
    monkeypatch.setenv("STUDIO_SQL_MEMORY_LIMIT", "256MB")
    root = write_synthetic_dataset(tmp_path / "small", episodes=2, frames=10)
    small = Catalog(dataset=open_dataset(root)).build(PluginHost(load_entry_points=False), materialize=False)
    try:
        assert _limit_bytes(small._sandbox) == pytest.approx(256 * 10**6, rel=0.01)
    finally:
        small.close()
    from studio.curation.selections import _sandbox

    con = _sandbox(pd.DataFrame({"episode_index": [0, 1]}), pd.DataFrame({"episode_index": [], "tag": []}),
                   pd.DataFrame({"episode_index": [], "note": []}))
    try:  # the Curate filter / --where sandbox too
        assert _limit_bytes(con) == pytest.approx(256 * 10**6, rel=0.01)
    finally:
        con.close()


def test_cte_in_another_scope_or_a_symlink_does_not_open_files(tmp_path):
    """The issue's query: a CTE named like a path in a subquery, and `link/..` leaving the dataset."""
    outside = tmp_path / "home"
    (outside / "sub").mkdir(parents=True)
    (outside / "users.json").write_text('{"users": [{"name": "ana", "hash": "secret-hash"}]}')
    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=10)
    (root / "link").symlink_to(outside / "sub")
    path = f"{root}/link/../users.json"
    c = Catalog(dataset=open_dataset(root)).build(PluginHost(load_entry_points=False), materialize=False)
    try:
        for query in [
            f'SELECT y.* FROM (WITH "{path}" AS (SELECT 1 AS a) SELECT a FROM "{path}") x, "{path}" y',
            f'WITH t AS (SELECT 1 AS a) SELECT * FROM (WITH "{path}" AS (SELECT 2 AS a) SELECT 1) s, "{path}"',
            f'SELECT * FROM "{path}"',
        ]:
            with pytest.raises(QueryError, match="not allowed"):
                c.sql(query)
        # and DuckDB itself opens only the data files by their real paths, not any path under the folder
        with pytest.raises(Exception, match="(?i)permission|disabled|not allowed"):
            c._sandbox.execute(f"SELECT * FROM read_json('{path}')").fetchall()
        assert c.sql("WITH e AS (SELECT * FROM episodes) SELECT count(*) AS n FROM e").df["n"][0] == 2
    finally:
        c.close()


def test_result_larger_than_the_cap_is_one_sentence(cat):
    with pytest.raises(QueryError) as err:
        cat.sql("SELECT repeat('z', 1000000) AS s FROM range(100)")
    assert "larger than the 64 MB cap" in err.value.sentence() and "\n" not in err.value.sentence()
    assert cat.sql("SELECT count(*) AS n FROM frames").df["n"][0] == 60


def test_runaway_string_query_stops_within_the_memory_limit(tmp_path):
    """The issue's query ran 127 s and reached 15 GB; now it stops with one sentence, near the limit."""
    import subprocess
    import sys

    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=10)
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))  # protect the machine if it regresses\n"
            "from studio.cli import main\n"
            "rc = main(sys.argv[1:])\n"
            "print(f'maxrss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}', file=sys.stderr)\n"
            "sys.exit(rc)\n")
    proc = subprocess.run([sys.executable, "-c", code, "query", str(root),
                           "SELECT repeat('z', 50000000) AS s FROM range(40)", "--project", str(tmp_path / "home")],
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("maxrss=")]
    assert proc.returncode == 2, proc.stderr
    assert lines == ["error: query: needs more than the 1GB memory limit; aggregate or filter it"]
    peak_kib = int(proc.stderr.rsplit("maxrss=", 1)[1].split()[0])
    assert peak_kib < 3.5 * 2**20  # GiB in KiB: the limit plus the one vector being built


def test_curate_predicates_run_in_the_sandbox(monkeypatch):
    from studio.curation import selections
    from studio.curation.selections import filter_episodes

    facts = pd.DataFrame({"episode_index": [0, 1, 2], "length": [10, 20, 30]})
    assert filter_episodes(facts, "length > 15") == [1, 2]
    with pytest.raises(QueryError, match="current_setting"):
        filter_episodes(facts, "current_setting('memory_limit') IS NOT NULL")
    with pytest.raises(QueryError, match="read_csv.*not allowed"):
        filter_episodes(facts, "episode_index IN (SELECT 1 FROM read_csv('/etc/passwd'))")
    with pytest.raises(QueryError, match="memory limit"):
        filter_episodes(facts, "length((SELECT string_agg(repeat('z', 1000000), ',') FROM range(3000))) > 0")
    monkeypatch.setattr(selections, "PREDICATE_TIMEOUT_S", 0.5)
    with pytest.raises(QueryError, match="time limit"):
        filter_episodes(facts, "episode_index IN (SELECT count(*) FROM range(100000) a, range(100000) b)")


def test_internal_api_is_unsandboxed(cat, tmp_path):
    out = tmp_path / "x.parquet"
    cat.connection().execute(f"COPY (SELECT episode_index FROM frames) TO '{out}'")
    assert out.exists()
    assert cat.relation("SELECT count(*) FROM frames").fetchall()[0][0] == 60
    assert len(cat.df("SELECT * FROM episodes WHERE length > ?", [15])) == 2


class _Views:
    @hookimpl
    def studio_catalog_views(self, dataset, project):
        return [
            ("scores", lambda c: pd.DataFrame({"episode_index": [0, 1, 2], "score": [0.1, 0.5, 0.9]})),
            ("long_eps", lambda c: "SELECT episode_index FROM episodes WHERE length >= 20"),
            ("broken", lambda c: 1 / 0),
        ]


def test_plugin_views_lazy_and_isolated(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=3, frames=[10, 20, 30])
    host = PluginHost(load_entry_points=False)
    host.register(_Views(), name="viewsplugin")
    cat = catalog_for(open_dataset(root), plugin_host=host)
    assert {"scores", "long_eps", "broken"} <= set(cat.views())
    assert not cat._ready_views  # nothing computed yet
    df = cat.sql("SELECT e.episode_index, s.score FROM episodes e JOIN scores s USING (episode_index) "
                 "ORDER BY s.score DESC").df
    assert df["episode_index"].tolist() == [2, 1, 0]
    assert cat.sql("SELECT count(*) AS n FROM long_eps").df["n"][0] == 2
    with pytest.raises(QueryError):
        cat.sql("SELECT * FROM broken")
    assert any("broken" in f.what for f in host.failures())
    assert cat.sql("SELECT count(*) AS n FROM frames").df["n"][0] == 60  # catalog still works


def test_catalog_is_cached_per_fingerprint(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=1, frames=5)
    host = PluginHost(load_entry_points=False)
    ds = open_dataset(root)
    assert catalog_for(ds, plugin_host=host) is catalog_for(open_dataset(root), plugin_host=host)


def test_so101_sql_works():
    cat = catalog_for(open_dataset(SO101), plugin_host=PluginHost(load_entry_points=False))
    df = cat.sql('SELECT episode_index, count(*) AS n, max("observation.state.gripper.pos") AS g '
                 "FROM frames GROUP BY 1 ORDER BY 1").df
    assert df["n"].sum() == 1492 and len(df) == 4
    eps = cat.sql("SELECT * FROM episodes").df
    assert not eps["has_video.observation.images.front"].any() and not eps["has_video.observation.images.top"].any()


def test_cli_query_formats(tmp_path, capsys):
    from studio.cli import main

    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=[4, 6])
    sql = "SELECT episode_index, length FROM episodes ORDER BY 1"
    assert main(["query", str(root), sql, "--format", "csv"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == ["episode_index,length", "0,4", "1,6"]
    assert main(["query", str(root), sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"episode_index": 0, "length": 4}, {"episode_index": 1, "length": 6}]
    assert main(["query", str(root), sql]) == 0
    assert "episode_index" in capsys.readouterr().out
    assert main(["query", str(root), "SELECT index FROM frames ORDER BY index", "--limit", "3", "--format", "csv"]) == 0
    cap = capsys.readouterr()
    assert cap.out.split() == ["index", "0", "1", "2"] and "3 of 10 rows" in cap.err


def test_cli_query_refusal_exits_2(tmp_path, capsys):
    from studio.cli import main

    root = write_synthetic_dataset(tmp_path / "ds", episodes=1, frames=4)
    assert main(["query", str(root), f"COPY frames TO '{tmp_path / 'leak.csv'}'"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: query: COPY statements are not allowed")
    assert main(["query", str(root), "SELECT 1", "--format", "xml"]) == 2


def test_concurrent_queries_from_threads(cat):
    from concurrent.futures import ThreadPoolExecutor

    def run(i):
        return cat.sql(f"SELECT count(*) AS n FROM frames WHERE episode_index = {i % 3}").df["n"][0]

    with ThreadPoolExecutor(4) as pool:
        out = list(pool.map(run, range(24)))
    assert out == [[10, 20, 30][i % 3] for i in range(24)]


def test_comments_and_trailing_semicolon(cat):
    r = cat.sql("-- longest first\nSELECT episode_index FROM episodes ORDER BY length DESC; -- done", limit=2)
    assert r.df["episode_index"].tolist() == [2, 1] and r.truncated and r.total_rows == 3


def test_scalar_float_features_stay_scalar(tmp_path):
    """`next.reward` (shape [1]) is a scalar column, not a vector: no element columns, catalog builds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = write_synthetic_dataset(tmp_path / "ds", episodes=2, frames=5, environment_state=False)
    data = root / "data/chunk-000/file-000.parquet"
    t = pq.read_table(data)
    pq.write_table(t.append_column("next.reward", pa.array([0.0] * 9 + [1.0], type=pa.float32())), data)
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    (root / "meta/info.json").write_text(json.dumps(info))
    ds = open_dataset(root)
    assert "next.reward" not in ds.vector_features() and ds.problems == ()
    cat = Catalog(dataset=ds).build(PluginHost(load_entry_points=False))
    assert "next.reward" in cat.frame_columns and "next.reward.0" not in cat.frame_columns
    assert cat.sql('SELECT sum("next.reward") AS r FROM frames').df["r"][0] == 1.0


def test_frames_are_copied_into_memory_for_user_sql(tmp_path):
    root = write_synthetic_dataset(tmp_path / "ds", episodes=3, frames=[10, 20, 30])
    cat = Catalog(dataset=open_dataset(root)).build(PluginHost(load_entry_points=False))
    q = 'SELECT episode_index, count(*) AS n, sum("action.gripper.pos") AS g FROM frames GROUP BY 1 ORDER BY 1'
    before = cat.sql(q).df
    assert cat.wait_materialized(30)
    after = cat.sql(q).df
    assert after["n"].tolist() == [10, 20, 30] and after["g"].tolist() == pytest.approx(before["g"].tolist())
    assert cat.sql("SELECT count(*) AS n FROM frames").df["n"][0] == 60
    with pytest.raises(QueryError, match="no view named"):
        cat.sql("SELECT * FROM __frames_data")  # the copy itself is not reachable
    assert Catalog(dataset=open_dataset(root)).build(PluginHost(load_entry_points=False), materialize=False) \
        .wait_materialized(1) is False
