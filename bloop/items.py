"""Model instances to DynamoDB items and back: per-model compiled rows, keys, changes, whole items. Pure.

Values go through each column's compiled dumper or loader (bloop.codecs); a value its type can't
store or load raises InvalidValue naming the column.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from . import signals
from .actions import REMOVE, SET, Action
from .codecs import compile_dumper, compile_loader
from .exceptions import BloopException, InvalidValue, MissingKey
from .tracking import _MARKED, clear_marks, marked
from .types import short_repr
from .util import key_repr, missing

if TYPE_CHECKING:
    from .models import Column

__all__ = ["Compiled", "compiled", "load_error", "unpack_from_dynamodb", "dump_key", "dump_changes", "dump_item"]

_object_loaded = signals.object_loaded


class Compiled:
    """Per-model precomputed rows, so that the hot paths are tight loops without lookups.

    ``rows``: (name, dynamo name, loader) per column, for unpacking; ``key_rows``: (name, dynamo name,
    dumper, column) for the hash then the range key; ``defaults``: (name, column) for the columns that
    declare a default, the only ones ``__init__`` has to look at besides the given values.
    """

    __slots__ = ("rows", "by_column", "dumpers", "key_rows", "defaults", "non_key_names", "save_plan")

    def __init__(self, meta: Any) -> None:
        self.rows = [(c.name, c.dynamo_name, compile_loader(c.typedef)) for c in meta.columns]
        self.by_column = {c: row for c, row in zip(meta.columns, self.rows)}
        self.dumpers = {c.name: compile_dumper(c.typedef) for c in meta.columns}
        self.key_rows = [(c.name, c.dynamo_name, self.dumpers[c.name], c)
                         for c in (meta.hash_key, meta.range_key) if c is not None]
        self.defaults = [(c.name, c) for c in meta.columns if c.default is not missing]
        self.non_key_names = frozenset(c.name for c in meta.columns if c not in meta.keys)
        self.save_plan: Any = None  # bloop.plans.SavePlan, built on the first save


def compiled(meta: Any) -> Compiled:
    found = meta.__dict__.get("_compiled")
    if found is None:
        found = meta._compiled = Compiled(meta)
    return found


def load_error(meta: Any, attrs: dict, context: Any, error: BaseException) -> InvalidValue:
    """Name the column whose stored value its type can't load (e.g. text in an Integer column)."""
    for name, dynamo_name, load in compiled(meta).rows:
        try:
            load(attrs.get(dynamo_name), context)
        except Exception as found:
            column = meta.columns_by_name[name]
            return InvalidValue(
                f"{meta.model.__name__}.{name} can't load the stored value {attrs.get(dynamo_name)!r} as "
                f"{column.typedef!r} ({found!r}); the item was written with another type than the model declares")
    return InvalidValue(f"{meta.model.__name__} can't load {attrs!r}: {error!r}")


def unpack_from_dynamodb(*, attrs: dict, expected: Iterable[Column] | None = None, model: Any = None,
                         obj: Any = None, engine: Any = None, context: Any = None, **kwargs: Any) -> Any:
    """Fill ``obj`` (or a new instance from ``model.Meta.init()``) from wire attributes.

    Every expected column is set (a missing attribute loads as the type's empty value); nothing is
    marked as changed, and ``object_loaded`` fires when an engine is given.
    """
    if obj is None:
        obj = model.Meta.init()
    meta = type(obj).Meta
    context = context if context is not None else {"engine": engine}
    values = obj.__dict__
    get = attrs.get
    try:
        if expected is None or expected is meta.columns:
            for name, dynamo_name, load in compiled(meta).rows:
                values[name] = load(get(dynamo_name), context)
            values.pop(_MARKED, None)
        else:
            names = []
            rows = compiled(meta).by_column
            for column in expected:
                name, dynamo_name, load = rows[column]
                values[name] = load(get(dynamo_name), context)
                names.append(name)
            clear_marks(obj, names)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        if isinstance(error, BloopException):
            raise
        raise load_error(meta, attrs, context, error) from error
    if engine is not None and _object_loaded.receivers:
        _object_loaded.send(engine, engine=engine, obj=obj)
    return obj


_REMOVE = Action(REMOVE, None)


def _dump(column: Column, value: Any, context: Any, dumper: Any = None) -> Action:
    """The column's dumped action; a value its type can't store raises InvalidValue naming the column."""
    try:
        if value is None:
            return _REMOVE
        if isinstance(value, Action):
            return column.typedef._dump(value, context=context)
        if dumper is None:
            dumper = compiled(column.model.Meta).dumpers[column.name]
        wire = dumper(value, context)
        return _REMOVE if wire is None else Action(SET, wire)
    except (TypeError, ValueError, ArithmeticError) as error:
        if isinstance(error, BloopException):
            raise
        raise InvalidValue(
            f"{column.model.__name__}.{column.name} can't store {short_repr(value)} as {column.typedef!r}: "
            f"{error}") from error


def dump_key(obj: Any, context: Any = None) -> dict[str, Any]:
    """The wire key of ``obj`` (hash key first); raises MissingKey naming the column when a key has no value."""
    values = obj.__dict__
    key = {}
    for name, dynamo_name, dumper, column in compiled(type(obj).Meta).key_rows:
        value = values.get(name)
        wire = None
        if value is not None:
            if isinstance(value, Action):
                action = _dump(column, value, context)
                wire = action.value if action.type is SET else None
            else:
                try:
                    wire = dumper(value, context)
                except (TypeError, ValueError, ArithmeticError):
                    wire = _dump(column, value, context).value  # raises InvalidValue naming the column
        if wire is None:
            raise MissingKey(
                f"{type(obj).__name__}.{name} is a key column and has no value; "
                f"set it before saving, loading or deleting ({key_repr(obj)})")
        key[dynamo_name] = wire
    return key


def dump_changes(obj: Any, context: Any = None, names: Iterable[str] | None = None) -> dict[Column, Action]:
    """Dumped actions for the non-key columns changed since the last load or save (or those ``names``)."""
    meta = type(obj).Meta
    changes = {}
    by_name = meta.columns_by_name
    dumpers = compiled(meta).dumpers
    keys = meta.keys
    values = obj.__dict__
    for name in marked(obj) if names is None else names:
        column = by_name.get(name)
        if column is None or column in keys:
            continue
        value = values.get(name)
        if value is None or isinstance(value, Action):
            changes[column] = _dump(column, value, context)
            continue
        try:
            wire = dumpers[name](value, context)
        except (TypeError, ValueError, ArithmeticError):
            wire = _dump(column, value, context)  # raises InvalidValue naming the column
        changes[column] = _REMOVE if wire is None else Action(SET, wire)
    return changes


def dump_item(obj: Any, context: Any = None) -> dict[str, Any]:
    """The whole item as wire attributes (PutItem form): every column that holds a storable value."""
    item = dump_key(obj, context)
    for column in type(obj).Meta.columns:
        if column.dynamo_name in item:
            continue
        value = obj.__dict__.get(column.name)
        if value is None:
            continue
        action = _dump(column, value, context)
        if action.type is SET:
            item[column.dynamo_name] = action.value
        elif action.type is not REMOVE:
            raise ValueError(f"{type(obj).__name__}.{column.name}: {action.type.wire_key} can't be used in a "
                             "whole-item write (batch save); use engine.save for ADD/DELETE")
    return item
