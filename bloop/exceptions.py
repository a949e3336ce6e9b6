"""Every error a user can catch. Each message says what went wrong and how to fix it."""
from __future__ import annotations

from typing import Any, Iterable


class BloopException(Exception):
    """Base class for every error bloop raises on purpose."""


class ConstraintViolation(BloopException):
    """A condition on a write failed, or first()/one() found the wrong number of results."""

    def __init__(self, message: str, obj: Any = None) -> None:
        super().__init__(message)
        self.obj = obj


class TransactionCanceled(BloopException):
    """DynamoDB canceled a transaction; ``reasons`` holds one entry per item when DynamoDB sent them."""

    def __init__(self, message: str = "The transaction was canceled.", reasons: list | None = None) -> None:
        super().__init__(message)
        self.reasons = reasons or []


class TransactionTokenExpired(BloopException):
    """A prepared write transaction is too old to commit idempotently (about 10 minutes)."""


class MissingObjects(BloopException):
    """Some objects were not found; ``objects`` holds them, and the message names their keys."""

    def __init__(self, message: str = "Failed to load some objects.", objects: Iterable | None = None) -> None:
        self.objects = list(objects or [])
        if self.objects:
            # Keys only: the message ends up in logs, and the other columns may hold anything.
            message = f"{message}: {', '.join(_describe_key(obj) for obj in self.objects)}"
        super().__init__(message)


def _describe_key(obj: Any) -> str:
    """``User(id='u1')``: the model and its key columns' values, never the other columns."""
    meta = getattr(type(obj), "Meta", None)
    keys = [c for c in (getattr(meta, "hash_key", None), getattr(meta, "range_key", None)) if c is not None]
    values = ", ".join(f"{c.name}={getattr(obj, c.name, None)!r}" for c in keys)
    return f"{type(obj).__name__}({values})"


class TableMismatch(BloopException):
    """An existing table does not provide what the model declares."""


class RecordsExpired(BloopException):
    """The requested stream position is older than the stream's retention (24 hours)."""


class ShardIteratorExpired(BloopException):
    """A shard iterator was used more than 15 minutes after it was issued."""


class RetryLimitExceeded(BloopException):
    """Throttling, 5xx answers or unprocessed items persisted past the retry bound (botocore's for throttling
    and 5xx, the library's for unprocessed items); safe to retry the whole call later."""

    def __init__(self, message: str, operation: str = "", unprocessed: Any = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.unprocessed = unprocessed


class ConnectionFailed(BloopException):
    """DynamoDB could not be reached, or its answer was lost (connection closed or refused, a timeout), after
    botocore's retries. A write may or may not have been applied; ``operation`` names the call."""

    def __init__(self, message: str, operation: str = "") -> None:
        super().__init__(message)
        self.operation = operation


class ItemTooLarge(BloopException, ValueError):
    """An item would exceed DynamoDB's 400 KB limit; raised before any request is sent."""


class InvalidSearch(BloopException, ValueError):
    """A query or scan was built with invalid arguments."""


class MissingKey(BloopException, ValueError):
    """An object has no value for one of its key columns."""


class InvalidModel(BloopException, ValueError):
    """A model declaration is invalid, or a model can't be used the way it was asked to."""


class InvalidClient(BloopException, ValueError):
    """An Engine was given a boto3 client for the wrong service (e.g. the DynamoDB client as ``dynamodbstreams``)."""


class InvalidTemplate(BloopException, ValueError):
    """A table name template is not a string with ``{table_name}`` or a callable."""


class InvalidStream(BloopException, ValueError):
    """The model has no stream, or a token belongs to another stream."""


class InvalidStreamDeclaration(InvalidStream, InvalidModel):
    """``Meta.stream`` is not a valid declaration: an ``InvalidStream`` as in bloop, and an ``InvalidModel``."""


class InvalidShardIterator(BloopException, ValueError):
    """A shard iterator is malformed."""


class InvalidCondition(BloopException, ValueError):
    """A condition can't be built or rendered (wrong operand, unsupported operation)."""


class InvalidPosition(BloopException, ValueError):
    """A stream position or search token is not one bloop can move to."""


class InvalidSync(BloopException, ValueError):
    """``sync`` was not None, "new" or "old"."""


class UnknownType(BloopException, ValueError):
    """A DynamoDB wire value has a type tag bloop does not know."""


class InvalidTransaction(BloopException, RuntimeError):
    """A transaction was built in a way DynamoDB would reject (too many items, one item twice, nothing to do)."""


class TableSetupTimeout(BloopException):
    """bind gave up waiting for part of a table (table, index, stream, TTL, backups) to become live."""

    def __init__(self, message: str, parts: list[str] | None = None) -> None:
        super().__init__(message)
        self.parts = parts or []


class InvalidVerification(BloopException, ValueError):
    """``verify`` was not None, "item" or "indexes"."""


class VerificationFailed(BloopException):
    """A write succeeded but reading it back did not show it; ``failures`` lists what was seen instead.

    The write is never undone or repeated because of this.
    """

    def __init__(self, message: str, failures: list | None = None) -> None:
        super().__init__(message)
        self.failures = failures or []


class VerificationTimeout(VerificationFailed):
    """An index did not show the written state before the deadline (index reads are eventually consistent)."""


class InvalidBatch(BloopException, ValueError):
    """A batch holds something DynamoDB would reject, e.g. two requests for one key."""


class BatchWriteIncomplete(BloopException):
    """Some batch requests were still unprocessed after every retry; ``objects`` lists exactly those."""

    def __init__(self, message: str, objects: list | None = None) -> None:
        super().__init__(message)
        self.objects = objects or []


class RecordsLost(RecordsExpired):
    """Retention trimmed stream records before they were read; ``losses`` says which shard and where.

    Raised by ``next(stream)`` when no ``stream.on_loss`` callback is set. The stream has already moved
    past the gap, so calling ``next`` again carries on with the oldest record still retained.
    """

    def __init__(self, message: str, losses: Iterable | None = None) -> None:
        super().__init__(message)
        self.losses = list(losses or [])


class StreamDisabled(InvalidStream):
    """The stream was disabled and every record it held has been delivered; ``token`` is the final position."""

    def __init__(self, message: str, token: Any = None) -> None:
        super().__init__(message)
        self.token = token


class StreamNotFound(InvalidStream):
    """The stream (or its table) no longer exists; ``token`` is the last position, kept for diagnosis."""

    def __init__(self, message: str, token: Any = None) -> None:
        super().__init__(message)
        self.token = token


class RecordDecodeError(BloopException, ValueError):
    """A stream record could not be turned into the model; the stream stays on it until ``stream.skip``."""

    def __init__(self, message: str, *, shard_id: str, sequence_number: str, record: Any = None) -> None:
        super().__init__(message)
        self.shard_id = shard_id
        self.sequence_number = sequence_number
        self.record = record


class CheckpointConflict(BloopException):
    """Another worker saved the checkpoint since this one loaded it; reload before saving again."""


class InvalidValue(BloopException, ValueError, TypeError):
    """A column's value can't be stored, or a stored value loaded, with its type ("abc" in an Integer column)."""


class ExpressionTooLarge(BloopException, ValueError):
    """A rendered expression is over DynamoDB's 4 KB limit; raised before any request is sent."""


class VersionConflict(ConstraintViolation):
    """A versioned save or delete found the item changed by someone else since the object was loaded.

    Nothing was written and the object is unchanged. Reload it (``engine.load(obj)``), reapply your
    change and save again. See :doc:`/locking`.
    """

    def __init__(self, message: str, obj: Any = None, expected: Any = None) -> None:
        super().__init__(message, obj)
        #: the version the write expected to find (None: no item)
        self.expected = expected
