"""Records become events: key always set (B1), images per view type, TTL deletes marked."""
from datetime import datetime, timezone

from dateutil.tz import tzoffset

from bloop import BaseModel, Column, Engine, Integer, String, object_loaded
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
        "created_at": datetime(2026, 1, 1, 8, 30, tzinfo=timezone.utc),  # the same instant, as boto3 gave it
        "event": {"id": "e1", "type": "modify", "version": "1.1"},
        "sequence_number": "100000000000000000001",
        "ttl": False,
    }
    assert event["meta"]["created_at"] is WHEN


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
