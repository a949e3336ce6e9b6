"""The engine-facing side of S3-backed columns: runs the planner's plans around the engine's writes and
fetches pointed-at values after loads.

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
from typing import Any, Iterable, NamedTuple

from ...conditions import conditions_and
from ...hooks import EngineHook, Write
from ...models import dump_key, unpack_from_dynamodb
from ...util import key_identity
from .column import MISSING, S3Pointer, WiredBytes, WiredStr, plain, retains_displaced, s3_columns, validate_model
from .errors import MissingValue, S3NotConfigured, S3ObjectMissing
from .planner import Disposal, Plan, Upload, guard, orphans, plan_write, referenced_objects, settle
from .store import S3Store

__all__ = ["S3Hook", "HOOK"]

logger = logging.getLogger("bloop.ext.s3")

SEEN = "_bloop_s3_seen"  # obj.__dict__ key: {column name: wire value this object last saw in its item}
STATE = "s3"  # Write.state key holding the write's Plan
RELOAD_ATTEMPTS = 3


class Fetch(NamedTuple):
    """A loaded object's S3-backed column that holds a pointer whose value must be fetched."""

    obj: Any
    column: Any
    pointer: S3Pointer


def _store(engine: Any) -> S3Store:
    return S3Store(engine.s3)


def _seen(obj: Any) -> dict[str, Any]:
    seen: dict[str, Any] = obj.__dict__.setdefault(SEEN, {})
    return seen


class S3Hook(EngineHook):
    """Takes part in an engine's writes and loads for every S3-backed column (see the module docstring)."""

    # ------------------------------------------------------------------------------------ binding
    def bind(self, engine: Any, model: Any) -> None:
        """Refuse a model that can't work with this engine (checked when the model is bound)."""
        if not s3_columns(model):
            return
        validate_model(model)
        if getattr(engine, "s3", None) is None:
            raise S3NotConfigured(f"{model.__name__} has S3-backed columns; create the engine with "
                                  "Engine(..., s3=<boto3 S3 client>)")

    # ------------------------------------------------------------------------------------ writes
    def prepare(self, engine: Any, writes: list[Write]) -> None:
        planned = []
        for write in writes:
            columns = s3_columns(type(write.obj))
            if columns:
                if engine.s3 is None:
                    raise S3NotConfigured(f"{type(write.obj).__name__} has S3-backed columns; create the engine "
                                          "with Engine(..., s3=<boto3 S3 client>)")
                planned.append((write, self._plan(engine, write, columns)))
        # nothing is changed until every write is planned, so a refused call leaves the objects as they were
        for write, plan in planned:
            write.state[STATE] = plan
            values = write.obj.__dict__
            for entry in plan.columns:
                if entry.placed is not None:
                    values[entry.column.name] = entry.placed
            condition, return_old = guard(plan)
            if condition:
                write.condition = conditions_and(write.condition, condition)
            if return_old:
                write.state["return_old"] = True  # the old image says exactly which objects were displaced

    def _plan(self, engine: Any, write: Write, columns: list) -> Plan:
        obj = write.obj
        table_name = engine._binding(type(obj)).table_name
        key_wire = dump_key(obj, {"engine": engine}) if write.kind in ("save", "put") else None
        return plan_write(obj, write.kind, table_name, key_wire, columns, obj.__dict__.get(SEEN) or {})

    def before_send(self, engine: Any, writes: list[Write]) -> None:
        uploads: list[tuple[Plan, Upload]] = []
        planned = []
        for write in writes:
            plan = write.state.get(STATE)
            if plan is None:
                continue
            write.error = None  # a prepared transaction committed again starts clean
            plan.created, plan.sent = [], False
            planned.append(plan)
            if write.kind in ("save", "put"):  # transactions and batches correct the kind after prepare
                uploads.extend((plan, upload) for upload in plan.uploads)
        if uploads:
            store = _store(engine)
            outcomes = engine._run_all(lambda pair: store.put(pair[1]), uploads)
            for (plan, upload), (_, error) in zip(uploads, outcomes):
                if error is None:
                    plan.created.append((upload.bucket, upload.key))
            for _, error in outcomes:
                if error is not None:
                    raise error
        for plan in planned:
            plan.sent = True

    def after_send(self, engine: Any, writes: list[Write]) -> None:
        planned = [(write, write.state[STATE]) for write in writes if STATE in write.state]
        for write, plan in planned:
            _restore(write, plan)
        failed = [(write, plan) for write, plan in planned if write.error is not None and plan.created]
        if failed:
            _remove_unreferenced(engine, failed)
        disposals: list[Disposal] = []
        for write, plan in planned:
            if write.error is None:
                obj = write.obj
                seen = _seen(obj)
                settled = settle(obj, write.kind, plan, write.old_item, seen, plan.key_wire or dump_key(obj))
                seen.update(settled.seen)
                disposals.extend(settled.disposals)
        if disposals:
            _dispose(engine, disposals)

    def verify(self, engine: Any, writes: list[Write]) -> list[str]:
        checks = []
        for write in writes:
            plan = write.state.get(STATE)
            if plan is None or write.error is not None or write.kind not in ("save", "put"):
                continue
            for entry in plan.columns:
                pointer = S3Pointer.from_wire(entry.new_wire)
                if pointer is not None:
                    checks.append(Fetch(write.obj, entry.column, pointer))
        store = _store(engine)
        outcomes = engine._run_all(lambda check: store.exists(check.pointer), checks)
        problems = []
        for (obj, column, pointer), (exists, error) in zip(checks, outcomes):
            if error is not None:
                problems.append(f"{obj!r}: could not check {column.name} at {pointer.url}: {error}")
            elif not exists:
                problems.append(f"{obj!r}: {column.name} points at {pointer.url}, which does not exist")
        return problems

    # ------------------------------------------------------------------------------------- reads
    def after_load(self, engine: Any, objs: list[Any]) -> None:
        finish_loaded(engine, objs, strict=True)


HOOK = S3Hook()


def _restore(write: Write, plan: Plan) -> None:
    """Put the user's values back where prepare placed the values carrying their wire form."""
    values = write.obj.__dict__
    for entry in plan.columns:
        if entry.placed is None or values.get(entry.column.name) is not entry.placed:
            continue  # nothing placed, or the engine already refilled it (sync)
        if entry.original is MISSING:
            values.pop(entry.column.name, None)
        else:
            values[entry.column.name] = plain(entry.original)  # an Action or a user's value as it was


# ------------------------------------------------------------------------------------------ disposal
def _delete_grouped(engine: Any, pointers: Iterable[tuple[str, str]], why: str) -> None:
    """Delete (bucket, key) pairs, one DeleteObjects per bucket; failures are logged (the collector retries)."""
    by_bucket: dict[str, list[str]] = {}
    for bucket, key in pointers:
        by_bucket.setdefault(bucket, []).append(key)
    store = _store(engine)
    outcomes = engine._run_all(lambda pair: store.delete(pair[0], pair[1]), list(by_bucket.items()))
    for (bucket, keys), (failed, error) in zip(by_bucket.items(), outcomes):
        if error is not None:
            logger.warning("could not delete %d object(s) %s in %s: %r; collect_garbage will", len(keys), why,
                           bucket, error)
        for key, reason in failed or ():
            logger.warning("could not delete s3://%s/%s %s: %s; collect_garbage will", bucket, key, why, reason)


def _dispose(engine: Any, disposals: list[Disposal]) -> None:
    """Delete displaced objects now, or touch them for the collector when stream readers may need them."""
    now = [(d.pointer.bucket, d.pointer.key) for d in disposals if not d.keep]
    kept = [d for d in disposals if d.keep]
    if now:
        _delete_grouped(engine, now, "that a write displaced")
    if kept:
        store = _store(engine)
        for disposal, (_, error) in zip(kept, engine._run_all(store.touch, kept)):
            if error is not None:
                logger.warning("could not mark %s as displaced: %r", disposal.pointer.url, error)


def _remove_unreferenced(engine: Any, failed: list[tuple[Write, Plan]]) -> None:
    """Remove the objects of failed writes, except those a consistent read shows the item references.

    A write reported failed can have been applied (a lost response, a retried request), so an item
    write that was attempted is checked; one that was never attempted can't reference anything.
    """
    referenced: set[tuple[str, str]] = set()
    attempted = [(write, plan) for write, plan in failed if plan.sent]
    if attempted:
        try:
            loaded = engine.session.get_items(((plan.table_name, plan.key_wire) for _, plan in attempted),
                                              consistent=True)
        except Exception as error:
            logger.warning("a write failed and its S3 objects were kept: could not read the items (%r); "
                           "collect_garbage removes them once no item references them", error)
            return
        names = {column.dynamo_name for write, _ in attempted for column in s3_columns(type(write.obj))}
        referenced = referenced_objects(loaded.values(), names)
    unreferenced = orphans((plan for _, plan in failed), referenced)
    if unreferenced:
        _delete_grouped(engine, unreferenced, "of a failed write")


# ---------------------------------------------------------------------------------------------- reads
def finish_loaded(engine: Any, objs: list[Any], strict: bool) -> None:
    """Turn loaded markers into plain values and fetch pointed-at values (concurrently, each object once).

    A pointer whose object is gone was replaced since the item was read: a concurrent writer removed
    the object it displaced, or the read was eventually consistent. Such objects are filled again from
    a consistent read of their item and fetched again (a few rounds). Models whose stream carries images
    are not refilled: their images must keep the state they describe, and their displaced objects are
    kept for the retention window anyway.
    """
    pending = _collect(objs)
    if not pending:
        return
    if engine.s3 is None:
        raise S3NotConfigured("loaded items point at S3 objects, but the engine has no S3 client; create it "
                              "with Engine(..., s3=<boto3 S3 client>)")
    unresolved: list[MissingValue] = []
    for attempt in range(RELOAD_ATTEMPTS + 1):
        missing, errors = _fetch(engine, pending)
        if errors and strict:
            raise errors[0]
        if not strict:
            return
        retry = [entry for entry in missing if not retains_displaced(type(entry.obj))]
        unresolved.extend(entry for entry in missing if retains_displaced(type(entry.obj)))
        if not retry:
            break
        if attempt == RELOAD_ATTEMPTS:
            unresolved.extend(retry)
            break
        stale = list({id(entry.obj): entry.obj for entry in retry}.values())
        pending, gone = _refill(engine, stale, retry)
        unresolved.extend(gone)
        if not pending:
            break
    if not unresolved:
        return
    names = ", ".join(f"{type(m.obj).__name__}.{m.column} -> {m.pointer.url}" for m in unresolved[:5])
    raise S3ObjectMissing(
        f"{len(unresolved)} value(s) point at S3 objects that do not exist ({names}); the item was deleted or "
        "changed while it was read, or the object was removed outside bloop", objects=unresolved)


def _collect(objs: list[Any]) -> list[Fetch]:
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
                _seen(obj)[column.name] = value.s3_wire
            elif isinstance(value, S3Pointer):
                pending.append(Fetch(obj, column, value))
    return pending


def _fetch(engine: Any, pending: list[Fetch]) -> tuple[list[MissingValue], list[BaseException]]:
    """Fill what can be fetched; returns (the values whose object is missing, errors)."""
    wanted = list({(f.pointer.bucket, f.pointer.key): f.pointer for f in pending}.values())
    store = _store(engine)
    outcomes = engine._run_all(store.get, wanted)
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
            _seen(obj)[column.name] = pointer.wire
    return missing, errors


def _refill(engine: Any, objs: list[Any], missing: list[MissingValue]) -> tuple[list[Fetch], list[MissingValue]]:
    """Fill ``objs`` again from consistent reads; returns (what to fetch now, missing that can't be helped)."""
    identities, keys = [], []
    for obj in objs:
        table_name = engine._binding(type(obj)).table_name
        key = dump_key(obj, {"engine": engine})
        identities.append((table_name, key_identity(key)))
        keys.append((table_name, key))
    found = engine.session.get_items(keys, consistent=True)
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
            unpack_from_dynamodb(attrs=item, expected=type(obj).Meta.columns, obj=obj, context={"engine": engine})
            refilled.append(obj)
    return _collect(refilled), gone
