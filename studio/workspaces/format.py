"""The workspace file format: a Markdown notebook with fenced cells (MyST-like, diff-friendly).

    ---
    title: First look
    dataset: pick_cube_demos
    ---

    Some prose (a markdown cell).

    +++

    Another markdown cell (`+++` on its own line separates adjacent markdown cells).

    ```{sql}
    :id: longest
    :check: ran_query
    SELECT episode_index, length FROM episodes ORDER BY length DESC
    ```

A cell other than markdown is a fence whose info string is `{kind}`; the lines right after
it of the form `:key: value` are its options, the rest is its source. A fence may use more
than three backticks so its source can itself hold ``` fences. Front matter holds
`key: value` lines. `serialize(parse(text))` reproduces a canonical file byte for byte, and
`parse(serialize(ws)) == ws` for every workspace.

A cell's last outputs are kept in the file, in an ```{output} fence right after the cell
(one JSON object per line, written by `studio.workspaces.outputs`), so a reopened workspace
shows what its cells showed; `Cell.outputs` holds that text and the editor never shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from studio.errors import StudioError

MARKDOWN = "markdown"
OUTPUT = "output"  # the fence that holds the preceding cell's outputs
SEPARATOR = "+++"
_FENCE_RE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
_KIND_RE = re.compile(r"^\{(?P<kind>[A-Za-z][A-Za-z0-9_.-]*)\}$")
_OPTION_RE = re.compile(r"^:(?P<key>[A-Za-z][A-Za-z0-9_.-]*):(?:[ \t]+(?P<value>.*?))?[ \t]*$")
_META_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_.-]*):(?:[ \t]+(?P<value>.*?))?[ \t]*$")


class WorkspaceError(StudioError):
    """A workspace file is malformed; `where` names the file, line and cell."""


@dataclass(frozen=True)
class Cell:
    """One notebook cell. `options` keep their file order so a round trip is exact."""

    kind: str
    source: str = ""
    options: tuple[tuple[str, str], ...] = ()
    line: int = field(default=0, compare=False)  # 1-based line of the cell's start in its file
    outputs: str = ""  # the cell's last outputs as stored in the file (JSON lines), "" = none

    def option(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.options:
            if k == key:
                return v
        return default

    @property
    def id(self) -> str | None:
        return self.option("id")

    @property
    def check(self) -> str | None:
        return self.option("check")

    def with_source(self, source: str) -> "Cell":
        return replace(self, source=source)

    def with_option(self, key: str, value: str | None) -> "Cell":
        """A copy with option `key` set (in place when present, else appended) or removed (None)."""
        if value is None:
            opts = [(k, v) for k, v in self.options if k != key]
        elif any(k == key for k, _ in self.options):
            opts = [(k, value if k == key else v) for k, v in self.options]
        else:
            opts = [*self.options, (key, value)]
        return replace(self, options=tuple(opts))

    def int_option(self, key: str, default: int) -> int:
        raw = self.option(key)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise WorkspaceError(f"cell :{key}:", f"'{raw}' is not a whole number") from None


@dataclass(frozen=True)
class Workspace:
    """An ordered list of cells plus front-matter metadata."""

    cells: tuple[Cell, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str:
        return self.get("title") or "Untitled workspace"

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.meta:
            if k == key:
                return v
        return default

    def with_cells(self, cells: Iterable[Cell]) -> "Workspace":
        return replace(self, cells=tuple(cells))

    def insert(self, index: int, cell: Cell) -> "Workspace":
        cells = list(self.cells)
        cells.insert(max(0, min(index, len(cells))), cell)
        return self.with_cells(cells)

    def delete(self, index: int) -> "Workspace":
        self._check_index(index)
        return self.with_cells(c for i, c in enumerate(self.cells) if i != index)

    def move(self, index: int, delta: int) -> "Workspace":
        self._check_index(index)
        target = max(0, min(index + delta, len(self.cells) - 1))
        cells = list(self.cells)
        cells.insert(target, cells.pop(index))
        return self.with_cells(cells)

    def replace_cell(self, index: int, cell: Cell) -> "Workspace":
        self._check_index(index)
        cells = list(self.cells)
        cells[index] = cell
        return self.with_cells(cells)

    def index_of(self, cell_id: str) -> int | None:
        return next((i for i, c in enumerate(self.cells) if c.id == cell_id), None)

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.cells):
            raise WorkspaceError("workspace", f"there is no cell {index + 1} (it has {len(self.cells)})")


def _where(name: str, line: int, cell_index: int) -> str:
    return f"{name}: line {line} (cell {cell_index + 1})"


def parse(text: str, *, name: str = "workspace", known_kinds: Iterable[str] | None = None) -> Workspace:
    """Parse a workspace file. Errors name the file, the line and the (1-based) cell.

    `known_kinds`: when given, a fenced `{kind}` not in it is an error.
    """
    kinds = set(known_kinds) if known_kinds is not None else None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    i = 0
    meta: list[tuple[str, str]] = []
    if lines and lines[0].strip() == "---":
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), None)
        if end is None:
            raise WorkspaceError(f"{name}: line 1", "front matter opened with '---' is never closed")
        for j in range(1, end):
            raw = lines[j]
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            m = _META_RE.match(raw)
            if not m:
                raise WorkspaceError(f"{name}: line {j + 1}", f"front matter line '{raw.strip()}' is not 'key: value'")
            meta.append((m["key"], m["value"] or ""))
        i = end + 1

    cells: list[Cell] = []
    md_lines: list[str] = []
    md_start = i + 1

    def flush_markdown() -> None:
        nonlocal md_lines
        body = "\n".join(md_lines).strip("\n")
        if body.strip():
            lead = next(k for k, ln in enumerate(md_lines) if ln.strip())
            cells.append(Cell(MARKDOWN, body, (), md_start + lead))
        md_lines = []

    while i < len(lines):
        line = lines[i]
        if line.strip() == SEPARATOR:
            flush_markdown()
            i += 1
            md_start = i + 1
            continue
        m = _FENCE_RE.match(line) if not line.startswith("    ") else None
        if m:
            fence = m["fence"]
            info = m["info"]
            km = _KIND_RE.match(info)
            close = _find_close(lines, i + 1, fence)
            if km is None:
                if info.startswith("{"):
                    pending = 1 if "\n".join(md_lines).strip() else 0
                    raise WorkspaceError(_where(name, i + 1, len(cells) + pending),
                                         f"cell fence '{line.strip()}' is not of the form ```{{kind}}")
                # an ordinary code block inside markdown prose: keep it verbatim
                stop = (close if close is not None else len(lines) - 1) + 1
                if not md_lines:
                    md_start = i + 1
                md_lines.extend(lines[i:stop])
                i = stop
                continue
            kind = km["kind"]
            if kind == OUTPUT:
                if md_lines and "\n".join(md_lines).strip() or not cells or cells[-1].kind == MARKDOWN \
                        or cells[-1].outputs:
                    raise WorkspaceError(_where(name, i + 1, len(cells)),
                                         "an {output} block belongs right after the cell it shows")
                if close is None:
                    raise WorkspaceError(_where(name, i + 1, len(cells) - 1), f"the {{output}} fence {fence} is never closed")
                cells[-1] = replace(cells[-1], outputs="\n".join(lines[i + 1 : close]).strip("\n"))
                md_lines = []
                i = close + 1
                md_start = i + 1
                continue
            flush_markdown()
            cell_index = len(cells)
            if kind == MARKDOWN:
                raise WorkspaceError(_where(name, i + 1, cell_index), "markdown cells are plain prose, not a ```{markdown} fence")
            if kinds is not None and kind not in kinds:
                raise WorkspaceError(
                    _where(name, i + 1, cell_index),
                    f"unknown cell kind '{kind}' (known: {', '.join(sorted(kinds))})",
                )
            if close is None:
                raise WorkspaceError(_where(name, i + 1, cell_index), f"the {{{kind}}} cell's fence {fence} is never closed")
            body = lines[i + 1 : close]
            opts: list[tuple[str, str]] = []
            k = 0
            while k < len(body):
                om = _OPTION_RE.match(body[k])
                if om is None:
                    if body[k].startswith(":") and not body[k].startswith("::"):
                        raise WorkspaceError(
                            _where(name, i + 2 + k, cell_index),
                            f"option line '{body[k].strip()}' is not ':key: value'",
                        )
                    break
                key = om["key"]
                if any(key == o for o, _ in opts):
                    raise WorkspaceError(_where(name, i + 2 + k, cell_index), f"option :{key}: is given twice")
                opts.append((key, om["value"] or ""))
                k += 1
            cells.append(Cell(kind, "\n".join(body[k:]), tuple(opts), i + 1))
            i = close + 1
            md_start = i + 1
            continue
        if not md_lines:
            md_start = i + 1
        md_lines.append(line)
        i += 1
    flush_markdown()

    seen: dict[str, int] = {}
    for idx, cell in enumerate(cells):
        if cell.id:
            if cell.id in seen:
                raise WorkspaceError(_where(name, cell.line, idx), f"cell id '{cell.id}' is already used by cell {seen[cell.id] + 1}")
            seen[cell.id] = idx
    return Workspace(tuple(cells), tuple(meta))


def _find_close(lines: list[str], start: int, fence: str) -> int | None:
    char = fence[0]
    for j in range(start, len(lines)):
        s = lines[j].rstrip()
        if s and set(s) == {char} and len(s) >= len(fence) and not lines[j].startswith("    "):
            return j
    return None


def _fence_for(source: str) -> str:
    longest = max((len(m.group(0)) for m in re.finditer(r"`{3,}", source)), default=0)
    return "`" * max(3, longest + 1)


def serialize(ws: Workspace) -> str:
    """The canonical text of a workspace (what `save` writes)."""
    parts: list[str] = []
    if ws.meta:
        parts.append("---\n" + "".join(f"{k}: {v}".rstrip() + "\n" for k, v in ws.meta) + "---")
    prev_markdown = False
    for cell in ws.cells:
        if cell.kind == MARKDOWN:
            if prev_markdown:
                parts.append(SEPARATOR)
            parts.append(cell.source.strip("\n"))
            prev_markdown = True
            continue
        prev_markdown = False
        fence = _fence_for(cell.source)
        body = [fence + "{" + cell.kind + "}"]
        body += [f":{k}: {v}".rstrip() for k, v in cell.options]
        if cell.source != "":
            body.append(cell.source)
        body.append(fence)
        parts.append("\n".join(body))
        if cell.outputs:
            parts.append(f"```{{{OUTPUT}}}\n{cell.outputs}\n```")
    return "\n\n".join(parts) + "\n"


def read(path: str | Path, *, known_kinds: Iterable[str] | None = None) -> Workspace:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkspaceError(str(path), "no such workspace file") from None
    except UnicodeDecodeError as exc:
        raise WorkspaceError(str(path), f"is not UTF-8 text (byte {exc.start})") from None
    return parse(text, name=path.name, known_kinds=known_kinds)


def write(path: str | Path, ws: Workspace) -> Path:
    """Save atomically (a crash never leaves a half-written workspace)."""
    from studio.fsutil import atomic_write_text

    return atomic_write_text(path, serialize(ws))


def cell_body(cell: Cell) -> str:
    """What an editor shows for a cell: its `:key: value` option lines, then its source."""
    if cell.kind == MARKDOWN:
        return cell.source
    head = "".join(f":{k}: {v}".rstrip() + "\n" for k, v in cell.options)
    return head + cell.source if cell.source else head.rstrip("\n")


def parse_body(kind: str, text: str, *, name: str = "cell") -> Cell:
    """The inverse of `cell_body`: an edited cell body back into a Cell (errors name the line)."""
    text = text.replace("\r\n", "\n")
    if kind == MARKDOWN:
        return Cell(MARKDOWN, text.strip("\n"))
    fence = _fence_for(text)
    try:
        ws = parse(f"{fence}{{{kind}}}\n{text}\n{fence}\n" if text else f"{fence}{{{kind}}}\n{fence}\n", name="body")
    except WorkspaceError as exc:
        m = re.search(r"line (\d+)", exc.where)
        line = f", line {max(1, int(m.group(1)) - 1)}" if m else ""
        raise WorkspaceError(f"{name}{line}", exc.what) from None
    if len(ws.cells) != 1:
        raise WorkspaceError(name, "a cell body cannot contain a ``` fence on its own line")
    return ws.cells[0]
