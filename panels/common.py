"""Helpers shared by panels: error display and dataset pickers."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from studio.errors import StudioError

log = logging.getLogger("studio.ui")


def user_message(exc: BaseException) -> str:
    """The one sentence a user sees for an exception."""
    if isinstance(exc, StudioError):
        return exc.ui_sentence()  # form words, never CLI flags
    if isinstance(exc, OSError):
        from studio.cli import os_error_sentence

        return os_error_sentence(exc)
    return f"Unexpected error ({type(exc).__name__}: {exc}); details are in logs/studio.log."


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Gradio callback: expected failures become a visible one-sentence gr.Error,
    unexpected ones are logged with their traceback and shown as one sentence."""
    import gradio as gr

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except StudioError as exc:
            log.info("ui: %s", exc.sentence())
            raise gr.Error(exc.ui_sentence(), print_exception=False) from None
        except Exception as exc:
            log.exception("ui callback %s failed", getattr(fn, "__name__", fn))
            raise gr.Error(user_message(exc), print_exception=False) from None

    return wrapper


def shown_table(rows, empty: str, widths=None):
    """(table update, empty-state update): a table with no rows is hidden behind one plain
    sentence instead of showing bare headers (or Gradio's "1 2 3"); `widths(rows)` sizes it."""
    import gradio as gr

    n = 0 if rows is None else len(rows)
    table = gr.update(value=rows, visible=n > 0)
    if widths is not None and n:
        table = gr.update(value=rows, visible=True, column_widths=widths(rows))
    return table, gr.update(value=empty, visible=n == 0)


CHAR_PX = 8.6  # one character of the tables' monospace font (Gradio's --input-text-size)


def column_widths(df, *, wrap: tuple[str, ...] = (), min_px: dict | None = None, max_px: int = 360,
                  fill: dict | None = None) -> list[str]:
    """Pixel widths that fit each column's header and its longest value on one line, so headers
    are never cut ("select…") and numbers never wrap mid-value ("20.5/72"); only the columns
    named in `wrap` (free text: notes, tags, paths) are capped at `max_px` and wrap.
    `fill` {column: share}: those columns share the table's width left by the others (at
    least their `min_px`), so a short table fits its panel without a horizontal scroll."""
    min_px = min_px or {}
    if fill:
        fixed = [c for c in df.columns if c not in fill]
        widths = dict(zip(fixed, column_widths(df[fixed], wrap=wrap, min_px=min_px, max_px=max_px)))
        used = sum(int(w[:-2]) for w in widths.values())
        return [widths[c] if c in widths else
                f"max({int(min_px.get(c, 120))}px, calc((100% - {used}px) * {fill[c]:g}))" for c in df.columns]
    out = []
    for col in df.columns:
        values = [str(v) for v in df[col].tolist()] if len(df) else []
        longest = max((len(v) for v in values), default=0)
        header = len(str(col)) * CHAR_PX + 44  # the sort and menu buttons sit beside the header
        body = longest * CHAR_PX + 22
        px = max(header, body, min_px.get(col, 0), 40)
        if col in wrap:
            px = min(px, max(max_px, min_px.get(col, 0), header))
        out.append(f"{int(px)}px")
    return out
