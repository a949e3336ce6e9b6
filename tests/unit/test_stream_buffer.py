"""RecordBuffer: FIFO within a shard whatever the timestamps, oldest head first across shards."""
from datetime import datetime, timedelta, timezone

from bloop.stream.buffer import RecordBuffer

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record(sequence_number, seconds):
    created_at = START + timedelta(seconds=seconds)
    return {"dynamodb": {"SequenceNumber": sequence_number, "ApproximateCreationDateTime": created_at}}


def drain(buffer):
    out = []
    while buffer.peek() is not None:
        shard_id, found = buffer.pop()
        out.append((shard_id, found["dynamodb"]["SequenceNumber"]))
    return out


def test_within_a_shard_fetch_order_wins_over_timestamps():
    buffer = RecordBuffer()
    buffer.extend("a", [record("1", 5), record("2", 3), record("3", 4)])  # created_at going backwards
    assert [seq for _, seq in drain(buffer)] == ["1", "2", "3"]


def test_across_shards_the_oldest_head_goes_first_and_ties_go_to_the_head_waiting_longest():
    buffer = RecordBuffer()
    buffer.extend("a", [record("a1", 2), record("a2", 9)])
    buffer.extend("b", [record("b1", 1), record("b2", 2)])
    buffer.extend("c", [record("c1", 2)])
    assert len(buffer) == 5
    assert drain(buffer) == [("b", "b1"), ("a", "a1"), ("c", "c1"), ("b", "b2"), ("a", "a2")]
    assert len(buffer) == 0


def test_holds_tracks_each_shard_until_its_last_record_leaves():
    buffer = RecordBuffer()
    buffer.extend("a", [])
    assert not buffer.holds("a")
    buffer.extend("a", [record("1", 0)])
    assert buffer.holds("a")
    assert buffer.peek() == ("a", record("1", 0))
    buffer.pop()
    assert not buffer.holds("a") and buffer.peek() is None
