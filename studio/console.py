"""What the SQL console shows around a query result: readable numbers, which columns can be
charted, a CSV a user downloads. Pure functions over pandas frames (the catalog runs the
query: `studio.query.Catalog.sql`)."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

SIGNIFICANT = 4  # digits a float keeps in the result table (the CSV keeps full precision)
VECTOR_SHOWN = 4  # elements of a vector cell shown before "…"
KEEP_CSV = 20  # query CSVs kept under cache/downloads/sql/


def is_vector(series) -> bool:
    """A column of lists/arrays (e.g. `frames."action"`): shown shortened, never an axis."""
    import numpy as np

    if series.dtype != object:
        return False
    for v in series.head(20):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        return isinstance(v, (list, tuple, np.ndarray))
    return False


def decimals_for(values, significant: int = SIGNIFICANT) -> int | None:
    """Decimals that keep `significant` digits for the column's smallest non-zero magnitude,
    0–8; None for a column without one."""
    import numpy as np

    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    mag = math.floor(math.log10(float(v.min())))
    return int(min(8, max(0, significant - 1 - mag)))


def _short_vector(v, significant: int) -> str:
    import numpy as np

    if v is None:
        return ""
    arr = np.asarray(v)
    if arr.dtype.kind in "fc":
        items = [f"{x:.{significant}g}" for x in arr[:VECTOR_SHOWN]]
    else:
        items = [str(x) for x in arr[:VECTOR_SHOWN]]
    more = f", … ({len(arr)} values)" if len(arr) > VECTOR_SHOWN else ""
    return "[" + ", ".join(items) + more + "]"


def display_frame(df, significant: int = SIGNIFICANT):
    """The result as a table shows it: floats rounded per column to `significant` digits (no
    0.30000000000000004), vectors shortened to their first elements, the rest as is."""
    import pandas as pd

    out = df.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_float_dtype(s):
            d = decimals_for(s.to_numpy(), significant)
            if d is not None:
                out[col] = s.round(d)
        elif is_vector(s):
            out[col] = [_short_vector(v, significant) for v in s]
    return out


def chart_columns(df) -> tuple[list[str], list[str]]:
    """(x candidates, y candidates): x may be any scalar column, y any numeric scalar one."""
    import pandas as pd

    xs, ys = [], []
    for col in df.columns:
        s = df[col]
        if is_vector(s):
            continue
        xs.append(str(col))
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            ys.append(str(col))
    return xs, ys


def default_axes(df) -> tuple[str | None, list[str]]:
    """The chart a result gets before the user chooses: the first scalar column across,
    up to four other numeric columns up."""
    xs, ys = chart_columns(df)
    if not xs:
        return None, []
    x = xs[0]
    return x, [y for y in ys if y != x][:4]


def scales_differ(df, ys: list[str], ratio: float = 20.0) -> bool:
    """True when the columns' spans differ by more than `ratio` (one axis would flatten some)."""
    import numpy as np

    spans = []
    for y in ys:
        v = np.asarray(df[y], dtype=float)
        v = v[np.isfinite(v)]
        if v.size:
            spans.append(max(float(np.max(np.abs(v))), float(np.ptp(v))))
    spans = [s for s in spans if s > 0]
    return len(spans) > 1 and max(spans) / min(spans) > ratio


def write_csv(project, df, label: str = "query") -> Path:
    """The fetched result as CSV under <home>/cache/downloads/sql/ (a folder the served app
    hands out); full precision, vectors as JSON lists."""
    import json

    import numpy as np

    from studio.fsutil import atomic_write_text

    out = df.copy(deep=False)
    for col in out.columns:
        if is_vector(out[col]):
            out[col] = [None if v is None else json.dumps(np.asarray(v).tolist()) for v in out[col]]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")[:40] or "query"
    folder = Path(project.home) / "cache" / "downloads" / "sql"
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob("*.csv"), key=lambda f: f.stat().st_mtime)[:-KEEP_CSV]:
        old.unlink(missing_ok=True)  # a download is taken right after the query; keep the newest few
    path = folder / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns() % 1_000_000:06d}.csv"
    atomic_write_text(path, out.to_csv(index=False))
    return path


def schema_rows(schema: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]] | None]]:
    """Views in the order a reader wants them: frames, episodes, tasks, then plugin views."""
    order = {"frames": 0, "episodes": 1, "tasks": 2}
    return sorted(schema.items(), key=lambda kv: (order.get(kv[0], 3), kv[0]))
