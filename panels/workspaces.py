"""Workspaces: notebooks of cells (Markdown files with fenced cells) and the guided tours.

The panel is a thin driver of `studio.workspaces.session.NotebookSession`: it renders the
open workspace's cells with `gr.render`, runs cells, edits the structure and autosaves.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from panels.common import guarded
from panels.registry import AppContext, Panel

CSS_CLASSES = "ws-cell"
STYLE = """<style>
.ws-cell { border: 1px solid var(--border-color-primary); border-radius: 8px; margin-bottom: 10px; }
.ws-cell-markdown { background: transparent !important; border-color: transparent; }
.ws-cell-label { font-size: 0.85em; opacity: 0.75; }
.ws-check { padding: 4px 10px !important; border-radius: 6px; }
.ws-check-pass { background: #e3f4ea !important; color: #14532d; }
.ws-check-fail { background: #fdecea !important; color: #7f1d1d; }
.ws-check-todo { background: #f3f4f6 !important; }
.ws-error { color: #b91c1c; }
</style>"""
RUN_PERMISSION = {"curate": "select", "train": "train", "evaluate": "evaluate"}
LANGUAGE = {"sql": "sql", "chart": "sql", "curate": "sql"}
DEMO_DATASET = "pick_cube_demos"
# the notebook's gr.render runs one at a time: renders of one page share its session's block
# table, and two at once fail with "dictionary changed size" (gradio #9991)
RENDER_QUEUE = "studio-render"


def _user(ctx: AppContext, request: gr.Request | None):
    from studio.auth import current_user

    return current_user(ctx.auth, request)


def _require(ctx: AppContext, request: gr.Request | None, permission: str):
    from studio.auth import require

    return require(ctx.auth, request, permission)


def _status(text: str) -> str:
    return f"<small>{text}</small>"


def _check_markdown(cell, check) -> tuple[str, str]:
    """The check line under a cell and its CSS class."""
    from studio.workspaces.checks import CHECKS

    if check is None:
        doc = CHECKS[cell.check].doc if cell.check in CHECKS else cell.check
        return f"○ **Check:** run this cell — {doc[0].lower() + doc[1:]}", "ws-check-todo"
    if check.passed:
        return f"✔ {check.message}", "ws-check-pass"
    return f"✘ {check.message}", "ws-check-fail"


def _progress_markdown(nb) -> str:
    if nb is None:
        return ""
    title = f"### {nb.workspace.title}" if not nb.error else f"### {nb.name}"
    done, total = nb.checks_done() if not nb.error else (0, 0)
    if total:
        mark = "all steps done — well done!" if done == total else f"{done} of {total} steps done"
        return f"{title}\n**Guided workspace** · {mark}"
    return title


def build(ctx: AppContext) -> None:
    from studio.workspaces import cell_kinds, list_workspaces
    from studio.workspaces.session import NotebookSession
    from studio.workspaces.store import FIRST_GUIDED, FIRST_SHOWN_SETTING

    project = ctx.project
    kinds = sorted(cell_kinds())

    # A first launch on the demo world opens guided workspace 1.
    if project.get_setting(FIRST_SHOWN_SETTING) is None:
        def default_panel() -> str | None:
            if project.get_setting(FIRST_SHOWN_SETTING) is None and (project.datasets_dir / DEMO_DATASET).exists():
                project.set_setting(FIRST_SHOWN_SETTING, "1")
                return "Workspaces"
            return None

        ctx.handlers["default_panel"] = default_panel

    gr.HTML(STYLE, visible=True, padding=False)
    nb_state = gr.State(None)
    tick = gr.State(0)
    with gr.Row(equal_height=True):
        picker = gr.Dropdown(choices=[], label="Workspace", elem_id="ws-picker", scale=3, allow_custom_value=False)
        run_all = gr.Button("▶▶ Run all", elem_id="ws-run-all", scale=1)
        save = gr.Button("Save", elem_id="ws-save", scale=1)
    with gr.Row(equal_height=True):
        add_kind = gr.Dropdown(choices=kinds, value="sql", label="New cell kind", elem_id="ws-add-kind", scale=2)
        add = gr.Button("+ Add cell", elem_id="ws-add", scale=1)
        new_name = gr.Textbox(label="New workspace name", placeholder="my-analysis", elem_id="ws-new-name", scale=2)
        new = gr.Button("Create", elem_id="ws-new", scale=1)
    header = gr.Markdown(elem_id="ws-header")
    status = gr.Markdown(elem_id="ws-status")
    timer = gr.Timer(5.0)

    def open_nb(name: str, request: gr.Request | None):
        user = _user(ctx, request)
        nb = NotebookSession(project, name, user=user.name, readonly=not user.can("edit_workspace"))
        msg = f"Opened `{nb.path.name}`" if not nb.error else "⚠ This workspace file is invalid."
        return nb, msg

    @guarded
    def initial(request: gr.Request):
        names = list_workspaces(project)
        wanted = (request.query_params.get("workspace") if request else None) or project.get_setting("workspaces.last")
        if wanted not in names:
            wanted = FIRST_GUIDED if FIRST_GUIDED in names else (names[0] if names else None)
        if wanted is None:
            return None, 1, gr.update(choices=[]), "", _status("No workspaces yet: create one.")
        nb, msg = open_nb(wanted, request)
        return nb, 1, gr.update(choices=names, value=wanted), _progress_markdown(nb), _status(msg)

    ctx.handlers["on_load:workspaces"] = lambda demo: demo.load(
        initial, None, [nb_state, tick, picker, header, status]
    )

    @guarded
    def pick(name, t, request: gr.Request):
        if not name:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        nb, msg = open_nb(name, request)
        return nb, t + 1, _progress_markdown(nb), _status(msg)

    picker.input(pick, [picker, tick], [nb_state, tick, header, status])

    @guarded
    def create(name, t, request: gr.Request):
        from studio.workspaces import create_workspace

        _require(ctx, request, "edit_workspace")
        name = (name or "").strip()
        create_workspace(project, name, dataset=DEMO_DATASET if (project.datasets_dir / DEMO_DATASET).exists() else None)
        nb, msg = open_nb(name, request)
        return nb, t + 1, gr.update(choices=list_workspaces(project), value=nb.name), _progress_markdown(nb), _status(msg), ""

    new.click(create, [new_name, tick], [nb_state, tick, picker, header, status, new_name])

    @guarded
    def do_save(nb, request: gr.Request):
        if nb is None:
            return gr.skip()
        _require(ctx, request, "edit_workspace")
        path = nb.save()
        return _status(f"Saved `{path.name}` at {time.strftime('%H:%M:%S')}")

    save.click(do_save, nb_state, status)

    def autosave(nb):
        if nb is not None and nb.autosave():
            return _status(f"Autosaved `{nb.path.name}` at {time.strftime('%H:%M:%S')}")
        if nb is not None and (nb.dirty or nb.pending) and not nb.readonly and nb.changed_on_disk():
            return _status(f"`{nb.path.name}` was changed elsewhere (another tab or user): not autosaved. "
                           "*Save* overwrites it; reopen the workspace to take their version.")
        return gr.skip()

    timer.tick(autosave, nb_state, status, show_progress="hidden", queue=False)

    @guarded
    def do_add(nb, kind, t, request: gr.Request):
        if nb is None:
            return gr.skip(), gr.skip()
        _require(ctx, request, "edit_workspace")
        nb.add(kind)
        return t + 1, _progress_markdown(nb)

    add.click(do_add, [nb_state, add_kind, tick], [tick, header])

    @guarded
    def do_run_all(nb, t, request: gr.Request, progress=gr.Progress()):
        if nb is None:
            return gr.skip(), gr.skip(), gr.skip()
        for cell in nb.workspace.cells:
            _require(ctx, request, RUN_PERMISSION.get(cell.kind, "view"))
        results = nb.run_all(progress=lambda f, what: progress(f, desc=what))
        failed = [r.index + 1 for r in results if r.error]
        msg = "Ran all cells" + (f"; cells {', '.join(map(str, failed))} failed" if failed else "")
        return t + 1, _progress_markdown(nb), _status(msg)

    run_all.click(do_run_all, [nb_state, tick], [tick, header, status])

    @gr.render(inputs=[nb_state], triggers=[tick.change], concurrency_id=RENDER_QUEUE, concurrency_limit=1)
    def render(nb):
        if nb is None:
            return
        if nb.error:
            gr.Markdown(f"**This workspace file is invalid:** {nb.error}", elem_id="ws-error", elem_classes="ws-error")
            raw = gr.Code(value=nb.raw, language="markdown", label=nb.path.name, elem_id="ws-raw", interactive=True)
            fix = gr.Button("Save and reopen", elem_id="ws-repair")

            @guarded
            def repair(text, t, request: gr.Request):
                _require(ctx, request, "edit_workspace")
                nb.repair(text)
                return t + 1, _progress_markdown(nb), _status("Repaired and reopened")

            fix.click(repair, [raw, tick], [tick, header, status])
            return
        for i, cell in enumerate(nb.workspace.cells):
            _render_cell(ctx, nb, i, cell, tick, header, status)


def _render_cell(ctx: AppContext, nb, i: int, cell, tick, header, status) -> None:
    markdown = cell.kind == "markdown"
    result = nb.results[i] if i < len(nb.results) else None
    with gr.Column(elem_id=f"ws-cell-{i}", elem_classes=[CSS_CLASSES, f"ws-cell-{cell.kind}"]):
        with gr.Row(equal_height=True):
            label = f"`{i + 1}` **{cell.kind}**" + (f" · `{cell.id}`" if cell.id else "")
            gr.Markdown(label, elem_id=f"ws-cell-{i}-label", elem_classes="ws-cell-label")
            run = None if markdown else gr.Button("▶ Run", elem_id=f"ws-cell-{i}-run", size="sm", variant="primary",
                                                  scale=0, min_width=90)
            up = gr.Button("▲", elem_id=f"ws-cell-{i}-up", size="sm", scale=0, min_width=44)
            down = gr.Button("▼", elem_id=f"ws-cell-{i}-down", size="sm", scale=0, min_width=44)
            delete = gr.Button("✕", elem_id=f"ws-cell-{i}-delete", size="sm", scale=0, min_width=44)
        if markdown:
            gr.Markdown(nb.body(i), elem_id=f"ws-cell-{i}-md")
            with gr.Accordion("Edit text", open=False):
                editor = gr.Code(value=nb.body(i), language="markdown", show_label=False, elem_id=f"ws-cell-{i}-editor")
        else:
            editor = gr.Code(value=nb.body(i), language=LANGUAGE.get(cell.kind), show_label=False,
                             elem_id=f"ws-cell-{i}-editor", lines=max(2, min(12, nb.body(i).count("\n") + 1)))
        if result is not None and result.error:
            gr.Markdown(f"✘ {result.error}", elem_id=f"ws-cell-{i}-error", elem_classes="ws-error")
        if result is not None:
            for j, out in enumerate(result.outputs):
                _render_output(out, f"ws-cell-{i}-out-{j}", markdown)
        if cell.check:
            text, cls = _check_markdown(cell, result.check if result else None)
            gr.Markdown(text, elem_id=f"ws-cell-{i}-check", elem_classes=["ws-check", cls])

    editor.change(lambda body, nb=nb, i=i: nb.edit(i, body), editor, None, queue=False, show_progress="hidden")

    def structure(op):
        @guarded
        def handler(t, request: gr.Request):
            _require(ctx, request, "edit_workspace")
            op()
            return t + 1, _progress_markdown(nb)

        return handler

    up.click(structure(lambda: nb.move(i, -1)), tick, [tick, header])
    down.click(structure(lambda: nb.move(i, +1)), tick, [tick, header])
    delete.click(structure(lambda: nb.delete(i)), tick, [tick, header])
    if run is not None:
        @guarded
        def run_cell(body, t, request: gr.Request, progress=gr.Progress()):
            _require(ctx, request, RUN_PERMISSION.get(cell.kind, "view"))
            nb.edit(i, body)
            res = nb.run(i, progress=lambda f, what: progress(f, desc=what))
            msg = f"Cell {i + 1} ran in {res.seconds:.1f} s" if res.ok else f"Cell {i + 1} failed"
            return t + 1, _progress_markdown(nb), _status(msg)

        run.click(run_cell, [editor, tick], [tick, header, status])


def _render_output(out, elem_id: str, markdown_cell: bool) -> Any:
    if out.kind == "markdown":
        if markdown_cell:
            return None  # a markdown cell's text is already shown
        return gr.Markdown(out.data, elem_id=elem_id)
    if out.kind == "table":
        df = out.data
        shown = df.head(500) if hasattr(df, "head") else df
        label = out.title or None
        if hasattr(df, "__len__") and len(df) > 500:
            label = f"{out.title or ''} (first 500 of {len(df)} rows)".strip()
        if not len(shown):
            return gr.Markdown(f"_{out.title or 'The result'}: no rows._", elem_id=elem_id)
        from panels.common import column_widths

        long_text = tuple(c for c in shown.columns if shown[c].astype(str).str.len().max() > 40)
        return gr.Dataframe(value=shown, label=label, interactive=False, max_height=320, elem_id=elem_id,
                            column_widths=column_widths(shown, wrap=long_text), wrap=True)
    if out.kind == "plotly":
        return gr.Plot(value=out.data, label=out.title or None, elem_id=elem_id)
    if out.kind == "viewer":  # a viewer per render of the cell (the notebook re-renders), from frame 0
        from panels.viewer import rerun_component

        return rerun_component([str(out.data)], height=640, elem_id=elem_id)
    if out.kind == "text":
        return gr.Code(value=str(out.data), language=None, interactive=False, elem_id=elem_id)
    return None  # json outputs feed the checks; nothing to show


PANEL = Panel(name="Workspaces", build=build, order=60, description="Notebooks of cells and guided tours")
