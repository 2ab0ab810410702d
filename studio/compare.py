"""Checkpoint comparison: rollout sets, interval estimates, exact tests and plain verdicts.

The metrics themselves come from plugins (`studio_comparison_metrics`; the built-in ones
live in plugins/core_compare.py). This module owns the statistics they share:

- `wilson_interval(k, n)`          95% Wilson score interval for a proportion.
- `bootstrap_mean(values, seed=)`  percentile bootstrap interval of a mean (seeded).
- `mcnemar_exact(b, c)`            two-sided exact McNemar test (binomial on discordant pairs).
- `fisher_exact(k1, n1, k2, n2)`   two-sided Fisher exact test (unpaired proportions).
- sample-size estimates behind "≈N more rollouts would resolve it" (80% power, α = 0.05):
  proportions: normal-approximation formula for two independent proportions (Fleiss,
  no continuity correction); paired outcomes: Connor (1987) for McNemar; other metrics:
  n = (z_{α/2} + z_β)² (sd_A² + sd_B²) / Δ², with per-episode sd recovered from the interval.

`compare(sets)` returns a `Comparison`: every metric's estimate per set, a verdict for each
set against the first (the baseline), the per-seed outcome grid where seeds are shared, and
`to_json()` for the CLI. No scipy: the exact tests use integer binomials.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from studio.errors import StudioError

log = logging.getLogger("studio.compare")

ALPHA = 0.05
POWER = 0.80
Z95 = NormalDist().inv_cdf(1 - ALPHA / 2)  # 1.959964…
Z_POWER = NormalDist().inv_cdf(POWER)  # 0.841621…
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
MORE_ROLLOUTS_CAP = 100_000
SUMMARY = "summary.json"


class CompareError(StudioError):
    """A rollout set cannot be read or a comparison is not possible."""


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval over `n` observations (NaNs when n == 0)."""

    value: float
    ci_low: float
    ci_high: float
    n: int

    @classmethod
    def empty(cls) -> "Estimate":
        return cls(math.nan, math.nan, math.nan, 0)

    @property
    def available(self) -> bool:
        return self.n > 0 and not math.isnan(self.value)

    @property
    def se(self) -> float:
        """Standard error recovered from the interval (normal approximation)."""
        return (self.ci_high - self.ci_low) / (2 * Z95)

    def to_json(self) -> dict[str, Any]:
        return {"value": _num(self.value), "ci_low": _num(self.ci_low), "ci_high": _num(self.ci_high), "n": int(self.n)}


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 6)


def wilson_interval(k: int, n: int, z: float = Z95) -> Estimate:
    """Proportion k/n with its Wilson score interval (good at small n and near 0 or 1)."""
    if n <= 0:
        return Estimate.empty()
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact bounds at the edges (no round-off)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return Estimate(p, lo, hi, n)


def bootstrap_mean(values: Sequence[float] | np.ndarray, *, seed: int = BOOTSTRAP_SEED,
                   resamples: int = BOOTSTRAP_RESAMPLES) -> Estimate:
    """Mean with a percentile bootstrap 95% interval; the same seed gives the same interval."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Estimate.empty()
    if n == 1:
        return Estimate(float(x[0]), float(x[0]), float(x[0]), 1)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    lo, hi = np.quantile(means, [ALPHA / 2, 1 - ALPHA / 2])
    return Estimate(float(x.mean()), float(lo), float(hi), n)


def binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly (integer arithmetic)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return sum(math.comb(n, i) for i in range(k + 1)) / (1 << n)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs (binomial test, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * binom_cdf_half(min(b, c), n))


def fisher_exact(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p-value for k1/n1 vs k2/n2 (sum of tables no likelier than observed)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    total, succ = n1 + n2, k1 + k2
    denom = math.comb(total, n1)
    lo, hi = max(0, succ - n2), min(succ, n1)
    probs = {x: math.comb(succ, x) * math.comb(total - succ, n1 - x) for x in range(lo, hi + 1)}
    observed = probs[k1]
    # relative tolerance as in R/scipy so ties in floating point count as "as extreme"
    return min(1.0, sum(v for v in probs.values() if v <= observed * (1 + 1e-7)) / denom)


def normal_p(diff: float, se: float) -> float:
    if se <= 0 or math.isnan(se) or math.isnan(diff):
        return 0.0 if se == 0 and diff not in (0.0,) and not math.isnan(diff) else 1.0
    return 2 * (1 - NormalDist().cdf(abs(diff) / se))


def n_two_proportions(p1: float, p2: float) -> float:
    """Rollouts per set to detect p1 vs p2 (two-sided α=0.05, 80% power; Fleiss, no cc)."""
    delta = abs(p1 - p2)
    if delta == 0:
        return math.inf
    pbar = (p1 + p2) / 2
    num = Z95 * math.sqrt(2 * pbar * (1 - pbar)) + Z_POWER * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return (num / delta) ** 2


def n_mcnemar(p10: float, p01: float) -> float:
    """Paired seeds needed to detect discordance p10 vs p01 (Connor 1987; α=0.05, 80% power)."""
    pd, delta = p10 + p01, abs(p10 - p01)
    if delta == 0:
        return math.inf
    return (Z95 * math.sqrt(pd) + Z_POWER * math.sqrt(max(pd - delta * delta, 0.0))) ** 2 / (delta * delta)


def n_from_estimates(a: Estimate, b: Estimate) -> float:
    """Per-set n to detect the observed difference of two estimates (normal approximation)."""
    delta = abs(b.value - a.value)
    if delta == 0 or not (a.available and b.available):
        return math.inf
    var = (a.se ** 2) * a.n + (b.se ** 2) * b.n  # per-episode variances sd² = se²·n
    if var <= 0:
        return float(max(a.n, b.n))
    return (Z95 + Z_POWER) ** 2 * var / (delta * delta)


@dataclass(frozen=True)
class PairTest:
    """A two-set test: p-value, the method's name and rollouts per set it would take to resolve."""

    p_value: float
    method: str
    n_needed: float = math.inf
    paired: bool = False
    n: int = 0  # observations the test used (pairs for a paired test, per-set n otherwise)


def bootstrap_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, paired: bool = False,
                         seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES) -> PairTest:
    """Bootstrap test of mean(b) − mean(a): resample episodes (or seed pairs when `paired`);
    two-sided p = 2·min(P*(Δ ≤ 0), P*(Δ ≥ 0)), floored at 1/resamples. Seeded."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    if paired:
        keep = ~(np.isnan(xa) | np.isnan(xb))
        d = xb[keep] - xa[keep]
        n = len(d)
        if n < 2:
            return PairTest(1.0, "paired bootstrap", math.inf, True, n)
        diffs = d[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
        sd = float(d.std(ddof=1))
        need = math.inf if d.mean() == 0 else ((Z95 + Z_POWER) * sd / abs(d.mean())) ** 2
        method = "paired bootstrap over shared seeds"
    else:
        xa, xb = xa[~np.isnan(xa)], xb[~np.isnan(xb)]
        if len(xa) < 2 or len(xb) < 2:
            return PairTest(1.0, "bootstrap", math.inf, False, min(len(xa), len(xb)))
        ma = xa[rng.integers(0, len(xa), size=(resamples, len(xa)))].mean(axis=1)
        mb = xb[rng.integers(0, len(xb), size=(resamples, len(xb)))].mean(axis=1)
        diffs = mb - ma
        delta = abs(xb.mean() - xa.mean())
        var = xa.var(ddof=1) + xb.var(ddof=1)
        need = math.inf if delta == 0 else (Z95 + Z_POWER) ** 2 * var / delta ** 2
        n = max(len(xa), len(xb))
        method = "bootstrap of the difference of means"
    p = 2 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0)))
    return PairTest(min(1.0, max(p, 1.0 / resamples)), method, need, paired, n)


# ---------------------------------------------------------------------------- rollout sets


@dataclass(frozen=True, eq=False)
class RolloutSet:
    """Rollouts of one policy: per-episode outcomes (a pandas DataFrame) and where they live.

    `episodes` columns: episode_index, seed, success (bool), progress (0..1), steps,
    time_to_success_s (NaN when not successful), outcome ('success'/'partial'/'fail'),
    source ('sim' for the rollout engine's own judgement, 'review' for a reviewer's verdict).
    """

    name: str
    root: Path | None
    policy: str
    env: str
    episodes: Any  # pandas.DataFrame
    fps: float | None = None

    @property
    def n(self) -> int:
        return len(self.episodes)

    @property
    def seeds(self) -> list[int]:
        s = self.episodes["seed"].dropna()
        return [int(x) for x in s]

    @property
    def label(self) -> str:
        return self.name if not self.policy or self.policy == self.name else f"{self.name} ({self.policy})"

    @cached_property
    def action_smoothness(self) -> np.ndarray:
        """Per-episode mean |Δ²a| (L2 norm of the action's second difference per frame); NaN when
        the set has no action data. Read once from data/*.parquet, vectorised."""
        return _action_second_difference(self)

    def episode_for_seed(self, seed: int) -> int | None:
        rows = self.episodes[self.episodes["seed"] == seed]
        return None if rows.empty else int(rows.iloc[0]["episode_index"])


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise CompareError(str(path), f"cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise CompareError(str(path), f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("episodes"), list):
        raise CompareError(str(path), "has no per-episode 'episodes' list (is this a rollout set summary?)")
    return data


def _episodes_frame(rows: list[dict[str, Any]], where: str):
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["episode_index", "seed", "success"])
    if "success" not in df.columns:
        raise CompareError(where, "episodes carry no 'success' field")
    if "episode_index" not in df.columns:
        df["episode_index"] = range(len(df))
    for col, default in (("seed", np.nan), ("progress", np.nan), ("steps", np.nan), ("time_to_success_s", np.nan)):
        if col not in df.columns:
            df[col] = default
    df["success"] = df["success"].eq(True)
    df["progress"] = pd.to_numeric(df["progress"], errors="coerce")
    # a success is full progress when the engine did not report progress
    df.loc[df["progress"].isna() & df["success"], "progress"] = 1.0
    df["steps"] = pd.to_numeric(df["steps"], errors="coerce")
    df["time_to_success_s"] = pd.to_numeric(df["time_to_success_s"], errors="coerce")
    df.loc[~df["success"], "time_to_success_s"] = np.nan
    df["seed"] = pd.to_numeric(df["seed"], errors="coerce").astype("Int64")
    df["episode_index"] = df["episode_index"].astype(int)
    if "outcome" not in df.columns:
        df["outcome"] = np.where(df["success"], "success", "fail")
    df["source"] = "sim"
    return df.sort_values("episode_index").reset_index(drop=True)


def _apply_verdicts(df, verdicts):
    """Reviewer verdicts win over the engine's judgement for the episodes they cover."""
    import pandas as pd

    if verdicts is None or len(verdicts) == 0:
        return df
    v = pd.DataFrame(verdicts)[["episode_index", "verdict", "progress"]].drop_duplicates("episode_index", keep="last")
    v["episode_index"] = v["episode_index"].astype(int)
    merged = df.merge(v, on="episode_index", how="outer", suffixes=("", "_rv"))
    has = merged["verdict"].notna()
    merged.loc[has, "outcome"] = merged.loc[has, "verdict"].astype(str)
    merged.loc[has, "success"] = merged.loc[has, "verdict"] == "success"
    rv_progress = pd.to_numeric(merged["progress_rv"], errors="coerce")
    default_progress = np.where(merged["verdict"] == "success", 1.0, 0.0)
    merged.loc[has, "progress"] = rv_progress[has].fillna(pd.Series(default_progress, index=merged.index)[has])
    merged.loc[has, "source"] = "review"
    merged["success"] = merged["success"].eq(True)
    merged.loc[~merged["success"], "time_to_success_s"] = np.nan
    out = merged.drop(columns=["verdict", "progress_rv"])
    return out.sort_values("episode_index").reset_index(drop=True)


def _review_targets(project, root: Path) -> list[str]:
    """Names under which reviewers may have judged the dataset at `root`: its rollout-set
    name(s) in studio.review and its path (plain datasets are reviewed by path)."""
    from studio import review

    names = [s.name for s in review.list_rollout_sets(project) if Path(s.path).resolve() == root.resolve()]
    return names + [str(root), str(root.resolve())]


def _reviews_for(project, root: Path) -> list[dict[str, Any]] | None:
    """Reviewer verdicts (studio.review) for the dataset at `root`, newest per episode across
    its targets: [{episode_index, verdict, progress (0..1)}], or None."""
    if project is None:
        return None
    from studio import review

    try:
        latest: dict[int, Any] = {}
        for target in dict.fromkeys(_review_targets(project, root)):
            for ep, v in review.verdicts(project, target).items():
                if ep not in latest or v.at > latest[ep].at:
                    latest[ep] = v
    except StudioError:
        raise
    except Exception:  # reviews are optional evidence: never block a comparison on them
        log.exception("could not read reviews for %s", root)
        return None
    return [{"episode_index": ep, "verdict": v.verdict, "progress": float(v.progress) / 100.0}
            for ep, v in sorted(latest.items())] or None


def load_rollout_set(ref: str | Path, project=None, *, name: str | None = None) -> RolloutSet:
    """Open a rollout set: a folder with summary.json (or the summary.json itself), a name under
    the project's rollouts/, or a LeRobot dataset whose outcomes are reviewers' verdicts."""
    path = resolve_rollout_path(ref, project)
    root = path.parent if path.is_file() else path
    if name is None and not Path(ref).expanduser().exists():
        name = str(ref)  # opened by its name (rollouts/<name> or a registered set)
    summary_path = path if path.is_file() else path / SUMMARY
    verdicts = _reviews_for(project, root)
    if summary_path.exists():
        data = _read_summary(summary_path)
        df = _episodes_frame(data["episodes"], str(summary_path))
        policy, env = str(data.get("policy") or ""), str(data.get("env") or "")
        fps = data.get("fps")
    elif verdicts is not None and len(verdicts):
        df = _episodes_frame([], str(root))
        policy, env, fps = _dataset_identity(root)
    else:
        raise CompareError(str(root), f"is not a rollout set (no {SUMMARY} and no reviewer verdicts)")
    df = _apply_verdicts(df, verdicts)
    if fps is None and (root / "meta" / "info.json").exists():
        fps = _dataset_identity(root)[2]
    return RolloutSet(name=name or root.name, root=root, policy=policy, env=env, episodes=df,
                      fps=float(fps) if fps else None)


def _dataset_identity(root: Path) -> tuple[str, str, float | None]:
    try:
        info = json.loads((root / "meta" / "info.json").read_text())
    except (OSError, ValueError):
        return root.name, "", None
    return root.name, str(info.get("robot_type") or ""), info.get("fps")


def resolve_rollout_path(ref: str | Path, project=None) -> Path:
    p = Path(ref).expanduser()
    if p.exists():
        return p.resolve()
    if project is not None and not p.is_absolute():
        candidate = project.rollouts_dir / p
        if candidate.exists():
            return candidate.resolve()
    if project is not None:
        try:  # a registered rollout set (e.g. real-robot rollouts) by its name
            from studio import review

            return Path(review.get_rollout_set(project, str(ref)).path).resolve()
        except StudioError:
            pass
    where = str(ref)
    hint = f" (looked in {project.rollouts_dir} and the registered rollout sets)" if project is not None else ""
    raise CompareError(where, f"no such rollout set{hint}")


class RolloutSetRef(NamedTuple):
    """A rollout set the project knows: its name, folder, checkpoint (or policy) and size."""

    name: str
    path: Path
    checkpoint: str
    n_episodes: int
    reviewed: int | None = None  # sets without summary.json: episodes with a reviewer's verdict

    @property
    def label(self) -> str:
        who = f" — {self.checkpoint}" if self.checkpoint and self.checkpoint != self.name else ""
        if self.reviewed is not None:
            return f"{self.name}{who} ({self.reviewed} of {self.n_episodes} rollouts reviewed)"
        return f"{self.name}{who} ({self.n_episodes} rollout{'' if self.n_episodes == 1 else 's'})"


def list_rollout_sets(project) -> list[RolloutSetRef]:
    """Every rollout set the project can compare, newest first: folders with a summary.json
    under rollouts/ (two levels deep) and the sets registered for review (real-robot
    rollouts) once reviewers have judged some of their episodes (`unreviewed_sets` names the rest)."""
    found: dict[Path, RolloutSetRef] = {}
    from studio import review

    for s in review.list_rollout_sets(project):
        p = Path(s.path).resolve()
        reviewed = None
        if not (p / SUMMARY).exists():  # outcomes come from reviewers only: offer it once judged
            reviewed = len(_reviews_for(project, p) or [])
            if not reviewed:
                continue
        found.setdefault(p, RolloutSetRef(s.name, p, s.policy or s.checkpoint or "", int(s.n_episodes or 0), reviewed))
    root = project.rollouts_dir
    if root.exists():
        for pattern in (f"*/{SUMMARY}", f"*/*/{SUMMARY}"):
            for f in root.glob(pattern):
                d = f.parent.resolve()
                if d in found or any(part.startswith(".") for part in d.relative_to(root.resolve()).parts):
                    continue
                try:
                    summary = json.loads(f.read_text())
                    policy = str(summary.get("policy") or "")
                    n = int(summary.get("n_episodes") or len(summary.get("episodes") or []))
                except (OSError, ValueError, TypeError, AttributeError):
                    policy, n = "", 0
                found[d] = RolloutSetRef(str(f.parent.relative_to(root)), d, policy, n)
    existing = [r for r in found.values() if r.path.exists()]
    return sorted(existing, key=lambda r: (-r.path.stat().st_mtime, r.name))


def unreviewed_sets(project) -> list[str]:
    """Names of registered rollout sets that cannot be compared yet (no summary.json and no
    reviewer verdicts), so a panel can say why they are not offered."""
    from studio import review

    out = []
    for s in review.list_rollout_sets(project):
        p = Path(s.path)
        if p.exists() and not (p / SUMMARY).exists() and not _reviews_for(project, p.resolve()):
            out.append(s.name)
    return out


def _action_second_difference(rs: RolloutSet) -> np.ndarray:
    """Per-episode mean ‖a[t+1] − 2a[t] + a[t−1]‖, aligned with `rs.episodes` (NaN if absent)."""
    out = np.full(rs.n, np.nan)
    if rs.root is None or not (rs.root / "data").exists():
        return out
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = sorted((rs.root / "data").rglob("*.parquet"))
    if not files:
        return out
    tables = []
    for f in files:
        names = pq.read_schema(f).names
        if "action" not in names or "episode_index" not in names:
            return out
        cols = ["episode_index", "action"] + (["frame_index"] if "frame_index" in names else [])
        tables.append(pq.read_table(f, columns=cols))
    import pyarrow as pa

    table = pa.concat_tables(tables)
    if "frame_index" in table.column_names:
        table = table.sort_by([("episode_index", "ascending"), ("frame_index", "ascending")])
    ep = table["episode_index"].to_numpy()
    flat = pc.list_flatten(table["action"].combine_chunks()).to_numpy(zero_copy_only=False).astype(float)
    if len(ep) == 0 or flat.size % len(ep):
        return out
    a = flat.reshape(len(ep), -1)
    if len(ep) < 3:
        return out
    d2 = np.linalg.norm(a[2:] - 2 * a[1:-1] + a[:-2], axis=1)
    same = (ep[2:] == ep[1:-1]) & (ep[1:-1] == ep[:-2])
    idx, inv = np.unique(ep[2:][same], return_inverse=True)
    sums = np.bincount(inv, weights=d2[same])
    counts = np.bincount(inv)
    per_ep = dict(zip(idx.tolist(), (sums / counts).tolist()))
    return np.array([per_ep.get(int(e), np.nan) for e in rs.episodes["episode_index"]], dtype=float)


# ---------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class ComparisonMetric:
    """One comparison metric contributed by a plugin.

    name       short label shown in tables ("success rate").
    doc        one sentence: what it measures and how its interval is computed.
    direction  'higher' or 'lower' — which way is better.
    fn         fn(rollout_set) -> Estimate(value, ci_low, ci_high, n); n == 0 means "not
               available for this set" (e.g. no action data) and the metric is skipped for it.
    test       optional test(a, b) -> PairTest; without it the studio compares the two
               estimates by a normal approximation from their intervals.
    fmt        'percent' or 'number' (display only).
    unit       display unit ("s", "") for numbers.
    plugin     filled in by the studio: which plugin contributed it.
    """

    name: str
    doc: str
    direction: str
    fn: Callable[[RolloutSet], Estimate]
    test: Callable[[RolloutSet, RolloutSet], PairTest] | None = None
    fmt: str = "number"
    unit: str = ""
    primary: bool = False
    plugin: str = ""

    def __post_init__(self):
        if self.direction not in ("higher", "lower"):
            raise ValueError(f"direction must be 'higher' or 'lower', not {self.direction!r}")

    def format(self, est: Estimate) -> str:
        if not est.available:
            return "n/a"
        if self.fmt == "percent":
            return f"{100 * est.value:.0f}% [{100 * est.ci_low:.0f}–{100 * est.ci_high:.0f}]"
        unit = f" {self.unit}" if self.unit else ""
        return f"{est.value:.3g}{unit} [{est.ci_low:.3g}–{est.ci_high:.3g}]"


def comparison_metrics(plugin_host=None) -> list[ComparisonMetric]:
    """Every comparison metric from every enabled plugin (a plugin returning garbage is disabled)."""
    from studio.plugins import host

    ph = plugin_host or host()
    metrics: list[ComparisonMetric] = []
    seen: set[str] = set()
    for plugin_name, items in ph.call_each("studio_comparison_metrics"):
        bad = [m for m in items if not isinstance(m, ComparisonMetric)]
        if bad:
            ph.disable(plugin_name, f"hook studio_comparison_metrics returned {type(bad[0]).__name__}, "
                                    "not studio.compare.ComparisonMetric")
            continue
        for m in items:
            if m.name in seen:
                log.warning("comparison metric %r from %s ignored: name already taken", m.name, plugin_name)
                continue
            seen.add(m.name)
            metrics.append(replace(m, plugin=plugin_name))
    metrics.sort(key=lambda m: (not m.primary, m.plugin != "core_compare", 0))
    return metrics


# ---------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """The plain answer for one metric, B (challenger) against A (baseline)."""

    winner: str | None  # 'A', 'B' or None
    text: str  # "B better", "A better", "no detectable difference at n=50"
    p_value: float | None
    method: str
    more_rollouts: int | None  # per set, to resolve a difference of the observed size
    resolve: str  # the sentence about more rollouts ("" when decided)
    difference: float | None  # B − A

    def to_json(self) -> dict[str, Any]:
        return {
            "winner": self.winner, "text": self.text, "p_value": _num(self.p_value) if self.p_value is not None else None,
            "method": self.method, "more_rollouts": self.more_rollouts, "resolve": self.resolve,
            "difference": _num(self.difference) if self.difference is not None else None,
        }


def _n_text(a: Estimate, b: Estimate) -> str:
    return f"n={a.n}" if a.n == b.n else f"n={a.n} vs {b.n}"


def decide(metric: ComparisonMetric, a: Estimate, b: Estimate, test: PairTest | None) -> Verdict:
    if not (a.available and b.available):
        return Verdict(None, "not available for both sets", None, "", None, "", None)
    diff = b.value - a.value
    if test is None:
        se = math.sqrt(a.se ** 2 + b.se ** 2)
        test = PairTest(normal_p(diff, se), "normal approximation from the 95% intervals",
                        n_from_estimates(a, b), n=min(a.n, b.n))
    if test.p_value < ALPHA and diff != 0:
        b_wins = (diff > 0) == (metric.direction == "higher")
        winner = "B" if b_wins else "A"
        return Verdict(winner, f"{winner} better", test.p_value, test.method, 0, "", diff)
    text = f"no detectable difference at {_n_text(a, b)}" if not test.paired else \
        f"no detectable difference at n={test.n} paired seeds"
    have = test.n if test.paired else max(a.n, b.n)
    if math.isinf(test.n_needed) or diff == 0:
        resolve = "the observed difference is zero; more rollouts would only narrow the intervals"
        more = None
    else:
        more = max(1, math.ceil(test.n_needed) - have)
        unit = "paired seeds" if test.paired else "rollouts per set"
        if more > MORE_ROLLOUTS_CAP:
            resolve = f"more than {MORE_ROLLOUTS_CAP:,} more {unit} would be needed: the difference is negligible"
        else:
            resolve = (f"≈{more} more {unit} would resolve a difference this size "
                       f"(80% power, α=0.05)")
    return Verdict(None, text, test.p_value, test.method, more, resolve, diff)


# ---------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class SeedOutcome:
    seed: int
    episode_a: int
    episode_b: int
    outcome_a: str
    outcome_b: str
    success_a: bool
    success_b: bool

    @property
    def kind(self) -> str:
        if self.success_a and self.success_b:
            return "both"
        if self.success_a:
            return "only A"
        if self.success_b:
            return "only B"
        return "neither"


def paired_grid(a: RolloutSet, b: RolloutSet) -> list[SeedOutcome]:
    """Per-seed outcomes for seeds present in both sets (first episode of each seed), by seed."""
    ea = a.episodes.dropna(subset=["seed"]).drop_duplicates("seed")
    eb = b.episodes.dropna(subset=["seed"]).drop_duplicates("seed")
    m = ea.merge(eb, on="seed", suffixes=("_a", "_b")).sort_values("seed")
    return [SeedOutcome(int(r.seed), int(r.episode_index_a), int(r.episode_index_b), str(r.outcome_a),
                        str(r.outcome_b), bool(r.success_a), bool(r.success_b)) for r in m.itertuples()]


def is_paired(a: RolloutSet, b: RolloutSet, grid: list[SeedOutcome] | None = None) -> bool:
    """Paired when at least half of the smaller set's rollouts share a seed with the other set."""
    grid = paired_grid(a, b) if grid is None else grid
    return len(grid) > 0 and len(grid) >= 0.5 * min(a.n, b.n)


@dataclass(frozen=True)
class MetricRow:
    metric: ComparisonMetric
    estimates: list[Estimate]  # one per set
    verdicts: list[Verdict | None]  # one per set; None for the baseline


@dataclass(frozen=True)
class Comparison:
    sets: list[RolloutSet]
    rows: list[MetricRow]
    grids: list[list[SeedOutcome]]  # per challenger (sets[1:]) against the baseline
    skipped: list[str] = field(default_factory=list)  # sentences about metrics that failed
    warnings: list[str] = field(default_factory=list)  # sets that differ in world, task or actions

    @property
    def primary(self) -> MetricRow | None:
        for row in self.rows:
            if row.metric.primary and all(e.available for e in row.estimates):
                return row
        return next((r for r in self.rows if all(e.available for e in r.estimates)), None)

    def verdict(self, i: int = 1) -> Verdict | None:
        row = self.primary
        return None if row is None else row.verdicts[i]

    def headline(self, i: int = 1) -> str:
        v = self.verdict(i)
        if v is None:
            return "no metric is available for both sets"
        a, b = self.sets[0], self.sets[i]
        row = self.primary
        est = f"{row.metric.name}: A {row.metric.format(row.estimates[0])} vs B {row.metric.format(row.estimates[i])}"
        who = {"A": a.name, "B": b.name}.get(v.winner or "", "")
        head = f"{v.text} ({who})" if who else v.text
        tail = f"; {v.resolve}" if v.resolve else ""
        return f"{head} — {est}{tail}"

    def to_json(self) -> dict[str, Any]:
        def set_json(rs: RolloutSet) -> dict[str, Any]:
            return {"name": rs.name, "path": str(rs.root) if rs.root else None, "policy": rs.policy, "env": rs.env,
                    "n_episodes": rs.n, "reviewed": int((rs.episodes["source"] == "review").sum())}

        out: dict[str, Any] = {
            "a": set_json(self.sets[0]),
            "b": set_json(self.sets[1]) if len(self.sets) > 1 else None,
            "metrics": [],
        }
        for row in self.rows:
            m = row.metric
            item = {"name": m.name, "doc": m.doc, "direction": m.direction, "plugin": m.plugin,
                    "a": row.estimates[0].to_json()}
            if len(self.sets) > 1:
                item["b"] = row.estimates[1].to_json()
                item["verdict"] = row.verdicts[1].to_json() if row.verdicts[1] else None
            for j in range(2, len(self.sets)):
                item.setdefault("others", []).append(
                    {"name": self.sets[j].name, **row.estimates[j].to_json(),
                     "verdict": row.verdicts[j].to_json() if row.verdicts[j] else None})
            out["metrics"].append(item)
        v = self.verdict(1) if len(self.sets) > 1 else None
        out["verdict"] = None if v is None else {**v.to_json(), "metric": self.primary.metric.name,
                                                "headline": self.headline(1)}
        if len(self.sets) > 1:
            grid = self.grids[0]
            out["paired"] = {
                "n_shared_seeds": len(grid),
                "used": is_paired(self.sets[0], self.sets[1], grid),
                "both": sum(g.kind == "both" for g in grid), "only_a": sum(g.kind == "only A" for g in grid),
                "only_b": sum(g.kind == "only B" for g in grid), "neither": sum(g.kind == "neither" for g in grid),
                "seeds": [{"seed": g.seed, "a": g.outcome_a, "b": g.outcome_b, "episode_a": g.episode_a,
                           "episode_b": g.episode_b} for g in grid],
            }
        out["skipped"] = list(self.skipped)
        out["warnings"] = list(self.warnings)
        return out


def compare(sets: Sequence[RolloutSet], *, plugin_host=None, metrics: list[ComparisonMetric] | None = None) -> Comparison:
    """Compare rollout sets: the first is the baseline (A), each other one a challenger (B).

    A metric whose plugin raises is dropped from this comparison, its plugin disabled and
    the message recorded (in `skipped` and in the plugin host's failures)."""
    sets = list(sets)
    if len(sets) < 2:
        raise CompareError("compare", f"needs at least two rollout sets (got {len(sets)})")
    from studio import comparability

    fit = comparability.check([comparability.identity(rs.root, name=rs.name, env=rs.env) for rs in sets])
    if fit.refusal:
        raise CompareError("compare", fit.refusal)
    from studio.plugins import host

    ph = plugin_host or host()
    metrics = comparison_metrics(ph) if metrics is None else metrics
    rows: list[MetricRow] = []
    skipped: list[str] = []
    for m in metrics:
        try:
            ests = [m.fn(rs) for rs in sets]
            bad = next((e for e in ests if not isinstance(e, Estimate)), None)
            if bad is not None:
                raise TypeError(f"returned {type(bad).__name__}, not studio.compare.Estimate")
            verdicts: list[Verdict | None] = [None]
            for rs, est in zip(sets[1:], ests[1:]):
                test = m.test(sets[0], rs) if (m.test and ests[0].available and est.available) else None
                verdicts.append(decide(m, ests[0], est, test))
        except Exception as exc:  # a plugin's metric must not break the comparison
            what = f"comparison metric '{m.name}' raised {type(exc).__name__}: {exc}"
            log.exception("plugin %s: %s", m.plugin, what)
            if m.plugin:
                ph.disable(m.plugin, what)
            skipped.append(f"plugin '{m.plugin or '?'}' disabled: {what}")
            continue
        rows.append(MetricRow(m, ests, verdicts))
    grids = [paired_grid(sets[0], rs) for rs in sets[1:]]
    return Comparison(sets, rows, grids, skipped, list(fit.warnings))


def compare_paths(refs: Sequence[str | Path], project=None, *, plugin_host=None) -> Comparison:
    sets = [load_rollout_set(r, project) for r in refs]
    names = [s.name for s in sets]
    if len(set(names)) < len(names):  # same folder names from different places: disambiguate
        sets = [replace(s, name=f"{s.name} [{i + 1}]") for i, s in enumerate(sets)]
    return compare(sets, plugin_host=plugin_host)


OUTCOME_MARK = {"success": "✓", "partial": "◐", "fail": "✗"}


def seed_cell(g: SeedOutcome) -> str:
    """'17 ✓✗': seed 17, A succeeded, B failed."""
    return f"{g.seed} {OUTCOME_MARK.get(g.outcome_a, '?')}{OUTCOME_MARK.get(g.outcome_b, '?')}"


def seed_from_cell(text: str) -> int | None:
    head = str(text or "").strip().split(" ", 1)[0]
    try:
        return int(head)
    except ValueError:
        return None


def seed_grid(grid: list[SeedOutcome], columns: int = 10) -> list[list[str]]:
    """The per-seed outcome grid laid out `columns` seeds a row (cells from `seed_cell`)."""
    cells = [seed_cell(g) for g in grid]
    rows = [cells[i:i + columns] for i in range(0, len(cells), columns)]
    if rows:
        rows[-1] += [""] * (columns - len(rows[-1]))
    return rows


def comparison_table(comp: Comparison) -> list[dict[str, str]]:
    """Rows for a display table: metric, one formatted column per set, verdict per challenger."""
    table = []
    for row in comp.rows:
        rec = {"metric": row.metric.name, "better": row.metric.direction}
        for rs, est in zip(comp.sets, row.estimates):
            rec[rs.name] = row.metric.format(est)
        for rs, v in zip(comp.sets[1:], row.verdicts[1:]):
            key = "verdict" if len(comp.sets) == 2 else f"verdict {rs.name}"
            if v is None:
                rec[key] = ""
            else:
                p = f" (p={v.p_value:.3g}, {v.method})" if v.p_value is not None else ""
                rec[key] = v.text + p + (f"; {v.resolve}" if v.resolve else "")
        rec["plugin"] = row.metric.plugin
        table.append(rec)
    return table
