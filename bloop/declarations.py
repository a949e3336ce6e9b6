"""What a model declares in its ``Meta``: the options, their defaults and checks, DynamoDB's naming rules. Pure.

bloop.models applies these when a model class is created (and re-exports them, where they were imported from).
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Callable

from .exceptions import InvalidModel, InvalidStreamDeclaration
from .scalars import DateTime

__all__ = ["IMeta", "META_OPTIONS", "STREAM_VIEWS", "check_name", "check_options"]

STREAM_VIEWS = {
    frozenset({"keys"}): "KEYS_ONLY",
    frozenset({"new"}): "NEW_IMAGE",
    frozenset({"old"}): "OLD_IMAGE",
    frozenset({"new", "old"}): "NEW_AND_OLD_IMAGES",
}


class IMeta:
    """What ``Model.Meta`` holds after class creation (for type hints and documentation)."""

    abstract: bool
    table_name: str
    read_units: int | None
    write_units: int | None
    billing: dict | None
    stream: dict | None
    ttl: dict | None
    encryption: dict | None
    backups: dict | None
    init: Callable[[], Any]
    model: Any
    hash_key: Any
    range_key: Any
    keys: set
    columns: set
    columns_by_name: dict
    columns_by_dynamo_name: dict
    indexes: set
    gsis: set
    lsis: set
    projection: dict
    version: Any
    discriminator: Any
    discriminator_value: str | None
    family: Any


META_OPTIONS = ("abstract", "table_name", "read_units", "write_units", "billing", "stream", "ttl", "encryption",
                "backups", "init")
# what setup_model computes onto Meta (a refresh sees them again)
_META_COMPUTED = frozenset({"model", "hash_key", "range_key", "keys", "columns", "columns_by_name",
                            "columns_by_dynamo_name", "indexes", "gsis", "lsis", "projection", "version",
                            "discriminator", "discriminator_value", "family"})


def _check_meta_options(cls: Any, meta: Any) -> None:
    """A misspelt option (``Meta.tablename``, ``Meta.streams``) would silently do nothing: refuse it."""
    for name in meta.__dict__:
        if name.startswith("_") or name in META_OPTIONS or name in _META_COMPUTED:
            continue
        close = difflib.get_close_matches(name, META_OPTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidModel(f"{cls.__name__}.Meta.{name} is not a Meta option{hint} "
                           f"The options are {', '.join(META_OPTIONS)}")


def _setup_meta(cls: Any) -> Any:
    meta = cls.__dict__.get("Meta")
    if meta is None:
        meta = type("Meta", (), {})
        cls.Meta = meta
    _check_meta_options(cls, meta)
    defaults = {
        "abstract": False, "table_name": cls.__name__, "read_units": None, "write_units": None,
        "billing": None, "stream": None, "ttl": None, "encryption": None, "backups": None,
    }
    for key, value in defaults.items():
        if key not in meta.__dict__:
            setattr(meta, key, value)
    if "init" not in meta.__dict__:
        meta.init = lambda: cls.__new__(cls)
    meta.model = cls
    return meta


# DynamoDB's naming rules and index limits (developer guide, "Service, account, and table quotas")
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_.\-]{3,255}")
MAX_LSIS = 5
MAX_PROJECTED_ATTRIBUTES = 100  # NonKeyAttributes summed over every index
MAX_KEY_NAME_BYTES = 255  # index key and LSI projected attribute names


def check_name(what: str, name: Any) -> str:
    """``name`` if DynamoDB accepts it as a table or index name, else InvalidModel saying the rule."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidModel(f"{what} {name!r} is not a valid DynamoDB name: use 3 to 255 characters, each a letter, "
                           "digit, '_', '-' or '.'")
    return name


def check_options(cls: Any, meta: Any, resolve_column: Callable[[Any, Any, str], Any]) -> None:
    """Check and complete the Meta options' values; ``resolve_column(model, ref, what)`` finds ``Meta.ttl``'s."""
    name = cls.__name__
    if meta.billing is not None:
        if not isinstance(meta.billing, dict) or meta.billing.get("mode") not in ("provisioned", "on_demand"):
            raise InvalidModel(
                f'{name}.Meta.billing must be {{"mode": "provisioned"}} or {{"mode": "on_demand"}}, '
                f"not {meta.billing!r}")
    if meta.stream is not None:
        include = meta.stream.get("include") if isinstance(meta.stream, dict) else None
        try:
            include_set = frozenset(include)  # type: ignore[arg-type]
        except TypeError:
            include_set = None
        if include_set not in STREAM_VIEWS:
            raise InvalidStreamDeclaration(
                f'{name}.Meta.stream["include"] must be one of ["keys"], ["new"], ["old"], ["new", "old"]; '
                f"got {include!r}")
        meta.stream["include"] = set(include_set)
        meta.stream.setdefault("arn", None)
    if meta.ttl is not None:
        if not isinstance(meta.ttl, dict) or "column" not in meta.ttl:
            raise InvalidModel(f'{name}.Meta.ttl must be {{"column": <name or Column>}}, not {meta.ttl!r}')
        column = resolve_column(cls, meta.ttl["column"], "Meta.ttl")
        if column.typedef.backing_type != "N":
            hint = " (use bloop.Timestamp, which stores epoch seconds)" if isinstance(column.typedef, DateTime) else ""
            raise InvalidModel(f"{name}.{column.name}: the TTL column must be a number type{hint}")
        meta.ttl["column"] = column
    for option in ("encryption", "backups"):
        value = getattr(meta, option)
        if value is not None and (not isinstance(value, dict) or not isinstance(value.get("enabled"), bool)):
            raise InvalidModel(f'{name}.Meta.{option} must be {{"enabled": True|False}}, not {value!r}')
    for units in ("read_units", "write_units"):
        value = getattr(meta, units)
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidModel(f"{name}.Meta.{units} must be a positive int or None, not {value!r}")
