"""The studio's viewer front end is gradio-rerun's, with checked edits (panels/rerun_frontend)."""

from __future__ import annotations

import pytest


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
    ("/gradio_api/run/predict", ""),  # an unqueued event: how a viewer slot hands over its play
    ("/gradio_api/queue/join", ""),
    ("/studio/gradio_api/run/predict", "/studio"),  # served under a sub-path
])
def test_a_play_reaches_the_viewer_as_a_url_it_opens_not_a_file_pushed_into_its_channel(tmp_path, route, root_path):
    """A file handed to gradio-rerun as a path is copied to gradio's cache and pushed through its
    channel: the viewer cannot close it (recordings pile up), follows it to the last frame, and an
    episode played again after another stays hidden behind the other one. A URL is opened, closed
    and replayed by the studio's front end. Unqueued events (the viewer slot's) once fell back to
    paths because gradio's get_api_call_path knows only queued routes."""
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
