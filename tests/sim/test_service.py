"""Tests of the simulated DynamoDB Streams service and of the oracle itself."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.sim import (
    AFTER_HANDLE,
    BEFORE_SAVE,
    CrashPlan,
    DeliveryLog,
    LossReport,
    SessionLog,
    SimulatedCrash,
    SimulatedStreams,
    VirtualClock,
    check_invariants,
    check_simulation,
    run_session,
)

MODEL = botocore.session.get_session().get_service_model("dynamodbstreams")
MINUTE = 60
HOUR = 3600


# ---------------------------------------------------------------------------------------------
# helpers


def item(key, value=0, **extra):
    return {"id": {"S": key}, "value": {"N": str(value)}, **extra}


def key(name):
    return {"id": {"S": name}}


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def assert_shape(value, shape, path="response"):
    """``value`` uses only members botocore's output model knows, with the parsed Python types."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), path
        for name, member_value in value.items():
            if name == "ResponseMetadata" and path == "response":
                continue
            assert name in shape.members, f"{path}.{name} is not in the {shape.name} model"
            assert_shape(member_value, shape.members[name], f"{path}.{name}")
        for name in shape.required_members:
            assert name in value, f"{path} lacks required {name}"
    elif shape.type_name == "list":
        assert isinstance(value, list), path
        for number, element in enumerate(value):
            assert_shape(element, shape.member, f"{path}[{number}]")
    elif shape.type_name == "map":
        assert isinstance(value, dict), path
        for name, element in value.items():
            assert isinstance(name, str)
            assert_shape(element, shape.value, f"{path}.{name}")
    elif shape.type_name == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, path
    elif shape.type_name in ("integer", "long"):
        assert isinstance(value, int), path
    elif shape.type_name == "boolean":
        assert isinstance(value, bool), path
    elif shape.type_name == "blob":
        assert isinstance(value, bytes), path
    elif shape.type_name == "timestamp":
        assert isinstance(value, datetime) and value.tzinfo is not None, path


def output_shape(operation):
    return MODEL.operation_model(operation).output_shape


def all_shards(sim, arn=None, **kwargs):
    """Every listed shard, following LastEvaluatedShardId."""
    shards, start = [], None
    while True:
        args = {"StreamArn": arn or sim.stream_arn, **kwargs}
        if start:
            args["ExclusiveStartShardId"] = start
        description = sim.describe_stream(**args)["StreamDescription"]
        shards += description["Shards"]
        start = description.get("LastEvaluatedShardId")
        if not start:
            return shards


def iterator(sim, shard_id, kind="TRIM_HORIZON", sequence_number=None, arn=None):
    args = {"StreamArn": arn or sim.stream_arn, "ShardId": shard_id, "ShardIteratorType": kind}
    if sequence_number is not None:
        args["SequenceNumber"] = sequence_number
    return sim.get_shard_iterator(**args)["ShardIterator"]


def read_shard(sim, shard_id, **kwargs):
    """Read one shard from TRIM_HORIZON to its end (closed) or head (open): (records, pages, finished)."""
    records, pages = [], 0
    position = iterator(sim, shard_id)
    while position:
        response = sim.get_records(ShardIterator=position, **kwargs)
        pages += 1
        records += response["Records"]
        position = response.get("NextShardIterator")
        if not response["Records"] and position and sim.shard(shard_id).is_open:
            return records, pages, False
    return records, pages, True


def sequence_numbers(records):
    return [record["dynamodb"]["SequenceNumber"] for record in records]


def consumer(sim, arn=None, token=None):
    """A minimal correct consumer: parents before children, one record at a time, resumable.

    Returns ``(next_event, token)``: ``next_event()`` gives a bloop-shaped event or None once
    nothing more is readable; ``token()`` the position after the last returned event.
    """
    arn = arn or sim.stream_arn
    positions = dict(token["positions"]) if token else {}
    finished = set(token["finished"]) if token else set()

    def events():
        while True:
            progressed = False
            shards = all_shards(sim, arn)
            listed = {shard["ShardId"] for shard in shards}
            for shard in shards:
                shard_id, parent = shard["ShardId"], shard.get("ParentShardId")
                if shard_id in finished or (parent in listed and parent not in finished):
                    continue
                if shard_id in positions:
                    position = iterator(sim, shard_id, "AFTER_SEQUENCE_NUMBER", positions[shard_id], arn=arn)
                else:
                    position = iterator(sim, shard_id, arn=arn)
                while position:
                    response = sim.get_records(ShardIterator=position)
                    for record in response["Records"]:
                        positions[shard_id] = record["dynamodb"]["SequenceNumber"]
                        progressed = True
                        yield {
                            "key": record["dynamodb"]["Keys"],
                            "meta": {"sequence_number": record["dynamodb"]["SequenceNumber"]},
                        }
                    position = response.get("NextShardIterator")
                    if position and not response["Records"]:
                        break  # the head of an open shard
                else:
                    finished.add(shard_id)  # no NextShardIterator: the shard is done
                    progressed = True
            if not progressed:
                return

    generator = events()
    return (lambda: next(generator, None)), (
        lambda: {"positions": dict(positions), "finished": set(finished)}
    )


# ---------------------------------------------------------------------------------------------
# clock


def test_virtual_clock_advances_without_sleeping(monkeypatch):
    def no_real_sleep(seconds):
        raise AssertionError(f"the virtual clock slept {seconds} real seconds")

    monkeypatch.setattr(time, "sleep", no_real_sleep)
    clock = VirtualClock()
    start = clock.now()
    clock.sleep(HOUR)
    clock.advance(timedelta(minutes=1))
    assert clock.now() - start == timedelta(hours=1, minutes=1)
    assert clock.monotonic() == 3660
    assert clock.now().tzinfo is not None
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        VirtualClock(datetime(2026, 1, 1))


# ---------------------------------------------------------------------------------------------
# record fidelity


def test_records_are_shaped_like_boto3():
    sim = SimulatedStreams()
    sim.clock.advance(0.75)
    sim.put_item(item("a", 1, blob={"B": b"\x00\x01"}))
    sim.put_item(item("a", 2))
    sim.delete_item(key("a"))
    (shard_id,) = sim.open_shard_ids()
    response = sim.get_records(ShardIterator=iterator(sim, shard_id))
    assert_shape(response, output_shape("GetRecords"))
    insert, modify, remove = response["Records"]
    assert [r["eventName"] for r in response["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
    body = insert["dynamodb"]
    assert body["Keys"] == key("a")
    assert body["NewImage"]["blob"] == {"B": b"\x00\x01"}
    assert "OldImage" not in body
    assert modify["dynamodb"]["OldImage"]["value"] == {"N": "1"}
    assert "NewImage" not in remove["dynamodb"]
    created = body["ApproximateCreationDateTime"]
    assert created.tzinfo is not None and created.microsecond == 0
    assert created == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert body["SizeBytes"] > 0 and body["SequenceNumber"].isdigit()
    assert insert["eventSource"] == "aws:dynamodb" and insert["awsRegion"] == "us-east-1"
    assert "userIdentity" not in remove
    assert len({r["eventID"] for r in response["Records"]}) == 3
    # responses are copies: mutating them leaves the stream untouched
    body["Keys"]["id"]["S"] = "mutated"
    again = sim.get_records(ShardIterator=iterator(sim, shard_id))
    assert again["Records"][0]["dynamodb"]["Keys"] == key("a")


@pytest.mark.parametrize(
    "view_type, images",
    [
        ("KEYS_ONLY", [set(), set(), set()]),
        ("NEW_IMAGE", [{"NewImage"}, {"NewImage"}, set()]),
        ("OLD_IMAGE", [set(), {"OldImage"}, {"OldImage"}]),
        ("NEW_AND_OLD_IMAGES", [{"NewImage"}, {"NewImage", "OldImage"}, {"OldImage"}]),
    ],
)
def test_view_types_decide_which_images_are_kept(view_type, images):
    sim = SimulatedStreams(view_type=view_type)
    sim.put_item(item("a", 1))
    sim.put_item(item("a", 2))
    sim.delete_item(key("a"))
    records, _, _ = read_shard(sim, sim.open_shard_ids()[0])
    assert [set(r["dynamodb"]) & {"NewImage", "OldImage"} for r in records] == images
    assert all(r["dynamodb"]["StreamViewType"] == view_type for r in records)


def test_writes_that_change_nothing_produce_no_record_and_ttl_deletes_are_marked():
    sim = SimulatedStreams()
    assert sim.put_item(item("a", 1)) is not None
    assert sim.put_item(item("a", 1)) is None  # F26
    assert sim.update_item(key("a"), {"value": {"N": "1"}}) is None
    assert sim.delete_item(key("missing")) is None
    removed = sim.delete_item(key("a"), ttl=True)  # F25
    assert removed.event_name == "REMOVE" and removed.ttl
    records, _, _ = read_shard(sim, sim.open_shard_ids()[0])
    assert len(records) == 2
    assert records[1]["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    with pytest.raises(ValueError):
        sim.put_item({"value": {"N": "1"}})  # no key


def test_sequence_numbers_increase_per_shard_vary_in_length_and_are_unique():
    sim = SimulatedStreams(shard_count=6, seed=3)
    for number in range(300):
        sim.put_item(item(f"k{number}"))
    by_shard = {}
    for record in sim.write_log:
        by_shard.setdefault(record.shard_id, []).append(int(record.sequence_number))
    assert len(by_shard) == 6
    for numbers in by_shard.values():
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        assert any(b - a > 1 for a, b in zip(numbers, numbers[1:]))  # gaps
    texts = [record.sequence_number for record in sim.write_log]
    assert len(set(texts)) == len(texts)
    assert all(21 <= len(text) <= 40 for text in texts)
    assert len({len(text) for text in texts}) > 2
    # somewhere string order and numeric order disagree, as on AWS
    assert any(sorted(numbers, key=str) != numbers for numbers in by_shard.values())


def test_global_sequence_numbers_increase_across_shards():
    sim = SimulatedStreams(shard_count=3, sequence_numbers="global")
    for number in range(200):
        sim.put_item(item(f"k{number}"))
    numbers = [int(record.sequence_number) for record in sim.write_log]
    assert numbers == sorted(numbers)
    assert {len(str(n)) for n in numbers} == {21, 22}


# ---------------------------------------------------------------------------------------------
# routing, splits, lineage


def test_a_key_stays_in_its_lineage_across_splits():
    sim = SimulatedStreams(shard_count=4)
    keys = [f"k{number}" for number in range(40)]
    first = {name: sim.put_item(item(name, 1)).shard_id for name in keys}
    assert len(set(first.values())) == 4
    target = first["k0"]
    children = sim.split(target, children=2)
    grandchild = sim.split(children[0], children=1)[0]
    parents = sim.shard_parents()
    assert parents[children[0]] == parents[children[1]] == target and parents[grandchild] == children[0]
    for name in keys:
        shard_id = sim.put_item(item(name, 2)).shard_id
        lineage = {shard_id}
        while parents[shard_id]:
            shard_id = parents[shard_id]
            lineage.add(shard_id)
        assert first[name] in lineage
    moved = {sim.shard_of(key(name)) for name in keys if first[name] == target}
    assert moved <= {children[1], grandchild} and len(moved) == 2


def test_split_closes_the_parent_and_children_name_it():
    sim = SimulatedStreams()
    (parent,) = sim.open_shard_ids()
    sim.put_item(item("a", 1))
    children = sim.split(parent)
    sim.put_item(item("a", 2))
    listed = {shard["ShardId"]: shard for shard in all_shards(sim)}
    assert "EndingSequenceNumber" in listed[parent]["SequenceNumberRange"]
    assert all(listed[child]["ParentShardId"] == parent for child in children)
    assert all("EndingSequenceNumber" not in listed[c]["SequenceNumberRange"] for c in children)
    records, _, finished = read_shard(sim, parent)
    assert len(records) == 1 and finished
    with pytest.raises(ValueError):
        sim.split(parent)


def test_a_closed_shard_ends_with_a_response_without_next_iterator():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    for number in range(3):
        sim.put_item(item(f"k{number}"))
    sim.split(shard_id, children=1)
    last = sim.get_records(ShardIterator=iterator(sim, shard_id))
    assert len(last["Records"]) == 3 and last["NextShardIterator"]
    end = sim.get_records(ShardIterator=last["NextShardIterator"])
    assert end["Records"] == [] and "NextShardIterator" not in end
    latest = sim.get_records(ShardIterator=iterator(sim, shard_id, "LATEST"))
    assert latest["Records"] == [] and "NextShardIterator" not in latest

    eager = SimulatedStreams(last_page_closes_shard=True)
    (shard_id,) = eager.open_shard_ids()
    eager.put_item(item("a"))
    eager.split(shard_id)
    only = eager.get_records(ShardIterator=iterator(eager, shard_id))
    assert len(only["Records"]) == 1 and "NextShardIterator" not in only


def test_head_of_an_open_shard_returns_empty_pages_with_an_iterator():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    head = sim.get_records(ShardIterator=iterator(sim, shard_id, "LATEST"))
    assert head["Records"] == [] and head["NextShardIterator"]
    sim.put_item(item("a"))
    after = sim.get_records(ShardIterator=head["NextShardIterator"])
    assert len(after["Records"]) == 1


def test_iterator_positions():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    written = [sim.put_item(item(f"k{number}")).sequence_number for number in range(5)]

    def read(kind, sequence_number=None):
        position = iterator(sim, shard_id, kind, sequence_number)
        return sequence_numbers(sim.get_records(ShardIterator=position)["Records"])

    assert read("TRIM_HORIZON") == written
    assert read("LATEST") == []
    assert read("AT_SEQUENCE_NUMBER", written[2]) == written[2:]
    assert read("AFTER_SEQUENCE_NUMBER", written[2]) == written[3:]
    assert read("AFTER_SEQUENCE_NUMBER", written[4]) == []


def test_at_timestamp_compares_with_the_rounded_creation_time():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    sim.put_item(item("a"))
    sim.clock.advance(10.5)
    moment = sim.clock.now()
    later = sim.put_item(item("b")).sequence_number  # ApproximateCreationDateTime: second 10

    def read_from(timestamp):
        position = sim.get_shard_iterator(
            StreamArn=sim.stream_arn, ShardId=shard_id, ShardIteratorType="AT_TIMESTAMP", Timestamp=timestamp
        )["ShardIterator"]
        return sequence_numbers(sim.get_records(ShardIterator=position)["Records"])

    assert read_from(moment.replace(microsecond=0)) == [later]
    assert read_from(moment.timestamp()) == []  # 10.5 s is after the record's rounded 10 s
    assert len(read_from(datetime(2025, 1, 1))) == 2  # before the trim horizon: TRIM_HORIZON
    with pytest.raises(ClientError) as future:
        sim.get_shard_iterator(
            StreamArn=sim.stream_arn,
            ShardId=shard_id,
            ShardIteratorType="AT_TIMESTAMP",
            Timestamp=moment + timedelta(hours=1),
        )
    assert error_code(future) == "ValidationException"


# ---------------------------------------------------------------------------------------------
# DescribeStream


def test_describe_stream_pages_and_filters():
    sim = SimulatedStreams(shard_count=250)
    first = sim.describe_stream(StreamArn=sim.stream_arn)
    assert_shape(first, output_shape("DescribeStream"))
    description = first["StreamDescription"]
    assert len(description["Shards"]) == 100 and description["LastEvaluatedShardId"]
    assert description["StreamStatus"] == "ENABLED" and description["TableName"] == "Table"
    shards = all_shards(sim, Limit=7)
    assert len(shards) == len({shard["ShardId"] for shard in shards}) == 250
    assert sim.calls["DescribeStream"] == 1 + 36
    parent = shards[0]["ShardId"]
    children = sim.split(parent)
    filtered = sim.describe_stream(
        StreamArn=sim.stream_arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": parent}
    )
    assert [s["ShardId"] for s in filtered["StreamDescription"]["Shards"]] == sorted(children)
    for limit in (101, 1000):
        with pytest.raises(ClientError) as too_many:
            sim.describe_stream(StreamArn=sim.stream_arn, Limit=limit)
        assert error_code(too_many) == "ValidationException"
    with pytest.raises(ParamValidationError):
        sim.describe_stream(StreamArn=sim.stream_arn, Limit=0)


def test_shuffled_listing_is_stable_across_pages_and_not_chronological():
    sim = SimulatedStreams(shard_count=30, listing_order="shuffled")
    for shard_id in sim.open_shard_ids()[:10]:
        sim.split(shard_id)
    paged = [shard["ShardId"] for shard in all_shards(sim, Limit=4)]
    whole = [shard["ShardId"] for shard in all_shards(sim)]
    assert paged == whole and len(whole) == 50
    assert whole != sorted(whole)
    position = {shard_id: number for number, shard_id in enumerate(whole)}
    parents = sim.shard_parents()
    assert any(position[child] < position[parent] for child, parent in parents.items() if parent)


def test_children_appear_after_n_describe_calls_and_parents_look_open_for_a_while():
    sim = SimulatedStreams(child_visibility_delay=2, parent_close_delay=4)
    (parent,) = sim.open_shard_ids()
    children = sim.split(parent)

    def listing():
        return {
            s["ShardId"]: s
            for s in sim.describe_stream(StreamArn=sim.stream_arn)["StreamDescription"]["Shards"]
        }

    def parent_looks_closed(shards):
        return "EndingSequenceNumber" in shards[parent]["SequenceNumberRange"]

    calls = [listing() for _ in range(5)]
    assert [set(children) <= set(shards) for shards in calls] == [False, False, True, True, True]
    assert [parent_looks_closed(shards) for shards in calls] == [False, False, False, False, True]
    # GetRecords already knows the parent is closed
    assert read_shard(sim, parent)[2]


def test_describe_rate_limit_counts_virtual_seconds():
    sim = SimulatedStreams(describe_calls_per_second=10)
    for _ in range(10):
        sim.describe_stream(StreamArn=sim.stream_arn)
    with pytest.raises(ClientError) as throttled:
        sim.describe_stream(StreamArn=sim.stream_arn)
    assert error_code(throttled) == "LimitExceededException"
    sim.clock.sleep(1)
    sim.describe_stream(StreamArn=sim.stream_arn)


def test_unknown_streams_and_shards_are_not_found():
    sim = SimulatedStreams()
    other = sim.stream_arn.replace("stream/2026", "stream/2025")
    for call in (
        lambda: sim.describe_stream(StreamArn=other),
        lambda: iterator(sim, sim.open_shard_ids()[0], arn=other),
        lambda: iterator(sim, "shardId-00000000000000000000-00000000"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert error_code(missing) == "ResourceNotFoundException"
        assert isinstance(missing.value, sim.exceptions.ResourceNotFoundException)


# ---------------------------------------------------------------------------------------------
# GetRecords paging


def test_get_records_limit_page_size_and_byte_cap():
    sim = SimulatedStreams(page_size=4)
    (shard_id,) = sim.open_shard_ids()
    for number in range(10):
        sim.put_item(item(f"k{number}"))
    records, pages, _ = read_shard(sim, shard_id)
    assert len(records) == 10 and pages == 4  # 4 + 4 + 2 + the empty head page
    assert len(sim.get_records(ShardIterator=iterator(sim, shard_id), Limit=3)["Records"]) == 3
    with pytest.raises(ClientError) as too_big:
        sim.get_records(ShardIterator=iterator(sim, shard_id), Limit=1001)
    assert error_code(too_big) == "ValidationException"
    with pytest.raises(ParamValidationError):
        sim.get_records(ShardIterator=iterator(sim, shard_id), Limit=0)

    large = SimulatedStreams(max_page_bytes=1000)
    (shard_id,) = large.open_shard_ids()
    for number in range(5):
        large.put_item(item(f"k{number}", blob={"S": "x" * 400}))
    first = large.get_records(ShardIterator=iterator(large, shard_id))
    assert len(first["Records"]) == 2


def test_empty_pages_injected_in_the_middle_of_a_shard():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    written = [sim.put_item(item(f"k{number}")).sequence_number for number in range(6)]
    sim.inject_empty_pages(shard_id, count=3, before_sequence_number=written[4])
    pages = []
    position = iterator(sim, shard_id)
    for _ in range(6):
        response = sim.get_records(ShardIterator=position)
        pages.append(sequence_numbers(response["Records"]))
        position = response["NextShardIterator"]
    assert pages == [written[:4], [], [], [], written[4:], []]


def test_bad_iterator_requests_are_validation_errors():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    written = sim.put_item(item("a")).sequence_number
    for kind, sequence_number in (
        ("AT_SEQUENCE_NUMBER", None),
        ("AFTER_SEQUENCE_NUMBER", None),
        ("SOMEWHERE", None),
        ("TRIM_HORIZON", written),
        ("AT_SEQUENCE_NUMBER", "12x"),
        ("AT_SEQUENCE_NUMBER", "1" + written),  # beyond the shard
    ):
        with pytest.raises(ClientError) as invalid:
            iterator(sim, shard_id, kind, sequence_number)
        assert error_code(invalid) == "ValidationException", kind
    with pytest.raises(ClientError) as garbage:
        sim.get_records(ShardIterator="not-an-iterator")
    assert error_code(garbage) == "ValidationException"
    with pytest.raises(ParamValidationError):
        sim.get_records(ShardIterator=None)


# ---------------------------------------------------------------------------------------------
# time: expiry, trimming, rollover


def test_iterators_expire_fifteen_minutes_after_being_issued():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    sim.put_item(item("a"))
    position = iterator(sim, shard_id)
    sim.clock.advance(14 * MINUTE)
    response = sim.get_records(ShardIterator=position)
    sim.get_records(ShardIterator=position)  # an unexpired iterator may be used again
    sim.clock.advance(2 * MINUTE)
    with pytest.raises(ClientError) as expired:
        sim.get_records(ShardIterator=position)
    assert error_code(expired) == "ExpiredIteratorException"
    assert isinstance(expired.value, sim.exceptions.ExpiredIteratorException)
    sim.get_records(ShardIterator=response["NextShardIterator"])  # issued 14 minutes in: still fresh


def test_records_are_trimmed_after_24_hours():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    old = sim.put_item(item("old")).sequence_number
    sim.clock.advance(12 * HOUR)
    young = sim.put_item(item("young")).sequence_number
    stale = iterator(sim, shard_id)
    sim.clock.advance(12 * HOUR)
    assert sequence_numbers(sim.get_records(ShardIterator=iterator(sim, shard_id))["Records"]) == [young]
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if kind == "AFTER_SEQUENCE_NUMBER":
            assert sequence_numbers(
                sim.get_records(ShardIterator=iterator(sim, shard_id, kind, old))["Records"]
            )
            continue
        with pytest.raises(ClientError) as trimmed:
            iterator(sim, shard_id, kind, old)
        assert error_code(trimmed) == "TrimmedDataAccessException"
    with pytest.raises(ClientError) as expired:
        sim.get_records(ShardIterator=stale)
    assert error_code(expired) == "ExpiredIteratorException"  # expiry is checked first
    # an unexpired iterator fails once the clock passes the trim point of its record (F7)
    sim.clock.advance(12 * HOUR - 10 * MINUTE)
    fresh_then_trimmed = iterator(sim, shard_id, "AT_SEQUENCE_NUMBER", young)
    sim.clock.advance(10 * MINUTE - 1)
    sim.get_records(ShardIterator=fresh_then_trimmed)
    sim.clock.advance(1)
    with pytest.raises(ClientError) as trimmed:
        sim.get_records(ShardIterator=fresh_then_trimmed)
    assert error_code(trimmed) == "TrimmedDataAccessException"
    assert not sim.write_log[0].readable_at(sim.clock.now())


def test_trimmed_shards_vanish_but_children_keep_their_parent_id():
    sim = SimulatedStreams()
    (parent,) = sim.open_shard_ids()
    sim.put_item(item("a"))
    (child,) = sim.split(parent, children=1)
    sim.clock.advance(24 * HOUR - 1)
    assert {s["ShardId"] for s in all_shards(sim)} == {parent, child}
    sim.clock.advance(1)
    (listed,) = all_shards(sim)
    assert listed["ShardId"] == child and listed["ParentShardId"] == parent
    with pytest.raises(ClientError) as gone:
        iterator(sim, parent)
    assert error_code(gone) == "ResourceNotFoundException"


def test_rollover_is_applied_lazily_at_the_right_moments():
    sim = SimulatedStreams(shard_count=2, rollover_after=4 * HOUR)
    roots = sim.open_shard_ids()
    sim.clock.advance(9 * HOUR)
    shards = all_shards(sim)
    assert len(shards) == 6
    parents = sim.shard_parents()
    for leaf in sim.open_shard_ids():
        chain = [leaf]
        while parents[chain[-1]]:
            chain.append(parents[chain[-1]])
        assert len(chain) == 3 and chain[-1] in roots
        closed_at = [sim.shard(shard_id).closed_at for shard_id in chain[1:]]
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        assert closed_at == [start + timedelta(hours=8), start + timedelta(hours=4)]
    sim.clock.advance(30 * HOUR)
    assert len(all_shards(sim)) == 2 * 7  # only shards closed within the last 24 h remain


# ---------------------------------------------------------------------------------------------
# stream lifecycle


def test_disable_and_enable_give_a_new_stream_and_the_old_one_expires():
    sim = SimulatedStreams(shard_count=2)
    old_arn = sim.stream_arn
    sim.put_item(item("a", 1))
    sim.disable()
    assert sim.put_item(item("a", 2)) is None  # no stream, no record
    description = sim.describe_stream(StreamArn=old_arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in description["Shards"])
    assert sim.describe_table(TableName="Table")["Table"]["StreamSpecification"] == {"StreamEnabled": False}
    new_arn = sim.enable()
    assert new_arn != old_arn and sim.stream_arn == new_arn
    assert sim.describe_table(TableName="Table")["Table"]["LatestStreamArn"] == new_arn
    new_record = sim.put_item(item("a", 3))
    assert new_record.stream_arn == new_arn
    assert not set(sim.open_shard_ids()) & {s["ShardId"] for s in description["Shards"]}
    listed = sim.list_streams(TableName="Table")
    assert_shape(listed, output_shape("ListStreams"))
    assert [s["StreamArn"] for s in listed["Streams"]] == [old_arn, new_arn]
    sim.clock.advance(24 * HOUR)
    with pytest.raises(ClientError) as gone:
        sim.describe_stream(StreamArn=old_arn)
    assert error_code(gone) == "ResourceNotFoundException"
    assert [s["StreamArn"] for s in sim.list_streams()["Streams"]] == [new_arn]


def test_deleting_the_table_makes_its_streams_not_found():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    sim.put_item(item("a"))
    position = iterator(sim, shard_id)
    sim.delete_table()
    for call in (
        lambda: sim.get_records(ShardIterator=position),
        lambda: sim.describe_stream(StreamArn=sim.stream_arn),
    ):
        with pytest.raises(ClientError) as gone:
            call()
        assert error_code(gone) == "ResourceNotFoundException"
    assert not sim.write_log[0].readable_at(sim.clock.now())
    with pytest.raises(ValueError):
        sim.put_item(item("b"))


# ---------------------------------------------------------------------------------------------
# faults, call counts, latency


def test_scheduled_faults_strike_the_matching_calls():
    sim = SimulatedStreams(shard_count=2)
    first, second = sim.open_shard_ids()
    throttle = sim.faults.schedule(
        "GetShardIterator", "ThrottlingException", shard_id=second, times=2, after_calls=1
    )
    outcomes = []
    for shard_id in (first, second, first, second, second, second):
        try:
            iterator(sim, shard_id)
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes == ["ok", "ok", "ok", "ThrottlingException", "ThrottlingException", "ok"]
    assert throttle.fired == 2 and throttle.exhausted and not sim.faults.pending
    assert sim.calls["GetShardIterator"] == 6 and sim.shard_calls[("GetShardIterator", second)] == 4

    sim.faults.schedule("DescribeStream", "InternalServerError")
    with pytest.raises(ClientError) as server:
        sim.describe_stream(StreamArn=sim.stream_arn)
    assert server.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ValueError):
        sim.faults.schedule("GetRecord", "ThrottlingException")
    with pytest.raises(ValueError):
        sim.faults.schedule("GetRecords", "Throttled")


def test_a_lost_reply_advances_state_but_the_old_iterator_still_works():
    sim = SimulatedStreams(child_visibility_delay=1)
    (shard_id,) = sim.open_shard_ids()
    written = [sim.put_item(item(f"k{number}")).sequence_number for number in range(3)]
    sim.inject_empty_pages(shard_id, count=1, before_sequence_number=written[0])
    position = iterator(sim, shard_id)
    sim.faults.schedule("GetRecords", lost_reply=True)
    with pytest.raises(ClientError) as lost:
        sim.get_records(ShardIterator=position)
    assert error_code(lost) == "InternalServerError"
    # the empty page was served (and lost); retrying from the consumed position reads everything
    assert sequence_numbers(sim.get_records(ShardIterator=position)["Records"]) == written

    children = sim.split(shard_id)
    sim.faults.schedule("DescribeStream", lost_reply=True)
    with pytest.raises(ClientError):
        sim.describe_stream(StreamArn=sim.stream_arn)
    shards = sim.describe_stream(StreamArn=sim.stream_arn)["StreamDescription"]["Shards"]
    assert set(children) <= {shard["ShardId"] for shard in shards}  # the lost call counted


def test_crash_faults_and_actions():
    sim = SimulatedStreams()
    (shard_id,) = sim.open_shard_ids()
    sim.put_item(item("a"))
    position = iterator(sim, shard_id)
    sim.faults.crash("GetRecords", after_calls=1)
    sim.get_records(ShardIterator=position)
    with pytest.raises(SimulatedCrash) as crash:
        try:
            sim.get_records(ShardIterator=position)
        except Exception:  # library code must not swallow a crash
            pytest.fail("SimulatedCrash must not be an Exception")
    assert crash.value.point == "GetRecords"

    sim.faults.run_before("GetRecords", lambda: sim.clock.advance(16 * MINUTE))
    with pytest.raises(ClientError) as expired:
        sim.get_records(ShardIterator=position)
    assert error_code(expired) == "ExpiredIteratorException"

    position = iterator(sim, shard_id, "LATEST")
    sim.faults.run_before("GetRecords", lambda: sim.split(shard_id))
    response = sim.get_records(ShardIterator=position)
    assert response["Records"] == [] and "NextShardIterator" not in response


def test_probabilistic_faults_are_reproducible():
    def outcomes(seed):
        sim = SimulatedStreams(seed=seed)
        sim.faults.schedule("DescribeStream", "LimitExceededException", times=None, probability=0.5)
        results = []
        for _ in range(40):
            try:
                sim.describe_stream(StreamArn=sim.stream_arn)
                results.append(True)
            except ClientError:
                results.append(False)
        return results

    assert outcomes(1) == outcomes(1)
    assert 5 < outcomes(1).count(False) < 35


def test_latency_is_real_and_slept_outside_the_lock(monkeypatch):
    sim = SimulatedStreams(shard_count=8, latency=0.1)
    positions = [iterator(sim, shard_id, "LATEST") for shard_id in sim.open_shard_ids()]
    together = threading.Barrier(8)
    slept = []

    def sleep(seconds):
        # all eight calls must be asleep at once to pass: impossible if the sleep held the state lock
        slept.append(seconds)
        together.wait(timeout=30)

    monkeypatch.setattr(time, "sleep", sleep)
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda position: sim.get_records(ShardIterator=position), positions))
    assert all(response["Records"] == [] for response in responses)
    assert slept == [0.1] * 8 and not together.broken
    assert sim.calls["GetRecords"] == 8


def test_more_than_two_concurrent_readers_are_throttled():
    sim = SimulatedStreams(latency=0.05, max_readers_per_shard=2)
    (shard_id,) = sim.open_shard_ids()
    position = iterator(sim, shard_id, "LATEST")
    barrier = threading.Barrier(3)

    def read(_):
        barrier.wait()
        try:
            sim.get_records(ShardIterator=position)
            return "ok"
        except ClientError as error:
            return error.response["Error"]["Code"]

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = sorted(pool.map(read, range(3)))
    assert results.count("LimitExceededException") >= 1


# ---------------------------------------------------------------------------------------------
# crash plans and the driver


def test_crash_plan_fires_once_at_the_armed_hit():
    plan = CrashPlan()
    plan.arm(AFTER_HANDLE, on_hit=2)
    plan.hit(AFTER_HANDLE)
    with pytest.raises(SimulatedCrash):
        plan.hit(AFTER_HANDLE)
    plan.hit(AFTER_HANDLE)
    assert plan.hits[AFTER_HANDLE] == 3 and not plan.armed


def test_run_session_records_deliveries_saves_and_crashes():
    events = iter([{"meta": {"sequence_number": str(n)}} for n in range(10)])
    saved = []
    log = DeliveryLog()
    plan = CrashPlan()
    plan.arm(BEFORE_SAVE, on_hit=4)
    session = run_session(
        log, lambda: next(events, None), save_token=lambda: len(saved), crashes=plan, handle=saved.append
    )
    assert session.crashed and session.crash_point == BEFORE_SAVE
    assert len(session.deliveries) == 4 and session.saved_through == 3 and log.last_token == 3
    rest = run_session(log, lambda: next(events, None), save_token=lambda: "end", idle_limit=1)
    assert not rest.crashed and len(rest.deliveries) == 6 and log.last_token == "end"
    assert len(log.deliveries) == 10
    log.new_session().saved("positioned")  # a token saved before any delivery counts too
    assert log.last_token == "positioned"


# ---------------------------------------------------------------------------------------------
# the oracle


def busy_stream(sim):
    """Writes over two shards with a split in the middle; returns the written keys."""
    names = [f"k{number}" for number in range(8)]
    for round_number in range(3):
        for name in names:
            sim.put_item(item(name, round_number))
        if round_number == 0:
            sim.split(sim.open_shard_ids()[0])
    return names


def test_a_correct_consumer_passes_the_oracle_across_a_crash_and_resume():
    sim = SimulatedStreams(shard_count=2, listing_order="shuffled", child_visibility_delay=1)
    busy_stream(sim)
    log = DeliveryLog()
    plan = CrashPlan()
    plan.arm(AFTER_HANDLE, on_hit=11)  # the 11th record is handled but its token is never saved
    next_event, token = consumer(sim)
    first = run_session(log, next_event, save_token=token, crashes=plan)
    assert first.crashed and first.saved_through == 10
    next_event, token = consumer(sim, token=log.last_token)
    second = run_session(log, next_event, save_token=token)
    assert not second.crashed
    assert first.deliveries[10] in second.deliveries  # the unsaved record comes again (F2)
    assert check_simulation(sim, log) == []
    assert len(log.deliveries) == len(sim.write_log) + 1


def delivered_log(sim, *sessions):
    """A DeliveryLog whose sessions deliver the given write-log records (all saved)."""
    log = DeliveryLog()
    for records in sessions:
        session = log.new_session()
        for record in records:
            session.delivered({"key": record.key, "meta": {"sequence_number": record.sequence_number}})
        session.saved(token="saved")
    return log


def test_oracle_detects_a_missing_record_i1():
    sim = SimulatedStreams()
    busy_stream(sim)
    records = list(sim.write_log)
    missing = records.pop(5)
    violations = check_simulation(sim, delivered_log(sim, records))
    assert len(violations) == 1 and violations[0].startswith("I1") and f"#{missing.index} " in violations[0]
    assert check_simulation(sim, delivered_log(sim, records), start_index=6) == []


def test_oracle_detects_per_key_reordering_i2():
    sim = SimulatedStreams()
    busy_stream(sim)
    records = list(sim.write_log)
    same_key = [number for number, r in enumerate(records) if r.key_id == records[0].key_id]
    first, second = same_key[0], same_key[1]
    records[first], records[second] = records[second], records[first]
    violations = check_simulation(sim, delivered_log(sim, records))
    assert violations and all(v.startswith("I2") for v in violations)
    # reordering across sessions is caught too
    records = list(sim.write_log)
    violations = check_simulation(sim, delivered_log(sim, records[second:], records[:second]))
    assert any(v.startswith("I2") and "first delivered" in v for v in violations)


def test_oracle_detects_duplicates_i3():
    sim = SimulatedStreams()
    busy_stream(sim)
    records = list(sim.write_log)
    within = check_simulation(sim, delivered_log(sim, records + records[-1:]))
    assert len(within) == 1 and within[0].startswith("I3") and "twice" in within[0]
    # session 1 saved a token after record 10: replaying record 9 in session 2 breaks I3 ...
    log = DeliveryLog()
    crashed = log.new_session()
    for record in records[:12]:
        crashed.delivered({"meta": {"sequence_number": record.sequence_number}})
        if record.index == 10:
            crashed.saved(token="after 10")
    resumed = log.new_session()
    for record in records[9:]:
        resumed.delivered({"meta": {"sequence_number": record.sequence_number}})
    violations = check_simulation(sim, log)
    assert len(violations) == 2 and all(v.startswith("I3") and "earlier session" in v for v in violations)
    # ... while replaying only the unsaved tail (records 11 and 12) is fine
    log.sessions[1] = SessionLog(number=2, deliveries=resumed.deliveries[2:])
    assert check_simulation(sim, log) == []


def test_oracle_detects_records_of_another_stream_i4():
    sim = SimulatedStreams()
    other = sim.create_table("Other")
    sim.put_item(item("a"))
    foreign = other.put_item(item("a"))
    log = delivered_log(sim, [sim.write_log[0], foreign])
    violations = check_simulation(sim, log)
    assert len(violations) == 1 and violations[0].startswith("I4") and other.stream_arn in violations[0]
    log.sessions[0].deliveries.append({"meta": {"sequence_number": "123"}})
    assert any("never written" in v for v in check_simulation(sim, log))


def test_oracle_requires_loss_reports_for_trimmed_records_i5():
    sim = SimulatedStreams()
    (parent,) = sim.open_shard_ids()
    lost = [sim.put_item(item(f"k{number}")) for number in range(3)]
    (child,) = sim.split(parent, children=1)
    lost.append(sim.put_item(item("k0", 9)))
    sim.clock.advance(25 * HOUR)
    kept = sim.put_item(item("k1", 9))
    log = delivered_log(sim, [kept])
    violations = check_simulation(sim, log)
    assert len(violations) == 4 and all(v.startswith("I5") for v in violations)
    # a report on the parent without an upper bound covers its vanished descendants too (F5)
    assert check_simulation(sim, log, loss_reports=[LossReport(parent)]) == []
    # a bounded report covers only its range
    bounded = {"shard_id": parent, "after_sequence_number": lost[0].sequence_number}
    remaining = check_simulation(sim, log, loss_reports=[bounded, LossReport(child)])
    assert len(remaining) == 1 and f"#{lost[0].index} " in remaining[0]


def test_check_invariants_works_from_plain_inputs():
    sim = SimulatedStreams()
    busy_stream(sim)
    sessions = [SessionLog(number=1, deliveries=[r.to_boto() for r in sim.write_log])]
    assert check_invariants(sim.write_log, sessions, stream_arn=sim.stream_arn, now=sim.clock.now()) == []
