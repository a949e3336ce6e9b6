"""Fault catalog rows F15-F27 (shared/streams-faults.md section 5) against the simulated service.

F28-F30 concern the Lambda event source mapping, not a polling consumer.
"""
import json
from datetime import datetime, timedelta

import pytest

from bloop.exceptions import InvalidPosition, RecordDecodeError, StreamDisabled, StreamNotFound
from bloop.stream.token import MAX_TOKEN_SHARDS
from tests.sim import SimulatedStreams

from .test_consumer_kit import HOUR, MINUTE, Consumer, KeysOnly, item, key, make_engine, sequence_numbers


def delivered(consumer):
    return [e["meta"]["sequence_number"] for e in consumer.log.deliveries]


# --------------------------------------------------------------------------------------------- F15
def test_f15_timed_rollovers_continue_each_lineage_in_order():
    consumer = Consumer(shard_count=2, rollover_after=4 * HOUR, rollover_jitter=0.2, seed=30)
    consumer.start("trim_horizon")
    for _ in range(12):
        consumer.write_many(6, keys=5)
        consumer.sim.clock.advance(HOUR)
        consumer.session(idle_limit=3)
    consumer.session(idle_limit=20)
    assert consumer.violations() == []
    assert len(consumer.sim.shard_parents()) > 6  # the lineages really rolled over


# --------------------------------------------------------------------------------------------- F16
def test_f16_a_thousand_shards_paged_rate_limited_rolled_over_with_a_small_token():
    shards = 1200
    consumer = Consumer(shard_count=shards, describe_calls_per_second=10, seed=31, max_workers=8)
    sim = consumer.sim
    consumer.write_many(600, keys=600)
    stream = consumer.start("trim_horizon")
    assert len(stream.token["active"]) == shards
    consumer.session(stream, idle_limit=20)
    assert len(set(delivered(consumer))) == 600
    sim.rollover()  # every shard closes at once: one full listing finds the children, not 1200 calls
    consumer.write_many(600, keys=600)
    describes = sim.calls["DescribeStream"]
    consumer.session(idle_limit=20)
    assert consumer.violations() == []
    assert sim.calls["DescribeStream"] - describes < 2 * shards // 100 + 40
    token = json.dumps(consumer.log.last_token)
    assert len(consumer.log.last_token["active"]) == shards  # the finished parents were pruned
    assert len(token) < 250 * shards  # at most 250 bytes per shard being read (ids, position, parent)


# --------------------------------------------------------------------------------------------- F17
def test_f17_empty_pages_in_the_middle_of_a_shard_are_followed():
    consumer = Consumer(page_size=3, seed=32)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    shard = sim.open_shard_ids()[0]
    written = consumer.write_many(6)
    sim.inject_empty_pages(shard, count=4, before_sequence_number=written[3].sequence_number)
    sim.inject_empty_pages(shard, count=9)  # before whatever is written next
    written += consumer.write_many(6)
    events = consumer.drain(stream, idle_limit=25)
    assert sequence_numbers(events) == [r.sequence_number for r in written]


def test_f17_a_tight_loop_polls_each_shard_at_its_head_four_times_a_virtual_second():
    consumer = Consumer(shard_count=2, seed=33)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    assert next(stream) is None  # both shards read up to their head
    calls, began = sim.calls["GetRecords"], sim.clock.monotonic()
    for _ in range(400):
        assert next(stream) is None  # each call waits (on the stream's clock) for the next allowed poll
    polls, elapsed = sim.calls["GetRecords"] - calls, sim.clock.monotonic() - began
    assert 99 <= elapsed <= 101  # 400 waits of a quarter second: next() never returns None unasked
    assert 2 * 4 * elapsed - 4 <= polls <= 2 * 4 * elapsed + 4  # about four GetRecords a second per shard


def test_f17_next_right_after_a_write_returns_it():
    consumer = Consumer(shard_count=2, seed=36)
    stream = consumer.stream("trim_horizon")
    for number in range(20):
        assert next(stream) is None
        record = consumer.write(f"k{number}")
        event = next(stream)  # polled less than a quarter second ago: waits for the poll, doesn't skip it
        assert event is not None and event["meta"]["sequence_number"] == record.sequence_number


def test_f17_next_after_a_quiet_period_polls_at_once():
    consumer = Consumer(seed=37)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    assert next(stream) is None
    sim.clock.advance(1)
    record = consumer.write("a")
    before = sim.clock.monotonic()
    assert next(stream)["meta"]["sequence_number"] == record.sequence_number
    assert sim.clock.monotonic() == before  # no wait: the last poll was more than a quarter second ago


# --------------------------------------------------------------------------------------------- F18
def test_f18_naive_datetimes_are_refused_before_any_call():
    consumer = Consumer(seed=34)
    stream = consumer.stream("trim_horizon")
    token, calls = stream.token, sum(consumer.sim.calls.values())
    with pytest.raises(InvalidPosition, match="naive datetime"):
        stream.move_to(datetime(2026, 1, 1, 12, 0))
    assert stream.token == token and sum(consumer.sim.calls.values()) == calls


class SkewedClock:
    """The consumer's machine clock, ``skew`` seconds off the service's."""

    def __init__(self, sim, skew):
        self.sim, self.skew = sim, skew

    def now(self):
        return self.sim.clock.now() + timedelta(seconds=self.skew)

    def monotonic(self):
        return self.sim.clock.monotonic()

    def sleep(self, seconds):
        self.sim.clock.sleep(seconds)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_f18_a_time_seek_compares_record_times_only(skew):
    consumer = Consumer(shard_count=2, page_size=4, seed=35)
    sim = consumer.sim
    written = []
    for _ in range(20):
        written += consumer.write_many(2)
        sim.clock.advance(MINUTE)
    target = written[10].created_at + timedelta(milliseconds=400)
    local = SkewedClock(sim, skew)
    stream = consumer.stream(target, clock=local)
    future = consumer.stream(local.now() + timedelta(minutes=2), clock=local)  # "future" by the local clock
    events = consumer.drain(stream)
    expected = [r for r in written if r.created_at >= target - timedelta(seconds=1)]
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in expected)
    later = consumer.write_many(3)
    assert set(sequence_numbers(consumer.drain(stream))) == {r.sequence_number for r in later}
    seen = set(sequence_numbers(consumer.drain(future)))
    if skew < 0:  # the local clock is behind: those records are at or after the target
        assert {r.sequence_number for r in later} <= seen


# --------------------------------------------------------------------------------------------- F19
@pytest.mark.parametrize("mutate", [
    lambda t: t.pop("active"),
    lambda t: t.update(shards="nope"),
    lambda t: t["shards"][0].update(iterator_type="at_timestamp"),
    lambda t: t["shards"][0].update(iterator_type="after_sequence", sequence_number="12ab"),
    lambda t: t["shards"][0].update(parent=t["shards"][0]["shard_id"]),
    lambda t: t.update(active=["shardId-unknown"]),
    lambda t: t.update(stream_arn="arn:aws:dynamodb:eu-west-1:999999999999:table/Table/stream/2026-01-01T00:00:00.000"),
    lambda t: t.update(shards=[{"shard_id": f"shardId-{i:030d}"} for i in range(MAX_TOKEN_SHARDS * 10)]),
], ids=["missing-key", "wrong-type", "unknown-iterator", "non-numeric-sequence", "self-parent", "unknown-active",
        "other-account", "1e5-shards"])
def test_f19_hostile_tokens_fail_before_any_call_and_keep_the_position(mutate):
    consumer = Consumer(shard_count=2, seed=36)
    consumer.write_many(4)
    stream = consumer.stream("trim_horizon")
    next(stream)
    before, calls = stream.token, sum(consumer.sim.calls.values())
    hostile = json.loads(json.dumps(before))
    mutate(hostile)
    with pytest.raises(ValueError):  # InvalidPosition or InvalidStream, both ValueErrors
        stream.move_to(hostile)
    assert sum(consumer.sim.calls.values()) == calls
    assert stream.token == before
    assert len(consumer.drain(stream)) == 3


# --------------------------------------------------------------------------------------------- F20
def test_f20_a_disabled_stream_is_drained_then_reported():
    consumer = Consumer(shard_count=2, page_size=3, seed=37)
    stream = consumer.stream("trim_horizon")
    consumer.write_many(10)
    assert None not in [next(stream) for _ in range(4)]
    consumer.sim.disable()
    with pytest.raises(StreamDisabled) as raised:
        consumer.drain(stream, idle_limit=30)
    assert raised.value.token["stream_arn"] == consumer.sim.stream_arn
    with pytest.raises(StreamDisabled):
        next(stream)
    assert raised.value.token["active"] == []


def test_f20_every_record_before_the_disable_is_delivered():
    consumer = Consumer(shard_count=2, page_size=3, seed=38)
    stream = consumer.stream("trim_horizon")
    written = consumer.write_many(10)
    consumer.sim.disable()
    events = []
    with pytest.raises(StreamDisabled):
        while True:
            event = next(stream)
            if event is None:
                consumer.sim.clock.advance(1)
            else:
                events.append(event)
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in written)


# --------------------------------------------------------------------------------------------- F21
def test_f21_a_deleted_table_raises_with_the_last_token():
    consumer = Consumer(shard_count=2, seed=39)
    stream = consumer.stream("trim_horizon")
    consumer.write_many(6)
    assert len([next(stream) for _ in range(3)]) == 3
    token = stream.token
    consumer.sim.delete_table()
    with pytest.raises(StreamNotFound) as raised:
        consumer.drain(stream)
    assert raised.value.token["stream_arn"] == token["stream_arn"]
    assert {s["shard_id"] for s in raised.value.token["shards"]} == {s["shard_id"] for s in token["shards"]}


def test_f21_a_deleted_table_whose_stream_stays_readable_is_drained():
    consumer = Consumer(seed=40)
    stream = consumer.stream("trim_horizon")
    written = consumer.write_many(5)
    consumer.sim.delete_table(keep_streams_readable=True)
    events = []
    with pytest.raises(StreamDisabled):
        while True:
            event = next(stream)
            if event is None:
                consumer.sim.clock.advance(1)
            else:
                events.append(event)
    assert len(events) == len(written)


# --------------------------------------------------------------------------------------------- F22
def test_f22_lost_replies_are_retried_from_the_same_position():
    consumer = Consumer(shard_count=3, page_size=4, seed=41)
    consumer.write_many(30)
    faults = consumer.sim.faults
    faults.schedule("GetRecords", "InternalServerError", lost_reply=True, after_calls=2, times=5)
    faults.schedule("GetShardIterator", "InternalServerError", lost_reply=True, times=2)
    faults.schedule("DescribeStream", "InternalServerError", lost_reply=True, times=2)
    consumer.start("trim_horizon")
    consumer.session()
    assert consumer.violations() == []
    assert len(delivered(consumer)) == 30


# --------------------------------------------------------------------------------------------- F23
def test_f23_no_request_asks_for_more_than_a_thousand_records():
    consumer = Consumer(seed=42)
    sim = consumer.sim
    limits = []
    get_records = sim.get_records

    def recording(**request):
        limits.append(request.get("Limit"))
        return get_records(**request)

    sim.get_records = recording
    consumer.write_many(2500)
    stream = consumer.stream("trim_horizon")
    assert len(consumer.drain(stream)) == 2500
    assert limits and all(limit is None or 1 <= limit <= 1000 for limit in limits)


# --------------------------------------------------------------------------------------------- F24
def test_f24_pages_cut_at_one_megabyte_are_followed():
    consumer = Consumer(seed=43)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    written = [sim.put_item(item(f"big{i}", i, note={"S": "x" * 300_000})) for i in range(8)]
    events = consumer.drain(stream)
    assert sequence_numbers(events) == [r.sequence_number for r in written]
    assert sim.calls["GetRecords"] >= 3  # about three 300 KB items per page


# --------------------------------------------------------------------------------------------- F25
def test_f25_ttl_deletes_are_marked():
    consumer = Consumer(seed=44)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    sim.put_item(item("a", 1))
    sim.put_item(item("b", 1))
    sim.delete_item(key("a"), ttl=True)
    sim.delete_item(key("b"))
    events = consumer.drain(stream)
    assert [(e["meta"]["event"]["type"], e["key"].id, e["meta"]["ttl"]) for e in events] == [
        ("insert", "a", False), ("insert", "b", False), ("remove", "a", True), ("remove", "b", False)]
    assert events[2]["old"].value == 1 and events[2]["new"] is None


# --------------------------------------------------------------------------------------------- F26
def test_f26_a_write_that_changes_nothing_delivers_nothing():
    consumer = Consumer(seed=45)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    sim.put_item(item("a", 1))
    assert sim.put_item(item("a", 1)) is None
    assert len(consumer.drain(stream)) == 1


# --------------------------------------------------------------------------------------------- F27
def test_f27_a_poison_record_stops_the_stream_on_it_until_skipped():
    consumer = Consumer(seed=46)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    sim.put_item(item("a", 1))
    poison = sim.put_item({"id": {"S": "b"}, "value": {"S": "not a number"}})
    sim.put_item(item("c", 3))
    assert next(stream)["key"].id == "a"
    token = stream.token
    for _ in range(2):
        with pytest.raises(RecordDecodeError) as raised:
            next(stream)
        assert raised.value.sequence_number == poison.sequence_number
        assert stream.token == token  # not moved past it
    with pytest.raises(InvalidPosition):
        stream.skip("123")
    stream.skip(raised.value.sequence_number)
    assert [e["key"].id for e in consumer.drain(stream)] == ["c"]
    assert stream.token != token


# ------------------------------------------------------------------------------------------ views
def test_keys_only_streams_carry_the_key():
    sim = SimulatedStreams(view_type="KEYS_ONLY", seed=47)
    consumer = Consumer(sim, model=KeysOnly)
    stream = consumer.stream("trim_horizon")
    sim.put_item(item("a", 1))
    (event,) = consumer.drain(stream)
    assert event["key"].id == "a" and event["new"] is None and event["old"] is None  # B1
    assert make_engine(sim, KeysOnly).stream_arn(KeysOnly) == sim.stream_arn
