"""Types translate python values to DynamoDB wire values and back. Pure: no I/O.

This module holds the document and set types (Set, List, Map) and the dynamic types; the Type base
and the scalar types are in bloop.scalars and importable from here, as they always were. A custom
type subclasses :class:`Type` (or a built-in type), sets ``backing_type`` and implements
``dynamo_dump`` / ``dynamo_load``; both must accept None (a missing or removed attribute).
"""
from __future__ import annotations

import base64
import collections.abc
import datetime
import decimal
import numbers
import uuid
from typing import Any, ClassVar, Generic, TypeVar, overload

from .actions import Action, ActionType, wrap
from .exceptions import InvalidModel, UnknownType
from .scalars import _MAX_EXACT_INT as _MAX_EXACT_INT
from .scalars import COMPARISONS as COMPARISONS
from .scalars import (
    DYNAMODB_CONTEXT,
    FIXED_ISO8601_FORMAT,
    UUID,
    Binary,
    Boolean,
    DateTime,
    Integer,
    Number,
    String,
    Timestamp,
    Type,
    check_text,
    short_repr,
)
from .scalars import EPOCH as EPOCH
from .scalars import ONE_SECOND as ONE_SECOND
from .scalars import SUPPORTED_OPERATIONS as SUPPORTED_OPERATIONS
from .scalars import UTC as UTC
from .scalars import canonical_number as canonical_number

__all__ = [
    "Binary", "Boolean", "DateTime", "DynamicList", "DynamicMap", "DynamicType", "Integer", "List", "Map",
    "Number", "Set", "String", "Timestamp", "Type", "UUID", "FIXED_ISO8601_FORMAT", "DYNAMODB_CONTEXT",
]

T = TypeVar("T")
E = TypeVar("E")  # the python type of a Set's or List's elements

# DynamoDB's nested attribute depth: lists and maps inside one attribute, at most 32 levels.
MAX_DEPTH = 32


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


def _instance(typedef: Any, owner: str) -> Type:
    if isinstance(typedef, type) and issubclass(typedef, Type):
        typedef = typedef()
    if not isinstance(typedef, Type):
        raise TypeError(f"{owner} expected a bloop Type (class or instance), got {typedef!r}")
    return typedef


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
