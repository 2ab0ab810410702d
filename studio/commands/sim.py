"""`studio demo` (build the demo world) and `studio eval` (roll a policy out in simulation)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from studio.commands._common import ProjectOption, project_from


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        project: Optional[Path] = ProjectOption,
        episodes: int = typer.Option(150, "--episodes", help="Number of demonstrations."),
        seed: int = typer.Option(0, "--seed", help="Seed of the scene and operator randomness."),
        cameras: bool = typer.Option(False, "--cameras/--no-cameras", help="Also record low-resolution camera videos (slow)."),
        workers: Optional[int] = typer.Option(None, "--workers", help="Simulation worker processes (default: CPU count)."),
    ) -> None:
        """Build the pick-cube demo world (scripted operators of known skill) in the project home."""
        from studio.demo import build_demo_world, is_built, labels_path
        from studio.sim.progress import TerminalProgress

        proj = project_from(project)
        if is_built(proj):
            typer.echo(f"demo world already built: {proj.datasets_dir / 'pick_cube_demos'}")
            return
        root = build_demo_world(proj, episodes=episodes, seed=seed, cameras=cameras, workers=workers,
                                progress=TerminalProgress("building demo world"))
        typer.echo(f"demo world: {root}")
        typer.echo(f"ground truth: {labels_path(proj)}")

    @app.command(name="eval")
    def eval_(
        policy: str = typer.Argument(..., help="scripted:<profile> (expert, careful, novice, distracted) or a lerobot checkpoint directory."),
        env: str = typer.Option("pick_cube", "--env", help="Simulated environment."),
        episodes: int = typer.Option(10, "--episodes", help="Number of rollouts (seeds SEED..SEED+N-1)."),
        workers: int = typer.Option(1, "--workers", help="Worker processes."),
        seed: int = typer.Option(0, "--seed", help="First seed."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: <home>/rollouts/<name>)."),
        project: Optional[Path] = ProjectOption,
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Step limit per episode (default: the env's)."),
    ) -> None:
        """Roll a policy out in simulation; writes a rollout set (LeRobot dataset + summary.json)."""
        from studio.sim.policies import resolve_policy
        from studio.sim.progress import TerminalProgress
        from studio.sim.rollout import default_out, load_rollout, run_rollouts

        proj = project_from(project)
        ref = resolve_policy(policy)
        target = out if out is not None else default_out(proj.rollouts_dir, ref.label, env, seed, episodes)
        path = run_rollouts(policy, env=env, episodes=episodes, workers=workers, seed=seed, out=target,
                            progress=TerminalProgress("rolling out"), max_steps=max_steps)
        s = load_rollout(path).summary
        typer.echo(f"rollouts: {path}")
        typer.echo(f"success {s['success_rate']:.0%} ({sum(e['success'] for e in s['episodes'])}/{s['n_episodes']}), "
                   f"mean progress {s['mean_progress']:.2f}")
