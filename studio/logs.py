"""Logging to <project>/logs/studio.log; tracebacks go there, never to the user."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

_configured: set[str] = set()


def setup_logging(logs_dir: str | Path, level: int = logging.INFO) -> Path:
    logs_dir = Path(logs_dir)
    logs_dir.mkdir(parents=True, exist_ok=True)
    path = logs_dir / "studio.log"
    key = str(path.resolve())
    if key not in _configured:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger("studio")
        root.addHandler(handler)
        root.setLevel(level)
        _configured.add(key)
    return path


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("studio") else f"studio.{name}")
