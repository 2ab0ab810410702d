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


def overview_markdown(ov: flywheel.Overview) -> str:
    """The flywheel as Markdown: one table per stage of the loop, every name a link."""
    out: list[str] = []
    if ov.next_step is not None:
        out += [f"### Next step\n\n➜ [{ov.next_step.text}]({ov.next_step.link})", ""]

    out += [f"### Datasets ({len(ov.datasets)})", ""]
    if ov.datasets:
        out += ["| dataset | episodes | frames | hours | problems |", "|---|--:|--:|--:|---|"]
        for d in ov.datasets:
            if d.error:
                probs = f"⚠ does not open: {_cell(d.error)}"
            elif d.problems:
                probs = f"⚠ {len(d.problems)}: {_cell(d.problems[0])}" + (" …" if len(d.problems) > 1 else "")
            else:
                probs = "none ✓"
            out.append(f"| [{_cell(d.name)}]({d.link}) | {d.episodes:,} | {d.frames:,} | {d.hours:.2f} | {probs} |")
    else:
        out.append("_None yet: open one in [Datasets](?panel=Datasets)._")

    out += ["", f"### Saved selections ({len(ov.selections)})", ""]
    if ov.selections:
        out += ["| selection | episodes | of dataset | exported | |", "|---|--:|---|---|---|"]
        for s in ov.selections:
            ds = s.dataset_path.rstrip("/").rsplit("/", 1)[-1]
            exp = "yes" if s.exported else "–"
            out.append(f"| [{_cell(s.label)}]({s.link}) | {s.n_episodes} | {_cell(ds)} | {exp} | "
                       f"[train on it]({s.train_link}) |")
    else:
        out.append("_None yet: filter and save one in [Curate](?panel=Curate)._")

    out += ["", f"### Training jobs ({len(ov.jobs)})", ""]
    if ov.jobs:
        out += ["| job | state | steps | last loss | checkpoints | data |", "|---|---|--:|--:|--:|---|"]
        for j in ov.jobs:
            out.append(f"| [{j.id}: {_cell(j.name)}]({j.link}) | {j.state} | {j.step}/{j.total} | {_loss(j.loss)} | "
                       f"{j.checkpoints} | {_cell(j.dataset)} |")
    else:
        out.append("_None yet: fine-tune a policy in [Train](?panel=Train)._")

    out += ["", f"### Rollout sets ({len(ov.rollouts)})", ""]
    if ov.rollouts:
        out += ["| rollout set | kind | episodes | success | 95% interval | judged |", "|---|---|--:|--:|---|--:|"]
        for r in ov.rollouts:
            ci = "–" if r.ci_low is None else f"[{_pct(r.ci_low)}, {_pct(r.ci_high)}]"
            out.append(f"| [{_cell(r.name)}]({r.link}) | {r.kind} | {r.n_episodes} | {_pct(r.rate)} | {ci} | "
                       f"{r.judged} |")
        judged = [r for r in ov.rollouts if r.judged]
        if len(judged) >= 2:
            out.append(f"\n[Compare the two newest]({flywheel.link('Compare', a=judged[1].name, b=judged[0].name)})")
    else:
        out.append("_None yet: evaluate a checkpoint from [Train](?panel=Train)._")

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
