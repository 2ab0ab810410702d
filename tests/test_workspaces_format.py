"""The workspace file format: exact round trips, every cell kind, errors that name the bad cell."""

import pytest

from studio.workspaces import Cell, Workspace, WorkspaceError, cell_kinds, parse, serialize
from studio.workspaces.format import read, write

BUILTIN = ["markdown", "sql", "chart", "curate", "train", "evaluate", "playback", "compare"]

CANONICAL = """---
title: Every kind
dataset: pick_cube_demos
---

# Every kind

Some *prose* with a code block that is not a cell:

```python
print("hello")
```

+++

A second markdown cell right after the first.

```{overview}
:check: opened_dataset
```

```{sql}
:id: longest
:check: ran_query
:chart: bar
SELECT episode_index, length
FROM episodes
ORDER BY length DESC
```

```{chart}
:from: longest
:chart: histogram
:x: length
```

```{curate}
:save: smooth-and-fast
jerk_rms <= quantile(jerk_rms, 0.7)
AND idle_s < 1.5
```

```{train}
:pipeline: pretrain-posttrain
:selection: smooth-and-fast
:steps: 200
```

```{evaluate}
:checkpoint: latest
:episodes: 50
:workers: 2
```

```{playback}
:episode: 17
```

````{compare}
:a: all-data
:b: curated
```
a nested fence inside a cell's source
```
````

```{sql}
```
"""


def test_every_builtin_kind_is_registered():
    kinds = cell_kinds()
    for k in BUILTIN:
        assert k in kinds, k


def test_canonical_file_round_trips_byte_for_byte():
    ws = parse(CANONICAL)
    assert serialize(ws) == CANONICAL
    kinds = [c.kind for c in ws.cells]
    for k in BUILTIN:
        assert k in kinds
    assert ws.title == "Every kind" and ws.get("dataset") == "pick_cube_demos"
    assert kinds[:2] == ["markdown", "markdown"]
    assert "```python" in ws.cells[0].source  # ordinary fences stay prose
    sql = ws.cells[3]
    assert sql.id == "longest" and sql.check == "ran_query" and sql.option("chart") == "bar"
    assert sql.source == "SELECT episode_index, length\nFROM episodes\nORDER BY length DESC"
    assert "```" in ws.cells[-2].source and ws.cells[-2].option("a") == "all-data"
    assert ws.cells[-1].source == "" and ws.cells[-1].options == ()


@pytest.mark.parametrize("kind", BUILTIN + ["overview", "my_plugin_kind"])
def test_round_trip_of_each_cell_kind(kind):
    if kind == "markdown":
        cells = (Cell("markdown", "# Title\n\nText with `code`."), Cell("markdown", "Adjacent prose."))
    else:
        cells = (
            Cell(kind, "line one\n\n  indented line\n```\nfence in source\n```", (("id", f"{kind}-1"), ("x", "a b: c"))),
            Cell(kind, "", (("only", "options"),)),
            Cell(kind, "no options"),
            Cell(kind, ""),
        )
    ws = Workspace(cells, (("title", f"{kind} cells"),))
    text = serialize(ws)
    assert parse(text) == ws
    assert serialize(parse(text)) == text


def test_save_is_atomic_and_readable(tmp_path):
    ws = parse(CANONICAL)
    path = write(tmp_path / "ws.md", ws)
    assert read(path) == ws
    assert [p.name for p in tmp_path.iterdir()] == ["ws.md"]  # no temp files left behind


def test_edit_operations_keep_the_format_valid():
    ws = parse(CANONICAL)
    ws2 = ws.move(3, -1).delete(0).insert(1, Cell("sql", "SELECT 1", (("id", "new"),)))
    assert parse(serialize(ws2)) == ws2
    assert ws2.index_of("new") == 1
    assert ws.cells[3].with_option("chart", "line").option("chart") == "line"
    assert ws.cells[3].with_option("chart", None).option("chart") is None


@pytest.mark.parametrize(
    "text, line, cell, what",
    [
        ("# Hi\n\n```{sql}\nSELECT 1\n", 3, 2, "never closed"),
        ("# Hi\n\n```{sql}\nSELECT 1\n```\n\n```{nonsense}\nx\n```\n", 7, 3, "unknown cell kind 'nonsense'"),
        ("```{sql}\n:id: a\nSELECT 1\n```\n\n```{chart}\n:id: a\n```\n", 6, 2, "already used by cell 1"),
        ("```{sql}\n:id a\nSELECT 1\n```\n", 2, 1, "is not ':key: value'"),
        ("```{sql}\n:id: a\n:id: b\n```\n", 3, 1, "given twice"),
        ("Intro\n\n```{sql x}\nSELECT 1\n```\n", 3, 2, "not of the form"),
        ("---\ntitle: x\n", 1, None, "never closed"),
    ],
)
def test_broken_file_names_line_and_cell(text, line, cell, what):
    with pytest.raises(WorkspaceError) as err:
        parse(text, name="bad.md", known_kinds=cell_kinds().keys())
    where = err.value.where
    assert where.startswith(f"bad.md: line {line}"), where
    if cell is not None:
        assert f"(cell {cell})" in where, where
    assert what in err.value.what


def test_broken_file_on_disk_is_one_sentence(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text("# ok\n\n```{sql}\nSELECT 1\n```\n\n```{chart}\n:chart: bar\n")
    with pytest.raises(WorkspaceError) as err:
        read(path)
    assert err.value.sentence() == "broken.md: line 7 (cell 3): the {chart} cell's fence ``` is never closed"
