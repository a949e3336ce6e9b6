"""Conditions and the rendering of every DynamoDB expression. Pure: no I/O.

User values never land in an expression string: every name becomes ``#nK`` and every value ``:vK``.
"""
from __future__ import annotations

import decimal
import operator
from typing import Any, Iterable

from .actions import REMOVE, SET, Action
from .exceptions import InvalidCondition
from .items import dump_changes
from .types import short_repr

__all__ = ["Condition", "ComparisonMixin", "Proxy", "render", "ConditionRenderer"]

_CONTAINER_TAGS = frozenset({"L", "M", "SS", "NS", "BS"})
_DUMP_ERRORS = (TypeError, ValueError, AttributeError, decimal.DecimalException)


# ---------------------------------------------------------------------------------------------- paths
class ComparisonMixin:
    """Gives columns and document paths the operators that build conditions."""

    def _path_target(self) -> tuple[Any, tuple, Any]:
        """(column, path, typedef) this operand refers to."""
        raise NotImplementedError

    __hash__ = object.__hash__  # identity; kept explicit because __eq__ builds conditions

    def __eq__(self, value: Any) -> Condition:  # type: ignore[override]
        return Comparison("==", self, value)

    def __ne__(self, value: Any) -> Condition:  # type: ignore[override]
        return Comparison("!=", self, value)

    def __lt__(self, value: Any) -> Condition:
        return Comparison("<", self, value)

    def __le__(self, value: Any) -> Condition:
        return Comparison("<=", self, value)

    def __gt__(self, value: Any) -> Condition:
        return Comparison(">", self, value)

    def __ge__(self, value: Any) -> Condition:
        return Comparison(">=", self, value)

    def is_(self, value: Any) -> Condition:
        return Comparison("==", self, value)

    def is_not(self, value: Any) -> Condition:
        return Comparison("!=", self, value)

    def begins_with(self, value: Any) -> Condition:
        return BeginsWith(self, value)

    def between(self, lower: Any, upper: Any) -> Condition:
        return Between(self, lower, upper)

    def contains(self, value: Any) -> Condition:
        return Contains(self, value)

    def in_(self, *values: Any) -> Condition:
        """``col.in_(a, b)`` or ``col.in_([a, b])``; on a list, set or map column each argument is one value."""
        if (len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset))
                and self._path_target()[2].backing_type not in _CONTAINER_TAGS):
            values = tuple(values[0])
        return In(self, values)

    def __getitem__(self, key: Any) -> Proxy:
        column, path, typedef = self._path_target()
        try:
            inner = typedef[key]
        except Exception as error:
            raise InvalidCondition(f"can't build the path {_path_text(column, path + (key,))}: {error}") from None
        return Proxy(column, path + (key,), inner)


class Proxy(ComparisonMixin):
    """A document path into a column: ``Model.data["address"]["lines"][0]``."""

    def __init__(self, column: Any, path: tuple, typedef: Any) -> None:
        self._column = column
        self._path = path
        self._typedef = typedef

    def _path_target(self) -> tuple[Any, tuple, Any]:
        return self._column, self._path, self._typedef

    def __repr__(self) -> str:
        return f"<Path[{_path_text(self._column, self._path)}]>"


def _path_text(column: Any, path: tuple) -> str:
    text = f"{getattr(column.model, '__name__', '?')}.{column.name}"
    for key in path:
        text += f"[{key!r}]"
    return text


def _target(operand: Any) -> tuple[Any, tuple, Any]:
    if not isinstance(operand, ComparisonMixin):
        raise InvalidCondition(f"conditions compare a column or a path, not {operand!r}")
    return operand._path_target()


def _check_supported(operation: str, operand: Any) -> tuple[Any, tuple, Any]:
    column, path, typedef = _target(operand)
    if not typedef.supports_operation(operation):
        raise InvalidCondition(
            f"{operation!r} is not supported on {_path_text(column, path)} of type {typedef!r} "
            f"(DynamoDB type {typedef.backing_type}); use a column whose type supports it")
    return column, path, typedef


# ----------------------------------------------------------------------------------------- conditions
class Condition:
    """The empty condition: falsy, the identity for ``&`` and ``|``, renders nothing."""

    def __and__(self, other: Any) -> Condition:
        return _combine(And, self, _as_condition(other))

    def __rand__(self, other: Any) -> Condition:
        return _combine(And, _as_condition(other), self)

    def __or__(self, other: Any) -> Condition:
        return _combine(Or, self, _as_condition(other))

    def __ror__(self, other: Any) -> Condition:
        return _combine(Or, _as_condition(other), self)

    def __invert__(self) -> Condition:
        if isinstance(self, Not):
            return self.condition
        if not self:
            return self
        return Not(self)

    __neg__ = __invert__

    def __bool__(self) -> bool:
        return type(self) is not Condition

    def __len__(self) -> int:
        return 0 if type(self) is Condition else 1

    def __repr__(self) -> str:
        return "()" if type(self) is Condition else self._repr()

    def _repr(self) -> str:
        return "()"

    def render(self, renderer: ConditionRenderer) -> str | None:
        return None

    def iter_columns(self) -> Iterable[Any]:
        return ()


def conditions_and(left: Any, right: Any) -> Any:
    """``left & right`` where either may be None or empty."""
    if left and right:
        return left & right
    return left or right


def _as_condition(value: Any) -> Condition:
    if not isinstance(value, Condition):
        raise InvalidCondition(f"can only combine conditions with & and |, not {value!r}")
    return value


def _combine(kind: type, left: Condition, right: Condition) -> Condition:
    if not left:
        return right
    if not right:
        return left
    parts: list[Condition] = []
    for side in (left, right):
        parts.extend(side.conditions if type(side) is kind else [side])  # type: ignore[attr-defined]
    return kind(*parts)


class _Compound(Condition):
    keyword = ""

    def __init__(self, *conditions: Condition) -> None:
        self.conditions = [c for c in conditions if c]

    def __len__(self) -> int:
        return sum(len(c) for c in self.conditions)

    def __iand__(self, other: Any) -> Condition:
        if isinstance(self, And):
            self.conditions.extend(_flatten(And, _as_condition(other)))
            return self
        return self & other

    def __ior__(self, other: Any) -> Condition:
        if isinstance(self, Or):
            self.conditions.extend(_flatten(Or, _as_condition(other)))
            return self
        return self | other

    def _repr(self) -> str:
        return "(" + f" {self.keyword.lower()} ".join(repr(c) for c in self.conditions) + ")"

    def render(self, renderer: ConditionRenderer) -> str | None:
        rendered = [r for r in (c.render(renderer) for c in self.conditions) if r]
        if not rendered:
            return None
        if len(rendered) == 1:
            return rendered[0]
        return "(" + f" {self.keyword} ".join(rendered) + ")"

    def iter_columns(self) -> Iterable[Any]:
        for condition in self.conditions:
            yield from condition.iter_columns()


def _flatten(kind: type, condition: Condition) -> list[Condition]:
    if not condition:
        return []
    return list(condition.conditions) if type(condition) is kind else [condition]  # type: ignore[attr-defined]


class And(_Compound):
    keyword = "AND"


class Or(_Compound):
    keyword = "OR"


class Not(Condition):
    def __init__(self, condition: Condition) -> None:
        self.condition = condition

    def __len__(self) -> int:
        return len(self.condition)

    def _repr(self) -> str:
        return f"(~{self.condition!r})"

    def render(self, renderer: ConditionRenderer) -> str | None:
        inner = self.condition.render(renderer)
        return f"(NOT {inner})" if inner else None

    def iter_columns(self) -> Iterable[Any]:
        return self.condition.iter_columns()


class Comparison(Condition):
    """``== != < <= > >=``; ``== None`` / ``!= None`` test for absence / presence."""

    def __init__(self, operation: str, operand: Any, value: Any) -> None:
        if value is None and operation not in ("==", "!="):
            column, path, _ = _target(operand)
            raise InvalidCondition(
                f"{_path_text(column, path)} {operation} None is meaningless; only == None and != None are allowed")
        self.column, self.path, self.typedef = _check_supported(operation, operand)
        self.operand = operand
        self.operation = operation
        self.value = value

    def _repr(self) -> str:
        return f"({_path_text(self.column, self.path)} {self.operation} {self.value!r})"

    def render(self, renderer: ConditionRenderer) -> str:
        name = renderer.name_ref(self.column, self.path)
        absent = self.value is None
        if not absent and self.operation in ("==", "!=") and not isinstance(self.value, ComparisonMixin):
            # an empty value is how a missing attribute loads, so == "" / set() / {} means "absent" (as in bloop)
            absent = renderer.dump(self.typedef, self.value, self.column, self.path) is None
        if absent:
            return f"(attribute_not_exists({name}))" if self.operation == "==" else f"(attribute_exists({name}))"
        value = renderer.value_ref(self.typedef, self.value, self.column, self.path)
        operation = "<>" if self.operation == "!=" else ("=" if self.operation == "==" else self.operation)
        return f"({name} {operation} {value})"

    def iter_columns(self) -> Iterable[Any]:
        yield self.column
        if isinstance(self.value, ComparisonMixin):
            yield _target(self.value)[0]


class BeginsWith(Condition):
    def __init__(self, operand: Any, value: Any) -> None:
        self.column, self.path, self.typedef = _check_supported("begins_with", operand)
        if value is None:
            raise InvalidCondition(f"begins_with on {_path_text(self.column, self.path)} needs a value, not None")
        self.value = value

    def _repr(self) -> str:
        return f"begins_with({_path_text(self.column, self.path)}, {self.value!r})"

    def render(self, renderer: ConditionRenderer) -> str:
        name = renderer.name_ref(self.column, self.path)
        return f"(begins_with({name}, {renderer.value_ref(self.typedef, self.value, self.column, self.path)}))"

    def iter_columns(self) -> Iterable[Any]:
        yield self.column


class Between(Condition):
    def __init__(self, operand: Any, lower: Any, upper: Any) -> None:
        self.column, self.path, self.typedef = _check_supported("between", operand)
        if lower is None or upper is None:
            raise InvalidCondition(f"between on {_path_text(self.column, self.path)} needs two values, not None")
        self.lower, self.upper = lower, upper

    def _repr(self) -> str:
        return f"({_path_text(self.column, self.path)} between [{self.lower!r}, {self.upper!r}])"

    def render(self, renderer: ConditionRenderer) -> str:
        name = renderer.name_ref(self.column, self.path)
        lower = renderer.value_ref(self.typedef, self.lower, self.column, self.path)
        upper = renderer.value_ref(self.typedef, self.upper, self.column, self.path)
        low, high = renderer.attr_values.get(lower), renderer.attr_values.get(upper)
        if low is not None and high is not None and _order(low) > _order(high):
            raise InvalidCondition(
                f"{_path_text(self.column, self.path)}.between({self.lower!r}, {self.upper!r}) has its bounds "
                "reversed; DynamoDB rejects a lower bound above the upper one. Swap them")
        return f"({name} BETWEEN {lower} AND {upper})"

    def iter_columns(self) -> Iterable[Any]:
        yield self.column


class Contains(Condition):
    """For sets and lists the value is one element, dumped with the element type."""

    def __init__(self, operand: Any, value: Any) -> None:
        self.column, self.path, typedef = _check_supported("contains", operand)
        if value is None:
            raise InvalidCondition(f"contains on {_path_text(self.column, self.path)} needs a value, not None")
        self.typedef = getattr(typedef, "inner_typedef", typedef)
        self.value = value

    def _repr(self) -> str:
        return f"contains({_path_text(self.column, self.path)}, {self.value!r})"

    def render(self, renderer: ConditionRenderer) -> str:
        name = renderer.name_ref(self.column, self.path)
        return f"(contains({name}, {renderer.value_ref(self.typedef, self.value, self.column, self.path)}))"

    def iter_columns(self) -> Iterable[Any]:
        yield self.column


class In(Condition):
    def __init__(self, operand: Any, values: tuple) -> None:
        self.column, self.path, self.typedef = _check_supported("in", operand)
        if not values:
            raise InvalidCondition(
                f"in_ on {_path_text(self.column, self.path)} needs at least one value: col.in_(a, b) or col.in_([a])")
        if len(values) > 100:
            raise InvalidCondition(f"in_ takes at most 100 values (DynamoDB's limit), got {len(values)}")
        if any(v is None for v in values):
            raise InvalidCondition(f"in_ on {_path_text(self.column, self.path)} can't match None; use == None")
        self.values = list(values)

    def _repr(self) -> str:
        return f"({_path_text(self.column, self.path)} in {self.values!r})"

    def render(self, renderer: ConditionRenderer) -> str:
        name = renderer.name_ref(self.column, self.path)
        refs = ", ".join(renderer.value_ref(self.typedef, v, self.column, self.path) for v in self.values)
        return f"({name} IN ({refs}))"

    def iter_columns(self) -> Iterable[Any]:
        yield self.column


def _order(wire: dict) -> Any:
    """DynamoDB's order for a wire value: numbers by value, strings and bytes by their bytes."""
    ((tag, value),) = wire.items()
    if tag == "N":
        return decimal.Decimal(value)
    if tag == "S":
        return value.encode("utf-8")
    return bytes(value)


def _check_owner(column: Any, model: Any) -> None:
    """A condition on ``model`` may only name its own columns (or ones it inherited)."""
    mine = model.Meta.columns_by_dynamo_name.get(column.dynamo_name)
    if mine is column:
        return
    owner = column.model
    if mine is not None and (owner is None or (isinstance(owner, type) and issubclass(model, owner))):
        return
    raise InvalidCondition(
        f"the condition uses {_path_text(column, ())}, which is not a column of {model.__name__}; "
        f"build the condition from {model.__name__}'s own columns")


# DynamoDB's limit on any one expression string (ConditionExpression, UpdateExpression, ...)
MAX_EXPRESSION_LENGTH = 4096

# ------------------------------------------------------------------------------------------ rendering
_CLAUSE_ORDER = ("ADD", "DELETE", "REMOVE", "SET")
_dynamo_name = operator.attrgetter("dynamo_name")


class ConditionRenderer:
    """Collects ExpressionAttributeNames/Values while expressions are rendered."""

    def __init__(self, engine: Any = None) -> None:
        self.engine = engine
        self.context = {"engine": engine}
        self.attr_names: dict[str, str] = {}
        self.attr_values: dict[str, Any] = {}
        self._name_refs: dict[str, str] = {}
        self.expressions: dict[str, str] = {}

    def _name(self, name: str) -> str:
        ref = self._name_refs.get(name)
        if ref is None:
            ref = self._name_refs[name] = f"#n{len(self._name_refs)}"
            self.attr_names[ref] = name
        return ref

    def name_ref(self, column: Any, path: tuple = ()) -> str:
        text = self._name(column.dynamo_name)
        for key in path:
            text += f"[{key}]" if isinstance(key, int) else f".{self._name(key)}"
        return text

    def wire_value_ref(self, wire: Any) -> str:
        ref = f":v{len(self.attr_values)}"
        self.attr_values[ref] = wire
        return ref

    def dump(self, typedef: Any, value: Any, column: Any = None, path: tuple = ()) -> Any:
        """The wire value of a condition operand, or None when it is empty; InvalidCondition if refused."""
        try:
            action = typedef._dump(value, context=self.context)
        except _DUMP_ERRORS as error:
            where = _path_text(column, path) if column is not None else repr(typedef)
            raise InvalidCondition(f"can't compare {where} with {short_repr(value)}: {error}") from error
        return None if action.type is REMOVE else action.value

    def value_ref(self, typedef: Any, value: Any, column: Any = None, path: tuple = ()) -> str:
        if isinstance(value, ComparisonMixin):
            other, other_path, _ = value._path_target()
            return self.name_ref(other, other_path)
        wire = self.dump(typedef, value, column, path)
        if wire is None:
            where = _path_text(column, path) if column is not None else repr(typedef)
            raise InvalidCondition(
                f"{where} is compared with {short_repr(value)}, which DynamoDB can't store (empty); "
                "compare with None instead")
        return self.wire_value_ref(wire)

    def condition_expression(self, key: str, condition: Condition | None, model: Any = None) -> None:
        """Render ``condition`` as the ``key`` expression; with ``model``, every column must be that model's."""
        if condition:
            if model is not None:
                for column in condition.iter_columns():
                    _check_owner(column, model)
            rendered = condition.render(self)
            if rendered:
                self.expressions[key] = rendered

    def projection_expression(self, columns: Iterable[Any]) -> None:
        refs = sorted({self.name_ref(column) for column in columns})
        if refs:
            self.expressions["ProjectionExpression"] = ", ".join(refs)

    def update_expression(self, actions: dict[Any, Action]) -> None:
        """``actions`` maps columns to dumped actions; renders ADD, DELETE, REMOVE, SET clauses in order."""
        # clauses by wire key: an ActionType hashes in python (enum.__hash__), a str in C
        clauses: dict[str, list[str]] = {}
        values, names, name_refs = self.attr_values, self.attr_names, self._name_refs
        for column in sorted(actions, key=_dynamo_name):
            action = actions[column]
            dynamo_name = column.dynamo_name
            name = name_refs.get(dynamo_name)
            if name is None:  # self._name, inlined
                name = name_refs[dynamo_name] = f"#n{len(name_refs)}"
                names[name] = dynamo_name
            kind = action.type
            if kind is REMOVE:
                clause = name
            else:
                ref = f":v{len(values)}"
                values[ref] = action.value
                clause = f"{name}={ref}" if kind is SET else f"{name} {ref}"
            found = clauses.get(kind.wire_key)
            if found is None:
                clauses[kind.wire_key] = [clause]
            else:
                found.append(clause)
        if clauses:
            self.expressions["UpdateExpression"] = " ".join(
                f"{key} {', '.join(clauses[key])}" for key in _CLAUSE_ORDER if key in clauses)

    @property
    def output(self) -> dict[str, Any]:
        for key, expression in self.expressions.items():
            if len(expression) > MAX_EXPRESSION_LENGTH:  # placeholders only, so characters are bytes
                raise InvalidCondition(
                    f"the {key} would be {len(expression)} characters; DynamoDB's limit is "
                    f"{MAX_EXPRESSION_LENGTH}. Use fewer conditions, or save fewer changed columns at once")
        out: dict[str, Any] = dict(self.expressions)
        if self.attr_names:
            out["ExpressionAttributeNames"] = self.attr_names
        if self.attr_values:
            out["ExpressionAttributeValues"] = self.attr_values
        return out


def render(engine: Any, obj: Any = None, condition: Condition | None = None, update: bool = False,
           filter: Condition | None = None, projection: Iterable | None = None,
           key: Condition | None = None) -> dict[str, Any]:
    """Render the named expressions into request parameters (bloop's ``render`` signature)."""
    renderer = ConditionRenderer(engine)
    renderer.condition_expression("KeyConditionExpression", key)
    renderer.condition_expression("ConditionExpression", condition)
    renderer.condition_expression("FilterExpression", filter)
    if projection is not None:
        renderer.projection_expression(projection)
    if update and obj is not None:
        renderer.update_expression(dump_changes(obj, context=renderer.context))
    return renderer.output
