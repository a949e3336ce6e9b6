"""The column type: :class:`S3Blob`, the pointer it stores, and the checks on models that use it.

Pure: nothing here calls S3 or DynamoDB.
"""
from __future__ import annotations

import datetime
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...actions import Action, ActionType, wrap
from ...exceptions import UnknownType
from ...limits import MAX_ITEM_SIZE
from ...types import Binary, List, Map, Set, String, Type
from ...util import Sentinel
from .errors import InvalidS3Column, InvalidS3Value

if TYPE_CHECKING:
    from .hook import S3Columns

__all__ = ["S3Blob", "S3Pointer", "s3_columns", "validate_model", "retains_displaced",
           "DEFAULT_INLINE_THRESHOLD", "DEFAULT_RETENTION"]

#: values whose encoded size is at most this many bytes stay in the item
DEFAULT_INLINE_THRESHOLD = 4 * 1024
#: how long displaced objects of a model with stream images are kept (a stream keeps records 24 hours)
DEFAULT_RETENTION = datetime.timedelta(hours=25)

MISSING = Sentinel("no value")


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


class WiredBytes(bytes):
    """Bytes that know their wire form: ``s3_loaded`` ones came from an item, the others are being written."""

    s3_wire: Any
    s3_loaded: bool


class WiredStr(str):
    s3_wire: Any
    s3_loaded: bool


def wired(value: Any, wire: Any, loaded: bool) -> Any:
    marked_value = WiredStr(value) if isinstance(value, str) else WiredBytes(value)
    marked_value.s3_wire = wire
    marked_value.s3_loaded = loaded
    return marked_value


def plain(value: Any) -> Any:
    if isinstance(value, WiredStr):
        return str.__str__(value)
    if isinstance(value, WiredBytes):
        return bytes(value)
    return value


class WireValue:
    """A wire value passed through ``S3Blob._dump`` as it is (the hook's conditions compare wire values)."""

    __slots__ = ("wire",)

    def __init__(self, wire: dict) -> None:
        self.wire = wire

    def __repr__(self) -> str:
        pointer = S3Pointer.from_wire(self.wire)
        return f"<{pointer.url}>" if pointer else "<inline value>"


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

    @property
    def extension(self) -> type[S3Columns]:
        """The extension an engine needs to store this column (``bind`` refuses a model without it)."""
        from .hook import S3Columns  # the hook module imports this one

        return S3Columns

    def supports_operation(self, operation: str) -> bool:
        return operation in ("==", "!=")

    # python value <-> bytes stored in S3
    def encode(self, value: Any, where: str = "S3Blob") -> bytes:
        if self.text:
            if not isinstance(value, str):
                raise InvalidS3Value(f"{where} holds text (S3Blob(String)), got {type(value).__name__} "
                                     f"{short(value)}")
            return value.encode("utf-8")
        if isinstance(value, str) or not isinstance(value, (bytes, bytearray, memoryview)):
            hint = "; encode it first (value.encode())" if isinstance(value, str) else ""
            raise InvalidS3Value(f"{where} holds bytes (S3Blob(Binary)), got {type(value).__name__} "
                                 f"{short(value)}{hint}")
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
        if isinstance(value, WireValue):
            return Action(ActionType.Set, value.wire)
        if isinstance(value, (WiredBytes, WiredStr)):
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
            return wired("" if self.text else b"", None, True)
        pointer = S3Pointer.from_wire(value)
        if pointer is not None:
            return pointer
        if self.backing_type not in value:
            raise UnknownType(f"an S3Blob({type(self.inner).__name__}) attribute holds {value!r}")
        return wired(self.inner.dynamo_load(value[self.backing_type], context=None), value, True)


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_COLUMNS: weakref.WeakKeyDictionary[type, tuple[set, list]] = weakref.WeakKeyDictionary()


def s3_columns(model: Any) -> list:
    """The model's columns whose type is an :class:`S3Blob`, by name.

    Cached here (not on the model) with the column set it was computed from: ``setup_model`` builds a
    new set whenever columns change.
    """
    meta = model.Meta
    cached = _COLUMNS.get(model)
    if cached is None or cached[0] is not meta.columns:
        found = sorted((c for c in meta.columns if isinstance(c.typedef, S3Blob)), key=lambda c: c.name)
        cached = _COLUMNS[model] = (meta.columns, found)
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

    Runs when a model is bound to an engine with :class:`~bloop.ext.s3.S3Columns`, which also covers
    columns and indexes added after the class was created (``bind_column`` / ``bind_index``).
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


def retains_displaced(model: Any) -> bool:
    """Whether readers of the model's stream may need displaced objects (the stream carries images)."""
    stream = model.Meta.stream
    return bool(stream and {"new", "old"} & set(stream.get("include") or ()))
