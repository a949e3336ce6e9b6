"""Streams over HTTP on the embedded moto server: the happy path, tokens, resume, latest, checkpoints.

moto serves one shard that never closes, never trims and never fails, so only the happy path runs here;
every fault is tested on the simulated service (tests/sim/test_consumer_*.py). moto quirks met below,
worked around in the tests and never in the library:

* Q1 an UpdateItem that creates an item writes two INSERT records: one with only the key, then one with
  the attributes (bloop's save is UpdateItem). Real DynamoDB writes one INSERT.
* Q2 a write that changes nothing still writes a MODIFY record. Real DynamoDB writes none.
* Q3 every table's single shard has the same id, and ApproximateCreationDateTime has milliseconds.
"""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from bloop import BaseModel, Column, String
from bloop.exceptions import CheckpointConflict, InvalidStream
from bloop.stream import Stream
from bloop.stream.checkpoint import FileCheckpoint, TableCheckpoint
from tests.integ.models import Order


class Other(BaseModel):
    class Meta:
        stream = {"include": ["keys"]}

    id = Column(String, hash_key=True)


@pytest.fixture
def bound(engine):
    engine.bind(Order)
    return engine


def drain(stream, idle_limit=2):
    """Every event available now: ends after ``idle_limit`` Nones in a row, each after a pause longer than
    the stream's pacing of polls at a shard's head (4 a second)."""
    events, idle = [], 0
    while idle < idle_limit:
        event = next(stream)
        if event is None:
            idle += 1
            time.sleep(0.3)
        else:
            idle = 0
            events.append(event)
    return events


def changes(events):
    """(type, id, status) of each event, without moto's key-only INSERT (quirk Q1)."""
    return [(e["meta"]["event"]["type"], e["key"].id, e["new"].status if e["new"] else None)
            for e in events if not _key_only_insert(e)]


def _key_only_insert(event):
    return event["meta"]["event"]["type"] == "insert" and event["new"] is not None and not event["new"].status


def test_trim_horizon_loop_token_resume_and_latest(bound, tmp_path):
    bound.save(Order(id="o1", status="new", total=10))
    bound.save(Order(id="o2", status="new", total=20))
    stream = bound.stream(Order, "trim_horizon")
    first = drain(stream)
    assert changes(first) == [("insert", "o1", "new"), ("insert", "o2", "new")]  # Q1: key-only INSERTs dropped
    assert all(e["key"].__class__ is Order for e in first)  # B1: the key is always there
    store = FileCheckpoint(tmp_path / "orders.token")
    store.save(stream.token)

    order = Order(id="o1", status="paid", total=10)
    bound.save(order)
    bound.delete(Order(id="o2"))
    resumed = bound.stream(Order, store.load())
    second = drain(resumed)
    assert changes(second) == [("modify", "o1", "paid"), ("remove", "o2", None)]
    assert second[0]["old"].status == "new"
    seen = [e["meta"]["sequence_number"] for e in first + second]
    assert len(seen) == len(set(seen))  # nothing repeats across the resume

    latest = bound.stream(Order, "latest")
    assert drain(latest) == []
    bound.save(Order(id="o3", status="new", total=30))
    assert changes(drain(latest)) == [("insert", "o3", "new")]
    json.dumps(latest.token)


def test_resume_after_every_event_delivers_each_once(bound):
    for number in range(5):
        bound.save(Order(id=f"o{number}", status="new", total=number))
    token = bound.stream(Order, "trim_horizon").token
    delivered = []
    while True:
        stream = bound.stream(Order, token)  # a new process for every event
        event = next(stream)
        if event is None and next(stream) is None:
            break
        if event is None:
            continue
        delivered.append(event["meta"]["sequence_number"])
        token = json.loads(json.dumps(stream.token))
    assert len(delivered) == 10  # Q1: two INSERTs per save
    assert len(set(delivered)) == 10


def test_no_op_write_still_streams_on_moto(bound):
    bound.save(Order(id="same", status="new"))
    stream = bound.stream(Order, "latest")
    bound.save(Order(id="same", status="new"))
    events = drain(stream)
    # Q2: moto writes a MODIFY for a write that changes nothing; DynamoDB (and the simulator, F26) don't
    assert [e["meta"]["event"]["type"] for e in events] == ["modify"]
    assert events[0]["old"].status == events[0]["new"].status == "new"


def test_move_to_an_aware_datetime(bound):
    bound.save(Order(id="before", status="new"))
    events = drain(bound.stream(Order, "trim_horizon"))
    cut = events[-1]["meta"]["created_at"] + timedelta(seconds=2)
    stream = bound.stream(Order, cut)
    assert drain(stream) == []
    bound.save(Order(id="after", status="new"))
    assert [e["key"].id for e in drain(stream)] == ["after", "after"]  # Q1
    token = stream.token
    assert [e["key"].id for e in drain(bound.stream(Order, token))] == []  # B4: nothing before the time


class CountingClock:
    """Real wall time, but the stream's waits advance a virtual monotonic clock instead of sleeping: the
    pacing rule is counted against it, with no timing assertion."""

    def __init__(self):
        self.monotonic_now = 0.0

    def now(self):
        return datetime.now(timezone.utc)

    def monotonic(self):
        return self.monotonic_now

    def sleep(self, seconds):
        self.monotonic_now += seconds


def count_calls(engine, operation):
    calls = []
    engine.session.stream_client.meta.events.register(f"before-send.dynamodbstreams.{operation}",
                                                     lambda **_: calls.append(operation))
    return calls


def test_next_right_after_a_save_returns_that_save(bound):
    stream = bound.stream(Order, "latest")
    assert next(stream) is None
    for number in range(3):
        bound.save(Order(id=f"n{number}", status="new", total=number))
        event = next(stream)  # no sleep in between: the stream polls (bloop 3.x's integration test does this)
        assert event is not None and event["key"].id == f"n{number}"
        rest = drain(stream)  # Q1: moto's second INSERT; DynamoDB writes one
        assert changes([event] + rest) == [("insert", f"n{number}", "new")]


def test_a_tight_loop_polls_the_shard_about_four_times_a_second(bound):
    clock = CountingClock()
    stream = bound.stream(Order, "latest", clock=clock)
    assert next(stream) is None  # read up to the head
    calls = count_calls(bound, "GetRecords")
    for _ in range(40):
        assert next(stream) is None
    # moto has one shard: 40 polls, each after waiting out the rest of a quarter second
    assert len(calls) == 40 and clock.monotonic_now == pytest.approx(40 * 0.25, abs=0.26)
    bound.save(Order(id="later", status="new"))
    assert next(stream)["key"].id == "later"


def test_a_token_of_another_table_is_refused(bound):
    bound.bind(Other)
    token = bound.stream(Other, "trim_horizon").token
    with pytest.raises(InvalidStream, match="belongs to stream"):
        bound.stream(Order, token)  # Q3: the shard id is the same, the ARN is not


def test_stream_object_is_bloop_compatible(bound):
    stream = Stream(model=Order, engine=bound)
    stream.move_to("trim_horizon")
    stream.heartbeat()
    assert next(stream) is None
    assert next(iter(stream)) is None
    assert set(stream.token) >= {"stream_arn", "active", "shards"}
    naive = datetime.now()
    with pytest.raises(ValueError, match="naive"):
        stream.move_to(naive)
    assert stream.token["stream_arn"] == bound.stream_arn(Order)
    stream.move_to(datetime.now(timezone.utc) - timedelta(hours=1))


def test_table_checkpoint_refuses_a_second_writer(engine):
    first = TableCheckpoint(engine, "orders-worker")
    second = TableCheckpoint(engine, "orders-worker", bind=False)
    assert first.load() is None
    assert second.load() is None
    first.save({"stream_arn": "a", "active": [], "shards": []})
    with pytest.raises(CheckpointConflict, match="another worker"):
        second.save({"stream_arn": "b", "active": [], "shards": []})
    assert second.load() == {"stream_arn": "a", "active": [], "shards": []}
    second.save({"stream_arn": "b", "active": [], "shards": []})  # took over after reloading
    with pytest.raises(CheckpointConflict):
        first.save({"stream_arn": "c", "active": [], "shards": []})
    assert TableCheckpoint(engine, "orders-worker", bind=False).load()["stream_arn"] == "b"
