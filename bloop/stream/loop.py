"""Consumer loops: poll with backoff while idle, stop cleanly on an event, a predicate or a signal.

::

    stop = stop_on_signals()                      # SIGINT / SIGTERM set it
    for event in stream.iterate(poll_interval=1.0, stop=stop):
        handle(event)
        store.save(stream.token)
    # the loop ends between two events: the last saved token is exact
"""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable, Iterator

from ..exceptions import RetryLimitExceeded
from .clock import SystemClock
from .events import StreamEvent

__all__ = ["iterate", "stop_on_signals"]

#: the longest idle sleep: shard iterators expire after 15 minutes without a poll
MAX_SLEEP = 300.0


def _stop_check(stop: Any) -> Callable[[], bool]:
    if stop is None:
        return lambda: False
    if isinstance(stop, threading.Event):
        return stop.is_set
    if callable(stop):
        return lambda: bool(stop())
    raise TypeError(f"stop must be a threading.Event, a callable or None, not {stop!r}")


def iterate(stream: Any, *, poll_interval: float = 1.0, max_poll_interval: float | None = None,
            stop: Any = None) -> Iterator[StreamEvent]:
    """Yield ``stream``'s events until ``stop``; see :meth:`bloop.stream.Stream.iterate`.

    Persistent throttling (RetryLimitExceeded, raised only once the session's own retries ran out on
    every shard polled) is waited out with the same backoff instead of ending the loop.
    """
    if poll_interval < 0:
        raise ValueError("poll_interval must be >= 0")
    if max_poll_interval is None:
        max_poll_interval = poll_interval * 10
    max_poll_interval = min(MAX_SLEEP, max(poll_interval, max_poll_interval))
    should_stop = _stop_check(stop)
    delay = poll_interval
    while not should_stop():
        try:
            event = next(stream)
        except RetryLimitExceeded:
            event = None
        if event is not None:
            delay = poll_interval
            yield event
            continue
        _sleep(stream, delay, stop)
        delay = min(max_poll_interval, delay * 2 if delay else poll_interval)


def _sleep(stream: Any, seconds: float, stop: Any) -> None:
    """Sleep on the stream's clock; a threading.Event on the real clock wakes the loop at once."""
    if isinstance(stop, threading.Event) and isinstance(stream.clock, SystemClock):
        stop.wait(seconds)
    elif seconds:
        stream.clock.sleep(seconds)


def stop_on_signals(*signals: int) -> threading.Event:
    """An Event set when the process gets one of ``signals`` (default SIGINT and SIGTERM).

    Call it from the main thread (Python only installs signal handlers there). The previous handlers
    are replaced.
    """
    stop = threading.Event()
    for number in signals or (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop
