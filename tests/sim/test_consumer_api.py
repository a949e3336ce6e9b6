"""The Stream's public surface on the simulator: engine.stream, lag, heartbeat, iterate, concurrency."""
import json
import threading

import pytest

from bloop.exceptions import InvalidPosition, InvalidStream
from bloop.stream import Stream

from .test_consumer_kit import MINUTE, Consumer, Thing, sequence_numbers


def test_engine_stream_positions_a_bloop_compatible_stream():
    consumer = Consumer(shard_count=2, seed=60)
    consumer.write_many(4)
    stream = consumer.engine.stream(Thing, "trim_horizon")
    try:
        assert isinstance(stream, Stream) and repr(stream).startswith("<Stream[Thing]")
        token = json.loads(json.dumps(stream.token))
        assert set(token) == {"stream_arn", "active", "shards"} and token["stream_arn"] == consumer.sim.stream_arn
        with pytest.raises(InvalidPosition):
            stream.move_to(42)
        with pytest.raises(InvalidPosition):
            stream.move_to("beginning")
        assert stream.token == token
    finally:
        stream.close()


@pytest.mark.parametrize("position", ["beginning", "TRIM_HORIZON", "", " latest", b"oldest"])
def test_a_mistyped_position_lists_the_accepted_ones_before_any_call(position):
    consumer = Consumer(seed=66)
    stream = consumer.stream("trim_horizon")
    token, calls = stream.token, sum(consumer.sim.calls.values())
    with pytest.raises(InvalidPosition) as raised:
        stream.move_to(position)
    message = str(raised.value)
    assert "not valid JSON" not in message and repr(position) in message
    for accepted in ("'trim_horizon'", "'latest'", "aware datetime", "stream.token"):
        assert accepted in message
    assert stream.token == token and sum(consumer.sim.calls.values()) == calls
    stream.move_to(json.dumps(token))  # a token's JSON text is still a position
    assert stream.token == token


def test_a_model_without_a_stream_is_refused():
    consumer = Consumer(seed=61)
    consumer.engine._bound[Thing].stream_arn = None
    with pytest.raises(InvalidStream):
        consumer.engine.stream(Thing, "latest")


def test_lag_is_the_age_of_the_newest_event_and_zero_once_caught_up():
    consumer = Consumer(page_size=10, seed=62)
    stream = consumer.stream("trim_horizon")
    assert stream.lag is None
    consumer.write_many(5)
    consumer.sim.clock.advance(90)
    next(stream)
    assert stream.lag == pytest.approx(90, abs=1)
    consumer.drain(stream)
    assert stream.lag == 0.0


def test_heartbeat_keeps_a_latest_position_exact_through_long_pauses():
    consumer = Consumer(shard_count=2, seed=63)
    before = consumer.write_many(4)
    stream = consumer.stream("latest")
    for _ in range(4):  # 40 minutes without next(), heartbeats every 10
        consumer.sim.clock.advance(10 * MINUTE)
        stream.heartbeat()
    after = consumer.write_many(4)
    delivered = set(sequence_numbers(consumer.drain(stream)))
    assert delivered == {r.sequence_number for r in after}
    assert delivered.isdisjoint(r.sequence_number for r in before)


def test_iterate_stops_when_the_event_is_set():
    consumer = Consumer(seed=64)
    stream = consumer.stream("trim_horizon")
    consumer.write_many(10)
    stop = threading.Event()
    seen = []
    for event in stream.iterate(poll_interval=0.5, stop=stop):
        seen.append(event)
        if len(seen) == 4:
            stop.set()
    assert len(seen) == 4
    token = stream.token
    assert len(consumer.drain(consumer.stream(token))) == 6  # resumes right after the fourth


def test_shards_are_polled_concurrently_up_to_max_workers():
    consumer = Consumer(shard_count=8, seed=65)
    sim = consumer.sim
    consumer.write_many(64, keys=64)
    in_flight, peak, lock = [0], [0], threading.Lock()
    get_records = sim.get_records

    def counting(**request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return get_records(**request)
        finally:
            with lock:
                in_flight[0] -= 1

    sim.get_records = counting
    sim.settings.latency = 0.02  # real seconds per call, so calls in flight overlap
    for workers, expected in ((1, 1), (8, 8)):
        peak[0] = 0
        stream = consumer.stream("trim_horizon", max_workers=workers)
        assert len(consumer.drain(stream, idle_limit=2)) == 64
        stream.close()
        assert (peak[0] == expected) if workers == 1 else (peak[0] > 1)


def test_closing_a_stream_stops_its_threads_and_it_still_answers():
    consumer = Consumer(shard_count=3, seed=66)
    consumer.write_many(6)
    with consumer.stream("trim_horizon", max_workers=3) as stream:
        assert len(consumer.drain(stream)) == 6
    assert next(stream) is None  # a closed stream can still be read: its pool is made again
