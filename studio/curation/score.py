"""The composite `quality_score` and its percentile rank.

Each metric becomes a goodness in (0, 1]: its percentile rank among the dataset's
episodes, flipped for lower-is-better metrics, so units and outliers do not matter.
`quality_score` = 100 × Σ wᵢ·goodnessᵢ / Σ wᵢ over the metrics with weight > 0;
`quality_pct` is the percentile rank (0–100) of the score itself.

Default weights live with each metric (`EpisodeMetric.weight`): success 3; duration,
path efficiency, jerk, SPARC, idle fraction 1; path length, gripper toggles, action
saturation 0.5; total reward 0 (shown, not scored). A project may save its own weights
(`save_weights`, the Curate panel); a call may override them (`--weight jerk=2`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from studio.errors import StudioError

WEIGHTS_SETTING = "curation.weights"


@dataclass(frozen=True)
class ScoredMetrics:
    """Metrics of every episode plus `quality_score` and `quality_pct` columns."""

    df: Any  # pandas DataFrame
    metrics: dict  # name -> EpisodeMetric
    weights: dict[str, float]
    command_key: str | None = None
    motion_key: str | None = None

    @property
    def names(self) -> list[str]:
        return list(self.metrics)


def parse_weights(items: Iterable[str] | Mapping[str, float] | None, known: Iterable[str] | None = None) -> dict[str, float]:
    """`["jerk=2", "sparc=0"]` (or a mapping) → {name: weight}; names are checked."""
    if not items:
        return {}
    pairs = items.items() if isinstance(items, Mapping) else []
    out: dict[str, float] = {}
    if not isinstance(items, Mapping):
        parsed = []
        for item in items:
            for part in str(item).split(","):
                part = part.strip()
                if not part:
                    continue
                if "=" not in part:
                    raise StudioError("--weight", f"'{part}' is not NAME=NUMBER (e.g. jerk=2)")
                k, v = part.split("=", 1)
                parsed.append((k.strip(), v.strip()))
        pairs = parsed
    known_set = set(known) if known is not None else None
    for k, v in pairs:
        try:
            w = float(v)
        except (TypeError, ValueError):
            raise StudioError("--weight", f"weight for '{k}' must be a number, got '{v}'") from None
        if not np.isfinite(w) or w < 0:
            raise StudioError("--weight", f"weight for '{k}' must be a finite number ≥ 0")
        if known_set is not None and k not in known_set:
            raise StudioError("--weight", f"unknown metric '{k}' (known: {', '.join(sorted(known_set))})")
        out[k] = w
    return out


def project_weights(project) -> dict[str, float]:
    if project is None:
        return {}
    raw = project.get_setting(WEIGHTS_SETTING)
    if not raw:
        return {}
    try:
        return {str(k): float(v) for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError, TypeError):
        return {}


def save_weights(project, weights: Mapping[str, float]) -> None:
    """Keep a project's own weights (used by the `metrics` view and the panel)."""
    clean = parse_weights(dict(weights))
    project.set_setting(WEIGHTS_SETTING, json.dumps(clean, sort_keys=True))
    from studio.query import invalidate_views

    invalidate_views("metrics")


def effective_weights(metrics: Mapping, project=None, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    weights = {name: float(m.weight) for name, m in metrics.items()}
    for source in (project_weights(project), overrides or {}):
        for k, v in source.items():
            if k in weights:
                weights[k] = float(v)
    return weights


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Average-rank percentile in (0, 1]; NaN stays NaN."""
    import pandas as pd

    return pd.Series(values).rank(method="average", pct=True).to_numpy()


def quality_score(df, metrics: Mapping, weights: Mapping[str, float]) -> np.ndarray:
    """100 × weighted mean of the direction-aware percentile ranks (see module doc)."""
    n = len(df)
    total = np.zeros(n)
    wsum = np.zeros(n)
    for name, m in metrics.items():
        w = float(weights.get(name, 0.0))
        if w <= 0 or name not in df:
            continue
        vals = df[name].to_numpy(dtype=np.float64)
        finite = vals[np.isfinite(vals)]
        if len(finite) == 0 or finite.max() - finite.min() <= 0:
            continue  # a constant metric separates nothing
        g = percentile_rank(vals)
        if m.direction == "lower":
            g = percentile_rank(-vals)
        ok = np.isfinite(g)
        total[ok] += w * g[ok]
        wsum[ok] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(wsum > 0, 100.0 * total / np.maximum(wsum, 1e-12), 50.0)
    if wsum.max(initial=0) > 0:
        score[wsum == 0] = np.nan  # an episode no scored metric could measure (bad data)
    return score


def nullable(df):
    """Float columns with NaN → nullable floats, so SQL sees NULL (DuckDB orders NaN above all)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype.kind == "f" and out[c].isna().any():
            out[c] = out[c].astype("Float64")
    return out


def scored_metrics(
    dataset,
    project=None,
    *,
    weights: Mapping[str, float] | None = None,
    command: str | None = None,
    motion: str | None = None,
    plugin_host=None,
) -> ScoredMetrics:
    """Metrics (cached) + quality_score + quality_pct for every episode of `dataset`.

    Without `command`/`motion`, the feature map confirmed for the dataset in the project
    (`studio.featuremap`) names the action and the state."""
    from studio.curation.metrics import compute_metrics

    if project is not None and (command is None or motion is None):
        from studio import featuremap

        confirmed = featuremap.saved(project, dataset)
        roles = {v: k for k, v in confirmed.items() if k in dataset.features}
        command = command or roles.get(featuremap.ACTION)
        motion = motion or roles.get(featuremap.STATE)
    table = compute_metrics(dataset, project, command=command, motion=motion, plugin_host=plugin_host)
    w = effective_weights(table.metrics, project, weights)
    df = table.df.copy()
    df["quality_score"] = quality_score(df, table.metrics, w)
    df["quality_pct"] = 100.0 * percentile_rank(df["quality_score"].to_numpy())
    return ScoredMetrics(df, dict(table.metrics), w, table.command_key, table.motion_key)
