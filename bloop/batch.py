"""Bulk writes with BatchWriteItem: 25 requests a call, several calls in flight, nothing dropped silently.

A batch save is a PutItem: it replaces the whole item with the object's columns (``engine.save`` is an
UpdateItem of the changed columns). Conditions and ADD/DELETE actions don't exist in BatchWriteItem.
Everything goes through the write path (:mod:`bloop.write`): every request is validated and rendered
before the first call; this module only groups the rendered requests into calls.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from .exceptions import BatchWriteIncomplete, BloopException
from .extensions import Outcome, Runner
from .session import BATCH_WRITE_ITEM_CHUNK_SIZE
from .util import chunked, key_identity
from .write import WriteItem

if TYPE_CHECKING:  # pragma: no cover
    from .models import BaseModel
    from .session import SessionWrapper
    from .write import Rendered, WritePath

__all__ = ["BatchWriter", "Entry"]


class Entry(NamedTuple):
    """One request of a batch: "put" (a batch save) or "delete", and its object."""

    kind: str
    obj: BaseModel


class Unprocessed(BloopException):
    """A request DynamoDB left unprocessed after every retry (per request; the batch raises one report)."""


class BatchWriter:
    """``with engine.batch() as batch: batch.save(*objs); batch.delete(*objs)`` writes on a clean exit."""

    def __init__(self, writes: WritePath, session: SessionWrapper, runner: Runner, verify: str | None = None) -> None:
        self._writes = writes
        self._session = session
        self._runner = runner
        self.verify = verify
        self._entries: list[Entry] = []
        self._ids: set[int] = set()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()

    def save(self, *objs: Any) -> BatchWriter:
        return self._add("put", objs)

    def delete(self, *objs: Any) -> BatchWriter:
        return self._add("delete", objs)

    def _add(self, kind: str, objs: tuple) -> BatchWriter:
        for obj in objs:
            self._writes.check_object(obj)
            if id(obj) in self._ids:
                continue  # the same object twice is one request
            self._ids.add(id(obj))
            self._entries.append(Entry(kind, obj))
        return self

    def commit(self) -> None:
        """Send everything; raises BatchWriteIncomplete listing exactly the objects not written."""
        entries, self._entries, self._ids = self._entries, [], set()
        if not entries:
            return
        prepared = self._writes.prepare([WriteItem(kind, obj) for kind, obj in entries], mode="batch",
                                        level=self.verify)
        self._writes.send(prepared, self._send, on_failure=_report)

    def _send(self, rendered: list[Rendered]) -> list[Outcome[Any]]:
        chunks = list(chunked(rendered, BATCH_WRITE_ITEM_CHUNK_SIZE))
        errors: dict[int, BaseException] = {}
        for chunk_errors in self._runner.run_all(self._send_chunk, chunks):
            if chunk_errors.error is not None:  # _send_chunk reports per request; this is a bug guard
                raise chunk_errors.error
            errors.update(chunk_errors.result or {})
        return [Outcome(None, errors.get(id(r))) for r in rendered]

    def _send_chunk(self, chunk: list[Rendered]) -> dict[int, BaseException]:
        """One chunk of <= 25 requests, retrying UnprocessedItems with backoff.

        Returns the error of each request not written, by ``id(rendered)``: those DynamoDB still left
        unprocessed after every retry, or, when a call raised, those not confirmed before it (the
        requests an earlier call of this chunk processed were written).
        """
        session = self._session
        retry = session.retry
        by_identity = {r.identity: r for r in chunk}
        key_names = {r.table_name: list(r.key) for r in chunk}
        pending: list[Rendered] = list(chunk)
        for attempt in range(retry.attempts + 1):
            request: dict[str, list[dict]] = {}
            for r in pending:
                request.setdefault(r.table_name, []).append(r.request)
            try:
                left = session.batch_write_items(request)
            except Exception as error:
                return {id(r): error for r in pending}
            # DynamoDB documents no order for UnprocessedItems: match them back by key
            pending = []
            for table_name, requests in left.items():
                names = key_names[table_name]
                for request_item in requests:
                    body = request_item.get("PutRequest", {}).get("Item") or request_item["DeleteRequest"]["Key"]
                    pending.append(by_identity[(table_name, key_identity({n: body[n] for n in names}))])
            if not pending:
                return {}
            if attempt < retry.attempts:
                tables = ", ".join(sorted({r.table_name for r in pending}))
                session.pause_before_retry("BatchWriteItem", attempt, f"{len(pending)} item(s) unprocessed in {tables}")
        unprocessed = Unprocessed("unprocessed after every retry")
        return {id(r): unprocessed for r in pending}


def _report(failed: list[Rendered]) -> None:
    objects = [r.write.obj for r in failed]
    cause = next((r.write.error for r in failed if not isinstance(r.write.error, Unprocessed)), None)
    raise BatchWriteIncomplete(
        f"{len(objects)} batch request(s) were not written; they are listed in .objects (everything else was "
        "written)" + (f"; a call failed with {cause!r}" if cause is not None else " after every retry"),
        objects=objects) from cause
