"""DynamoDB's request limits, checked on rendered requests before anything is sent. Pure.

Sizes are counted the way DynamoDB counts them: attribute names and strings in UTF-8 bytes, binaries
by length, numbers by their significant digits (1 byte per two, plus one), 1 byte for a null or a
boolean, and 3 bytes plus 1 per element for lists and maps (a map's keys count like names).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from .exceptions import ExpressionTooLarge, InvalidTransaction, InvalidValue, ItemTooLarge

__all__ = [
    "MAX_ITEM_SIZE", "MAX_HASH_KEY_SIZE", "MAX_RANGE_KEY_SIZE", "MAX_TRANSACTION_ITEMS", "MAX_TRANSACTION_SIZE",
    "MAX_EXPRESSION_SIZE", "value_size", "attributes_size", "check_key", "check_item_size", "check_expressions",
    "check_transaction",
]

MAX_ITEM_SIZE = 400 * 1024
MAX_HASH_KEY_SIZE = 2048
MAX_RANGE_KEY_SIZE = 1024
MAX_TRANSACTION_ITEMS = 100
MAX_TRANSACTION_SIZE = 4 * 1024 * 1024
MAX_EXPRESSION_SIZE = 4096
EXPRESSIONS = ("ConditionExpression", "UpdateExpression", "ProjectionExpression", "KeyConditionExpression",
               "FilterExpression")


def _text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus one: leading and trailing zeros don't count."""
    mantissa = text.lstrip("+-").split("e")[0].split("E")[0]
    digits = mantissa.replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(wire: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one wire value ``{tag: value}``."""
    for tag, inner in wire.items():
        if tag == "S":
            return _text_size(inner)
        if tag == "N":
            return _number_size(inner)
        if tag == "B":
            return len(inner)
        if tag == "M":
            return 3 + sum(1 + _text_size(k) + value_size(v) for k, v in inner.items())
        if tag == "L":
            return 3 + sum(1 + value_size(v) for v in inner)
        if tag == "SS":
            return sum(_text_size(v) for v in inner)
        if tag == "NS":
            return sum(_number_size(v) for v in inner)
        if tag == "BS":
            return sum(len(v) for v in inner)
        return 1  # NULL, BOOL
    return 0


def attributes_size(attributes: Iterable[tuple[str, Mapping[str, Any] | None]]) -> int:
    """Size of (name, wire value) pairs; a None value (a REMOVE) counts nothing."""
    return sum(_text_size(name) + value_size(value) for name, value in attributes if value is not None)


def _where(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 120 else text[:117] + "..."


def check_key(obj: Any, key: Mapping[str, Mapping[str, Any]]) -> None:
    """Hash key values up to 2048 bytes, range keys up to 1024, neither empty."""
    for value in key.values():
        for inner in value.values():
            # a short value can't be over the limit: 4 UTF-8 bytes per character at most (the common case)
            if not inner or len(inner) * 4 > MAX_RANGE_KEY_SIZE:
                return _check_key_sizes(obj, key)
    return None


def _check_key_sizes(obj: Any, key: Mapping[str, Mapping[str, Any]]) -> None:
    meta = type(obj).Meta
    for column in meta.keys:
        wire = key.get(column.dynamo_name)
        if wire is None:
            continue
        size = value_size(wire) if "N" not in wire else len(wire["N"])
        limit = MAX_HASH_KEY_SIZE if column.hash_key else MAX_RANGE_KEY_SIZE
        which = "hash" if column.hash_key else "range"
        if size > limit:
            raise InvalidValue(
                f"{type(obj).__name__}.{column.name} is the {which} key and its value is {size} bytes; DynamoDB "
                f"allows at most {limit} bytes for a {which} key. Use a shorter key (e.g. a hash of the value) "
                f"({_where(obj)})")
        if size == 0:
            raise InvalidValue(f"{type(obj).__name__}.{column.name} is the {which} key and its value is empty; "
                               f"DynamoDB needs at least 1 byte ({_where(obj)})")


def check_item_size(obj: Any, attributes: Mapping[str, Mapping[str, Any] | None], what: str) -> int:
    """The size of ``attributes`` (what a write stores); ItemTooLarge naming the largest column when over 400 KB."""
    size = attributes_size(attributes.items())
    if size > MAX_ITEM_SIZE:
        model = type(obj)
        sizes = {name: _text_size(name) + value_size(value) for name, value in attributes.items()
                 if value is not None}
        biggest = max(sizes, key=sizes.__getitem__)
        column = model.Meta.columns_by_dynamo_name.get(biggest)
        name = column.name if column is not None else biggest
        raise ItemTooLarge(
            f"{what} {_where(obj)} would store {size} bytes, over DynamoDB's 400 KB item limit ({MAX_ITEM_SIZE} "
            f"bytes, names and values counted in UTF-8); the largest column is {model.__name__}.{name} "
            f"({sizes[biggest]} bytes). Keep large values in S3 (bloop.ext.s3.S3Blob) and store a pointer")
    return size


def check_expressions(obj: Any, request: Mapping[str, Any]) -> None:
    """Every expression string of a request is at most 4 KB (UTF-8)."""
    for name in EXPRESSIONS:
        text = request.get(name)
        if text is not None and _text_size(text) > MAX_EXPRESSION_SIZE:
            hint = ("save fewer columns at once (set some, save, then the rest)" if name == "UpdateExpression"
                    else "split the condition")
            raise ExpressionTooLarge(
                f"the {name} for {_where(obj)} is {_text_size(text)} bytes; DynamoDB allows at most "
                f"{MAX_EXPRESSION_SIZE}: {hint}")


def check_transaction(sizes: list[tuple[Any, int]]) -> None:
    """At most 100 items and 4 MB of item data in one transaction; ``sizes`` is (obj, bytes) per item."""
    if len(sizes) > MAX_TRANSACTION_ITEMS:
        raise InvalidTransaction(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items, not {len(sizes)}; "
                                 "split it")
    total = sum(size for _, size in sizes)
    if total > MAX_TRANSACTION_SIZE:
        largest = max(sizes, key=lambda pair: pair[1])
        raise InvalidTransaction(
            f"the items of this transaction add up to {total} bytes, over DynamoDB's 4 MB transaction limit "
            f"({MAX_TRANSACTION_SIZE} bytes); the largest is {_where(largest[0])} ({largest[1]} bytes). Split it "
            "into several transactions, or keep large values in S3")
