"""Shared fixtures: a fresh project home, the app served in-process, and a headless
Debian-chromium page driven by Playwright (console errors collected)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
]
# Console errors that are not failures of the page under test: (exact message, URL the
# failing resource starts with). Only these; nothing is filtered by keyword.
BENIGN_CONSOLE = (
    # gradio's page template loads iframeResizer from a CDN (for Hugging Face Spaces); offline
    # it cannot resolve. docs/decisions.md, "One outbound request remains".
    ("Failed to load resource: net::ERR_NAME_NOT_RESOLVED",
     "https://cdnjs.cloudflare.com/ajax/libs/iframe-resizer/"),
    # rerun-sdk 0.26.2's web viewer: a frame callback of a viewer that gradio has just destroyed
    # (a workspace cell's viewer is replaced when the notebook re-renders) can fire after its wasm instance is
    # freed. Seen intermittently under load; the new viewer draws (the pixel tests check it).
    ("pageerror: Cannot read properties of null (reading 'closure24308_externref_shim')", ""),
)


from helpers import free_port, wait_http  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _isolated_scan_cache(tmp_path_factory):
    """Dataset scans are cached outside datasets (studio.datasets); keep tests' out of ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("STUDIO_CACHE_DIR", str(tmp_path_factory.mktemp("studio-cache")))
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _ordinary_scheduling():
    """A test must leave the process at ordinary priority. An AV1 encode as root once left it at
    real-time SCHED_FIFO 99, and every chromium and trainer started after it inherited that and
    starved the 2-core runner (helpers.ordinary_priority)."""
    yield
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        pytest.fail("the test left the process at real-time scheduling priority; wrap the encode "
                    "in helpers.ordinary_priority()")


@pytest.fixture
def project(tmp_path: Path):
    from studio.project import open_project

    return open_project(tmp_path / "home")


@pytest.fixture
def serve_app():
    """Serve `build_app(project)` in this process; yields a function(project) -> url."""
    demos = []

    def _serve(project, **kwargs) -> str:
        from panels.app import build_app, serve_options

        demo = build_app(project, **kwargs)
        port = free_port()
        demo.queue(default_concurrency_limit=4)
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    show_api=False, **serve_options(project, kwargs.get("auth")))
        demos.append(demo)
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        return url

    yield _serve
    for demo in demos:
        demo.close()


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    """A small demo world (24 episodes, all four operators) built once per session; the Project.

    Dataset at `project.datasets_dir / "pick_cube_demos"`, ground truth at
    `project.home / "demo_labels.csv"` (studio.demo.read_labels). Treat as read-only.
    """
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    from studio.demo import build_demo_world
    from studio.project import open_project

    project = open_project(tmp_path_factory.mktemp("demo_world") / "home")
    build_demo_world(project, episodes=24, seed=0, workers=2)
    return project


@pytest.fixture(scope="session")
def rollout_pair(tmp_path_factory):
    """Two rollout sets on the same seeds 0..9: (`scripted:expert`, `scripted:novice`) paths.

    Each is a LeRobot v3.0 dataset + sim sidecar + summary.json. Treat as read-only.
    """
    os.environ.setdefault("MUJOCO_GL", "osmesa")
    from studio.sim.rollout import run_rollouts

    base = tmp_path_factory.mktemp("rollout_pair")
    a = run_rollouts("scripted:expert", episodes=10, seed=0, workers=1, out=base / "expert")
    b = run_rollouts("scripted:novice", episodes=10, seed=0, workers=1, out=base / "novice")
    return a, b


@pytest.fixture(scope="session")
def _browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleMessage(str):
    """A console error's text, with the URL of the resource or script it came from."""

    url = ""


def _console_message(text: str, url: str = "", where: str = "") -> ConsoleMessage:
    m = ConsoleMessage(text + (f" [{url}]" if url else "") + (f" ({where})" if where else ""))
    m.text, m.url = text, url
    return m


def _page_error(exc) -> ConsoleMessage:
    """An uncaught exception in the page, shown with the top of its stack (which script threw it:
    gradio's, the viewer's or the studio's); matched against BENIGN_CONSOLE by its text alone."""
    frames = [ln.strip() for ln in (getattr(exc, "stack", None) or "").splitlines()[1:4]]
    return _console_message(f"pageerror: {exc}", where=" | ".join(frames))


class ConsoleLog(list):
    def errors(self) -> list[str]:
        return [m for m in self
                if not any(getattr(m, "text", m) == text and m.url.startswith(url) for text, url in BENIGN_CONSOLE)]


def watch_console(pg):
    """`pg` with `pg.console_errors`: the console errors and page errors it shows from now on."""
    errors = ConsoleLog()
    pg.on("console", lambda msg: errors.append(_console_message(msg.text, (msg.location or {}).get("url", "")))
          if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(_page_error(exc)))
    pg.console_errors = errors
    pg.set_default_timeout(90_000)  # a wait, not a speed check: a 2-core CI runner under load needs > 30 s
    return pg


@pytest.fixture
def page(_browser):
    """A fresh page; `page.console_errors` holds console errors and page errors seen."""
    context = _browser.new_context(viewport={"width": 1400, "height": 1000})
    yield watch_console(context.new_page())
    context.close()


def pytest_collection_modifyitems(config, items):
    browser: dict[str, int] = {}  # file -> its browser tests
    place: dict[str, int] = {}  # file -> where it was collected
    for item in items:
        path = item.nodeid.split("::")[0]
        place.setdefault(path, len(place))
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
            browser[path] = browser.get(path, 0) + 1
    # `make test` runs files on two workers (pytest-xdist, --dist loadfile), handed out in this
    # order: the longest files (the browser ones, most browser tests first) start first, so the
    # run does not end with one worker alone on a long file. The order is the same in every
    # worker (xdist requires it) and tests keep their order within a file.
    def key(item):
        path = item.nodeid.split("::")[0]
        return -browser.get(path, 0), place[path]

    items.sort(key=key)
