"""What a write of S3-backed columns does, as data: the uploads, the item's new wire values, the guard
condition, and the objects a successful write displaced.

Pure: no S3 or DynamoDB call, so every decision here is tested without either (tests/unit/test_s3_planner.py).
The hook (:mod:`bloop.ext.s3.hook`) runs these plans with the store (:mod:`bloop.ext.s3.store`).
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Mapping

from ...actions import Action, ActionType
from ...conditions import conditions_and
from ...models import marked
from ...util import Sentinel
from .column import MISSING, S3Pointer, WireValue, plain, retains_displaced, s3_columns, wired
from .errors import InvalidS3Value

__all__ = ["Upload", "ColumnPlan", "Plan", "Disposal", "Settlement", "plan_write", "guard", "settle",
           "orphans", "object_metadata", "key_from_metadata", "UNKNOWN"]

#: S3 user metadata is limited to 2 KB (names and values)
MAX_METADATA_SIZE = 2048

META_ITEM = "bloop-item"  # base64url of the item key (JSON), to find the item that may reference the object
META_ATTRIBUTE = "bloop-attribute"  # the attribute (dynamo name) that may reference it
META_SHA256 = "bloop-sha256"
META_SUPERSEDED = "bloop-superseded"  # set when a displaced object is kept for stream readers

#: what an object "read" for a column it never loaded from its item
UNKNOWN = Sentinel("unknown pointer")


@dataclass
class Upload:
    """One object to put before the item is written."""

    bucket: str
    key: str
    body: bytes
    metadata: dict


@dataclass
class ColumnPlan:
    column: Any
    original: Any  # obj.__dict__ value before prepare (MISSING when unset)
    placed: Any  # what prepare puts in obj.__dict__ for the dump (None: nothing)
    read: Any  # wire value this object last saw in its item for the column (UNKNOWN: never read it)
    new_wire: dict | None  # what the write stores
    upload: Upload | None = None


@dataclass
class Plan:
    """One object's write: what to upload, and (filled as it runs) what was put and whether it was sent."""

    kind: str  # the kind prepare saw
    table_name: str
    key_wire: dict | None
    columns: list[ColumnPlan] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)  # (bucket, key) put by this write
    sent: bool = False  # every upload succeeded, so the item write was attempted

    @property
    def uploads(self) -> list[Upload]:
        return [entry.upload for entry in self.columns if entry.upload is not None]


@dataclass
class Disposal:
    """An object a write displaced: deleted now, or kept (touched) for the collector."""

    pointer: S3Pointer
    metadata: dict
    keep: bool  # True: touch for the collector (stream readers may need it); False: delete now


@dataclass
class Settlement:
    """After a successful write: what the item now holds per column name, and what it displaced."""

    seen: dict[str, Any]
    disposals: list[Disposal]


# ----------------------------------------------------------------------------------------- item keys
def _key_json(key_wire: dict) -> str:
    plain_key = {}
    for name, value in key_wire.items():
        ((tag, inner),) = value.items()
        plain_key[name] = [tag, base64.b64encode(bytes(inner)).decode("ascii") if tag == "B" else inner]
    return json.dumps(plain_key, sort_keys=True, separators=(",", ":"))


def key_from_metadata(text: str) -> dict:
    """The item key (wire form) recorded in an object's metadata by :func:`object_metadata`."""
    plain_key = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    return {name: {tag: base64.b64decode(inner) if tag == "B" else inner}
            for name, (tag, inner) in plain_key.items()}


def object_metadata(key_wire: dict, attribute: str, sha256: str) -> dict:
    """The S3 user metadata naming the item and attribute that may reference an object (for the collector)."""
    return {META_ITEM: base64.urlsafe_b64encode(_key_json(key_wire).encode("ascii")).decode("ascii"),
            META_ATTRIBUTE: attribute, META_SHA256: sha256}


# -------------------------------------------------------------------------------------------- plans
def python_value(original: Any, where: str) -> Any:
    """The value to store from what the object holds (an Action, a marked value, or a plain one)."""
    if original is MISSING or original is None:
        return None
    if isinstance(original, Action):
        if original.type is ActionType.Remove:
            return None
        if original.type is not ActionType.Set:
            raise InvalidS3Value(f"{where} is S3-backed: it can be set or removed, not {original.type.wire_key}")
        return python_value(original.value, where)
    return plain(original)


def plan_write(obj: Any, kind: str, table_name: str, key_wire: dict | None, columns: list,
               seen: Mapping[str, Any], new_token: Callable[[], str] = lambda: secrets.token_hex(8),
               written: Collection[str] | None = None) -> Plan:
    """Plan the S3 side of writing ``obj``; raises InvalidS3Value for a value that can't be stored.

    ``seen`` holds the wire value this object last saw in its item per column name; ``key_wire`` is the
    item key (None for a delete or a check); ``new_token`` makes each upload's key unique; ``written``
    names the columns a save stores (the write path decides: changed columns, or every known one),
    by default the columns changed since the object was last loaded or saved. A put plans every column.
    """
    model = type(obj)
    if kind not in ("save", "put") or key_wire is None:  # delete, or a transaction's check
        return Plan(kind, table_name, None)
    plan = Plan(kind, table_name, key_wire)
    changed = marked(obj) if written is None else written
    item_digest = hashlib.sha256(_key_json(key_wire).encode("ascii")).hexdigest()
    for column in columns:
        if kind == "save" and column.name not in changed:
            continue
        typedef = column.typedef
        where = f"{model.__name__}.{column.name}"
        original = obj.__dict__.get(column.name, MISSING)
        value = python_value(original, where)
        read = seen.get(column.name, UNKNOWN)
        entry = ColumnPlan(column, original, None, read, None)
        plan.columns.append(entry)
        if value is None:
            continue
        if isinstance(value, S3Pointer):
            # kept as it is only by a save conditional on the item still holding it (never by a batch put)
            if kind != "save" or read is UNKNOWN or value.wire != read:
                raise InvalidS3Value(f"{where} holds {value!r}, a pointer that was never fetched; load the "
                                     "object (its value is fetched then) or assign bytes/str")
            entry.new_wire = read  # unchanged: keep the pointer (conditional on it)
            entry.placed = wired("" if typedef.text else b"", read, False)
            continue
        body = typedef.encode(value, where)
        if len(body) <= typedef.inline_threshold:
            entry.new_wire = typedef.inline_wire(value, body)
        else:
            digest = hashlib.sha256(body).hexdigest()
            old = S3Pointer.from_wire(read) if read is not UNKNOWN else None
            if kind == "save" and old is not None and old.sha256 == digest and old.size == len(body):
                entry.new_wire = read  # same content as the object this one read: no upload
            else:
                key = f"{typedef.prefix}{table_name}/{item_digest}/{digest}-{new_token()}"
                metadata = object_metadata(key_wire, column.dynamo_name, digest)
                size = sum(len(k) + len(v) for k, v in metadata.items())
                if size > MAX_METADATA_SIZE:
                    raise InvalidS3Value(f"{where}: the item key is too long to record in the S3 object's "
                                         f"metadata ({size} bytes, S3 allows {MAX_METADATA_SIZE})")
                entry.upload = Upload(typedef.bucket, key, body, metadata)
                entry.new_wire = S3Pointer(typedef.bucket, key, len(body), digest).wire
        entry.placed = wired(value, entry.new_wire, False)
    return plan


def guard(plan: Plan) -> tuple[Any, bool]:
    """(condition the item write must meet, whether it must return the old image).

    A save of a column this object read is conditional on what it read, so it knows exactly which object it
    displaced; a blind save or a delete asks for the old image instead.
    """
    condition = None
    blind = plan.kind == "delete"
    if plan.kind == "save":
        for entry in plan.columns:
            if entry.read is UNKNOWN:
                blind = True
            else:
                expected = None if entry.read is None else WireValue(entry.read)
                condition = conditions_and(condition, entry.column == expected)
    return condition, blind


def settle(obj: Any, kind: str, plan: Plan, old_image: dict | None, seen: Mapping[str, Any],
           key_wire: dict) -> Settlement:
    """After a successful write of kind ``kind``: what the item holds now, and the objects it displaced."""
    model = type(obj)
    keep = retains_displaced(model)
    now: dict[str, Any] = {}
    displaced: list[tuple[Any, Any, Any]] = []  # (column, displaced wire, new wire)
    if kind == "delete":
        # engine.delete asked for the old image; batches and transactions have none, so what was read is
        # removed (safe: the item is gone, and a save reusing a pointer is conditional on the item holding it)
        for column in s3_columns(model):
            old = old_image.get(column.dynamo_name) if old_image is not None else seen.get(column.name)
            displaced.append((column, old, None))
            now[column.name] = None
    elif kind in ("save", "put"):
        for entry in plan.columns:
            column = entry.column
            if old_image is not None and plan.kind == "save":
                old = old_image.get(column.dynamo_name)
            else:
                old = entry.read  # a conditional save displaced what it read; a put displaces what it read
            displaced.append((column, old, entry.new_wire))
            now[column.name] = entry.new_wire
    disposals = []
    for column, old, new in displaced:
        old_pointer = S3Pointer.from_wire(old, strict=False) if old is not UNKNOWN else None
        new_pointer = S3Pointer.from_wire(new, strict=False)
        if old_pointer is None or (new_pointer is not None and new_pointer.key == old_pointer.key and
                                   new_pointer.bucket == old_pointer.bucket):
            continue
        disposals.append(Disposal(old_pointer, object_metadata(key_wire, column.dynamo_name, old_pointer.sha256),
                                  keep))
    return Settlement(now, disposals)


def referenced_objects(items: Iterable[dict], attributes: Iterable[str]) -> set[tuple[str, str]]:
    """(bucket, key) of every object that ``items`` point at through ``attributes``."""
    names = list(attributes)
    found = set()
    for item in items:
        for name in names:
            pointer = S3Pointer.from_wire(item.get(name), strict=False)
            if pointer is not None:
                found.add((pointer.bucket, pointer.key))
    return found


def orphans(plans: Iterable[Plan], referenced: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """Objects that failed writes put and that no item references: safe to delete at once."""
    return [pair for plan in plans for pair in plan.created if pair not in referenced]
