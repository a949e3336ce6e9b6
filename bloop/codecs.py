"""Compiled per-type dumpers and loaders for the hot paths (saving and loading whole objects). Pure.

Each built-in type whose dump or load isn't overridden gets a specialised function with the same
checks as the type's ``dynamo_dump`` (a value the type refuses raises the same error); anything else
goes through the type's ``_dump`` / ``_load``, so custom types keep bloop's contract.
"""
from __future__ import annotations

import base64
import collections.abc
import datetime
import decimal
import uuid
from typing import Any, Callable

from .actions import Action, ActionType
from .limits import value_size
from .types import (
    _MAX_EXACT_INT,
    DYNAMODB_CONTEXT,
    UTC,
    UUID,
    Binary,
    Boolean,
    DateTime,
    DynamicType,
    Integer,
    List,
    Map,
    Number,
    Set,
    String,
    Timestamp,
    Type,
    _check_map_keys,
    _list_hole,
    _reject_nested_action,
)

__all__ = ["Dumper", "Loader", "SizedDumper", "compile_dumper", "compile_loader", "compile_sized_dumper"]

Loader = Callable[[Any, Any], Any]
Dumper = Callable[[Any, Any], Any]
SizedDumper = Callable[[Any, Any], "tuple[Any, int]"]


def compile_loader(typedef: Type) -> Loader:
    """A ``loader(wire_value_or_None, context)``: no keyword arguments, no ``_load`` -> ``dynamo_load`` hop."""
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


def compile_dumper(typedef: Type, depth: int = 0) -> Dumper:
    """A ``dumper(python_value, context) -> {tag: wire} | None`` for values that are not Actions.

    None means "nothing to store" (a REMOVE at the top level). ``depth`` is the number of lists and
    maps around the value, so dynamic values inside typed ones count toward DynamoDB's 32 levels.
    """
    cls = type(typedef)
    if cls._dump is Type._dump:
        dump = cls.dynamo_dump
        if dump is String.dynamo_dump:
            return _string_dumper(typedef)
        if dump is Integer.dynamo_dump or dump is Number.dynamo_dump:
            bound_number = typedef.dynamo_dump

            def number(value: Any, context: Any) -> Any:
                if type(value) is int and -_MAX_EXACT_INT < value < _MAX_EXACT_INT:
                    return {"N": str(value)}
                wire = bound_number(value, context=context)
                return None if wire is None else {"N": wire}
            return number
        if dump is Boolean.dynamo_dump:
            bound_bool = typedef.dynamo_dump

            def boolean(value: Any, context: Any) -> Any:
                if value is True or value is False:
                    return {"BOOL": value}
                wire = bound_bool(value, context=context)  # raises for anything but a bool
                return None if wire is None else {"BOOL": wire}
            return boolean
        if dump is List.dynamo_dump:
            return _list_dumper(typedef, compile_dumper(typedef.inner_typedef, depth + 1))  # type: ignore
        if dump is Map.dynamo_dump:
            inners = {k: compile_dumper(t, depth + 1) for k, t in typedef.types.items()}  # type: ignore[attr-defined]
            return _map_dumper(typedef, inners)
        if dump is Set.dynamo_dump and type(typedef.inner_typedef).dynamo_dump is String.dynamo_dump:  # type: ignore
            return _string_set_dumper(typedef)  # type: ignore[arg-type]
        tag, bound = typedef.backing_type, typedef.dynamo_dump

        def tagged(value: Any, context: Any) -> Any:
            wire = bound(value, context=context)
            return None if wire is None else {tag: wire}
        return tagged
    slow = typedef._dump
    extra = {"_depth": depth} if depth and isinstance(typedef, DynamicType) else {}

    def through_actions(value: Any, context: Any) -> Any:
        action = slow(value, context=context, **extra)
        return action.value if action.type is ActionType.Set else None
    return through_actions


def _string_dumper(typedef: Type) -> Dumper:
    bound = typedef.dynamo_dump

    def dump(value: Any, context: Any) -> Any:
        if type(value) is str and value.isascii():
            return {"S": value} if value else None
        wire = bound(value, context=context)  # checks the type and the Unicode
        return None if wire is None else {"S": wire}
    return dump


def _string_set_dumper(typedef: Set) -> Dumper:
    bound = typedef.dynamo_dump

    def dump(value: Any, context: Any) -> Any:
        if isinstance(value, (set, frozenset)) and all(type(item) is str and item and item.isascii()
                                                       for item in value):
            return {"SS": list(value)} if value else None
        wire = bound(value, context=context)  # raises for what the fast check didn't pass
        return None if wire is None else {"SS": wire}
    return dump


def _list_dumper(typedef: Type, inner: Dumper) -> Dumper:
    def dump(value: Any, context: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            typedef.dynamo_dump(value, context=context)  # raises the type's error
        if not value:
            return None
        out = []
        for index, item in enumerate(value):
            if isinstance(item, Action):
                item = _reject_nested_action(item)
            wire = None if item is None else inner(item, context)
            if wire is None:
                raise ValueError(_list_hole(typedef, index, item))
            out.append(wire)
        return {"L": out}
    return dump


def _map_dumper(typedef: Type, inners: dict[str, Dumper]) -> Dumper:
    rows = list(inners.items())

    def dump(value: Any, context: Any) -> Any:
        if not isinstance(value, collections.abc.Mapping):
            typedef.dynamo_dump(value, context=context)  # raises the type's error
        if not value:
            return None
        if len(value) > len(rows) or any(key not in inners for key in value):
            _check_map_keys(typedef, value)
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


# ------------------------------------------------------------------------------------ sized dumpers
def compile_sized_dumper(typedef: Type) -> SizedDumper:
    """A ``dumper(python_value, context) -> (wire or None, bytes DynamoDB counts for it)``.

    The save fast path adds each value's size as it dumps it, so the 400 KB check needs no second
    walk over the item. Each handles the common, plainly valid values itself (a str that is ASCII,
    an int, a list of such...) and hands anything else to :func:`compile_dumper`'s dumper, which
    checks it and raises the type's error, and then sizes its result with ``limits.value_size``:
    the sizes are exact either way, and the checks live in one place.
    """
    plain = compile_dumper(typedef)
    cls = type(typedef)
    if cls._dump is Type._dump:
        dump = cls.dynamo_dump
        if dump is String.dynamo_dump:
            return _sized_string(plain)
        if dump is Integer.dynamo_dump or dump is Number.dynamo_dump:
            # a Number with its own decimal context may refuse what DynamoDB's accepts: no shortcut then
            # (and an Integer refuses fractions)
            return _sized_number(plain, decimals=dump is Number.dynamo_dump and
                                 typedef.context is DYNAMODB_CONTEXT)  # type: ignore[attr-defined]
        if dump is Boolean.dynamo_dump:
            return _sized_boolean(plain)
        if dump is DateTime.dynamo_dump:
            return _sized_datetime(plain)
        if dump is UUID.dynamo_dump:
            return _sized_uuid(plain)
        if dump is Binary.dynamo_dump:
            return _sized_binary(plain)
        if dump is List.dynamo_dump:
            inner_dump = type(typedef.inner_typedef).dynamo_dump  # type: ignore[attr-defined]
            if type(typedef.inner_typedef)._dump is Type._dump and inner_dump in (  # type: ignore[attr-defined]
                    Integer.dynamo_dump, Number.dynamo_dump):
                return _sized_int_list(plain)
            return _sized_list(plain, compile_sized_dumper(typedef.inner_typedef))  # type: ignore[attr-defined]
        if dump is Map.dynamo_dump:
            inners = {k: compile_sized_dumper(t) for k, t in typedef.types.items()}  # type: ignore[attr-defined]
            return _sized_map(plain, inners)
        if dump is Set.dynamo_dump and type(typedef.inner_typedef).dynamo_dump is String.dynamo_dump:  # type: ignore
            return _sized_string_set(plain)
        if typedef.backing_type == "S":  # DateTime, UUID: text the dumper made, sized directly
            return _sized_text(plain)
    return _sized_by_walk(plain)


def _sized_by_walk(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, value_size(wire))
    return dump


def _sized_text(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        wire = plain(value, context)
        if wire is None:
            return None, 0
        text = wire["S"]
        return wire, len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return dump


def _sized_string(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is str and value.isascii():
            return ({"S": value}, len(value)) if value else (None, 0)
        wire = plain(value, context)  # checks the type and the Unicode
        return (None, 0) if wire is None else (wire, value_size(wire))
    return dump


def _sized_number(plain: Dumper, decimals: bool) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is int and -_MAX_EXACT_INT < value < _MAX_EXACT_INT:
            text = str(value)
            return {"N": text}, _int_size(text, value)
        if decimals and type(value) is decimal.Decimal:
            canonical = _plain_decimal_text(value)
            if canonical is not None:
                return {"N": canonical}, (len(canonical.lstrip("-").replace(".", "").strip("0")) + 1) // 2 + 1
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, value_size(wire))
    return dump


def _int_size(text: str, value: int) -> int:
    """DynamoDB's size of an int written as ``text``: significant digits (an int's text has no leading
    zeros, only trailing ones) halved, plus one."""
    digits = len(text) - (value < 0) if text[-1] != "0" else len(text.lstrip("-").rstrip("0"))
    return (digits + 1) // 2 + 1


def _plain_decimal_text(value: decimal.Decimal) -> str | None:
    """``types.canonical_number(value)`` for a Decimal that ``str`` writes without an exponent and with
    at most 38 digits (so it is exact and in range: nothing to round or refuse); None for any other.

    Such a decimal's canonical text is its own text without trailing fractional zeros.
    """
    text = str(value)
    digits = text.lstrip("-").replace(".", "", 1)
    if len(digits) > 38 or not digits.isdigit() or not digits.isascii():
        return None  # an exponent, NaN, infinity, or too many digits: the type's own dumper decides
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("0", "-0") else text


def _sized_datetime(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is datetime.datetime and value.tzinfo is UTC:
            # already UTC: isoformat writes the same fixed-width text DateTime stores
            text = value.isoformat(timespec="microseconds")
            return {"S": text}, len(text)
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, len(wire["S"]))
    return dump


def _sized_boolean(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if value is True or value is False:
            return {"BOOL": value}, 1
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, 1)
    return dump


def _sized_uuid(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is uuid.UUID:
            return {"S": str(value)}, 36  # always 36 ASCII characters
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, len(wire["S"]))
    return dump


def _sized_binary(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is bytes:
            return ({"B": value}, len(value)) if value else (None, 0)
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, len(wire["B"]))
    return dump


def _sized_string_set(plain: Dumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is set and value and "" not in value:
            # join checks every member is a str, isascii that all are ASCII, both in C
            try:
                joined = "".join(value)
            except TypeError:
                joined = "\x80"
            if joined.isascii():
                return {"SS": list(value)}, len(joined)
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, value_size(wire))
    return dump


def _sized_list(plain: Dumper, inner: SizedDumper) -> SizedDumper:
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is list and value:
            out = []
            size = 3 + len(value)  # 3 for the list, 1 per element
            for item in value:
                if item is None or isinstance(item, Action):
                    break
                wire, item_size = inner(item, context)
                if wire is None:
                    break
                out.append(wire)
                size += item_size
            else:
                return {"L": out}, size
        wire = plain(value, context)  # raises for a hole, an action, a wrong type
        return (None, 0) if wire is None else (wire, value_size(wire))
    return dump


def _sized_int_list(plain: Dumper) -> SizedDumper:
    """A list of Integer or Number: lists of plain ints need no call per element."""
    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is list and value:
            out = []
            size = 3 + len(value)
            for item in value:
                if type(item) is not int or not -_MAX_EXACT_INT < item < _MAX_EXACT_INT:
                    break
                text = str(item)
                out.append({"N": text})
                size += _int_size(text, item)
            else:
                return {"L": out}, size
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, value_size(wire))
    return dump


def _sized_map(plain: Dumper, inners: dict[str, SizedDumper]) -> SizedDumper:
    rows = [(key, inner, 1 + (len(key) if key.isascii() else len(key.encode("utf-8", "surrogatepass"))))
            for key, inner in inners.items()]
    declared = inners.keys()

    def dump(value: Any, context: Any) -> tuple[Any, int]:
        if type(value) is dict and value and value.keys() <= declared:
            out = {}
            size = 3
            get = value.get
            for key, inner, key_size in rows:
                item = get(key)
                if item is None:
                    continue
                if isinstance(item, Action):
                    break
                wire, item_size = inner(item, context)
                if wire is not None:
                    out[key] = wire
                    size += key_size + item_size
            else:
                return ({"M": out}, size) if out else (None, 0)
        wire = plain(value, context)
        return (None, 0) if wire is None else (wire, value_size(wire))
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
