"""Read and write transactions (TransactGetItems / TransactWriteItems), up to 100 items each."""
from __future__ import annotations

import time
import uuid
from typing import Any, Callable

from . import signals
from .conditions import ConditionRenderer, conditions_and
from .exceptions import InvalidTransaction, MissingObjects, TransactionTokenExpired
from .models import dump_changes, dump_key, settle_after_save, unpack_from_dynamodb
from .util import key_identity

__all__ = ["ReadTransaction", "WriteTransaction", "PreparedTransaction", "MAX_TRANSACTION_ITEMS"]

MAX_TRANSACTION_ITEMS = 100
MAX_TOKEN_AGE = 9.5 * 60  # DynamoDB honours a ClientRequestToken for 10 minutes


class Transaction:
    """Collects items; as a context manager the outermost ``with`` commits on a clean exit."""

    mode = ""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._items: list[tuple[str, Any, Any]] = []  # (kind, obj, condition)
        self._depth = 0

    def __enter__(self) -> Transaction:
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth -= 1
        if self._depth == 0 and exc_type is None:
            self.prepare().commit()

    def _add(self, kind: str, obj: Any, condition: Any = None) -> None:
        self.engine._check_object(obj)
        if len(self._items) >= MAX_TRANSACTION_ITEMS:
            raise InvalidTransaction(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items")
        self._items.append((kind, obj, condition))

    def prepare(self) -> PreparedTransaction:
        if not self._items:
            raise InvalidTransaction("the transaction is empty; add items before committing")
        return PreparedTransaction(self.engine, self.mode, list(self._items))


class WriteTransaction(Transaction):
    mode = "w"

    def save(self, *objs: Any, condition: Any = None) -> WriteTransaction:
        for obj in objs:
            self._add("save", obj, condition)
        return self

    def delete(self, *objs: Any, condition: Any = None) -> WriteTransaction:
        for obj in objs:
            self._add("delete", obj, condition)
        return self

    def check(self, obj: Any, condition: Any) -> WriteTransaction:
        self._add("check", obj, condition)
        return self


class ReadTransaction(Transaction):
    mode = "r"

    def load(self, *objs: Any) -> ReadTransaction:
        for obj in objs:
            self._add("load", obj)
        return self


class PreparedTransaction:
    """A rendered transaction with a fixed ``tx_id``; committing again within ~10 minutes is idempotent."""

    def __init__(self, engine: Any, mode: str, items: list[tuple[str, Any, Any]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.mode = mode
        self.items = items
        self.tx_id = uuid.uuid4().hex
        self.first_commit_at: float | None = None
        self._clock = clock
        writes = [(kind, obj) for kind, obj, _ in items if kind != "load"]
        self._writes, self._hooks = engine._prepare_writes(
            [obj for _, obj in writes], [kind for kind, _ in writes]) if mode == "w" else ([], [])
        extra = {id(w.obj): w for w in self._writes}
        self._wire = [self._render(kind, obj, conditions_and(condition, extra[id(obj)].condition if id(obj) in extra
                                                    else None))
                      for kind, obj, condition in items]
        seen = set()
        for (_, obj, _), wire in zip(items, self._wire):
            body = next(iter(wire.values()))
            identity = (body["TableName"], key_identity(body["Key"]))
            if identity in seen:
                raise InvalidTransaction(f"{obj!r} appears twice in one transaction; DynamoDB allows one "
                                         "operation per item")
            seen.add(identity)

    def _render(self, kind: str, obj: Any, condition: Any) -> dict:
        engine = self.engine
        renderer = ConditionRenderer(engine)
        body: dict[str, Any] = {"TableName": engine._compute_table_name(type(obj)),
                                "Key": dump_key(obj, renderer.context)}
        if kind == "load":
            return {"Get": body}
        renderer.condition_expression("ConditionExpression", condition, model=type(obj))
        if kind == "save":
            renderer.update_expression(dump_changes(obj, renderer.context))
            if "UpdateExpression" not in renderer.expressions:
                raise InvalidTransaction(
                    f"{obj!r} has no changed columns to save in a transaction; set a column, or use "
                    "check(obj, condition) to assert on it")
        elif kind == "check" and "ConditionExpression" not in renderer.expressions:
            raise InvalidTransaction(f"check({obj!r}) needs a non-empty condition")
        body.update(renderer.output)
        return {{"save": "Update", "delete": "Delete", "check": "ConditionCheck"}[kind]: body}

    def commit(self) -> PreparedTransaction:
        engine = self.engine
        if self.mode == "r":
            response = engine.session.transaction_read(self._wire)
            missing, loaded = [], []
            for (_, obj, _), entry in zip(self.items, response.get("Responses", [])):
                item = entry.get("Item")
                if item is None:
                    missing.append(obj)
                else:
                    unpack_from_dynamodb(attrs=item, expected=type(obj).Meta.columns, obj=obj, engine=engine)
                    loaded.append(obj)
            engine._after_load(loaded)
            if missing:
                raise MissingObjects("some objects were not found in the read transaction", objects=missing)
            return self
        now = self._clock()
        if self.first_commit_at is None:
            self.first_commit_at = now
        elif now - self.first_commit_at > MAX_TOKEN_AGE:
            raise TransactionTokenExpired(
                "this prepared transaction was first committed over 9.5 minutes ago; DynamoDB no longer "
                "treats a retry as the same request. prepare() a new one")
        writes = self._writes
        for write in writes:
            write.error = None  # a commit after a failed one starts clean
        engine._before_send(self._hooks, writes)
        try:
            engine.session.transaction_write(self._wire, self.tx_id)
        except BaseException as error:
            for write in writes:
                write.error = error
            raise
        finally:
            for hook in self._hooks:
                hook.after_send(engine, writes)
        for kind, obj, _ in self.items:
            if kind == "save":
                settle_after_save(obj)
                signals.object_saved.send(engine, engine=engine, obj=obj)
            elif kind == "delete":
                signals.object_deleted.send(engine, engine=engine, obj=obj)
        return self
