"""One gate in front of every event handler of the served app: before Gradio runs a function
(static or created by `gr.render`) it asks `studio.permissions.check_handler` whether the
signed-in user may; refusals are logged and shown as one sentence; successful writes are audited."""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger("studio.serve")


def _describe(inputs: Any) -> str:
    """A short, readable target for the audit trail: the plain values the handler received."""
    parts = []
    for value in inputs if isinstance(inputs, (list, tuple)) else [inputs]:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip():
            parts.append(str(value)[:80])
    return ", ".join(parts)[:300]


def refused(sentence: str) -> None:
    """Refusals go to the log file and to the server's stderr (`studio serve` shows them)."""
    log.warning("refused: %s", sentence)
    print(f"refused: {sentence}", file=sys.stderr, flush=True)


def install(demo: Any, ctx: Any) -> None:
    """Route every call of `demo`'s functions through the permission check."""
    import gradio as gr

    from studio import audit
    from studio.auth import current_user
    from studio.errors import StudioError
    from studio.permissions import check_handler, handler_key, plugin_handlers

    extra = plugin_handlers(ctx.plugins)
    original = demo.process_api

    async def process_api(*args: Any, **kwargs: Any):
        block_fn = kwargs["block_fn"] if "block_fn" in kwargs else args[0]
        if isinstance(block_fn, int):
            block_fn = demo.fns[block_fn]
        request = kwargs.get("request", args[3] if len(args) > 3 else None)
        if isinstance(request, list):  # batched calls carry one request per item
            request = request[0] if request else None
        key = handler_key(block_fn.fn)
        try:
            user = current_user(ctx.auth, request)
            action = check_handler(user, key, extra)
        except StudioError as exc:
            refused(exc.sentence())
            raise gr.Error(exc.sentence(), print_exception=False) from None
        out = await original(*args, **kwargs)
        if action != "view":
            inputs = kwargs["inputs"] if "inputs" in kwargs else (args[1] if len(args) > 1 else [])
            try:
                audit.record(ctx.project, user, action, f"{key}: {_describe(inputs)}")
            except Exception:  # the write happened; a failing audit must not hide it from the user
                log.exception("audit record failed for %s by %s", key, user.name)
        return out

    demo.process_api = process_api
