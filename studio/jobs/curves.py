"""Training curves from `metrics.jsonl`: the loss as the trainer's log shows it, a smoothed
loss over the raw one, lr and grad-norm, and the one loss figure every view draws (Train
panel, job view, workspace cells), with several runs overlaid.

lerobot's log line (`step:200 … loss:0.532 …`) prints the *mean* loss since its previous
log line, not the last step's; each step record carries that running mean as `loss_avg`
(train_entry), so the queue can show the same number the log shows at the same step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

SMOOTHING = 0.8  # weight of the exponential moving average (TensorBoard's slider)
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#d97706", "#0891b2", "#db2777", "#4b5563")


def smooth(values: Sequence[float | None], weight: float = SMOOTHING) -> list[float | None]:
    """Debiased exponential moving average (as TensorBoard draws it): the first point is the
    first value, not pulled towards 0; missing or non-finite values are skipped (None out)."""
    if not 0.0 <= weight < 1.0:
        raise ValueError("smoothing weight must be in [0, 1)")
    out: list[float | None] = []
    last, n = 0.0, 0
    for v in values:
        if v is None or not math.isfinite(float(v)):
            out.append(None)
            continue
        last = weight * last + (1.0 - weight) * float(v)
        n += 1
        out.append(last / (1.0 - weight ** n) if weight else last)
    return out


@dataclass(frozen=True)
class Curves:
    """One run's per-step series (aligned on `step`) and its checkpoints."""

    step: list[int] = field(default_factory=list)
    loss: list[float | None] = field(default_factory=list)
    loss_smooth: list[float | None] = field(default_factory=list)
    lr: list[float | None] = field(default_factory=list)
    grad_norm: list[float | None] = field(default_factory=list)
    checkpoints: list[tuple[int, float]] = field(default_factory=list)


def _num(r: dict[str, Any], key: str) -> float | None:
    v = r.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def curves(records: Iterable[dict[str, Any]], smoothing: float = SMOOTHING) -> Curves:
    from studio.jobs.model import step_records

    records = list(records)
    steps = step_records(records)
    loss = [_num(r, "loss") for r in steps]
    cks = [(int(r["step"]), float(r["loss"])) for r in records
           if r.get("kind") == "checkpoint" and _num(r, "loss") is not None]
    return Curves(step=[int(r["step"]) for r in steps], loss=loss, loss_smooth=smooth(loss, smoothing),
                  lr=[_num(r, "lr") for r in steps], grad_norm=[_num(r, "grad_norm") for r in steps],
                  checkpoints=cks)


def logged_loss(records: Iterable[dict[str, Any]]) -> tuple[int, float] | None:
    """(step, loss) of the newest step, the loss being what the trainer's log prints at that
    step (mean since the previous log line); records written before `loss_avg` existed give
    the step's own loss."""
    last = next((r for r in reversed(list(records)) if r.get("kind") == "step"), None)
    if last is None:
        return None
    value = _num(last, "loss_avg")
    if value is None:
        value = _num(last, "loss")
    return None if value is None else (int(last["step"]), value)


def loss_text(value: float | None) -> str:
    """A loss as the log writes it (3 decimals); tiny losses keep 3 significant digits."""
    if value is None:
        return ""
    return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.3g}"


def loss_figure(runs: Sequence[tuple[str, Iterable[dict[str, Any]]]], *, smoothing: float = SMOOTHING,
                title: str | None = None, height: int = 520):
    """The loss figure: per run, the raw loss (faint) under its smoothed loss, checkpoint
    markers, and below it the learning rate and gradient norm; several runs overlay in one
    figure, one colour per run. `runs` = [(label, metrics records), …]."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.07, row_heights=[0.6, 0.2, 0.2],
                        subplot_titles=("loss (smoothed over raw)", "learning rate", "gradient norm"))
    for k, (label, records) in enumerate(runs):
        c = curves(records, smoothing)
        color = PALETTE[k % len(PALETTE)]
        if not c.step:
            continue
        fig.add_trace(go.Scatter(x=c.step, y=c.loss, mode="lines", name=f"{label} raw", legendgroup=label,
                                 line={"color": color, "width": 1}, opacity=0.3, showlegend=False,
                                 hovertemplate="step %{x}<br>loss %{y:.4f}<extra>" + label + " raw</extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=c.step, y=c.loss_smooth, mode="lines", name=label, legendgroup=label,
                                 line={"color": color, "width": 2},
                                 hovertemplate="step %{x}<br>smoothed %{y:.4f}<extra>" + label + "</extra>"),
                      row=1, col=1)
        if c.checkpoints:
            fig.add_trace(go.Scatter(x=[s for s, _ in c.checkpoints], y=[v for _, v in c.checkpoints],
                                     mode="markers", name=f"{label} checkpoint", legendgroup=label, showlegend=False,
                                     marker={"size": 9, "symbol": "diamond", "color": color}), row=1, col=1)
        fig.add_trace(go.Scatter(x=c.step, y=c.lr, mode="lines", name=f"{label} lr", legendgroup=label,
                                 line={"color": color, "width": 1.5}, showlegend=False,
                                 hovertemplate="step %{x}<br>lr %{y:.2e}<extra>" + label + "</extra>"), row=2, col=1)
        fig.add_trace(go.Scatter(x=c.step, y=c.grad_norm, mode="lines", name=f"{label} grad norm",
                                 legendgroup=label, line={"color": color, "width": 1.5}, showlegend=False),
                      row=3, col=1)
    lrs = [v for tr in fig.data if tr.name and tr.name.endswith(" lr") for v in (tr.y or ()) if v is not None]
    if lrs and max(lrs) > 0:  # a constant 1e-5 would sit flat on 0 of plotly's default ±1 axis
        fig.update_yaxes(range=[0, max(lrs) * 1.15], tickformat=".1e", row=2, col=1)
    fig.update_xaxes(title_text="step", row=3, col=1)
    fig.update_layout(title=title or "Training", height=height, margin={"l": 50, "r": 10, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": -0.12}, hovermode="x unified")
    return fig


def job_runs(project, job_ids: Iterable[int]) -> list[tuple[str, list[dict[str, Any]]]]:
    """[(label, records)] for jobs by id (unknown ids are skipped), ready for `loss_figure`."""
    from studio.errors import StudioError
    from studio.jobs.model import get_job, read_metrics

    out = []
    seen = set()
    for jid in job_ids:
        if jid is None or int(jid) in seen:
            continue
        seen.add(int(jid))
        try:
            job = get_job(project, int(jid))
        except StudioError:
            continue
        out.append((f"job {job.id}: {job.name}", read_metrics(job.metrics_path)))
    return out
