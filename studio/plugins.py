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


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its entry-point name, module, distribution and the hooks it implements."""

    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...]


class PluginHost:
    """Owns the pluggy manager and the list of plugins that failed."""

    def __init__(self, load_entry_points: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self._failures: list[PluginFailure] = []
        self._dists: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        if load_entry_points:
            self.load_entry_points()

    def load_entry_points(self) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if self.pm.get_plugin(ep.name) is not None or self.pm.is_blocked(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            if dist is not None:
                self._dists[ep.name] = (dist.metadata["Name"] or "", dist.version or "")
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
            except (Exception, SystemExit) as exc:  # a broken plugin must not take the studio down
                log.debug("plugin %s failed to load", ep.name, exc_info=True)
                self._fail(ep.name, f"failed to load ({type(exc).__name__}: {exc})")
                continue
            self._check_hooks(ep.name, plugin)

    def register(self, plugin: Any, name: str | None = None) -> None:
        name = self.pm.register(plugin, name=name)
        if name is not None:
            self._check_hooks(name, plugin)

    def _check_hooks(self, name: str, plugin: Any) -> None:
        """A hookimpl whose name matches no hook spec (a typo) would silently never run: say so."""
        unknown = sorted(hc.name for hc in (self.pm.get_hookcallers(plugin) or []) if not hc.has_spec())
        if unknown:
            self._fail(name, f"implements unknown hook(s) {', '.join(unknown)} (see studio/hookspecs.py for the names)")

    def failures(self) -> list[PluginFailure]:
        with self._lock:
            return list(self._failures)

    def plugin_names(self) -> list[str]:
        return sorted(n for n, p in self.pm.list_name_plugin() if p is not None)

    def plugins(self) -> list[PluginInfo]:
        """The enabled plugins with where they come from and which hooks they implement."""
        infos = []
        for name in self.plugin_names():
            plugin = self.pm.get_plugin(name)
            hooks = tuple(sorted(h.name for h in (self.pm.get_hookcallers(plugin) or [])))
            dist, version = self._dists.get(name, ("", ""))
            infos.append(PluginInfo(name, getattr(plugin, "__name__", type(plugin).__name__), dist, version, hooks))
        return infos

    def disable(self, name: str, what: str) -> None:
        """Disable a plugin whose contribution misbehaved (e.g. a metric that raised when the
        studio called it later); recorded in `failures()` like a hook that raised."""
        self._fail(name, what)

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook on every plugin; flatten the returned lists; isolate failures."""
        return [item for _, items in self.call_each(hook_name, **kwargs) for item in items]

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, list[Any]]]:
        """Like `call`, but keeps who returned what: [(plugin_name, [items…]), …] in load order.

        A plugin whose hook raises is disabled (see `failures()`) and left out."""
        hook = getattr(self.pm.hook, hook_name, None)
        if hook is None:
            raise AttributeError(f"no hook named {hook_name!r} in studio.hookspecs")
        results: list[tuple[str, list[Any]]] = []
        for impl in reversed(hook.get_hookimpls()):
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            try:
                out = impl.function(**args)
            except Exception as exc:
                log.debug("hook %s of %s raised", hook_name, impl.plugin_name, exc_info=True)
                self._fail(impl.plugin_name, f"hook {hook_name} raised {type(exc).__name__}: {exc}")
                continue
            if out is None:
                continue
            results.append((impl.plugin_name, list(out) if isinstance(out, (list, tuple)) else [out]))
        return results

    def _fail(self, name: str, what: str) -> None:
        log.error("plugin %s: %s", name, what)
        with self._lock:
            if any(f.plugin == name for f in self._failures):
                return  # already disabled (e.g. two threads hit the same broken hook)
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
