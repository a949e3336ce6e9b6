"""Update actions: what an UpdateExpression does with one attribute (SET, REMOVE, ADD, DELETE).

Assigning a plain value means SET and assigning None means REMOVE; ``add`` and ``delete`` must be
wrapped explicitly because they are relative to the stored value.
"""
from __future__ import annotations

import enum
from typing import Any

__all__ = ["Action", "ActionType", "add", "delete", "remove", "set", "unwrap", "wrap"]


class ActionType(enum.Enum):
    """Clause of an UpdateExpression; ``nestable`` actions may appear inside a List or Map value."""

    Add = ("ADD", "{name_ref.name} {value_ref.name}", False)
    Delete = ("DELETE", "{name_ref.name} {value_ref.name}", False)
    Remove = ("REMOVE", "{name_ref.name}", True)
    Set = ("SET", "{name_ref.name}={value_ref.name}", True)

    def __init__(self, wire_key: str, template: str, nestable: bool) -> None:
        self.wire_key = wire_key
        self.template = template
        self.nestable = nestable

    def new_action(self, value: Any = None) -> Action:
        return Action(self, value)

    def render(self, name_ref: Any, value_ref: Any) -> str:
        return self.template.format(name_ref=name_ref, value_ref=value_ref)


class Action:
    """An action type and its value; the value is a python value until a Type dumps it to wire form."""

    __slots__ = ("type", "value")

    def __init__(self, action_type: ActionType, value: Any) -> None:
        if not isinstance(action_type, ActionType):
            raise ValueError(f"action type must be an ActionType, not {action_type!r}")
        self.type = action_type
        self.value = value

    def __repr__(self) -> str:
        return f"<Action[{self.type.wire_key}={self.value!r}]>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Action) and self.type is other.type and self.value == other.value

    __hash__ = None  # type: ignore[assignment]


def add(value: Any) -> Action:
    """ADD: add to a number, or union into a set."""
    return Action(ActionType.Add, value)


def delete(value: Any) -> Action:
    """DELETE: remove these elements from a set."""
    return Action(ActionType.Delete, value)


def remove(value: Any = None) -> Action:
    """REMOVE: delete the attribute."""
    return Action(ActionType.Remove, None)


def set(value: Any) -> Action:  # noqa: A001 - bloop's public name
    """SET: replace the attribute; None or an empty value means REMOVE."""
    return Action(ActionType.Set, value)


def wrap(value: Any) -> Action:
    """Plain values become SET, None becomes REMOVE, actions pass through."""
    if isinstance(value, Action):
        return value
    if value is None:
        return Action(ActionType.Remove, None)
    return Action(ActionType.Set, value)


def unwrap(value: Any) -> Any:
    """The python value inside an action (or the value itself)."""
    return value.value if isinstance(value, Action) else value


# Enum attribute lookups cost about 100 ns each on Python 3.11; hot paths (dump, render) use these.
REMOVE, SET = ActionType.Remove, ActionType.Set
