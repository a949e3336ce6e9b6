"""Compiled per-model save plans: the write path's fast render for UpdateItem. Pure.

A save of plain values (no actions, no condition, nothing an extension overrides) renders the same
request the general path would, with less work per save: each column's value is dumped by a sized
dumper (:func:`bloop.codecs.compile_sized_dumper`) that also returns the bytes DynamoDB counts, so
the 400 KB check is exact without walking the item again; the UpdateExpression and its attribute
names are rendered once per set of written and removed columns and reused, so a save builds only
its values. Whatever the fast render can't vouch for (an action, a value its type refuses, an item
or expression over DynamoDB's limits) makes it return None, and the general path renders the write
and raises the error a user would see; the checks live there, in one place.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .actions import REMOVE, SET, Action
from .codecs import compile_sized_dumper
from .conditions import ConditionRenderer
from .limits import MAX_EXPRESSION_SIZE, MAX_HASH_KEY_SIZE, MAX_ITEM_SIZE, MAX_RANGE_KEY_SIZE
from .models import compiled
from .types import String, Type

__all__ = ["FastSave", "SavePlan", "save_plan"]

#: distinct sets of columns whose expressions a plan keeps; past that it starts over (no unbounded growth)
MAX_CACHED_EXPRESSIONS = 1024
_REMOVE = Action(REMOVE, None)


def _text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class FastSave(NamedTuple):
    """One save rendered by a plan: its UpdateItem request (without ReturnValues), and what it stores."""

    body: dict[str, Any]
    key: dict[str, Any]
    #: dynamo name -> wire value (None: removed), only when asked for (verify needs it)
    stored: dict[str, Any] | None
    #: bytes DynamoDB counts for the key and the values written
    size: int


class _Expression(NamedTuple):
    text: str
    names: dict[str, str]
    value_refs: tuple[str, ...]


_UNKNOWN = _Expression("", {}, ())  # not rendered yet (None: rendered, and over DynamoDB's limits)


class SavePlan:
    """A model's save, compiled: sized dumpers per column, expressions per set of columns."""

    def __init__(self, meta: Any) -> None:
        self.key_rows = []
        for column in (meta.hash_key, meta.range_key):
            if column is None:
                continue
            limit = MAX_HASH_KEY_SIZE if column.hash_key else MAX_RANGE_KEY_SIZE
            self.key_rows.append((column.name, column.dynamo_name, compile_sized_dumper(column.typedef),
                                  _text_size(column.dynamo_name), limit, column.typedef.backing_type == "N"))
        keys = meta.keys
        # the general path renders columns in dynamo name order; so does the plan, so the names match
        ordered = sorted((c for c in meta.columns if c not in keys), key=lambda c: c.dynamo_name)
        self.rows = [(c.name, c.dynamo_name, compile_sized_dumper(c.typedef), _text_size(c.dynamo_name),
                      _is_plain_string(c.typedef)) for c in ordered]
        self.by_dynamo_name = {c.dynamo_name: c for c in ordered}
        self.expressions: dict[Any, _Expression | None] = {}

    def render(self, obj: Any, columns: frozenset[str], context: Any, table_name: str,
               keep_stored: bool) -> FastSave | None:
        """The save of ``columns`` of ``obj``, or None when the general path must render it."""
        values = obj.__dict__
        key = {}
        size = 0
        try:
            for name, dynamo_name, sized, name_size, limit, numeric in self.key_rows:
                value = values.get(name)
                if value is None or isinstance(value, Action):
                    return None
                wire, value_size = sized(value, context)
                if wire is None or (len(wire["N"]) if numeric else value_size) > limit:
                    return None
                key[dynamo_name] = wire
                size += name_size + value_size
            written: list[str] = []
            wires: list[Any] = []
            removed: list[str] = []
            every = len(columns) == len(self.rows)  # columns are some of the rows' names: all of them
            for name, dynamo_name, sized, name_size, plain_string in self.rows:
                if not every and name not in columns:
                    continue
                value = values.get(name)
                if value is None:
                    removed.append(dynamo_name)
                    continue
                if plain_string and type(value) is str and value.isascii():
                    # the commonest column and value, without a call (what _sized_string does first)
                    if not value:
                        removed.append(dynamo_name)
                        continue
                    wire, value_size = {"S": value}, len(value)
                else:
                    if isinstance(value, Action):
                        return None
                    wire, value_size = sized(value, context)
                    if wire is None:
                        removed.append(dynamo_name)
                        continue
                written.append(dynamo_name)
                wires.append(wire)
                size += name_size + value_size
        except Exception:  # the general path dumps it again and raises the error, naming the column
            return None
        if size > MAX_ITEM_SIZE or not (written or removed):
            return None
        shape = tuple(written) if not removed else (tuple(written), tuple(removed))
        expressions = self.expressions
        expression = expressions.get(shape, _UNKNOWN)
        if expression is _UNKNOWN:
            expression = self._expression(written, removed)
            if len(expressions) >= MAX_CACHED_EXPRESSIONS:
                expressions.clear()
            expressions[shape] = expression
        if expression is None or expression is _UNKNOWN:
            return None
        stored = None
        if keep_stored:
            stored = dict(zip(written, wires))
            stored.update(dict.fromkeys(removed))
        body = {"TableName": table_name, "Key": key, "UpdateExpression": expression.text,
                "ExpressionAttributeNames": dict(expression.names)}
        if wires:
            body["ExpressionAttributeValues"] = dict(zip(expression.value_refs, wires))
        return FastSave(body, key, stored, size)

    def _expression(self, written: list[str], removed: list[str]) -> _Expression | None:
        """Rendered by the general renderer itself (placeholders for values), so the text is the same."""
        renderer = ConditionRenderer()
        changes = {self.by_dynamo_name[name]: Action(SET, index) for index, name in enumerate(written)}
        changes.update((self.by_dynamo_name[name], _REMOVE) for name in removed)
        renderer.update_expression(changes)
        text = renderer.expressions["UpdateExpression"]
        if _text_size(text) > MAX_EXPRESSION_SIZE:
            return None  # the general path raises ExpressionTooLarge
        by_index = {index: ref for ref, index in renderer.attr_values.items()}
        return _Expression(text, renderer.attr_names, tuple(by_index[index] for index in range(len(written))))


def _is_plain_string(typedef: Any) -> bool:
    cls = type(typedef)
    return cls._dump is Type._dump and cls.dynamo_dump is String.dynamo_dump


def save_plan(meta: Any) -> SavePlan:
    """The model's plan, built on first use and rebuilt after its columns change."""
    found = compiled(meta)
    plan = found.save_plan
    if plan is None:
        plan = found.save_plan = SavePlan(meta)
    return plan
