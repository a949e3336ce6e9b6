"""The Lambda adapter (bloop.ext.aws_lambda) without any I/O: the engine's clients are placeholders that
would fail on any call, which also shows that a cold start binds without one (skip_table_setup=True)."""
import base64
import json
from datetime import datetime, timezone

import pytest

from bloop import BaseModel, Binary, Column, Engine, Integer, Set, String
from bloop.exceptions import InvalidModel, InvalidStream
from bloop.ext.aws_lambda import (
    RecordFailed,
    current_lambda_context,
    lambda_event,
    lambda_handler,
    normalize_record,
)
from bloop.stream.events import EventBuilder

ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Order/stream/2026-01-01T00:00:00.000"


class Order(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    status = Column(String)
    total = Column(Integer)
    receipt = Column(Binary)
    tags = Column(Set(Binary))


class KeysOnly(BaseModel):
    class Meta:
        table_name = "Order"
        stream = {"include": ["keys"]}

    id = Column(String, hash_key=True)
    status = Column(String)


class NoStream(BaseModel):
    id = Column(String, hash_key=True)


class Unreachable:
    """A boto3 client stand-in: any AWS call fails the test."""

    def __getattr__(self, name):
        raise AssertionError(f"unexpected AWS call: {name}")


def offline_engine(**kwargs):
    return Engine(dynamodb=Unreachable(), dynamodbstreams=Unreachable(), **kwargs)


def record(sequence_number, id="o1", status="paid", total=10, event_name="MODIFY", old_status="new", **extra):
    """One record as Lambda's JSON event carries it: epoch seconds, base64 binaries."""
    body = {
        "ApproximateCreationDateTime": 1767225600.0 + int(sequence_number) % 100,
        "Keys": {"id": {"S": id}},
        "SequenceNumber": str(sequence_number),
        "SizeBytes": 40,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name != "REMOVE":
        body["NewImage"] = {"id": {"S": id}, "status": {"S": status}, "total": {"N": str(total)},
                            "receipt": {"B": base64.b64encode(b"\x00\xffpdf").decode()},
                            "tags": {"BS": [base64.b64encode(b"a").decode(), base64.b64encode(b"\x01").decode()]}}
    if event_name != "INSERT":
        body["OldImage"] = {"id": {"S": id}, "status": {"S": old_status}, "total": {"N": str(total)}}
    out = {"eventID": f"event-{sequence_number}", "eventName": event_name, "eventVersion": "1.1",
           "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1", "dynamodb": body, "eventSourceARN": ARN}
    out.update(extra)
    return out


def event_of(*records):
    return json.loads(json.dumps({"Records": list(records)}))  # exactly what JSON can carry


class Context:
    """Lambda's context object: ``remaining`` is a list of answers, one per call (the last one repeats)."""

    def __init__(self, *remaining):
        self.remaining = list(remaining) or [60_000]

    def get_remaining_time_in_millis(self):
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def collecting(fail_on=None, seen=None):
    seen = [] if seen is None else seen

    def handle(event):
        if event["meta"]["sequence_number"] == fail_on:
            raise RuntimeError(f"boom on {fail_on}")
        seen.append(event)
    return handle, seen


def test_lambda_records_become_the_events_engine_stream_yields():
    handle, seen = collecting()
    entry = lambda_handler(handle, model=Order, engine=offline_engine())
    assert entry(event_of(record("100", event_name="INSERT"), record("101")), Context()) is None
    first, second = seen
    assert first["key"].id == "o1" and first["old"] is None
    assert first["new"].receipt == b"\x00\xffpdf" and first["new"].tags == {b"a", b"\x01"}
    assert second["old"].status == "new" and second["new"].status == "paid" and second["new"].total == 10
    meta = second["meta"]
    assert meta["created_at"] == datetime(2026, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert meta["event"] == {"id": "event-101", "type": "modify", "version": "1.1"}
    assert meta["sequence_number"] == "101" and meta["ttl"] is False
    # the same event the polling consumer builds from boto3's shape of the record
    boto_shaped = normalize_record(record("101"))
    assert isinstance(boto_shaped["dynamodb"]["NewImage"]["receipt"]["B"], bytes)
    direct = EventBuilder(Order, entry.engine).build(boto_shaped)
    assert direct["meta"] == meta and direct["new"].__dict__ == second["new"].__dict__


def test_lambda_event_renders_boto3_records_as_lambda_json():
    engine = offline_engine()
    engine.bind(Order, skip_table_setup=True)
    boto_records = [normalize_record(record(str(n))) for n in (7, 8)]
    rendered = lambda_event(boto_records, event_source_arn=ARN)
    assert json.loads(json.dumps(rendered)) == rendered
    body = rendered["Records"][0]["dynamodb"]
    assert isinstance(body["ApproximateCreationDateTime"], float)
    assert body["NewImage"]["receipt"] == {"B": base64.b64encode(b"\x00\xffpdf").decode()}
    assert rendered["Records"][0]["eventSourceARN"] == ARN and rendered["Records"][0]["awsRegion"] == "eu-west-1"
    handle, seen = collecting()
    lambda_handler(handle, model=Order, engine=engine, bind=False)(rendered)
    builder = EventBuilder(Order, engine)
    assert [e["meta"] for e in seen] == [builder.build(r)["meta"] for r in boto_records]


def test_ttl_deletes_are_marked():
    handle, seen = collecting()
    ttl = record("5", event_name="REMOVE", userIdentity={"type": "Service", "principalId": "dynamodb.amazonaws.com"})
    lambda_handler(handle, model=Order, engine=offline_engine())(event_of(ttl, record("6", event_name="REMOVE")))
    assert [e["meta"]["ttl"] for e in seen] == [True, False]
    assert seen[0]["new"] is None and seen[0]["old"].status == "new"


def test_keys_only_stream_events_carry_the_key():
    handle, seen = collecting()
    keys_only = record("1")
    keys_only["dynamodb"] = {k: v for k, v in keys_only["dynamodb"].items() if k not in ("NewImage", "OldImage")}
    lambda_handler(handle, model=KeysOnly, engine=offline_engine())(event_of(keys_only))
    assert seen[0]["key"].id == "o1" and seen[0]["new"] is None and seen[0]["old"] is None


def test_reporting_stops_at_the_first_failure_and_names_it():
    handle, seen = collecting(fail_on="12")
    entry = lambda_handler(handle, model=Order, engine=offline_engine(), report_batch_item_failures=True)
    response = entry(event_of(*(record(str(n), id=f"o{n % 2}") for n in range(10, 15))), Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "12"}]}
    assert [e["meta"]["sequence_number"] for e in seen] == ["10", "11"]  # nothing after the failure ran
    assert entry(event_of(record("20")), Context()) == {"batchItemFailures": []}


def test_without_reporting_a_failure_raises_for_the_whole_batch():
    handle, seen = collecting(fail_on="12")
    entry = lambda_handler(handle, model=Order, engine=offline_engine())
    with pytest.raises(RecordFailed, match="record 12 .*2 of 5 records were handled") as raised:
        entry(event_of(*(record(str(n)) for n in range(10, 15))), Context())
    assert raised.value.sequence_number == "12" and raised.value.event_id == "event-12"
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert len(seen) == 2


def test_a_record_that_cant_be_decoded_is_a_failure_of_that_record():
    handle, seen = collecting()
    poison = record("31")
    poison["dynamodb"]["NewImage"]["total"] = {"N": "not a number"}
    entry = lambda_handler(handle, model=Order, engine=offline_engine(), report_batch_item_failures=True)
    assert entry(event_of(record("30"), poison, record("32"))) == {"batchItemFailures": [{"itemIdentifier": "31"}]}
    assert len(seen) == 1


def test_records_from_another_table_are_refused_before_any_is_handled():
    handle, seen = collecting()
    foreign = record("2", eventSourceARN=ARN.replace("table/Order/", "table/Invoice/"))
    entry = lambda_handler(handle, model=Order, engine=offline_engine(), report_batch_item_failures=True)
    with pytest.raises(InvalidStream, match="table 'Invoice'"):
        entry(event_of(record("1"), foreign))
    assert seen == []
    # the table name follows the engine's template
    prefixed = lambda_handler(handle, model=Order, engine=offline_engine(table_name_template="dev-{table_name}"))
    with pytest.raises(InvalidStream, match="bound to table 'dev-Order'"):
        prefixed(event_of(record("1")))
    prefixed(event_of(record("1", eventSourceARN=ARN.replace("table/Order/", "table/dev-Order/"))))
    # an exact stream ARN (label included) when given
    exact = lambda_handler(handle, model=Order, engine=offline_engine(), stream_arn=ARN.replace("2026", "2025"))
    with pytest.raises(InvalidStream, match="this function reads"):
        exact(event_of(record("1")))
    unchecked = lambda_handler(handle, model=Order, engine=offline_engine(), check_source=False)
    unchecked(event_of(foreign))
    assert len(seen) == 2


def test_stops_before_the_timeout_reporting_the_first_unstarted_record():
    handle, seen = collecting()
    batch = event_of(*(record(str(n)) for n in range(40, 45)))
    entry = lambda_handler(handle, model=Order, engine=offline_engine(), report_batch_item_failures=True,
                           timeout_margin_ms=500)
    # asked before records 2..5 (never before the first): 5000, 900, then 400 ms left
    assert entry(batch, Context(5000, 900, 400)) == {"batchItemFailures": [{"itemIdentifier": "43"}]}
    assert [e["meta"]["sequence_number"] for e in seen] == ["40", "41", "42"]
    raising = lambda_handler(handle, model=Order, engine=offline_engine(), timeout_margin_ms=500)
    with pytest.raises(RecordFailed, match="stopped before record 41") as raised:
        raising(batch, Context(0))  # the first record runs even with no time left, or nothing ever would
    assert raised.value.sequence_number == "41" and raised.value.handled == 1


def test_the_lambda_context_is_visible_to_the_handler_only_during_the_invocation():
    contexts = []
    context = Context()
    entry = lambda_handler(lambda event: contexts.append(current_lambda_context()), model=Order,
                           engine=offline_engine())
    entry(event_of(record("1"), record("2")), context)
    assert contexts == [context, context]
    assert current_lambda_context() is None


def test_a_hand_written_event_without_creation_time():
    """The sample event in AWS's Lambda guide has no ApproximateCreationDateTime."""
    handle, seen = collecting()
    sample = record("111")
    del sample["dynamodb"]["ApproximateCreationDateTime"]
    lambda_handler(handle, model=Order, engine=offline_engine())(event_of(sample))
    assert seen[0]["meta"]["created_at"] is None and seen[0]["new"].status == "paid"


def test_engine_factory_is_called_once_on_first_use():
    made = []

    def make_engine():
        made.append(offline_engine())
        return made[-1]

    handle, seen = collecting()
    entry = lambda_handler(handle, model=Order, engine=make_engine)
    assert made == []  # importing the module that builds the entry point costs nothing
    entry(event_of(record("1")))
    entry(event_of(record("2")))
    assert len(made) == 1 and entry.engine is made[0]


def test_tumbling_window_state_is_always_returned():
    handle, _ = collecting()
    entry = lambda_handler(handle, model=Order, engine=offline_engine(), report_batch_item_failures=True)
    event = dict(event_of(record("1")), window={"start": "x", "end": "y"}, state={"count": 3}, shardId="s")
    assert entry(event) == {"batchItemFailures": [], "state": {"count": 3}}


def test_bad_setup_and_bad_events_are_refused_clearly():
    with pytest.raises(InvalidStream, match="NoStream has no stream"):
        lambda_handler(print, model=NoStream, engine=offline_engine())
    with pytest.raises(InvalidModel):
        lambda_handler(print, model=dict, engine=offline_engine())
    with pytest.raises(TypeError):
        lambda_handler("not callable", model=Order)
    entry = lambda_handler(print, model=Order, engine=offline_engine())
    with pytest.raises(ValueError, match="Records"):
        entry({"Records": None})
    assert entry({"Records": []}) is None


def test_a_model_the_engine_already_bound_keeps_its_binding():
    from bloop.engine import BoundTable

    engine = offline_engine()
    engine._bound[Order] = BoundTable("Order", ARN)  # what a bind with table setup leaves
    entry = lambda_handler(print, model=Order, engine=engine)
    entry(event_of())
    assert entry.engine.stream_arn(Order) == ARN
