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


def save(page, out: Path, name: str, selector: str, shows: tuple[str, str]) -> None:
    """Screenshot the page once `shows` = (selector, text) says the wanted episode is the one
    played and the viewer has drawn it (and, within a minute, its camera frames)."""
    from helpers import viewer_shot, wait_viewer_drawn
    from PIL import Image

    page.locator(shows[0]).get_by_text(shows[1]).first.wait_for()
    wait_viewer_drawn(page, selector)
    for _ in range(60):  # the cameras (left part) show a spinner until the first frames decode
        png = viewer_shot(page, selector, 10_000)
        if png and _camera_pixels(png) > 20_000:
            break
        page.wait_for_timeout(1000)
    else:
        print(f"warning: {name}: the camera frames did not decode within a minute", flush=True)
    page.locator(selector).first.evaluate("el => el.scrollIntoView({block: 'end'})")
    png = page.screenshot()
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)
    path = out / f"{name}.png"
    img.save(path, optimize=True)
    print(f"{path} {path.stat().st_size // 1024} KB", flush=True)


def _camera_pixels(png: bytes) -> int:
    """Coloured pixels in the left 35% of a viewer screenshot (where the cameras are)."""
    import io

    from helpers import coloured_pixels
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    left = img.crop((0, 0, int(img.width * 0.35), img.height))
    buf = io.BytesIO()
    left.save(buf, format="PNG")
    return coloured_pixels(buf.getvalue())


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
                save(page, out, "viewer-datasets-episode", "#datasets-viewer", ("#datasets-episode-info", "Episode 0"))
                page.goto(url + "?panel=Datasets&dataset=" + quote(str(project.datasets_dir / "bimanual")))
                page.locator("#datasets-overview").get_by_text("bimanual").first.wait_for()
                page.get_by_role("tab", name="Episode", exact=True).click()
                page.locator("#datasets-show-episode").click()
                page.locator("#datasets-camera-note").get_by_text("missing").first.wait_for()
                save(page, out, "viewer-datasets-28-joints", "#datasets-viewer", ("#datasets-episode-info", "Episode 0"))
            if not want or "rollouts" in want:
                page.close()
                page = new_page()  # one page per section: swiftshader pages are heavy
                page.goto(url + "?panel=Rollouts")
                page.locator("#rollouts-target input").click()
                page.get_by_role("option", name="rollouts · ckpt-a", exact=False).click()
                # choosing a set fills the table and puts its first episode in the field: wait for
                # that before typing ours (typed earlier, it was overwritten with episode 0)
                page.wait_for_selector("#rollouts-episodes :text('success')")
                page.locator("#rollouts-episode input").fill("1")
                page.click("#rollouts-show")
                save(page, out, "viewer-rollouts-episode", "#rollouts-viewer", ("#rollouts-download", "ckpt-a_ep1-"))
                page.locator("#rollouts-others").locator("textarea, input").first.fill("ckpt-b:1")
                page.click("#rollouts-show")
                save(page, out, "viewer-rollouts-side-by-side", "#rollouts-viewer",
                     ("#rollouts-download", "ckpt-a_ep1_vs_ckpt-b_ep1"))
            if not want or "workspaces" in want:
                page.close()
                page = new_page()
                page.goto(url + "?panel=Workspaces&workspace=watch")
                page.locator("#ws-cell-1-run").click()
                save(page, out, "viewer-workspace-cell", "#ws-cell-1-out-0", ("#ws-cell-1", ":episode: 1"))
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
