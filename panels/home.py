"""Home: what this project holds, a welcome for an empty one, and plugin messages."""

from __future__ import annotations

from panels.registry import AppContext, Panel


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
        names = sorted(p.name for p in project.datasets_dir.iterdir() if p.is_dir())
        lines += ["### Datasets in this project", ""] + [f"- `{n}`" for n in names]
    failures = ctx.plugins.failures() if ctx.plugins is not None else []
    if failures:
        lines += ["", "### Plugin problems", ""] + [f"- ⚠️ {f.sentence()}" for f in failures]
    return "\n".join(lines)


def build(ctx: AppContext) -> None:
    import gradio as gr

    md = gr.Markdown(summary_markdown(ctx), elem_id="home-summary")
    refresh = gr.Button("Refresh", size="sm")
    refresh.click(lambda: summary_markdown(ctx), None, md)


PANEL = Panel(name="Home", build=build, order=0, description="Project overview")
