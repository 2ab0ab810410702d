"""The SQL catalog of a dataset (DuckDB) and the sandbox for user SQL.

Views: `frames` (one row per frame; vector features as lists plus one column per named
element, e.g. "action.gripper.pos"), `episodes` (episode_index, length, duration_s, tasks,
"has_video.<key>"), `tasks`, plus views added by plugins through `studio_catalog_views`
(created lazily on first use; a failing provider is disabled and reported).

Two DuckDB databases back a catalog:
- the internal one (`Catalog.connection()`, `relation()`, `df()`) for studio code, unrestricted;
- the sandbox (`Catalog.sql()`) for user SQL: file access disabled except the dataset's
  own files behind the views, configuration locked, one SELECT per call, only catalog
  views reachable (checked on DuckDB's own parse tree), a memory limit, and a timer that
  interrupts runaway queries.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from studio.errors import QueryError

log = logging.getLogger("studio.query")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_LIMIT = "1GB"  # STUDIO_SQL_MEMORY_LIMIT overrides it (e.g. "4GB")
DEFAULT_RESULT_CAP = "64MB"  # largest result user SQL may return to Python; STUDIO_SQL_RESULT_CAP overrides
DEFAULT_PAGE = 1000
# Datasets whose data columns are at most this big (uncompressed) get an in-memory copy for user SQL.
MATERIALIZE_MAX_BYTES = 160 * 1024 * 1024
# Table functions user SQL may call: they produce values, they read nothing.
SAFE_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
# Scalar functions that reveal the machine or its configuration.
DENIED_FUNCTIONS = {
    "current_setting", "getenv", "read_text", "read_blob", "glob", "duckdb_settings", "duckdb_extensions",
    "duckdb_secrets", "which_secret", "duckdb_databases", "pragma_database_list", "query", "query_table",
}
CORE_VIEWS = ("frames", "episodes", "tasks")
# A statement's trailing semicolon and any comments after it (they would end the paging wrapper).
_TRAILING = re.compile(r";(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*$", re.DOTALL)


@dataclass(frozen=True)
class QueryResult:
    """One page of a query's result."""

    columns: list[str]
    df: Any  # pandas.DataFrame
    total_rows: int
    truncated: bool
    offset: int = 0
    elapsed_s: float = 0.0

    def as_records(self) -> list[dict]:
        return json.loads(self.df.to_json(orient="records", date_format="iso"))


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


@dataclass(eq=False)
class Catalog:
    """The DuckDB catalog of one dataset (for one project)."""

    dataset: Any
    project: Any = None
    _internal: Any = field(default=None, repr=False)
    _sandbox: Any = field(default=None, repr=False)
    _plugin_views: dict = field(default_factory=dict, repr=False)  # name -> (plugin, provider)
    _ready_views: set = field(default_factory=set, repr=False)
    _lock: Any = field(default_factory=threading.RLock, repr=False)
    _sandbox_lock: Any = field(default_factory=threading.Lock, repr=False)
    _tmpdir: str = field(default="", repr=False)
    _materialize_done: Any = field(default_factory=threading.Event, repr=False)
    _mat_cursor: Any = field(default=None, repr=False)
    materialized: bool = False
    frame_columns: list = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ build
    def build(self, plugin_host=None, *, materialize: bool = True) -> Catalog:
        import duckdb

        self._tmpdir = tempfile.mkdtemp(prefix="catalog-", dir=_spill_root())
        self._internal = duckdb.connect(":memory:")
        self._sandbox = duckdb.connect(":memory:")
        frames_sql = self._frames_sql()
        episodes_df, tasks_df = self._episodes_df(), self._tasks_df()
        for con in (self._internal, self._sandbox):
            con.execute(f"SET temp_directory={_lit(self._tmpdir)}")
            con.register("__episodes_df", episodes_df)
            con.register("__tasks_df", tasks_df)
            con.execute("CREATE TABLE episodes AS SELECT * FROM __episodes_df")
            con.execute("CREATE TABLE tasks AS SELECT * FROM __tasks_df")
            con.unregister("__episodes_df")
            con.unregister("__tasks_df")
            con.execute(f"CREATE VIEW frames AS {frames_sql}")
        with self._internal.cursor() as cur:
            self.frame_columns = [r[0] for r in cur.execute("DESCRIBE frames").fetchall()]
        self._lock_sandbox()
        self._collect_plugin_views(plugin_host)
        if materialize and self.dataset.data_files() and self._materialize_size() <= MATERIALIZE_MAX_BYTES:
            thread = threading.Thread(target=self._materialize, name="studio-catalog-load", daemon=True)
            _loading.add(self)
            thread.start()
        else:
            self._materialize_done.set()
        return self

    def _lock_sandbox(self) -> None:
        # Only the dataset's own data files, by their real paths: a path that reaches outside
        # through a symlink or `..` is not one of them, whatever its text starts with.
        lock_connection(self._sandbox, files=self._real_data_files(), temp_dir=self._tmpdir)

    def _real_data_files(self) -> list[str]:
        """Each data file's realpath, refused unless it lies under the dataset's real root."""
        roots = {os.path.realpath(self.dataset.root), os.path.realpath(self.dataset.trusted_root)}
        out = []
        for p in self.dataset.data_files():
            real = os.path.realpath(p)
            if not any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots):
                raise QueryError(str(p), "resolves outside the dataset folder; it is not read")
            out.append(real)
        return out

    def _frames_sql(self, source: str | None = None) -> str:
        """The `frames` view over the data files (or over `source`, a table holding their rows)."""
        ds = self.dataset
        files = [str(p) for p in ds.data_files()]
        vectors = ds.vector_features()
        if not files:
            cols = ", ".join(f"NULL::BIGINT AS {_q(c)}" for c in ("episode_index", "frame_index", "index", "task_index"))
            return f"SELECT {cols}, NULL::DOUBLE AS timestamp WHERE false"
        import pyarrow.parquet as pq

        present: list[str] = []
        lists: set[str] = set()
        for f in files:
            schema = pq.read_schema(f)
            for name in schema.names:
                if name not in present:
                    present.append(name)
                if hasattr(schema.field(name).type, "value_type"):  # list / fixed-size list
                    lists.add(name)
        src = source or self._parquet_source()
        images = [k for k in ds.image_keys() if k in present]
        select = [f"* EXCLUDE ({', '.join(_q(k) for k in images)})" if images and not source else "*"]
        for col in ("episode_index", "frame_index", "index", "task_index"):
            if col not in present:
                select.append(f"NULL::BIGINT AS {_q(col)}")
        if "timestamp" not in present:
            select.append("NULL::FLOAT AS timestamp")
        used = set(present)
        for key, names in vectors.items():
            if key not in lists:  # absent, or stored as a scalar: nothing to split
                continue
            for i, el in enumerate(names):
                alias = f"{key}.{el}"
                if alias in used:
                    continue
                used.add(alias)
                select.append(f"{_q(key)}[{i + 1}] AS {_q(alias)}")
        return f"SELECT {', '.join(select)} FROM {src}"

    def _parquet_source(self) -> str:
        files = self._real_data_files()
        return f"read_parquet([{', '.join(_lit(f) for f in files)}], union_by_name=true)"

    def _materialize_size(self) -> int:
        """Uncompressed bytes of the non-image data columns (0 when there is nothing to load)."""
        import pyarrow.parquet as pq

        images = set(self.dataset.image_keys())
        total = 0
        for f in self.dataset.data_files():
            meta = pq.read_metadata(f)
            for rg in range(meta.num_row_groups):
                group = meta.row_group(rg)
                if not images:
                    total += group.total_byte_size
                    continue
                for c in range(group.num_columns):
                    col = group.column(c)
                    if col.path_in_schema.split(".")[0] not in images:
                        total += col.total_uncompressed_size
        return total

    def _materialize(self) -> None:
        """Load the frames into the sandbox's memory so user SQL does not decode parquet on
        every query (≈4× faster GROUP BYs); the view switches over when the copy is complete."""
        try:
            images = list(self.dataset.image_keys())
            cur = self._mat_cursor = self._sandbox.cursor()
            try:
                exclude = f" EXCLUDE ({', '.join(_q(k) for k in images)})" if images else ""
                # images are excluded by name only when present; union_by_name makes them all present
                present = [r[0] for r in cur.execute(f"DESCRIBE SELECT * FROM {self._parquet_source()}").fetchall()]
                if not any(k in present for k in images):
                    exclude = ""
                cur.execute(f"CREATE TABLE __frames_data AS SELECT *{exclude} FROM {self._parquet_source()}")
                cur.execute(f"CREATE OR REPLACE VIEW frames AS {self._frames_sql('__frames_data')}")
            finally:
                self._mat_cursor = None
                cur.close()
            self.materialized = True
        except Exception as exc:  # noqa: BLE001 - out of memory, closed catalog, …: keep the parquet view
            log.info("frames stay on parquet for %s: %s", self.dataset.name, exc)
        finally:
            self._materialize_done.set()

    def stop_materializing(self, timeout: float = 5.0) -> None:
        """Interrupt an in-progress copy (process exit: DuckDB must not be mid-query then)."""
        cur = self._mat_cursor
        if cur is not None:
            try:
                cur.interrupt()
            except Exception:  # already finished or closed
                log.debug("interrupting the frames copy failed", exc_info=True)
        self._materialize_done.wait(timeout)

    def wait_materialized(self, timeout: float | None = None) -> bool:
        """Block until the in-memory copy of the frames is ready (or was skipped); True if in memory."""
        self._materialize_done.wait(timeout)
        return self.materialized

    def _episodes_df(self):
        import pandas as pd

        ds = self.dataset
        eps = ds.episodes
        out = pd.DataFrame({
            "episode_index": eps["episode_index"].astype("int64").to_numpy(),
            "length": eps["length"].astype("int64").to_numpy(),
        })
        out["duration_s"] = out["length"] / float(ds.fps)
        out["tasks"] = [list(t) if t is not None else [] for t in eps["tasks"]] if "tasks" in eps else [[]] * len(eps)
        out["task"] = [t[0] if len(t) else None for t in out["tasks"]]
        for col in ("dataset_from_index", "dataset_to_index"):
            if col in eps:
                out[col] = eps[col].astype("int64").to_numpy()
        for key, present in ds.video_present().items():
            out[f"has_video.{key}"] = present
        return out

    def _tasks_df(self):
        import pandas as pd

        t = self.dataset.tasks
        if t is None or len(t) == 0:
            return pd.DataFrame({"task_index": pd.Series([], dtype="int64"), "task": pd.Series([], dtype="object")})
        return pd.DataFrame({"task_index": t["task_index"].astype("int64").to_numpy(), "task": t["task"].astype(str).to_numpy()})

    def _collect_plugin_views(self, plugin_host) -> None:
        if plugin_host is None:
            return
        hook = plugin_host.pm.hook.studio_catalog_views
        for impl in reversed(hook.get_hookimpls()):
            try:
                out = impl.function(**{k: v for k, v in {"dataset": self.dataset, "project": self.project}.items()
                                       if k in impl.argnames})
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the catalog
                plugin_host._fail(impl.plugin_name, f"hook studio_catalog_views raised {type(exc).__name__}: {exc}")
                continue
            for item in out or []:
                try:
                    name, provider = item
                except (TypeError, ValueError):
                    plugin_host._fail(impl.plugin_name, f"studio_catalog_views returned {item!r}, not (name, provider)")
                    continue
                if name in CORE_VIEWS or not str(name).isidentifier():
                    plugin_host._fail(impl.plugin_name, f"catalog view name {name!r} is reserved or not an identifier")
                    continue
                self._plugin_views[str(name)] = (impl.plugin_name, provider, plugin_host)

    # ------------------------------------------------------------------ views
    def views(self) -> list[str]:
        """Names of the views user SQL can reach (core + plugin, created or not)."""
        return list(CORE_VIEWS) + sorted(self._plugin_views)

    def schema(self) -> dict[str, list[tuple[str, str]] | None]:
        """{view: [(column, DuckDB type), …]} for every view user SQL can reach; None for a
        plugin view not created yet (its columns are known once a query uses it)."""
        out: dict[str, list[tuple[str, str]] | None] = {}
        for name in self.views():
            if name not in CORE_VIEWS and name not in self._ready_views:
                out[name] = None
                continue
            cur = self._internal.cursor()
            try:
                out[name] = [(str(r[0]), str(r[1])) for r in cur.execute(f"DESCRIBE {_q(name)}").fetchall()]
            except Exception:  # noqa: BLE001 - a view that cannot be described is listed without columns
                log.debug("describe %s failed", name, exc_info=True)
                out[name] = None
            finally:
                cur.close()
        return out

    def ensure_view(self, name: str) -> bool:
        """Create a plugin view on first use. False if its provider failed (then it is dropped)."""
        if name in CORE_VIEWS or name in self._ready_views:
            return True
        entry = self._plugin_views.get(name)
        if entry is None:
            return False
        plugin_name, provider, host = entry
        with self._lock:
            if name in self._ready_views:
                return True
            try:
                value = provider(self)
                self._install_view(name, value)
            except Exception as exc:
                log.info("catalog view %s from plugin %s failed", name, plugin_name, exc_info=True)
                self._plugin_views.pop(name, None)
                host._fail(plugin_name, f"catalog view {name!r} failed: {type(exc).__name__}: {exc}")
                return False
            self._ready_views.add(name)
            return True

    def _install_view(self, name: str, value: Any) -> None:
        import pandas as pd
        import pyarrow as pa

        if isinstance(value, str):
            for con in (self._internal, self._sandbox):
                with con.cursor() as cur:
                    cur.execute(f"CREATE OR REPLACE VIEW {_q(name)} AS {value}")
            return
        if isinstance(value, pd.DataFrame):
            table = pa.Table.from_pandas(value, preserve_index=False)
        elif isinstance(value, pa.Table):
            table = value
        elif hasattr(value, "arrow"):  # a DuckDB relation
            table = value.arrow()
        else:
            raise TypeError(f"provider returned {type(value).__name__}; expected a DataFrame, Arrow table or SQL string")
        tmp = f"__view_{name}"
        for con in (self._internal, self._sandbox):
            with con.cursor() as cur:
                cur.register(tmp, table)
                cur.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS SELECT * FROM {_q(tmp)}")
                cur.unregister(tmp)

    def refresh_view(self, name: str) -> None:
        """Forget a plugin view so the next use recomputes it (e.g. after tags change)."""
        with self._lock:
            self._ready_views.discard(name)


    # ------------------------------------------------------------------ internal API
    def connection(self):
        """A cursor on the unrestricted internal database (studio code only, never user SQL)."""
        for name in list(self._plugin_views):
            self.ensure_view(name)
        return self._internal.cursor()

    def relation(self, sql: str):
        """A DuckDB relation over the internal database (plugin views created as needed)."""
        for name in self._referenced_plugin_views(sql):
            self.ensure_view(name)
        return self._internal.cursor().sql(sql)

    def df(self, sql: str, params: list | None = None):
        for name in self._referenced_plugin_views(sql):
            self.ensure_view(name)
        cur = self._internal.cursor()
        return cur.execute(sql, params or []).df()

    def episode_arrays(self, episode_index: int, keys: list[str]) -> dict[str, Any]:
        """{"timestamp": (n,), key: (n, d) float array} for one episode, in frame order."""
        import numpy as np
        import pyarrow as pa

        keys = [k for k in keys if k in self.frame_columns]
        cols = ", ".join(["timestamp", "frame_index"] + [_q(k) for k in keys])
        cur = self._internal.cursor()
        try:
            table = cur.sql(f"SELECT {cols} FROM frames WHERE episode_index = {int(episode_index)} "
                            "ORDER BY frame_index, index").to_arrow_table()
        finally:
            cur.close()
        out: dict[str, Any] = {
            "timestamp": table.column("timestamp").to_numpy(zero_copy_only=False).astype(np.float64),
            "frame_index": table.column("frame_index").to_numpy(zero_copy_only=False),
        }
        for k in keys:
            col = table.column(k).combine_chunks()
            n = len(col)
            if pa.types.is_fixed_size_list(col.type):
                vals = col.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
                out[k] = vals.reshape(n, col.type.list_size)
            elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
                rows = col.to_pylist()
                width = max((len(r) for r in rows if r is not None), default=0)
                arr = np.full((n, width), np.nan)
                for i, r in enumerate(rows):  # ragged data only (validated and reported on open)
                    if r:
                        arr[i, : len(r)] = [np.nan if v is None else v for v in r]
                out[k] = arr
            else:
                out[k] = col.to_numpy(zero_copy_only=False).astype(np.float64).reshape(n, 1)
        return out

    def _referenced_plugin_views(self, sql: str) -> list[str]:
        low = sql.lower()
        return [n for n in self._plugin_views if n.lower() in low]

    # ------------------------------------------------------------------ sandbox
    def sql(self, query: str, *, limit: int | None = DEFAULT_PAGE, offset: int = 0,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> QueryResult:
        """Run one read-only SELECT from user input; return one page of the result."""

        with self._sandbox_lock:
            return self._sql_locked(query, limit, offset, timeout_s)

    def _sql_locked(self, query: str, limit: int | None, offset: int, timeout_s: float) -> QueryResult:
        import time

        text = self._check(query)
        limit = None if limit is None else max(0, int(limit))
        offset = max(0, int(offset or 0))
        paged = f"SELECT * FROM (\n{text}\n) AS __q"  # newlines: a trailing -- comment stays inside
        if limit is not None:
            paged += f" LIMIT {limit + 1}"
        if offset:
            paged += f" OFFSET {offset}"
        start = time.perf_counter()
        cur = self._sandbox.cursor()
        try:
            df = self._run_limited(cur, paged, timeout_s)
            truncated = limit is not None and len(df) > limit
            if truncated:
                df = df.iloc[:limit]
            if truncated or (offset and len(df) == 0):
                total = int(self._run_limited(cur, f"SELECT count(*) AS n FROM (\n{text}\n) AS __q", timeout_s)["n"].iloc[0])
            else:
                total = offset + len(df)
        finally:
            cur.close()
        return QueryResult(list(df.columns), df.reset_index(drop=True), total, bool(truncated), offset,
                           time.perf_counter() - start)

    def _run_limited(self, cur, sql: str, timeout_s: float):
        return run_limited(cur, sql, timeout_s)

    def _check(self, query: str) -> str:
        """Refuse anything but one SELECT over the catalog views; return its text."""
        text, tables = check_select(self._sandbox, query, self.views())
        for t in tables:
            if t.lower() in {p.lower() for p in self._plugin_views}:
                name = next(p for p in self._plugin_views if p.lower() == t.lower())
                if not self.ensure_view(name):
                    raise QueryError(name, "this view's plugin failed; see the plugin messages")
        return text

    def close(self) -> None:
        if self._tmpdir:
            import shutil

            shutil.rmtree(self._tmpdir, ignore_errors=True)
        for con in (self._internal, self._sandbox):
            try:
                con.close()
            except Exception:  # closing twice or after a failed build is fine
                log.debug("closing a catalog connection failed", exc_info=True)


_spill: str | None = None
_loading: weakref.WeakSet[Catalog] = weakref.WeakSet()


@atexit.register
def _stop_loading() -> None:
    """Daemon threads die mid-call at exit; a DuckDB query killed that way aborts the process."""
    for cat in list(_loading):
        cat.stop_materializing()


def _spill_root() -> str:
    """One folder per process for DuckDB's spill files (never the cwd), removed at exit."""
    global _spill
    with _cache_lock:
        if _spill is None:
            import atexit
            import shutil

            _spill = tempfile.mkdtemp(prefix="studio-duckdb-")
            atexit.register(shutil.rmtree, _spill, True)
        return _spill


# ---------------------------------------------------------------------------- the sandbox
# One sandbox for all user SQL (SQL box, SQL cells, Curate filters, `--where`, selection
# predicates): `lock_connection` + `check_select` + `run_limited`.

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(text: str) -> int:
    """'1GB' → 1e9, '953.6 MiB' → bytes (DuckDB's own spelling of sizes)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise QueryError("memory limit", f"'{text}' is not a size like 1GB or 512MB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def memory_limit() -> str:
    """The sandbox's memory limit (default 1GB; STUDIO_SQL_MEMORY_LIMIT sets another)."""
    value = os.environ.get("STUDIO_SQL_MEMORY_LIMIT", "").strip() or DEFAULT_MEMORY_LIMIT
    size_bytes(value)
    return value


def result_cap() -> int:
    """Bytes of result user SQL may hand back to Python (STUDIO_SQL_RESULT_CAP, default 64MB)."""
    return size_bytes(os.environ.get("STUDIO_SQL_RESULT_CAP", "").strip() or DEFAULT_RESULT_CAP)


def lock_connection(con, *, files: list[str] = (), temp_dir: str = "") -> None:
    """No file access but `files` (exact real paths) and the spill folder, no Python variables as
    tables, the memory limit, fewer threads than cores, and a configuration nobody can change."""
    con.execute(f"SET allowed_paths=[{', '.join(_lit(f) for f in files)}]")
    dirs = [temp_dir.rstrip("/") + "/"] if temp_dir else []
    con.execute(f"SET allowed_directories=[{', '.join(_lit(d) for d in dirs)}]")
    con.execute("SET enable_external_access=false")
    con.execute("SET python_enable_replacements=false")
    con.execute(f"SET memory_limit={_lit(memory_limit())}")
    con.execute(f"SET threads={max(2, (os.cpu_count() or 2) // 2)}")  # leave cores to the app
    con.execute("SET lock_configuration=true")


def _parse(con, text: str, where: str) -> dict:
    cur = con.cursor()
    try:
        row = cur.execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0]
    finally:
        cur.close()
    tree = json.loads(row[0])
    if tree.get("error"):
        raise QueryError(where, str(tree.get("error_message") or "could not be parsed"))
    return tree


def check_select(con, query: str, views: list[str], *, where: str = "query") -> tuple[str, set[str]]:
    """Refuse anything but one SELECT over `views`; (its text, the views it reads).

    Checked on DuckDB's own parse tree: table functions other than value generators, functions
    that reveal the machine, and any table that is neither a view nor a CTE *in scope where it
    is used* (a CTE named like a file in one subquery does not make that file readable elsewhere)."""
    import duckdb

    if not isinstance(query, str) or not query.strip():
        raise QueryError(where, "is empty")
    cur = con.cursor()
    try:
        stmts = cur.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(where, _first_line(exc)) from None
    finally:
        cur.close()
    if len(stmts) != 1:
        raise QueryError(where, f"holds {len(stmts)} statements; run one SELECT at a time")
    stmt = stmts[0]
    kind = str(stmt.type).split(".")[-1]
    if kind != "SELECT":
        raise QueryError(where, f"{kind} statements are not allowed; only SELECT queries run here (read-only)")
    text = _TRAILING.sub("", stmt.query.strip()).strip()
    tree = _parse(con, text, where)
    tables: set[str] = set()
    funcs: set[str] = set()
    table_funcs: set[str] = set()
    _walk(tree, frozenset(), tables, funcs, table_funcs)
    names = ", ".join(views)
    bad_tf = sorted(f for f in table_funcs if f.lower() not in SAFE_TABLE_FUNCTIONS)
    if bad_tf:
        raise QueryError(where, f"table function {bad_tf[0]}() is not allowed; only the catalog views "
                         f"({names}) can be queried (no file access)")
    bad_f = sorted(f for f in funcs if f.lower() in DENIED_FUNCTIONS)
    if bad_f:
        raise QueryError(where, f"function {bad_f[0]}() is not allowed here")
    allowed = {v.lower() for v in views}
    for t in sorted(tables):
        if t.lower() not in allowed:
            if "/" in t or "\\" in t or t.lower().endswith((".csv", ".parquet", ".json", ".txt", ".db", ".gz")):
                raise QueryError(where, f"reading {t!r} is not allowed (no file access); query the catalog views "
                                 f"({names})")
            raise QueryError(where, f"no view named {t!r}; the catalog has {names}")
    return text, tables


def _walk(node: Any, scope: frozenset, tables: set, funcs: set, table_funcs: set) -> None:
    """Collect tables (minus the CTEs visible where each is used), functions and table functions."""
    if isinstance(node, dict):
        cte_map = node.get("cte_map")
        entries = cte_map.get("map", []) if isinstance(cte_map, dict) else []
        names = {str(e["key"]).lower() for e in entries or [] if isinstance(e, dict) and "key" in e}
        if names:
            scope = scope | names  # visible in this query node, its subqueries and its CTE bodies
        typ = node.get("type")
        if typ == "BASE_TABLE":
            schema = node.get("schema_name") or ""
            catalog = node.get("catalog_name") or ""
            name = node.get("table_name") or ""
            if schema.lower() in ("", "main") and catalog.lower() in ("", "memory"):
                schema = catalog = ""  # main.frames is frames
            if schema or catalog or name.lower() not in scope:
                tables.add(".".join(x for x in (catalog, schema, name) if x))
        elif typ == "TABLE_FUNCTION":
            fn = node.get("function") or {}
            table_funcs.add(str(fn.get("function_name", "?")))
        if node.get("class") in ("FUNCTION", "AGGREGATE", "WINDOW") and "function_name" in node:
            funcs.add(str(node["function_name"]))
        for v in node.values():
            _walk(v, scope, tables, funcs, table_funcs)
    elif isinstance(node, list):
        for v in node:
            _walk(v, scope, tables, funcs, table_funcs)


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int | None:
    """This process's resident memory (Linux), None elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _frame_bytes(df) -> int:
    """About how many bytes a result chunk holds (cheaper than pandas' deep memory_usage)."""
    import sys

    total = 0
    for _, col in df.items():
        arr = col.to_numpy()
        if arr.dtype != object:
            total += arr.nbytes
        else:
            total += sum(map(sys.getsizeof, arr))
    return total


def run_limited(cur, sql: str, timeout_s: float = DEFAULT_TIMEOUT_S, *, where: str = "query", hint: str = ""):
    """Run user SQL on a sandbox cursor under the time limit, the memory limit and the result cap.

    DuckDB's memory_limit bounds what its buffer manager holds; strings built by functions
    (repeat, string_agg, …) can grow past it, so a watchdog also interrupts the query when this
    process has grown by more than the limit since the query began."""
    import duckdb
    import pandas as pd

    limit_text = memory_limit()
    limit = size_bytes(limit_text)
    cap = result_cap()
    stop = threading.Event()
    why: list[str] = []

    def watch():
        start_rss = _rss()
        deadline = time.monotonic() + max(0.01, float(timeout_s))
        while not stop.wait(0.02):
            now_rss = _rss()
            if time.monotonic() >= deadline:
                why.append("time")
            elif start_rss is not None and now_rss is not None and now_rss - start_rss > limit:
                why.append("memory")
            if why:
                cur.interrupt()
                return

    watcher = threading.Thread(target=watch, name="studio-sql-watchdog", daemon=True)
    watcher.start()
    time_msg = f"stopped after {timeout_s:g} s (time limit); narrow it with WHERE or LIMIT"
    mem_msg = f"needs more than the {limit_text} memory limit; aggregate or filter it"
    try:
        cur.execute(sql)
        chunks, total = [], 0
        while True:
            df = cur.fetch_df_chunk(1)
            if chunks and len(df) == 0:
                break
            total += _frame_bytes(df)
            if total > cap:
                why.append("cap")
                cur.interrupt()
                raise QueryError(where, f"the result is larger than the {cap // 10**6} MB cap; "
                                 "select fewer rows or columns, or aggregate")
            chunks.append(df)
            if len(df) == 0:
                break
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    except duckdb.InterruptException:
        raise QueryError(where, mem_msg if "memory" in why else time_msg) from None
    except duckdb.OutOfMemoryException:
        raise QueryError(where, mem_msg) from None
    except duckdb.PermissionException:
        raise QueryError(where, "file access is not allowed; query the catalog views") from None
    except duckdb.Error as exc:
        if why:
            raise QueryError(where, mem_msg if "memory" in why else time_msg) from None
        raise QueryError(where, _first_line(exc) + hint) from None
    except MemoryError:
        raise QueryError(where, mem_msg) from None
    finally:
        stop.set()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


_cache: dict[tuple, Catalog] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 8


def catalog_for(dataset, project=None, *, plugin_host=None, materialize: bool = True) -> Catalog:
    """The catalog of a dataset, cached per (fingerprint, project). `materialize=False` skips
    the background in-memory copy of the frames (one-shot use, e.g. `studio query`)."""
    if plugin_host is None:
        from studio.plugins import host

        plugin_host = host()
    key = (dataset.fingerprint, str(dataset.root), str(getattr(project, "home", "")), id(plugin_host))
    with _cache_lock:
        cat = _cache.get(key)
        if cat is not None:
            return cat
    cat = Catalog(dataset=dataset, project=project).build(plugin_host, materialize=materialize)
    with _cache_lock:
        if key in _cache:
            cat.close()
            return _cache[key]
        _cache[key] = cat
        while len(_cache) > _CACHE_MAX:
            old = _cache.pop(next(iter(_cache)))
            old.close()
    return cat


def clear_cache() -> None:
    with _cache_lock:
        for cat in _cache.values():
            cat.close()
        _cache.clear()


def invalidate_views(*names: str) -> None:
    """Mark plugin views stale in every cached catalog (call after writing what they show)."""
    with _cache_lock:
        cats = list(_cache.values())
    for cat in cats:
        for name in names:
            cat.refresh_view(name)
