"""`studio metrics`, `studio export`, `studio tag`, `studio selections …`: curation from the shell."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List, Optional

import typer

from studio.commands._common import ProjectOption, project_from
from studio.errors import StudioError


def _open(path: str, project):
    from studio.datasets import open_dataset

    return open_dataset(path, project=project)


def _episodes_arg(text: str) -> list[int]:
    from studio.curation.selections import parse_episode_ranges

    return parse_episode_ranges(text, "--episodes")


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def register(app: typer.Typer) -> None:
    @app.command()
    def metrics(
        path: str = typer.Argument(..., help="LeRobot dataset folder (or Hub repo id)."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one record per episode."),
        action: Optional[str] = typer.Option(None, "--action", help="Feature used as the command (default: action)."),
        state: Optional[str] = typer.Option(None, "--state", help="Feature used as the motion (default: observation.state)."),
        weight: List[str] = typer.Option([], "--weight", help="Metric weight in quality_score, e.g. jerk=2 (repeatable)."),
        labels: Optional[Path] = typer.Option(None, "--labels", help="CSV with episode_index and good (0/1): report each "
                                              "metric's, the score's and the -length baseline's AUROC with 95% intervals."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Per-episode quality metrics and the composite quality_score (and its check against labels)."""
        from studio.curation.metrics import registered_metrics
        from studio.curation.score import parse_weights
        from studio.curation.validation import check_score, read_labels

        proj = project_from(project)
        ds = _open(path, proj)
        lab = read_labels(labels) if labels is not None else None
        weights = parse_weights(weight, [m.name for m in registered_metrics()])
        sm, val, rho = check_score(ds, proj, lab, weights=weights, command=action, motion=state)
        df = sm.df
        if as_json:
            records = [{k: _clean(v) for k, v in rec.items()} for rec in df.to_dict(orient="records")]
            for rec in records:
                rec["episode_index"] = int(rec["episode_index"])
            if val is None:
                typer.echo(json.dumps(records))
            else:
                rows = [{k: _clean(v) for k, v in r.items()} for r in val.rows]
                typer.echo(json.dumps({"episodes": records, "validation": rows,
                                       "spearman_score_duration": _clean(rho)}))
            return
        typer.echo(f"{ds.name}: {len(df)} episodes · command '{sm.command_key}' · motion '{sm.motion_key}'")
        for name, m in sm.metrics.items():
            typer.echo(f"  {name:<18} {'↑' if m.direction == 'higher' else '↓'} w={sm.weights.get(name, 0):g}  {m.doc}")
        for feature, dims in (sm.dropped or {}).items():
            for dim, why in dims.items():
                typer.echo(f"  left out of the motion metrics: {feature} '{dim}': {why}")
        typer.echo(df.round(4).to_string(index=False))
        if math.isfinite(rho):
            typer.echo(f"Spearman(quality_score, duration_s) = {rho:.3f}"
                       + ("  (|ρ| > 0.5: the score mostly ranks by length)" if abs(rho) > 0.5 else ""))
        else:
            typer.echo("Spearman(quality_score, duration_s) = n/a (durations or scores are all equal)")
        if val is not None:
            typer.echo(f"validation against {labels} ({val.n_pos} good, {val.n_neg} bad; score without label-derived terms):")
            for r in val.rows:
                typer.echo(f"  {r['metric']:<18} AUROC {r['auroc']:.3f}  95% CI [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                           f"  ({r['n_pos']} good / {r['n_neg']} bad)")
            if val.unknown:
                typer.echo(f"  note: {len(val.unknown)} labelled episode(s) not in the dataset, e.g. {val.unknown[:5]}")

    @app.command()
    def export(
        path: Optional[str] = typer.Argument(None, help="LeRobot dataset folder (not needed with --selection)."),
        where: str = typer.Option("", "--where", help="SQL predicate over episodes/metrics/tags, e.g. \"jerk < 5 AND list_contains(tags, 'good')\"."),
        out: Optional[Path] = typer.Option(None, "--out", help="Target folder (must not exist)."),
        selection: Optional[str] = typer.Option(None, "--selection", help="Export a saved selection instead."),
        revision: Optional[int] = typer.Option(None, "--revision", help="Selection revision (default: latest)."),
        episodes: str = typer.Option("", "--episodes", help="Extra episodes to include, e.g. 1,4,10-12."),
        exclude: str = typer.Option("", "--exclude", help="Episodes to leave out, e.g. 3,7."),
        videos: str = typer.Option("cut", "--videos", help="cut: re-encode files shared with dropped episodes; copy: copy whole files."),
        episode_list: bool = typer.Option(False, "--episode-list", help="Write a JSON episode list for `lerobot-train --dataset.episodes` instead of a dataset."),
        fmt: str = typer.Option("lerobot", "--format", help="Export format: lerobot, episode-list, or one a plugin adds."),
        push: Optional[str] = typer.Option(None, "--push-to-hub", help="Also upload the export to this Hub dataset repo id."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Export the episodes matching a predicate (or a saved selection) as a new LeRobot v3.0 dataset."""
        from studio.curation import export as ex
        from studio.curation import selections as sel_mod

        proj = project_from(project)
        sel = None
        if selection:
            sel = sel_mod.get_selection(proj, selection, revision)
            ds = _open(sel.dataset_path, proj)
            res = sel_mod.resolve_selection(sel, ds, proj)
        else:
            if not path:
                raise StudioError("export", "give a dataset PATH (with --where) or --selection NAME")
            ds = _open(path, proj)
            res = sel_mod.resolve(ds, proj, predicate=where, includes=_episodes_arg(episodes), excludes=_episodes_arg(exclude))
        if episode_list:
            fmt = "episode-list"
        exporter = ex.get_exporter(fmt)
        episode_list = fmt == "episode-list"
        if out is None:
            if sel is None:
                raise StudioError("--out", "is required (the folder to write the new dataset to)")
            out = Path(proj.selections_dir) / (sel.label + (".json" if episode_list else ""))
        typer.echo(f"selected {res.sentence()}")
        if episode_list:
            target = ex.write_episode_list(out, ds, res.episodes, sel)
            typer.echo(f"wrote {target}")
            typer.echo(f"lerobot-train {ex.episode_list_args(ds.root, res.episodes)}")
            return
        last = [-1]

        def progress(frac: float, msg: str) -> None:
            pct = int(frac * 100)
            if pct // 10 != last[0] // 10:
                typer.echo(f"  {pct:3d}% {msg}", err=True)
                last[0] = pct

        if fmt == "lerobot":
            target = ex.export_episodes(ds, res.episodes, out, selection=sel, predicate=where or None,
                                        videos=videos, progress=progress,
                                        extra_provenance={"feature_map": ex._confirmed_map(proj, ds)})
        else:
            target = exporter.fn(ds, list(res.episodes), out, selection=sel, predicate=where or None, progress=progress)
        typer.echo(f"exported {len(res.episodes)} episodes to {target} ({fmt})")
        if push:
            url = ex.push_to_hub(target, push)
            typer.echo(f"pushed to {url}")

    @app.command()
    def tag(
        path: str = typer.Argument(..., help="LeRobot dataset folder."),
        tag_name: str = typer.Argument(..., metavar="TAG", help="good, bad or any short word."),
        episodes: str = typer.Option("", "--episodes", help="Episodes, e.g. 1,4,10-12."),
        where: str = typer.Option("", "--where", help="Tag every episode matching this SQL predicate."),
        remove: bool = typer.Option(False, "--remove", help="Remove the tag instead."),
        author: str = typer.Option("", "--author", help="Who tags."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Tag (or untag) episodes in bulk, by list or by predicate."""
        from studio.curation import selections as sel_mod
        from studio.curation import tags as tags_mod

        proj = project_from(project)
        ds = _open(path, proj)
        eps = _episodes_arg(episodes)
        if where:
            eps += list(sel_mod.resolve(ds, proj, predicate=where).episodes)
        if not eps:
            raise StudioError("tag", "no episodes: give --episodes or a --where that matches some")
        if remove:
            n = tags_mod.remove_tags(proj, ds, eps, tag_name)
            typer.echo(f"removed '{tag_name}' from {n} episode(s)")
        else:
            n = tags_mod.add_tags(proj, ds, eps, tag_name, author=author)
            typer.echo(f"tagged {n} episode(s) '{tag_name}' ({len(set(eps)) - n} already were)")

    sel_app = typer.Typer(help="Saved, revisioned selections of episodes.", no_args_is_help=True)
    app.add_typer(sel_app, name="selections")

    @sel_app.command("save")
    def sel_save(
        name: str = typer.Argument(..., help="Selection name (saving again adds a revision)."),
        path: str = typer.Argument(..., help="LeRobot dataset folder."),
        where: str = typer.Option("", "--where", help="SQL predicate over episodes/metrics/tags."),
        include: str = typer.Option("", "--include", help="Episodes always included, e.g. 1,4."),
        exclude: str = typer.Option("", "--exclude", help="Episodes always excluded."),
        tag: List[str] = typer.Option([], "--tag", help="Keep only episodes carrying this tag (repeatable)."),
        note: str = typer.Option("", "--note", help="A note kept with the revision."),
        author: str = typer.Option("", "--author", help="Who saves it."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Save a new revision of a selection."""
        from studio.curation import selections as sel_mod

        proj = project_from(project)
        ds = _open(path, proj)
        sel = sel_mod.save_selection(proj, name, ds, predicate=where, includes=_episodes_arg(include),
                                     excludes=_episodes_arg(exclude), tags=tag, note=note, author=author)
        typer.echo(f"saved {sel.label}: {sel.n_episodes} episodes")

    @sel_app.command("list")
    def sel_list(
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """The latest revision of every selection."""
        from studio.curation import selections as sel_mod

        sels = sel_mod.list_selections(project_from(project))
        if as_json:
            typer.echo(json.dumps([s.as_dict() for s in sels]))
            return
        if not sels:
            typer.echo("no selections yet (save one with `studio selections save NAME PATH --where ...`)")
        for s in sels:
            typer.echo(f"{s.label:<28} {s.n_episodes:>6} episodes  {s.dataset_path}  {s.predicate or '(all)'}")

    @sel_app.command("show")
    def sel_show(
        name: str = typer.Argument(...),
        revision: Optional[int] = typer.Option(None, "--revision", help="Default: every revision."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """A selection's revisions as JSON (one revision with --revision)."""
        from studio.curation import selections as sel_mod

        proj = project_from(project)
        if revision is not None:
            typer.echo(json.dumps(sel_mod.get_selection(proj, name, revision).as_dict(), indent=2))
        else:
            typer.echo(json.dumps([s.as_dict() for s in sel_mod.history(proj, name)], indent=2))
