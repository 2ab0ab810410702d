"""An open notebook: a workspace file plus its outputs, pending edits and autosave.

The Workspaces panel drives one `NotebookSession` per browser session; everything it shows
is computed here (and by the cell kinds), so the same notebook can be driven from tests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from studio.workspaces import checks, runner
from studio.workspaces.cells import RunContext, cell_kinds, new_cell
from studio.workspaces.format import Cell, Workspace, WorkspaceError, cell_body, parse, parse_body, serialize
from studio.workspaces.store import open_workspace, path_of, save_workspace


class NotebookSession:
    def __init__(self, project, name: str, *, user: str = "local", readonly: bool = False):
        self.project = project
        self.name = name[:-3] if name.endswith(".md") else name
        self.user = user
        self.lock = threading.RLock()
        self.workspace = Workspace()
        self.results: list[runner.CellResult | None] = []
        self.pending: dict[int, str] = {}
        self.error: str | None = None  # the file is invalid: this sentence names the bad cell
        self.raw = ""  # the file's text (shown for repair when invalid)
        self.cache: dict = {}
        self.saved_at: float | None = None
        self.dirty = False
        self.version = 0
        self.readonly = readonly  # a viewer's edits stay in their tab and are never saved
        self.load()

    # ------------------------------------------------------------------ file

    @property
    def path(self) -> Path:
        return path_of(self.project, self.name)

    def load(self) -> None:
        with self.lock:
            self.pending.clear()
            self.cache.clear()
            try:
                self.workspace = open_workspace(self.project, self.name)
                self.error = None
            except WorkspaceError as exc:
                self.workspace = Workspace()
                self.error = exc.sentence()
            self.raw = self.path.read_text(encoding="utf-8", errors="replace") if self.path.exists() else ""
            self.results = [None] * len(self.workspace.cells)
            self._restore_checks()
            self.dirty = False
            self.version += 1
            if not self.readonly:  # a viewer reading leaves the project as it was
                try:
                    self.project.set_setting("workspaces.last", self.name)
                except Exception:  # a read-only project still opens its workspaces
                    pass

    def _restore_checks(self) -> None:
        """Guided progress and outputs survive a closed tab: each cell shows its last outputs
        (kept in the workspace file) and each check its last result (kept in studio.db)."""
        from studio.workspaces import outputs

        done = runner.progress(self.project, self.name)
        for i, cell in enumerate(self.workspace.cells):
            prev = done.get(runner.cell_key(cell, i)) if cell.check else None
            shown, error = outputs.load(cell.outputs) if cell.outputs else ([], None)
            if prev is not None or shown or error:
                self.results[i] = runner.CellResult(i, cell.kind, outputs=shown, error=error, check=prev,
                                                    cell_id=cell.id)

    def repair(self, text: str) -> None:
        """Replace an invalid file's text (validated first; refused while still broken)."""
        with self.lock:
            parse(text, name=self.path.name, known_kinds=cell_kinds().keys())
            from studio.fsutil import atomic_write_text

            atomic_write_text(self.path, text)
            self.load()

    def save(self) -> Path:
        with self.lock:
            if self.readonly:
                from studio.errors import AuthError

                raise AuthError(self.path.name, "your role may not change workspaces (it needs the curator role)")
            if self.error:
                raise WorkspaceError(self.path.name, "fix the file first: " + self.error)
            self.apply_edits()
            path = save_workspace(self.project, self.name, self.workspace)
            self.raw = serialize(self.workspace)
            self.saved_at = time.time()
            self.dirty = False
            return path

    def changed_on_disk(self) -> bool:
        """True when another tab or user wrote the file since this session read or saved it."""
        try:
            return self.path.read_text(encoding="utf-8", errors="replace") != self.raw
        except FileNotFoundError:
            return False

    def autosave(self) -> bool:
        """Save when there are unsaved changes that parse; True when something was written.

        Never overwrites a file someone else changed meanwhile (an explicit `save` does)."""
        with self.lock:
            if self.readonly or self.error or not (self.dirty or self.pending):
                return False
            if self.changed_on_disk():
                return False
            try:
                self.save()
            except WorkspaceError:
                return False
            return True

    # ------------------------------------------------------------------ edits

    def body(self, index: int) -> str:
        return self.pending.get(index, cell_body(self.workspace.cells[index]))

    def edit(self, index: int, body: str) -> None:
        with self.lock:
            if 0 <= index < len(self.workspace.cells) and body != self.body(index):
                self.pending[index] = body
                self.dirty = True

    def apply_edits(self) -> None:
        with self.lock:
            ws = self.workspace
            for i, body in sorted(self.pending.items()):
                if i >= len(ws.cells):
                    continue
                cell = ws.cells[i]
                new = replace(parse_body(cell.kind, body, name=f"cell {i + 1}"), outputs=cell.outputs)
                if new != cell:
                    ws = ws.replace_cell(i, new)
            self.workspace = ws
            self.pending.clear()

    def add(self, kind: str, index: int | None = None) -> int:
        with self.lock:
            self.apply_edits()
            index = len(self.workspace.cells) if index is None else index
            self.workspace = self.workspace.insert(index, new_cell(kind))
            self.results.insert(index, None)
            self._changed()
            return index

    def move(self, index: int, delta: int) -> None:
        with self.lock:
            self.apply_edits()
            target = max(0, min(index + delta, len(self.workspace.cells) - 1))
            self.workspace = self.workspace.move(index, delta)
            self.results.insert(target, self.results.pop(index))
            self._changed()

    def delete(self, index: int) -> None:
        with self.lock:
            self.apply_edits()
            self.workspace = self.workspace.delete(index)
            self.results.pop(index)
            self._changed()

    def _changed(self) -> None:
        self.dirty = True
        self.version += 1
        self.autosave()

    # ------------------------------------------------------------------ runs

    def context(self, progress: Callable[[float, str], None] | None = None) -> RunContext:
        ctx = RunContext(self.project, self.workspace, self.name, user=self.user, progress=progress, cache=self.cache)
        for i, res in enumerate(self.results):
            if res is not None and res.outputs:
                ctx.results[str(i)] = res
                ctx.results[runner.cell_key(self.workspace.cells[i], i)] = res
        return ctx

    def run(self, index: int, progress=None) -> runner.CellResult:
        with self.lock:
            if self.error:
                raise WorkspaceError(self.path.name, self.error)
            self.apply_edits()
            self.autosave()
            ctx = self.context(progress)
        res = runner.run_cell(ctx, index)
        with self.lock:
            if index < len(self.results):
                self.results[index] = res
            self.version += 1
            self._keep_outputs(index, res)
        return res

    def _keep_outputs(self, index: int, res: runner.CellResult) -> None:
        """Write a run's outputs into the workspace file (a viewer's runs stay in their tab)."""
        from studio.workspaces import outputs

        if self.readonly or index >= len(self.workspace.cells):
            return
        cell = self.workspace.cells[index]
        if cell.kind == "markdown" or (cell.kind, cell.id) != (res.kind, res.cell_id):
            return  # markdown shows its own text; a cell moved during the run keeps its outputs
        text = outputs.dump(res.outputs, res.error)
        if text != cell.outputs:
            self.workspace = self.workspace.replace_cell(index, replace(cell, outputs=text))
            self.dirty = True
            self.autosave()

    def run_all(self, progress=None) -> list[runner.CellResult]:
        out = []
        n = len(self.workspace.cells)
        for i in range(n):
            if progress is not None:
                progress(i / max(n, 1), f"cell {i + 1} of {n}")
            out.append(self.run(i))
        return out

    def checks_done(self) -> tuple[int, int]:
        cells = [(i, c) for i, c in enumerate(self.workspace.cells) if c.check]
        passed = sum(1 for i, _ in cells if self.results[i] is not None and self.results[i].check and self.results[i].check.passed)
        return passed, len(cells)

    def check_of(self, index: int) -> checks.CheckResult | None:
        res = self.results[index] if index < len(self.results) else None
        return res.check if res is not None else None

    def cell(self, index: int) -> Cell:
        return self.workspace.cells[index]
