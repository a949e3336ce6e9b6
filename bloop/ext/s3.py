"""Large attributes in S3: columns whose values live in S3 objects, with a pointer in the item.

``Column(S3Blob(Binary, bucket="docs"))`` holds bytes (``S3Blob(String, ...)`` holds text). In Python the
attribute is the value itself. In the item it is either the value (when its encoded size is at most
``inline_threshold`` bytes) or a pointer map ``{"bucket", "key", "size", "sha256"}``.

The write protocol (see docs/s3.rst for the guarantees and the failure cases):

* every upload goes to a key used by no other write:
  ``{prefix}{table}/{sha256 of the item key}/{sha256 of the content}-{random}``. A key is written into
  an item by its one writer, and after that only by a save that read that very pointer and keeps the
  same content (conditional on the pointer, so never after it was displaced). Deleting an object that
  was displaced is therefore always safe: nobody can point at it again;
* the objects are put first, then the item is written; the objects of a write that failed are removed
  (unless a consistent read shows the item references them: a write reported failed may have been
  applied);
* a save of an S3 column by an object that was loaded is conditional on the pointer it read, so it
  knows exactly which object it displaced; a blind save asks for the old image (``ALL_OLD``);
* displaced objects (and those of a deleted item) are deleted at once when the model's stream carries
  no images, else kept for the collector: they are "touched" (copied in place, which restarts their
  age) so :func:`collect_garbage` keeps them for the retention window (default 25 hours, longer than
  the 24 hours a stream keeps a record);
* anything a crash leaves behind is an orphan, never a dangling pointer; :func:`collect_garbage`
  deletes orphans older than ``min_age`` (it reads the item named in each object's metadata).

Values are fetched eagerly when objects are loaded (load, query, scan, read transactions, stream
images), concurrently on the engine's thread pool; there is no lazy mode.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Iterable

from botocore.exceptions import ClientError

from .. import signals
from ..actions import Action, ActionType, wrap
from ..conditions import conditions_and
from ..exceptions import BloopException, InvalidModel, UnknownType
from ..hooks import EngineHook, Write
from ..models import dump_key, marked, unpack_from_dynamodb
from ..types import Binary, List, Map, Set, String, Type
from ..util import MAX_ITEM_SIZE, Sentinel, chunked, key_identity

__all__ = [
    "S3Blob", "S3Pointer", "S3Hook", "collect_garbage", "GarbageReport", "s3_columns", "validate_model",
    "InvalidS3Column", "S3NotConfigured", "InvalidS3Value", "S3Error", "MissingBucket", "S3ObjectMissing",
    "S3ContentMismatch", "DEFAULT_INLINE_THRESHOLD", "DEFAULT_RETENTION",
]

logger = logging.getLogger("bloop.ext.s3")

#: values whose encoded size is at most this many bytes stay in the item
DEFAULT_INLINE_THRESHOLD = 4 * 1024
#: how long displaced objects of a model with stream images are kept (a stream keeps records 24 hours)
DEFAULT_RETENTION = datetime.timedelta(hours=25)
#: S3 user metadata is limited to 2 KB (names and values)
MAX_METADATA_SIZE = 2048
DELETE_OBJECTS_CHUNK_SIZE = 1000

META_ITEM = "bloop-item"  # base64url of the item key (JSON), to find the item that may reference the object
META_ATTRIBUTE = "bloop-attribute"  # the attribute (dynamo name) that may reference it
META_SHA256 = "bloop-sha256"
META_SUPERSEDED = "bloop-superseded"  # set when a displaced object is kept for stream readers

_SEEN = "_bloop_s3_seen"  # obj.__dict__ key: {column name: wire value this object last saw in its item}
_STATE = "s3"  # Write.state key holding the write's _Plan
UNKNOWN = Sentinel("unknown pointer")
MISSING = Sentinel("no value")

UTC = datetime.timezone.utc


# ------------------------------------------------------------------------------------------ exceptions
class InvalidS3Column(InvalidModel):
    """An S3Blob is declared or used in a way that can't work (no bucket, a key, in an index...)."""


class S3NotConfigured(BloopException, ValueError):
    """A model with S3-backed columns is used with an engine that has no S3 client (``Engine(s3=...)``)."""


class InvalidS3Value(BloopException, TypeError):
    """A value can't be stored in an S3-backed column (wrong type, ADD/DELETE, an unfetched pointer...)."""


class S3Error(BloopException):
    """An S3 call failed; ``bucket`` and ``key`` say where."""

    def __init__(self, message: str, bucket: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key


class MissingBucket(S3Error):
    """The bucket of an S3-backed column does not exist; raised before the item is written."""


class S3ObjectMissing(S3Error):
    """Items point at objects that are gone; ``objects`` lists (obj, column name, pointer)."""

    def __init__(self, message: str, objects: list | None = None) -> None:
        first = (objects or [(None, None, None)])[0][2]
        super().__init__(message, getattr(first, "bucket", None), getattr(first, "key", None))
        self.objects = list(objects or [])


class S3ContentMismatch(S3Error):
    """An object's content does not match the size and SHA-256 recorded in its pointer."""


# -------------------------------------------------------------------------------------------- pointer
@dataclass(frozen=True)
class S3Pointer:
    """Where a value lives. Until it is fetched, an S3-backed attribute holds its pointer."""

    bucket: str
    key: str
    size: int
    sha256: str
    raw: dict | None = field(default=None, compare=False, repr=False)  # the wire value as read

    @property
    def wire(self) -> dict:
        if self.raw is not None:
            return self.raw
        return {"M": {"bucket": {"S": self.bucket}, "key": {"S": self.key}, "size": {"N": str(self.size)},
                      "sha256": {"S": self.sha256}}}

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def from_wire(cls, wire: Any, strict: bool = True) -> S3Pointer | None:
        """The pointer in a wire value, or None when the value is not a pointer (inline, absent).

        A map that is not a pointer raises UnknownType, or gives None when ``strict`` is false.
        """
        if not isinstance(wire, dict) or "M" not in wire:
            return None
        fields = wire["M"]
        try:
            return cls(bucket=fields["bucket"]["S"], key=fields["key"]["S"], size=int(fields["size"]["N"]),
                       sha256=fields["sha256"]["S"], raw=wire)
        except (KeyError, TypeError, ValueError):
            if not strict:
                return None
            raise UnknownType(f"an S3-backed attribute holds a map that is not a pointer: {wire!r}") from None


class _WiredBytes(bytes):
    """Bytes that know their wire form: ``s3_loaded`` ones came from an item, the others are being written."""

    s3_wire: Any
    s3_loaded: bool


class _WiredStr(str):
    s3_wire: Any
    s3_loaded: bool


def _wired(value: Any, wire: Any, loaded: bool) -> Any:
    marked_value = _WiredStr(value) if isinstance(value, str) else _WiredBytes(value)
    marked_value.s3_wire = wire
    marked_value.s3_loaded = loaded
    return marked_value


def _plain(value: Any) -> Any:
    if isinstance(value, _WiredStr):
        return str.__str__(value)
    if isinstance(value, _WiredBytes):
        return bytes(value)
    return value


class _Wire:
    """A wire value passed through ``S3Blob._dump`` as it is (the hook's conditions compare wire values)."""

    __slots__ = ("wire",)

    def __init__(self, wire: dict) -> None:
        self.wire = wire

    def __repr__(self) -> str:
        pointer = S3Pointer.from_wire(self.wire)
        return f"<{pointer.url}>" if pointer else "<inline value>"


# ----------------------------------------------------------------------------------------------- type
class S3Blob(Type[Any]):
    """A Binary or String column whose large values live in S3.

    ``S3Blob(Binary, bucket="docs", prefix="blobs/", inline_threshold=4096)``: values up to
    ``inline_threshold`` bytes (UTF-8 for String) stay in the item; larger ones are put in ``bucket``
    under ``prefix``. Conditions on the column can test ``== None`` / ``!= None`` and compare inline
    values with ``==`` / ``!=``.
    """

    def __init__(self, typedef: Any = Binary, *, bucket: str | None = None, prefix: str = "",
                 inline_threshold: int = DEFAULT_INLINE_THRESHOLD) -> None:
        inner = typedef() if isinstance(typedef, type) and issubclass(typedef, Type) else typedef
        if type(inner) not in (Binary, String):
            raise InvalidS3Column(f"S3Blob stores Binary or String values, not {typedef!r}")
        if not isinstance(bucket, str) or not bucket:
            raise InvalidS3Column(f"S3Blob({type(inner).__name__}) needs bucket=\"<an existing bucket>\", "
                                  f"got {bucket!r}")
        if not isinstance(prefix, str):
            raise InvalidS3Column(f"S3Blob prefix must be a str, not {prefix!r}")
        if isinstance(inline_threshold, bool) or not isinstance(inline_threshold, int) or not (
                0 <= inline_threshold < MAX_ITEM_SIZE):
            raise InvalidS3Column(f"S3Blob inline_threshold must be an int from 0 to {MAX_ITEM_SIZE - 1} bytes, "
                                  f"not {inline_threshold!r}")
        self.inner = inner
        self.backing_type = inner.backing_type  # type: ignore[misc]  # of inline values; pointers are maps
        self.python_type = inner.python_type  # type: ignore[misc]
        self.bucket = bucket
        self.prefix = prefix
        self.inline_threshold = inline_threshold

    @property
    def text(self) -> bool:
        return isinstance(self.inner, String)

    def __repr__(self) -> str:
        return (f"S3Blob({type(self.inner).__name__}, bucket={self.bucket!r}, prefix={self.prefix!r}, "
                f"inline_threshold={self.inline_threshold})")

    def engine_hook(self) -> S3Hook:
        return HOOK  # one stateless hook for every S3 column, so an engine registers it once

    def supports_operation(self, operation: str) -> bool:
        return operation in ("==", "!=")

    # python value <-> bytes stored in S3
    def encode(self, value: Any, where: str = "S3Blob") -> bytes:
        if self.text:
            if not isinstance(value, str):
                raise InvalidS3Value(f"{where} holds text (S3Blob(String)), got {type(value).__name__} "
                                     f"{_short(value)}")
            return value.encode("utf-8")
        if isinstance(value, str) or not isinstance(value, (bytes, bytearray, memoryview)):
            hint = "; encode it first (value.encode())" if isinstance(value, str) else ""
            raise InvalidS3Value(f"{where} holds bytes (S3Blob(Binary)), got {type(value).__name__} "
                                 f"{_short(value)}{hint}")
        return bytes(value)

    def decode(self, body: bytes) -> Any:
        return body.decode("utf-8") if self.text else body

    def inline_wire(self, value: Any, body: bytes) -> dict | None:
        if not body:
            return None
        return {self.backing_type: value if self.text else body}

    # python value <-> wire value
    def dynamo_dump(self, value: Any, *, context: Any = None, **kwargs: Any) -> Any:
        action = self._dump(value, context=context)
        return None if action.type is ActionType.Remove else action.value[self.backing_type]

    def dynamo_load(self, value: Any, *, context: Any = None, **kwargs: Any) -> Any:
        return self.inner.dynamo_load(value, context=context)

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is ActionType.Remove:
            return action
        if action.type is not ActionType.Set:
            raise InvalidS3Value(f"S3-backed columns can only be set or removed, not {action.type.wire_key}")
        value = action.value
        if isinstance(value, _Wire):
            return Action(ActionType.Set, value.wire)
        if isinstance(value, (_WiredBytes, _WiredStr)):
            wire = value.s3_wire
            return Action(ActionType.Remove, None) if wire is None else Action(ActionType.Set, wire)
        if isinstance(value, S3Pointer):
            raise InvalidS3Value(f"{value!r} is an S3 pointer that was never fetched; load the object first")
        body = self.encode(value)
        if len(body) > self.inline_threshold:
            raise InvalidS3Value(
                f"a {len(body)}-byte value is over the inline threshold ({self.inline_threshold}) and is stored "
                "in S3; it is written by engine.save with the engine's S3 client, and conditions can only "
                "compare inline values (or == None)")
        wire = self.inline_wire(value, body)
        return Action(ActionType.Remove, None) if wire is None else Action(ActionType.Set, wire)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        """Inline values load as marked bytes/str; pointers load as :class:`S3Pointer` until fetched."""
        if value is None:
            return _wired("" if self.text else b"", None, True)
        pointer = S3Pointer.from_wire(value)
        if pointer is not None:
            return pointer
        if self.backing_type not in value:
            raise UnknownType(f"an S3Blob({type(self.inner).__name__}) attribute holds {value!r}")
        return _wired(self.inner.dynamo_load(value[self.backing_type]), value, True)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def s3_columns(model: Any) -> list:
    """The model's columns whose type is an :class:`S3Blob`, by name.

    Kept on the model's Meta with the column set it was computed from (``setup_model`` builds a new set
    whenever columns change), as ``models.compiled`` does: the signal receivers below ask for every model.
    """
    meta = model.Meta
    cached = meta.__dict__.get("_bloop_s3_columns")
    if cached is None or cached[0] is not meta.columns:
        found = sorted((c for c in meta.columns if isinstance(c.typedef, S3Blob)), key=lambda c: c.name)
        cached = meta._bloop_s3_columns = (meta.columns, found)
    return cached[1]


def _nested_s3(typedef: Any) -> bool:
    if isinstance(typedef, S3Blob):
        return True
    if isinstance(typedef, Map):
        return any(_nested_s3(t) for t in typedef.types.values())
    if isinstance(typedef, (List, Set)):
        return _nested_s3(typedef.inner_typedef)
    return False


def validate_model(model: Any) -> None:
    """Raise InvalidS3Column if an S3Blob is a key, in an index, or nested in a Map/List/Set.

    Runs when a model class is created (``model_created``) and again when it is bound (``model_bound``),
    which also covers columns and indexes added later with ``bind_column`` / ``bind_index``.
    """
    meta = model.Meta
    name = model.__name__
    for column in meta.columns:
        if not isinstance(column.typedef, S3Blob) and _nested_s3(column.typedef):
            raise InvalidS3Column(f"{name}.{column.name}: S3Blob can only be the type of a column, not nested "
                                  "in a Map, List or Set")
    for column in s3_columns(model):
        where = f"{name}.{column.name}"
        if column in meta.keys:
            raise InvalidS3Column(f"{where} is an S3Blob and the table's {'hash' if column.hash_key else 'range'} "
                                  "key; keys can't live in S3 (the stored form changes between value and pointer)")
        for index in meta.indexes:
            if column in index.keys:
                raise InvalidS3Column(f"{where} is an S3Blob and a key of the index {index.name!r}; index keys "
                                      "can't live in S3")
            if column in index.projection["included"]:
                raise InvalidS3Column(
                    f"{where} is an S3Blob projected into the index {index.name!r}: an index copy of a pointer "
                    "can outlive its object. Project the index as \"keys\" or list columns without it")


def _retains(model: Any) -> bool:
    """Whether readers of the model's stream may need displaced objects (the stream carries images)."""
    stream = model.Meta.stream
    return bool(stream and {"new", "old"} & set(stream.get("include") or ()))


# ----------------------------------------------------------------------------------------- item keys
def _key_json(key_wire: dict) -> str:
    plain = {}
    for name, value in key_wire.items():
        ((tag, inner),) = value.items()
        plain[name] = [tag, base64.b64encode(bytes(inner)).decode("ascii") if tag == "B" else inner]
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))


def _key_from_metadata(text: str) -> dict:
    plain = json.loads(base64.urlsafe_b64decode(text.encode("ascii")))
    return {name: {tag: base64.b64decode(inner) if tag == "B" else inner} for name, (tag, inner) in plain.items()}


def _metadata(key_wire: dict, attribute: str, sha256: str) -> dict:
    return {META_ITEM: base64.urlsafe_b64encode(_key_json(key_wire).encode("ascii")).decode("ascii"),
            META_ATTRIBUTE: attribute, META_SHA256: sha256}


# ----------------------------------------------------------------------------------------------- hook
@dataclass
class _Upload:
    bucket: str
    key: str
    body: bytes
    metadata: dict


@dataclass
class _ColumnPlan:
    column: Any
    original: Any  # obj.__dict__ value before prepare (MISSING when unset)
    placed: Any  # what prepare put in obj.__dict__ for the dump (None: nothing)
    read: Any  # wire value this object last saw in its item for the column (UNKNOWN: never read it)
    new_wire: dict | None  # what the write stores
    upload: _Upload | None = None


@dataclass
class _Plan:
    kind: str  # the kind prepare saw
    table_name: str
    key_wire: dict | None
    columns: list = field(default_factory=list)
    created: list = field(default_factory=list)  # (bucket, key) put by this write
    sent: bool = False  # every upload succeeded, so the item write was attempted


@dataclass
class _Disposal:
    pointer: S3Pointer
    metadata: dict
    keep: bool  # True: touch for the collector (stream readers may need it); False: delete now


class S3Hook(EngineHook):
    """Takes part in an engine's writes and loads for every S3-backed column (see the module docstring)."""

    # ------------------------------------------------------------------------------------ writes
    def prepare(self, engine: Any, writes: list[Write]) -> None:
        planned = []
        for write in writes:
            columns = s3_columns(type(write.obj))
            if columns:
                if engine.s3 is None:
                    raise S3NotConfigured(f"{type(write.obj).__name__} has S3-backed columns; create the engine "
                                          "with Engine(..., s3=<boto3 S3 client>)")
                planned.append((write, self._plan(engine, write, columns)))
        # nothing is changed until every write is planned, so a refused call leaves the objects as they were
        for write, plan in planned:
            write.state[_STATE] = plan
            values = write.obj.__dict__
            blind = False
            condition = None
            for entry in plan.columns:
                if entry.placed is not None:
                    values[entry.column.name] = entry.placed
                if plan.kind != "save":
                    continue
                if entry.read is UNKNOWN:
                    blind = True
                else:  # the pointer swap is conditional on what this object read
                    expected = None if entry.read is None else _Wire(entry.read)
                    condition = conditions_and(condition, entry.column == expected)
            if condition:
                write.condition = conditions_and(write.condition, condition)
            if blind or plan.kind == "delete":
                write.state["return_old"] = True  # the old image says exactly which objects were displaced

    def _plan(self, engine: Any, write: Write, columns: list) -> _Plan:
        obj, model = write.obj, type(write.obj)
        table_name = engine._binding(model).table_name
        if write.kind not in ("save", "put"):  # delete, or a transaction's check
            return _Plan(write.kind, table_name, None)
        key_wire = dump_key(obj, {"engine": engine})
        plan = _Plan(write.kind, table_name, key_wire)
        seen = obj.__dict__.get(_SEEN) or {}
        changed = marked(obj)
        item_json = _key_json(key_wire)
        item_digest = hashlib.sha256(item_json.encode("ascii")).hexdigest()
        for column in columns:
            if write.kind == "save" and column.name not in changed:
                continue
            typedef = column.typedef
            where = f"{model.__name__}.{column.name}"
            original = obj.__dict__.get(column.name, MISSING)
            value = _python_value(original, where)
            read = seen.get(column.name, UNKNOWN)
            entry = _ColumnPlan(column, original, None, read, None)
            plan.columns.append(entry)
            if value is None:
                continue
            if isinstance(value, S3Pointer):
                # kept as it is only by a save conditional on the item still holding it (never by a batch put)
                if write.kind != "save" or read is UNKNOWN or value.wire != read:
                    raise InvalidS3Value(f"{where} holds {value!r}, a pointer that was never fetched; load the "
                                         "object (its value is fetched then) or assign bytes/str")
                entry.new_wire = read  # unchanged: keep the pointer (conditional on it)
                entry.placed = _wired("" if typedef.text else b"", read, False)
                continue
            body = typedef.encode(value, where)
            if len(body) <= typedef.inline_threshold:
                entry.new_wire = typedef.inline_wire(value, body)
            else:
                digest = hashlib.sha256(body).hexdigest()
                old = S3Pointer.from_wire(read) if read is not UNKNOWN else None
                if write.kind == "save" and old is not None and old.sha256 == digest and old.size == len(body):
                    entry.new_wire = read  # same content as the object this one read: no upload
                else:
                    key = f"{typedef.prefix}{table_name}/{item_digest}/{digest}-{secrets.token_hex(8)}"
                    metadata = _metadata(key_wire, column.dynamo_name, digest)
                    size = sum(len(k) + len(v) for k, v in metadata.items())
                    if size > MAX_METADATA_SIZE:
                        raise InvalidS3Value(f"{where}: the item key is too long to record in the S3 object's "
                                             f"metadata ({size} bytes, S3 allows {MAX_METADATA_SIZE})")
                    entry.upload = _Upload(typedef.bucket, key, body, metadata)
                    entry.new_wire = S3Pointer(typedef.bucket, key, len(body), digest).wire
            entry.placed = _wired(value, entry.new_wire, False)
        return plan

    def before_send(self, engine: Any, writes: list[Write]) -> None:
        uploads = []
        planned = []
        for write in writes:
            plan = write.state.get(_STATE)
            if plan is None:
                continue
            write.error = None  # a prepared transaction committed again starts clean
            plan.created, plan.sent = [], False
            planned.append(plan)
            if write.kind in ("save", "put"):  # transactions and batches correct the kind after prepare
                uploads.extend((plan, entry.upload) for entry in plan.columns if entry.upload is not None)
        if uploads:
            outcomes = engine._run_all(lambda pair: _put_object(engine.s3, pair[1]), uploads)
            for (plan, upload), (_, error) in zip(uploads, outcomes):
                if error is None:
                    plan.created.append((upload.bucket, upload.key))
            for _, error in outcomes:
                if error is not None:
                    raise error
        for plan in planned:
            plan.sent = True

    def after_send(self, engine: Any, writes: list[Write]) -> None:
        planned = [(write, write.state[_STATE]) for write in writes if _STATE in write.state]
        for write, plan in planned:
            _restore(write, plan)
        failed = [(write, plan) for write, plan in planned if write.error is not None and plan.created]
        if failed:
            _remove_unreferenced(engine, failed)
        disposals: list[_Disposal] = []
        for write, plan in planned:
            if write.error is None:
                disposals.extend(_settle(write, plan))
        if disposals:
            _dispose(engine, disposals)

    def verify(self, engine: Any, writes: list[Write]) -> list[str]:
        checks = []
        for write in writes:
            plan = write.state.get(_STATE)
            if plan is None or write.error is not None or write.kind not in ("save", "put"):
                continue
            for entry in plan.columns:
                pointer = S3Pointer.from_wire(entry.new_wire)
                if pointer is not None:
                    checks.append((write.obj, entry.column, pointer))
        outcomes = engine._run_all(lambda check: _exists(engine.s3, check[2]), checks)
        problems = []
        for (obj, column, pointer), (exists, error) in zip(checks, outcomes):
            if error is not None:
                problems.append(f"{obj!r}: could not check {column.name} at {pointer.url}: {error}")
            elif not exists:
                problems.append(f"{obj!r}: {column.name} points at {pointer.url}, which does not exist")
        return problems

    # ------------------------------------------------------------------------------------- reads
    def after_load(self, engine: Any, objs: list[Any]) -> None:
        _finish_loaded(engine, objs, strict=True)


HOOK = S3Hook()


def _python_value(original: Any, where: str) -> Any:
    if original is MISSING or original is None:
        return None
    if isinstance(original, Action):
        if original.type is ActionType.Remove:
            return None
        if original.type is not ActionType.Set:
            raise InvalidS3Value(f"{where} is S3-backed: it can be set or removed, not {original.type.wire_key}")
        return _python_value(original.value, where)
    return _plain(original)


def _restore(write: Write, plan: _Plan) -> None:
    """Put the user's values back where prepare placed the values carrying their wire form."""
    values = write.obj.__dict__
    for entry in plan.columns:
        if entry.placed is None or values.get(entry.column.name) is not entry.placed:
            continue  # nothing placed, or the engine already refilled it (sync)
        if entry.original is MISSING:
            values.pop(entry.column.name, None)
        else:
            values[entry.column.name] = entry.original if isinstance(entry.original, Action) else _plain(
                entry.original)


def _settle(write: Write, plan: _Plan) -> list[_Disposal]:
    """After a successful write: record what the item now holds; return the objects it displaced."""
    obj, model = write.obj, type(write.obj)
    seen = obj.__dict__.setdefault(_SEEN, {})
    keep = _retains(model)
    old_image = write.old_item
    displaced: list[tuple[Any, Any, Any]] = []  # (column, displaced wire, new wire)
    if write.kind == "delete":
        # engine.delete asked for the old image; batches and transactions have none, so what was read is
        # removed (safe: the item is gone, and a save reusing a pointer is conditional on the item holding it)
        for column in s3_columns(model):
            old = old_image.get(column.dynamo_name) if old_image is not None else seen.get(column.name)
            displaced.append((column, old, None))
            seen[column.name] = None
    elif write.kind in ("save", "put"):
        for entry in plan.columns:
            column = entry.column
            if old_image is not None and plan.kind == "save":
                old = old_image.get(column.dynamo_name)
            else:
                old = entry.read  # a conditional save displaced what it read; a put displaces what it read
            displaced.append((column, old, entry.new_wire))
            seen[column.name] = entry.new_wire
    out = []
    key_wire = plan.key_wire or dump_key(obj)
    for column, old, new in displaced:
        old_pointer = S3Pointer.from_wire(old, strict=False) if old is not UNKNOWN else None
        new_pointer = S3Pointer.from_wire(new, strict=False)
        if old_pointer is None or (new_pointer is not None and new_pointer.key == old_pointer.key and
                                   new_pointer.bucket == old_pointer.bucket):
            continue
        out.append(_Disposal(old_pointer, _metadata(key_wire, column.dynamo_name, old_pointer.sha256), keep))
    return out


# --------------------------------------------------------------------------------------------- S3 I/O
def _translate(error: ClientError, action: str, bucket: str, key: str | None = None) -> S3Error:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", str(error))
    if code == "NoSuchBucket":
        return MissingBucket(f"{action}: the bucket {bucket!r} does not exist; create it, or fix the S3Blob's "
                             "bucket=", bucket, key)
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    return S3Error(f"{action} {where} failed with {code}: {message}", bucket, key)


def _is_not_found(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")


def _put_object(s3: Any, upload: _Upload) -> None:
    try:
        s3.put_object(Bucket=upload.bucket, Key=upload.key, Body=upload.body, Metadata=upload.metadata)
    except ClientError as error:
        raise _translate(error, "PutObject", upload.bucket, upload.key) from error


def _get_object(s3: Any, pointer: S3Pointer) -> bytes | None:
    """The object's content, or None when it does not exist."""
    try:
        body = s3.get_object(Bucket=pointer.bucket, Key=pointer.key)["Body"].read()
    except ClientError as error:
        if _is_not_found(error):
            return None
        raise _translate(error, "GetObject", pointer.bucket, pointer.key) from error
    if len(body) != pointer.size or hashlib.sha256(body).hexdigest() != pointer.sha256:
        raise S3ContentMismatch(f"{pointer.url} holds {len(body)} bytes that do not match its pointer "
                                f"({pointer.size} bytes, sha256 {pointer.sha256[:12]}...)", pointer.bucket,
                                pointer.key)
    return body


def _exists(s3: Any, pointer: S3Pointer) -> bool:
    try:
        s3.head_object(Bucket=pointer.bucket, Key=pointer.key)
    except ClientError as error:
        if _is_not_found(error):
            return False
        raise _translate(error, "HeadObject", pointer.bucket, pointer.key) from error
    return True


def _delete_objects(s3: Any, bucket: str, keys: list[str]) -> list[tuple[str, str]]:
    """Delete keys (1000 a call); returns (key, reason) for those S3 did not delete."""
    failed = []
    for chunk in chunked(sorted(set(keys)), DELETE_OBJECTS_CHUNK_SIZE):
        try:
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk],
                                                                "Quiet": True})
        except ClientError as error:
            failed.extend((key, str(error)) for key in chunk)
            continue
        failed.extend((e.get("Key", "?"), e.get("Code", "?")) for e in response.get("Errors") or ())
    return failed


def _touch(s3: Any, disposal: _Disposal) -> None:
    """Copy the object onto itself: its LastModified becomes now, so the collector keeps it for min_age."""
    pointer = disposal.pointer
    metadata = dict(disposal.metadata)
    metadata[META_SUPERSEDED] = datetime.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        s3.copy_object(Bucket=pointer.bucket, Key=pointer.key, CopySource={"Bucket": pointer.bucket,
                                                                           "Key": pointer.key},
                       Metadata=metadata, MetadataDirective="REPLACE")
    except ClientError as error:
        if not _is_not_found(error):
            raise _translate(error, "CopyObject", pointer.bucket, pointer.key) from error


def _delete_grouped(engine: Any, pointers: Iterable[tuple[str, str]], why: str) -> None:
    """Delete (bucket, key) pairs, one DeleteObjects per bucket; failures are logged (the collector retries)."""
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in pointers:
        by_bucket.setdefault(bucket, []).append(key)
    outcomes = engine._run_all(lambda pair: _delete_objects(engine.s3, pair[0], pair[1]),
                               list(by_bucket.items()))
    for (bucket, keys), (failed, error) in zip(by_bucket.items(), outcomes):
        if error is not None:
            logger.warning("could not delete %d object(s) %s in %s: %r; collect_garbage will", len(keys), why,
                           bucket, error)
        for key, reason in failed or ():
            logger.warning("could not delete s3://%s/%s %s: %s; collect_garbage will", bucket, key, why, reason)


def _dispose(engine: Any, disposals: list[_Disposal]) -> None:
    """Delete displaced objects now, or touch them for the collector when stream readers may need them."""
    now = [(d.pointer.bucket, d.pointer.key) for d in disposals if not d.keep]
    kept = [d for d in disposals if d.keep]
    if now:
        _delete_grouped(engine, now, "that a write displaced")
    if kept:
        for disposal, (_, error) in zip(kept, engine._run_all(lambda d: _touch(engine.s3, d), kept)):
            if error is not None:
                logger.warning("could not mark %s as displaced: %r", disposal.pointer.url, error)


def _remove_unreferenced(engine: Any, failed: list[tuple[Write, _Plan]]) -> None:
    """Remove the objects of failed writes, except those a consistent read shows the item references.

    A write reported failed can have been applied (a lost response, a retried request), so an item
    write that was attempted is checked; one that was never attempted can't reference anything.
    """
    referenced: set[tuple[str, str]] = set()
    attempted = [(write, plan) for write, plan in failed if plan.sent]
    if attempted:
        try:
            loaded = engine.session.get_items(((plan.table_name, plan.key_wire) for _, plan in attempted),
                                              consistent=True)
        except Exception as error:
            logger.warning("a write failed and its S3 objects were kept: could not read the items (%r); "
                           "collect_garbage removes them once no item references them", error)
            return
        names = {column.dynamo_name for write, _ in attempted for column in s3_columns(type(write.obj))}
        for item in loaded.values():
            for name in names:
                pointer = S3Pointer.from_wire(item.get(name), strict=False)
                if pointer is not None:
                    referenced.add((pointer.bucket, pointer.key))
    orphans = [pair for _, plan in failed for pair in plan.created if pair not in referenced]
    if orphans:
        _delete_grouped(engine, orphans, "of a failed write")


# ---------------------------------------------------------------------------------------------- reads
RELOAD_ATTEMPTS = 3


def _finish_loaded(engine: Any, objs: list[Any], strict: bool) -> None:
    """Turn loaded markers into plain values and fetch pointed-at values (concurrently, each object once).

    A pointer whose object is gone was replaced since the item was read: a concurrent writer removed
    the object it displaced, or the read was eventually consistent. Such objects are filled again from
    a consistent read of their item and fetched again (a few rounds). Models whose stream carries images
    are not refilled: their images must keep the state they describe, and their displaced objects are
    kept for the retention window anyway.
    """
    pending = _collect(objs)
    if not pending:
        return
    if engine.s3 is None:
        raise S3NotConfigured("loaded items point at S3 objects, but the engine has no S3 client; create it "
                              "with Engine(..., s3=<boto3 S3 client>)")
    unresolved: list = []
    for attempt in range(RELOAD_ATTEMPTS + 1):
        missing, errors = _fetch(engine, pending)
        if errors and strict:
            raise errors[0]
        if not strict:
            return
        retry = [entry for entry in missing if not _retains(type(entry[0]))]
        unresolved.extend(entry for entry in missing if _retains(type(entry[0])))
        if not retry:
            break
        if attempt == RELOAD_ATTEMPTS:
            unresolved.extend(retry)
            break
        stale = list({id(obj): obj for obj, _, _ in retry}.values())
        pending, gone = _refill(engine, stale, retry)
        unresolved.extend(gone)
        if not pending:
            break
    if not unresolved:
        return
    missing = unresolved
    names = ", ".join(f"{type(obj).__name__}.{name} -> {pointer.url}" for obj, name, pointer in missing[:5])
    raise S3ObjectMissing(
        f"{len(missing)} value(s) point at S3 objects that do not exist ({names}); the item was deleted or "
        "changed while it was read, or the object was removed outside bloop", objects=missing)


def _collect(objs: list[Any]) -> list[tuple[Any, Any, S3Pointer]]:
    pending = []
    for obj in objs:
        columns = s3_columns(type(obj))
        if not columns:
            continue
        values = obj.__dict__
        for column in columns:
            value = values.get(column.name, MISSING)
            if isinstance(value, (_WiredBytes, _WiredStr)) and value.s3_loaded:
                values[column.name] = _plain(value)
                values.setdefault(_SEEN, {})[column.name] = value.s3_wire
            elif isinstance(value, S3Pointer):
                pending.append((obj, column, value))
    return pending


def _fetch(engine: Any, pending: list) -> tuple[list, list]:
    """Fill what can be fetched; returns ((obj, column name, pointer) of missing objects, errors)."""
    wanted = list({(p.bucket, p.key): p for _, _, p in pending}.values())
    outcomes = engine._run_all(lambda pointer: _get_object(engine.s3, pointer), wanted)
    bodies = {(p.bucket, p.key): outcome for p, outcome in zip(wanted, outcomes)}
    missing, errors = [], []
    for obj, column, pointer in pending:
        body, error = bodies[(pointer.bucket, pointer.key)]
        if error is not None:
            errors.append(error)
        elif body is None:
            missing.append((obj, column.name, pointer))
        else:
            obj.__dict__[column.name] = column.typedef.decode(body)
            obj.__dict__.setdefault(_SEEN, {})[column.name] = pointer.wire
    return missing, errors


def _refill(engine: Any, objs: list[Any], missing: list) -> tuple[list, list]:
    """Fill ``objs`` again from consistent reads; returns (what to fetch now, missing that can't be helped)."""
    identities, keys = [], []
    for obj in objs:
        table_name = engine._binding(type(obj)).table_name
        key = dump_key(obj, {"engine": engine})
        identities.append((table_name, key_identity(key)))
        keys.append((table_name, key))
    found = engine.session.get_items(keys, consistent=True)
    gone = []
    refilled = []
    for obj, identity in zip(objs, identities):
        item = found.get(identity)
        still = [(o, name, p) for o, name, p in missing if o is obj and item is not None and
                 S3Pointer.from_wire(item.get(type(obj).Meta.columns_by_name[name].dynamo_name), strict=False) == p]
        if item is None:
            gone.extend((o, name, p) for o, name, p in missing if o is obj)
        elif still:
            gone.extend(still)  # the item still points at a missing object: nothing to retry
        else:
            unpack_from_dynamodb(attrs=item, expected=type(obj).Meta.columns, obj=obj,
                                 context={"engine": engine})
            refilled.append(obj)
    return _collect(refilled), gone


# -------------------------------------------------------------------------------------------- signals
def _on_model_created(sender: Any, model: Any = None, **kwargs: Any) -> None:
    if model is not None:
        validate_model(model)


def _on_model_bound(sender: Any, engine: Any = None, model: Any = None, **kwargs: Any) -> None:
    if model is None or not s3_columns(model):
        return
    validate_model(model)
    if getattr(engine, "s3", None) is None:
        raise S3NotConfigured(f"{model.__name__} has S3-backed columns; create the engine with "
                              "Engine(..., s3=<boto3 S3 client>)")


def _on_written(sender: Any, engine: Any = None, obj: Any = None, **kwargs: Any) -> None:
    """Objects refilled by ``sync`` get their S3 values too (best effort: a missing object keeps its pointer)."""
    if engine is not None and obj is not None and s3_columns(type(obj)):
        _finish_loaded(engine, [obj], strict=False)


signals.model_created.connect(_on_model_created)
signals.model_bound.connect(_on_model_bound)
signals.object_saved.connect(_on_written)
signals.object_deleted.connect(_on_written)


# -------------------------------------------------------------------------------------------- collector
@dataclass
class GarbageReport:
    """What :func:`collect_garbage` saw and did; objects are (bucket, key) pairs."""

    listed: int = 0  # objects under the columns' prefixes
    old_enough: int = 0  # of those, older than min_age
    referenced: int = 0  # of those, still referenced by their item
    deleted: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # no bloop metadata: not written by this module
    failed: list = field(default_factory=list)  # (bucket, key, reason)


def collect_garbage(engine: Any, *models: Any, min_age: datetime.timedelta | float = DEFAULT_RETENTION,
                    now: datetime.datetime | None = None) -> GarbageReport:
    """Delete the objects of ``models``' S3 columns that no item references and that are older than ``min_age``.

    Lists ``{prefix}{table}/`` in each column's bucket; for every object older than ``min_age`` (its
    LastModified; a displaced object kept for stream readers was touched when it was displaced) reads
    the item key and attribute from the object's metadata, reads those items with consistent
    BatchGetItem calls (100 keys each), and deletes (DeleteObjects, 1000 keys each) the objects whose
    item does not point at them. ``min_age`` must be longer than any write takes from its upload to its
    item write (an in-flight upload is not referenced yet); the default, 25 hours, also outlasts stream
    retention. Needs s3:ListBucket, s3:GetObject (HEAD) and s3:DeleteObject.
    """
    if engine.s3 is None:
        raise S3NotConfigured("collect_garbage needs an engine with an S3 client (Engine(..., s3=...))")
    if not models:
        raise ValueError("collect_garbage needs the models whose S3 columns to collect")
    if not isinstance(min_age, datetime.timedelta):
        min_age = datetime.timedelta(seconds=min_age)
    if min_age < datetime.timedelta(0):
        raise ValueError(f"min_age must not be negative, got {min_age}")
    cutoff = (now or datetime.datetime.now(UTC)) - min_age
    scopes: dict[tuple[str, str], str] = {}
    for model in models:
        table_name = engine._binding(model).table_name
        for column in s3_columns(model):
            scopes[(column.typedef.bucket, f"{column.typedef.prefix}{table_name}/")] = table_name
    report = GarbageReport()
    s3 = engine.s3
    candidates: list[tuple[str, str, str]] = []
    for (bucket, prefix), table_name in scopes.items():
        for listed in _list_objects(s3, bucket, prefix):
            report.listed += 1
            if listed["LastModified"] <= cutoff:
                candidates.append((bucket, listed["Key"], table_name))
    report.old_enough = len(candidates)
    heads = engine._run_all(lambda c: _head_metadata(s3, c[0], c[1]), candidates)
    owners: list[tuple[str, str, str, dict, str]] = []  # bucket, key, table, item key, attribute
    for (bucket, key, table_name), (metadata, error) in zip(candidates, heads):
        if error is not None:
            report.failed.append((bucket, key, f"HeadObject: {error}"))
            continue
        if metadata is None:
            continue  # deleted meanwhile
        try:
            item_key = _key_from_metadata(metadata[META_ITEM])
            attribute = metadata[META_ATTRIBUTE]
        except (KeyError, ValueError, TypeError):
            report.skipped.append((bucket, key))
            continue
        owners.append((bucket, key, table_name, item_key, attribute))
    items = _read_items(engine, owners)
    garbage = []
    for bucket, key, table_name, item_key, attribute in owners:
        item = items.get((table_name, key_identity(item_key)))
        pointer = S3Pointer.from_wire(item.get(attribute), strict=False) if item is not None else None
        if pointer is not None and (pointer.bucket, pointer.key) == (bucket, key):
            report.referenced += 1
        else:
            garbage.append((bucket, key))
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in garbage:
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        failed = dict(_delete_objects(s3, bucket, keys))
        for key in keys:
            if key in failed:
                report.failed.append((bucket, key, f"DeleteObjects: {failed[key]}"))
            else:
                report.deleted.append((bucket, key))
    return report


def _list_objects(s3: Any, bucket: str, prefix: str) -> Iterable[dict]:
    request = {"Bucket": bucket, "Prefix": prefix}
    while True:
        try:
            response = s3.list_objects_v2(**request)
        except ClientError as error:
            raise _translate(error, "ListObjectsV2", bucket) from error
        yield from response.get("Contents") or ()
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            return
        request["ContinuationToken"] = token


def _head_metadata(s3: Any, bucket: str, key: str) -> dict | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key).get("Metadata") or {}
    except ClientError as error:
        if _is_not_found(error):
            return None
        raise _translate(error, "HeadObject", bucket, key) from error


def _read_items(engine: Any, owners: list) -> dict[tuple, dict]:
    """Consistent reads of the items named by ``owners``, projected on their keys and the attributes."""
    attributes: dict[str, set] = {}
    for _, _, table_name, item_key, attribute in owners:
        attributes.setdefault(table_name, set()).update([attribute, *item_key])
    options = {}
    for table_name, names in attributes.items():
        refs = {f"#a{i}": name for i, name in enumerate(sorted(names))}
        options[table_name] = {"ProjectionExpression": ", ".join(refs), "ExpressionAttributeNames": refs}
    return engine.session.get_items(((table_name, item_key) for _, _, table_name, item_key, _ in owners),
                                    consistent=True, options=options)
