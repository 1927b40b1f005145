"""A progress bar with rate and ETA, on a terminal only (a pipe or a log file gets nothing)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """`advance(n)` units of `total`; redrawn at most 10 times a second."""

    def __init__(self, total: float, label: str, unit: str = "MB", scale: float = 1e6,
                 stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.total, self.label, self.unit, self.scale = max(total, 1), label, unit, scale
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0.0
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, amount: float) -> None:
        self.done += amount
        if self.enabled and time.monotonic() - self._drawn > 0.1:
            self.draw()

    def draw(self) -> None:
        self._drawn = now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        share = min(self.done / self.total, 1.0)
        rate = self.done / elapsed / self.scale
        eta = (self.total - self.done) / (self.done / elapsed) if self.done else 0
        bar = "#" * int(share * 30)
        self.stream.write(f"\r{self.label:<10} [{bar:<30}] {share * 100:5.1f}%  {rate:8.1f} {self.unit}/s  "
                          f"ETA {_clock(eta)}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.draw()
            self.stream.write("\n")
            self.stream.flush()
