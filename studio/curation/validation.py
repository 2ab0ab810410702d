"""Check the quality score against episodes a curator has judged.

Labels are 0/1 per episode (`good`): a CSV (`studio metrics --labels FILE.csv`) or the
dataset's `good`/`bad` tags (the Curate panel). For every metric, the score and the
−length baseline this reports the AUROC — the chance that a random good episode ranks
above a random bad one, ties counting half — with a 95 % DeLong interval. The score is
recomputed without any label-derived term first (no circular validation).

`fit_weights` learns non-negative weights from labels (a logistic model on the metrics'
badness, the score's own building blocks) and reports its held-out AUROC from stratified
k-fold cross-validation; it refuses fewer than MIN_LABELLED labelled episodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from studio.errors import StudioError

MIN_LABELLED = 10
BASELINE = "-length"


def _midranks(x: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(x).rank(method="average").to_numpy()


def auroc(score, good) -> float:
    """P(score of a good episode > score of a bad one) + ½ P(tie) (Mann–Whitney)."""
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(good).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = _midranks(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def auroc_ci(score, good, z: float = 1.959964) -> tuple[float, float, float]:
    """(AUROC, low, high): 95 % interval from DeLong's variance (structural components
    from midranks, DeLong et al. 1988 / Sun & Xu 2014), clipped to [0, 1]."""
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(good).astype(bool)
    pos, neg = s[y], s[~y]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return float("nan"), float("nan"), float("nan")
    tz = _midranks(np.concatenate([pos, neg]))
    tx, ty = _midranks(pos), _midranks(neg)
    auc = (tz[:m].sum() - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:m] - tx) / n  # per good episode: share of bad ones it beats
    v01 = 1.0 - (tz[m:] - ty) / m  # per bad episode: share of good ones that beat it
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    half = z * np.sqrt(max(var, 0.0))
    return float(auc), float(max(0.0, auc - half)), float(min(1.0, auc + half))


def spearman(a, b) -> float:
    """Spearman rank correlation over the pairs where both are finite."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float("nan")
    ra, rb = _midranks(a[ok]), _midranks(b[ok])
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def read_labels(path) -> "pd.DataFrame":  # noqa: F821
    """A labels CSV → DataFrame(episode_index int, good 0/1). Errors name the file."""
    import pandas as pd

    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise StudioError(where, "no such labels file")
    try:
        df = pd.read_csv(p)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise StudioError(where, f"cannot be read as CSV ({type(exc).__name__}: {exc})") from None
    missing = [c for c in ("episode_index", "good") if c not in df.columns]
    if missing:
        raise StudioError(where, f"needs columns episode_index and good (missing: {', '.join(missing)})")
    try:
        ep = pd.to_numeric(df["episode_index"], errors="raise").astype("int64")
        good = pd.to_numeric(df["good"], errors="raise")
    except (ValueError, TypeError):
        raise StudioError(where, "episode_index and good must be numbers") from None
    if not good.isin([0, 1]).all():
        raise StudioError(where, "good must be 0 or 1 on every row")
    if ep.duplicated().any():
        raise StudioError(where, f"episode {int(ep[ep.duplicated()].iloc[0])} is labelled twice")
    return pd.DataFrame({"episode_index": ep.to_numpy(), "good": good.astype("int64").to_numpy()})


def labels_from_tags(project, dataset):
    """The dataset's `good`/`bad` tags as labels (an episode tagged both counts as bad)."""
    import pandas as pd

    from studio.curation.tags import tags_by_episode

    rows = []
    for ep, tags in tags_by_episode(project, dataset).items():
        if "bad" in tags:
            rows.append((int(ep), 0))
        elif "good" in tags:
            rows.append((int(ep), 1))
    return pd.DataFrame(rows, columns=["episode_index", "good"]).astype("int64")


@dataclass(frozen=True)
class Validation:
    rows: list[dict]  # {"metric", "auroc", "ci_low", "ci_high", "n_pos", "n_neg"}
    n_pos: int
    n_neg: int
    unknown: list[int]  # labelled episodes the dataset does not have

    def row(self, metric: str) -> dict | None:
        return next((r for r in self.rows if r["metric"] == metric), None)


def validate(df, metrics: Mapping, labels) -> Validation:
    """AUROC with 95 % interval of every metric (oriented by its direction), of
    `quality_score` and of the −length baseline, against `labels` (episode_index, good).
    `df` must be scored without label-derived terms."""
    merged = df.merge(labels, on="episode_index", how="inner")
    unknown = sorted(set(labels["episode_index"].tolist()) - set(df["episode_index"].tolist()))
    y = merged["good"].to_numpy().astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise StudioError("labels", f"need both good and bad episodes of this dataset (have {n_pos} good, {n_neg} bad)")
    rows = []

    def add(name, values):
        v = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(v)
        if not ok.any():
            return
        auc, lo, hi = auroc_ci(v[ok], y[ok])
        rows.append({"metric": name, "auroc": auc, "ci_low": lo, "ci_high": hi,
                     "n_pos": int(y[ok].sum()), "n_neg": int((~y[ok]).sum())})

    add("quality_score", merged["quality_score"])
    if "duration_s" in merged:
        add(BASELINE, -merged["duration_s"].to_numpy(dtype=np.float64))
    for name, m in metrics.items():
        if name in merged and name not in ("quality_score", "quality_pct"):
            v = merged[name].to_numpy(dtype=np.float64)
            add(name, v if m.direction == "higher" else -v)
    return Validation(rows, n_pos, n_neg, unknown)


# ---------------------------------------------------------------------------- fitting


def badness_matrix(df, metrics: Mapping, names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """(episodes × metrics) badness (studio.curation.score.badness), NaN → 0 (the median)."""
    from studio.curation.score import badness

    cols, used = [], []
    for name in names or list(metrics):
        if name not in df or name not in metrics:
            continue
        b = badness(df[name].to_numpy(dtype=np.float64), metrics[name])
        if b is None:
            continue
        cols.append(np.nan_to_num(b, nan=0.0))
        used.append(name)
    return (np.column_stack(cols) if cols else np.zeros((len(df), 0))), used


def _fit_logistic_nonneg(B: np.ndarray, y: np.ndarray, l2: float = 0.05, iters: int = 3000) -> tuple[np.ndarray, float]:
    """P(good) = σ(c − B·w) with w ≥ 0: projected gradient descent on the mean log-loss
    plus l2·‖w‖² (deterministic, NumPy only)."""
    n, k = B.shape
    w = np.full(k, 0.1)
    c = 0.0
    lr = 1.0 / (0.25 * max(float((B * B).sum(axis=1).mean()), 1e-6) + 2 * l2 + 0.25)
    t = y.astype(np.float64)
    for _ in range(iters):
        z = c - B @ w
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        g = p - t  # d loss / dz
        gw = -(B.T @ g) / n + 2 * l2 * w
        gc = g.mean()
        w = np.maximum(w - lr * gw, 0.0)
        c -= lr * gc
    return w, c


@dataclass(frozen=True)
class WeightFit:
    weights: dict[str, float]  # every candidate metric (0 = not used)
    heldout_auroc: float
    ci_low: float
    ci_high: float
    folds: int
    n_pos: int
    n_neg: int


def fit_weights(df, metrics: Mapping, labels, *, folds: int = 5, seed: int = 0) -> WeightFit:
    """Non-negative weights from labels, with the held-out AUROC of stratified k-fold
    cross-validation (each fold scored by weights fitted on the others). `df` must be
    scored without label-derived terms; refuses fewer than MIN_LABELLED labelled episodes."""
    from studio.curation.score import LABEL_TERMS

    merged = df.merge(labels, on="episode_index", how="inner")
    y = merged["good"].to_numpy().astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if len(merged) < MIN_LABELLED:
        raise StudioError("fit weights", f"needs at least {MIN_LABELLED} labelled episodes of this dataset "
                                         f"(has {len(merged)}); tag more episodes good or bad")
    if min(n_pos, n_neg) < 2:
        raise StudioError("fit weights", f"needs at least 2 good and 2 bad episodes (has {n_pos} good, {n_neg} bad)")
    candidates = [n for n in metrics if n not in LABEL_TERMS and n not in ("total_reward",)]
    # badness is normalised over every episode of the dataset (unsupervised), then sliced
    B_all, names = badness_matrix(df, metrics, candidates)
    idx = df.reset_index(drop=True).reset_index().merge(labels, on="episode_index")["index"].to_numpy()
    B = B_all[idx]
    k = max(2, min(folds, n_pos, n_neg))
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    for cls in (True, False):
        members = rng.permutation(np.flatnonzero(y == cls))
        fold[members] = np.arange(len(members)) % k
    held = np.empty(len(y))
    for f in range(k):
        tr, te = fold != f, fold == f
        w, _ = _fit_logistic_nonneg(B[tr], y[tr])
        held[te] = -(B[te] @ w)
    auc, lo, hi = auroc_ci(held, y)
    w, _ = _fit_logistic_nonneg(B, y)
    total = float(w.sum())
    # scaled so the weights sum like the defaults do (only their ratios matter to the ranking)
    target = float(sum(float(metrics[n].weight) for n in names)) or 1.0
    scaled = w * (target / total) if total > 0 else w
    weights = {n: 0.0 for n in candidates}
    weights.update({n: round(float(v), 3) for n, v in zip(names, scaled)})
    return WeightFit(weights, auc, lo, hi, k, n_pos, n_neg)


def validation_table(v: Validation):
    """The validation rows as a DataFrame for display (score and baseline first)."""
    import pandas as pd

    df = pd.DataFrame(v.rows, columns=["metric", "auroc", "ci_low", "ci_high", "n_pos", "n_neg"])
    return df


def check_score(dataset, project=None, labels=None, **kwargs):
    """(ScoredMetrics, Validation or None, Spearman(score, duration)) for a dataset. With
    `labels`, the score is recomputed without label-derived terms before it is checked."""
    from studio.curation.score import scored_metrics

    sm = scored_metrics(dataset, project, labels=labels is None, **kwargs)
    rho = spearman(sm.df["quality_score"], sm.df["duration_s"]) if "duration_s" in sm.df else float("nan")
    v = validate(sm.df, sm.metrics, labels) if labels is not None else None
    return sm, v, rho


def score_check_markdown(dataset, project, weights=None, plugin_host=None) -> str:
    """What the Curate panel shows next to the score: its Spearman correlation with
    duration and, where the dataset has `good`/`bad` tags, each metric's, the score's and
    the −length baseline's AUROC with 95 % intervals (score recomputed without the tags)."""
    labels = labels_from_tags(project, dataset) if project is not None else None
    have = labels is not None and labels["good"].nunique() == 2
    _, v, rho = check_score(dataset, project, labels if have else None, weights=weights, plugin_host=plugin_host)
    warn = " — **the score mostly ranks by length**" if np.isfinite(rho) and abs(rho) > 0.5 else ""
    shown = f"{rho:+.2f}" if np.isfinite(rho) else "n/a (all equal)"
    lines = [f"**Score check.** Spearman correlation of quality_score with duration: **{shown}**{warn}."]
    if not have:
        n = 0 if labels is None else len(labels)
        lines.append(f"Tag episodes **good** and **bad** to check the score against your judgement "
                     f"({n} tagged; both kinds needed; fitting weights needs {MIN_LABELLED}).")
        return "\n\n".join(lines)
    s, b = v.row("quality_score"), v.row(BASELINE)
    lines.append(f"Against your tags ({v.n_pos} good, {v.n_neg} bad; score recomputed without the tags): "
                 f"score AUROC **{s['auroc']:.2f}** [{s['ci_low']:.2f}, {s['ci_high']:.2f}], "
                 f"−length baseline **{b['auroc']:.2f}** [{b['ci_low']:.2f}, {b['ci_high']:.2f}]"
                 if b else f"score AUROC **{s['auroc']:.2f}** [{s['ci_low']:.2f}, {s['ci_high']:.2f}]")
    rows = ["| metric | AUROC | 95% interval |", "|---|---|---|"]
    for r in v.rows:
        rows.append(f"| {r['metric']} | {r['auroc']:.2f} | {r['ci_low']:.2f}–{r['ci_high']:.2f} |")
    lines.append("\n".join(rows))
    return "\n\n".join(lines)
