"""Screenshots of each viewer state at 1440×900 for docs/screenshots/ (the user guide shows them).

    nice -n 10 .venv/bin/python benchmarks/viewer_screenshots.py [--out docs/screenshots]

Each PNG is quantised to 128 colours to stay small (< 300 KB).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))


def save(page, out: Path, name: str, selector: str) -> None:
    from PIL import Image
    from viewer import wait_drawn

    wait_drawn(page, selector, None)
    page.wait_for_timeout(2500)  # let the video frames decode
    page.locator(selector).first.evaluate("el => el.scrollIntoView({block: 'end'})")
    png = page.screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    path = out / f"{name}.png"
    img.save(path, optimize=True)
    print(f"{path} {path.stat().st_size // 1024} KB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright
    from viewer_world import build_world, serve

    project = build_world(Path(tempfile.mkdtemp(prefix="viewer-shots-")) / "home", frames=120)
    (project.workspaces_dir).mkdir(parents=True, exist_ok=True)
    (project.workspaces_dir / "watch.md").write_text(
        "---\ntitle: Watch\ndataset: demos\n---\n\n# Watch an episode\n\n```{playback}\n:id: first\n:episode: 1\n```\n")
    demo, url = serve(project)
    want = set(filter(None, args.only.split(",")))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            def new_page():
                pg = browser.new_page(viewport={"width": 1440, "height": 900})
                pg.set_default_timeout(240_000)
                return pg

            page = new_page()
            if not want or "datasets" in want:
                page.goto(url + "?panel=Datasets&dataset=" + quote(str(project.datasets_dir / "demos")))
                page.locator("#datasets-overview").get_by_text("demos").first.wait_for()
                page.get_by_role("tab", name="Episode", exact=True).click()
                page.locator("#datasets-show-episode").click()
                save(page, out, "viewer-datasets-episode", "#datasets-viewer")
                page.goto(url + "?panel=Datasets&dataset=" + quote(str(project.datasets_dir / "bimanual")))
                page.locator("#datasets-overview").get_by_text("bimanual").first.wait_for()
                page.get_by_role("tab", name="Episode", exact=True).click()
                page.locator("#datasets-show-episode").click()
                page.locator("#datasets-camera-note").get_by_text("missing").first.wait_for()
                save(page, out, "viewer-datasets-28-joints", "#datasets-viewer")
            if not want or "rollouts" in want:
                page.close()
                page = new_page()  # one page per section: swiftshader pages are heavy
                page.goto(url + "?panel=Rollouts")
                page.locator("#rollouts-target input").click()
                page.get_by_role("option", name="rollouts · ckpt-a", exact=False).click()
                page.locator("#rollouts-episode input").fill("1")
                page.click("#rollouts-show")
                save(page, out, "viewer-rollouts-episode", "#rollouts-viewer")
                page.locator("#rollouts-others").locator("textarea, input").first.fill("ckpt-b:1")
                page.click("#rollouts-show")
                page.locator("#rollouts-download").get_by_text("_vs_").first.wait_for()
                save(page, out, "viewer-rollouts-side-by-side", "#rollouts-viewer")
            if not want or "workspaces" in want:
                page.close()
                page = new_page()
                page.goto(url + "?panel=Workspaces&workspace=watch")
                page.locator("#ws-cell-1-run").click()
                save(page, out, "viewer-workspace-cell", "#ws-cell-1-out-0")
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
