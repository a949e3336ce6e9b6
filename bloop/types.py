"""Types translate python values to DynamoDB wire values and back. Pure: no I/O.

A custom type subclasses :class:`Type` (or a built-in type), sets ``backing_type`` and implements
``dynamo_dump`` / ``dynamo_load``; both must accept None (a missing or removed attribute).
"""
from __future__ import annotations

import base64
import collections.abc
import datetime
import decimal
import numbers
import uuid
from typing import Any, Callable, ClassVar, Generic, TypeVar

from .actions import Action, ActionType, wrap
from .exceptions import InvalidModel, UnknownType

__all__ = [
    "Binary", "Boolean", "DateTime", "DynamicList", "DynamicMap", "DynamicType", "Integer", "List", "Map",
    "Number", "Set", "String", "Timestamp", "Type", "UUID", "FIXED_ISO8601_FORMAT", "DYNAMODB_CONTEXT",
]

T = TypeVar("T")

FIXED_ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = datetime.timedelta(seconds=1)

# DynamoDB numbers: 38 digits of precision; anything that would round is refused instead of silently
# changing the value (0.1 as a float is not 0.1).
DYNAMODB_CONTEXT = decimal.Context(
    Emin=-128, Emax=126, prec=38,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)

_MAX_EXACT_INT = 10 ** 38
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
# Which condition operations DynamoDB accepts per backing type.
SUPPORTED_OPERATIONS: dict[str, frozenset] = {
    "S": COMPARISONS | {"begins_with", "between", "contains", "in"},
    "N": COMPARISONS | {"between", "in"},
    "B": COMPARISONS | {"begins_with", "between", "contains", "in"},
    "BOOL": frozenset({"==", "!=", "in"}),
    "SS": frozenset({"==", "!=", "contains"}),
    "NS": frozenset({"==", "!=", "contains"}),
    "BS": frozenset({"==", "!=", "contains"}),
    "L": frozenset({"==", "!=", "contains"}),
    "M": frozenset({"==", "!=", "contains"}),
}


def canonical_number(number: decimal.Decimal) -> str:
    """The text DynamoDB answers with for this number ("1.50" -> "1.5", "1E+2" -> "100").

    Sending the canonical text means a key or value read back compares equal to what was written.
    """
    if not number:
        return "0"
    normal = number.normalize(DYNAMODB_CONTEXT)
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and -40 <= exponent <= 40:
        return format(normal, "f")
    return str(normal)


class Type(Generic[T]):
    """Base of all types. ``python_type`` documents the python side; ``backing_type`` is the wire tag."""

    python_type: ClassVar[Any] = None
    backing_type: ClassVar[str | None] = None

    def supports_operation(self, operation: str) -> bool:
        return operation in SUPPORTED_OPERATIONS.get(self.backing_type or "", ())

    def __getitem__(self, key: Any) -> Type:
        raise InvalidModel(f"{self!r} has no nested paths; only Map, List, DynamicMap and DynamicList do")

    def dynamo_dump(self, value: Any, *, context: Any, **kwargs: Any) -> Any:
        """python value -> wire value without the type tag (None means "not stored")."""
        raise NotImplementedError

    def dynamo_load(self, value: Any, *, context: Any, **kwargs: Any) -> Any:
        """wire value without the type tag (or None when absent) -> python value."""
        raise NotImplementedError

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        """python value or action -> action holding ``{tag: wire}`` (REMOVE when nothing is stored)."""
        action = wrap(value)
        if action.type is ActionType.Remove:
            return action
        dumped = self.dynamo_dump(action.value, **kwargs)
        if dumped is None:
            if action.type is ActionType.Set:
                return Action(ActionType.Remove, None)
            raise ValueError(f"{action.type.wire_key} needs a non-empty value, got {action.value!r}")
        return Action(action.type, {self.backing_type: dumped})

    def _load(self, value: Any, **kwargs: Any) -> Any:
        if value is not None:
            value = value[self.backing_type]
        return self.dynamo_load(value, **kwargs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class String(Type[str]):
    python_type = str
    backing_type = "S"

    def dynamo_dump(self, value, *, context=None, **kwargs):
        return value if value else None

    def dynamo_load(self, value, *, context=None, **kwargs):
        return value if value is not None else ""


class UUID(String):
    python_type = uuid.UUID

    def dynamo_dump(self, value, *, context=None, **kwargs):
        return str(value) if value is not None else None

    def dynamo_load(self, value, *, context=None, **kwargs):
        return uuid.UUID(value) if value else None


class DateTime(String):
    """Aware datetimes, stored as fixed-width UTC ISO 8601 so that string order is time order."""

    python_type = datetime.datetime

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"DateTime needs an aware datetime, got naive {value!r}; "
                "use datetime.now(timezone.utc) or value.replace(tzinfo=...)")
        # same text as FIXED_ISO8601_FORMAT, but isoformat is faster and zero-pads years below 1000
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"

    def dynamo_load(self, value, *, context=None, **kwargs):
        if not value:
            return None
        return datetime.datetime.fromisoformat(value)


class Number(Type[decimal.Decimal]):
    """Decimal numbers within DynamoDB's 38 digits; inexact values (most floats) raise instead of rounding."""

    python_type = decimal.Decimal
    backing_type = "N"

    def __init__(self, context: decimal.Context | None = None) -> None:
        self.context = context or DYNAMODB_CONTEXT

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if type(value) is int and -_MAX_EXACT_INT < value < _MAX_EXACT_INT:
            return str(value)  # every int of up to 38 digits is exact: skip the decimal context
        if isinstance(value, bool) or not isinstance(value, (numbers.Number, str)):
            raise TypeError(f"Number expects a number, got {type(value).__name__} {value!r}")
        number = self.context.create_decimal(value)
        if number.is_nan() or number.is_infinite():
            raise TypeError(f"DynamoDB can't store {value!r}: infinity and NaN are not numbers it accepts")
        return canonical_number(number)

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        return decimal.Decimal(value)


class Integer(Number):
    python_type = int

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        return super().dynamo_dump(int(value), context=context, **kwargs)

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return int(decimal.Decimal(value))


class Timestamp(Integer):
    """Aware datetimes as epoch seconds (type N): the form DynamoDB's TTL needs."""

    python_type = datetime.datetime

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"Timestamp needs an aware datetime, got naive {value!r}")
        # whole seconds, exactly: float timestamps round far-future microseconds up to the next second
        return str((value - EPOCH) // ONE_SECOND)

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        return datetime.datetime.fromtimestamp(int(value), tz=UTC)


class Binary(Type[bytes]):
    """Bytes, stored as DynamoDB binary (the raw bytes, not base64 text)."""

    python_type = bytes
    backing_type = "B"

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if not value:
            return None
        if isinstance(value, str):
            raise TypeError("Binary expects bytes, got str; encode it first (value.encode())")
        return bytes(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return b""
        if isinstance(value, str):  # a wire value decoded from JSON by a non-boto3 client
            return base64.b64decode(value)
        return bytes(value)


class Boolean(Type[bool]):
    python_type = bool
    backing_type = "BOOL"

    def dynamo_dump(self, value, *, context=None, **kwargs):
        return None if value is None else bool(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return None if value is None else bool(value)


def _instance(typedef: Any, owner: str) -> Type:
    if isinstance(typedef, type) and issubclass(typedef, Type):
        typedef = typedef()
    if not isinstance(typedef, Type):
        raise TypeError(f"{owner} expected a bloop Type (class or instance), got {typedef!r}")
    return typedef


def _reject_nested_action(value: Any) -> Any:
    if isinstance(value, Action):
        if not value.type.nestable:
            raise ValueError(f"{value.type.wire_key} can't be used inside a List, Map or Set value")
        return value.value
    return value


class Set(Type[set]):
    """A set of String, Number or Binary values (backing SS, NS or BS)."""

    python_type = set

    def __init__(self, typedef: Any) -> None:
        self.inner_typedef = _instance(typedef, "Set")
        if self.inner_typedef.backing_type not in ("S", "N", "B"):
            raise InvalidModel(f"Set's inner type must be backed by S, N or B, not {self.inner_typedef!r}")
        self.backing_type = self.inner_typedef.backing_type + "S"  # type: ignore[misc]

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if not value:
            return None
        dump = self.inner_typedef.dynamo_dump
        dumped = [dump(_reject_nested_action(item), context=context, **kwargs) for item in value]
        dumped = [item for item in dumped if item is not None]
        return dumped or None

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return set()
        load = self.inner_typedef.dynamo_load
        return {load(item, context=context, **kwargs) for item in value}

    def __repr__(self) -> str:
        return f"Set({self.inner_typedef!r})"


class List(Type[list]):
    """A list whose elements share one type."""

    python_type = list
    backing_type = "L"

    def __init__(self, typedef: Any) -> None:
        self.inner_typedef = _instance(typedef, "List")

    def __getitem__(self, key: Any) -> Type:
        if not isinstance(key, int):
            raise InvalidModel(f"List paths take an integer index, not {key!r}")
        return self.inner_typedef

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if not value:
            return None
        dump = self.inner_typedef._dump
        out = []
        for item in value:
            action = dump(_reject_nested_action(item), context=context, **kwargs)
            if action.type is not ActionType.Remove:
                out.append(action.value)
        return out or None

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return []
        load = self.inner_typedef._load
        return [load(item, context=context, **kwargs) for item in value]

    def __repr__(self) -> str:
        return f"List({self.inner_typedef!r})"


class Map(Type[dict]):
    """A dict with declared keys, each with its own type; undeclared keys are ignored both ways."""

    python_type = dict
    backing_type = "M"

    def __init__(self, **types: Any) -> None:
        self.types = {key: _instance(typedef, f"Map[{key!r}]") for key, typedef in types.items()}

    def __getitem__(self, key: Any) -> Type:
        try:
            return self.types[key]
        except KeyError:
            raise InvalidModel(f"Map has no key {key!r}; declared keys are {sorted(self.types)}") from None

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if not value:
            return None
        out = {}
        for key, typedef in self.types.items():
            item = value.get(key)
            if item is None:
                continue
            action = typedef._dump(_reject_nested_action(item), context=context, **kwargs)
            if action.type is not ActionType.Remove:
                out[key] = action.value
        return out or None

    def dynamo_load(self, value, *, context=None, **kwargs):
        value = value or {}
        return {key: typedef._load(value.get(key), context=context, **kwargs)
                for key, typedef in self.types.items()}

    def __repr__(self) -> str:
        return f"Map({', '.join(f'{k}={v!r}' for k, v in self.types.items())})"


class DynamicType(Type[Any]):
    """Any wire value; the python type of each value picks its DynamoDB type."""

    backing_type = None

    def supports_operation(self, operation: str) -> bool:
        return True

    def __getitem__(self, key: Any) -> Type:
        return DYNAMIC

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is ActionType.Remove:
            return action
        dumped = dump_dynamic(action.value)
        if dumped is None:
            return Action(ActionType.Remove, None)
        return Action(action.type, dumped)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        return None if value is None else load_dynamic(value)

    def dynamo_dump(self, value, *, context=None, **kwargs):
        return dump_dynamic(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return None if value is None else load_dynamic(value)


DYNAMIC = DynamicType()


def dump_dynamic(value: Any) -> dict | None:
    """Pick the wire type from the python type; empty strings, sets, lists and dicts are not stored."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value} if value else None
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)} if value else None
    if isinstance(value, numbers.Number):
        return {"N": Number().dynamo_dump(value)}
    if isinstance(value, collections.abc.Mapping):
        out = {}
        for key, item in value.items():
            dumped = dump_dynamic(_reject_nested_action(item))
            if dumped is not None:
                out[key] = dumped
        return {"M": out} if out else None
    if isinstance(value, collections.abc.Set):
        if not value:
            return None
        first = next(iter(value))
        if isinstance(first, str):
            return {"SS": [str(v) for v in value]}
        if isinstance(first, (bytes, bytearray)):
            return {"BS": [bytes(v) for v in value]}
        if isinstance(first, numbers.Number) and not isinstance(first, bool):
            return {"NS": [Number().dynamo_dump(v) for v in value]}
        raise TypeError(f"Dynamic sets hold str, bytes or numbers, not {type(first).__name__}")
    if isinstance(value, (list, tuple)):
        out_list = [d for d in (dump_dynamic(_reject_nested_action(v)) for v in value) if d is not None]
        return {"L": out_list} if out_list else None
    if isinstance(value, (datetime.datetime, uuid.UUID)):
        return {"S": str(value)}
    raise TypeError(f"can't pick a DynamoDB type for {type(value).__name__} {value!r}")


def load_dynamic(value: dict) -> Any:
    ((tag, wire),) = value.items()
    if tag == "S" or tag == "BOOL":
        return wire
    if tag == "N":
        return decimal.Decimal(wire)
    if tag == "B":
        return bytes(wire) if not isinstance(wire, str) else base64.b64decode(wire)
    if tag == "M":
        return {k: load_dynamic(v) for k, v in wire.items()}
    if tag == "L":
        return [load_dynamic(v) for v in wire]
    if tag == "SS":
        return set(wire)
    if tag == "NS":
        return {decimal.Decimal(v) for v in wire}
    if tag == "BS":
        return {bytes(v) for v in wire}
    if tag == "NULL":
        return None
    raise UnknownType(f"unknown DynamoDB type tag {tag!r} in {value!r}")


class DynamicList(DynamicType):
    python_type = list
    backing_type = "L"

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is not ActionType.Remove and not isinstance(action.value, (list, tuple)):
            raise TypeError(f"DynamicList expects a list, got {type(action.value).__name__}")
        return super()._dump(value, **kwargs)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        return [] if value is None else load_dynamic(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return [] if value is None else [load_dynamic(v) for v in value]


class DynamicMap(DynamicType):
    python_type = dict
    backing_type = "M"

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is not ActionType.Remove and not isinstance(action.value, collections.abc.Mapping):
            raise TypeError(f"DynamicMap expects a dict, got {type(action.value).__name__}")
        return super()._dump(value, **kwargs)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        return {} if value is None else load_dynamic(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return {} if value is None else {k: load_dynamic(v) for k, v in value.items()}


Loader = Callable[[Any, Any], Any]


def compile_loader(typedef: Type) -> Loader:
    """A ``loader(wire_value_or_None, context)`` for unpacking hot paths.

    Built-in types whose loading isn't overridden get a specialised function (no keyword arguments, no
    ``_load`` -> ``dynamo_load`` double call); anything else goes through ``_load`` so custom types keep
    bloop's contract.
    """
    cls = type(typedef)
    if cls._load is Type._load:
        load = cls.dynamo_load
        fast = _FAST_LOADERS.get(load)
        if fast is not None:
            return fast
        if load is List.dynamo_load:
            return _list_loader(compile_loader(typedef.inner_typedef))  # type: ignore[attr-defined]
        if load is Map.dynamo_load:
            return _map_loader({k: compile_loader(t) for k, t in typedef.types.items()})  # type: ignore[attr-defined]
        if load is Set.dynamo_load:
            return _set_loader(typedef)  # type: ignore[arg-type]
    slow = typedef._load
    return lambda value, context: slow(value, context=context)


Dumper = Callable[[Any, Any], Any]


def compile_dumper(typedef: Type) -> Dumper:
    """A ``dumper(python_value, context) -> {tag: wire} | None`` for values that are not Actions.

    None means "nothing to store" (a REMOVE at the top level). Built-in types whose dumping isn't
    overridden get a specialised function; anything else goes through ``_dump``.
    """
    cls = type(typedef)
    if cls._dump is Type._dump:
        dump = cls.dynamo_dump
        if dump is String.dynamo_dump:
            return lambda value, context: {"S": value} if value else None
        if dump is Integer.dynamo_dump or dump is Number.dynamo_dump:
            bound_number = typedef.dynamo_dump

            def number(value: Any, context: Any) -> Any:
                if type(value) is int and -_MAX_EXACT_INT < value < _MAX_EXACT_INT:
                    return {"N": str(value)}
                wire = bound_number(value, context=context)
                return None if wire is None else {"N": wire}
            return number
        if dump is Boolean.dynamo_dump:
            return lambda value, context: None if value is None else {"BOOL": bool(value)}
        if dump is List.dynamo_dump:
            return _list_dumper(compile_dumper(typedef.inner_typedef))  # type: ignore[attr-defined]
        if dump is Map.dynamo_dump:
            return _map_dumper({k: compile_dumper(t) for k, t in typedef.types.items()})  # type: ignore[attr-defined]
        if dump is Set.dynamo_dump and type(typedef.inner_typedef).dynamo_dump is String.dynamo_dump:  # type: ignore
            def string_set(value: Any, context: Any) -> Any:
                if not value:
                    return None
                if any(isinstance(item, Action) for item in value):
                    wire = typedef.dynamo_dump(value, context=context)  # raises for nested ADD/DELETE
                    return None if wire is None else {"SS": wire}
                strings = [item for item in value if item]
                return {"SS": strings} if strings else None
            return string_set
        tag, bound = typedef.backing_type, typedef.dynamo_dump

        def tagged(value: Any, context: Any) -> Any:
            wire = bound(value, context=context)
            return None if wire is None else {tag: wire}
        return tagged
    slow = typedef._dump

    def through_actions(value: Any, context: Any) -> Any:
        action = slow(value, context=context)
        return action.value if action.type is ActionType.Set else None
    return through_actions


def _list_dumper(inner: Dumper) -> Dumper:
    def dump(value: Any, context: Any) -> Any:
        if not value:
            return None
        out = []
        for item in value:
            if isinstance(item, Action):
                item = _reject_nested_action(item)
            if item is not None:
                wire = inner(item, context)
                if wire is not None:
                    out.append(wire)
        return {"L": out} if out else None
    return dump


def _map_dumper(inners: dict[str, Dumper]) -> Dumper:
    rows = list(inners.items())

    def dump(value: Any, context: Any) -> Any:
        if not value:
            return None
        out = {}
        get = value.get
        for key, inner in rows:
            item = get(key)
            if isinstance(item, Action):
                item = _reject_nested_action(item)
            if item is not None:
                wire = inner(item, context)
                if wire is not None:
                    out[key] = wire
        return {"M": out} if out else None
    return dump


def _list_loader(inner: Loader) -> Loader:
    def load(value: Any, context: Any) -> Any:
        return [] if value is None else [inner(item, context) for item in value["L"]]
    return load


def _map_loader(inners: dict[str, Loader]) -> Loader:
    rows = list(inners.items())

    def load(value: Any, context: Any) -> Any:
        get = {}.get if value is None else value["M"].get
        return {key: inner(get(key), context) for key, inner in rows}
    return load


def _set_loader(typedef: Set) -> Loader:
    tag = typedef.backing_type
    inner = typedef.inner_typedef
    inner_load = type(inner).dynamo_load
    if inner_load is String.dynamo_load:
        return lambda value, context: set() if value is None else set(value[tag])
    if inner_load is Number.dynamo_load:
        return lambda value, context: set() if value is None else set(map(decimal.Decimal, value[tag]))
    slow = inner.dynamo_load
    return lambda value, context: set() if value is None else {slow(item, context=context) for item in value[tag]}


def _load_string(value: Any, context: Any) -> Any:
    return "" if value is None else value["S"]


def _load_number(value: Any, context: Any) -> Any:
    return None if value is None else decimal.Decimal(value["N"])


def _load_integer(value: Any, context: Any) -> Any:
    if value is None:
        return None
    wire = value["N"]
    try:
        return int(wire)
    except ValueError:
        return int(decimal.Decimal(wire))


def _load_boolean(value: Any, context: Any) -> Any:
    return None if value is None else bool(value["BOOL"])


def _load_binary(value: Any, context: Any) -> Any:
    if value is None:
        return b""
    wire = value["B"]
    return base64.b64decode(wire) if isinstance(wire, str) else bytes(wire)


def _load_datetime(value: Any, context: Any) -> Any:
    return datetime.datetime.fromisoformat(value["S"]) if value else None


def _load_timestamp(value: Any, context: Any) -> Any:
    return None if value is None else datetime.datetime.fromtimestamp(int(value["N"]), tz=UTC)


def _load_uuid(value: Any, context: Any) -> Any:
    return uuid.UUID(value["S"]) if value else None


_FAST_LOADERS: dict[Any, Loader] = {
    String.dynamo_load: _load_string,
    Number.dynamo_load: _load_number,
    Integer.dynamo_load: _load_integer,
    Boolean.dynamo_load: _load_boolean,
    Binary.dynamo_load: _load_binary,
    DateTime.dynamo_load: _load_datetime,
    Timestamp.dynamo_load: _load_timestamp,
    UUID.dynamo_load: _load_uuid,
}
