"""Optimistic locking: ``Column(Integer, version=True)`` makes concurrent writers safe without hand-written conditions.

A save of an object at version N is sent with the condition "the stored version is still N" and
stores N + 1 in the same UpdateItem; a new object (no version yet) writes 1 and succeeds only if no
versioned item is there. A delete at version N needs the stored version to be N. The version moves
on the object only after the write succeeded, so a stale write changes nothing, locally or remotely,
and raises :exc:`VersionConflict`.

These are the write path's own steps (``bloop.write`` calls ``prepare``, ``explain`` and
``settle``), not an extension: every engine applies them, to save, delete and transactions
alike. A BatchWriteItem can't carry a condition, so a batch refuses versioned models.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .conditions import Condition, conditions_and
from .exceptions import ConstraintViolation, InvalidBatch, InvalidModel, VersionConflict
from .items import _dump
from .util import key_repr

if TYPE_CHECKING:  # pragma: no cover
    from .extensions import Write
    from .session import SessionWrapper
    from .write import Rendered

__all__ = ["VersionConflict", "setup_version", "version_column"]  # VersionConflict lives in bloop.exceptions

#: the key of this step's entry in ``Write.state``
STATE = "bloop.version"


def flagged_column(cls: Any, meta: Any, flag: str, role: str) -> Any:
    """The one column marked ``flag=True`` (None if none); InvalidModel for two, or for a key column."""
    found = sorted((c for c in meta.columns if getattr(c, flag, False)), key=lambda c: c.name)
    if len(found) > 1:
        raise InvalidModel(f"{cls.__name__}: {found[0].name!r} and {found[1].name!r} are both marked {flag}=True; "
                           f"a model has at most one {role} column")
    column = found[0] if found else None
    if column is not None and column in meta.keys:
        raise InvalidModel(f"{cls.__name__}.{column.name}: a key column can't be the {role} column; "
                           f"mark a separate Column(..., {flag}=True)")
    return column


def setup_version(cls: Any, meta: Any) -> None:
    """Find and check the model's version column (``meta.version``); InvalidModel for a bad declaration."""
    from .types import Number
    column = flagged_column(cls, meta, "version", "version")
    if column is not None and not isinstance(column.typedef, Number):
        raise InvalidModel(f"{cls.__name__}.{column.name}: the version column must be Integer or Number, "
                           f"not {column.typedef!r}")
    meta.version = column


def version_column(model: Any) -> Any:
    """The model's version column, or None."""
    return getattr(model.Meta, "version", None)


def prepare(writes: Sequence[Write], conditions: Sequence[Condition | None], mode: str, context: Any) -> None:
    """AND the version check onto each versioned write and store the next version (pure; before rendering)."""
    for write, condition in zip(writes, conditions):
        model = type(write.obj)
        column = version_column(model)
        if column is None or write.kind == "check":
            continue
        if mode == "batch":
            raise InvalidBatch(
                f"{model.__name__} has a version column ({column.name!r}) and a batch write can't carry the "
                f"version check ({key_repr(write.obj)}); use engine.save/delete or a transaction, which check it")
        current = write.obj.__dict__.get(column.name)
        check = column.is_(None) if current is None else column == current
        write.condition = conditions_and(write.condition, check)
        state: dict[str, Any] = {"expected": current, "check": check, "alone": condition is None}
        if write.kind in ("save", "put"):
            state["next"] = 1 if current is None else current + 1
            write.overrides[column.name] = _dump(column, state["next"], context).value
        write.state[STATE] = state


def explain(rendered: Sequence[Rendered], session: SessionWrapper) -> None:
    """Turn a failed versioned write's ConstraintViolation into :exc:`VersionConflict` when the version was stale.

    When the version check was the write's only condition the answer is certain; otherwise the item
    is read (consistently) to tell a stale version from the user's own condition failing.
    """
    for r in rendered:
        write = r.write
        state = write.state.get(STATE)
        error = write.error
        if state is None or not isinstance(error, ConstraintViolation) or isinstance(error, VersionConflict):
            continue
        column = version_column(type(write.obj))
        if not (state["alone"] and write.condition is state["check"]):
            item = session.get_items([(r.table_name, r.key)], consistent=True).get(r.identity)
            stored = (item or {}).get(column.dynamo_name)
            expected = state["expected"]
            if (stored is None) if expected is None else (stored is not None and _same(stored, expected)):
                continue  # the version still matches: the user's condition failed
        conflict = VersionConflict(_message(write, column, state["expected"]), write.obj, state["expected"])
        conflict.__cause__ = error
        write.error = conflict


def _same(stored: dict, expected: Any) -> bool:
    """Whether a stored wire number equals the version the write expected."""
    from decimal import Decimal
    try:
        return Decimal(stored["N"]) == Decimal(str(expected))
    except (KeyError, TypeError, ArithmeticError):
        return False


def _message(write: Write, column: Any, expected: Any) -> str:
    verb = "save" if write.kind in ("save", "put") else "delete"
    where = "no versioned item to exist" if expected is None else f"version {expected}"
    return (f"can't {verb} {key_repr(write.obj)}: the item was changed by someone else (the write expected {where} in "
            f"{type(write.obj).__name__}.{column.name}). Nothing was written and the object is unchanged. "
            "Reload it (engine.load), reapply your change and retry")


def settle(write: Write) -> None:
    """After a successful write: the object takes the version it stored (a deleted item has none)."""
    state = write.state.get(STATE)
    if state is None:
        return
    column = version_column(type(write.obj))
    if "next" in state:
        write.obj.__dict__[column.name] = state["next"]
    elif write.kind == "delete":
        write.obj.__dict__.pop(column.name, None)
