"""Single-table models: several item types in one table, each read back as its own class.

A base model declares ``Column(String, discriminator=True)``; ``class Dog(Animal, discriminator="dog")``
declares a member of its family. Members share the base's table, indexes and stream (their Meta
table options are the base's), add their own columns, and never change the key schema.

The engine's paths use this module through small hooks: the write path stores each member's
discriminator value (``prepare``, ``settle``); the read path and the stream pick the class of each
item from its discriminator (``Family.resolve``, ``resolve``); a search of a member adds a filter
on the discriminator (``search_filter``); binding any member binds the whole family to the base's
table (``with_family``, ``table_model``). An item whose discriminator
names no member is read as the base class: never dropped, never an error.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .conditions import Condition, conditions_and
from .exceptions import InvalidModel, InvalidSearch
from .items import _dump
from .versioning import flagged_column

if TYPE_CHECKING:  # pragma: no cover
    from .extensions import Write

__all__ = ["Family", "family_of", "resolve", "search_filter", "setup_discriminator", "with_family"]

#: Meta options that describe the table: a member takes the base's
TABLE_OPTIONS = ("table_name", "read_units", "write_units", "billing", "stream", "ttl", "encryption", "backups")


class Family:
    """A base model and its members (by discriminator value), sharing one table."""

    def __init__(self, root: Any, column: Any) -> None:
        self.root = root
        self.name: str = column.name
        self.dynamo_name: str = column.dynamo_name
        self.classes: dict[str, Any] = {}

    def members(self) -> list[Any]:
        """The base first, then every member in declaration order."""
        return [self.root, *self.classes.values()]

    def resolve(self, item: dict) -> Any:
        """The class of a wire item: the member its discriminator names, else the base."""
        wire = item.get(self.dynamo_name)
        value = wire.get("S") if isinstance(wire, dict) else None
        return self.classes.get(value, self.root) if value is not None else self.root

    def values_under(self, model: Any) -> list[str]:
        """The discriminator values of ``model`` and its members' members."""
        return [value for value, cls in self.classes.items() if issubclass(cls, model)]


def family_of(model: Any) -> Family | None:
    """The family ``model`` belongs to (as its base or a member), or None."""
    return getattr(model.Meta, "family", None)


# ------------------------------------------------------------------------------------ declaration
def prepare_subclass(cls: Any, value: Any) -> None:
    """Before ``setup_model`` of ``class X(Base, discriminator=value)``: find the family, take the base's table."""
    if not isinstance(value, str) or not value:
        raise InvalidModel(f"{cls.__name__}: discriminator= takes a non-empty string, not {value!r}")
    parent = next((base for base in cls.__mro__[1:] if isinstance(base.__dict__.get("Meta"), type)
                   and getattr(base.Meta, "discriminator", None) is not None
                   and not base.Meta.abstract), None)
    if parent is None:
        raise InvalidModel(f"{cls.__name__}(discriminator={value!r}): none of its bases has a discriminator "
                           "column; declare Column(String, discriminator=True) on the (concrete) base model")
    family: Family = parent.Meta.family
    other = family.classes.get(value)
    if other is not None:
        raise InvalidModel(f"{cls.__name__}: the discriminator value {value!r} is already used by "
                           f"{other.__name__} under {family.root.__name__}; give each class its own value")
    meta = cls.__dict__.get("Meta")
    if meta is None:
        meta = cls.Meta = type("Meta", (), {})
    for option in TABLE_OPTIONS + ("abstract",):
        if option in meta.__dict__:
            raise InvalidModel(f"{cls.__name__}.Meta.{option}: {cls.__name__} shares {family.root.__name__}'s "
                               f"table; declare table options on {family.root.__name__}")
    root_meta = family.root.Meta
    for option in TABLE_OPTIONS:
        found = getattr(root_meta, option)
        if isinstance(found, dict):
            found = dict(found)
            if option == "ttl" and hasattr(found.get("column"), "name"):
                found["column"] = found["column"].name
        setattr(meta, option, found)
    meta.family = family
    meta.discriminator_value = value


def setup_discriminator(cls: Any, meta: Any) -> None:
    """During ``setup_model``: find and check the discriminator column; a base starts its family."""
    column = flagged_column(cls, meta, "discriminator", "discriminator")
    value = meta.__dict__.get("discriminator_value")
    if column is not None:
        if column.typedef.backing_type != "S":
            raise InvalidModel(f"{cls.__name__}.{column.name}: the discriminator column must be a String, "
                               f"not {column.typedef!r}")
    meta.discriminator = column
    if value is None:
        meta.discriminator_value = None
        family = meta.__dict__.get("family")
        if column is None or meta.abstract:
            meta.family = None
        elif family is None or family.root is not cls:
            meta.family = Family(cls, column)
        return
    family = meta.family
    if column is None or column.dynamo_name != family.dynamo_name:
        raise InvalidModel(f"{cls.__name__} must keep {family.root.__name__}'s discriminator column "
                           f"{family.name!r} (DynamoDB name {family.dynamo_name!r})")
    column.default = value  # constructing a member sets its value


def finish_subclass(cls: Any) -> None:
    """After ``setup_model`` of a member: same key schema and indexes as the base; join the family."""
    meta = cls.Meta
    family: Family = meta.family
    root_meta = family.root.Meta
    for flag in ("hash_key", "range_key"):
        mine, base = getattr(meta, flag), getattr(root_meta, flag)
        shape = (mine.dynamo_name, mine.typedef.backing_type) if mine is not None else None
        expected = (base.dynamo_name, base.typedef.backing_type) if base is not None else None
        if shape != expected:
            raise InvalidModel(f"{cls.__name__} changes the {flag} of {family.root.__name__}'s table "
                               f"({expected} -> {shape}); members of a single table share its key schema")
    mine_indexes = sorted(index.dynamo_name for index in meta.indexes)
    base_indexes = sorted(index.dynamo_name for index in root_meta.indexes)
    if mine_indexes != base_indexes:
        raise InvalidModel(f"{cls.__name__} declares indexes {mine_indexes}, but its table "
                           f"({family.root.__name__}'s) has {base_indexes}; declare indexes on the base")
    family.classes[meta.discriminator_value] = cls


def with_family(models: Iterable[Any]) -> list[Any]:
    """``models`` and every model sharing a table with one of them (binding one member binds them all).

    Classes whose declaration raised are left out.
    """
    found: list[Any] = []
    for model in models:
        if not created(model):
            continue
        family = family_of(model)
        for member in (family.members() if family is not None else [model]):
            if member not in found:
                found.append(member)
        if model not in found:
            found.append(model)
    return found


def created(model: Any) -> bool:
    """Whether ``model``'s class statement completed (one that raised InvalidModel is still a subclass)."""
    meta = model.__dict__.get("Meta")
    return meta is not None and bool(meta.__dict__.get("_created"))


def table_model(model: Any) -> Any:
    """The model whose table ``model`` uses: the base of its family, or itself."""
    family = family_of(model)
    return family.root if family is not None else model


# ------------------------------------------------------------------------------------------ writes
def prepare(writes: Sequence[Write], context: Any) -> None:
    """Every save of a member stores its discriminator value, whatever the object holds (pure)."""
    for write in writes:
        meta = type(write.obj).Meta
        value = getattr(meta, "discriminator_value", None)
        if value is not None and write.kind in ("save", "put"):
            column = meta.discriminator
            write.overrides[column.name] = _dump(column, value, context).value


def settle(write: Write) -> None:
    """After a successful save, the object holds the discriminator value that was stored."""
    meta = type(write.obj).Meta
    value = getattr(meta, "discriminator_value", None)
    if value is not None and write.kind in ("save", "put"):
        write.obj.__dict__[meta.discriminator.name] = value


# ------------------------------------------------------------------------------------------- reads
def resolve(model: Any, item: dict, expected: Any) -> tuple[Any, Any]:
    """The class to unpack ``item`` as, and the columns of that class to load.

    ``expected`` (columns of ``model``; None: all) is mapped onto the class by DynamoDB name; a
    search that reads every column of ``model`` loads every column of the class (its own too).
    """
    family = family_of(model)
    if family is None:
        return model, expected
    cls = family.resolve(item)
    if cls is model:
        return model, expected
    if expected is None or expected is model.Meta.columns or model.Meta.columns <= set(expected):
        return cls, None
    by_dynamo_name = cls.Meta.columns_by_dynamo_name
    return cls, {by_dynamo_name[c.dynamo_name] for c in expected if c.dynamo_name in by_dynamo_name}


def search_filter(model: Any, index: Any, filter: Condition | None) -> Condition | None:
    """A search of a member finds only its items: the user's filter AND a test of the discriminator."""
    meta = model.Meta
    if getattr(meta, "discriminator_value", None) is None:
        return filter
    column = meta.discriminator
    if index is not None and column not in index.projection["available"]:
        raise InvalidSearch(
            f"{model.__name__}.{index.name} does not project the discriminator column {column.name!r}, so a search "
            f"of {model.__name__} can't tell its items from the others in the table; project it in the index, or "
            f"search {meta.family.root.__name__}.{index.name} (each item comes back as its own class)")
    values = meta.family.values_under(model)
    test = column == values[0] if len(values) == 1 else column.in_(*values)
    return conditions_and(filter, test)
