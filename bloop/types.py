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
import reprlib
import uuid
from typing import Any, ClassVar, Generic, TypeVar, overload

from .actions import Action, ActionType, wrap
from .exceptions import InvalidModel, UnknownType

__all__ = [
    "Binary", "Boolean", "DateTime", "DynamicList", "DynamicMap", "DynamicType", "Integer", "List", "Map",
    "Number", "Set", "String", "Timestamp", "Type", "UUID", "FIXED_ISO8601_FORMAT", "DYNAMODB_CONTEXT",
]

T = TypeVar("T")
E = TypeVar("E")  # the python type of a Set's or List's elements

FIXED_ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
ONE_SECOND = datetime.timedelta(seconds=1)

# DynamoDB numbers: 38 significant digits, magnitudes 1E-130 .. 9.99...9E+125 (Emin/Emax bound the
# adjusted exponent). A value that would change is refused (0.1 as a float is not 0.1; 1E-131 would
# become 0); Rounded alone is not trapped, because dropping trailing zeros (a loaded 126-digit
# 999...000) keeps the value.
DYNAMODB_CONTEXT = decimal.Context(
    Emin=-130, Emax=125, prec=38,
    traps=[decimal.Overflow, decimal.Inexact, decimal.Underflow, decimal.Subnormal, decimal.InvalidOperation],
)
# DynamoDB's nested attribute depth: lists and maps inside one attribute, at most 32 levels.
MAX_DEPTH = 32

_MAX_EXACT_INT = 10 ** 38
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
# Which condition operations DynamoDB accepts per backing type.
SUPPORTED_OPERATIONS: dict[str, frozenset] = {
    "S": COMPARISONS | {"begins_with", "between", "contains", "in"},
    "N": COMPARISONS | {"between", "in"},
    "B": COMPARISONS | {"begins_with", "between", "contains", "in"},
    "BOOL": frozenset({"==", "!=", "in"}),
    "SS": frozenset({"==", "!=", "contains", "in"}),
    "NS": frozenset({"==", "!=", "contains", "in"}),
    "BS": frozenset({"==", "!=", "contains", "in"}),
    "L": frozenset({"==", "!=", "contains", "in"}),
    "M": frozenset({"==", "!=", "contains", "in"}),
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


def check_text(value: Any, what: str = "String") -> str:
    """``value`` if it is a str DynamoDB can store (valid UTF-8), else a TypeError/ValueError saying why."""
    if type(value) is not str and not isinstance(value, str):
        raise TypeError(f"{what} expects a str, got {type(value).__name__} {short_repr(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"{what} can't store {short_repr(value)}: {error.reason} at index {error.start} "
                             "(a lone surrogate is not valid Unicode; fix the text's decoding)") from None
    return value


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


def short_repr(value: Any) -> str:
    """repr cut to a readable size (and depth), for error messages about values of any size."""
    return _REPR.repr(value)


def nesting_depth(typedef: Any) -> int:
    """How many levels of typed lists and maps ``typedef`` declares (counting stops past MAX_DEPTH)."""
    deepest = 0
    stack = [(typedef, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, (List, Map)):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            inner = [current.inner_typedef] if isinstance(current, List) else list(current.types.values())
            stack.extend((t, depth) for t in inner)
    return deepest


def _too_deep(what: str) -> ValueError:
    return ValueError(f"{what} nests lists and maps more than {MAX_DEPTH} levels deep, DynamoDB's limit")


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
        if value is None:
            return None
        return check_text(value) or None

    def dynamo_load(self, value, *, context=None, **kwargs):
        return value if value is not None else ""


class UUID(String):
    python_type = uuid.UUID  # type: ignore[assignment]

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"UUID expects a uuid.UUID, got {type(value).__name__} {short_repr(value)}; "
                            "convert text with uuid.UUID(text)")
        return str(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return uuid.UUID(value) if value else None


class DateTime(String):
    """Aware datetimes, stored as fixed-width UTC ISO 8601 so that string order is time order."""

    python_type = datetime.datetime  # type: ignore[assignment]

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if not isinstance(value, datetime.datetime):
            raise TypeError(f"DateTime expects a datetime.datetime, got {type(value).__name__} {short_repr(value)}")
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
            raise TypeError(f"Number expects a number, got {type(value).__name__} {short_repr(value)}")
        if isinstance(value, (decimal.Decimal, float)) and (value != value or value in (_INF, -_INF)):
            raise TypeError(f"DynamoDB can't store {value!r}: infinity and NaN are not numbers it accepts")
        try:
            number = self.context.create_decimal(value)
        except decimal.DecimalException as error:
            raise _number_error(value, error) from None
        if number.is_nan() or number.is_infinite():
            raise TypeError(f"DynamoDB can't store {value!r}: infinity and NaN are not numbers it accepts")
        return canonical_number(number)

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        return decimal.Decimal(value)


def _number_error(value: Any, error: decimal.DecimalException) -> decimal.DecimalException:
    """The decimal signal bloop 3.x raised (``decimal.Inexact`` for 0.1), with a message saying what to do."""
    try:
        exact = decimal.Decimal(value)
    except decimal.DecimalException:
        return decimal.InvalidOperation(f"{short_repr(value)} is not a number")
    if exact and exact.is_finite() and not -130 <= exact.adjusted() <= 125:
        kind = decimal.Overflow if exact.adjusted() > 125 else decimal.Underflow
        return kind(f"{short_repr(value)} is outside DynamoDB's number range (magnitude 1E-130 to "
                    "9.9999999999999999999999999999999999999E+125)")
    if isinstance(error, decimal.Inexact):
        return decimal.Inexact(
            f"{short_repr(value)} has more than 38 significant digits, or is a float that is not exactly the "
            "decimal it looks like; DynamoDB keeps 38 digits and bloop won't round. Pass the decimal.Decimal "
            "you mean (Decimal('0.1'), not 0.1)")
    return type(error)(f"DynamoDB can't store {short_repr(value)} exactly ({type(error).__name__})")


class Integer(Number):
    python_type = int  # type: ignore[assignment]

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if type(value) is not int:
            if isinstance(value, bool) or not isinstance(value, numbers.Number):
                raise TypeError(f"Integer expects an int, got {type(value).__name__} {short_repr(value)}")
            if isinstance(value, numbers.Rational) and value.denominator == 1:
                value = int(value)
            elif isinstance(value, (float, decimal.Decimal)) and value == value and value not in (_INF, -_INF) \
                    and value == int(value):
                value = int(value)
            else:
                raise ValueError(f"Integer can't store {short_repr(value)} without truncating it; "
                                 "round it yourself, or use a Number column")
        return super().dynamo_dump(value, context=context, **kwargs)

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            return int(decimal.Decimal(value))


class Timestamp(Integer):
    """Aware datetimes as epoch seconds (type N): the form DynamoDB's TTL needs."""

    python_type = datetime.datetime  # type: ignore[assignment]

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if not isinstance(value, datetime.datetime):
            raise TypeError(f"Timestamp expects a datetime.datetime, got {type(value).__name__} {short_repr(value)}")
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
        if value is None:
            return None
        if isinstance(value, str):
            raise TypeError("Binary expects bytes, got str; encode it first (value.encode())")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"Binary expects bytes, got {type(value).__name__} {short_repr(value)}")
        return bytes(value) or None

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
        if value is None:
            return None
        if not isinstance(value, bool):
            raise TypeError(f"Boolean expects True or False, got {type(value).__name__} {short_repr(value)}; "
                            "convert it with bool() if that is what you mean")
        return value

    def dynamo_load(self, value, *, context=None, **kwargs):
        return None if value is None else bool(value)


def _instance(typedef: Any, owner: str) -> Type:
    if isinstance(typedef, type) and issubclass(typedef, Type):
        typedef = typedef()
    if not isinstance(typedef, Type):
        raise TypeError(f"{owner} expected a bloop Type (class or instance), got {typedef!r}")
    return typedef


_INF = decimal.Decimal("Infinity")
_REMOVE_ACTION = Action(ActionType.Remove, None)


def check_index(key: Any) -> int:
    """A list index in a document path: a non-negative int (True is an int to python, not to DynamoDB)."""
    if type(key) is not int or key < 0:
        raise InvalidModel(f"list paths take a non-negative int index, not {key!r}")
    return key


def _list_hole(typedef: Any, index: int, item: Any) -> str:
    what = "None" if item is None else f"the empty value {item!r}"
    return (f"{typedef!r} holds {what} at index {index}; DynamoDB can't store it there and dropping it would "
            "shift every later index. Remove it from the list, or use a non-empty value")


def _check_map_keys(typedef: Any, value: Any) -> None:
    types = typedef.types
    for key in value:
        if key not in types:
            raise ValueError(f"{typedef!r} has no key {key!r}; declared keys are {sorted(types)}. "
                             "Declare it in the Map, or use DynamicMap for free-form keys")


def _reject_nested_action(value: Any) -> Any:
    if isinstance(value, Action):
        if not value.type.nestable:
            raise ValueError(f"{value.type.wire_key} can't be used inside a List, Map or Set value")
        return value.value
    return value


class Set(Type[set[E]], Generic[E]):
    """A set of String, Number or Binary values (backing SS, NS or BS)."""

    python_type = set

    # Like Column's overloads: the types that narrow their parent's python type come first.
    @overload
    def __init__(self: Set[datetime.datetime],
                 typedef: type[Timestamp] | Timestamp | type[DateTime] | DateTime) -> None: ...

    @overload
    def __init__(self: Set[int], typedef: type[Integer] | Integer) -> None: ...

    @overload
    def __init__(self: Set[uuid.UUID], typedef: type[UUID] | UUID) -> None: ...

    @overload
    def __init__(self: Set[E], typedef: type[Type[E]] | Type[E]) -> None: ...

    def __init__(self, typedef: Any) -> None:
        self.inner_typedef = _instance(typedef, "Set")
        if self.inner_typedef.backing_type not in ("S", "N", "B"):
            raise InvalidModel(f"Set's inner type must be backed by S, N or B, not {self.inner_typedef!r}")
        self.backing_type = self.inner_typedef.backing_type + "S"  # type: ignore[misc]

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if not isinstance(value, collections.abc.Set):
            raise TypeError(f"{self!r} expects a set, got {type(value).__name__} {short_repr(value)}; "
                            "wrap a single value in braces: {value}")
        if not value:
            return None
        dump = self.inner_typedef.dynamo_dump
        dumped = []
        for item in value:
            item = _reject_nested_action(item)
            wire = None if item is None else dump(item, context=context, **kwargs)
            if wire is None:
                raise ValueError(f"{self!r} can't hold the empty value {item!r}; remove it from the set")
            dumped.append(wire)
        if len(dumped) > 1 and len(set(dumped)) != len(dumped):
            raise ValueError(f"{self!r} holds values that are stored alike ({short_repr(value)}); "
                             "remove the duplicates")
        return dumped

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return set()
        load = self.inner_typedef.dynamo_load
        return {load(item, context=context, **kwargs) for item in value}

    def __repr__(self) -> str:
        return f"Set({self.inner_typedef!r})"


class List(Type[list[E]], Generic[E]):
    """A list whose elements share one type."""

    python_type = list
    backing_type = "L"

    # Like Column's overloads: the types that narrow their parent's python type come first.
    @overload
    def __init__(self: List[datetime.datetime],
                 typedef: type[Timestamp] | Timestamp | type[DateTime] | DateTime) -> None: ...

    @overload
    def __init__(self: List[int], typedef: type[Integer] | Integer) -> None: ...

    @overload
    def __init__(self: List[uuid.UUID], typedef: type[UUID] | UUID) -> None: ...

    @overload
    def __init__(self: List[E], typedef: type[Type[E]] | Type[E]) -> None: ...

    def __init__(self, typedef: Any) -> None:
        self.inner_typedef = _instance(typedef, "List")

    def __getitem__(self, key: Any) -> Type:
        check_index(key)
        return self.inner_typedef

    def dynamo_dump(self, value, *, context=None, **kwargs):
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{self!r} expects a list, got {type(value).__name__} {short_repr(value)}; "
                            "wrap a single value in brackets: [value]")
        if not value:
            return None
        depth = kwargs.pop("_depth", 0) + 1
        if depth > MAX_DEPTH:
            raise _too_deep(repr(self))
        dump = self.inner_typedef._dump
        out = []
        for index, item in enumerate(value):
            item = _reject_nested_action(item)
            action = _REMOVE_ACTION if item is None else dump(item, context=context, _depth=depth, **kwargs)
            if action.type is not ActionType.Set:
                raise ValueError(_list_hole(self, index, item))
            out.append(action.value)
        return out

    def dynamo_load(self, value, *, context=None, **kwargs):
        if value is None:
            return []
        load = self.inner_typedef._load
        return [load(item, context=context, **kwargs) for item in value]

    def __repr__(self) -> str:
        return f"List({self.inner_typedef!r})"


class Map(Type[dict[str, Any]]):
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
        if value is None:
            return None
        if not isinstance(value, collections.abc.Mapping):
            raise TypeError(f"{self!r} expects a dict, got {type(value).__name__} {short_repr(value)}")
        if not value:
            return None
        _check_map_keys(self, value)
        depth = kwargs.pop("_depth", 0) + 1
        if depth > MAX_DEPTH:
            raise _too_deep(repr(self))
        out = {}
        for key, typedef in self.types.items():
            item = _reject_nested_action(value.get(key))
            if item is None:
                continue
            action = typedef._dump(item, context=context, _depth=depth, **kwargs)
            if action.type is not ActionType.Remove:
                out[key] = action.value
        return out or None

    def dynamo_load(self, value, *, context=None, **kwargs):
        value = value or {}
        return {key: typedef._load(value.get(key), context=context, **kwargs)
                for key, typedef in self.types.items()}

    def __repr__(self) -> str:
        return f"Map({', '.join(f'{k}={v!r}' for k, v in self.types.items())})"


class DynamicType(Type[T]):
    """Any wire value; the python type of each value picks its DynamoDB type."""

    backing_type: ClassVar[str | None] = None

    def supports_operation(self, operation: str) -> bool:
        return True

    def __getitem__(self, key: Any) -> Type:
        if not isinstance(key, str):
            check_index(key)
        return DYNAMIC

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is ActionType.Remove:
            return action
        dumped = dump_dynamic(action.value, kwargs.get("_depth", 0))
        if dumped is None:
            return Action(ActionType.Remove, None)
        return Action(action.type, dumped)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        return None if value is None else load_dynamic(value)

    def dynamo_dump(self, value, *, context=None, **kwargs):
        return dump_dynamic(value, kwargs.get("_depth", 0))

    def dynamo_load(self, value, *, context=None, **kwargs):
        return None if value is None else load_dynamic(value)


DYNAMIC: DynamicType[Any] = DynamicType()
_STRING, _BINARY, _NUMBER = String(), Binary(), Number()


def _set_kind(item: Any) -> str:
    if isinstance(item, str):
        return "SS"
    if isinstance(item, (bytes, bytearray)):
        return "BS"
    if isinstance(item, numbers.Number) and not isinstance(item, bool):
        return "NS"
    raise TypeError(f"dynamic sets hold str, bytes or numbers, not {type(item).__name__} {short_repr(item)}")


def dump_dynamic(value: Any, depth: int = 0) -> dict | None:
    """Pick the wire type from the python type; empty strings, sets, lists and dicts are not stored.

    ``depth`` counts the lists and maps around ``value``. Values python has but DynamoDB doesn't
    (datetimes, UUIDs, tuples of mixed sets) raise rather than being stored as something that loads
    back different.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": check_text(value)} if value else None
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)} if value else None
    if isinstance(value, numbers.Number):
        return {"N": _NUMBER.dynamo_dump(value)}
    if isinstance(value, collections.abc.Mapping):
        if not value:
            return None
        if depth >= MAX_DEPTH:
            raise _too_deep("a dynamic value")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"dynamic map keys are non-empty str, not {key!r}")
            check_text(key, "a map key")
            dumped = dump_dynamic(_reject_nested_action(item), depth + 1)
            if dumped is not None:
                out[key] = dumped
        return {"M": out} if out else None
    if isinstance(value, collections.abc.Set):
        if not value:
            return None
        kinds = {_set_kind(item) for item in value}
        if len(kinds) > 1:
            raise TypeError(f"a dynamic set must hold one kind of value (str, bytes or numbers), not a mix: "
                            f"{short_repr(value)}")
        (kind,) = kinds
        inner = _STRING if kind == "SS" else _BINARY if kind == "BS" else _NUMBER
        return {kind: Set(inner).dynamo_dump(value)}
    if isinstance(value, (list, tuple)):
        if not value:
            return None
        if depth >= MAX_DEPTH:
            raise _too_deep("a dynamic value")
        out_list = []
        for index, item in enumerate(value):
            dumped = dump_dynamic(_reject_nested_action(item), depth + 1)
            if dumped is None:
                raise ValueError(_list_hole("a dynamic list", index, item))
            out_list.append(dumped)
        return {"L": out_list}
    raise TypeError(f"can't pick a DynamoDB type for {type(value).__name__} {short_repr(value)}; dynamic values are "
                    "str, bytes, bool, numbers, dicts, lists and sets (convert datetimes and UUIDs to str)")


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


class DynamicList(DynamicType[list[Any]]):
    python_type = list
    backing_type = "L"

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is not ActionType.Remove and not isinstance(action.value, (list, tuple)):
            raise TypeError(f"DynamicList expects a list, got {type(action.value).__name__} {short_repr(action.value)}")
        return super()._dump(value, **kwargs)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        return [] if value is None else load_dynamic(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return [] if value is None else [load_dynamic(v) for v in value]


class DynamicMap(DynamicType[dict[str, Any]]):
    python_type = dict
    backing_type = "M"

    def _dump(self, value: Any, **kwargs: Any) -> Action:
        action = wrap(value)
        if action.type is not ActionType.Remove and not isinstance(action.value, collections.abc.Mapping):
            raise TypeError(f"DynamicMap expects a dict, got {type(action.value).__name__} {short_repr(action.value)}")
        return super()._dump(value, **kwargs)

    def _load(self, value: Any, **kwargs: Any) -> Any:
        return {} if value is None else load_dynamic(value)

    def dynamo_load(self, value, *, context=None, **kwargs):
        return {} if value is None else {k: load_dynamic(v) for k, v in value.items()}
