"""Stream records -> bloop events: the key and images become model instances, the rest plain values.

An event::

    {"key": Model(<key columns only>),            # from Keys, whatever the view type (bloop bug B1)
     "old": Model | None, "new": Model | None,    # None when the view or the event has no such image
     "meta": {"created_at": datetime,             # aware, in UTC
              "sequence_number": str,
              "event": {"id": str, "type": "insert" | "modify" | "remove", "version": str},
              "ttl": bool}}                       # True for a delete done by DynamoDB's TTL
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypedDict

from ..models import compiled, load_error
from ..signals import object_loaded

__all__ = ["EventBuilder", "StreamEvent", "EventMeta", "EventInfo"]


class EventInfo(TypedDict):
    """``event["meta"]["event"]``: DynamoDB's record id, what happened, and the record format version."""

    id: str
    type: str  # "insert", "modify" or "remove"
    version: str | None  # None only if a record lacks eventVersion


class EventMeta(TypedDict):
    """``event["meta"]``."""

    created_at: datetime
    event: EventInfo
    sequence_number: str
    ttl: bool  # True for a delete done by DynamoDB's TTL


class StreamEvent(TypedDict):
    """One change, as ``next(stream)``, ``stream.iterate()`` and stream handlers receive it.

    ``key`` is an instance of the model with only its key columns set; ``old`` and ``new`` are full
    instances, or None when the stream's view or the change has no such image.
    """

    key: Any
    old: Any
    new: Any
    meta: EventMeta

EVENT_TYPES = {"INSERT": "insert", "MODIFY": "modify", "REMOVE": "remove"}
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
UTC = timezone.utc


def utc(created_at: Any) -> Any:
    """An aware datetime in UTC. boto3 parses ``ApproximateCreationDateTime`` into this machine's local
    zone (``tzlocal``), so the same record would otherwise print differently on different machines."""
    if isinstance(created_at, datetime) and created_at.tzinfo is not UTC and created_at.tzinfo is not None:
        return created_at.astimezone(UTC)
    return created_at


class EventBuilder:
    """Per-model event building, with every lookup done once: unpacking is the per-record hot path.

    Images are loaded with the model's compiled loader rows (``bloop.models.compiled``), the same rows
    ``unpack_from_dynamodb`` uses for whole items: every column set, nothing marked as changed, and
    ``object_loaded`` sent for each image when anything listens.
    """

    def __init__(self, model: Any, engine: Any) -> None:
        meta = model.Meta
        include = set((meta.stream or {}).get("include") or ())
        self.model = model
        self.engine = engine
        self.init = meta.init
        self.new = "new" in include
        self.old = "old" in include
        self.rows = compiled(meta).rows
        loaders = {dynamo_name: load for _, dynamo_name, load in self.rows}
        self.key_rows = [(c.name, c.dynamo_name, loaders[c.dynamo_name]) for c in meta.keys]
        self.context = {"engine": engine}
        #: a single-table model's images are built as the class their discriminator names
        self.family = meta.family

    def _image(self, image: dict) -> Any:
        meta, init, rows = self.model.Meta, self.init, self.rows
        if self.family is not None:
            cls = self.family.resolve(image)
            if cls is not self.model:
                meta = cls.Meta
                init, rows = meta.init, compiled(meta).rows
        obj = init()
        values = obj.__dict__
        context = self.context
        get = image.get
        try:
            for name, dynamo_name, load in rows:
                values[name] = load(get(dynamo_name), context)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise load_error(meta, image, context, error) from error
        if object_loaded.receivers:
            object_loaded.send(self.engine, engine=self.engine, obj=obj)
        return obj

    def build(self, record: dict) -> StreamEvent:
        """The event of one record (boto3's shape).

        ``key`` comes from ``Keys``, which every record has, never from an image; an empty image
        (moto 5.1 sends ``"OldImage": {}`` with an insert) is no image.
        """
        body = record["dynamodb"]
        new = old = None
        if self.new:
            image = body.get("NewImage")
            if image:
                new = self._image(image)
        if self.old:
            image = body.get("OldImage")
            if image:
                old = self._image(image)
        key = self.init()
        values = key.__dict__
        keys = body["Keys"]
        context = self.context
        try:
            for name, dynamo_name, load in self.key_rows:
                values[name] = load(keys[dynamo_name], context)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise load_error(self.model.Meta, keys, context, error) from error
        identity = record.get("userIdentity")
        return {
            "key": key,
            "old": old,
            "new": new,
            "meta": {
                "created_at": utc(body.get("ApproximateCreationDateTime")),
                "event": {"id": record["eventID"], "type": EVENT_TYPES.get(record["eventName"]) or
                          record["eventName"].lower(), "version": record.get("eventVersion")},
                "sequence_number": body["SequenceNumber"],
                "ttl": identity is not None and identity.get("type") == "Service"
                and identity.get("principalId") == TTL_PRINCIPAL,
            },
        }
