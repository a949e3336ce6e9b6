"""The read path: unpack -> extensions after load, for every reader.

load, query, scan, read transactions, the images of ``sync=``, the stream and the Lambda adapter
all fill objects here and finish them with :meth:`ReadPath.finish`, so no reader can skip an
extension (an S3-backed column is fetched wherever an item is read). Unpacking is the pure
``models.unpack_from_dynamodb``; I/O happens only in the extensions' ``after_load``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Hashable, Iterable, Sequence, TypeVar

from . import polymorphism, signals
from .exceptions import MissingObjects
from .extensions import Extension
from .limits import check_key
from .models import BaseModel, Column, dump_key, set_synced, unpack_from_dynamodb
from .util import key_identity

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine
    from .session import SessionWrapper
    from .stream.events import EventBuilder, StreamEvent

__all__ = ["ReadPath"]

M = TypeVar("M", bound=BaseModel)


class ReadPath:
    """The read path of one engine; built by the engine."""

    def __init__(self, *, engine: Engine, table_name: Callable[[type[BaseModel]], str], session: SessionWrapper,
                 extensions: Callable[[Iterable[type[BaseModel]]], list[Extension]],
                 sync_target: Callable[[type[BaseModel]], Hashable]) -> None:
        self.engine = engine  # the sender of object_loaded, and what types' loaders find in their context
        self.table_name = table_name
        self.session = session
        self.extensions = extensions
        self.sync_target = sync_target
        self.context = {"engine": engine}

    # -------------------------------------------------------------------------------------- unpack
    def fill(self, obj: M, item: dict, expected: Iterable[Column] | None = None) -> M:
        """Fill ``obj`` from a wire item (pure; no signal until :meth:`finish`)."""
        return unpack_from_dynamodb(attrs=item, expected=expected, obj=obj, context=self.context)

    def new(self, model: type[M], item: dict, expected: Iterable[Column] | None = None) -> M:
        """A new instance of ``model`` (``Meta.init``) filled from a wire item.

        For a single-table model the instance is of the class the item's discriminator names.
        """
        if model.Meta.family is not None:
            model, expected = polymorphism.resolve(model, item, expected)
        return unpack_from_dynamodb(attrs=item, expected=expected, model=model, context=self.context)

    # -------------------------------------------------------------------------------------- finish
    def finish(self, objs: Sequence[BaseModel], synced: bool = True, signal: bool = True) -> None:
        """Extensions after load (a whole batch at once), then sync state and ``object_loaded``.

        ``synced``: the objects now match their item in this engine's table (not so for stream images,
        which describe one moment of the item).
        """
        if not objs:
            return
        for extension in self.extensions({type(obj) for obj in objs}):
            extension.after_load(objs)
        if synced:
            targets: dict[type, Hashable] = {}
            for obj in objs:
                model = type(obj)
                target = targets.get(model)
                if target is None:
                    target = targets[model] = self.sync_target(model)
                set_synced(obj, target)
        if signal and signals.object_loaded.receivers:
            for obj in objs:
                signals.object_loaded.send(self.engine, engine=self.engine, obj=obj)

    # ------------------------------------------------------------------------------------- readers
    def load(self, objs: Sequence[BaseModel], consistent: bool = False) -> None:
        """Fill objects from their items (BatchGetItem); MissingObjects lists those not found."""
        context = self.context
        table_name = self.table_name
        tables: dict[type, str] = {}
        # one identity per key, per table; objects sharing a key (rare) wait in ``more``
        wanted: dict[str, dict[tuple, dict]] = {}
        first: dict[str, dict[tuple, BaseModel]] = {}
        more: dict[tuple, list[BaseModel]] = {}
        for obj in objs:
            model = type(obj)
            table = tables.get(model)
            if table is None:
                table = tables[model] = table_name(model)
            objs_of = first.get(table)
            if objs_of is None:
                objs_of = first[table] = {}
                wanted[table] = {}
            key = dump_key(obj, context)
            check_key(obj, key)
            identity = key_identity(key)
            if identity in objs_of:
                more.setdefault((table, identity), []).append(obj)
            else:
                objs_of[identity] = obj
                wanted[table][identity] = key
        # each item is matched and unpacked as its response arrives: nothing else is kept per key
        loaded: list[BaseModel] = []
        for table, identity, item in self.session.iter_items(wanted, consistent=consistent):
            asked = first[table].pop(identity, None)
            if asked is None:
                continue  # an item nobody asked for, or one answered twice
            loaded.append(self.fill(asked, item))
            group = more.pop((table, identity), None) if more else None
            if group:
                loaded.extend(self.fill(other, item) for other in group)
        # what is left was not found; reported in argument order
        missing = [obj for objs_of in first.values() for obj in objs_of.values()]
        if missing:
            missing.extend(obj for group in more.values() for obj in group)
            position = {id(obj): number for number, obj in enumerate(objs)}
            missing.sort(key=lambda obj: position[id(obj)])
        self.finish(loaded)
        if missing:
            raise MissingObjects(f"{len(missing)} object(s) were not found", objects=missing)

    def page(self, model: type[M], items: list[dict], expected: Iterable[Column] | None) -> list[M]:
        """Objects for one page of a query or scan, finished together."""
        objs = [self.new(model, item, expected) for item in items]
        self.finish(objs)
        return objs

    def transaction(self, objs: Sequence[BaseModel], items: Sequence[dict | None]) -> None:
        """Fill the objects of a read transaction from its responses; MissingObjects for absent ones."""
        loaded, missing = [], []
        for obj, item in zip(objs, items):
            if item is None:
                missing.append(obj)
            else:
                loaded.append(self.fill(obj, item))
        self.finish(loaded)
        if missing:
            raise MissingObjects("some objects were not found in the read transaction", objects=missing)

    def event(self, builder: EventBuilder, record: dict) -> StreamEvent:
        """A stream record as an event (:mod:`bloop.stream.events`), its images finished by the extensions."""
        event = builder.build(record)
        images = [image for image in (event["old"], event["new"]) if image is not None]
        if images and self.extensions({type(image) for image in images}):
            # the builder already sent object_loaded; images are a moment of the item, not synced with it
            self.finish(images, synced=False, signal=False)
        return event
