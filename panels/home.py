"""Home: the flywheel at a glance. Datasets with their size and problems, saved selections,
jobs with their last loss, rollout sets with success rate and interval, recent review activity
and the next suggested step, each a link into the panel that does it. The numbers come from
`studio.flywheel.overview`; the page redraws itself when the project changes."""

from __future__ import annotations

import time

from panels.registry import AppContext, Panel
from studio import flywheel


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _loss(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _table(title: str, header: str, align: str, rows: list[str], empty: str) -> list[str]:
    """One stage of the loop: its heading, then its table, or a sentence saying where to start."""
    body = [header, align, *rows] if rows else [empty]
    return ["", f"### {title}", "", *body]


def _dataset_row(d) -> str:
    if d.error:
        probs = f"⚠ does not open: {_cell(d.error)}"
    elif d.problems:
        probs = f"⚠ {len(d.problems)}: {_cell(d.problems[0])}" + (" …" if len(d.problems) > 1 else "")
    else:
        probs = "none ✓"
    return f"| [{_cell(d.name)}]({d.link}) | {d.episodes:,} | {d.frames:,} | {d.hours:.2f} | {probs} |"


def _selection_row(s) -> str:
    ds = s.dataset_path.rstrip("/").rsplit("/", 1)[-1]
    exp = "yes" if s.exported else "–"
    return (f"| [{_cell(s.label)}]({s.link}) | {s.n_episodes} | {_cell(ds)} | {exp} | "
            f"[train on it]({s.train_link}) |")


def _job_row(j) -> str:
    return (f"| [{j.id}: {_cell(j.name)}]({j.link}) | {j.state} | {j.step}/{j.total} | {_loss(j.loss)} | "
            f"{j.checkpoints} | {_cell(j.dataset)} |")


def _rollout_row(r) -> str:
    ci = "–" if r.ci_low is None else f"[{_pct(r.ci_low)}, {_pct(r.ci_high)}]"
    return f"| [{_cell(r.name)}]({r.link}) | {r.kind} | {r.n_episodes} | {_pct(r.rate)} | {ci} | {r.judged} |"


def overview_markdown(ov: flywheel.Overview) -> str:
    """The flywheel as Markdown: one table per stage of the loop, every name a link."""
    out: list[str] = []
    if ov.next_step is not None:
        out += [f"### Next step\n\n➜ [{ov.next_step.text}]({ov.next_step.link})"]
    out += _table(f"Datasets ({len(ov.datasets)})", "| dataset | episodes | frames | hours | problems |",
                  "|---|--:|--:|--:|---|", [_dataset_row(d) for d in ov.datasets],
                  "_None yet: open one in [Datasets](?panel=Datasets)._")
    out += _table(f"Saved selections ({len(ov.selections)})", "| selection | episodes | of dataset | exported | |",
                  "|---|--:|---|---|---|", [_selection_row(s) for s in ov.selections],
                  "_None yet: filter and save one in [Curate](?panel=Curate)._")
    out += _table(f"Training jobs ({len(ov.jobs)})", "| job | state | steps | last loss | checkpoints | data |",
                  "|---|---|--:|--:|--:|---|", [_job_row(j) for j in ov.jobs],
                  "_None yet: fine-tune a policy in [Train](?panel=Train)._")
    out += _table(f"Rollout sets ({len(ov.rollouts)})", "| rollout set | kind | episodes | success | 95% interval | judged |",
                  "|---|---|--:|--:|---|--:|", [_rollout_row(r) for r in ov.rollouts],
                  "_None yet: evaluate a checkpoint from [Train](?panel=Train)._")
    judged = [r for r in ov.rollouts if r.judged]
    if len(judged) >= 2:
        out.append(f"\n[Compare the two newest]({flywheel.link('Compare', a=judged[1].name, b=judged[0].name)})")

    out += ["", "### Recent review activity", ""]
    if ov.activity:
        for a in ov.activity:
            ep = f" episode {a.episode}" if a.episode is not None else ""
            target = a.target if len(a.target) < 40 else "…" + a.target[-38:]
            detail = f": {_cell(a.detail[:80])}" if a.detail else ""
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.at))
            out.append(f"- {when} · {_cell(a.author)} {a.action} [{_cell(target)}{ep}]({a.link}){detail}")
    else:
        out.append("_No reviews yet: verdicts and comments given in [Rollouts](?panel=Rollouts) show here._")
    return "\n".join(out)


def summary_markdown(ctx: AppContext) -> str:
    project = ctx.project
    lines = [f"**Project home:** `{project.home}`", ""]
    if project.is_empty():
        lines += [
            "### Welcome to Flywheel Studio",
            "",
            "This project home has no datasets yet. Flywheel Studio serves the robot-learning data "
            "flywheel: **browse** LeRobot datasets and query them with SQL, **curate** the best "
            "demonstrations, **fine-tune** policies, **roll out** checkpoints in simulation and "
            "**compare** them with honest intervals.",
            "",
            "Put a LeRobot dataset folder under `datasets/` in the project home, or open any local "
            "folder from the **Datasets** panel.",
        ]
    else:
        lines.append(overview_markdown(flywheel.overview(project)))
    failures = ctx.plugins.failures() if ctx.plugins is not None else []
    if failures:
        lines += ["", "### Plugin problems", ""] + [f"- ⚠️ {f.sentence()}" for f in failures]
    return "\n".join(lines)


def build(ctx: AppContext) -> None:
    import gradio as gr

    from panels.common import guarded

    md = gr.Markdown(summary_markdown(ctx), elem_id="home-summary")

    @guarded
    def on_change():
        return summary_markdown(ctx)

    if ctx.changes is not None:  # jobs finishing, new rollout sets, reviews: Home redraws itself
        ctx.changes.change(on_change, None, md, show_progress="hidden")
    ctx.handlers["on_load:home"] = lambda demo: demo.load(on_change, None, md, queue=False, show_progress="hidden")


PANEL = Panel(name="Home", build=build, order=0, description="The flywheel at a glance")
