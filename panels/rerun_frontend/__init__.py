"""The studio's Rerun viewer component: gradio-rerun's, with one viewer kept per panel visit.

gradio-rerun 0.26.2's front end starts a web viewer when the component mounts and, on every
new value, opens the value's recordings in it without closing the ones already open. The
viewer keeps the blueprint that was active, so from the second play on every view shows the
first recording's entities and draws nothing, and recordings pile up in the page.

`StudioRerun` is the same component (same Python side, same data model) served with a front
end derived from the installed gradio-rerun by small source edits, each checked to
apply exactly once (a gradio-rerun whose front end differs fails loudly, naming the edit):

1. every new value first closes the recordings the previous value opened
   (`WebViewer.close(url)`), then opens its own: the page shows exactly what was asked,
   with that recording's blueprint, from its time cursor; a value naming the recordings
   already open (a replay) rewinds them to the start and plays; a value object handed
   over twice is handled once;
2. the recordings a value opens by URL are remembered for (1);
3. the viewer starts on the first value (two animation frames later, once the page shows
   the component), not when the component mounts: a panel that nobody plays in costs no
   viewer start (the most expensive part of a play), and a viewer started while hidden
   would never repaint;
4. (within 1 and 3) every RESTART_EVERY recordings the viewer is stopped and started afresh:
   closed recordings do not give all their memory back (see RESTART_EVERY).

The derived front end is written next to this module (`templates/`, git-ignored) the first
time it is needed or whenever the installed gradio-rerun's front end changes; the write is
atomic. docs/decisions.md records why the studio patches a front end instead of building one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STAMP = TEMPLATES / "SOURCE"
_lock = threading.Lock()

# (what to find in gradio-rerun's compiled Svelte component, what to put instead, why)
EDITS: tuple[tuple[str, str, str], ...] = (
    (
        "  async function K() {\n    if (D != null && !(O == null || !O.ready)) {",
        "  let __studio_open = [], __studio_start = null, __studio_last = void 0, __studio_boot = null, __studio_plays = 0;\n"
        "  async function K() {\n"
        "    if (D != null && __studio_start) {\n"
        "      const start = __studio_start;  // after the page shows the (so far hidden) component\n"
        "      requestAnimationFrame(() => requestAnimationFrame(() => { if (__studio_start === start) start(); }));\n"
        "      return;\n"
        "    }\n"
        "    if (O == null || !O.ready) return;\n"
        "    if (D === __studio_last) return;  // the same value handed over again (gradio sets props more than once)\n"
        "    __studio_last = D;\n"
        "    const want = Array.isArray(D) ? D.filter((R) => typeof R == \"string\") : [];\n"
        "    if (want.length && want.length === __studio_open.length && want.every((u, k) => u === __studio_open[k])) {\n"
        "      // the same recordings played again: back to the start and play (closing and reopening\n"
        "      // one URL at once races in the viewer, which then shows an empty recording)\n"
        "      try {\n"
        "        const r = O.get_active_recording_id(), tl = r && O.get_active_timeline(r);\n"
        "        if (r && tl) { O.set_current_time(r, tl, 0); O.set_playing(r, !0); }\n"
        "      } catch (e) { console.warn(\"rerun: replaying\", e); }\n"
        "      return;\n"
        "    }\n"
        "    if (want.length && __studio_boot && ++__studio_plays > RESTART_EVERY) {\n"
        "      // a closed recording does not give all its memory back (the page grew ~1 GB per\n"
        "      // 1,000-frame two-camera episode and crashed after 13 plays): start afresh\n"
        "      __studio_plays = 0; __studio_open = []; __studio_last = void 0;\n"
        "      try { O.stop(); } catch (e) { console.warn(\"rerun: restarting\", e); }\n"
        "      __studio_boot();  // its ready event opens this value\n"
        "      return;\n"
        "    }\n"
        "    for (const u of __studio_open) { try { O.close(u); } catch (e) { console.warn(\"rerun: closing\", u, e); } }\n"
        "    __studio_open = [];\n"
        "    if (D != null && !(O == null || !O.ready)) {",
        "close the previous value's recordings before opening the new value's",
    ),
    (
        "          } else\n            O.open(R);",
        "          } else\n            O.open(R), __studio_open.push(R);",
        "remember the recordings a value opened by URL",
    ),
    (
        "  }), O.start(void 0, N, {\n    hide_welcome_screen: !0,\n    allow_fullscreen: !0,\n"
        "    width: \"\",\n    height: \"\"\n  }), () => {",
        "  }), __studio_boot = () => O.start(void 0, N, {\n"
        "    hide_welcome_screen: !0,\n    allow_fullscreen: !0,\n    width: \"\",\n    height: \"\"\n"
        "  }), __studio_start = () => { __studio_start = null; __studio_boot(); }, D != null && __studio_start(), () => {\n"
        "    __studio_start = null; __studio_boot = null;",
        "start the viewer on the first value, not on mount",
    ),
)


# Recordings a viewer opens before it is stopped and started afresh. rerun-sdk 0.26.2's web viewer
# keeps memory of the recordings it closed: a page grew ~1.1 GB per play of a 1,000-frame
# two-camera episode and crashed after 13 (benchmarks/viewer.py, 2026-12-01). A restart costs
# one viewer start (as every play did before viewers were kept).
RESTART_EVERY = 4


class FrontendError(RuntimeError):
    """The installed gradio-rerun's front end is not the one these edits were written for."""


def _source_dir() -> Path:
    import gradio_rerun

    return Path(gradio_rerun.__file__).resolve().parent / "templates"


def patched_index(source: str, where: str = "gradio_rerun/templates/component/index.js") -> str:
    """gradio-rerun's compiled component with the studio's edits applied (each exactly once)."""
    for old, new, why in EDITS:
        new = new.replace("RESTART_EVERY", str(RESTART_EVERY))
        n = source.count(old)
        if n != 1:
            raise FrontendError(f"{where}: the edit to {why} matches {n} places, not 1 "
                                "(a gradio-rerun other than 0.26.2?)")
        source = source.replace(old, new)
    return source


def ensure_frontend() -> Path:
    """Write the derived front end next to this module if it is missing or stale; its folder."""
    src = _source_dir()
    index = src / "component" / "index.js"
    data = index.read_bytes()
    edits = hashlib.sha256(repr((EDITS, RESTART_EVERY)).encode()).hexdigest()[:16]
    stamp = f"{hashlib.sha256(data).hexdigest()} {edits}\n"
    with _lock:
        if STAMP.exists() and STAMP.read_text() == stamp and (TEMPLATES / "component" / "index.js").exists():
            return TEMPLATES
        text = patched_index(data.decode("utf-8"), str(index))
        tmp = HERE / f".templates.{os.getpid()}.{threading.get_ident()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        (tmp / "component" / "index.js").write_text(text, encoding="utf-8")
        (tmp / "SOURCE").write_text(stamp)
        old = HERE / f".templates.{os.getpid()}.old"
        if TEMPLATES.exists():
            os.replace(TEMPLATES, old)
        os.replace(tmp, TEMPLATES)
        shutil.rmtree(old, ignore_errors=True)
    return TEMPLATES


def _component_class():
    from gradio_rerun import Rerun

    class StudioRerun(Rerun):
        """gradio-rerun's viewer with the studio's front end (see the module docstring)."""

        TEMPLATE_DIR = "./templates/"
        # no __init__ of its own: gradio builds the front end's props from the constructor's signature

    StudioRerun.__module__ = __name__  # gradio serves a component's front end from its module's folder
    return StudioRerun


_cls = None


def StudioRerun(*args: Any, **kwargs: Any):  # noqa: N802 - used like the class it makes
    """A `StudioRerun` viewer component (the class is made on first use: gradio is heavy)."""
    global _cls
    if _cls is None:
        ensure_frontend()
        _cls = _component_class()
    return _cls(*args, **kwargs)
