"""bloop.ext.s3.planner: what a write uploads, stores and displaces, decided without S3 or DynamoDB."""
import hashlib

import pytest

from bloop import BaseModel, Binary, Column, String
from bloop.conditions import render
from bloop.ext.s3 import InvalidS3Value, S3Blob, S3Pointer, s3_columns
from bloop.ext.s3.planner import (
    UNKNOWN,
    Plan,
    guard,
    key_from_metadata,
    object_metadata,
    orphans,
    plan_write,
    referenced_objects,
    settle,
)
from bloop.models import clear_marks, marked

BUCKET = "planner-bucket"


class Note(BaseModel):
    class Meta:
        table_name = "notes"

    id = Column(String, hash_key=True)
    body = Column(S3Blob(Binary, bucket=BUCKET, prefix="p/", inline_threshold=4))
    title = Column(String)


class Streamed(BaseModel):
    class Meta:
        table_name = "streamed"
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    body = Column(S3Blob(Binary, bucket=BUCKET, inline_threshold=4))


KEY = {"id": {"S": "n1"}}
COLUMNS = s3_columns(Note)


def pointer_wire(key: str, body: bytes = b"stored before") -> dict:
    return S3Pointer(BUCKET, key, len(body), hashlib.sha256(body).hexdigest()).wire


def plan(obj, kind="save", seen=None):
    return plan_write(obj, kind, "notes-table", KEY if kind in ("save", "put") else None, s3_columns(type(obj)),
                      seen or {}, new_token=lambda: "t0")


def test_a_large_value_is_planned_as_an_upload_to_a_fresh_key_with_a_pointer():
    body = b"large enough"
    result = plan(Note(id="n1", body=body))
    (entry,) = result.columns
    digest = hashlib.sha256(body).hexdigest()
    assert result.uploads == [entry.upload]
    assert entry.upload.bucket == BUCKET
    assert entry.upload.key.startswith("p/notes-table/") and entry.upload.key.endswith(f"/{digest}-t0")
    assert entry.upload.body == body
    assert S3Pointer.from_wire(entry.new_wire) == S3Pointer(BUCKET, entry.upload.key, len(body), digest)


def test_the_upload_names_its_item_and_attribute_in_the_metadata():
    (entry,) = plan(Note(id="n1", body=b"large enough")).columns
    assert key_from_metadata(entry.upload.metadata["bloop-item"]) == KEY
    assert entry.upload.metadata["bloop-attribute"] == "body"


def test_binary_keys_round_trip_through_the_metadata():
    key = {"id": {"B": b"\x00\xff"}, "n": {"N": "3"}}
    assert key_from_metadata(object_metadata(key, "body", "x")["bloop-item"]) == key


def test_a_small_value_stays_inline_and_uploads_nothing():
    (entry,) = plan(Note(id="n1", body=b"tiny")).columns
    assert entry.upload is None
    assert entry.new_wire == {"B": b"tiny"}


def test_a_save_plans_only_the_changed_columns():
    obj = Note(id="n1", body=b"large enough")
    clear_marks(obj)
    obj.title = "only this changed"
    assert plan(obj).columns == []
    assert plan(obj, kind="put").columns != []  # a put replaces the whole item


def test_a_delete_plans_no_upload():
    result = plan(Note(id="n1", body=b"large enough"), kind="delete")
    assert result.columns == [] and result.key_wire is None


def test_the_same_content_as_read_keeps_the_pointer_without_an_upload():
    body = b"large enough"
    read = pointer_wire("p/notes-table/x/old", body)
    (entry,) = plan(Note(id="n1", body=body), seen={"body": read}).columns
    assert entry.upload is None and entry.new_wire == read


def test_a_value_of_the_wrong_type_is_refused():
    with pytest.raises(InvalidS3Value, match="Note.body"):
        plan(Note(id="n1", body="text, not bytes"))


def test_an_unfetched_pointer_is_refused_unless_it_is_what_the_object_read():
    read = pointer_wire("p/notes-table/x/old")
    obj = Note(id="n1")
    obj.__dict__["body"] = S3Pointer.from_wire(read)
    marked(obj).add("body")
    with pytest.raises(InvalidS3Value, match="never fetched"):
        plan(obj)
    (entry,) = plan(obj, seen={"body": read}).columns
    assert entry.new_wire == read and entry.upload is None


def test_a_blind_save_asks_for_the_old_image_and_a_read_one_is_conditional():
    condition, return_old = guard(plan(Note(id="n1", body=b"large enough")))
    assert condition is None and return_old

    read = pointer_wire("p/notes-table/x/old")
    condition, return_old = guard(plan(Note(id="n1", body=b"large enough"), seen={"body": read}))
    assert not return_old
    rendered = render(None, condition=condition)
    assert rendered["ExpressionAttributeValues"].popitem()[1] == read


def test_a_delete_asks_for_the_old_image():
    assert guard(plan(Note(id="n1"), kind="delete")) == (None, True)


def test_a_save_displaces_what_the_old_image_held():
    old = pointer_wire("p/notes-table/x/old")
    obj = Note(id="n1", body=b"large enough")
    result = plan(obj)
    settled = settle(obj, "save", result, {"body": old}, {}, KEY)
    (disposal,) = settled.disposals
    assert disposal.pointer == S3Pointer.from_wire(old)
    assert not disposal.keep  # no stream images: deleted at once
    assert settled.seen == {"body": result.columns[0].new_wire}
    assert key_from_metadata(disposal.metadata["bloop-item"]) == KEY


def test_a_conditional_save_displaces_what_it_read():
    read = pointer_wire("p/notes-table/x/old")
    obj = Note(id="n1", body=b"large enough")
    result = plan(obj, seen={"body": read})
    (disposal,) = settle(obj, "save", result, None, {"body": read}, KEY).disposals
    assert disposal.pointer == S3Pointer.from_wire(read)


def test_keeping_the_pointer_displaces_nothing():
    body = b"large enough"
    read = pointer_wire("p/notes-table/x/old", body)
    obj = Note(id="n1", body=body)
    assert settle(obj, "save", plan(obj, seen={"body": read}), None, {"body": read}, KEY).disposals == []


def test_a_delete_displaces_what_was_read_when_there_is_no_old_image():
    read = pointer_wire("p/notes-table/x/old")
    obj = Note(id="n1")
    settled = settle(obj, "delete", plan(obj, kind="delete"), None, {"body": read}, KEY)
    assert [d.pointer for d in settled.disposals] == [S3Pointer.from_wire(read)]
    assert settled.seen == {"body": None}


def test_displaced_objects_of_a_model_with_stream_images_are_kept():
    obj = Streamed(id="n1", body=b"large enough")
    result = plan_write(obj, "save", "streamed", KEY, s3_columns(Streamed), {}, new_token=lambda: "t")
    (disposal,) = settle(obj, "save", result, {"body": pointer_wire("old")}, {}, KEY).disposals
    assert disposal.keep


def test_inline_old_values_displace_no_object():
    obj = Note(id="n1", body=b"large enough")
    assert settle(obj, "save", plan(obj), {"body": {"B": b"old"}}, {}, KEY).disposals == []


def test_orphans_are_the_created_objects_no_item_references():
    failed = Plan("save", "notes-table", KEY, created=[(BUCKET, "a"), (BUCKET, "b")])
    items = [{"id": {"S": "n1"}, "body": pointer_wire("a")}, {"id": {"S": "n2"}, "body": {"B": b"x"}}]
    referenced = referenced_objects(items, ["body"])
    assert referenced == {(BUCKET, "a")}
    assert orphans([failed], referenced) == [(BUCKET, "b")]


def test_unknown_is_what_an_object_read_for_a_column_it_never_loaded():
    (entry,) = plan(Note(id="n1", body=b"large enough")).columns
    assert entry.read is UNKNOWN
