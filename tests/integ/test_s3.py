"""S3-backed columns over HTTP on the embedded moto server (S3 and DynamoDB).

``Faults`` wraps the boto3 clients: it counts calls, and fails or "crashes" chosen ones (used by
test_s3_faults.py too). ``audit`` checks the two invariants: no item points at a missing object, and
after the collector no object is left that no item points at.
"""
import functools
import threading
from collections import Counter

import pytest
from botocore.exceptions import ClientError

from bloop import BaseModel, Binary, Column, ConstraintViolation, Integer, String
from bloop.actions import add
from bloop.exceptions import ItemTooLarge, VerificationFailed
from bloop.ext.s3 import (
    DEFAULT_RETENTION,
    InvalidS3Value,
    MissingBucket,
    S3Blob,
    S3NotConfigured,
    S3ObjectMissing,
    S3Pointer,
    collect_garbage,
    s3_columns,
)
from bloop.models import unpack_from_dynamodb
from bloop.session import RetryPolicy

BUCKET = "bloop-s3-integ"
SMALL = 64  # inline threshold of the test models


class Doc(BaseModel):
    id = Column(String, hash_key=True)
    body = Column(S3Blob(Binary, bucket=BUCKET, inline_threshold=SMALL))
    text = Column(S3Blob(String, bucket=BUCKET, prefix="text/", inline_threshold=SMALL))
    title = Column(String)
    n = Column(Integer)


class Post(BaseModel):
    forum = Column(String, hash_key=True)
    seq = Column(Integer, range_key=True)
    title = Column(String)
    body = Column(S3Blob(Binary, bucket=BUCKET, inline_threshold=SMALL))


class Streamed(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    body = Column(S3Blob(Binary, bucket=BUCKET, inline_threshold=SMALL))


class Plain(BaseModel):
    id = Column(String, hash_key=True)
    data = Column(Binary)


def big(tag, size=100_000):
    """``size`` bytes that differ per tag."""
    seed = tag.encode() * (size // max(len(tag), 1) + 1)
    return seed[:size]


# ---------------------------------------------------------------------------------------------- clients
class Crash(BaseException):
    """The process died here: nothing after it runs, and every later call through the clients fails too."""


def injected(operation):
    return ClientError({"Error": {"Code": "InjectedFault", "Message": f"injected failure of {operation}"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


class Faults:
    """Shared by the wrapped clients. ``fail(method, mode)``: the next call of ``method``

    - ``fail``: raises without sending; ``fail_after``: is sent (and applied), then raises;
    - ``crash_before`` / ``crash_after``: raises Crash before / after sending, and the process is dead;
    - ``drop``: pretends to succeed without sending.

    ``skip`` lets that many calls of ``method`` through first.
    """

    def __init__(self):
        self.calls = Counter()
        self.threads = []
        self.rules = {}
        self.dead = False
        self.fired = 0
        self._lock = threading.Lock()

    def fail(self, method, mode="fail", times=1, skip=0):
        self.rules[method] = [mode, times, skip]
        return self

    def heal(self):
        self.rules.clear()
        self.dead = False

    def wrap(self, client):
        return Wrapped(client, self)

    def call(self, name, fn, *args, **kwargs):
        with self._lock:
            if self.dead:
                raise Crash(f"the process crashed before {name}")
            self.calls[name] += 1
            self.threads.append((name, threading.current_thread().name))
            rule = self.rules.get(name)
            mode = None
            if rule and rule[2] > 0:
                rule[2] -= 1
            elif rule and rule[1] > 0:
                rule[1] -= 1
                mode = rule[0]
                self.fired += 1
            if mode == "crash_before":
                self.dead = True
        if mode == "fail":
            raise injected(name)
        if mode == "crash_before":
            raise Crash(name)
        if mode == "drop":
            return {}
        result = fn(*args, **kwargs)
        if mode == "fail_after":
            raise injected(name)
        if mode == "crash_after":
            self.dead = True
            raise Crash(name)
        return result


class Wrapped:
    def __init__(self, client, faults):
        self._client = client
        self._faults = faults

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr) or name in ("get_paginator", "can_paginate"):
            return attr
        return functools.partial(self._faults.call, name, attr)


def raw(client):
    return getattr(client, "_client", client)


def stored_objects(engine, *models):
    s3 = raw(engine.s3)
    found = set()
    for model in models:
        table = engine.table_name(model)
        for column in s3_columns(model):
            prefix = f"{column.typedef.prefix}{table}/"
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=column.typedef.bucket, Prefix=prefix):
                found.update((column.typedef.bucket, o["Key"]) for o in page.get("Contents", ()))
    return found


def referenced_objects(engine, *models):
    """(bucket, key) of every pointer in the tables; asserts that each object exists."""
    dynamodb, s3 = raw(engine.session.dynamodb_client), raw(engine.s3)
    found = set()
    for model in models:
        table = engine.table_name(model)
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                for column in s3_columns(model):
                    pointer = S3Pointer.from_wire(item.get(column.dynamo_name), strict=False)
                    if pointer is not None:
                        s3.head_object(Bucket=pointer.bucket, Key=pointer.key)  # raises if dangling
                        found.add((pointer.bucket, pointer.key))
    return found


def audit(engine, *models, collect=True):
    """No item points at a missing object; after the collector, every stored object is referenced."""
    referenced = referenced_objects(engine, *models)
    if collect:
        collect_garbage(engine, *models, min_age=0)
        assert referenced_objects(engine, *models) == referenced
    assert stored_objects(engine, *models) == referenced
    return referenced


# --------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def bucket(s3):
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return BUCKET


@pytest.fixture
def faults():
    return Faults()


@pytest.fixture
def make_engine(bloop_local, engine_factory, bucket, faults):
    def make(*models, **kwargs):
        kwargs.setdefault("dynamodb", faults.wrap(bloop_local.dynamodb))
        kwargs.setdefault("s3", faults.wrap(bloop_local.s3))
        kwargs.setdefault("retry", RetryPolicy(attempts=3, sleep=lambda s: None))
        engine = engine_factory(**kwargs)
        for model in models or (Doc,):
            engine.bind(model)
        return engine
    return make


@pytest.fixture
def engine(make_engine, faults):
    engine = make_engine(Doc, Post)
    faults.calls.clear()
    return engine


def raw_item(engine, model, key):
    return raw(engine.session.dynamodb_client).get_item(
        TableName=engine.table_name(model), Key=key, ConsistentRead=True).get("Item")


def load(engine, model=Doc, **key):
    obj = model(**key)
    engine.load(obj, consistent=True)
    return obj


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("column, small, large", [
    ("body", b"\x00\xffsmall", big("binary")),
    ("text", "petit été", "naïve café " * 10_000),
], ids=["Binary", "String"])
def test_small_values_stay_inline_and_large_ones_go_to_s3(engine, column, small, large):
    engine.save(Doc(id="small", **{column: small}), Doc(id="large", **{column: large}))
    dynamo_name = getattr(Doc, column).dynamo_name
    assert S3Pointer.from_wire(raw_item(engine, Doc, {"id": {"S": "small"}})[dynamo_name]) is None
    pointer = S3Pointer.from_wire(raw_item(engine, Doc, {"id": {"S": "large"}})[dynamo_name])
    size = len(large.encode() if isinstance(large, str) else large)
    assert pointer.bucket == BUCKET and pointer.size == size
    for key, value in (("small", small), ("large", large)):
        obj = load(engine, id=key)
        assert getattr(obj, column) == value and type(getattr(obj, column)) is type(value)
    assert audit(engine, Doc) == {(BUCKET, pointer.key)}


def test_the_threshold_is_inclusive(engine):
    engine.save(Doc(id="at", body=b"a" * SMALL), Doc(id="over", body=b"a" * (SMALL + 1)))
    assert raw_item(engine, Doc, {"id": {"S": "at"}})["body"] == {"B": b"a" * SMALL}
    assert "M" in raw_item(engine, Doc, {"id": {"S": "over"}})["body"]


def test_a_one_megabyte_value(engine):
    value = big("mega", 1024 * 1024)
    engine.save(Doc(id="mb", body=value, title="t"))
    assert load(engine, id="mb").body == value


def test_updates_swap_pointers_and_remove_what_they_replace(engine):
    doc = Doc(id="u", body=big("v1"))
    engine.save(doc)
    (first,) = audit(engine, Doc, collect=False)
    doc = load(engine, id="u")
    doc.body = big("v2")
    engine.save(doc)
    (second,) = audit(engine, Doc, collect=False)
    assert second != first
    doc.body = b"now small"
    engine.save(doc)
    assert audit(engine, Doc, collect=False) == set()
    assert load(engine, id="u").body == b"now small"
    doc.body = big("v3")
    engine.save(doc)
    assert len(audit(engine, Doc, collect=False)) == 1
    del doc.body
    engine.save(doc)
    assert audit(engine, Doc, collect=False) == set()
    assert load(engine, id="u").body == b""


def test_an_update_of_other_columns_touches_no_object(engine, faults):
    engine.save(Doc(id="o", body=big("keep"), text="x" * 1000))
    doc = load(engine, id="o")
    faults.calls.clear()
    doc.title = "renamed"
    engine.save(doc)
    assert set(faults.calls) == {"update_item"}
    assert load(engine, id="o").body == big("keep")


def test_writing_the_same_content_again_gets_a_new_key(engine):
    """Keys are unique per upload, so an old object removed late can never be one a newer item uses."""
    doc = Doc(id="r", body=big("A"))
    engine.save(doc)
    (first,) = audit(engine, Doc, collect=False)
    doc.body = big("B")
    engine.save(doc)
    doc.body = big("A")
    engine.save(doc)
    (third,) = audit(engine, Doc, collect=False)
    assert third != first


def test_a_blind_overwrite_removes_what_it_replaced(engine):
    engine.save(Doc(id="b", body=big("one")))
    engine.save(Doc(id="b", body=big("two")))  # never loaded: learns the old pointer from ALL_OLD
    assert len(audit(engine, Doc, collect=False)) == 1
    assert load(engine, id="b").body == big("two")


def test_delete_removes_the_item_then_its_objects(engine, faults):
    engine.save(Doc(id="d", body=big("x"), text="y" * 500))
    assert len(audit(engine, Doc, collect=False)) == 2
    faults.calls.clear()
    engine.delete(Doc(id="d"))
    assert list(faults.calls) == ["delete_item", "delete_objects"]
    assert raw_item(engine, Doc, {"id": {"S": "d"}}) is None
    assert audit(engine, Doc, collect=False) == set()


def test_query_scan_and_transactions_return_the_values(engine, faults):
    posts = [Post(forum="f", seq=i, title=str(i), body=big(f"post{i}") if i % 2 else b"tiny") for i in range(6)]
    engine.save(*posts)
    expected = {post.seq: post.body for post in posts}
    faults.calls.clear()
    found = engine.query(Post, key=Post.forum == "f").all()
    assert {p.seq: p.body for p in found} == expected
    assert faults.calls["get_object"] == 3  # one per object, none for inline values
    fetch_threads = {thread for name, thread in faults.threads if name == "get_object"}
    assert all(thread.startswith("bloop") for thread in fetch_threads)  # fetched on the engine's pool
    assert {p.seq: p.body for p in engine.scan(Post).all()} == expected
    faults.calls.clear()
    titles = engine.query(Post, key=Post.forum == "f", projection=["title"]).all()
    assert len(titles) == 6 and faults.calls["get_object"] == 0  # not projected: not fetched
    one, two = Post(forum="f", seq=1), Post(forum="f", seq=2)
    with engine.transaction("r") as tx:
        tx.load(one, two)
    assert (one.body, two.body) == (expected[1], expected[2])


def test_transactions_write_and_delete_objects(engine):
    doc = Doc(id="t", body=big("tx1"))
    with engine.transaction() as tx:
        tx.save(doc)
    assert load(engine, id="t").body == big("tx1")
    doc = load(engine, id="t")
    doc.body = big("tx2")
    with engine.transaction() as tx:
        tx.save(doc)
    assert len(audit(engine, Doc, collect=False)) == 1  # the save read tx1, so it removed it
    with engine.transaction() as tx:
        tx.delete(doc)
    assert audit(engine, Doc, collect=False) == set()


def test_batch_writes_upload_first_and_clean_up_what_they_know(engine):
    docs = [Doc(id=f"b{i}", body=big(f"batch{i}"), title="t") for i in range(30)]
    with engine.batch() as batch:
        batch.save(*docs)
    assert len(audit(engine, Doc, collect=False)) == 30
    assert load(engine, id="b7").body == big("batch7")
    loaded = [load(engine, id=f"b{i}") for i in range(3)]
    with engine.batch() as batch:
        batch.delete(*loaded)  # loaded: their objects are known and removed
        batch.delete(Doc(id="b3"))  # blind: BatchWriteItem returns no old image; the collector removes it
    assert len(stored_objects(engine, Doc)) == 27
    assert len(audit(engine, Doc)) == 26


def test_two_writers_of_one_loaded_item_one_wins_and_nothing_dangles(engine):
    engine.save(Doc(id="c", body=big("base")))
    first, second = load(engine, id="c"), load(engine, id="c")
    first.body = big("first")
    engine.save(first)
    second.body = big("second")
    with pytest.raises(ConstraintViolation):
        engine.save(second)  # its pointer swap was conditional on "base", which is gone
    assert load(engine, id="c").body == big("first")
    assert len(audit(engine, Doc, collect=False)) == 1  # the loser's upload was removed at once


def test_calls_per_operation(engine, faults):
    def calls(operation):
        faults.calls.clear()
        operation()
        return dict(faults.calls)

    doc = Doc(id="k", body=big("c1"))
    assert calls(lambda: engine.save(doc)) == {"put_object": 1, "update_item": 1}
    loaded = Doc(id="k")
    assert calls(lambda: engine.load(loaded)) == {"batch_get_item": 1, "get_object": 1}
    loaded.body = big("c1")  # the same content: no upload
    assert calls(lambda: engine.save(loaded)) == {"update_item": 1}
    loaded.body = big("c2")
    assert calls(lambda: engine.save(loaded)) == {"put_object": 1, "update_item": 1, "delete_objects": 1}
    assert calls(lambda: engine.delete(loaded)) == {"delete_item": 1, "delete_objects": 1}
    assert calls(lambda: engine.save(Doc(id="s", body=b"small"))) == {"update_item": 1}


def test_verify_checks_the_objects_exist(engine, faults):
    engine.save(Doc(id="v", body=big("ok")), verify="item")
    faults.fail("put_object", "drop")
    with pytest.raises(VerificationFailed, match="s3://"):
        engine.save(Doc(id="w", body=big("lost")), verify="item")


def test_sync_new_fills_s3_values(engine):
    doc = Doc(id="sn", body=big("sync"), text="t" * 100)
    engine.save(doc, sync="new")
    assert doc.body == big("sync") and doc.text == "t" * 100
    assert type(doc.body) is bytes


def test_sync_old_fills_s3_values(engine):
    engine.save(Doc(id="so", body=big("before")))
    doc = Doc(id="so", body=big("after"))
    engine.save(doc, sync="old")
    assert doc.body == big("before")


# ------------------------------------------------------------------------------------------------ reads
def test_a_stale_pointer_is_read_again_from_the_item(engine):
    engine.save(Doc(id="st", body=big("old")))
    stale = raw_item(engine, Doc, {"id": {"S": "st"}})
    doc = load(engine, id="st")
    doc.body = big("new")
    engine.save(doc)  # removes the "old" object
    reader = unpack_from_dynamodb(attrs=stale, model=Doc)  # what an eventually consistent read may return
    engine.reads.finish([reader])
    assert reader.body == big("new")
    engine.delete(doc)
    reader = unpack_from_dynamodb(attrs=stale, model=Doc)
    with pytest.raises(S3ObjectMissing) as excinfo:
        engine.reads.finish([reader])
    assert excinfo.value.objects[0][1] == "body"


def test_an_engine_without_s3_can_not_bind(bloop_local, bucket, engine_factory):
    with pytest.raises(S3NotConfigured):
        engine_factory(s3=None).bind(Doc)


# --------------------------------------------------------------------------------------------- bad input
def test_a_wrong_value_type_is_refused_before_any_write(engine, faults):
    with pytest.raises(InvalidS3Value, match="Doc.body"):
        engine.save(Doc(id="ok", body=big("fine")), Doc(id="bad", body="text, not bytes"))
    with pytest.raises(InvalidS3Value, match="set or removed"):
        engine.save(Doc(id="add", body=add(b"x")))
    assert faults.calls == {}


def test_a_missing_bucket_is_named_before_the_item_is_written(make_engine, faults):
    class Elsewhere(BaseModel):
        id = Column(String, hash_key=True)
        body = Column(S3Blob(Binary, bucket="no-such-bucket-anywhere", inline_threshold=SMALL))

    engine = make_engine(Elsewhere)
    faults.calls.clear()
    with pytest.raises(MissingBucket, match="no-such-bucket-anywhere"):
        engine.save(Elsewhere(id="x", body=big("x")))
    assert "update_item" not in faults.calls
    assert raw_item(engine, Elsewhere, {"id": {"S": "x"}}) is None
    engine.save(Elsewhere(id="y", body=b"inline needs no bucket"))


def test_items_over_400_kb_without_an_s3_column_still_raise(make_engine, faults):
    engine = make_engine(Plain, Doc)
    with pytest.raises(ItemTooLarge, match="S3"):
        engine.save(Plain(id="p", data=big("p", 500_000)))
    faults.calls.clear()
    with pytest.raises(ItemTooLarge):
        engine.save(Doc(id="p", body=big("ok"), title="t" * 500_000))
    assert faults.calls == {}  # refused before the upload
    engine.save(Doc(id="p", body=big("ok", 500_000)))


# ----------------------------------------------------------------------------------------------- streams
def _events(stream):
    events = []
    while True:
        event = next(stream)
        if event is None:
            return events
        events.append(event)


def _images(events):
    return [image for event in events for image in (event["old"], event["new"]) if image is not None]


def test_stream_events_carry_the_old_and_new_values(make_engine):
    engine = make_engine(Streamed)
    stream = engine.stream(Streamed, "trim_horizon")
    doc = Streamed(id="s", body=big("first"))
    engine.save(doc)
    doc = load(engine, Streamed, id="s")
    doc.body = big("second")
    engine.save(doc)
    engine.delete(doc)
    events = _events(stream)
    modify = next(e for e in events if e["meta"]["event"]["type"] == "modify" and e["old"].body)
    remove = next(e for e in events if e["meta"]["event"]["type"] == "remove")
    assert (modify["old"].body, modify["new"].body) == (big("first"), big("second"))
    assert remove["old"].body == big("second")
    # the displaced objects are kept for stream readers: the collector keeps them until the window passes
    assert collect_garbage(engine, Streamed).deleted == []
    assert len(stored_objects(engine, Streamed)) == 2
    assert len(collect_garbage(engine, Streamed, min_age=0).deleted) == 2


def test_stream_images_are_fetched_by_the_stream(make_engine):
    engine = make_engine(Streamed)
    stream = engine.stream(Streamed, "trim_horizon")
    engine.save(Streamed(id="s", body=big("value")))
    images = _images(_events(stream))
    assert any(image.body == big("value") for image in images)


# --------------------------------------------------------------------------------------------- collector
def _orphan(engine, key_value, content=b"orphan", model=Doc, column="body"):
    from bloop.ext.s3.planner import object_metadata as _metadata

    table = engine.table_name(model)
    key = f"{table}/orphans/{key_value}"
    raw(engine.s3).put_object(Bucket=BUCKET, Key=key, Body=content,
                              Metadata=_metadata({"id": {"S": key_value}}, column, "0" * 64))
    return BUCKET, key


def test_the_collector_removes_only_old_unreferenced_objects(engine, faults):
    import datetime
    engine.save(Doc(id="live", body=big("live")))
    orphans = {_orphan(engine, f"o{i}") for i in range(120)}
    foreign = (BUCKET, f"{engine.table_name(Doc)}/not-ours")
    raw(engine.s3).put_object(Bucket=BUCKET, Key=foreign[1], Body=b"x")
    young = collect_garbage(engine, Doc)  # everything is younger than the default window
    assert young.deleted == [] and young.old_enough == 0 and young.listed == 122
    faults.calls.clear()
    later = datetime.datetime.now(datetime.timezone.utc) + DEFAULT_RETENTION + datetime.timedelta(minutes=1)
    report = collect_garbage(engine, Doc, now=later)
    assert set(report.deleted) == orphans and report.referenced == 1 and report.skipped == [foreign]
    assert faults.calls["batch_get_item"] == 2  # 121 item keys, 100 per consistent BatchGetItem
    assert "scan" not in faults.calls and "query" not in faults.calls
    assert faults.calls["delete_objects"] == 1
    assert load(engine, id="live").body == big("live")
    raw(engine.s3).delete_object(Bucket=BUCKET, Key=foreign[1])


def test_the_collector_keeps_an_object_its_item_points_at(engine):
    engine.save(Doc(id="kept", body=big("kept")))
    report = collect_garbage(engine, Doc, min_age=0)
    assert report.deleted == [] and report.referenced == 1


def test_the_lambda_adapter_gives_the_values_next_stream_gives(make_engine, bloop_local):
    import json

    from bloop.ext.aws_lambda import lambda_event, lambda_handler
    engine = make_engine(Streamed)
    stream = engine.stream(Streamed, "trim_horizon")
    doc = Streamed(id="lambda", body=big("first"))
    engine.save(doc)
    doc.body = big("second")
    engine.save(doc)
    engine.delete(doc)
    local = _events(stream)
    # the records the event source mapping would read, as Lambda delivers them (plain JSON)
    arn = engine.stream_arn(Streamed)
    client = bloop_local.dynamodbstreams
    records = []
    for shard in client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        page = client.get_records(ShardIterator=iterator)  # moto: one shard, every record in one page
        records.extend(page["Records"])
    event = json.loads(json.dumps(lambda_event(records, event_source_arn=arn)))
    handled = []
    lambda_handler(handled.append, model=Streamed, engine=engine, bind=False)(event)

    def values(events):
        return [(e["meta"]["event"]["type"], e["key"].id, getattr(e["old"], "body", None),
                 getattr(e["new"], "body", None)) for e in events]

    assert values(handled) == values(local)
    bodies = {body for _, _, old, new in values(handled) for body in (old, new) if body}
    assert bodies == {big("first"), big("second")}  # bytes, never an S3Pointer
