"""The flywheel at a glance: what Home shows (datasets, selections, jobs, rollout sets, review
activity, the next step), the links between panels (`?panel=…&dataset=…`, the same strings a
reviewer pastes into a chat) and a cheap change token that tells open pages something moved.

Everything here reads project state; nothing imports gradio. Panels render it (panels/home.py).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("studio.flywheel")

# Query keys a link may carry, besides `panel` (unknown keys are dropped, so a pasted link
# cannot smuggle anything else into a panel).
LINK_KEYS = ("dataset", "episode", "selection", "job", "set", "a", "b", "workspace", "checkpoint")


# ----------------------------------------------------------------------------- links


def link(panel: str, **params: Any) -> str:
    """`?panel=Datasets&dataset=…&episode=3`: a deep link (relative: it works behind any host/port)."""
    items = [("panel", panel)] + [(k, str(v)) for k, v in params.items() if v is not None and str(v) != ""]
    return "?" + urlencode(items)


def parse_link(query: str | dict | None) -> dict[str, str]:
    """A link's query (`?panel=…&…`, a full URL or a mapping) → {key: value} of known keys."""
    if query is None:
        return {}
    if isinstance(query, dict) or hasattr(query, "items"):
        pairs = [(str(k), str(v)) for k, v in dict(query).items()]
    else:
        text = str(query)
        text = text.split("?", 1)[1] if "?" in text else text
        pairs = parse_qsl(text.split("#", 1)[0], keep_blank_values=False)
    out: dict[str, str] = {}
    for k, v in pairs:
        if k == "panel" or k in LINK_KEYS:
            out[k] = v.strip()
    return out


def link_int(params: dict[str, str], key: str) -> int | None:
    """An integer parameter of a link (episode, job), or None when absent or not a number."""
    try:
        return int(params[key])
    except (KeyError, TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- what Home shows


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    path: str
    episodes: int = 0
    frames: int = 0
    hours: float = 0.0
    problems: tuple[str, ...] = ()
    error: str | None = None  # the dataset did not open: the one sentence why

    @property
    def link(self) -> str:
        return link("Datasets", dataset=self.path)


@dataclass(frozen=True)
class SelectionEntry:
    name: str
    label: str
    dataset_path: str
    n_episodes: int
    exported: str | None = None  # the exported LeRobot dataset folder, when there is one

    @property
    def link(self) -> str:
        return link("Curate", dataset=self.dataset_path, selection=self.name)

    @property
    def train_link(self) -> str:
        return link("Train", dataset=self.name)


@dataclass(frozen=True)
class JobEntry:
    id: int
    name: str
    state: str
    step: int
    total: int
    loss: float | None
    dataset: str
    checkpoints: int = 0

    @property
    def link(self) -> str:
        return link("Train", job=self.id)


@dataclass(frozen=True)
class RolloutEntry:
    name: str
    path: str
    checkpoint: str
    kind: str
    n_episodes: int
    judged: int = 0
    successes: int = 0
    rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    job_id: int | None = None
    created_at: float = 0.0

    @property
    def link(self) -> str:
        return link("Rollouts", set=self.name)


@dataclass(frozen=True)
class ActivityEntry:
    at: float
    author: str
    action: str
    target: str
    episode: int | None
    detail: str
    link: str


@dataclass(frozen=True)
class Step:
    """The next suggested step of the loop: a sentence and where to do it."""

    text: str
    link: str


@dataclass(frozen=True)
class Overview:
    datasets: list[DatasetEntry] = field(default_factory=list)
    selections: list[SelectionEntry] = field(default_factory=list)
    jobs: list[JobEntry] = field(default_factory=list)
    rollouts: list[RolloutEntry] = field(default_factory=list)
    activity: list[ActivityEntry] = field(default_factory=list)
    next_step: Step | None = None


_ds_cache: dict[tuple[str, float], DatasetEntry] = {}
_ds_lock = threading.Lock()


def dataset_entry(path: Path) -> DatasetEntry:
    """Size and problems of one dataset folder (remembered until its meta/info.json changes)."""
    from studio.datasets import open_dataset
    from studio.errors import StudioError

    try:
        key = (str(path), (path / "meta" / "info.json").stat().st_mtime)
    except OSError:
        key = (str(path), 0.0)
    with _ds_lock:
        if key in _ds_cache:
            return _ds_cache[key]
    try:
        ds = open_dataset(path)
        s = ds.summary()
        entry = DatasetEntry(path.name, str(path), int(s["total_episodes"]), int(s["total_frames"]),
                             float(s["duration_s"]) / 3600.0,
                             tuple(f"{p['where']}: {p['what']}" for p in s["problems"]))
    except StudioError as exc:
        entry = DatasetEntry(path.name, str(path), error=exc.sentence())
    except Exception as exc:  # noqa: BLE001 - Home names a broken dataset, it never fails on one
        log.exception("home: %s did not open", path)
        entry = DatasetEntry(path.name, str(path), error=f"{type(exc).__name__}: {exc}")
    with _ds_lock:
        _ds_cache[key] = entry
    return entry


def _job_of(project, policy: str | None, name: str) -> int | None:
    """The job whose checkpoint a rollout set ran: from the policy folder or the set's name."""
    if policy:
        try:
            rel = Path(policy).resolve().relative_to(Path(project.jobs_dir).resolve())
            return int(rel.parts[0])
        except (ValueError, IndexError):
            pass
    if name.startswith("job") and "-" in name and name[3:name.index("-")].isdigit():
        return int(name[3:name.index("-")])
    return None


def rollout_entries(project) -> list[RolloutEntry]:
    """Every rollout set with its success rate (reviewer verdicts win) and 95% Wilson interval."""
    from studio import review
    from studio.compare import wilson_interval

    out = []
    for s in review.list_rollout_sets(project):
        try:
            rows = review.outcomes(project, s.name)
        except Exception:  # noqa: BLE001 - a damaged set shows without a rate
            log.exception("home: outcomes of %s", s.name)
            rows = []
        k, n = sum(1 for r in rows if r["success"]), len(rows)
        est = wilson_interval(k, n) if n else None
        out.append(RolloutEntry(
            s.name, str(s.path), s.checkpoint, s.kind, int(s.n_episodes), n, k,
            est.value if est else None, est.ci_low if est else None, est.ci_high if est else None,
            _job_of(project, s.policy or s.checkpoint, s.name), s.created_at))
    return out


def job_entries(project, limit: int = 20) -> list[JobEntry]:
    from studio import jobs

    out = []
    counts: dict[int, int] = {}
    for c in jobs.list_checkpoints(project):
        counts[c.job_id] = counts.get(c.job_id, 0) + 1
    for j in jobs.list_jobs(project, limit=limit):
        p = jobs.progress(j)
        ds = str(j.spec.get("selection") or j.spec.get("dataset") or "")
        out.append(JobEntry(j.id, j.name, j.state, p.step, p.total, p.loss, Path(ds).name if "/" in ds else ds,
                            counts.get(j.id, 0)))
    return out


def selection_entries(project) -> list[SelectionEntry]:
    from studio.curation.selections import list_selections

    out = []
    for s in list_selections(project):
        exported = Path(project.selections_dir) / s.label
        out.append(SelectionEntry(s.name, s.label, s.dataset_path, s.n_episodes,
                                  str(exported) if (exported / "meta" / "info.json").exists() else None))
    return out


def activity_entries(project, limit: int = 8) -> list[ActivityEntry]:
    from studio import review

    out = []
    for a in review.activity(project, limit):
        ep = {"episode": a.episode_index} if a.episode_index is not None else {}
        out.append(ActivityEntry(a.at, a.author, a.action, a.target, a.episode_index, a.detail,
                                 link("Rollouts", set=a.target, **ep)))
    return out


def next_step(ov: Overview) -> Step:
    """The loop's next move, judged from what the project holds."""
    ok = [d for d in ov.datasets if d.error is None]
    if not ov.datasets:
        return Step("Open a LeRobot dataset (or build the demo world with `studio demo`).", link("Datasets"))
    if not ov.selections:
        d = ok[0] if ok else ov.datasets[0]
        return Step(f"Curate `{d.name}`: keep the smooth, successful episodes and save a selection.",
                    link("Curate", dataset=d.path))
    running = [j for j in ov.jobs if j.state in ("queued", "running")]
    if running:
        j = running[0]
        return Step(f"Job {j.id} is {j.state} ({j.step}/{j.total} steps): watch its loss.", j.link)
    trained = [j for j in ov.jobs if j.checkpoints]
    if not trained:
        s = ov.selections[0]
        return Step(f"Fine-tune a policy on the selection `{s.name}`.", s.train_link)
    evaluated = {r.job_id for r in ov.rollouts if r.job_id is not None}
    todo = [j for j in trained if j.id not in evaluated]
    if todo:
        return Step(f"Evaluate job {todo[0].id}'s checkpoint in simulation.", todo[0].link)
    sets = [r for r in ov.rollouts if r.judged]
    if len(sets) >= 2:
        return Step(f"Compare `{sets[1].name}` with `{sets[0].name}`: is the difference real?",
                    link("Compare", a=sets[1].name, b=sets[0].name))
    if sets:
        return Step(f"Review the rollouts of `{sets[0].name}`, or evaluate another checkpoint to compare.",
                    sets[0].link)
    return Step("Review rollouts in the Rollouts panel.", link("Rollouts"))


def overview(project) -> Overview:
    """Everything Home shows, read from the project home and studio.db."""
    from studio.datasets import list_project_datasets

    roots = [p for p in list_project_datasets(project)
             if Path(p).parent == Path(project.datasets_dir)]
    ov = Overview(
        datasets=[dataset_entry(Path(p)) for p in roots],
        selections=selection_entries(project),
        jobs=job_entries(project),
        rollouts=rollout_entries(project),
        activity=activity_entries(project),
    )
    return Overview(ov.datasets, ov.selections, ov.jobs, ov.rollouts, ov.activity, next_step(ov))


def job_links(project, job_id: int) -> dict[str, Any]:
    """What a job leads to: its rollout sets (newest first) and a prefilled Compare link.

    Compare pairs the job's newest set with the job's oldest one when it has two, else with
    the newest set of another job (the baseline it should beat)."""
    sets = rollout_entries(project)
    mine = [r for r in sets if r.job_id == job_id]
    compare = None
    if len(mine) >= 2:
        compare = link("Compare", a=mine[-1].name, b=mine[0].name)
    elif mine:
        other = next((r for r in sets if r.job_id != job_id), None)
        if other is not None:
            compare = link("Compare", a=other.name, b=mine[0].name)
    return {"rollouts": mine, "compare": compare, "checkpoints": link("Train", job=job_id)}


# ----------------------------------------------------------------------------- change token


def change_token(project) -> str:
    """A short string that changes when anything Home or the lists show changes: datasets,
    selections, jobs (state, attempt, steps written), rollout sets, reviews. Cheap: a few
    stat calls and three indexed queries, so open pages can poll it every few seconds."""
    parts: list[str] = []
    for base in (project.datasets_dir, project.selections_dir, project.rollouts_dir):
        base = Path(base)
        try:
            parts.append(f"{base.stat().st_mtime_ns}")
            parts += [f"{p.name}:{p.stat().st_mtime_ns}" for p in sorted(base.glob("*/summary.json"))]
            parts += [f"{p.parent.parent.name}:{p.stat().st_mtime_ns}" for p in sorted(base.glob("*/meta/info.json"))]
        except OSError:
            parts.append("-")
    queries = ("SELECT id, state, attempt FROM jobs ORDER BY id",
               "SELECT max(id) FROM review_activity",
               "SELECT count(*), max(created_at) FROM selections",
               "SELECT count(*), max(id) FROM checkpoints")
    running: list[Path] = []
    try:
        conn = project.connect()
        try:
            for sql in queries:
                try:
                    rows = conn.execute(sql).fetchall()
                except sqlite3.OperationalError:
                    rows = []
                parts.append(";".join(",".join(str(v) for v in tuple(r)) for r in rows))
                if sql.startswith("SELECT id, state"):
                    running = [Path(project.jobs_dir) / str(r[0]) / f"run-{r[2]}" / "metrics.jsonl"
                               for r in rows if r[1] == "running"]
        finally:
            conn.close()
    except Exception:  # noqa: BLE001 - a poll never fails the page; the next one tries again
        log.exception("change token")
        parts.append("db?")
    for m in running:  # a running job's last loss moves with every step it writes
        try:
            parts.append(str(m.stat().st_size))
        except OSError:
            parts.append("0")
    import hashlib

    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
