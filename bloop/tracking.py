"""Change tracking and sync state, kept on each instance (no global state). Pure: no I/O.

Setting or deleting a column marks it; loading from DynamoDB and saving clear the marks, so a save
sends only what changed since. The sync token says which table the unmarked columns match.
"""
from __future__ import annotations

from typing import Any, Iterable

from .actions import REMOVE, SET, Action

__all__ = ["marked", "clear_marks", "synced_with", "set_synced", "settle_after_save"]

_MARKED = "_bloop_marked"  # per-instance set of column names changed since the last load/save
_SYNCED = "_bloop_synced"  # per-instance: the (engine, table) whose item the unmarked columns match


def marked(obj: Any) -> set:
    """The names of the columns of ``obj`` changed since it was last loaded or saved."""
    found = obj.__dict__.get(_MARKED)
    if found is None:
        found = obj.__dict__[_MARKED] = set()
    return found


def _mark(values: dict, name: str) -> None:
    """Mark ``name`` changed in an object's ``__dict__`` (what :func:`marked` reads)."""
    found = values.get(_MARKED)
    if found is None:
        values[_MARKED] = {name}
    else:
        found.add(name)


def clear_marks(obj: Any, names: Iterable[str] | None = None) -> None:
    if names is None:
        obj.__dict__.pop(_MARKED, None)
    else:
        marked(obj).difference_update(names)


def synced_with(obj: Any) -> Any:
    """Where ``obj`` was last loaded from or saved to (an opaque token from the engine), or None.

    Change tracking is relative to that one table: saving the object anywhere else writes every column.
    """
    return obj.__dict__.get(_SYNCED)


def set_synced(obj: Any, where: Any) -> None:
    if where is None:
        obj.__dict__.pop(_SYNCED, None)
    else:
        obj.__dict__[_SYNCED] = where


def settle_after_save(obj: Any) -> None:
    """After a save: actions on the object become plain values; ADD/DELETE results are unknown, so unset."""
    values = obj.__dict__
    for name in list(marked(obj)):
        value = values.get(name)
        if isinstance(value, Action):
            if value.type is SET:
                values[name] = value.value
            elif value.type is REMOVE:
                values.pop(name, None)
            else:
                values.pop(name, None)  # the stored result of ADD/DELETE isn't known without sync
    clear_marks(obj)
