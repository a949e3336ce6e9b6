"""Models, columns and indexes: the declarative layer. Pure: no I/O.

Each model class gets its own ``Meta`` (never inherited), validated when the class is created; the
options themselves (defaults, checks, DynamoDB's naming rules) are bloop.declarations.
Change tracking (bloop.tracking) lives on each instance; dumping and loading items is bloop.items.
Both are re-exported here, where they have always been imported from.
"""
from __future__ import annotations

import copy
import datetime
import uuid
from typing import Any, ClassVar, Generic, Iterable, TypeVar, overload

import declare

from . import signals
from .actions import Action
from .conditions import ComparisonMixin
from .declarations import (
    MAX_KEY_NAME_BYTES,
    MAX_LSIS,
    MAX_PROJECTED_ATTRIBUTES,
    IMeta,
    _setup_meta,
    check_name,
    check_options,
)
from .declarations import META_OPTIONS as META_OPTIONS
from .declarations import NAME_PATTERN as NAME_PATTERN
from .declarations import STREAM_VIEWS as STREAM_VIEWS
from .exceptions import InvalidModel
from .items import Compiled as Compiled
from .items import _dump as _dump
from .items import compiled as compiled
from .items import dump_changes as dump_changes
from .items import dump_item as dump_item
from .items import dump_key as dump_key
from .items import load_error as load_error
from .items import unpack_from_dynamodb as unpack_from_dynamodb
from .polymorphism import finish_subclass, prepare_subclass, setup_discriminator
from .tracking import _mark as _mark
from .tracking import clear_marks as clear_marks
from .tracking import marked as marked
from .tracking import set_synced as set_synced
from .tracking import settle_after_save as settle_after_save
from .tracking import synced_with as synced_with
from .types import MAX_DEPTH, UUID, DateTime, Integer, Timestamp, Type, nesting_depth
from .util import missing
from .versioning import setup_version

__all__ = [
    "BaseModel", "Column", "GlobalSecondaryIndex", "LocalSecondaryIndex", "Index", "IMeta",
    "bind_column", "bind_index", "unbind", "refresh_index", "unpack_from_dynamodb",
]

T = TypeVar("T")

_object_modified = signals.object_modified


# -------------------------------------------------------------------------------------------- columns
class Column(ComparisonMixin, declare.Declare[T], Generic[T]):
    """A typed attribute. ``Column(String, hash_key=True)``; reading an unset attribute raises AttributeError.

    Built on ``declare.Declare`` for its typed descriptor protocol (``Column[T]`` so that type checkers see
    ``user.email`` as ``str``); bloop's own ``__get__``/``__set__`` give bloop's semantics (unset is not a
    default, every assignment marks the column, ``object_modified`` fires).
    """

    model: Any
    name: str

    # Subclasses that narrow their parent's python type come first (Integer is a Number, UUID a String).
    @overload
    def __init__(self: Column[datetime.datetime], typedef: type[Timestamp] | Timestamp | type[DateTime] | DateTime,
                 hash_key: bool = ..., range_key: bool = ..., dynamo_name: str | None = ...,
                 default: Any = ..., version: bool = ..., discriminator: bool = ...) -> None: ...

    @overload
    def __init__(self: Column[int], typedef: type[Integer] | Integer, hash_key: bool = ..., range_key: bool = ...,
                 dynamo_name: str | None = ..., default: Any = ..., version: bool = ...,
                 discriminator: bool = ...) -> None: ...

    @overload
    def __init__(self: Column[uuid.UUID], typedef: type[UUID] | UUID, hash_key: bool = ..., range_key: bool = ...,
                 dynamo_name: str | None = ..., default: Any = ..., version: bool = ...,
                 discriminator: bool = ...) -> None: ...

    @overload
    def __init__(self: Column[T], typedef: type[Type[T]], hash_key: bool = ..., range_key: bool = ...,
                 dynamo_name: str | None = ..., default: Any = ..., version: bool = ...,
                 discriminator: bool = ...) -> None: ...

    @overload
    def __init__(self: Column[T], typedef: Type[T], hash_key: bool = ..., range_key: bool = ...,
                 dynamo_name: str | None = ..., default: Any = ..., version: bool = ...,
                 discriminator: bool = ...) -> None: ...

    def __init__(self, typedef: Any, hash_key: bool = False, range_key: bool = False,
                 dynamo_name: str | None = None, default: Any = missing, version: bool = False,
                 discriminator: bool = False) -> None:
        declare.Declare.__init__(self, default)
        if isinstance(typedef, type) and issubclass(typedef, Type):
            typedef = typedef()
        if not isinstance(typedef, Type):
            raise TypeError(f"Column expected a bloop Type (e.g. String or String()), got {typedef!r}")
        if hash_key and range_key:
            raise InvalidModel("a Column can't be both hash_key and range_key")
        if nesting_depth(typedef) > MAX_DEPTH:
            raise InvalidModel(f"{typedef!r} nests lists and maps more than {MAX_DEPTH} levels deep, "
                               "DynamoDB's limit; flatten the structure")
        self.typedef = typedef
        self.hash_key = bool(hash_key)
        self.range_key = bool(range_key)
        #: the optimistic-locking version column (bloop.versioning)
        self.version = bool(version)
        #: the column naming each item's class in a single-table design (bloop.polymorphism)
        self.discriminator = bool(discriminator)
        self._dynamo_name = dynamo_name
        self.dynamo_name: str = dynamo_name  # type: ignore[assignment]  # completed by __set_name__
        self.default = default
        self.model = None
        self.name = None  # type: ignore[assignment]

    def _path_target(self) -> tuple[Any, tuple, Any]:
        return self, (), self.typedef

    def __set_name__(self, owner: Any, name: str) -> None:
        self.name = name
        self._name = name
        # a plain attribute, not a property: it is read for every column of every dump and render
        self.dynamo_name = self._dynamo_name or name

    @overload
    def __get__(self, obj: None, objtype: Any = None) -> Column[T]: ...

    @overload
    def __get__(self, obj: object, objtype: Any = None) -> T: ...

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {self.name!r}") from None

    # Typed so a checker rejects ``user.visits = "oops"``; None and update actions (``add(1)``) are allowed.
    def __set__(self, obj: Any, value: T | Action | None) -> None:
        values = obj.__dict__
        values[self.name] = value
        _mark(values, self.name)
        if _object_modified.receivers:  # nobody listening is the common case: skip building the call
            _object_modified.send(self, obj=obj, column=self, value=value)

    def __delete__(self, obj: Any) -> None:
        values = obj.__dict__
        values.pop(self.name, None)
        _mark(values, self.name)
        if _object_modified.receivers:
            _object_modified.send(self, obj=obj, column=self, value=None)

    def __copy__(self) -> Column[T]:
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.model = None
        clone.name = None  # type: ignore[assignment]  # set again by __set_name__ when bound
        return clone

    def __repr__(self) -> str:
        flags = "=hash" if self.hash_key else "=range" if self.range_key else ""
        owner = getattr(self.model, "__name__", "?")
        return f"<Column[{owner}.{self.name}{flags}]>"

    def default_value(self) -> Any:
        return self.default() if callable(self.default) else self.default


# -------------------------------------------------------------------------------------------- indexes
class Index:
    """Common parts of GSIs and LSIs; key columns are given by name or Column and resolved late."""

    def __init__(self, *, projection: Any, hash_key: Any = None, range_key: Any = None,
                 dynamo_name: str | None = None, **kwargs: Any) -> None:
        self.model: Any = None
        self.name: str | None = None
        self._dynamo_name = dynamo_name
        self._hash_key = hash_key
        self._range_key = range_key
        self.hash_key: Any = None
        self.range_key: Any = None
        self.projection: dict[str, Any] = _validate_projection(projection)
        self.read_units = kwargs.pop("read_units", None)
        self.write_units = kwargs.pop("write_units", None)
        if kwargs:
            raise InvalidModel(f"unexpected index arguments {sorted(kwargs)}")

    @property
    def dynamo_name(self) -> str:
        return self._dynamo_name or self.name  # type: ignore[return-value]

    @property
    def keys(self) -> set:
        return {c for c in (self.hash_key, self.range_key) if c is not None}

    def __set_name__(self, owner: Any, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        raise AttributeError(f"{type(obj).__name__}.{self.name} is an index; it has no value on an instance")

    def __set__(self, obj: Any, value: Any) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self.name} is an index; it can't be set")

    def __delete__(self, obj: Any) -> None:
        raise AttributeError(f"{type(obj).__name__}.{self.name} is an index; it can't be deleted")

    def __copy__(self) -> Index:
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.projection = dict(self.projection)
        clone.model = None
        clone.name = None
        clone.hash_key = clone.range_key = None
        return clone

    def __repr__(self) -> str:
        kind = "GSI" if isinstance(self, GlobalSecondaryIndex) else "LSI"
        owner = getattr(self.model, "__name__", "?")
        return f"<{kind}[{owner}.{self.name}={self.projection['mode']}]>"


class GlobalSecondaryIndex(Index):
    """An index with its own hash key (and optional range key) and its own throughput."""

    def __init__(self, *, projection: Any, hash_key: Any, range_key: Any = None, read_units: int | None = None,
                 write_units: int | None = None, dynamo_name: str | None = None) -> None:
        super().__init__(projection=projection, hash_key=hash_key, range_key=range_key, dynamo_name=dynamo_name,
                         read_units=read_units, write_units=write_units)


class LocalSecondaryIndex(Index):
    """An index sharing the table's hash key with another range key; ``strict=False`` reads all columns."""

    def __init__(self, *, projection: Any, range_key: Any, dynamo_name: str | None = None, strict: bool = True,
                 **kwargs: Any) -> None:
        for bad in ("hash_key", "read_units", "write_units"):
            if bad in kwargs:
                raise InvalidModel(f"LocalSecondaryIndex takes no {bad!r}: an LSI shares it with the table")
        super().__init__(projection=projection, range_key=range_key, dynamo_name=dynamo_name, **kwargs)
        self.projection["strict"] = strict

    @property
    def read_units(self) -> int | None:
        return getattr(self.model.Meta, "read_units", None) if self.model else None

    @read_units.setter
    def read_units(self, value: Any) -> None:
        pass

    @property
    def write_units(self) -> int | None:
        return getattr(self.model.Meta, "write_units", None) if self.model else None

    @write_units.setter
    def write_units(self, value: Any) -> None:
        pass


def _validate_projection(projection: Any) -> dict[str, Any]:
    if projection in ("all", "keys"):
        return {"mode": projection, "included": None, "available": None, "strict": True}
    if isinstance(projection, str) or not isinstance(projection, Iterable):
        raise InvalidModel(f'index projection must be "all", "keys" or a list of columns, not {projection!r}')
    items = list(projection)
    if not items:
        raise InvalidModel('an "include" projection needs at least one column; use "keys" for none')
    if all(isinstance(i, str) for i in items) or all(isinstance(i, Column) for i in items):
        return {"mode": "include", "included": items, "available": None, "strict": True}
    raise InvalidModel(f"index projection mixes names and Columns: {items!r}; use one or the other")


# ----------------------------------------------------------------------------------------------- Meta
def _resolve_column(model: Any, ref: Any, what: str) -> Column:
    meta = model.Meta
    if isinstance(ref, Column):
        ref = ref.name
    column = meta.columns_by_name.get(ref) if isinstance(ref, str) else None
    if column is None:
        raise InvalidModel(f"{model.__name__}: {what} refers to {ref!r}, which is not a column of the model")
    return column


def _collect(cls: Any) -> tuple[dict[str, Column], dict[str, Index]]:
    """Columns and indexes by attribute name: inherited ones copied, local ones winning, None hiding."""
    found: dict[str, Any] = {}
    for base in reversed(cls.__mro__[1:]):
        if base is object:
            continue
        for name, value in vars(base).items():
            if isinstance(value, (Column, Index)):
                found[name] = ("inherited", value)
            elif name in found and name != "Meta":
                del found[name]  # a later base hid it
    columns: dict[str, Column] = {}
    indexes: dict[str, Index] = {}
    # a local column or index replaces an inherited one with the same DynamoDB name (as in bloop)
    local_names = {(isinstance(value, Column), value.dynamo_name) for value in cls.__dict__.values()
                   if isinstance(value, (Column, Index))}
    local_keys = {flag for value in cls.__dict__.values() if isinstance(value, Column)
                  for flag in ("hash_key", "range_key") if getattr(value, flag)}
    for name, (_, value) in found.items():
        if name in cls.__dict__:
            continue
        if (isinstance(value, Column), _dynamo_name_of(value)) in local_names:
            continue
        clone = copy.copy(value)
        for flag in local_keys:
            if getattr(clone, flag, False):
                setattr(clone, flag, False)  # a local key column replaces the inherited key (as in bloop)
        clone.__set_name__(cls, name)
        setattr(cls, name, clone)
        (columns if isinstance(clone, Column) else indexes)[name] = clone
    for name, value in cls.__dict__.items():
        if isinstance(value, Column):
            columns[name] = value
        elif isinstance(value, Index):
            indexes[name] = value
    return columns, indexes


def _dynamo_name_of(value: Any) -> str:
    """The DynamoDB name an inherited attribute will have (its own name when it has none given)."""
    return value._dynamo_name or value.name


def setup_model(cls: Any) -> None:
    meta = _setup_meta(cls)
    columns, indexes = _collect(cls)
    meta.columns = set()
    meta.columns_by_name = {}
    meta.columns_by_dynamo_name = {}
    meta.indexes, meta.gsis, meta.lsis = set(), set(), set()
    meta.hash_key = meta.range_key = None
    meta.keys = set()
    for name, column in columns.items():
        column.model = cls
        column.__set_name__(cls, name)
        other = meta.columns_by_dynamo_name.get(column.dynamo_name)
        if other is not None:
            raise InvalidModel(
                f"{cls.__name__}: columns {other.name!r} and {name!r} both use the DynamoDB name "
                f"{column.dynamo_name!r}; give one of them another dynamo_name")
        for flag in ("hash_key", "range_key"):
            if getattr(column, flag):
                current = getattr(meta, flag)
                if current is not None:
                    raise InvalidModel(
                        f"{cls.__name__}: both {current.name!r} and {name!r} are marked {flag}; a model has one")
                if column.typedef.backing_type not in ("S", "N", "B"):
                    raise InvalidModel(
                        f"{cls.__name__}.{name}: a {flag} must be a String, Number or Binary type, "
                        f"not {column.typedef!r}")
                setattr(meta, flag, column)
        meta.columns.add(column)
        meta.columns_by_name[name] = column
        meta.columns_by_dynamo_name[column.dynamo_name] = column
    meta.keys = {c for c in (meta.hash_key, meta.range_key) if c is not None}
    setup_version(cls, meta)
    setup_discriminator(cls, meta)
    if not meta.abstract and meta.hash_key is None:
        raise InvalidModel(
            f"{cls.__name__} has no hash key; mark one column Column(..., hash_key=True) "
            "or declare Meta.abstract = True")
    for name, index in indexes.items():
        index.model = cls
        index.name = name
        _bind_index(cls, index)
    meta.projection = {"mode": "all", "included": meta.columns, "available": meta.columns, "strict": True}
    _validate_meta(cls, meta)
    meta._compiled = None


def _bind_index(cls: Any, index: Index) -> None:
    meta = cls.Meta
    where = f"{cls.__name__}.{index.name}"
    if isinstance(index, LocalSecondaryIndex):
        if meta.range_key is None:
            raise InvalidModel(f"{where}: a LocalSecondaryIndex needs the model to have a range key")
        index.hash_key = meta.hash_key
    else:
        index.hash_key = _resolve_column(cls, index._hash_key, f"{where} hash_key")
    if index._range_key is not None:
        index.range_key = _resolve_column(cls, index._range_key, f"{where} range_key")
    for key in index.keys:
        if key.typedef.backing_type not in ("S", "N", "B"):
            raise InvalidModel(f"{where}: index key {key.name!r} must be a String, Number or Binary type")
    for other in meta.indexes:
        if other.dynamo_name == index.dynamo_name and other is not index:
            raise InvalidModel(f"{cls.__name__}: two indexes are named {index.dynamo_name!r}")
    refresh_index(meta, index)
    meta.indexes.add(index)
    (meta.lsis if isinstance(index, LocalSecondaryIndex) else meta.gsis).add(index)


def refresh_index(meta: Any, index: Index) -> None:
    """Recompute the index's projection after columns change."""
    projection = index.projection
    mode = projection["mode"]
    keys = set(meta.keys) | index.keys
    if mode == "all":
        included = set(meta.columns)
    elif mode == "keys":
        included = keys
    else:
        names = projection.get("names")
        if names is None:
            names = projection["names"] = [c.name if isinstance(c, Column) else c for c in projection["included"]]
        included = keys | {_resolve_column(meta.model, n, f"{meta.model.__name__}.{index.name} projection")
                           for n in names}
    projection["included"] = included
    strict = projection.get("strict", True)
    projection["available"] = included if strict else set(meta.columns)


def _validate_indexes(cls: Any, meta: Any) -> None:
    name = cls.__name__
    for index in meta.indexes:
        check_name(f"{name}.{index.name}: index name", index.dynamo_name)
        if isinstance(index, GlobalSecondaryIndex):
            for units in ("read_units", "write_units"):
                value = getattr(index, units)
                if value is not None and (type(value) is not int or value < 1):
                    raise InvalidModel(f"{name}.{index.name}.{units} must be a positive int or None, not {value!r}")
        names = [c.dynamo_name for c in index.keys]
        if isinstance(index, LocalSecondaryIndex) and index.projection["mode"] == "include":
            names += [c.dynamo_name for c in index.projection["included"]]
        for column_name in names:
            if len(column_name.encode("utf-8")) > MAX_KEY_NAME_BYTES:
                raise InvalidModel(f"{name}.{index.name}: the attribute name {column_name[:40]!r}... is over "
                                   f"{MAX_KEY_NAME_BYTES} bytes, DynamoDB's limit for index keys and LSI projections")
    if len(meta.lsis) > MAX_LSIS:
        raise InvalidModel(f"{name} declares {len(meta.lsis)} LocalSecondaryIndexes; DynamoDB allows {MAX_LSIS}. "
                           "Use a GlobalSecondaryIndex for the others")
    projected = 0
    for index in meta.indexes:
        if index.projection["mode"] == "include":
            keys = {c.dynamo_name for c in meta.keys | index.keys}
            projected += len({c.dynamo_name for c in index.projection["included"]} - keys)
    if projected > MAX_PROJECTED_ATTRIBUTES:
        raise InvalidModel(f"{name}'s indexes project {projected} non-key attributes by name; DynamoDB allows "
                           f"{MAX_PROJECTED_ATTRIBUTES} across all indexes. Project 'all' or 'keys' on some of them")


def _validate_meta(cls: Any, meta: Any) -> None:
    _validate_indexes(cls, meta)
    check_options(cls, meta, _resolve_column)


def bind_column(model: Any, name: str, column: Column, force: bool = False, recursive: bool = False,
                copy: bool = False) -> Column:
    """Add a column to a model class after its creation (and optionally to its subclasses)."""
    from .util import walk_subclasses
    if copy:
        column = column.__copy__()
    meta = model.Meta
    existing = meta.columns_by_name.get(name)
    same_dynamo = meta.columns_by_dynamo_name.get(column._dynamo_name or name)
    if (existing is not None or same_dynamo is not None) and not force:
        raise InvalidModel(f"{model.__name__} already has a column {name!r}; pass force=True to replace it")
    column.__set_name__(model, name)
    setattr(model, name, column)
    refresh_model(model)
    if recursive:
        for sub in walk_subclasses(model):
            bind_column(sub, name, column, force=True, recursive=False, copy=True)
    return column


def bind_index(model: Any, name: str, index: Index, force: bool = False, recursive: bool = True,
               copy: bool = False) -> Index:
    """Add an index to a model class after its creation (by default to subclasses too)."""
    from .util import walk_subclasses
    if copy:
        index = index.__copy__()
    if any(i.name == name for i in model.Meta.indexes) and not force:
        raise InvalidModel(f"{model.__name__} already has an index {name!r}; pass force=True to replace it")
    index.__set_name__(model, name)
    setattr(model, name, index)
    refresh_model(model)
    if recursive:
        for sub in walk_subclasses(model):
            bind_index(sub, name, index, force=True, recursive=False, copy=True)
    return index


def unbind(meta: Any, name: str | None = None, dynamo_name: str | None = None) -> None:
    """Remove a column or index by python name or DynamoDB name."""
    model = meta.model
    target = None
    for attr in list(meta.columns) + list(meta.indexes):
        if (name is not None and attr.name == name) or (dynamo_name is not None and attr.dynamo_name == dynamo_name):
            target = attr
    if target is None:
        raise InvalidModel(f"{model.__name__} has no column or index {name or dynamo_name!r}")
    if target in meta.keys:
        raise InvalidModel(f"can't unbind {model.__name__}.{target.name}: it is a key column")
    delattr(model, target.name)
    refresh_model(model)


def refresh_model(model: Any) -> None:
    """Recompute Meta after a runtime change, keeping the user's Meta options."""
    meta = model.Meta
    ttl = meta.ttl
    if ttl is not None and isinstance(ttl.get("column"), Column):
        ttl["column"] = ttl["column"].name
    setup_model(model)


# ------------------------------------------------------------------------------------------ BaseModel
class BaseModel:
    """Base class of every model. Subclass it, declare Columns and (optionally) an inner ``class Meta``."""

    Meta: ClassVar[Any]

    class Meta:  # type: ignore[no-redef]
        abstract = True

    def __init__(self, **attrs: Any) -> None:
        # the given values, then defaults for the (few) columns that declare one and weren't given;
        # names that are not columns are ignored, as in bloop
        meta = type(self).Meta
        by_name = meta.columns_by_name
        for name, value in attrs.items():
            if value is not missing and name in by_name:
                setattr(self, name, value)
        for name, column in compiled(meta).defaults:
            if attrs.get(name, missing) is missing:
                value = column.default_value()
                if value is not missing:
                    setattr(self, name, value)

    def __init_subclass__(cls, discriminator: str | None = None, **kwargs: Any) -> None:
        """``class Dog(Animal, discriminator="dog")`` declares a member of a single table (bloop.polymorphism)."""
        super().__init_subclass__(**kwargs)
        if cls.__hash__ is None:  # type: ignore[comparison-overlap]
            # defining __eq__ (here or in a mixin) sets __hash__ to None; models stay hashable, as in bloop
            for base in cls.__mro__[1:]:
                if base.__dict__.get("__hash__") is not None:
                    cls.__hash__ = base.__dict__["__hash__"]  # type: ignore[method-assign]
                    break
        if discriminator is not None:
            prepare_subclass(cls, discriminator)
        setup_model(cls)
        if discriminator is not None:
            finish_subclass(cls)
        cls.Meta._created = True  # a class whose declaration raised stays in __subclasses__: bind skips it
        signals.model_created.send(None, model=cls)

    def __repr__(self) -> str:
        meta = type(self).Meta
        values = self.__dict__
        shown = sorted((c.name, values[c.name]) for c in meta.columns if c.name in values)
        return f"{type(self).__name__}({', '.join(f'{n}={v!r}' for n, v in shown)})"


setup_model(BaseModel)
