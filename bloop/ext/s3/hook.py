"""The engine-facing side of S3-backed columns: the :class:`S3Columns` extension runs the planner's plans
around the engine's writes and fetches pointed-at values after loads.

Register it on the engine, ``Engine(extensions=[S3Columns(s3_client)])`` (``Engine(s3=s3_client)`` does
the same). It sees only its :class:`~bloop.extensions.ExtensionContext`, and keeps what each object last
read from its item in its own :class:`~bloop.extensions.ObjectState` (so per engine, never in the object).

The write protocol (see docs/s3.rst for the guarantees and the failure cases):

* every upload goes to a key used by no other write (see :func:`~bloop.ext.s3.planner.plan_write`);
* the objects are put first, then the item is written; the objects of a write that failed are removed
  (unless a consistent read shows the item references them: a write reported failed may have been applied);
* a save of an S3 column by an object that was loaded is conditional on the pointer it read; a blind save
  asks for the old image (``ALL_OLD``), so either way the write knows which object it displaced;
* displaced objects are deleted at once when the model's stream carries no images, else touched and kept
  for :func:`~bloop.ext.s3.collect_garbage`.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, NamedTuple, Sequence

from ...conditions import conditions_and
from ...extensions import Extension, ObjectState, Write
from ...models import BaseModel, dump_key, unpack_from_dynamodb
from ...util import key_identity, key_repr
from .column import MISSING, S3Pointer, WiredBytes, WiredStr, plain, retains_displaced, s3_columns, validate_model
from .errors import MissingValue, S3NotConfigured, S3ObjectMissing
from .planner import Disposal, Plan, Upload, guard, orphans, plan_write, referenced_objects, settle
from .store import S3Store

__all__ = ["S3Columns"]

logger = logging.getLogger("bloop.ext.s3")

STATE = "s3"  # Write.state key holding the write's Plan
RELOAD_ATTEMPTS = 3


class Fetch(NamedTuple):
    """A loaded object's S3-backed column that holds a pointer whose value must be fetched."""

    obj: Any
    column: Any
    pointer: S3Pointer


class S3Columns(Extension):
    """Takes part in an engine's writes and loads for every S3-backed column (see the module docstring)."""

    name = STATE

    def __init__(self, client: Any) -> None:
        super().__init__()
        if client is None:
            raise S3NotConfigured("S3Columns needs a boto3 S3 client: S3Columns(boto3.client(\"s3\"))")
        self.client = client
        self.store = S3Store(client)
        #: per object: {column name: the wire value this object last saw in its item}
        self.seen: ObjectState[dict[str, Any]] = ObjectState()

    @classmethod
    def missing(cls, model: type[BaseModel]) -> Exception:
        return S3NotConfigured(f"{model.__name__} has S3-backed columns; create the engine with "
                               "Engine(extensions=[S3Columns(<boto3 S3 client>)]) or Engine(..., s3=<client>)")

    def bind(self, model: type[BaseModel]) -> bool:
        """Refuse a model that misuses an S3 column (a key, in an index, nested); take part if it has one."""
        validate_model(model)
        return bool(s3_columns(model))

    def _seen(self, obj: Any) -> dict[str, Any]:
        return self.seen.setdefault(obj, dict)  # type: ignore[return-value]

    # ------------------------------------------------------------------------------------ writes
    def prepare(self, writes: list[Write]) -> None:
        planned = []
        for write in writes:
            columns = s3_columns(type(write.obj))
            if columns:
                planned.append((write, self._plan(write, columns)))
        for write, plan in planned:
            write.state[STATE] = plan
            for entry in plan.columns:  # the write stores the wire form; the object keeps the user's value
                write.overrides[entry.column.name] = entry.new_wire
            condition, return_old = guard(plan)
            if condition:
                write.condition = conditions_and(write.condition, condition)
            if return_old:
                write.return_old = True  # the old image says exactly which objects were displaced

    def _plan(self, write: Write, columns: list) -> Plan:
        obj = write.obj
        table_name = self.context.table_name(type(obj))
        key_wire = dump_key(obj) if write.kind in ("save", "put") else None
        return plan_write(obj, write.kind, table_name, key_wire, columns, self.seen.get(obj) or {},
                          written=write.columns)

    def before_send(self, writes: list[Write]) -> None:
        uploads: list[tuple[Plan, Upload]] = []
        planned = []
        for write in writes:
            plan = write.state.get(STATE)
            if plan is None:
                continue
            plan.created, plan.sent = [], False  # a prepared transaction committed again starts clean
            planned.append(plan)
            uploads.extend((plan, upload) for upload in plan.uploads)
        if uploads:
            store = self.store
            outcomes = self.context.run_all(store.put, [upload for _, upload in uploads])
            for (plan, upload), (_, error) in zip(uploads, outcomes):
                if error is None:
                    plan.created.append((upload.bucket, upload.key))
            for _, error in outcomes:
                if error is not None:
                    raise error
        for plan in planned:
            plan.sent = True

    def after_send(self, writes: list[Write]) -> None:
        planned = [(write, write.state[STATE]) for write in writes if STATE in write.state]
        failed = [(write, plan) for write, plan in planned if write.error is not None and plan.created]
        if failed:
            self._remove_unreferenced(failed)
        disposals: list[Disposal] = []
        for write, plan in planned:
            if write.error is None:
                obj = write.obj
                seen = self._seen(obj)
                settled = settle(obj, write.kind, plan, write.old_item, seen, plan.key_wire or dump_key(obj))
                seen.update(settled.seen)
                disposals.extend(settled.disposals)
        if disposals:
            self._dispose(disposals)

    def verify(self, writes: list[Write]) -> list[str]:
        checks = []
        for write in writes:
            plan = write.state.get(STATE)
            if plan is None or write.error is not None or write.kind not in ("save", "put"):
                continue
            for entry in plan.columns:
                pointer = S3Pointer.from_wire(entry.new_wire)
                if pointer is not None:
                    checks.append(Fetch(write.obj, entry.column, pointer))
        store = self.store
        outcomes = self.context.run_all(lambda check: store.exists(check.pointer), checks)
        problems = []
        for (obj, column, pointer), (exists, error) in zip(checks, outcomes):
            if error is not None:
                problems.append(f"{key_repr(obj)}: could not check {column.name} at {pointer.url}: {error}")
            elif not exists:
                problems.append(f"{key_repr(obj)}: {column.name} points at {pointer.url}, which does not exist")
        return problems

    # -------------------------------------------------------------------------------------- disposal
    def _delete_grouped(self, pointers: Iterable[tuple[str, str]], why: str) -> None:
        """Delete (bucket, key) pairs, one DeleteObjects per bucket; failures are logged (the collector retries)."""
        by_bucket: dict[str, list[str]] = {}
        for bucket, key in pointers:
            by_bucket.setdefault(bucket, []).append(key)
        store = self.store
        outcomes = self.context.run_all(lambda bucket_keys: store.delete(*bucket_keys), list(by_bucket.items()))
        for (bucket, keys), (failed, error) in zip(by_bucket.items(), outcomes):
            if error is not None:
                logger.warning("could not delete %d object(s) %s in %s: %r; collect_garbage will", len(keys), why,
                               bucket, error)
            for key, reason in failed or ():
                logger.warning("could not delete s3://%s/%s %s: %s; collect_garbage will", bucket, key, why,
                               reason)

    def _dispose(self, disposals: list[Disposal]) -> None:
        """Delete displaced objects now, or touch them for the collector when stream readers may need them."""
        now = [(d.pointer.bucket, d.pointer.key) for d in disposals if not d.keep]
        kept = [d for d in disposals if d.keep]
        if now:
            self._delete_grouped(now, "that a write displaced")
        if kept:
            for disposal, (_, error) in zip(kept, self.context.run_all(self.store.touch, kept)):
                if error is not None:
                    logger.warning("could not mark %s as displaced: %r", disposal.pointer.url, error)

    def _remove_unreferenced(self, failed: list[tuple[Write, Plan]]) -> None:
        """Remove the objects of failed writes, except those a consistent read shows the item references.

        A write reported failed can have been applied (a lost response, a retried request), so an item
        write that was attempted is checked; one that was never attempted can't reference anything.
        """
        referenced: set[tuple[str, str]] = set()
        attempted = [(write, plan) for write, plan in failed if plan.sent]
        if attempted:
            try:
                loaded = self.context.get_items(((plan.table_name, plan.key_wire or {}) for _, plan in attempted),
                                                consistent=True)
            except Exception as error:
                logger.warning("a write failed and its S3 objects were kept: could not read the items (%r); "
                               "collect_garbage removes them once no item references them", error)
                return
            names = {column.dynamo_name for write, _ in attempted for column in s3_columns(type(write.obj))}
            referenced = referenced_objects(loaded.values(), names)
        unreferenced = orphans((plan for _, plan in failed), referenced)
        if unreferenced:
            self._delete_grouped(unreferenced, "of a failed write")

    # ------------------------------------------------------------------------------------------ reads
    def after_load(self, objs: Sequence[BaseModel]) -> None:
        """Turn loaded markers into plain values and fetch pointed-at values (concurrently, each object once).

        A pointer whose object is gone was replaced since the item was read: a concurrent writer removed
        the object it displaced, or the read was eventually consistent. Such objects are filled again from
        a consistent read of their item and fetched again (a few rounds). Models whose stream carries images
        are not refilled: their images must keep the state they describe, and their displaced objects are
        kept for the retention window anyway.
        """
        pending = self._collect(objs)
        if not pending:
            return
        unresolved: list[MissingValue] = []
        for attempt in range(RELOAD_ATTEMPTS + 1):
            missing, errors = self._fetch(pending)
            if errors:
                raise errors[0]
            retry = [entry for entry in missing if not retains_displaced(type(entry.obj))]
            unresolved.extend(entry for entry in missing if retains_displaced(type(entry.obj)))
            if not retry:
                break
            if attempt == RELOAD_ATTEMPTS:
                unresolved.extend(retry)
                break
            stale = list({id(entry.obj): entry.obj for entry in retry}.values())
            pending, gone = self._refill(stale, retry)
            unresolved.extend(gone)
            if not pending:
                break
        if not unresolved:
            return
        names = ", ".join(f"{type(m.obj).__name__}.{m.column} -> {m.pointer.url}" for m in unresolved[:5])
        raise S3ObjectMissing(
            f"{len(unresolved)} value(s) point at S3 objects that do not exist ({names}); the item was deleted or "
            "changed while it was read, or the object was removed outside bloop", objects=unresolved)

    def _collect(self, objs: Sequence[BaseModel]) -> list[Fetch]:
        pending = []
        for obj in objs:
            columns = s3_columns(type(obj))
            if not columns:
                continue
            values = obj.__dict__
            for column in columns:
                value = values.get(column.name, MISSING)
                if isinstance(value, (WiredBytes, WiredStr)) and value.s3_loaded:
                    values[column.name] = plain(value)
                    self._seen(obj)[column.name] = value.s3_wire
                elif isinstance(value, S3Pointer):
                    pending.append(Fetch(obj, column, value))
        return pending

    def _fetch(self, pending: list[Fetch]) -> tuple[list[MissingValue], list[BaseException]]:
        """Fill what can be fetched; returns (the values whose object is missing, errors)."""
        wanted = list({(f.pointer.bucket, f.pointer.key): f.pointer for f in pending}.values())
        outcomes = self.context.run_all(self.store.get, wanted)
        bodies = {(p.bucket, p.key): outcome for p, outcome in zip(wanted, outcomes)}
        missing, errors = [], []
        for obj, column, pointer in pending:
            body, error = bodies[(pointer.bucket, pointer.key)]
            if error is not None:
                errors.append(error)
            elif body is None:
                missing.append(MissingValue(obj, column.name, pointer))
            else:
                obj.__dict__[column.name] = column.typedef.decode(body)
                self._seen(obj)[column.name] = pointer.wire
        return missing, errors

    def _refill(self, objs: list[Any], missing: list[MissingValue]) -> tuple[list[Fetch], list[MissingValue]]:
        """Fill ``objs`` again from consistent reads; returns (what to fetch now, missing that can't be helped)."""
        identities, keys = [], []
        for obj in objs:
            table_name = self.context.table_name(type(obj))
            key = dump_key(obj)
            identities.append((table_name, key_identity(key)))
            keys.append((table_name, key))
        found = self.context.get_items(keys, consistent=True)
        gone = []
        refilled = []
        for obj, identity in zip(objs, identities):
            item = found.get(identity)
            mine = [m for m in missing if m.obj is obj]
            if item is None:
                gone.extend(mine)
                continue
            columns = type(obj).Meta.columns_by_name
            still = [m for m in mine
                     if S3Pointer.from_wire(item.get(columns[m.column].dynamo_name), strict=False) == m.pointer]
            if still:
                gone.extend(still)  # the item still points at a missing object: nothing to retry
            else:
                unpack_from_dynamodb(attrs=item, expected=type(obj).Meta.columns, obj=obj)
                refilled.append(obj)
        return self._collect(refilled), gone
