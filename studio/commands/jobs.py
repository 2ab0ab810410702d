"""`studio train` and `studio jobs …`: queue, watch and steer training jobs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer

from studio.commands._common import ProjectOption, project_from
from studio.errors import JobError


def _fmt_eta(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _line(job) -> str:
    from studio.jobs import progress

    p = progress(job)
    loss = f"{p.loss:.4f}" if p.loss is not None else "-"
    stage = f" stage {job.stage}" if job.stage else ""
    return (f"job {job.id}{stage} [{job.state}] {job.name}: step {p.step}/{p.total} loss {loss} "
            f"eta {_fmt_eta(p.eta_s)}")


def _wait_and_report(project, ids: list[int]) -> int:
    from studio.jobs import SUCCEEDED, Supervisor, wait

    last: dict[int, tuple] = {}
    last_print = [0.0]

    def on_tick(jobs) -> None:
        now = time.time()
        for j in jobs:
            from studio.jobs import progress

            key = (j.state, progress(j).step)
            if last.get(j.id) != key and (now - last_print[0] > 2 or j.state != last.get(j.id, (None,))[0]):
                typer.echo(_line(j))
                last[j.id] = key
                last_print[0] = now

    sup = Supervisor(project)
    try:
        jobs = wait(project, ids, supervisor=sup, on_tick=on_tick)
    except KeyboardInterrupt:
        typer.echo("stopped watching; running jobs keep running (see `studio jobs list`)", err=True)
        return 130
    for j in jobs:
        typer.echo(_line(j) + (f" — {j.error}" if j.error else ""))
    return 0 if all(j.state == SUCCEEDED for j in jobs) else 1


def register(app: typer.Typer) -> None:
    @app.command()
    def train(
        dataset: str = typer.Argument(..., metavar="DATASET_OR_SELECTION",
                                      help="A LeRobot dataset folder, a dataset under the project's datasets/, "
                                           "or a saved selection name (exported on demand)."),
        policy: str = typer.Option("act", help="act, diffusion, smolvla, pi0, pi05, groot."),
        steps: int = typer.Option(2000, help="Training steps."),
        batch_size: int = typer.Option(8, "--batch-size", help="Batch size."),
        lr: Optional[float] = typer.Option(None, help="Learning rate (default: the studio preset)."),
        device: str = typer.Option("cpu", help="cpu, cuda, cuda:N, mps or auto."),
        seed: int = typer.Option(1000, help="Seed."),
        save_freq: Optional[int] = typer.Option(None, "--save-freq", help="Checkpoint every N steps (default steps/4)."),
        from_: Optional[Path] = typer.Option(None, "--from", help="Start from this checkpoint: a pretrained_model "
                                             "folder, a checkpoint step folder or a lerobot-train output folder."),
        fmap: Optional[str] = typer.Option(None, "--map", metavar="KEY=TARGET[,…]",
                                           help="Feature map overrides, e.g. actions=action,state=observation.state "
                                                "(KEY=- leaves a feature out); saved for the dataset."),
        cameras: Optional[str] = typer.Option(None, "--cameras", metavar="KEY[,KEY]|all|none",
                                              help="Cameras to train on (default: every declared camera)."),
        image_size: Optional[int] = typer.Option(None, "--image-size", metavar="N",
                                                 help="Resize camera frames to N px on the shorter side."),
        episodes: Optional[str] = typer.Option(None, "--episodes", metavar="RANGE",
                                               help="Train on these episodes only, e.g. 0-9,12."),
        push_to_hub: Optional[str] = typer.Option(None, "--push-to-hub", metavar="OWNER/NAME",
                                                  help="Push the trained policy to this Hub repo (needs the Hub)."),
        preview: bool = typer.Option(False, "--preview", help="Print the lerobot-train command; queue nothing."),
        resume: bool = typer.Option(False, "--resume", help="With --from RUN: continue that lerobot-train run "
                                                           "(optimizer and step included) up to --steps."),
        then: Optional[str] = typer.Option(None, "--then", metavar="SELECTION",
                                           help="Pre-train → post-train: after this job, post-train on SELECTION "
                                                "starting from its final checkpoint."),
        then_steps: Optional[int] = typer.Option(None, "--then-steps", help="Post-train steps (default steps/2)."),
        backend: str = typer.Option("local", help="local or ray (cluster address: setting ray.address)."),
        wait_: bool = typer.Option(False, "--wait", help="Stay and drive the queue until the job ends."),
        as_json: bool = typer.Option(False, "--json", help="Print the queued job(s) as JSON."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Queue a training job (real lerobot training in its own process)."""
        from studio.jobs import Supervisor, job_summary, submit, submit_pretrain_posttrain, validate

        proj = project_from(project)
        if then:
            if fmap or cameras or image_size or episodes or push_to_hub:
                raise JobError("--then", "cannot be combined with --map, --cameras, --image-size, --episodes "
                                         "or --push-to-hub yet; queue the two stages as separate jobs")
            if from_:
                raise JobError("--from", "cannot be combined with --then (stage 2 starts from stage 1)")
            pipe = submit_pretrain_posttrain(
                proj, pretrain=dataset, posttrain=then, policy=policy, pretrain_steps=steps,
                posttrain_steps=then_steps or max(1, steps // 2), batch_size=batch_size, lr=lr, device=device,
                seed=seed, save_freq=save_freq, backend=backend)
            jobs = list(pipe.jobs)
            typer.echo(f"pipeline {pipe.id}: {pipe.name}")
        else:
            spec = validate(proj, dataset=dataset, policy=policy, steps=steps, batch_size=batch_size, lr=lr,
                            device=device, seed=seed, save_freq=save_freq,
                            init_from=str(from_) if from_ else None, feature_map=fmap, cameras=cameras,
                            episodes=episodes, image_size=image_size, push_to_hub=push_to_hub, resume=resume)
            if preview:
                from studio.jobs.spec import preview as preview_text

                typer.echo(preview_text(spec))
                return
            jobs = [submit(proj, spec, backend=backend)]
        Supervisor(proj).tick()  # start it now if a slot is free; the trainer outlives this command
        from studio.jobs import get_job

        jobs = [get_job(proj, j.id) for j in jobs]
        if as_json:
            typer.echo(json.dumps([job_summary(j) for j in jobs], indent=2, default=str))
        else:
            for j in jobs:
                typer.echo(f"job {j.id} {j.state}: {j.name} (folder {j.folder})")
        if wait_:
            raise typer.Exit(_wait_and_report(proj, [j.id for j in jobs]))
        if any(j.state == "queued" for j in jobs):
            typer.echo("queued jobs start when a slot frees up while the studio runs "
                       "(`studio launch`, or `studio jobs wait ID`)")

    jobs_app = typer.Typer(help="List, inspect, cancel, resume and retry training jobs.", no_args_is_help=True)
    app.add_typer(jobs_app, name="jobs")

    @jobs_app.command("list")
    def list_(
        all_: bool = typer.Option(False, "--all", help="Include finished jobs older than the last 20."),
        as_json: bool = typer.Option(False, "--json"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Jobs, newest first (running jobs are re-checked against their processes)."""
        from studio.jobs import job_summary, list_jobs, reconcile

        proj = project_from(project)
        reconcile(proj)
        jobs = list_jobs(proj, limit=None if all_ else 20)
        if as_json:
            typer.echo(json.dumps([job_summary(j) for j in jobs], indent=2, default=str))
            return
        if not jobs:
            typer.echo("no jobs yet; start one with `studio train DATASET`")
        for j in jobs:
            typer.echo(_line(j))

    @jobs_app.command()
    def show(
        job_id: int = typer.Argument(..., metavar="ID"),
        lines: int = typer.Option(15, help="Log lines to show."),
        as_json: bool = typer.Option(False, "--json"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """One job: state, progress, checkpoints and the end of its log."""
        from studio.jobs import get_job, job_summary, reconcile, sync_job, tail

        proj = project_from(project)
        reconcile(proj)
        job = get_job(proj, job_id)
        cks = sync_job(proj, job)
        if as_json:
            d = job_summary(job)
            d["spec"] = job.spec
            d["checkpoints"] = [{"id": c.id, "step": c.step, "loss": c.loss, "path": c.path, "attempt": c.attempt}
                                for c in cks]
            typer.echo(json.dumps(d, indent=2, default=str))
            return
        typer.echo(_line(job))
        if job.error:
            typer.echo(f"  note: {job.error}")
        s = job.spec
        typer.echo(f"  policy {s.get('policy')} · dataset {s.get('dataset')}"
                   + (f" (selection {s['selection']})" if s.get("selection") else "")
                   + f" · batch {s.get('batch_size')} · device {s.get('device')} · backend {job.backend}")
        typer.echo(f"  folder {job.folder} · attempt {job.attempt} · resumes {job.resumes}")
        if cks:
            typer.echo("  checkpoints:")
            for c in cks:
                typer.echo(f"    #{c.id} step {c.step} loss {c.loss if c.loss is None else round(c.loss, 5)} {c.path}")
        text = tail(job.log_path, lines)
        if text:
            typer.echo("  log:")
            typer.echo("\n".join("    " + r for r in text.splitlines()))

    @jobs_app.command()
    def cancel(
        job_id: int = typer.Argument(..., metavar="ID"),
        grace: float = typer.Option(10.0, help="Seconds between TERM and KILL."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Cancel a queued or running job (TERM to its process group, KILL after --grace)."""
        from studio.jobs import cancel as cancel_job

        job = cancel_job(project_from(project), job_id, grace_s=grace)
        typer.echo(_line(job))

    @jobs_app.command()
    def resume(
        job_id: int = typer.Argument(..., metavar="ID"),
        wait_: bool = typer.Option(False, "--wait"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Continue an interrupted, failed or cancelled job from its last checkpoint."""
        from studio.jobs import Supervisor, get_job, resume as resume_job

        proj = project_from(project)
        job = resume_job(proj, job_id)
        Supervisor(proj).tick()
        typer.echo(_line(get_job(proj, job.id)))
        if wait_:
            raise typer.Exit(_wait_and_report(proj, [job.id]))

    @jobs_app.command()
    def retry(
        job_id: int = typer.Argument(..., metavar="ID"),
        wait_: bool = typer.Option(False, "--wait"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Run a finished job again from scratch (a new attempt; old checkpoints are kept)."""
        from studio.jobs import Supervisor, get_job, retry as retry_job

        proj = project_from(project)
        job = retry_job(proj, job_id)
        Supervisor(proj).tick()
        typer.echo(_line(get_job(proj, job.id)))
        if wait_:
            raise typer.Exit(_wait_and_report(proj, [job.id]))

    @jobs_app.command("wait")
    def wait_cmd(
        job_ids: List[int] = typer.Argument(..., metavar="ID..."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Drive the queue (start queued jobs, follow running ones) until these jobs end."""
        proj = project_from(project)
        raise typer.Exit(_wait_and_report(proj, list(job_ids)))

    @jobs_app.command()
    def checkpoints(
        job_id: Optional[int] = typer.Argument(None, metavar="[ID]"),
        as_json: bool = typer.Option(False, "--json"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """The checkpoint registry (all jobs, or one job's)."""
        from studio.jobs import get_job, list_checkpoints, list_jobs, sync_job

        proj = project_from(project)
        for j in ([get_job(proj, job_id)] if job_id is not None else list_jobs(proj)):
            sync_job(proj, j)
        cks = list_checkpoints(proj, job_id=job_id)
        if as_json:
            typer.echo(json.dumps([c.__dict__ for c in cks], indent=2, default=str))
            return
        if not cks:
            typer.echo("no checkpoints yet")
        for c in cks:
            src = c.selection or (Path(c.dataset).name if c.dataset else "?")
            typer.echo(f"#{c.id} job {c.job_id} step {c.step} loss "
                       f"{'-' if c.loss is None else f'{c.loss:.4f}'} {c.policy} on {src}: {c.pretrained_dir}")

    @jobs_app.command()
    def evaluate(
        checkpoint_id: int = typer.Argument(..., metavar="CHECKPOINT_ID"),
        episodes: int = typer.Option(50, help="Rollouts."),
        workers: int = typer.Option(2, help="Parallel workers."),
        seed: int = typer.Option(0, help="First seed."),
        env: str = typer.Option("pick_cube", help="Simulation environment."),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Roll a registered checkpoint out in simulation (the rollout engine)."""
        from studio.jobs import evaluate as eval_ckpt

        result = eval_ckpt(project_from(project), checkpoint_id, env=env, episodes=episodes, workers=workers,
                           seed=seed)
        typer.echo(str(result))

    @jobs_app.command("ray-address")
    def ray_address(
        address: Optional[str] = typer.Argument(None, metavar="[HOST:PORT]"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Show or set the Ray cluster that `--backend ray` jobs run on (setting ray.address)."""
        proj = project_from(project)
        if address is not None:
            if not address.strip():
                raise JobError("ray.address", "must not be empty")
            proj.set_setting("ray.address", address.strip())
        typer.echo(f"ray.address = {proj.get_setting('ray.address') or '(not set)'}")

    @jobs_app.command()
    def concurrency(
        n: Optional[int] = typer.Argument(None, metavar="[N]"),
        project: Optional[Path] = ProjectOption,
    ) -> None:
        """Show or set how many local jobs run at once (default 1)."""
        from studio.jobs import concurrency as get_c, set_concurrency

        proj = project_from(project)
        if n is not None:
            set_concurrency(proj, n)
        typer.echo(f"jobs.concurrency = {get_c(proj)}")
