"""bloop.ext.s3 without I/O: declarations, the wire forms, conditions, and what a write would send.

Request shapes are checked with an in-process canned responder (nothing leaves the process); the
behaviour against real services is in tests/integ/test_s3*.py.
"""
import pytest

from benchmarks.canned import CannedAWS, patched
from bloop import (
    BaseModel,
    Binary,
    Column,
    Engine,
    GlobalSecondaryIndex,
    Integer,
    List,
    LocalSecondaryIndex,
    Map,
    String,
)
from bloop.actions import ActionType, add
from bloop.conditions import render
from bloop.exceptions import InvalidCondition, InvalidModel, UnknownType
from bloop.ext.s3 import (
    DEFAULT_INLINE_THRESHOLD,
    InvalidS3Column,
    InvalidS3Value,
    S3Blob,
    S3Columns,
    S3NotConfigured,
    S3Pointer,
    s3_columns,
)
from bloop.models import bind_index

BUCKET = "unit-bucket"


class Doc(BaseModel):
    id = Column(String, hash_key=True)
    body = Column(S3Blob(Binary, bucket=BUCKET, inline_threshold=8))
    text = Column(S3Blob(String, bucket=BUCKET, prefix="t/", inline_threshold=8))
    n = Column(Integer)


def make_engine():
    """Real boto3 clients (answered in-process by ``patched`` below) and Doc bound without any call."""
    import boto3

    options = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    engine = Engine(dynamodb=boto3.client("dynamodb", **options), dynamodbstreams=object(),
                    s3=boto3.client("s3", **options), max_workers=1)
    engine.bind(Doc, skip_table_setup=True)
    return engine


# ------------------------------------------------------------------------------------------ declaration
@pytest.mark.parametrize("make", [
    lambda: S3Blob(Binary),
    lambda: S3Blob(Binary, bucket=""),
    lambda: S3Blob(Integer, bucket=BUCKET),
    lambda: S3Blob(String(), bucket=BUCKET, prefix=3),
    lambda: S3Blob(Binary, bucket=BUCKET, inline_threshold=-1),
    lambda: S3Blob(Binary, bucket=BUCKET, inline_threshold=400 * 1024),
    lambda: S3Blob(Binary, bucket=BUCKET, inline_threshold=True),
], ids=["no bucket", "empty bucket", "not binary or string", "bad prefix", "negative threshold",
        "threshold too big", "bool threshold"])
def test_bad_declarations_are_named(make):
    with pytest.raises(InvalidS3Column) as excinfo:
        make()
    assert isinstance(excinfo.value, InvalidModel)


def test_missing_bucket_message_says_what_to_pass():
    with pytest.raises(InvalidS3Column, match="bucket="):
        S3Blob(Binary)


def test_uuid_is_not_a_string_for_s3():
    from bloop import UUID
    with pytest.raises(InvalidS3Column):
        S3Blob(UUID, bucket=BUCKET)


def test_defaults_and_repr():
    typedef = S3Blob(bucket=BUCKET)
    assert typedef.backing_type == "B" and typedef.python_type is bytes
    assert typedef.inline_threshold == DEFAULT_INLINE_THRESHOLD
    assert repr(typedef) == f"S3Blob(Binary, bucket='{BUCKET}', prefix='', inline_threshold=4096)"
    assert S3Blob(String, bucket=BUCKET).backing_type == "S"
    assert [c.name for c in s3_columns(Doc)] == ["body", "text"]


def test_one_extension_for_every_column():
    assert Doc.body.typedef.extension is Doc.text.typedef.extension is S3Columns
    engine = make_engine()
    assert [type(e) for e in engine.extensions] == [S3Columns]
    assert engine.extension(S3Columns).client is engine.s3


def test_an_extension_instance_serves_one_engine():
    extension = S3Columns(object())
    Engine(dynamodb=object(), dynamodbstreams=object(), extensions=[extension])
    with pytest.raises(ValueError, match="another engine"):
        Engine(dynamodb=object(), dynamodbstreams=object(), extensions=[extension])


def _declare(**attrs):
    return type("Bad", (BaseModel,), attrs)


@pytest.mark.parametrize("attrs", [
    {"id": Column(S3Blob(String, bucket=BUCKET), hash_key=True)},
    {"id": Column(String, hash_key=True), "r": Column(S3Blob(Binary, bucket=BUCKET), range_key=True)},
    {"id": Column(String, hash_key=True), "blob": Column(S3Blob(String, bucket=BUCKET)),
     "by_blob": GlobalSecondaryIndex(projection="keys", hash_key="blob")},
    {"id": Column(String, hash_key=True), "blob": Column(S3Blob(String, bucket=BUCKET)), "k": Column(String),
     "by_k": GlobalSecondaryIndex(projection="all", hash_key="k")},
    {"id": Column(String, hash_key=True), "blob": Column(S3Blob(String, bucket=BUCKET)), "k": Column(String),
     "by_k": GlobalSecondaryIndex(projection=["blob"], hash_key="k")},
    {"id": Column(String, hash_key=True), "r": Column(String, range_key=True),
     "blob": Column(S3Blob(String, bucket=BUCKET)),
     "by_blob": LocalSecondaryIndex(projection="keys", range_key="blob")},
    {"id": Column(String, hash_key=True), "doc": Column(Map(blob=S3Blob(Binary, bucket=BUCKET)))},
    {"id": Column(String, hash_key=True), "docs": Column(List(S3Blob(Binary, bucket=BUCKET)))},
], ids=["hash key", "range key", "gsi key", "gsi projects all", "gsi includes it", "lsi key", "in a map",
        "in a list"])
def test_a_model_misusing_an_s3_column_is_refused_at_bind(attrs):
    model = _declare(**attrs)
    engine = Engine(dynamodb=object(), dynamodbstreams=object(), s3=object())
    with pytest.raises(InvalidS3Column):
        engine.bind(model, skip_table_setup=True)


def test_an_index_that_leaves_the_column_out_is_fine():
    model = _declare(id=Column(String, hash_key=True), blob=Column(S3Blob(String, bucket=BUCKET)),
                     k=Column(String), by_k=GlobalSecondaryIndex(projection="keys", hash_key="k"))
    assert s3_columns(model)


def test_an_index_added_after_declaration_is_refused_at_bind():
    model = _declare(id=Column(String, hash_key=True), blob=Column(S3Blob(String, bucket=BUCKET)),
                     k=Column(String))
    bind_index(model, "by_k", GlobalSecondaryIndex(projection="all", hash_key="k"))
    engine = Engine(dynamodb=object(), dynamodbstreams=object(), s3=object())
    with pytest.raises(InvalidS3Column, match="by_k"):
        engine.bind(model, skip_table_setup=True)


def test_an_engine_without_s3_is_refused_at_bind():
    engine = Engine(dynamodb=object(), dynamodbstreams=object())
    with pytest.raises(S3NotConfigured, match="s3="):
        engine.bind(Doc, skip_table_setup=True)


# ------------------------------------------------------------------------------------------ wire forms
def test_inline_values_dump_as_the_inner_type():
    assert Doc.body.typedef._dump(b"abc").value == {"B": b"abc"}
    assert Doc.text.typedef._dump("abc").value == {"S": "abc"}
    assert Doc.body.typedef._dump(b"").type is ActionType.Remove
    assert Doc.body.typedef._dump(None).type is ActionType.Remove


def test_threshold_counts_encoded_bytes():
    assert Doc.text.typedef._dump("é" * 4).value == {"S": "é" * 4}  # 8 bytes: inline
    with pytest.raises(InvalidS3Value, match="inline threshold"):
        Doc.text.typedef._dump("é" * 5)  # 10 bytes: only the engine can store it


@pytest.mark.parametrize("column, value", [
    (Doc.body, "text"), (Doc.body, 12), (Doc.text, b"bytes"), (Doc.text, 1.5),
])
def test_wrong_value_types_are_named(column, value):
    with pytest.raises(InvalidS3Value) as excinfo:
        column.typedef._dump(value)
    assert isinstance(excinfo.value, TypeError)


def test_add_and_delete_actions_are_refused():
    with pytest.raises(InvalidS3Value, match="set or removed"):
        Doc.body.typedef._dump(add(b"x"))


def test_loaded_values_equal_the_value_and_remember_the_wire():
    loaded = Doc.body.typedef._load({"B": b"abc"})
    assert loaded == b"abc" and isinstance(loaded, bytes)
    assert Doc.text.typedef._load({"S": "hé"}) == "hé"
    assert Doc.text.typedef._load(None) == "" and Doc.body.typedef._load(None) == b""


def test_pointers_round_trip():
    pointer = S3Pointer(BUCKET, "k/1", 10, "ab" * 32)
    loaded = Doc.body.typedef._load(pointer.wire)
    assert loaded == pointer and loaded.url == f"s3://{BUCKET}/k/1"
    assert S3Pointer.from_wire({"B": b"x"}) is None and S3Pointer.from_wire(None) is None
    with pytest.raises(UnknownType):
        Doc.body.typedef._load({"M": {"not": {"S": "a pointer"}}})
    assert S3Pointer.from_wire({"M": {"x": {"S": "y"}}}, strict=False) is None
    with pytest.raises(UnknownType):
        Doc.body.typedef._load({"N": "1"})


def test_an_unfetched_pointer_can_not_be_dumped():
    with pytest.raises(InvalidS3Value, match="never fetched"):
        Doc.body.typedef._dump(S3Pointer(BUCKET, "k", 1, "0" * 64))


# ------------------------------------------------------------------------------------------ conditions
def test_conditions_test_presence_and_inline_values():
    engine = make_engine()
    rendered = render(engine, condition=(Doc.body == None) & (Doc.text != "small"))  # noqa: E711
    assert rendered["ConditionExpression"] == "((attribute_not_exists(#n0)) AND (#n1 <> :v0))"
    assert rendered["ExpressionAttributeValues"] == {":v0": {"S": "small"}}
    with pytest.raises(InvalidCondition):
        render(engine, condition=Doc.body == b"x" * 100)
    with pytest.raises(InvalidCondition):
        Doc.body.begins_with(b"x")


# ------------------------------------------------------------------------------------- what writes send
def canned(item=None):
    aws = CannedAWS()
    aws.requests = []
    aws.on("PutObject", {}).on("DeleteObjects", {}).on("CopyObject", {})
    aws.on("UpdateItem", lambda params: {"Attributes": item} if item and params["ReturnValues"] != "NONE" else {})
    aws.on("DeleteItem", lambda params: {"Attributes": item} if item and params["ReturnValues"] != "NONE" else {})
    aws.on("BatchGetItem", lambda params: {"Responses": {t: ([item] if item else []) for t in params["RequestItems"]}})
    return aws


def sent(aws, operation):
    return [params for op, params in aws.requests if op == operation]


def test_a_blind_save_uploads_then_asks_for_the_old_image():
    engine = make_engine()
    aws = canned()
    with patched(aws):
        engine.save(Doc(id="a", body=b"x" * 20, text="short"))
    assert [op for op, _ in aws.requests] == ["PutObject", "UpdateItem"]
    (put,), (update,) = sent(aws, "PutObject"), sent(aws, "UpdateItem")
    assert put["Bucket"] == BUCKET and put["Key"].startswith("Doc/") and put["Body"] == b"x" * 20
    assert put["Metadata"]["bloop-attribute"] == "body"
    assert update["ReturnValues"] == "ALL_OLD" and "ConditionExpression" not in update
    stored = update["ExpressionAttributeValues"]
    pointer = next(S3Pointer.from_wire(v) for v in stored.values() if "M" in v)
    assert (pointer.bucket, pointer.key, pointer.size) == (BUCKET, put["Key"], 20)
    assert {"S": "short"} in stored.values()


def test_a_save_after_a_load_is_conditional_on_what_was_read():
    engine = make_engine()
    old = S3Pointer(BUCKET, "Doc/old", 20, "0" * 64)
    aws = canned()
    doc = Doc(id="a")
    engine.extension(S3Columns).seen.set(doc, {"body": old.wire, "text": {"S": "hi"}})  # what a load remembers
    doc.body = b"z" * 20
    doc.text = "bye"
    with patched(aws):
        engine.save(doc)
    (update,) = sent(aws, "UpdateItem")
    assert update["ReturnValues"] == "NONE"
    assert update["ConditionExpression"].count("=") == 2
    assert old.wire in update["ExpressionAttributeValues"].values()
    assert {"S": "hi"} in update["ExpressionAttributeValues"].values()
    (delete,) = sent(aws, "DeleteObjects")
    assert delete["Delete"]["Objects"] == [{"Key": "Doc/old"}]


def test_unchanged_content_is_not_uploaded_again():
    engine = make_engine()
    import hashlib
    body = b"q" * 30
    old = S3Pointer(BUCKET, "Doc/same", 30, hashlib.sha256(body).hexdigest())
    doc = Doc(id="a")
    engine.extension(S3Columns).seen.set(doc, {"body": old.wire})
    doc.body = body
    aws = canned()
    with patched(aws):
        engine.save(doc)
    assert [op for op, _ in aws.requests] == ["UpdateItem"]
    assert old.wire in sent(aws, "UpdateItem")[0]["ExpressionAttributeValues"].values()
    assert type(doc.body) is bytes and doc.body == body


def test_a_wrong_value_is_refused_before_any_call():
    engine = make_engine()
    aws = canned()
    good = Doc(id="ok", body=b"x" * 100)
    with patched(aws):
        with pytest.raises(InvalidS3Value, match="Doc.text"):
            engine.save(good, Doc(id="bad", text=b"not text"))
    assert aws.requests == []
    assert good.body == b"x" * 100 and type(good.body) is bytes  # left as it was


def test_an_item_key_too_long_for_s3_metadata_is_refused_before_any_call():
    engine = make_engine()
    aws = canned()
    with patched(aws):
        with pytest.raises(InvalidS3Value, match="metadata"):
            engine.save(Doc(id="k" * 2000, body=b"x" * 100))
    assert aws.requests == []


def test_a_delete_asks_for_the_old_image_and_removes_its_objects():
    engine = make_engine()
    old = S3Pointer(BUCKET, "Doc/gone", 20, "0" * 64)
    aws = canned(item={"id": {"S": "a"}, "body": old.wire})
    with patched(aws):
        engine.delete(Doc(id="a"))
    (delete_item,) = sent(aws, "DeleteItem")
    assert delete_item["ReturnValues"] == "ALL_OLD"
    assert sent(aws, "DeleteObjects")[0]["Delete"]["Objects"] == [{"Key": "Doc/gone"}]


def test_no_s3_call_for_inline_values():
    engine = make_engine()
    aws = canned()
    with patched(aws):
        engine.save(Doc(id="a", body=b"tiny", text="tiny", n=1))
    assert [op for op, _ in aws.requests] == ["UpdateItem"]
