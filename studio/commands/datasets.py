"""`studio info` and `studio query`: a dataset's overview and SQL over its catalog."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from studio.errors import StudioError

FORMATS = ("table", "csv", "json")


def _project(path: Path | None):
    """The project named with --project, else the default home if it already exists."""
    from studio.project import default_home, open_project

    if path is not None:
        from studio.commands._common import project_from

        return project_from(path)
    home = default_home()
    if (home / "studio.json").exists():
        try:
            return open_project(home, create=False)
        except StudioError:
            return None
    return None


def info_text(summary: dict) -> str:
    hours = summary["duration_s"] / 3600.0
    lines = [
        f"dataset   {summary['name']}",
        f"root      {summary['root']}",
        f"version   {summary['codebase_version']}",
        f"robot     {summary['robot_type'] or '-'}",
        f"fps       {summary['fps']:g}",
        f"episodes  {summary['total_episodes']}",
        f"frames    {summary['total_frames']}  ({summary['duration_s']:.1f} s, {hours:.2f} h)",
        f"tasks     {summary['total_tasks']}",
        "features",
    ]
    for key, ft in summary["features"].items():
        names = ft.get("names")
        if isinstance(names, dict):
            names = [x for v in names.values() if isinstance(v, list) for x in v]
        shown = ""
        if isinstance(names, list) and ft["dtype"] not in ("video", "image"):
            shown = ", ".join(str(n) for n in names[:8]) + (" …" if len(names) > 8 else "")
        lines.append(f"  {key:<34} {ft['dtype']:<8} {ft['shape']!s:<14} {shown}")
    for key, v in summary.get("videos", {}).items():
        lines.append(f"video     {key}: {v['present']} present, {v['missing']} missing")
    problems = summary["problems"]
    lines.append(f"problems  {len(problems)}" if problems else "problems  none")
    for p in problems:
        lines.append(f"  - {p['where']}: {p['what']}")
    return "\n".join(lines)


def format_result(result, fmt: str) -> str:
    df = result.df
    if fmt == "csv":
        return df.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return json.dumps(result.as_records(), indent=None, default=str)
    if df.empty:
        return "(no rows)  columns: " + ", ".join(result.columns)
    import pandas as pd

    with pd.option_context("display.max_columns", 50, "display.width", 200, "display.max_colwidth", 48):
        return df.to_string(index=False)


def register(app: typer.Typer) -> None:
    @app.command()
    def info(
        dataset: str = typer.Argument(..., help="A dataset folder or a Hugging Face repo id (owner/name)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
        project: Path | None = typer.Option(None, "--project", help="Remember the dataset in this project's recent list."),
    ) -> None:
        """Overview of a LeRobot dataset (v3.0 or v2.1) and the problems found in it."""
        from studio.datasets import open_dataset

        proj = _project(project) if project is not None else None
        ds = open_dataset(dataset, project=proj)
        summary = ds.summary()
        typer.echo(json.dumps(summary, indent=2, default=str) if as_json else info_text(summary))

    @app.command()
    def query(
        dataset: str = typer.Argument(..., help="A dataset folder or a Hugging Face repo id (owner/name)."),
        sql: str = typer.Argument(..., help="One SELECT over the views frames, episodes, tasks (and plugin views)."),
        fmt: str = typer.Option("table", "--format", help="Output format: table, csv or json."),
        limit: int = typer.Option(100, "--limit", help="Rows to print (0: all)."),
        offset: int = typer.Option(0, "--offset", help="Rows to skip first."),
        timeout: float = typer.Option(30.0, "--timeout", help="Seconds before the query is stopped."),
        project: Path | None = typer.Option(None, "--project", help="Project home (for plugin views like metrics, tags)."),
    ) -> None:
        """Run read-only SQL over a dataset's catalog and print the result."""
        if fmt not in FORMATS:
            raise StudioError("--format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        if limit < 0:
            raise StudioError("--limit", "must be 0 (all rows) or a positive number")
        from studio.datasets import open_dataset
        from studio.query import catalog_for

        proj = _project(project)
        ds = open_dataset(dataset)
        cat = catalog_for(ds, proj, materialize=False)  # one query: no in-memory copy
        result = cat.sql(sql, limit=None if limit == 0 else limit, offset=offset, timeout_s=timeout)
        typer.echo(format_result(result, fmt))
        if result.truncated:
            shown = len(result.df)
            print(f"({shown} of {result.total_rows} rows shown; use --limit/--offset for more)", file=sys.stderr)
