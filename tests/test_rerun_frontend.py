"""The studio's viewer front end is gradio-rerun's, with checked edits (panels/rerun_frontend)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from helpers import free_port, wait_http


def _installed_index() -> str:
    from panels.rerun_frontend import _source_dir

    return (_source_dir() / "component" / "index.js").read_text(encoding="utf-8")


def test_every_edit_applies_once_to_the_installed_gradio_rerun():
    from panels.rerun_frontend import EDITS, RESTART_EVERY, patched_index

    source = _installed_index()
    patched = patched_index(source)
    for old, new, _why in EDITS:
        assert source.count(old) == 1
        assert patched.count(new.replace("RESTART_EVERY", str(RESTART_EVERY))) == 1
    assert "O.close(u)" in patched and "O.close(" not in source.replace("O.close(u)", "")
    assert "__studio_start()" in patched  # the viewer no longer starts on mount
    assert f"++__studio_plays > {RESTART_EVERY}" in patched and "try { O.stop(); }" in patched  # restarted now and then
    assert len(patched) - len(source) < 4000  # a few lines changed, nothing else


def test_a_different_front_end_fails_naming_the_file_and_the_edit():
    from panels.rerun_frontend import EDITS, FrontendError, patched_index

    source = _installed_index().replace(EDITS[0][0], "  async function K() {\n    // changed upstream")
    with pytest.raises(FrontendError) as err:
        patched_index(source, "somewhere/index.js")
    msg = str(err.value)
    assert "somewhere/index.js" in msg and "close the previous value's recordings" in msg and "\n" not in msg


def test_the_derived_front_end_is_written_once_and_rewritten_when_stale():
    from panels.rerun_frontend import STAMP, TEMPLATES, ensure_frontend

    assert ensure_frontend() == TEMPLATES
    index = TEMPLATES / "component" / "index.js"
    assert "__studio_open" in index.read_text(encoding="utf-8")
    assert sorted(p.name for p in (TEMPLATES / "component").iterdir()) == \
        sorted(p.name for p in (_source_dir_component()).iterdir())
    before = index.stat().st_mtime_ns
    ensure_frontend()
    assert index.stat().st_mtime_ns == before  # up to date: not rewritten
    STAMP.write_text("stale\n")
    ensure_frontend()
    assert STAMP.read_text() != "stale\n" and "__studio_open" in index.read_text(encoding="utf-8")
    assert not list(TEMPLATES.parent.glob(".templates.*"))  # no temp folders left behind


def _source_dir_component():
    from panels.rerun_frontend import _source_dir

    return _source_dir() / "component"


def test_the_component_is_served_from_the_derived_front_end():
    """gradio serves a custom component's JS from its module's folder: ours, not gradio-rerun's."""
    from gradio.utils import get_all_components

    from panels.rerun_frontend import StudioRerun

    view = StudioRerun(value=None, height=500, elem_id="v")
    cls = type(view)
    assert cls in get_all_components()
    assert cls.__module__ == "panels.rerun_frontend" and cls.TEMPLATE_DIR == "./templates/"
    config = view.get_config()
    assert config["height"] == 500 and config["elem_id"] == "v"  # props reach the front end


@pytest.mark.parametrize("route, root_path", [
    ("/gradio_api/run/predict", ""),  # an unqueued event
    ("/gradio_api/queue/join", ""),
    ("/studio/gradio_api/run/predict", "/studio"),  # served under a sub-path
])
def test_a_play_reaches_the_viewer_as_a_url_it_opens_not_a_file_pushed_into_its_channel(tmp_path, route, root_path):
    """A file handed to gradio-rerun as a path is copied to gradio's cache and pushed through its
    channel: the viewer cannot close it (recordings pile up), follows it to the last frame, and an
    episode played again after another stays hidden behind the other one. A URL is opened, closed
    and replayed by the studio's front end. Unqueued events (the viewer slot's, until plays handed
    their URLs over themselves) once fell back to paths: gradio's get_api_call_path knows only
    queued routes."""
    import gradio as gr
    from starlette.requests import Request

    from panels.rerun_frontend import StudioRerun
    from panels.viewer import served_urls

    rrd = tmp_path / "demos_ep0-abc.rrd"
    rrd.write_bytes(b"RRF2")
    scope = {"type": "http", "method": "POST", "path": route, "root_path": root_path, "query_string": b"panel=Datasets",
             "headers": [(b"host", b"studio.example:7860")], "scheme": "http", "server": ("studio.example", 7860)}
    urls = served_urls([str(rrd)], gr.Request(request=Request(scope)))
    assert urls == [f"http://studio.example:7860{root_path}/gradio_api/file={rrd.resolve()}"]
    data = StudioRerun(value=None).postprocess(urls)
    assert data.root == urls  # strings: the front end opens them by URL
    assert served_urls([str(rrd)], None) == [str(rrd)]  # no request at all: gradio-rerun serves the file


def test_a_play_that_cannot_be_served_by_url_is_logged_not_silent(tmp_path, caplog):
    """Handed over as a file, a recording opens at its last frame and cannot be closed: when that
    fallback happens, the log says so (it once happened silently for every unqueued play)."""
    import logging

    import gradio as gr

    from panels.viewer import served_urls

    rrd = tmp_path / "ep.rrd"
    rrd.write_bytes(b"RRF2")
    with caplog.at_level(logging.WARNING, logger="studio.ui"):
        assert served_urls([str(rrd)], None) == [str(rrd)]
    assert "no request to build URLs from; 1 recording(s) handed over as files" in caplog.text
    caplog.clear()

    class Unreadable:  # a request whose address cannot be read
        @property
        def url(self):
            raise ValueError("no address")

    broken = gr.Request(request=Unreadable())
    with caplog.at_level(logging.WARNING, logger="studio.ui"):
        assert served_urls([str(rrd)], broken) == [str(rrd)]
    assert "cannot build URLs from the request (ValueError: no address)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="studio.ui"):
        assert served_urls([], None) == []  # nothing to play: nothing to say
    assert caplog.text == ""


def test_a_play_is_one_round_trip_every_viewer_is_set_in_the_page(project):
    """Every event that sets a panel's viewer runs in the browser (the slot's listener): a play
    asks the server once, for its own event. Until 2026-12-01 the slot was a gr.State whose
    change asked the server again to turn the value into the viewer's (0.3–1 s of a play while
    the viewer draws)."""
    from panels.app import build_app

    config = build_app(project).get_config_file()
    viewers = {c["id"]: c["props"].get("elem_id") for c in config["components"] if c.get("type") == "studiorerun"}
    assert set(viewers.values()) >= {"datasets-viewer", "curate-viewer", "rollouts-viewer", "compare-viewer"}
    setters = [d for d in config["dependencies"] if any(o in viewers for o in d["outputs"])]
    assert len(setters) >= 4
    for dep in setters:
        names = [viewers[o] for o in dep["outputs"] if o in viewers]
        assert dep["js"] and not dep["backend_fn"], f"{names}: set by an event that runs on the server"


def test_a_value_made_outside_an_event_is_opened_by_url_the_page_makes(tmp_path, page):
    """With no request to make URLs from, the page makes the app's file URL of the recording
    itself: the viewer opens it by URL (from frame 0), not as a file pushed into its channel."""
    import gradio as gr
    from test_rerun_embed import write_tiny_rrd

    from panels.viewer import rerun_viewer, viewer_value

    rrd = write_tiny_rrd(tmp_path / "tiny.rrd")
    value = viewer_value(rrd)  # not in an event: no request
    assert value["files"] == [str(rrd)] and "urls" not in value
    with gr.Blocks(analytics_enabled=False, theme=gr.themes.Default(font=["sans-serif"], font_mono=["monospace"])) as demo:
        slot = rerun_viewer(elem_id="v", empty="Nothing played yet")
        gr.Button("Play", elem_id="go").click(lambda: value, None, slot)
        gr.Button("Clear", elem_id="clear").click(lambda: None, None, slot)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(tmp_path)])
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        fetched = []
        page.on("response", lambda r: fetched.append((r.url, r.status)) if r.url.endswith("tiny.rrd") else None)
        page.goto(url)
        page.get_by_text("Nothing played yet").wait_for()
        assert not page.locator("#v").is_visible()
        page.click("#go")
        page.wait_for_selector("#v canvas", state="attached", timeout=120_000)
        page.get_by_text("Nothing played yet").wait_for(state="hidden")
        deadline = time.monotonic() + 60
        while not fetched and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert fetched == [(f"{url}gradio_api/file={quote(str(rrd.resolve()))}", 200)]
        page.click("#clear")
        page.get_by_text("Nothing played yet").wait_for()
        assert not page.locator("#v").is_visible()
        assert not page.console_errors.errors(), page.console_errors
    finally:
        demo.close()
