"""`studio rrd`: episodes → a Rerun .rrd file; `studio rollouts …`: register real-robot
rollouts of a checkpoint, list sets and episodes, give verdicts and comments."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer

from studio.commands._common import ProjectOption
from studio.errors import StudioError


def _project(path: Optional[Path], *, create: bool = True):
    from studio.commands._common import project_from
    from studio.errors import ProjectError
    from studio.project import default_home, open_project

    if path is not None or create:
        return project_from(path)
    try:  # `studio rrd` on a folder needs no project home; never create one for it
        return project_from(open_project(default_home(), create=False).home)
    except ProjectError:
        return None


def _resolve_dataset(ref: str, project) -> str:
    """A dataset folder, or the name of a rollout set in the project."""
    if Path(ref).expanduser().exists() or project is None:
        return str(Path(ref).expanduser())
    from studio import review

    try:
        return str(review.get_rollout_set(project, ref).path)
    except StudioError:
        return ref  # open_dataset names the problem (missing folder / Hub id offline)


def _parse_with(spec: str, project):
    """PATH:EPISODE or PATH:EPISODE:LABEL → an EpisodeSource."""
    from studio.playback import EpisodeSource

    parts = spec.rsplit(":", 1)
    label = None
    if len(parts) == 2 and not parts[1].strip().isdigit():
        label, parts = parts[1], parts[0].rsplit(":", 1)
    if len(parts) != 2 or not parts[1].strip().isdigit() or not parts[0]:
        raise StudioError("--with", f"{spec!r} is not PATH:EPISODE[:LABEL]")
    return EpisodeSource(_resolve_dataset(parts[0], project), int(parts[1]), label)


def register(app: typer.Typer) -> None:
    @app.command()
    def rrd(
        path: str = typer.Argument(..., metavar="PATH", help="Dataset folder (or a rollout set name in the project)."),
        episode: List[int] = typer.Option(..., "--episode", "-e", help="Episode index; repeat for side by side."),
        out: Path = typer.Option(..., "--out", "-o", help="The .rrd file to write."),
        label: List[str] = typer.Option([], "--label", help="Entity prefix per --episode (default episode_K)."),
        other: List[str] = typer.Option(
            [], "--with", metavar="PATH:EPISODE[:LABEL]",
            help="Add an episode of another dataset side by side (e.g. a rollout of another checkpoint)."),
        video_mode: str = typer.Option("auto", "--video", help="auto | file | segment: embed whole mp4s or only the episode's packets."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Write episodes of a dataset to a Rerun .rrd file (open it with `rerun FILE.rrd`)."""
        from studio.playback import EpisodeSource, write_recording

        if out.suffix != ".rrd":
            raise StudioError("--out", f"{out} must end in .rrd")
        if label and len(label) != len(episode):
            raise StudioError("--label", f"give one label per --episode ({len(episode)}), or none")
        proj = _project(project, create=False)
        root = _resolve_dataset(path, proj)
        sources = [EpisodeSource(root, ep, label[i] if label else None) for i, ep in enumerate(episode)]
        for spec in other:
            sources.append(_parse_with(spec, proj))
        rec = write_recording(sources, out, video_mode=video_mode)
        size = out.stat().st_size
        typer.echo(f"wrote {out} ({size / 1e6:.2f} MB, {len(rec.episodes)} episode(s), {rec.seconds:.2f} s)")
        for e in rec.episodes:
            typer.echo(f"  /{e.label}: episode {e.episode}, {e.frames} frames, {len(e.cameras)} camera(s)"
                       + (", 3D scene" if e.scene else "") + (f", {e.outcome}" if e.outcome else ""))
            for note in e.notes:
                typer.echo(f"  note: {note}")

    rollouts = typer.Typer(help="Rollout sets: register real-robot rollouts, review episodes.", no_args_is_help=True)
    app.add_typer(rollouts, name="rollouts")

    @rollouts.command("register")
    def register_cmd(
        path: Path = typer.Argument(..., help="LeRobot dataset recorded while the policy ran (lerobot-record)."),
        checkpoint: str = typer.Option(..., "--checkpoint", "-c", help="The checkpoint whose policy ran."),
        name: Optional[str] = typer.Option(None, "--name", help="Rollout set name (default: folder name)."),
        kind: str = typer.Option("real", "--kind", help="real | sim | dataset"),
        notes: str = typer.Option("", "--notes"),
        replace: bool = typer.Option(False, "--replace", help="Replace a set registered under the same name."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Register a dataset as the rollouts of a checkpoint."""
        from studio import review

        rs = review.register_rollouts(_project(project), path, checkpoint=checkpoint, name=name, kind=kind,
                                      notes=notes, replace=replace)
        typer.echo(f"registered {rs.name}: {rs.n_episodes} {rs.kind} rollouts of {rs.checkpoint} ({rs.path})")

    @rollouts.command("list")
    def list_cmd(
        as_json: bool = typer.Option(False, "--json"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Rollout sets in the project (registered and simulated)."""
        from studio import review

        sets = review.list_rollout_sets(_project(project))
        if as_json:
            typer.echo(json.dumps([{**s.__dict__, "path": str(s.path)} for s in sets], indent=2))
            return
        if not sets:
            typer.echo("no rollout sets (register one with `studio rollouts register PATH --checkpoint NAME`)")
        for s in sets:
            typer.echo(f"{s.name:<24} {s.kind:<5} {s.n_episodes:>5} episodes  checkpoint {s.checkpoint}  {s.path}")

    @rollouts.command("episodes")
    def episodes_cmd(
        name: str = typer.Argument(..., help="Rollout set name or dataset folder."),
        as_json: bool = typer.Option(False, "--json"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Episodes of a rollout set with outcome, verdict and comment count."""
        from studio import review

        rows = review.episode_rows(_project(project), name)
        if as_json:
            typer.echo(json.dumps([r.__dict__ for r in rows], indent=2))
            return
        typer.echo(f"{'episode':>7} {'length':>6} {'seed':>6} {'outcome':>8} {'progress':>8} {'verdict':>14} {'comments':>8}")
        for r in rows:
            outcome = "" if r.success is None else ("success" if r.success else "fail")
            prog = "" if r.progress is None else f"{100 * r.progress:.0f}%"
            verdict = r.verdict or ""
            if r.verdict == "partial":
                verdict += f" {r.verdict_progress:g}%"
            typer.echo(f"{r.episode_index:>7} {r.length or '':>6} {'' if r.seed is None else r.seed:>6} {outcome:>8} "
                       f"{prog:>8} {verdict:>14} {r.n_comments:>8}")

    @rollouts.command("verdict")
    def verdict_cmd(
        name: str = typer.Argument(..., help="Rollout set name or dataset folder."),
        episode: int = typer.Argument(...),
        verdict: str = typer.Argument(..., help="success | partial | fail"),
        progress: Optional[float] = typer.Option(None, "--progress", help="Percent of the task done (partial)."),
        comment: Optional[str] = typer.Option(None, "--comment", "-m"),
        author: Optional[str] = typer.Option(None, "--author", help="Reviewer (default: $STUDIO_USER / $USER)."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Give an episode a verdict (one per reviewer; the latest counts)."""
        from studio import review

        v = review.set_verdict(_project(project), name, episode, verdict, progress=progress, author=author,
                               comment=comment)
        typer.echo(f"{v.target} episode {v.episode_index}: {v.verdict} ({v.progress:g}%) by {v.author}")

    @rollouts.command("comment")
    def comment_cmd(
        name: str = typer.Argument(..., help="Rollout set name or dataset folder."),
        episode: int = typer.Argument(...),
        body: str = typer.Argument(..., help="The comment text."),
        author: Optional[str] = typer.Option(None, "--author"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Comment on an episode."""
        from studio import review

        c = review.add_comment(_project(project), name, episode, author, body)
        typer.echo(f"comment #{c.id} on {c.target} episode {c.episode_index} by {c.author}")

    @rollouts.command("comments")
    def comments_cmd(
        name: str = typer.Argument(...),
        episode: Optional[int] = typer.Option(None, "--episode", "-e"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Comments on a rollout set (optionally one episode), oldest first."""
        from studio import review

        for c in review.list_comments(_project(project), name, episode):
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.at))
            typer.echo(f"[{stamp}] episode {c.episode_index} · {c.author}: {c.body}")

    @rollouts.command("activity")
    def activity_cmd(
        limit: int = typer.Option(20, "--limit", "-n"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Recent review activity, newest first."""
        from studio import review

        for a in review.activity(_project(project), limit):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.at))
            ep = f" episode {a.episode_index}" if a.episode_index is not None else ""
            typer.echo(f"[{stamp}] {a.author} {a.action} {a.target}{ep}" + (f": {a.detail}" if a.detail else ""))
