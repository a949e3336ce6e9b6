"""Records become events: key always set from Keys (B1), images per view type (an empty image is no
image), created_at in UTC, TTL deletes marked; the Lambda adapter builds its events the same way."""
import json
from datetime import datetime, timezone

from dateutil.tz import tzlocal, tzoffset

from bloop import BaseModel, Column, Engine, Integer, String, object_loaded
from bloop.ext.aws_lambda import lambda_handler
from bloop.stream.events import EventBuilder


class Pair(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    a = Column(String, hash_key=True)
    b = Column(Integer, range_key=True, dynamo_name="bee")
    value = Column(String)


class NewOnly(BaseModel):
    class Meta:
        stream = {"include": ["new"]}

    a = Column(String, hash_key=True)
    value = Column(String)


ENGINE = Engine(dynamodb=object(), dynamodbstreams=object())
WHEN = datetime(2026, 1, 1, 9, 30, tzinfo=tzoffset(None, 3600))


def record(name="MODIFY", new=True, old=True, identity=None):
    body = {"ApproximateCreationDateTime": WHEN, "Keys": {"a": {"S": "x"}, "bee": {"N": "2"}},
            "SequenceNumber": "100000000000000000001", "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new:
        body["NewImage"] = {"a": {"S": "x"}, "bee": {"N": "2"}, "value": {"S": "after"}}
    if old:
        body["OldImage"] = {"a": {"S": "x"}, "bee": {"N": "2"}, "value": {"S": "before"}}
    found = {"eventID": "e1", "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
             "awsRegion": "us-east-1", "dynamodb": body}
    if identity:
        found["userIdentity"] = identity
    return found


def test_a_modify_has_key_both_images_and_meta():
    event = EventBuilder(Pair, ENGINE).build(record())
    assert isinstance(event["key"], Pair) and event["key"].__dict__ == {"a": "x", "b": 2}
    assert (event["old"].value, event["new"].value, event["new"].b) == ("before", "after", 2)
    assert event["meta"] == {
        "created_at": datetime(2026, 1, 1, 8, 30, tzinfo=timezone.utc),  # the same instant
        "event": {"id": "e1", "type": "modify", "version": "1.1"},
        "sequence_number": "100000000000000000001",
        "ttl": False,
    }


def test_created_at_is_aware_utc_whatever_zone_boto3_parsed_it_into():
    for zone in (tzoffset(None, 3600), tzlocal(), timezone.utc):
        body = record()
        body["dynamodb"]["ApproximateCreationDateTime"] = WHEN.astimezone(zone)
        created_at = EventBuilder(Pair, ENGINE).build(body)["meta"]["created_at"]
        assert created_at.tzinfo is timezone.utc and created_at == WHEN
        assert created_at.isoformat() == "2026-01-01T08:30:00+00:00"  # prints the same on every machine


def test_images_the_view_does_not_include_are_none_and_the_key_stays():
    event = EventBuilder(NewOnly, ENGINE).build(record("REMOVE", new=False))
    assert event["new"] is None and event["old"] is None
    assert event["key"].a == "x"
    assert event["meta"]["event"]["type"] == "remove"


def test_ttl_deletes_are_marked_and_user_deletes_are_not():
    builder = EventBuilder(Pair, ENGINE)
    service = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    ttl = builder.build(record("REMOVE", new=False, identity=service))
    user = builder.build(record("REMOVE", new=False, identity={"type": "User", "principalId": "me"}))
    assert ttl["meta"]["ttl"] is True and user["meta"]["ttl"] is False


def test_loaded_images_are_unchanged_and_fire_object_loaded():
    seen = []

    def receiver(_, engine, obj):
        seen.append(obj)

    object_loaded.connect(receiver)
    try:
        event = EventBuilder(Pair, ENGINE).build(record())
    finally:
        object_loaded.disconnect(receiver)
    assert seen == [event["new"], event["old"]]
    assert not event["new"].__dict__.get("_bloop_marked")


def moto_51_insert():
    """An INSERT as moto 5.1 streams it: ``OldImage`` is present and empty."""
    body = record("INSERT", old=False)
    body["dynamodb"]["OldImage"] = {}
    return body


def test_an_empty_image_is_no_image():
    event = EventBuilder(Pair, ENGINE).build(moto_51_insert())
    assert event["old"] is None and event["new"].value == "after"
    assert event["key"].__dict__ == {"a": "x", "b": 2}
    removed = record("REMOVE", old=True, new=False)
    removed["dynamodb"]["NewImage"] = {}
    event = EventBuilder(Pair, ENGINE).build(removed)
    assert event["new"] is None and event["old"].value == "before"


def test_the_key_comes_from_keys_even_when_images_are_empty_or_disagree():
    both_empty = record("MODIFY", new=False, old=False)
    both_empty["dynamodb"]["NewImage"] = both_empty["dynamodb"]["OldImage"] = {}
    event = EventBuilder(Pair, ENGINE).build(both_empty)
    assert (event["old"], event["new"]) == (None, None)
    assert event["key"].__dict__ == {"a": "x", "b": 2}  # not Pair(a="", b=None) from an empty image
    odd = record()
    odd["dynamodb"]["NewImage"]["bee"] = {"N": "7"}
    assert EventBuilder(Pair, ENGINE).build(odd)["key"].b == 2


def test_the_lambda_adapter_builds_moto_51_inserts_the_same_way():
    lambda_record = moto_51_insert()
    lambda_record["dynamodb"]["ApproximateCreationDateTime"] = WHEN.timestamp()  # Lambda: epoch seconds
    lambda_record["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:123456789012:table/Pair/stream/2026-01-01T00:00:00"
    seen = []
    entry = lambda_handler(seen.append, model=Pair, engine=ENGINE, check_source=False)
    entry(json.loads(json.dumps({"Records": [lambda_record]})))
    (event,) = seen
    assert event["old"] is None and event["new"].value == "after"
    assert event["key"].__dict__ == {"a": "x", "b": 2}
    assert event["meta"]["created_at"] == WHEN and event["meta"]["created_at"].tzinfo is timezone.utc
