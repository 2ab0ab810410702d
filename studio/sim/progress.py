"""A plain terminal progress bar for long simulation work (demo build, rollouts)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Callable `(done, total)`; draws `label [#####.....] 12/150  0:08` on one line."""

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.t0 = time.monotonic()
        self._last = -1.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        final = total and done >= total
        if not final and now - self._last < (0.1 if self._tty else 5.0):
            return
        self._last = now
        total = max(int(total), 1)
        filled = int(self.width * min(done, total) / total)
        el = int(now - self.t0)
        line = f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}  {el // 60}:{el % 60:02d}"
        self.stream.write(("\r" + line) if self._tty else (line + "\n"))
        if final and self._tty:
            self.stream.write("\n")
        self.stream.flush()
