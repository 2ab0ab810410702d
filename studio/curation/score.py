"""The composite `quality_score` and its percentile rank.

Each scored metric becomes a *badness* > −0.5: how far an episode is on the bad side of
the dataset's median, in robust spreads (1.4826 × MAD, at least a tenth of the 5–95 %
spread), capped at 10, the good side squashed smoothly into (−0.5, 0] — or, for metrics with an ideal value (success, scene change,
curator labels), how far it is from that ideal in the metric's own steps. One-sided on
purpose: a defect in any one metric lowers the score, while the noise of many metrics
among clean episodes does not add up.

`quality_score` = 100 / (1 + exp(2·B − 2)) where B = Σ wᵢ·badnessᵢ / Σ wᵢ over the metrics
with weight > 0 (an episode at the median of everything scores 88; B = 1 scores 50);
`quality_pct` is the percentile rank (0–100) of the score itself.

Default weights live with each metric (`EpisodeMetric.weight`, see docs/curation.md);
when a project has them, curator labels feed the score too (`good`/`bad` tags and
reviewer verdicts, weight 4 each). A project may save its own weights per dataset
(`save_weights`, the Curate panel); a call may override them (`--weight tremor=2`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

from studio.errors import StudioError

WEIGHTS_SETTING = "curation.weights"
BADNESS_CAP = 10.0
BADNESS_FLOOR = -0.5
LABEL_TERMS = ("curator_tag", "review_verdict")  # derived from labels: left out when validating against labels


@dataclass(frozen=True)
class ScoredMetrics:
    """Metrics of every episode plus `quality_score` and `quality_pct` columns."""

    df: Any  # pandas DataFrame
    metrics: dict  # name -> EpisodeMetric
    weights: dict[str, float]
    command_key: str | None = None
    motion_key: str | None = None
    dropped: dict | None = None  # {feature: {dimension: why left out of motion metrics}}

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


def _weights_key(dataset=None) -> str:
    if dataset is None:
        return WEIGHTS_SETTING
    from pathlib import Path

    root = getattr(dataset, "root", dataset)
    return f"{WEIGHTS_SETTING}:{Path(str(root)).resolve()}"


def project_weights(project, dataset=None) -> dict[str, float]:
    """Saved weights: the dataset's own when `dataset` is given and has some, else the
    project-wide ones."""
    if project is None:
        return {}
    raw = None
    if dataset is not None:
        raw = project.get_setting(_weights_key(dataset))
    if not raw:
        raw = project.get_setting(WEIGHTS_SETTING)
    if not raw:
        return {}
    try:
        return {str(k): float(v) for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError, TypeError):
        return {}


def save_weights(project, weights: Mapping[str, float], dataset=None) -> None:
    """Keep weights for one dataset (or, without `dataset`, the whole project); used by
    the `metrics` view, `studio metrics` and the panel."""
    clean = parse_weights(dict(weights))
    project.set_setting(_weights_key(dataset), json.dumps(clean, sort_keys=True))
    from studio.query import invalidate_views

    invalidate_views("metrics")


def effective_weights(metrics: Mapping, project=None, overrides: Mapping[str, float] | None = None,
                      dataset=None) -> dict[str, float]:
    weights = {name: float(m.weight) for name, m in metrics.items()}
    for source in (project_weights(project, dataset), overrides or {}):
        for k, v in source.items():
            if k in weights:
                weights[k] = float(v)
    return weights


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Average-rank percentile in (0, 1]; NaN stays NaN."""
    import pandas as pd

    return pd.Series(values).rank(method="average", pct=True).to_numpy()


def badness(values: np.ndarray, metric) -> np.ndarray | None:
    """Per-episode badness of one metric (see module doc); None when the metric is
    constant over the dataset (it separates nothing). NaN stays NaN."""
    vals = np.asarray(values, dtype=np.float64)
    finite = vals[np.isfinite(vals)]
    if len(finite) == 0:
        return None
    sign = 1.0 if metric.direction == "lower" else -1.0
    if metric.ideal is not None:
        step = float(metric.scale or 1.0)
        return np.clip(sign * (vals - float(metric.ideal)) / step, 0.0, BADNESS_CAP)
    if finite.max() - finite.min() <= 0:
        return None
    med = float(np.median(finite))
    mad = 1.4826 * float(np.median(np.abs(finite - med)))
    p5, p95 = np.percentile(finite, [5, 95])
    spread = max(mad, 0.1 * float(p95 - p5))
    if spread <= 0:
        spread = float(finite.max() - finite.min())
    z = np.minimum(sign * (vals - med) / spread, BADNESS_CAP)
    # the good side is compressed smoothly towards the floor: bounded, yet still ordered
    return np.where(z < 0, BADNESS_FLOOR * np.tanh(z / BADNESS_FLOOR), z)


def quality_score(df, metrics: Mapping, weights: Mapping[str, float]) -> np.ndarray:
    """100 / (1 + exp(2·B − 2)), B the weighted mean badness (see module doc)."""
    n = len(df)
    total = np.zeros(n)
    wsum = np.zeros(n)
    for name, m in metrics.items():
        w = float(weights.get(name, 0.0))
        if w <= 0 or name not in df:
            continue
        b = badness(df[name].to_numpy(dtype=np.float64), m)
        if b is None:
            continue
        ok = np.isfinite(b)
        total[ok] += w * b[ok]
        wsum[ok] += w
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        mean_bad = np.where(wsum > 0, total / np.maximum(wsum, 1e-12), 0.0)
        score = 100.0 / (1.0 + np.exp(2.0 * mean_bad - 2.0))
    if wsum.max(initial=0) > 0:
        score[wsum == 0] = np.nan  # an episode no scored metric could measure (bad data)
    return score


def label_metrics() -> dict:
    """The score terms read from curator labels (not from the data): `curator_tag` (1 good,
    0 bad) and `review_verdict` (success 1, partial 0.5, fail 0)."""
    from studio.curation.metrics import EpisodeMetric

    return {
        "curator_tag": EpisodeMetric("curator_tag", "1 when tagged good, 0 when tagged bad (curator label)", "higher",
                                     lambda fr: None, weight=4.0, ideal=1.0, scale=0.25),
        "review_verdict": EpisodeMetric("review_verdict", "reviewer verdict: success 1, partial 0.5, fail 0", "higher",
                                        lambda fr: None, weight=4.0, ideal=1.0, scale=0.25),
    }


def label_columns(dataset, project):
    """episode_index + curator_tag + review_verdict (NaN where unlabelled), or None when
    the dataset has no label at all."""
    import pandas as pd

    if project is None:
        return None
    eps = dataset.episodes["episode_index"].astype("int64").to_numpy()
    tag = np.full(len(eps), np.nan)
    verdict = np.full(len(eps), np.nan)
    pos = {int(e): i for i, e in enumerate(eps)}
    try:
        from studio.curation.tags import tags_by_episode

        for ep, tags in tags_by_episode(project, dataset).items():
            if int(ep) in pos:
                if "bad" in tags:
                    tag[pos[int(ep)]] = 0.0
                elif "good" in tags:
                    tag[pos[int(ep)]] = 1.0
    except StudioError:
        pass
    try:
        from pathlib import Path

        from studio.review import verdicts

        value = {"success": 1.0, "partial": 0.5, "fail": 0.0}
        for ep, v in verdicts(project, str(Path(dataset.root).resolve())).items():
            if int(ep) in pos:
                verdict[pos[int(ep)]] = value.get(v.verdict, np.nan)
    except (StudioError, OSError):
        pass
    if np.isnan(tag).all() and np.isnan(verdict).all():
        return None
    out = pd.DataFrame({"episode_index": eps})
    if not np.isnan(tag).all():
        out["curator_tag"] = tag
    if not np.isnan(verdict).all():
        out["review_verdict"] = verdict
    return out


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
    labels: bool = True,
) -> ScoredMetrics:
    """Metrics (cached) + quality_score + quality_pct for every episode of `dataset`.

    Without `command`/`motion`, the feature map confirmed for the dataset in the project
    (`studio.featuremap`) names the action and the state. With `labels` (the default),
    curator tags and reviewer verdicts of the project feed the score as `curator_tag` /
    `review_verdict`; `labels=False` leaves every label-derived term out (for validating the
    score against those labels)."""
    from studio.curation.metrics import compute_metrics

    if project is not None and (command is None or motion is None):
        from studio import featuremap

        confirmed = featuremap.saved(project, dataset)
        roles = {v: k for k, v in confirmed.items() if k in dataset.features}
        command = command or roles.get(featuremap.ACTION)
        motion = motion or roles.get(featuremap.STATE)
    table = compute_metrics(dataset, project, command=command, motion=motion, plugin_host=plugin_host)
    metrics = dict(table.metrics)
    df = table.df.copy()
    if labels:
        extra = label_columns(dataset, project)
        if extra is not None:
            df = df.merge(extra, on="episode_index", how="left")
            metrics.update({k: m for k, m in label_metrics().items() if k in extra.columns})
    w = effective_weights(metrics, project, weights, dataset=dataset)
    df["quality_score"] = quality_score(df, metrics, w)
    df["quality_pct"] = 100.0 * percentile_rank(df["quality_score"].to_numpy())
    return ScoredMetrics(df, metrics, w, table.command_key, table.motion_key, dict(table.dropped or {}))
