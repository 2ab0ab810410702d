"""The app shell: a Gradio Blocks page with a sidebar listing the registered panels."""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from panels.registry import AppContext, all_panels
from studio.logs import setup_logging
from studio.project import Project

log = logging.getLogger("studio.app")

CSS = """
#studio-nav label { width: 100%; }
.studio-panel { min-height: 70vh; }
footer { display: none !important; }
"""


def offline_theme():
    """Gradio's default theme pulls Google Fonts; the studio must work offline, so use system fonts."""
    return gr.themes.Default(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "Consolas", "monospace"],
    )


def build_app(project: Project, *, auth: Any = None, plugin_host: Any = None):
    from studio import __version__
    from studio.plugins import host

    setup_logging(project.logs_dir)
    ctx = AppContext(project=project, plugins=plugin_host or host(), auth=auth)
    panels = all_panels(ctx.plugins)
    names = [p.name for p in panels]

    with gr.Blocks(title="Flywheel Studio", css=CSS, theme=offline_theme(), analytics_enabled=False) as demo:
        with gr.Sidebar(open=True, elem_id="studio-sidebar"):
            gr.Markdown(f"## Flywheel Studio\n<small>v{__version__} · `{project.home.name}`</small>")
            nav = gr.Radio(choices=names, value=names[0], show_label=False, elem_id="studio-nav")
        columns = []
        for panel in panels:
            with gr.Column(visible=(panel.name == names[0]), elem_id=f"panel-{panel.slug}", elem_classes="studio-panel") as col:
                gr.Markdown(f"# {panel.name}")
                try:
                    panel.build(ctx)
                except Exception as exc:  # one broken panel must not take the app down
                    log.exception("panel %s failed to build", panel.name)
                    gr.Markdown(f"⚠ This panel failed to load: {type(exc).__name__}: {exc}")
            columns.append(col)

        def show(name: str):
            return [gr.update(visible=(p.name == name)) for p in panels]

        nav.change(show, nav, columns, queue=False)

        def from_url(request: gr.Request):
            wanted = (request.query_params.get("panel") or "") if request else ""
            match = next((n for n in names if n.lower() == wanted.lower()), None)
            if match is None:
                match = ctx.handlers.get("default_panel", lambda: names[0])()
                match = match if match in names else names[0]
            return [gr.update(value=match)] + show(match)

        demo.load(from_url, None, [nav] + columns, queue=False)
        for name, fn in list(ctx.handlers.items()):
            if name.startswith("on_load:"):
                fn(demo)
    demo.studio_context = ctx  # type: ignore[attr-defined]
    from panels import _guard

    _guard.install(demo, ctx)  # every handler asks studio.permissions before it runs
    return demo


def serve_options(project: Project, auth: Any = None) -> dict[str, Any]:
    """`launch()` arguments that decide who gets in and which files a page may fetch."""
    from studio.permissions import blocked_paths, served_paths

    users = getattr(getattr(auth, "users_file", None), "path", None)
    options: dict[str, Any] = {
        "auth": getattr(auth, "gradio_auth", None),
        "allowed_paths": served_paths(project),
        "blocked_paths": blocked_paths(project, users),
    }
    if auth is not None:
        from starlette.middleware import Middleware

        from studio.sessions import SessionGate

        options["app_kwargs"] = {"middleware": [Middleware(SessionGate, auth=auth)]}
    return options


def launch(project: Project, *, host: str = "127.0.0.1", port: int = 7860, open_browser: bool = False,
           auth: Any = None, block: bool = True):
    demo = build_app(project, auth=auth)
    print(f"Flywheel Studio on http://{host}:{port}  (project: {project.home})", flush=True)
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=host,
        server_port=port,
        inbrowser=open_browser,
        show_api=False,
        quiet=True,
        prevent_thread_lock=not block,
        **serve_options(project, auth),
    )
    return demo
