"""Scalar types (strings, numbers, binary, booleans, UUIDs, datetimes) and the Type base they share. Pure.

A custom type subclasses :class:`Type` (or a built-in type), sets ``backing_type`` and implements
``dynamo_dump`` / ``dynamo_load``; both must accept None (a missing or removed attribute). Users
import these from ``bloop`` or ``bloop.types``; documents and sets are in bloop.types.
"""
from __future__ import annotations

import base64
import datetime
import decimal
import numbers
import reprlib
import uuid
from typing import Any, ClassVar, Generic, TypeVar

from .actions import Action, ActionType, wrap
from .exceptions import InvalidModel

__all__ = [
    "Binary", "Boolean", "DateTime", "Integer", "Number", "String", "Timestamp", "Type", "UUID",
    "FIXED_ISO8601_FORMAT", "DYNAMODB_CONTEXT",
]

T = TypeVar("T")

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


_INF = decimal.Decimal("Infinity")


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
