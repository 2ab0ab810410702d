"""The plugin host: a pluggy manager fed from the `flywheel_studio` entry-point group.

A plugin that fails to import, or whose hook raises, is disabled and recorded in
`failures()`; the rest of the studio keeps working and the UI shows the message.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from studio import hookspecs

log = logging.getLogger("studio.plugins")

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    what: str

    def sentence(self) -> str:
        return f"plugin '{self.plugin}' disabled: {self.what}"


class PluginHost:
    """Owns the pluggy manager and the list of plugins that failed."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._failures: list[PluginFailure] = []
        self._lock = threading.Lock()
        if load_entry_points:
            self.load_entry_points()

    def load_entry_points(self) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if self.pm.get_plugin(ep.name) is not None or self.pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take the studio down
                self._fail(ep.name, f"failed to load ({type(exc).__name__}: {exc})")

    def register(self, plugin: Any, name: str | None = None) -> None:
        self.pm.register(plugin, name=name)

    def failures(self) -> list[PluginFailure]:
        with self._lock:
            return list(self._failures)

    def plugin_names(self) -> list[str]:
        return sorted(n for n, p in self.pm.list_name_plugin() if p is not None)

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook on every plugin; flatten the returned lists; isolate failures."""
        hook = getattr(self.pm.hook, hook_name)
        results: list[Any] = []
        for impl in reversed(hook.get_hookimpls()):
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            try:
                out = impl.function(**args)
            except Exception as exc:
                self._fail(impl.plugin_name, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                continue
            if out is None:
                continue
            results.extend(out if isinstance(out, (list, tuple)) else [out])
        return results

    def _fail(self, name: str, what: str) -> None:
        log.error("plugin %s: %s", name, what)
        with self._lock:
            self._failures.append(PluginFailure(name, what))
        try:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin)
            self.pm.set_blocked(name)
        except Exception:  # pragma: no cover - pluggy internals
            pass


_host: PluginHost | None = None
_host_lock = threading.Lock()


def host() -> PluginHost:
    """The process-wide plugin host (entry points loaded on first use)."""
    global _host
    with _host_lock:
        if _host is None:
            _host = PluginHost()
        return _host


def reset_host() -> None:
    """Forget the loaded plugins (tests; after installing a plugin package)."""
    global _host
    with _host_lock:
        _host = None
