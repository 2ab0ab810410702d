"""`studio compare A B`: is rollout set B better than A? `studio plugins`: what is loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption


def _project_for(project: Optional[Path]):
    """The project when one is named, needed to resolve a set name, or present (for reviews)."""
    from studio.commands._common import project_from
    from studio.errors import ProjectError
    from studio.project import default_home, open_project

    if project is not None:
        return project_from(project)
    try:  # never create a project home just to compare two folders
        proj = open_project(default_home(), create=False)
    except ProjectError:
        return None
    return project_from(proj.home)


def register(app: typer.Typer) -> None:
    @app.command()
    def compare(
        rollouts_a: str = typer.Argument(..., metavar="ROLLOUTS_A",
                                         help="Baseline rollout set: a folder with summary.json or a name under <project>/rollouts/."),
        rollouts_b: str = typer.Argument(..., metavar="ROLLOUTS_B", help="Challenger rollout set."),
        as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Compare two rollout sets: every metric with its 95% interval, and a verdict."""
        from studio.compare import compare_paths
        from studio.plugins import host

        proj = _project_for(project)
        comp = compare_paths([rollouts_a, rollouts_b], proj)
        for sentence in comp.warnings:  # before the numbers, so nobody reads them without it
            typer.echo(f"warning: {sentence}", err=True)
        if as_json:
            typer.echo(json.dumps(comp.to_json(), indent=2, ensure_ascii=False))
            return
        a, b = comp.sets
        typer.echo(f"A: {a.label}  ({a.n} rollouts, {a.root})")
        typer.echo(f"B: {b.label}  ({b.n} rollouts, {b.root})")
        typer.echo("")
        width = max([len(r.metric.name) for r in comp.rows] + [6])
        for row in comp.rows:
            m, v = row.metric, row.verdicts[1]
            arrow = "↑" if m.direction == "higher" else "↓"
            typer.echo(f"{m.name:<{width}} {arrow}  A {m.format(row.estimates[0]):<22} B {m.format(row.estimates[1]):<22} "
                       f"{v.text if v else ''}" + (f" (p={v.p_value:.3g})" if v and v.p_value is not None else ""))
        grid = comp.grids[0]
        if grid:
            kinds = [g.kind for g in grid]
            typer.echo("")
            typer.echo(f"shared seeds: {len(grid)} — both succeed {kinds.count('both')}, only A {kinds.count('only A')}, "
                       f"only B {kinds.count('only B')}, neither {kinds.count('neither')}")
        typer.echo("")
        typer.echo(f"verdict: {comp.headline(1)}")
        for sentence in comp.skipped + [f.sentence() for f in host().failures()
                                        if f.sentence() not in comp.skipped]:
            typer.echo(f"warning: {sentence}", err=True)

    @app.command()
    def plugins(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
        """List the loaded plugins (entry-point group flywheel_studio) and the ones disabled."""
        from studio.plugins import host

        h = host()
        loaded, failed = h.plugins(), h.failures()
        if as_json:
            typer.echo(json.dumps({
                "loaded": [{"name": p.name, "module": p.module, "distribution": p.distribution,
                            "version": p.version, "hooks": list(p.hooks)} for p in loaded],
                "failed": [{"name": f.plugin, "what": f.what} for f in failed],
            }, indent=2))
            return
        typer.echo(f"loaded ({len(loaded)}):")
        rows = [(p.name, p.module, f"{p.distribution} {p.version}".strip(), ", ".join(p.hooks)) for p in loaded]
        widths = [max([len(r[i]) for r in rows] + [0]) for i in range(3)]
        for r in rows:
            typer.echo("  " + "  ".join(f"{c:<{w}}" for c, w in zip(r[:3], widths)) + "  " + r[3])
        if failed:
            typer.echo(f"disabled ({len(failed)}):")
            for f in failed:
                typer.echo(f"  {f.sentence()}")
