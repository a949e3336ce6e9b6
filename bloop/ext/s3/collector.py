"""The collector: deletes the objects of S3-backed columns that no item references any more.

A crash between an upload and its item write, or between an item write and the removal of what it
displaced, leaves an orphan, never a dangling pointer; :func:`collect_garbage` finds and deletes orphans.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ...extensions import ExtensionContext
from ...util import key_identity
from .column import DEFAULT_RETENTION, S3Pointer, s3_columns
from .errors import S3NotConfigured
from .planner import META_ATTRIBUTE, META_ITEM, key_from_metadata

if TYPE_CHECKING:  # pragma: no cover
    from ...engine import Engine

__all__ = ["GarbageReport", "collect_garbage"]

UTC = datetime.timezone.utc


@dataclass
class GarbageReport:
    """What :func:`collect_garbage` saw and did; objects are (bucket, key) pairs."""

    listed: int = 0  # objects under the columns' prefixes
    old_enough: int = 0  # of those, older than min_age
    referenced: int = 0  # of those, still referenced by their item
    deleted: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # no bloop metadata: not written by this module
    failed: list = field(default_factory=list)  # (bucket, key, reason)


class _Candidate(NamedTuple):
    bucket: str
    key: str
    table_name: str


class _Owner(NamedTuple):
    """An object and the item attribute that may reference it (from the object's metadata)."""

    bucket: str
    key: str
    table_name: str
    item_key: dict
    attribute: str


def collect_garbage(engine: Engine, *models: Any, min_age: datetime.timedelta | float = DEFAULT_RETENTION,
                    now: datetime.datetime | None = None) -> GarbageReport:
    """Delete the objects of ``models``' S3 columns that no item references and that are older than ``min_age``.

    Lists ``{prefix}{table}/`` in each column's bucket; for every object older than ``min_age`` (its
    LastModified; a displaced object kept for stream readers was touched when it was displaced) reads
    the item key and attribute from the object's metadata, reads those items with consistent
    BatchGetItem calls (100 keys each), and deletes (DeleteObjects, 1000 keys each) the objects whose
    item does not point at them. ``min_age`` must be longer than any write takes from its upload to its
    item write (an in-flight upload is not referenced yet); the default, 25 hours, also outlasts stream
    retention. Needs s3:ListBucket, s3:GetObject (HEAD) and s3:DeleteObject.
    """
    from .hook import S3Columns  # the hook module imports the store, as this one does

    extension = engine.extension(S3Columns)
    if extension is None:
        raise S3NotConfigured("collect_garbage needs an engine with the S3Columns extension "
                              "(Engine(extensions=[S3Columns(<boto3 S3 client>)]) or Engine(..., s3=...))")
    context = extension.context
    if not models:
        raise ValueError("collect_garbage needs the models whose S3 columns to collect")
    if not isinstance(min_age, datetime.timedelta):
        min_age = datetime.timedelta(seconds=min_age)
    if min_age < datetime.timedelta(0):
        raise ValueError(f"min_age must not be negative, got {min_age}")
    cutoff = (now or datetime.datetime.now(UTC)) - min_age
    scopes: dict[tuple[str, str], str] = {}
    for model in models:
        table_name = context.table_name(model)
        for column in s3_columns(model):
            scopes[(column.typedef.bucket, f"{column.typedef.prefix}{table_name}/")] = table_name
    report = GarbageReport()
    store = extension.store
    candidates: list[_Candidate] = []
    for (bucket, prefix), table_name in scopes.items():
        for listed in store.list(bucket, prefix):
            report.listed += 1
            if listed["LastModified"] <= cutoff:
                candidates.append(_Candidate(bucket, listed["Key"], table_name))
    report.old_enough = len(candidates)
    heads = context.run_all(lambda c: store.metadata(c.bucket, c.key), candidates)
    owners: list[_Owner] = []
    for (bucket, key, table_name), (metadata, error) in zip(candidates, heads):
        if error is not None:
            report.failed.append((bucket, key, f"HeadObject: {error}"))
            continue
        if metadata is None:
            continue  # deleted meanwhile
        try:
            item_key = key_from_metadata(metadata[META_ITEM])
            attribute = metadata[META_ATTRIBUTE]
        except (KeyError, ValueError, TypeError):
            report.skipped.append((bucket, key))
            continue
        owners.append(_Owner(bucket, key, table_name, item_key, attribute))
    items = _read_items(context, owners)
    garbage = []
    for owner in owners:
        item = items.get((owner.table_name, key_identity(owner.item_key)))
        pointer = S3Pointer.from_wire(item.get(owner.attribute), strict=False) if item is not None else None
        if pointer is not None and (pointer.bucket, pointer.key) == (owner.bucket, owner.key):
            report.referenced += 1
        else:
            garbage.append((owner.bucket, owner.key))
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in garbage:
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        failed = dict(store.delete(bucket, keys))
        for key in keys:
            if key in failed:
                report.failed.append((bucket, key, f"DeleteObjects: {failed[key]}"))
            else:
                report.deleted.append((bucket, key))
    return report


def _read_items(context: ExtensionContext, owners: list[_Owner]) -> dict[tuple, dict]:
    """Consistent reads of the items named by ``owners``, projected on their keys and the attributes."""
    attributes: dict[str, set] = {}
    for owner in owners:
        attributes.setdefault(owner.table_name, set()).update([owner.attribute, *owner.item_key])
    options = {}
    for table_name, names in attributes.items():
        refs = {f"#a{i}": name for i, name in enumerate(sorted(names))}
        options[table_name] = {"ProjectionExpression": ", ".join(refs), "ExpressionAttributeNames": refs}
    return context.get_items(((owner.table_name, owner.item_key) for owner in owners),
                                    consistent=True, options=options)
