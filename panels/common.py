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
        return exc.sentence()
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
            raise gr.Error(exc.sentence(), print_exception=False) from None
        except Exception as exc:
            log.exception("ui callback %s failed", getattr(fn, "__name__", fn))
            raise gr.Error(user_message(exc), print_exception=False) from None

    return wrapper
