"""The panel registry: built-in panels register themselves by defining `PANEL` in a module
of this package; plugins add panels through the `studio_panels` hook."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("studio.panels")

# Sidebar order of the known panels; plugin panels go after them unless they set `order`.
ORDER = {"Home": 0, "Datasets": 10, "Curate": 20, "Train": 30, "Rollouts": 40, "Compare": 50, "Workspaces": 60}


@dataclass(frozen=True)
class Panel:
    """A sidebar entry. `build(ctx)` creates its Gradio components inside the app's Blocks."""

    name: str
    build: Callable[["AppContext"], Any]
    order: int = 100
    description: str = ""

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-")


@dataclass
class AppContext:
    """What every panel gets: the project, the plugin host and cross-panel hooks."""

    project: Any
    plugins: Any
    auth: Any = None
    # name -> callable(**kwargs) filled by panels that accept navigation (e.g. open episode)
    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # panel name -> (fn(params, *input values) -> outputs, inputs, outputs, js run after): what a
    # deep link `?panel=<name>&…` (typed, pasted or clicked inside the page) opens in that panel
    links: dict[str, tuple[Callable[..., Any], list, list, str | None]] = field(default_factory=dict)
    # a hidden component whose value changes when project state changes (studio.flywheel.change_token)
    changes: Any = None

    def on_link(self, panel: str, fn: Callable[..., Any], inputs: list, outputs: list, js: str | None = None) -> None:
        """Let links to `panel` open something in it: `fn(params, *inputs)` returns `outputs`."""
        self.links[panel] = (fn, list(inputs), list(outputs), js)


def builtin_panels() -> list[Panel]:
    import panels

    found: list[Panel] = []
    for mod in pkgutil.iter_modules(panels.__path__):
        if mod.name in {"registry", "app", "common"} or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"panels.{mod.name}")
        panel = getattr(module, "PANEL", None)
        if isinstance(panel, Panel):
            found.append(panel)
    return found


def all_panels(plugin_host: Any) -> list[Panel]:
    panels_ = builtin_panels()
    if plugin_host is not None:
        panels_ += [p for p in plugin_host.call("studio_panels") if isinstance(p, Panel)]
    seen: set[str] = set()
    unique = []
    for p in sorted(panels_, key=lambda p: (ORDER.get(p.name, p.order), p.name)):
        if p.name not in seen:
            seen.add(p.name)
            unique.append(p)
    return unique
