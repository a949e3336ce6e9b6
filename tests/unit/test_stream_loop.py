"""iterate(): backoff while idle, stop on an Event or a predicate, wait out persistent throttling."""
import os
import signal
import threading

import pytest

from bloop.exceptions import RetryLimitExceeded
from bloop.stream.loop import iterate, stop_on_signals


class FakeClock:
    def __init__(self):
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)


class FakeStream:
    """Hands out a script: events, None (idle) or exceptions to raise."""

    def __init__(self, script):
        self.script = list(script)
        self.clock = FakeClock()

    def __next__(self):
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        return step


def test_idle_sleeps_double_up_to_the_cap_and_reset_after_an_event():
    stream = FakeStream([None, None, None, None, None, "a", None, "b"])
    seen = []
    for event in iterate(stream, poll_interval=1.0, max_poll_interval=5.0, stop=lambda: len(seen) == 2):
        seen.append(event)
    assert seen == ["a", "b"]
    assert stream.clock.slept == [1.0, 2.0, 4.0, 5.0, 5.0, 1.0]


def test_a_set_event_stops_between_events():
    stop = threading.Event()
    stream = FakeStream(["a", "b", "c"])
    seen = []
    for event in iterate(stream, stop=stop):
        seen.append(event)
        stop.set()
    assert seen == ["a"]


def test_throttling_past_the_session_bound_is_waited_out():
    stream = FakeStream([RetryLimitExceeded("busy"), "a"])
    assert next(iterate(stream, poll_interval=0.5)) == "a"
    assert stream.clock.slept == [0.5]


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError):
        next(iterate(FakeStream([]), stop="soon"))
    with pytest.raises(ValueError):
        next(iterate(FakeStream([]), poll_interval=-1))


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_stop_on_signals_sets_the_event():
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        stop = stop_on_signals(signal.SIGUSR1)
        assert not stop.is_set()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert stop.wait(5)
    finally:
        signal.signal(signal.SIGUSR1, previous)
