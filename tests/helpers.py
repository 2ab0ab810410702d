"""Helpers for tests (import as `from helpers import ...`; `tests` clashes with a site-packages name)."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    last: Exception | None = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status < 500:
                    return
        except Exception as exc:  # noqa: BLE001 - still starting
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer: {last}")


def handler(demo, elem_id: str, event: str = "click"):
    """The Python function Gradio runs first when `event` fires on the component `elem_id`
    (the panel's own callback, guards included: call it as the browser would)."""
    for fn in demo.fns.values():
        if getattr(fn, "trigger_after", None) is not None:
            continue  # a .then() step
        for block_id, ev in fn.targets:
            if ev == event and getattr(demo.blocks.get(block_id), "elem_id", None) == elem_id:
                return fn.fn
    raise LookupError(f"no {event} handler on #{elem_id}")


def coloured_pixels(png: bytes, min_chroma: int = 40) -> int:
    """Pixels of a PNG screenshot that are coloured, not grey: max(r, g, b) − min(r, g, b) ≥
    `min_chroma`. An empty Rerun view (dark background, grey grid lines, grey/white text)
    has a few hundred at most; curves, video frames and 3D geoms have thousands."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) >= min_chroma).sum())


DRAWN = 2500  # coloured pixels: a drawn viewer has > 5,000 (thin curves on light grey); an empty one < 500


def viewer_shot(page, selector: str, timeout_ms: int = 5_000) -> bytes | None:
    """A screenshot of the element's box, or None while it is being (re-)rendered."""
    loc = page.locator(selector).first
    try:
        loc.evaluate("el => el.scrollIntoView({block: 'start'})", timeout=timeout_ms)  # the viewer never "settles"
        box = loc.bounding_box(timeout=timeout_ms)
    except Exception:  # noqa: BLE001 - detached by a re-render: try again
        return None
    if not box or box["width"] < 50 or box["height"] < 50:
        return None
    return page.screenshot(clip=box)


def wait_viewer_drawn(page, selector: str, timeout: float = 300.0) -> bytes:
    """Poll until the viewer under `selector` is drawn (coloured pixels ≥ DRAWN); its screenshot."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        png = viewer_shot(page, selector, 10_000)
        if png and coloured_pixels(png) >= DRAWN:
            return png
        page.wait_for_timeout(50)
    raise TimeoutError(f"{selector} was not drawn within {timeout:.0f} s")


TITLE_BAR = 24  # px: the viewer's top row, its views' titles ("episode_3 · observation.images.front", …)


def title_bar(png: bytes, height: int = TITLE_BAR) -> bytes:
    """The top `height` rows of a viewer screenshot, where Rerun draws its views' titles. They
    name the recording's entities (the episode), stand still while it plays, and change when
    another recording is shown: a view that keeps playing the previous episode keeps them."""
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    im.crop((0, 0, im.width, min(height, im.height))).save(out, "PNG")
    return out.getvalue()


def changed_pixels(png_a: bytes, png_b: bytes, min_delta: int = 40) -> int:
    """Pixels that differ by ≥ `min_delta` in some channel between two same-size screenshots."""
    import io

    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png_a)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(png_b)).convert("RGB"), dtype=np.int16)
    if a.shape != b.shape:
        return a.shape[0] * a.shape[1]
    return int((np.abs(a - b).max(axis=2) >= min_delta).sum())


def launch(project, attempts: int = 3, **kwargs):
    """Serve `build_app(project)` in this process → (demo, url). Gradio refuses to start when its
    first request to itself takes over 3 s, which a loaded 2-core runner sometimes does: retry."""
    from panels.app import build_app, serve_options

    demo = build_app(project, **kwargs)
    demo.queue(default_concurrency_limit=4)
    for attempt in range(attempts):
        port = free_port()
        try:
            demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                        show_api=False, **serve_options(project, kwargs.get("auth")))
            break
        except (ValueError, OSError) as exc:  # a slow self-check, or a port taken meanwhile
            if not ("localhost is not accessible" in str(exc) or "empty port" in str(exc)) or attempt == attempts - 1:
                raise
            try:
                demo.close()
            except Exception:  # noqa: BLE001 - nothing was served
                pass
    url = f"http://127.0.0.1:{port}/"
    wait_http(url)
    return demo, url


@contextmanager
def ordinary_priority():
    """Run a video encode and give the calling thread back its scheduling policy afterwards.

    SVT-AV1 (`libsvtav1`, LeRobot's default codec) switches the thread that opens an encoder to
    real-time SCHED_FIFO priority 99 when the process runs as root, as CI and containers do;
    every process started from that thread afterwards (a trainer, chromium) inherits it and
    busy threads at that priority starve the machine. Wrap any libsvtav1 encode in this
    (the studio itself encodes only H.264)."""
    policy = os.sched_getscheduler(0)
    param = os.sched_getparam(0)
    try:
        yield
    finally:
        if (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority) != (policy, param.sched_priority):
            os.sched_setscheduler(0, policy, param)


def sim_rollout_set(root, seeds, frames=(40, 60, 50), cameras=("observation.images.front",)):
    """A small rollout set as `studio eval` leaves it: a LeRobot dataset with its cameras and
    the summary.json of per-seed outcomes (every second episode a success)."""
    import json

    from studio.synthetic import write_synthetic_dataset

    root = write_synthetic_dataset(root, episodes=len(seeds), frames=list(frames)[:len(seeds)],
                                   videos=cameras, seed=int(seeds[0]))
    (root / "summary.json").write_text(json.dumps({
        "n_episodes": len(seeds), "success_rate": 0.5, "mean_progress": 0.8, "policy": root.name, "env": "pick_cube",
        "seeds": list(seeds),
        "episodes": [{"episode_index": i, "seed": s, "success": i % 2 == 0, "progress": 1.0 if i % 2 == 0 else 0.4,
                      "steps": 30, "time_to_success_s": 0.5 if i % 2 == 0 else None} for i, s in enumerate(seeds)]}))
    return root
