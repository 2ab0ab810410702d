"""A cell's outputs as text for its workspace file (one JSON object per line) and back.

Tables keep their first `MAX_ROWS` rows, charts their plotly JSON (a chart larger than
`MAX_CHART_BYTES` is replaced by a note to run the cell again), viewers the path of their
recording; an error is kept as an `error` line. Reading never fails a workspace: a line
that does not load is skipped (and logged).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from studio.workspaces.cells import Output

log = logging.getLogger("studio.workspaces")

MAX_ROWS = 500
MAX_CHART_BYTES = 2_000_000


def _table(df) -> dict[str, Any]:
    shown = df.head(MAX_ROWS)
    split = json.loads(shown.to_json(orient="split", index=False, date_format="iso", default_handler=str))
    return {"columns": [str(c) for c in split["columns"]], "data": split["data"], "rows": int(len(df))}


def _arrays(obj):
    """plotly's JSON packs numeric arrays as {dtype, bdata[, shape]}; unpack them to NumPy."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj and set(obj) <= {"bdata", "dtype", "shape"}:
            import base64

            import numpy as np

            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=np.dtype(obj["dtype"]))
            shape = obj.get("shape")
            if shape:
                arr = arr.reshape([int(n) for n in str(shape).split(",")] if isinstance(shape, str) else shape)
            return arr
        return {k: _arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_arrays(v) for v in obj]
    return obj


def dump(outputs: list[Output], error: str | None = None) -> str:
    """The text stored in a cell's ```{output} block ("" when there is nothing to keep)."""
    lines = []
    for out in outputs:
        item: dict[str, Any] = {"kind": out.kind, "title": out.title}
        try:
            if out.kind == "table":
                item["data"] = _table(out.data)
            elif out.kind == "plotly":
                text = out.data.to_json()
                if len(text) > MAX_CHART_BYTES:
                    item = {"kind": "markdown", "title": out.title,
                            "data": f"_The chart {out.title or ''} is too large to keep in the file; run the cell again._"}
                else:
                    item["data"] = json.loads(text)
            elif out.kind in ("markdown", "text", "viewer"):
                item["data"] = str(out.data)
            else:
                item["data"] = out.data
            lines.append(json.dumps(item, default=str, ensure_ascii=False, separators=(",", ":")))
        except Exception:  # noqa: BLE001 - an output that cannot be kept is left out, never fails the run
            log.exception("output %s of kind %s not kept", out.title, out.kind)
    if error:
        lines.append(json.dumps({"kind": "error", "data": error}, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines)


def load(text: str) -> tuple[list[Output], str | None]:
    """(outputs, error) from a cell's stored block."""
    outputs: list[Output] = []
    error = None
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            kind, data, title = item["kind"], item.get("data"), item.get("title") or ""
            if kind == "error":
                error = str(data)
                continue
            if kind == "table":
                import pandas as pd

                df = pd.DataFrame(data["data"], columns=data["columns"])
                if data.get("rows", len(df)) > len(df):
                    title = f"{title} (first {len(df)} of {data['rows']} rows)".strip()
                data = df
            elif kind == "plotly":
                import plotly.graph_objects as go

                data = go.Figure(_arrays(data))
            outputs.append(Output(kind, data, title))
        except Exception:  # noqa: BLE001 - a damaged line shows nothing; the cell can run again
            log.warning("a stored output line did not load: %.80s", line)
    return outputs, error
