"""Fault catalog rows F1-F14 (shared/streams-faults.md section 5) against the simulated service.

Each test drives bloop's Stream through the fault and asks the oracle for I1-I5 violations.
"""
import json

import pytest

from bloop.exceptions import BloopException, InvalidStream, RecordsLost, RetryLimitExceeded, StreamDisabled
from tests.sim import AFTER_FETCH, AFTER_HANDLE, AFTER_SAVE, BEFORE_SAVE, CrashPlan, SimulatedStreams

from .test_consumer_kit import HOUR, MINUTE, Consumer, Thing, sequence_numbers


def all_delivered(consumer):
    return [e["meta"]["sequence_number"] for e in consumer.log.deliveries]


# ------------------------------------------------------------------------------------------ F1, F2
@pytest.mark.parametrize("point, duplicates", [(AFTER_FETCH, 0), (AFTER_HANDLE, 1), (BEFORE_SAVE, 1), (AFTER_SAVE, 0)])
def test_f1_f2_crash_mid_batch_then_resume(point, duplicates):
    consumer = Consumer(shard_count=2, page_size=10, seed=1)
    consumer.write_many(40)
    consumer.start("trim_horizon")
    crashes = CrashPlan()
    crashes.arm(point, on_hit=7)
    assert consumer.session(crashes=crashes).crashed
    consumer.session()
    assert consumer.violations() == []
    delivered = all_delivered(consumer)
    assert len(set(delivered)) == 40
    assert len(delivered) - 40 == duplicates  # F2: only the handled-but-unsaved record comes again


def test_f1_crash_inside_the_library_right_after_a_fetch():
    consumer = Consumer(shard_count=3, page_size=4, seed=2)
    consumer.write_many(30)
    consumer.start("trim_horizon")
    consumer.sim.faults.crash("GetRecords", after_calls=5)  # the reply was computed, the process died
    assert consumer.session().crashed
    consumer.session()
    assert consumer.violations() == []
    assert len(all_delivered(consumer)) == len(set(all_delivered(consumer))) == 30


def test_f1_resume_from_a_token_saved_every_few_events():
    consumer = Consumer(shard_count=2, page_size=6, seed=3)
    consumer.write_many(50)
    consumer.start("trim_horizon")
    crashes = CrashPlan()
    crashes.arm(AFTER_HANDLE, on_hit=23)
    consumer.session(crashes=crashes, save_every=5)
    consumer.session(save_every=5)
    assert consumer.violations() == []
    assert len(all_delivered(consumer)) - 50 == 3  # events 21-23 handled after the save at 20


# ---------------------------------------------------------------------------------------------- F3
def test_f3_a_token_of_another_tables_stream_is_refused_before_any_call():
    sim = SimulatedStreams(seed=4)
    sim.create_table("Other")
    sim.put_item({"id": {"S": "a"}, "value": {"N": "1"}})
    sim.tables["Other"].put_item({"id": {"S": "x"}, "value": {"N": "1"}})
    other = Consumer(sim)
    other.engine._bound[Thing].stream_arn = sim.tables["Other"].stream_arn
    foreign = other.stream("trim_horizon").token

    consumer = Consumer(sim)
    stream = consumer.stream("trim_horizon")
    before, calls = stream.token, sum(sim.calls.values())
    with pytest.raises(InvalidStream) as raised:
        stream.move_to(foreign)
    assert sim.tables["Other"].stream_arn in str(raised.value) and sim.stream_arn in str(raised.value)
    assert sum(sim.calls.values()) == calls  # I4: nothing was asked of the foreign stream
    assert stream.token == before
    assert [e["key"].id for e in consumer.drain(stream)] == ["a"]


# ---------------------------------------------------------------------------------------------- F4
def test_f4_a_token_of_the_tables_previous_stream_is_refused_and_the_old_stream_ends_loudly():
    consumer = Consumer(seed=5)
    consumer.write_many(5)
    stream = consumer.stream("trim_horizon")
    assert len(consumer.drain(stream)) == 5
    old_token = stream.token
    consumer.sim.disable()
    new_arn = consumer.sim.enable()
    consumer.write_many(3)

    rebound = Consumer(consumer.sim)  # an engine bound after the re-enable streams the new ARN
    assert rebound.engine.stream_arn(Thing) == new_arn
    with pytest.raises(InvalidStream, match="belongs to stream"):
        rebound.stream(old_token)
    assert len(rebound.drain(rebound.stream("trim_horizon"))) == 3  # explicit choice: start on the new stream

    # the old engine still streams the old ARN: the closed shards end, and that is said, not idled through
    with pytest.raises(StreamDisabled) as raised:
        consumer.drain(stream)
    assert raised.value.token["stream_arn"] == old_token["stream_arn"]
    assert f"latest stream is {new_arn}" in str(raised.value)  # the switch is said, never made silently
    consumer.sim.clock.advance(25 * HOUR)  # the old stream is gone after retention
    with pytest.raises(InvalidStream):
        consumer.stream("trim_horizon")


# ---------------------------------------------------------------------------------------------- F5
def test_f5_a_token_whose_shards_were_trimmed_away_resumes_at_the_oldest_survivors():
    consumer = Consumer(shard_count=2, rollover_after=4 * HOUR, seed=6)
    consumer.start("trim_horizon")
    consumer.write_many(20)
    consumer.session(max_events=8)
    saved = {shard["shard_id"] for shard in consumer.log.last_token["shards"]}
    for _ in range(30):  # 30 hours offline, lineages rolling over every 4 hours
        consumer.sim.clock.advance(HOUR)
        consumer.write_many(3)
    consumer.session()
    consumer.session()
    assert consumer.violations() == []
    gone = {loss.shard_id for loss in consumer.losses if loss.before_sequence_number is None}
    assert gone == saved  # each vanished shard of the token is named, its lost descendants with it


# ---------------------------------------------------------------------------------------------- F6
def test_f6_a_token_older_than_the_trim_point_reports_the_gap_then_reads_what_is_left():
    consumer = Consumer(seed=7)
    consumer.start("trim_horizon")
    first = consumer.write_many(10)
    consumer.session(max_events=3)
    consumer.sim.clock.advance(20 * HOUR)
    second = consumer.write_many(10)
    consumer.sim.clock.advance(5 * HOUR)  # the first ten are trimmed; the shard is still listed
    consumer.session()
    assert consumer.violations() == []
    (loss,) = consumer.losses
    assert loss.shard_id == first[0].shard_id
    assert loss.after_sequence_number == first[2].sequence_number
    assert loss.before_sequence_number == second[0].sequence_number


def test_f6_without_a_loss_callback_next_raises_once_then_continues():
    consumer = Consumer(seed=8)
    stream = consumer.stream("trim_horizon", on_loss=None)
    consumer.write_many(5)
    assert len([next(stream) for _ in range(2)]) == 2
    token = stream.token
    consumer.sim.clock.advance(25 * HOUR)
    consumer.write_many(2)
    resumed = consumer.stream(token, on_loss=None)
    with pytest.raises(RecordsLost) as raised:
        next(resumed)
    assert isinstance(raised.value.losses[0].after_sequence_number, str)
    assert len(consumer.drain(resumed)) == 2


# ---------------------------------------------------------------------------------------------- F7
def test_f7_records_trimmed_while_an_iterator_is_held_are_reported_and_other_shards_go_on():
    consumer = Consumer(shard_count=2, page_size=5, retention=HOUR, seed=9)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    early = [consumer.write("a") for _ in range(20)]  # one key: one shard
    sim.clock.advance(50 * MINUTE)
    late = [consumer.write(name) for name in ("b", "c", "d", "e", "f", "g") for _ in range(2)]
    events = [next(stream) for _ in range(3)]
    assert None not in events
    sim.clock.advance(11 * MINUTE)  # the shard's iterator (issued 11 minutes ago) now points at trimmed records
    events += consumer.drain(stream)
    delivered = set(sequence_numbers(events))
    assert {r.sequence_number for r in late} <= delivered
    assert len(sequence_numbers(events)) == len(delivered)
    lost = [r for r in early if r.sequence_number not in delivered]
    assert lost
    (loss,) = consumer.losses
    assert loss.shard_id == early[0].shard_id
    assert int(loss.after_sequence_number) < int(lost[0].sequence_number)


# ---------------------------------------------------------------------------------------------- F8
class FrozenClock:
    """A stream clock that never moves: the stream can't see iterators age, so the service's expiry hits."""

    def __init__(self, sim):
        self.sim = sim

    def now(self):
        return self.sim.clock.now()

    def monotonic(self):
        return 0.0

    def sleep(self, seconds):
        self.sim.clock.sleep(seconds)


@pytest.mark.parametrize("notices_age", [True, False], ids=["refreshed-before-expiry", "refreshed-after-expiry"])
def test_f8_iterators_expiring_during_a_long_handler_are_refreshed_silently(notices_age):
    consumer = Consumer(shard_count=3, page_size=4, seed=10)
    consumer.write_many(40)
    clock = None if notices_age else FrozenClock(consumer.sim)
    stream = consumer.stream("trim_horizon", **({} if clock is None else {"clock": clock}))
    events = []
    for _ in range(10):
        events.append(next(stream))
        consumer.sim.clock.advance(16 * MINUTE)  # the handler took 16 minutes
    events += consumer.drain(stream)
    assert None not in events[:10]
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in consumer.sim.write_log)


def test_f8_an_injected_expiry_refreshes_from_the_consumed_position():
    consumer = Consumer(shard_count=2, page_size=3, seed=11)
    consumer.write_many(20)
    consumer.start("trim_horizon")
    consumer.sim.faults.schedule("GetRecords", "ExpiredIteratorException", after_calls=2, times=3)
    consumer.session()
    assert consumer.violations() == []
    assert len(all_delivered(consumer)) == 20


# ---------------------------------------------------------------------------------------------- F9
def test_f9_an_unread_trim_horizon_shard_survives_expiry():
    consumer = Consumer(shard_count=2, seed=12)
    sim = consumer.sim
    first, second = sim.open_shard_ids()
    names = {sim.shard_of({"id": {"S": f"k{i}"}}): f"k{i}" for i in range(20)}
    stream = consumer.stream("trim_horizon")
    consumer.write(names[first])
    assert len(consumer.drain(stream)) == 1  # the second shard was polled, empty, and left unread
    sim.clock.advance(16 * MINUTE)
    consumer.write(names[second])
    assert [e["key"].id for e in consumer.drain(stream)] == [names[second]]


# --------------------------------------------------------------------------------------------- F10
def test_f10_a_latest_token_saved_before_any_record_loses_nothing():
    consumer = Consumer(shard_count=2, seed=13)
    consumer.write_many(4)  # before the move: may come again (documented at-least-once), never required
    start = len(consumer.sim.write_log)
    consumer.start("latest")
    # no exact position exists before the first record: the token resumes each shard from its start
    assert {(s["iterator_type"], s["from_start"]) for s in consumer.initial["shards"]} == {("at_sequence", True)}
    consumer.sim.clock.advance(MINUTE)
    consumer.write_many(6)
    consumer.session()  # a new process from the token saved right after the move
    assert consumer.violations(start_index=start) == []


def test_f10_a_latest_iterator_that_lapses_before_the_first_record_loses_nothing():
    consumer = Consumer(seed=14)
    stream = consumer.stream("latest")
    assert next(stream) is None
    consumer.sim.clock.advance(20 * MINUTE)  # no poll for 20 minutes: the LATEST iterator expired
    written = consumer.write_many(3)
    events = consumer.drain(stream)
    assert {r.sequence_number for r in written} <= set(sequence_numbers(events))


def test_f10_latest_delivers_exactly_what_is_written_after_the_move_while_polled():
    consumer = Consumer(shard_count=3, seed=15)
    consumer.write_many(5)
    stream = consumer.stream("latest")
    for _ in range(4):  # idle polls keep the LATEST iterators fresh across 20 minutes
        assert consumer.drain(stream, idle_limit=2) == []
        consumer.sim.clock.advance(5 * MINUTE)
    written = consumer.write_many(9)
    assert sorted(sequence_numbers(consumer.drain(stream))) == sorted(r.sequence_number for r in written)


# --------------------------------------------------------------------------------------------- F11
def test_f11_throttling_bursts_on_every_operation_are_retried_without_duplicates():
    consumer = Consumer(shard_count=3, page_size=5, seed=16)
    consumer.write_many(30)
    faults = consumer.sim.faults
    faults.schedule("DescribeStream", "LimitExceededException", times=4)
    faults.schedule("GetShardIterator", "ThrottlingException", times=6)
    faults.schedule("GetRecords", "LimitExceededException", after_calls=3, times=8)
    consumer.start("trim_horizon")
    consumer.session()
    assert consumer.violations() == []
    assert len(all_delivered(consumer)) == 30


def test_f11_a_shard_throttled_past_the_retry_bound_does_not_hold_the_others_back():
    consumer = Consumer(shard_count=3, page_size=50, seed=17)
    sim = consumer.sim
    stuck = sim.open_shard_ids()[0]
    consumer.write_many(30)
    stream = consumer.stream("trim_horizon")
    sim.faults.schedule("GetRecords", "ThrottlingException", shard_id=stuck, times=25)
    events = []
    for event in stream.iterate(poll_interval=1.0, stop=lambda: len(events) == 30):  # waits out RetryLimitExceeded
        events.append(event)
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in sim.write_log)
    first_from_stuck = next(i for i, e in enumerate(events) if e["meta"]["sequence_number"] in
                            {r.sequence_number for r in sim.write_log if r.shard_id == stuck})
    assert first_from_stuck > 0  # the other shards were delivered while it was throttled


def test_f11_throttling_of_every_shard_past_the_bound_raises_a_retryable_error():
    consumer = Consumer(seed=18)
    consumer.write_many(3)
    stream = consumer.stream("trim_horizon")
    consumer.sim.faults.schedule("GetRecords", "LimitExceededException", times=10)
    with pytest.raises(RetryLimitExceeded):
        next(stream)
    consumer.sim.clock.advance(5)
    assert len(consumer.drain(stream)) == 3


def test_f11_a_describe_stream_storm_does_not_stop_the_known_shards():
    consumer = Consumer(shard_count=3, page_size=5, seed=21)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    token = stream.token
    assert next(stream) is None
    written = consumer.write_many(30)
    sim.clock.advance(61)  # the periodic listing is due
    sim.faults.schedule("DescribeStream", "LimitExceededException", times=None)  # every listing throttled
    events = consumer.drain(stream)  # never raises: the storm is shorter than the reporting bound
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in written)
    restored = consumer.stream(token)  # a restored token needs a listing on its first poll: it can wait
    assert sorted(sequence_numbers(consumer.drain(restored))) == sorted(r.sequence_number for r in written)
    assert sim.faults.pending[0].fired > 0  # the storm was met, and outlasted


def test_f11_a_listing_storm_that_persists_is_reported_and_the_position_is_kept():
    consumer = Consumer(shard_count=2, seed=22)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    assert next(stream) is None
    sim.faults.schedule("DescribeStream", "LimitExceededException", times=None)
    sim.clock.advance(61)
    raised = None
    for _ in range(100):
        try:
            assert next(stream) is None
        except RetryLimitExceeded as error:
            raised = error
            break
        sim.clock.advance(10)
    assert raised is not None and "listing the shards" in str(raised)
    token = stream.token
    sim.faults.clear()
    written = consumer.write_many(6)
    assert stream.token == token
    assert sorted(sequence_numbers(consumer.drain(stream))) == sorted(r.sequence_number for r in written)


def test_f11_one_reader_per_shard_stays_under_the_two_reader_limit():
    consumer = Consumer(shard_count=4, max_readers_per_shard=2, seed=19)
    consumer.write_many(40)
    consumer.start("trim_horizon")
    consumer.session()
    assert consumer.violations() == []


# --------------------------------------------------------------------------------------------- F12
def test_f12_a_failure_on_one_shard_keeps_what_the_others_returned():
    consumer = Consumer(shard_count=3, seed=20)
    sim = consumer.sim
    consumer.write_many(30)
    stream = consumer.stream("trim_horizon", max_workers=1)  # shards one after another, as bloop did
    failing = sim.open_shard_ids()[1]
    sim.faults.schedule("GetRecords", "ValidationException", shard_id=failing, times=1)
    with pytest.raises(BloopException):
        next(stream)
    events = consumer.drain(stream)
    assert sorted(sequence_numbers(events)) == sorted(r.sequence_number for r in sim.write_log)
    assert sim.calls["GetRecords"] <= 3 + 1 + 3 * 6  # the others' pages were not fetched twice


# --------------------------------------------------------------------------------------------- F13
@pytest.mark.parametrize("children", [1, 2])
def test_f13_a_split_while_reading_keeps_every_key_in_order(children):
    consumer = Consumer(page_size=4, seed=21)
    sim = consumer.sim
    consumer.start("trim_horizon")
    consumer.write_many(12, keys=4)
    consumer.session(max_events=5)
    sim.split(sim.open_shard_ids()[0], children)
    consumer.write_many(20, keys=4)
    consumer.session()
    assert consumer.violations() == []


def test_f13_a_token_taken_mid_split_resumes_parent_first_without_duplicates():
    consumer = Consumer(page_size=1000, seed=22)
    sim = consumer.sim
    parent = sim.open_shard_ids()[0]
    consumer.write_many(10, keys=3)
    children = sim.split(parent, 2)
    consumer.write_many(10, keys=3)
    stream = consumer.stream("trim_horizon")
    assert next(stream) is not None  # the parent's ten records are buffered; its children already exist
    token = json.loads(json.dumps(stream.token))
    assert token["active"] == [parent]  # B2: the children are not in the token yet
    consumer.start(token)
    for point in range(1, 20, 3):  # crash at many points across the split, resume each time
        crashes = CrashPlan()
        crashes.arm(AFTER_HANDLE, on_hit=point)
        consumer.session(crashes=crashes)
    consumer.session()
    assert consumer.violations(start_index=1) == []  # write #0 was delivered before the token was taken
    assert set(children) <= {r.shard_id for r in sim.write_log}


# --------------------------------------------------------------------------------------------- F14
def test_f14_children_that_show_up_late_in_a_shuffled_listing_continue_the_lineage():
    consumer = Consumer(shard_count=2, child_visibility_delay=6, parent_close_delay=4, listing_order="shuffled",
                        seed=23)
    sim = consumer.sim
    consumer.start("trim_horizon")
    for round_number in range(4):
        consumer.write_many(10)
        consumer.session(idle_limit=3)  # may stop before hidden children appear: the next life finds them
        sim.split(sim.open_shard_ids()[round_number % 2], 2)
    consumer.write_many(10)
    consumer.session(idle_limit=20)
    assert consumer.violations() == []


def test_f14_one_empty_child_answer_never_ends_a_lineage():
    consumer = Consumer(child_visibility_delay=15, seed=24)
    sim = consumer.sim
    stream = consumer.stream("trim_horizon")
    consumer.write_many(3)
    sim.split(sim.open_shard_ids()[0], 1)
    consumer.write_many(3)
    events = consumer.drain(stream, idle_limit=600)  # ten virtual minutes of empty polls
    assert len(events) == 6
    assert stream.token["active"] == sim.open_shard_ids()
    assert sim.calls["DescribeStream"] < 40  # asked again with backoff, not in a busy loop
