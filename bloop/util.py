"""Small helpers shared by several layers."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Iterable, Iterator


class Sentinel:
    """A named singleton used where None is a legitimate value."""

    _instances: dict[str, Sentinel] = {}
    name: str

    def __new__(cls, name: str) -> Sentinel:
        if name not in cls._instances:
            obj = super().__new__(cls)
            obj.name = name
            cls._instances[name] = obj
        return cls._instances[name]

    def __repr__(self) -> str:
        return f"<Sentinel[{self.name}]>"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> Sentinel:
        return self

    def __deepcopy__(self, memo: Any) -> Sentinel:
        return self

    def __reduce__(self) -> tuple:
        return Sentinel, (self.name,)


missing = Sentinel("missing")


def walk_subclasses(root: type) -> Iterator[type]:
    """Yield every subclass of ``root`` once, depth first, skipping ``root`` itself."""
    seen = set()
    stack: list[type] = list(reversed(root.__subclasses__()))
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        stack.extend(reversed(cls.__subclasses__()))


def key_identity(key: dict) -> tuple:
    """Hashable identity of a wire key, for matching read items back to what was asked for.

    Names with their (tag, value), so keys whose hash and range values are swapped differ (bloop bug
    B10). Numbers compare by value: bloop sends ``1E+50`` where DynamoDB answers with fifty zeros, and
    ``Decimal`` equality and hashing are numeric. One flat tuple ``(name, tag, value, ...)`` in name
    order: it runs for every key asked and every item read back, and at 10,000 keys a call each
    container it allocates is work for the garbage collector. Any other attributes work too (what
    ``verify`` compares): documents by their elements' identities, sets in any order.
    """
    if len(key) == 1:
        return item_key_identity(key, key)
    return item_key_identity(key, sorted(key))


def item_key_identity(item: dict, names: Iterable[str]) -> tuple:
    """:func:`key_identity` of the key attributes ``names`` (in name order) of a whole item."""
    parts: list = []
    for name in names:
        for tag, inner in item[name].items():
            parts += (name, tag, Decimal(inner) if tag == "N" else inner if tag in _PLAIN else _inner(tag, inner))
    return tuple(parts)


_PLAIN = frozenset({"S", "B", "BOOL", "NULL"})


def _inner(tag: str, inner: Any) -> Any:
    """The identity of a document or set's contents (DynamoDB answers set members in any order)."""
    if tag == "M":
        return key_identity(inner)
    if tag == "L":
        return tuple(key_identity({"": value}) for value in inner)
    if tag == "NS":
        return frozenset(map(Decimal, inner))
    return frozenset(inner)  # SS, BS


def backoff(timeout: float, first: float, cap: float) -> Iterator[float]:
    """Waits doubling from ``first`` to ``cap``, for as long as the next one ends before ``timeout``.

    The caller checks, then sleeps for ``next(delays, None)``, and gives up on None: polling that
    never busy-loops and never outlives its deadline.
    """
    deadline = time.monotonic() + timeout
    delay = first
    while time.monotonic() + delay <= deadline:
        yield delay
        delay = min(delay * 2, cap)


def chunked(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def key_repr(obj: Any) -> str:
    """``Model(id='a', rank=3)``: an object named by its key columns only.

    Exception messages and logs use it instead of ``repr(obj)``, which shows every value (an S3-backed
    one can be megabytes, and values may be private).
    """
    model = type(obj)
    meta = getattr(model, "Meta", None)
    if meta is None or not hasattr(meta, "hash_key"):
        return repr(obj)
    keys = [column for column in (meta.hash_key, getattr(meta, "range_key", None)) if column is not None]
    values = getattr(obj, "__dict__", {})
    return f"{model.__name__}({', '.join(f'{c.name}={values.get(c.name)!r}' for c in keys)})"
