"""Who may do what, decided in one place (Datasette's `permission_allowed` is the model).

Every action a person can take asks `permission_allowed(user, action)`. For the served app
(`studio serve`) every Gradio event handler is named `<module>.<function>` (e.g.
`curate.on_save_weights`, see `handler_key`) and must be on exactly one of two lists:

- `READ_ONLY_HANDLERS`: they only read project state (any signed-in user may call them);
- `WRITE_HANDLERS`: handler -> action; the action's minimal role is in `studio.auth.PERMISSIONS`.

A handler on neither list is refused to everyone and logged (fail closed): a new handler
must be added here, with the role it needs, before anyone can call it.

The files a served page may fetch are `served_paths(project)`; `blocked_paths` are never
served whatever else allows them (users file, studio.db and its journals, backups, logs, labels).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from studio.auth import PERMISSIONS, User, role_allows
from studio.errors import AuthError

log = logging.getLogger("studio.permissions")

# Handlers that never change project state. Caches (cache/) and per-tab state do not count.
READ_ONLY_HANDLERS: frozenset[str] = frozenset({
    # app shell
    "app.show", "app.from_url", "renderable.apply", "<js>",
    # every embedded viewer: a play's recordings, opened by URL (panels/viewer.py)
    "viewer.show_play",
    # links and deep links (each panel's link opener only reads), the change-token poll
    "app.follow_link", "app.open_link", "app.poll",
    # Home
    "home.<lambda>", "home.on_change",
    # Datasets
    "datasets.on_pick", "datasets.on_open", "datasets.on_page", "datasets.<lambda>", "datasets.on_run",
    "datasets.on_chart", "datasets.on_episode", "datasets.on_select_row", "datasets.on_load",
    # Curate (on_play writes only the playback cache)
    "curate.on_load", "curate.on_view", "curate.on_pick", "curate.on_row", "curate.on_play",
    "curate.on_open_saved", "curate.on_list", "curate.refresh_choices", "curate.on_episode_link",
    # on_fit_weights only fills the weights box; saving them is on_save_weights
    "curate.on_dataset_weights", "curate.on_fit_weights",
    # Train
    "train.refresh", "train._row_id", "train.on_open", "train.on_dataset", "train.on_preview", "train.on_job_links",
    "train.on_overlay_choices",
    # Rollouts (on_show writes only the playback cache)
    "rollouts.on_refresh", "rollouts.on_changes", "rollouts.on_target", "rollouts.on_select", "rollouts.on_show",
    # Compare
    "compare.do_compare", "compare.do_challenger", "compare.do_play", "compare.do_cell", "compare.do_refresh",
    # Workspaces: opening, the tab's own edits (never saved for a viewer), autosave (curators' tabs
    # only: a viewer's notebook is read-only), running cells (each cell kind checks its permission)
    "workspaces.pick", "workspaces.initial", "workspaces.autosave", "workspaces.<lambda>",
    "workspaces.run_cell", "workspaces.do_run_all",
})

# Handlers that write: handler -> action (see studio.auth.PERMISSIONS for the role each needs).
WRITE_HANDLERS: dict[str, str] = {
    "curate.fn": "tag",  # keep / drop / custom tag buttons (panels.curate.make_tagger)
    "curate.on_note": "tag",
    "curate.on_save": "select",
    "curate.on_export": "export",
    "curate.on_save_weights": "set_weights",
    "train.on_submit": "train",
    "train.on_pipeline": "train",
    "train.run": "train",  # cancel / resume / retry (panels.train._action)
    "train.on_evaluate": "evaluate",
    "rollouts.on_register": "evaluate",
    "rollouts.on_verdict": "verdict",
    "rollouts.on_comment": "comment",
    "workspaces.create": "edit_workspace",
    "workspaces.do_save": "edit_workspace",
    "workspaces.do_add": "edit_workspace",
    "workspaces.handler": "edit_workspace",  # move / delete a cell (panels.workspaces.structure)
    "workspaces.repair": "edit_workspace",
}


def handler_key(fn: Callable[..., Any] | None) -> str:
    """`<last module part>.<function name>` of an event handler; `<js>` for browser-only events."""
    if fn is None:
        return "<js>"
    module = (getattr(fn, "__module__", None) or "?").rsplit(".", 1)[-1]
    return f"{module}.{getattr(fn, '__name__', '?')}"


def permission_allowed(user: User, action: str) -> bool:
    """May `user` do `action`? The one question every check asks."""
    return role_allows(user.role, action)


def require(user: User, action: str) -> User:
    if not permission_allowed(user, action):
        need = PERMISSIONS[action]
        raise AuthError(f"user '{user.name}' ({user.role})",
                        f"may not {action.replace('_', ' ')}: that needs the {need} role")
    return user


def handler_action(key: str, extra: dict[str, str] | None = None) -> str | None:
    """The action a handler performs ("view" for read-only ones); None when it is on no list.
    `extra`: plugins' handlers (`plugin_handlers`)."""
    if key in WRITE_HANDLERS:
        return WRITE_HANDLERS[key]
    if key in READ_ONLY_HANDLERS:
        return "view"
    return (extra or {}).get(key)


def plugin_handlers(plugin_host) -> dict[str, str]:
    """{handler: action} declared by plugins (studio_handler_permissions); bad entries disable the plugin."""
    out: dict[str, str] = {}
    if plugin_host is None:
        return out
    for name, items in plugin_host.call_each("studio_handler_permissions"):
        for mapping in items:
            if not isinstance(mapping, dict):
                plugin_host.disable(name, f"studio_handler_permissions returned {mapping!r}, not a dict")
                continue
            for key, action in mapping.items():
                if action != "view" and action not in PERMISSIONS:
                    plugin_host.disable(name, f"handler {key!r}: unknown action {action!r} "
                                              f"(view, {', '.join(PERMISSIONS)})")
                elif handler_action(str(key)) is None:  # built-in handlers keep their action
                    out[str(key)] = str(action)
    return out


def check_handler(user: User, key: str, extra: dict[str, str] | None = None) -> str:
    """The handler's action when `user` may call it, else AuthError (unknown handlers: refused)."""
    action = handler_action(key, extra)
    if action is None:
        raise AuthError(f"action '{key}'",
                        "is not on the studio's permission lists (studio/permissions.py), so nobody may run it")
    if action != "view":
        require(user, action)
    return action


def unknown_handlers(keys, extra: dict[str, str] | None = None) -> list[str]:
    """Handlers on no list (a served app with any of these refuses them)."""
    return sorted({k for k in keys if handler_action(k, extra) is None})


# ----------------------------------------------------------------------------- files


def served_paths(project) -> list[str]:
    """The folders a served page may fetch files from: recordings and downloads the user asked for."""
    home = Path(project.home)
    out = []
    for sub in (("cache", "playback"), ("cache", "downloads")):
        folder = home.joinpath(*sub)
        folder.mkdir(parents=True, exist_ok=True)
        out.append(str(folder))
    return out


def blocked_paths(project, users_path: str | os.PathLike | None = None) -> list[str]:
    """Files never served, whatever else allows them."""
    home = Path(project.home)
    paths = [home / "users.json", home / "studio.db", home / "studio.db-wal", home / "studio.db-shm",
             home / "studio.db-journal", home / "backups", home / "logs", home / "demo_labels.csv",
             home / "labels", home / "studio.json"]
    if users_path is not None:
        paths.append(Path(users_path))
    out: list[str] = []
    for p in paths:
        for q in {str(p), os.path.realpath(p)}:
            if q not in out:
                out.append(q)
    return out
