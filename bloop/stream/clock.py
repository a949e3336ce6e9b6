"""The clock a stream reads: wall time for record ages, monotonic time for iterator ages and pacing.

Injectable so tests can run a stream on a virtual clock (anything with ``now()``, ``monotonic()`` and
``sleep(seconds)``; the simulated stream service's ``VirtualClock`` is one).
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol

__all__ = ["Clock", "SystemClock", "SYSTEM_CLOCK"]


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
