"""Benchmark: how long a user waits to SEE an episode in the embedded viewer.

In headless Debian chromium (Playwright, swiftshader WebGL: no GPU), the Datasets panel
plays a 1,000-frame episode with two cameras; the clock runs from the click on
"▶ Play episode" until the viewer's screenshot shows the new recording drawn (coloured
pixels of curves/video, different from the previous play's). Two cases, median of N each:

- first time: the playback cache is emptied before the play (the .rrd is written: parquet
  read, mp4 segments, send_columns) — target < 3 s;
- cached: the episode's recording is in the project cache — target < 1 s.

Each play is timed twice: from the start of Playwright's click (which first scrolls the button
into view and waits for it to be stable: two animation frames, slow while the viewer draws in
software) and from the click event as the page received it (a capture listener's Date.now()),
the user's moment. Inside the page, resource timing gives when the click's request left and
when the recording was fetched, relative to the click event.

And how long switching panels takes ("feels immediate"): the clock runs from the click on a
panel's name in the sidebar until that panel is visible (its column shown), for every panel
in turn, the Datasets one holding the played viewer; median over all switches.

Switches are timed both ways too (Playwright's click, and the click event in the page).

The studio runs as its own process (`studio launch`, as users run it; `--server thread` serves
it inside this process as runs before 2026-12-01 14:09 UTC did). `--compositing` picks how
chromium composites the page: `software` (default; the tests' flags, with --disable-gpu every
frame of the viewer's WebGL canvas is read back to the CPU) or `gpu` (Chromium's GPU path, as
on a desktop with a GPU; on a machine without one, that GPU is SwiftShader).

Screenshots are polled (~every 0.1–0.3 s on a slow machine), so times are upper bounds.
The machine's load average is printed with the results: run it on an idle machine.

    nice -n 10 .venv/bin/python benchmarks/viewer.py [--repeat 20] [--frames 1000] [--cases first,cached,switch]
        [--compositing software|gpu] [--server process|thread]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

DRAWN = 2500


def _shot(page, selector):
    loc = page.locator(selector).first
    try:
        loc.evaluate("el => el.scrollIntoView({block: 'start'})", timeout=10_000)
        box = loc.bounding_box(timeout=10_000)
    except Exception:  # noqa: BLE001 - being re-rendered
        return None
    if not box or box["width"] < 50 or box["height"] < 50:
        return None
    return page.screenshot(clip=box)


def wait_drawn(page, selector, previous, timeout=300.0):
    from helpers import changed_pixels, coloured_pixels

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        png = _shot(page, selector)
        if png and coloured_pixels(png) >= DRAWN and (previous is None or changed_pixels(previous, png) >= 2000):
            return png
        page.wait_for_timeout(50)
    raise TimeoutError(f"{selector} was not drawn within {timeout:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--cases", default="first,cached,switch", help="which measurements to run (comma-separated)")
    ap.add_argument("--server", choices=("process", "thread"), default="process",
                    help="serve the studio as its own process (`studio launch`, as users run it; default) or in "
                         "this process's threads (runs before 2026-12-01 14:09 UTC: the server then shares this "
                         "process's GIL with Playwright and the screenshots' pixel counting)")
    ap.add_argument("--compositing", choices=("software", "gpu"), default="software",
                    help="software: the tests' flags (--disable-gpu: the page is composited in software, every WebGL "
                         "frame read back to the CPU); gpu: without --disable-gpu, Chromium composites through its GPU "
                         "process as on a desktop with a GPU (here the GPU is SwiftShader, a software rasteriser)")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from urllib.parse import quote

    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright
    from viewer_world import build_world, serve, serve_process

    from studio.playback.cache import clear

    tmp = Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    t0 = time.perf_counter()
    project = build_world(tmp / "home", frames=60, long_frames=args.frames)
    print(f"world built in {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()}", flush=True)
    demo, url = serve(project) if args.server == "thread" else serve_process(project)
    print(f"server: {args.server}; compositing: {args.compositing}", flush=True)
    long = project.datasets_dir / "long"
    # per play: (s from Playwright's click, s from the click event, request sent +s, recording fetched +s)
    first: list[tuple[float, float, float, float]] = []
    cached: list[tuple[float, float, float, float]] = []
    switches: list[tuple[str, float, float]] = []
    try:
        with sync_playwright() as pw:
            flags = [a for a in CHROMIUM_ARGS if not (args.compositing == "gpu" and a == "--disable-gpu")]
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(240_000)
            t = time.perf_counter()
            page.goto(url + "?panel=Datasets&dataset=" + quote(str(long)))
            page.locator("#datasets-overview").get_by_text("long").first.wait_for()
            print(f"page ready in {time.perf_counter() - t:.1f} s (first load parses gradio-rerun's bundle)")
            page.get_by_role("tab", name="Episode", exact=True).click()
            previous = None

            page.evaluate("() => document.addEventListener('click', () => { window.__bench_click = Date.now(); }, true)")

            def play(ep: int) -> tuple[float, float, float, float]:
                nonlocal previous
                page.locator("#datasets-episode input").fill(str(ep))
                page.evaluate("performance.clearResourceTimings(); window.__bench_click = null")
                t = time.perf_counter()
                page.locator("#datasets-show-episode").click()
                previous = wait_drawn(page, "#datasets-viewer", previous)
                done, seen_at = time.perf_counter() - t, time.time()
                # in the page, relative to the click event: the click's request, the recording's fetch
                click, sent, fetched = page.evaluate("""() => {
                  const at = (e) => e ? performance.timeOrigin + e.startTime - window.__bench_click : NaN;
                  const res = performance.getEntriesByType('resource');
                  return [window.__bench_click, at(res.find((e) => e.name.includes('/gradio_api/queue/join'))),
                          at(res.find((e) => e.name.includes('.rrd')))];
                }""")
                return done, seen_at - click / 1000, sent / 1000, fetched / 1000

            def report(case: str, i: int, p: tuple[float, float, float, float]) -> None:
                print(f"  {case} {i + 1}/{args.repeat}: {p[0]:.2f} s; {p[1]:.2f} s after the click event (request "
                      f"sent +{p[2]:.2f} s, recording fetched +{p[3]:.2f} s)", flush=True)

            play(0)  # warm-up: the browser compiles the viewer's wasm once per page
            # consecutive plays alternate episodes 0 and 1, so each must draw something new
            for i in range(args.repeat if "first" in cases else 0):
                clear(project)
                first.append(play((i + 1) % 2))
                report("first time", i, first[-1])
            for i in range(args.repeat if "cached" in cases else 0):
                cached.append(play(i % 2))
                report("cached", i, cached[-1])
            names = page.locator("#studio-nav label").all_inner_texts()
            order = [n.strip() for n in names if n.strip() != "Datasets"] + ["Datasets"]
            for i in range(args.repeat if "switch" in cases else 0):
                for name in order:
                    page.evaluate("window.__bench_click = null")
                    t = time.perf_counter()
                    page.locator("#studio-nav").get_by_text(name, exact=True).click()
                    page.locator(f"#panel-{name.lower().replace(' ', '-')}").wait_for(state="visible")
                    seen_at = time.time()
                    switches.append((name, time.perf_counter() - t, seen_at - page.evaluate("window.__bench_click") / 1000))
                print(f"  switch round {i + 1}/{args.repeat}: " + ", ".join(f"{n} {d:.2f} s ({e:.2f} s)" for n, d, e in
                                                                          switches[-len(order):]), flush=True)
            browser.close()
    finally:
        demo.close()
    print(f"\n{args.frames}-frame episode, 2 cameras, Datasets panel, median of {args.repeat}:")

    med = statistics.median

    def known(xs):  # a fetch the page's resource timing did not list (after a viewer restart) is NaN
        xs = [x for x in xs if not math.isnan(x)]
        return xs or [float("nan")]

    for name, plays, target in (("first time (recording written)", first, 3), ("cached", cached, 1)):
        if plays:
            times, events = [p[0] for p in plays], [p[1] for p in plays]
            print(f"  {name + ':':32s} {med(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f}) from "
                  f"Playwright's click; {med(events):.2f} s (min {min(events):.2f}, max {max(events):.2f}) from "
                  f"the click event; request sent +{med(known(p[2] for p in plays)):.2f} s, recording fetched "
                  f"+{med(known(p[3] for p in plays)):.2f} s; target < {target} s")
    if switches:
        for label, k in (("from Playwright's click", 1), ("from the click event", 2)):
            d = [s[k] for s in switches]
            print(f"  panel switch (click → visible), {label}: {med(d):.2f} s  (min {min(d):.2f}, max {max(d):.2f}, "
                  f"{len(d)} switches); to Datasets with its viewer: {med(s[k] for s in switches if s[0] == 'Datasets'):.2f}"
                  f" s; leaving it (to {order[0]}): {med(s[k] for s in switches if s[0] == order[0]):.2f} s")
    print(f"  load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
