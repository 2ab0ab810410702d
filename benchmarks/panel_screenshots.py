"""A screenshot of each panel at 1440×900 on the demo project, for docs/screenshots/ (the user
guide shows them). Re-run after changing a panel:

    nice -n 10 .venv/bin/python benchmarks/panel_screenshots.py [--out docs/screenshots] [--episodes 24] [--no-train]

It builds a small demo world in a temporary project home, saves a selection, trains a policy for
a few steps on it (skip with --no-train), rolls out a scripted expert and novice and the trained
checkpoint, leaves a verdict, then opens each panel by its deep link (`?panel=…&…`, the links the
studio itself uses) in Debian's chromium. Each PNG is quantised to 128 colours to stay small.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def build_project(home: Path, episodes: int, train: bool):
    """The demo world plus one pass round the loop: selection, job, rollout sets, a review."""
    from studio import jobs, review
    from studio.curation.selections import save_selection
    from studio.datasets import open_dataset
    from studio.demo import build_demo_world
    from studio.project import open_project
    from studio.sim.rollout import run_rollouts

    project = open_project(home)
    t = time.time()
    build_demo_world(project, episodes=episodes, seed=0, workers=2)
    ds = open_dataset(project.datasets_dir / "pick_cube_demos")
    save_selection(project, "smooth-and-fast", ds, predicate="quality_pct >= 50", note="top half by quality")
    for name in ("expert", "novice"):
        run_rollouts(f"scripted:{name}", episodes=10, seed=0, workers=2, out=project.rollouts_dir / f"scripted-{name}")
    review.set_verdict(project, "scripted-novice", 3, "partial", progress=60, author="ana",
                       comment="grasped the cube, dropped it on the way")
    if train:
        spec = jobs.validate(project, dataset="smooth-and-fast", policy="act", steps=20, batch_size=4, save_freq=20,
                             device="cpu", cameras="none")
        job = jobs.submit(project, spec)
        jobs.wait(project, [job.id], supervisor=jobs.ensure_supervisor(project), timeout=1800)
        ck = jobs.final_checkpoint(project, jobs.get_job(project, job.id))
        if ck is not None:
            jobs.evaluate(project, ck, episodes=10, workers=2)
    print(f"project built in {time.time() - t:.0f} s: {project.home}", flush=True)
    return project


def shoot(page, out: Path, name: str) -> None:
    from PIL import Image

    page.wait_for_timeout(2500)  # plots and viewers settle
    png = page.screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    path = out / f"panel-{name}.png"
    img.save(path, optimize=True)
    print(f"{path} {path.stat().st_size // 1024} KB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--episodes", type=int, default=24)
    ap.add_argument("--no-train", action="store_true", help="skip the training job (faster; Train shows no job)")
    ap.add_argument("--only", default="", help="comma-separated panel slugs (home,datasets,curate,…)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from conftest import CHROMIUM, CHROMIUM_ARGS
    from helpers import free_port, wait_http
    from playwright.sync_api import sync_playwright

    from panels.app import build_app, serve_options
    from studio import jobs
    from studio.flywheel import link

    project = build_project(Path(tempfile.mkdtemp(prefix="panel-shots-")) / "home", args.episodes, not args.no_train)
    demo = build_app(project)
    port = free_port()
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **serve_options(project))
    url = f"http://127.0.0.1:{port}/"
    wait_http(url)
    demos = str(project.datasets_dir / "pick_cube_demos")
    job = next(iter(jobs.list_jobs(project, limit=1)), None)
    shots = [  # (slug, link, what to wait for)
        ("home", link("Home"), ("#home-summary", "Next step")),
        ("datasets", link("Datasets", dataset=demos), ("#datasets-overview", "Curate it")),
        ("datasets-episode", link("Datasets", dataset=demos, episode=3), ("#datasets-episode-info", "Episode 3")),
        ("curate", link("Curate", dataset=demos, selection="smooth-and-fast"), ("#curate-summary", "episodes")),
        ("train", link("Train", job=job.id) if job else link("Train"),
         ("#train-progress", "Job") if job else ("#train-submit", "Fine-tune")),
        ("rollouts", link("Rollouts", set="scripted-novice", episode=3), ("#rollouts-comments", "dropped it")),
        ("compare", link("Compare", a="scripted-novice", b="scripted-expert"), ("#compare-verdict", "Verdict")),
        ("workspaces", link("Workspaces", workspace="01-first-look"), ("#ws-header", "First look")),
    ]
    want = set(filter(None, args.only.split(",")))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for slug, href, (selector, text) in shots:
                if want and slug not in want:
                    continue
                page = browser.new_page(viewport={"width": 1440, "height": 900})  # one page each: viewers are heavy
                page.set_default_timeout(240_000)
                page.goto(url + href)
                page.locator(selector).get_by_text(text).first.wait_for()
                if slug == "datasets-episode":  # the episode playing, not the overview above it
                    from helpers import wait_viewer_drawn

                    wait_viewer_drawn(page, "#datasets-viewer")
                    page.locator("#datasets-episode-info").evaluate("el => el.scrollIntoView({block: 'start'})")
                if slug == "train" and job:  # the job, not the form: queue, progress and loss curves in view
                    page.locator("#train-loss .js-plotly-plot").wait_for()
                    page.locator("#train-queue").evaluate("el => el.scrollIntoView({block: 'start'})")
                    page.wait_for_function("() => !document.querySelector('#train-progress .pending, "
                                           "#train-progress.pending, #train-loss .pending')")
                shoot(page, out, slug)
                page.close()
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
