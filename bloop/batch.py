"""Bulk writes with BatchWriteItem: 25 requests a call, several calls in flight, nothing dropped silently.

A batch save is a PutItem: it replaces the whole item with the object's columns (``engine.save`` is an
UpdateItem of the changed columns). Conditions and ADD/DELETE actions don't exist in BatchWriteItem.
"""
from __future__ import annotations

from typing import Any

from . import signals
from .exceptions import BatchWriteIncomplete, InvalidBatch, ItemTooLarge, RetryLimitExceeded
from .models import dump_item, dump_key, settle_after_save
from .session import BATCH_WRITE_ITEM_CHUNK_SIZE
from .util import MAX_ITEM_SIZE, chunked, key_identity, wire_size

__all__ = ["BatchWriter"]


class BatchWriter:
    """``with engine.batch() as batch: batch.save(*objs); batch.delete(*objs)`` writes on a clean exit."""

    def __init__(self, engine: Any, verify: str | None = None) -> None:
        self.engine = engine
        self.verify = verify
        self._entries: list[tuple[str, Any]] = []
        self._ids: set[int] = set()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()

    def save(self, *objs: Any) -> BatchWriter:
        return self._add("save", objs)

    def delete(self, *objs: Any) -> BatchWriter:
        return self._add("delete", objs)

    def _add(self, kind: str, objs: tuple) -> BatchWriter:
        for obj in objs:
            self.engine._check_object(obj)
            if id(obj) in self._ids:
                continue  # the same object twice is one request
            self._ids.add(id(obj))
            self._entries.append((kind, obj))
        return self

    def _render(self) -> list[tuple[str, Any, str, dict, tuple]]:
        """(kind, obj, table, wire request, identity); refuses two requests for one key."""
        rendered = []
        owners: dict[tuple, Any] = {}
        context = {"engine": self.engine}
        for kind, obj in self._entries:
            table_name = self.engine._binding(type(obj)).table_name
            key = dump_key(obj, context)
            identity = (table_name, key_identity(key))
            if identity in owners:
                raise InvalidBatch(
                    f"{owners[identity]!r} and {obj!r} have the same key in one batch; DynamoDB rejects "
                    "duplicate keys in a BatchWriteItem. Keep one of them (bloop does not guess which wins)")
            owners[identity] = obj
            if kind == "save":
                item = dump_item(obj, context)
                size = sum(len(name) + wire_size(value) for name, value in item.items())
                if size > MAX_ITEM_SIZE:
                    raise ItemTooLarge(f"{obj!r} is about {size} bytes, over DynamoDB's 400 KB item limit; "
                                       "keep large values in S3 and store a pointer")
                request = {"PutRequest": {"Item": item}}
            else:
                request = {"DeleteRequest": {"Key": key}}
            rendered.append((kind, obj, table_name, request, identity))
        return rendered

    def commit(self) -> None:
        """Send everything; raises BatchWriteIncomplete listing exactly the objects not written."""
        from .verify import Expectation, verify_writes

        objs = [obj for _, obj in self._entries]
        kinds = ["put" if kind == "save" else "delete" for kind, _ in self._entries]
        writes, hooks = self.engine._prepare_writes(objs, kinds)
        rendered = self._render()  # every object validated and dumped before the first request
        self._entries, self._ids = [], set()
        self.engine._before_send(hooks, writes)
        chunks = list(chunked(rendered, BATCH_WRITE_ITEM_CHUNK_SIZE))
        outcomes = self.engine._run_all(self._send_chunk, chunks)
        unprocessed: set[tuple] = set()
        errors = []
        for chunk, (left, error) in zip(chunks, outcomes):
            if error is not None:
                errors.append(error)
                unprocessed.update(identity for *_, identity in chunk)
            else:
                unprocessed.update(left)
        for write, (*_, identity) in zip(writes, rendered):
            if identity in unprocessed:
                write.error = errors[0] if errors else BatchWriteIncomplete("unprocessed", [write.obj])
        for hook in hooks:
            hook.after_send(self.engine, writes)
        expectations = []
        for kind, obj, table_name, request, identity in rendered:
            if identity in unprocessed:
                continue
            if kind == "save":
                settle_after_save(obj)
                signals.object_saved.send(self.engine, engine=self.engine, obj=obj)
                if self.verify:
                    expectations.append(Expectation(obj, table_name, dump_key(obj), attributes=request[
                        "PutRequest"]["Item"], whole_item=True))
            else:
                signals.object_deleted.send(self.engine, engine=self.engine, obj=obj)
                if self.verify:
                    expectations.append(Expectation(obj, table_name, request["DeleteRequest"]["Key"], deleted=True))
        if unprocessed:
            failed = [obj for _, obj, _, _, identity in rendered if identity in unprocessed]
            raise BatchWriteIncomplete(
                f"{len(failed)} of {len(rendered)} batch requests were not written after every retry; "
                "they are listed in .objects (everything else was written)", objects=failed) from (
                    errors[0] if errors else None)
        verify_writes(self.engine, expectations, self.verify, self.engine.verify_timeout)
        self.engine._verify_hooks(hooks, writes, self.verify)

    def _send_chunk(self, chunk: list) -> set[tuple]:
        """One chunk of <= 25 requests, retrying UnprocessedItems with backoff; returns what is still left."""
        session = self.engine.session
        pending: dict[str, list[dict]] = {}
        for _, _, table_name, request, _ in chunk:
            pending.setdefault(table_name, []).append(request)
        retry = session.retry
        for attempt in range(retry.attempts + 1):
            try:
                pending = session.batch_write_items(pending)
            except RetryLimitExceeded:
                break
            if not pending:
                return set()
            if attempt < retry.attempts:
                retry.sleep(retry.delay(attempt))
        left = set()
        by_request = {(table_name, repr(request)): identity for _, _, table_name, request, identity in chunk}
        for table_name, requests in pending.items():
            for request in requests:
                left.add(by_request[(table_name, repr(request))])
        return left
