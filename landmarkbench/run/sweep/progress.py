"""The sweep's progress line: cells done / running / failed, elapsed, an estimate of the rest."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


def clock(seconds: float) -> str:
    """``H:MM:SS``."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@dataclass
class Progress:
    """Counts of a sweep's dispatched cells; ``slots`` is how many run at once (0: all)."""

    total: int
    slots: int
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    failed: int = 0
    busy: list[float] = field(default_factory=list)

    def add(self, finished: bool, seconds: float) -> None:
        """Count one returned cell (``seconds``: its busy time)."""
        self.done += finished
        self.failed += not finished
        self.busy.append(seconds)

    @property
    def running(self) -> int:
        """Cells dispatched and not returned, at most ``slots`` (the rest wait in a queue)."""
        left = self.total - self.done - self.failed
        return min(left, self.slots) if self.slots else left

    def estimate_left(self) -> float | None:
        """Seconds until the last cell returns: the cells left, ``slots`` at a time, each
        as long as the mean of those returned (None before any returned)."""
        if not self.busy:
            return None
        left = self.total - self.done - self.failed
        waves = -(-left // self.slots) if self.slots else min(left, 1)
        return waves * sum(self.busy) / len(self.busy)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rest = self.estimate_left()
        estimate = "" if rest is None else f", about {clock(rest)} left"
        return (
            f"{self.done}/{self.total} done, {self.running} running, {self.failed} failed, "
            f"{clock(elapsed)} elapsed{estimate}"
        )
