"""The embedded Rerun viewer works offline: a tiny .rrd shown by gradio-rerun in headless chromium."""

import numpy as np

from helpers import free_port, wait_http


def write_tiny_rrd(path):
    import rerun as rr

    rec = rr.RecordingStream("studio_test_tiny")
    rec.save(str(path))
    times = np.arange(10)
    rec.send_columns(
        "/joint/q",
        indexes=[rr.TimeColumn("frame_index", sequence=times)],
        columns=rr.Scalars.columns(scalars=np.sin(times / 3.0)),
    )
    rec.log("/points", rr.Points3D(np.random.default_rng(0).normal(size=(20, 3))), static=True)
    rec.flush()
    del rec
    return path


def test_tiny_rrd_is_readable(tmp_path):
    import rerun as rr

    path = write_tiny_rrd(tmp_path / "tiny.rrd")
    assert path.stat().st_size > 0
    rec = rr.dataframe.load_recording(str(path))
    view = rec.view(index="frame_index", contents="/**")
    table = view.select().read_all()
    assert table.num_rows == 10


def test_gradio_rerun_viewer_renders_offline(tmp_path, page):
    import gradio as gr
    from gradio_rerun import Rerun

    path = write_tiny_rrd(tmp_path / "tiny.rrd")
    with gr.Blocks(analytics_enabled=False, theme=gr.themes.Default(font=["sans-serif"], font_mono=["monospace"])) as demo:
        Rerun(value=[str(path)], height=500, elem_id="viewer")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(tmp_path)])
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        page.goto(url)
        page.wait_for_selector("#viewer canvas", state="attached", timeout=60_000)
        page.wait_for_timeout(3000)
        assert page.locator("#viewer canvas").count() >= 1
        assert not page.console_errors.errors(), page.console_errors
    finally:
        demo.close()
