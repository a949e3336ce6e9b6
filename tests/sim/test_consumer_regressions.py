"""Regression tests for bloop 3.1.1's stream bugs B1-B6 (shared/bloop-api.md section 11.8)."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from bloop.exceptions import BloopException, InvalidPosition
from tests.sim import SimulatedStreams

from .test_consumer_kit import MINUTE, Consumer, KeysOnly, item, sequence_numbers


def test_b1_the_key_is_always_set():
    consumer = Consumer(seed=50)
    stream = consumer.stream("trim_horizon")
    consumer.sim.put_item(item("a", 1))
    consumer.sim.delete_item({"id": {"S": "a"}})
    insert, remove = consumer.drain(stream)
    assert insert["key"].id == remove["key"].id == "a"
    assert insert["key"].__dict__.keys() == {"id"}  # only the key columns

    keys_only = Consumer(SimulatedStreams(view_type="KEYS_ONLY", seed=51), model=KeysOnly)
    stream = keys_only.stream("trim_horizon")
    keys_only.sim.put_item(item("b", 2))
    (event,) = keys_only.drain(stream)
    assert event["key"].id == "b"


def test_b2_a_bloop_token_listing_a_buffered_parent_with_its_children_reads_each_record_once():
    consumer = Consumer(page_size=1000, seed=52)
    sim = consumer.sim
    parent = sim.open_shard_ids()[0]
    written = consumer.write_many(8, keys=3)
    left, right = sim.split(parent, 2)
    consumer.write_many(8, keys=3)
    # what bloop 3.x saved after returning two records while the closed parent still had six buffered:
    # the promoted children *and* the closed parent, all active
    bloop_token = {
        "stream_arn": sim.stream_arn,
        "active": [left, right, parent],
        "shards": [
            {"shard_id": parent, "iterator_type": "after_sequence", "sequence_number": written[1].sequence_number},
            {"shard_id": left, "parent": parent, "iterator_type": "trim_horizon"},
            {"shard_id": right, "parent": parent, "iterator_type": "trim_horizon"},
        ],
    }
    consumer.start(bloop_token)
    consumer.session()
    assert consumer.violations(start_index=2) == []
    assert len(consumer.log.deliveries) == 14


def test_b3_moving_to_an_endpoint_forgets_closed_shards():
    consumer = Consumer(page_size=2, seed=53)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    consumer.write_many(6)
    sim.split(sim.open_shard_ids()[0], 2)
    consumer.write_many(6)
    next(stream)  # the parent is closed and still has a buffered record
    stream.move_to("latest")
    assert set(stream.token["active"]) == set(sim.open_shard_ids())
    stream.move_to("trim_horizon")
    assert [s["shard_id"] for s in stream.token["shards"]] == [sim.write_log[0].shard_id]
    events = consumer.drain(stream)
    assert len(sequence_numbers(events)) == len(set(sequence_numbers(events))) == 12


def test_b4_a_token_taken_right_after_a_time_seek_does_not_replay_earlier_records():
    consumer = Consumer(shard_count=2, page_size=3, seed=54)
    sim = consumer.sim
    early = consumer.write_many(10)
    sim.clock.advance(10 * MINUTE)
    late = consumer.write_many(10)
    stream = consumer.stream(late[0].created_at)
    token = json.loads(json.dumps(stream.token))
    assert {r.sequence_number for r in early}.isdisjoint(sequence_numbers(consumer.drain(consumer.stream(token))))
    events = consumer.drain(stream)
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in late)
    assert stream.token != token


def test_b5_naive_datetimes_raise_invalid_position_and_aware_ones_of_any_kind_work():
    consumer = Consumer(seed=55)
    stream = consumer.stream("trim_horizon")
    with pytest.raises(InvalidPosition, match="aware"):
        stream.move_to(datetime.now())
    with pytest.raises(ValueError):  # InvalidPosition is a ValueError, as in bloop 3.x
        stream.move_to(datetime(2026, 1, 1))

    class Arrowish:  # arrow/pendulum objects are recognised by .timestamp()
        def __init__(self, moment):
            self.moment = moment

        def timestamp(self):
            return self.moment.timestamp()

        def utcoffset(self):
            return self.moment.utcoffset()

    consumer.write_many(2)
    stream.move_to(Arrowish(consumer.sim.clock.now() - timedelta(minutes=1)))
    assert len(consumer.drain(stream)) == 2
    stream.move_to(datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=5))))
    assert len(consumer.drain(stream)) == 2


def test_b6_a_failed_poll_keeps_the_records_other_shards_returned():
    consumer = Consumer(shard_count=3, seed=56)
    sim = consumer.sim
    written = consumer.write_many(30)
    stream = consumer.stream("trim_horizon")
    failing = sim.open_shard_ids()[2]
    sim.faults.schedule("GetRecords", "ValidationException", shard_id=failing, times=1)
    with pytest.raises(BloopException):
        next(stream)
    calls = {shard: sim.shard_calls[("GetRecords", shard)] for shard in sim.open_shard_ids()}
    events = consumer.drain(stream)
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in written)
    for shard, before in calls.items():
        if shard != failing:  # their records were kept, not fetched again: next calls only reach the head
            assert sim.shard_calls[("GetRecords", shard)] - before <= 6
