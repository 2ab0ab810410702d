"""The app shell: a Gradio Blocks page with a sidebar listing the registered panels."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import gradio as gr

from panels.registry import AppContext, all_panels
from studio import flywheel
from studio.logs import setup_logging
from studio.project import Project

log = logging.getLogger("studio.app")

CSS = """
#studio-nav label { width: 100%; }
.studio-panel { min-height: 70vh; }
footer { display: none !important; }
#studio-link, #studio-changes { position: absolute; left: -10000px; width: 10px; height: 10px; overflow: hidden; }
"""

# Links inside the page (`<a href="?panel=…">` in any Markdown) switch panels without a reload:
# the click is caught, the address bar updated, and the query handed to the server through the
# hidden #studio-link box, whose input event runs the same code as a deep link on page load.
LINK_JS = """
() => {
  if (window.__studioLinks) return;
  window.__studioLinks = true;
  const follow = (search, push) => {
    const box = document.querySelector('#studio-link textarea, #studio-link input');
    if (!box) { window.location.search = search; return; }
    if (push) history.pushState({}, '', search);
    box.value = search + '#' + Date.now();  // the same link twice still fires
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  document.addEventListener('click', (e) => {
    const a = e.target && e.target.closest ? e.target.closest('a[href]') : null;
    if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const href = a.getAttribute('href') || '';
    if (!href.startsWith('?panel=')) return;
    e.preventDefault();
    e.stopPropagation();
    follow(href, true);
  }, true);
  window.addEventListener('popstate', () => follow(window.location.search || '?panel=Home', false));
}
"""
# A js-only step has no outputs, and gradio maps over what it returns: return an empty list
# (returning the name threw "r?.map is not a function" on every sidebar click).
NAV_JS = "(name) => { history.pushState({}, '', '?panel=' + encodeURIComponent(name)); return []; }"
POLL_SECONDS = 3.0


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

    # the link catcher goes in <head>: it must be there before the first link can be clicked
    with gr.Blocks(title="Flywheel Studio", css=CSS, theme=offline_theme(), analytics_enabled=False,
                   head=f"<script>({LINK_JS})();</script>") as demo:
        with gr.Sidebar(open=True, elem_id="studio-sidebar"):
            gr.Markdown(f"## Flywheel Studio\n<small>v{__version__} · `{project.home.name}`</small>")
            nav = gr.Radio(choices=names, value=names[0], show_label=False, elem_id="studio-nav")
            link_box = gr.Textbox(elem_id="studio-link", container=False, show_label=False)
            # starts at the token of the moment the app was built: a page opened on an unchanged
            # project does not redraw its lists on the first poll
            ctx.changes = gr.Textbox(flywheel.change_token(project), elem_id="studio-changes", container=False,
                                     show_label=False)
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
        nav.input(None, nav, None, js=NAV_JS)  # the address bar names the panel shown (reload, paste)

        def _panel(params: dict) -> str | None:
            wanted = params.get("panel") or ""
            return next((n for n in names if n.lower() == wanted.lower()), None)

        def from_url(request: gr.Request):
            params = flywheel.parse_link(dict(request.query_params) if request else {})
            match = _panel(params)
            if match is None:
                match = ctx.handlers.get("default_panel", lambda: names[0])()
                match = match if match in names else names[0]
            query = ("?" + urlencode(params)) if _panel(params) else ""
            return [gr.update(value=match), query] + show(match)

        def follow_link(query: str):
            match = _panel(flywheel.parse_link(query))
            if match is None:
                return [gr.skip()] * (1 + len(columns))
            return [gr.update(value=match)] + show(match)

        def _link_step(panel_name: str, fn, n_out: int):
            def open_link(query: str, *values):
                params = flywheel.parse_link(query)
                if _panel(params) != panel_name:
                    return [gr.skip()] * n_out if n_out > 1 else gr.skip()
                return fn(params, *values)
            return open_link

        # Every link is followed, however quickly the next comes: a step still running for the
        # previous link must not swallow this one (gradio's default "once" drops a trigger while
        # the same step is pending; a reviewer clicking Back then a link lost the second).
        def _wire_links(dep):
            for panel_name, (fn, inputs, outputs, js) in ctx.links.items():
                step = dep.then(_link_step(panel_name, fn, len(outputs)), [link_box] + inputs, outputs,
                                trigger_mode="multiple")
                if js:
                    step.then(None, [link_box], None, js=js, trigger_mode="multiple")

        _wire_links(demo.load(from_url, None, [nav, link_box] + columns, queue=False))
        _wire_links(link_box.input(follow_link, link_box, [nav] + columns, queue=False, trigger_mode="multiple"))

        def poll(last: str):
            token = flywheel.change_token(project)
            return gr.skip() if token == last else token

        gr.Timer(POLL_SECONDS).tick(poll, ctx.changes, ctx.changes, queue=False, show_progress="hidden")
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
