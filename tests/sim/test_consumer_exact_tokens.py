"""Tokens taken before a shard returned its first record hold an exact position (issue 10, defect 1).

A TRIM_HORIZON iterator can't notice trimming: a token that said "trim_horizon" for a shard still walking
empty pages over a trimmed head resumed at a new TRIM_HORIZON, and whatever was trimmed in between was
gone without a report (measured: 5 and 10 records lost, 0 losses reported). The token now holds the
shard's StartingSequenceNumber (or, after a reported gap, where the gap began); restoring it either reads
from there or is refused as trimmed, and the gap is reported (I5).
"""
from datetime import timedelta

from tests.sim import LossReport

from .test_consumer_kit import HOUR, MINUTE, Consumer

EMPTY_PAGES = 60  # far more than a few next() calls walk (each fetch follows at most five empty pages)


def first_retained(sim, shard_id):
    shard = sim.shard(shard_id)
    now = sim.clock.now()
    return next(record for record in shard.records if record.readable_at(now))


def walk_over_trimmed_head(sim, shard_id):
    """Make a TRIM_HORIZON iterator of ``shard_id`` meet empty pages before its oldest retained record."""
    sim.inject_empty_pages(shard_id, count=EMPTY_PAGES,
                           before_sequence_number=first_retained(sim, shard_id).sequence_number)


def token_entry(token, shard_id):
    return next(entry for entry in token["shards"] if entry["shard_id"] == shard_id)


def covered(consumer, records):
    parents = consumer.sim.shard_parents()
    reports = [LossReport.coerce(loss) for loss in consumer.losses]
    return all(any(report.covers(record, parents) for report in reports) for record in records)


def trimmed_head(consumer, count=10):
    """One shard whose first records are trimmed, holding ``count`` records still retained."""
    sim = consumer.sim
    consumer.write_many(3, keys=1)
    sim.clock.advance(HOUR)
    unread = consumer.write_many(count, keys=1)
    sim.clock.advance(23 * HOUR + 30 * MINUTE)  # the first three are trimmed, the rest are 23.5 hours old
    return unread


def walking_shard(seed):
    """A one-shard consumer whose shard has a trimmed head, then empty pages, then five unread records."""
    consumer = Consumer(seed=seed)
    (shard_id,) = consumer.sim.open_shard_ids()
    unread = trimmed_head(consumer, count=5)
    walk_over_trimmed_head(consumer.sim, shard_id)
    return consumer, shard_id, unread


def test_a_token_taken_while_walking_empty_pages_over_a_trimmed_head_reports_what_a_day_offline_trims():
    consumer, shard_id, unread = walking_shard(110)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    for _ in range(3):
        assert next(stream) is None  # still walking the empty pages
    token = stream.token
    entry = token_entry(token, shard_id)
    assert entry["iterator_type"] == "at_sequence" and entry["from_start"] is True  # exact, not "trim_horizon"
    assert entry["sequence_number"] == str(sim.shard(shard_id).starting_sequence)
    assert consumer.losses == []  # starting at the oldest record left is what was asked: no gap yet
    consumer.initial = token
    sim.clock.advance(25 * HOUR)  # offline: the five unread records are trimmed
    late = consumer.write_many(3, keys=1)
    consumer.session()
    assert consumer.violations() == []
    assert covered(consumer, unread)
    assert sorted(e["meta"]["sequence_number"] for e in consumer.log.deliveries) == sorted(
        r.sequence_number for r in late)
    (loss,) = consumer.losses
    assert loss.shard_id == shard_id and loss.before_sequence_number == late[0].sequence_number


def test_a_shard_walking_empty_pages_while_another_shards_events_are_saved_reports_its_trimmed_records():
    consumer = Consumer(shard_count=2, page_size=2, seed=111)
    sim = consumer.sim
    walking, busy = sim.open_shard_ids()
    while sim.shard_of({"id": {"S": f"k{consumer.counter}"}}) != walking:
        consumer.counter += 1
    walking_key = f"k{consumer.counter}"
    consumer.write(walking_key)
    consumer.write(walking_key)
    sim.clock.advance(HOUR)
    unread = [consumer.write(walking_key) for _ in range(10)]
    sim.clock.advance(23 * HOUR + 30 * MINUTE)
    walk_over_trimmed_head(sim, walking)
    busy_keys = [name for name in (f"b{i}" for i in range(40)) if sim.shard_of({"id": {"S": name}}) == busy][:3]
    handled = [consumer.write(busy_keys[i % len(busy_keys)]) for i in range(12)]
    consumer.start("trim_horizon")
    consumer.session(max_events=8)  # eight of the busy shard's events handled and saved; the other walks
    assert {e["meta"]["sequence_number"] for e in consumer.log.deliveries} <= {r.sequence_number for r in handled}
    assert token_entry(consumer.log.last_token, walking)["iterator_type"] == "at_sequence"
    sim.clock.advance(HOUR)  # the ten unread records of the walking shard are trimmed before the restart
    consumer.session()
    assert consumer.violations() == []
    assert covered(consumer, unread)
    assert len({e["meta"]["sequence_number"] for e in consumer.log.deliveries}) == 12


def test_a_token_taken_after_a_reported_gap_but_before_the_next_record_reports_later_trimming():
    consumer = Consumer(seed=112)
    sim = consumer.sim
    (shard_id,) = sim.open_shard_ids()
    first = consumer.write_many(3, keys=1)
    stream = consumer.stream("trim_horizon")
    assert next(stream)["meta"]["sequence_number"] == first[0].sequence_number
    token = stream.token
    sim.clock.advance(HOUR)
    second = consumer.write_many(10, keys=1)
    sim.clock.advance(23 * HOUR + 30 * MINUTE)  # the last two of ``first`` are trimmed, unread
    walk_over_trimmed_head(sim, shard_id)
    resumed = consumer.stream(token)
    assert next(resumed) is None and next(resumed) is None  # the gap is reported; then empty pages
    assert covered(consumer, first[1:])
    entry = token_entry(resumed.token, shard_id)
    assert (entry["iterator_type"], entry["sequence_number"]) == ("after_sequence", first[0].sequence_number)
    sim.clock.advance(HOUR)  # now ``second`` is trimmed too, never read
    third = consumer.write_many(2, keys=1)
    consumer.losses.clear()
    again = consumer.stream(resumed.token)
    events = consumer.drain(again)
    assert [e["meta"]["sequence_number"] for e in events] == [r.sequence_number for r in third]
    assert covered(consumer, second)


def seek_then_resume(seed, seek_back, offline):
    """Seek ``seek_back`` before now on a shard walking empty pages over a trimmed head, take the token
    before any record, stay offline for ``offline``, then resume: exactly the two records written after
    that are delivered. Returns the consumer and the five records that were unread at the seek."""
    consumer, shard_id, unread = walking_shard(seed)
    sim = consumer.sim
    stream = consumer.stream(sim.clock.now() - seek_back)
    assert next(stream) is None
    token = stream.token
    entry = token_entry(token, shard_id)
    assert entry["iterator_type"] == "at_sequence" and "skip_before" in entry
    sim.clock.advance(offline)
    late = consumer.write_many(2, keys=1)
    events = consumer.drain(consumer.stream(token))
    assert [e["meta"]["sequence_number"] for e in events] == [r.sequence_number for r in late]
    return consumer, unread


def test_a_token_taken_after_move_to_a_time_before_the_first_record_reports_later_trimming():
    consumer, unread = seek_then_resume(113, timedelta(hours=30), timedelta(hours=25))
    assert covered(consumer, unread)


def test_a_time_seek_to_less_than_a_day_ago_reports_no_gap_for_records_it_would_skip():
    # the five old records are trimmed while offline, but all were created before the time sought
    consumer, _ = seek_then_resume(114, timedelta(minutes=5), timedelta(hours=2))
    assert consumer.losses == []


def test_a_bloop_3_token_saying_trim_horizon_becomes_exact_once_the_shard_is_listed():
    consumer, shard_id, unread = walking_shard(115)
    sim = consumer.sim
    bloop_token = {"stream_arn": sim.stream_arn, "active": [shard_id],
                   "shards": [{"shard_id": shard_id, "iterator_type": "trim_horizon"}]}
    stream = consumer.stream(bloop_token)
    assert next(stream) is None  # the first poll lists the shards, then walks the empty pages
    entry = token_entry(stream.token, shard_id)
    start = str(sim.shard(shard_id).starting_sequence)
    assert (entry["iterator_type"], entry["sequence_number"]) == ("at_sequence", start)
    assert consumer.losses == []  # "trim_horizon" asked for the oldest record left: its trimmed start is no gap
    sim.clock.advance(25 * HOUR)
    late = consumer.write_many(2, keys=1)
    events = consumer.drain(consumer.stream(stream.token))
    assert [e["meta"]["sequence_number"] for e in events] == [r.sequence_number for r in late]
    assert covered(consumer, unread)
