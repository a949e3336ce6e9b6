"""Read and write transactions (TransactGetItems / TransactWriteItems), up to 100 items each.

Write transactions go through the write path (:mod:`bloop.write`): every item is validated and
rendered when the transaction is prepared, within DynamoDB's limits (100 items, 4 MB), and a
prepared transaction sends them as one TransactWriteItems. Read transactions fill their objects
through the read path.
"""
from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Callable

from .exceptions import InvalidTransaction, TransactionTokenExpired
from .extensions import Outcome
from .limits import MAX_TRANSACTION_ITEMS
from .models import dump_key
from .util import key_identity, key_repr
from .write import WriteItem

if TYPE_CHECKING:  # pragma: no cover
    from .read import ReadPath
    from .session import SessionWrapper
    from .write import Prepared, Rendered, WritePath

__all__ = ["ReadTransaction", "WriteTransaction", "PreparedTransaction", "MAX_TRANSACTION_ITEMS"]

MAX_TOKEN_AGE = 9.5 * 60  # DynamoDB honours a ClientRequestToken for 10 minutes


class Transaction:
    """Collects items; as a context manager the outermost ``with`` commits on a clean exit."""

    mode = ""

    def __init__(self, writes: WritePath, session: SessionWrapper, reads: ReadPath | None = None) -> None:
        self._writes = writes
        self._session = session
        self._reads = reads
        self._items: list[WriteItem] = []
        self._depth = 0

    def __enter__(self) -> Transaction:
        self._depth += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._depth -= 1
        if self._depth == 0 and exc_type is None:
            self.prepare().commit()

    def _add(self, kind: str, obj: Any, condition: Any = None) -> None:
        self._writes.check_object(obj)
        if len(self._items) >= MAX_TRANSACTION_ITEMS:
            raise InvalidTransaction(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items")
        self._items.append(WriteItem(kind, obj, condition))

    def prepare(self) -> PreparedTransaction:
        if not self._items:
            raise InvalidTransaction("the transaction is empty; add items before committing")
        return PreparedTransaction(self._writes, self._session, self.mode, list(self._items), reads=self._reads)


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

    def __init__(self, writes: WritePath, session: SessionWrapper, mode: str, items: list[WriteItem],
                 clock: Callable[[], float] = time.monotonic, reads: ReadPath | None = None) -> None:
        self.mode = mode
        self.items = items
        self.tx_id = uuid.uuid4().hex
        self.first_commit_at: float | None = None
        self._writes = writes
        self._session = session
        self._reads = reads
        self._clock = clock
        self._prepared: Prepared | None = None
        self._wire: list[dict] = []
        if mode == "w":
            self._prepared = writes.prepare(items, mode="transaction")
            self._wire = [r.request for r in self._prepared.rendered]
        else:
            seen = set()
            for item in items:
                obj = item.obj
                table_name = writes.table_name(type(obj))
                key = dump_key(obj, {"engine": writes.engine})
                identity = (table_name, key_identity(key))
                if identity in seen:
                    raise InvalidTransaction(f"{key_repr(obj)} appears twice in one transaction; DynamoDB allows one "
                                             "operation per item")
                seen.add(identity)
                self._wire.append({"Get": {"TableName": table_name, "Key": key}})

    def commit(self) -> PreparedTransaction:
        if self.mode == "r":
            response = self._session.transaction_read(self._wire)
            entries = response.get("Responses", [])
            assert self._reads is not None
            self._reads.transaction([item.obj for item in self.items],
                                    [entry.get("Item") for entry in entries])
            return self
        now = self._clock()
        if self.first_commit_at is None:
            self.first_commit_at = now
        elif now - self.first_commit_at > MAX_TOKEN_AGE:
            raise TransactionTokenExpired(
                "this prepared transaction was first committed over 9.5 minutes ago; DynamoDB no longer "
                "treats a retry as the same request. prepare() a new one")
        assert self._prepared is not None
        self._writes.send(self._prepared, self._send)
        return self

    def _send(self, rendered: list[Rendered]) -> list[Outcome[Any]]:
        """One TransactWriteItems: all items succeed or all fail with the same error."""
        try:
            self._session.transaction_write([r.request for r in rendered], self.tx_id)
        except Exception as error:
            return [Outcome(None, error)] * len(rendered)
        return [Outcome(None, None)] * len(rendered)
