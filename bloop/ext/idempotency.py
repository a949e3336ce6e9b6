"""Idempotency: run a function once per key, and record its result through the engine.

Retries (Lambda's, the local worker's after a crash, a client's) call the same function with the same
input more than once. Decorate it, and the second call returns the first call's result without running::

    from bloop.ext.idempotency import idempotent, idempotent_record

    @idempotent(engine, key="order_id", namespace="billing.charge", validate="amount")
    def charge(order_id, amount):
        ...

    @idempotent_record(engine, namespace="orders.emails")     # a stream handler: once per record
    def handle(event):
        ...

How it works: before running, a conditional write stores an INPROGRESS record under the key; only one
caller can write it. The function then runs, and its result is stored with status COMPLETED. A caller that
finds a COMPLETED record gets the stored result; one that finds an INPROGRESS record gets
:exc:`IdempotencyInProgress` (or waits for the result with ``wait=``). If the function raises, the record is
deleted so a retry can run.

Every record has a TTL expiry (``expires_after``, a :class:`~bloop.types.Timestamp` column DynamoDB's TTL
deletes) and an in-progress deadline: if the process dies while the function runs (a Lambda timeout, a
SIGKILL), another caller may take the key over once the deadline has passed. In Lambda the deadline is the
end of the invocation; elsewhere ``in_progress_timeout`` (60 s by default). A function killed *after* its
side effect and *before* its COMPLETED write runs again after the deadline: make such effects conditional on
the key too, or keep them in the same transaction.
"""
from __future__ import annotations

import base64
import collections
import datetime
import decimal
import enum
import functools
import hashlib
import inspect
import json
import logging
import random
import threading
import time
import uuid
import warnings
import weakref
from typing import Any, Callable, NamedTuple

import jmespath  # type: ignore[import-untyped]

from ..exceptions import BloopException, ConnectionFailed, ConstraintViolation, MissingObjects, RetryLimitExceeded
from ..models import BaseModel, Column
from ..types import Integer, String, Timestamp
from .aws_lambda import current_lambda_context

__all__ = ["COMPLETED", "INPROGRESS", "Idempotency", "IdempotencyCompletionFailed", "IdempotencyError",
           "IdempotencyInProgress",
           "IdempotencyKeyError", "IdempotencyKeyWarning", "IdempotencyRecord", "IdempotencyValidationError",
           "event_payload", "idempotent", "idempotent_record"]

logger = logging.getLogger("bloop.ext.idempotency")

INPROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
DEFAULT_EXPIRES_AFTER = 3600.0
DEFAULT_IN_PROGRESS_TIMEOUT = 60.0
UTC = datetime.timezone.utc
#: conditional writes lost to other callers in a row before giving up (each loss means another caller
#: changed the record between our write and our read, so this only trips under pathological churn)
MAX_ACQUIRE_ATTEMPTS = 20
#: attempts at the COMPLETED write when it fails transiently, with full-jitter backoff between them
COMPLETE_ATTEMPTS = 5
COMPLETE_BACKOFF_BASE = 0.1
COMPLETE_BACKOFF_CAP = 2.0


class IdempotencyRecord(BaseModel):
    """One key's record. Bind it (or a subclass with another ``Meta.table_name``) on the engine you pass."""

    class Meta:
        table_name = "bloop-idempotency"
        ttl = {"column": "expires_at"}
        billing = {"mode": "on_demand"}

    id = Column(String, hash_key=True)  # "<namespace>#<sha256 of the key>"
    status = Column(String)  # INPROGRESS or COMPLETED
    expires_at = Column(Timestamp)  # DynamoDB's TTL deletes the record after this
    in_progress_until = Column(Integer)  # epoch milliseconds; after it an INPROGRESS record may be taken over
    payload_hash = Column(String)  # sha256 of the validated part of the payload, when validate= is set
    result = Column(String)  # the function's result, serialised (JSON by default)
    owner = Column(String)  # random id of the call holding the record


class IdempotencyError(BloopException):
    """Base class of the idempotency errors."""


class IdempotencyInProgress(IdempotencyError):
    """Another call with the same key is running; retry later (or pass ``wait=``)."""

    def __init__(self, message: str, *, record_id: str, in_progress_until: datetime.datetime | None) -> None:
        super().__init__(message)
        self.record_id = record_id
        #: when the other call's claim lapses (its process may have died)
        self.in_progress_until = in_progress_until


class IdempotencyValidationError(IdempotencyError, ValueError):
    """A payload reused a key with different validated fields than the call that recorded it."""

    def __init__(self, message: str, *, record_id: str) -> None:
        super().__init__(message)
        self.record_id = record_id


class IdempotencyCompletionFailed(IdempotencyError):
    """The function ran, but its record could not be marked COMPLETED (transient AWS failures past the retries).

    ``result`` is what the function returned; the record stays INPROGRESS until its deadline, after which a
    call with the key runs the function again. The last AWS error is ``__cause__``.
    """

    def __init__(self, message: str, *, record_id: str, result: Any = None) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.result = result


class IdempotencyKeyError(IdempotencyError, ValueError):
    """The key expression found nothing in the payload; the function was not run and nothing was recorded."""


class IdempotencyKeyWarning(UserWarning):
    """The key expression found nothing, and ``on_missing_key="warn"`` ran the function without idempotency."""


# ------------------------------------------------------------------------------------------- payloads
def _jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value``: what key and validation expressions search."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, dict):
        return {str(name): _jsonable(inner) for name, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(inner) for inner in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(inner) for inner in value), key=_canonical)
    if isinstance(value, BaseModel):
        return {column.name: _jsonable(value.__dict__[column.name])
                for column in type(value).Meta.columns if column.name in value.__dict__}
    return str(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _digest(value: Any) -> str:
    return hashlib.sha256(_canonical(_jsonable(value)).encode()).hexdigest()


def event_payload(event: dict) -> dict:
    """The JSON view of a stream event that :func:`idempotent_record`'s expressions search.

    ``{"key": {column: value}, "old": {...} | None, "new": {...} | None, "meta": {"created_at": iso text,
    "event": {"id", "type", "version"}, "sequence_number", "ttl"}}``; datetimes become ISO text, bytes base64,
    sets sorted lists, decimals numbers.
    """
    return _jsonable(event)


def _is_missing(value: Any) -> bool:
    if value is None or value == "" or value == [] or value == {}:
        return True
    return isinstance(value, list) and all(inner is None for inner in value)


# ------------------------------------------------------------------------------------------- the core
class Idempotency:
    """The key/record protocol behind :func:`idempotent`; use it directly with :meth:`call`."""

    def __init__(self, engine: Any, *, namespace: str, key: str | Callable[..., Any], validate: Any = None,
                 payload: Callable[..., Any] | None = None, expires_after: float = DEFAULT_EXPIRES_AFTER,
                 in_progress_timeout: float | None = None, wait: float = 0.0, on_missing_key: str = "raise",
                 cache_size: int = 0, model: Any = IdempotencyRecord, bind: bool = True,
                 skip_table_setup: bool = False, dumps: Callable[[Any], str] = json.dumps,
                 loads: Callable[[str], Any] = json.loads, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 remaining_time: Callable[[], float | None] | None = None) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ValueError("namespace must be a non-empty string naming what the keys belong to, e.g. "
                             "'billing.charge'; it is never derived from a function or Lambda name")
        if on_missing_key not in ("raise", "warn"):
            raise ValueError(f'on_missing_key must be "raise" or "warn", not {on_missing_key!r}')
        if expires_after <= 0:
            raise ValueError("expires_after must be a positive number of seconds")
        if in_progress_timeout is not None and in_progress_timeout < 0:
            raise ValueError("in_progress_timeout must be >= 0 seconds")
        if wait < 0 or cache_size < 0:
            raise ValueError("wait and cache_size must be >= 0")
        for name in ("id", "status", "expires_at", "in_progress_until", "payload_hash", "result", "owner"):
            if name not in model.Meta.columns_by_name:
                raise ValueError(f"the record model {model.__name__} lacks the column {name!r}; subclass "
                                 "IdempotencyRecord to change its table")
        self.namespace = namespace
        self.key = key
        self.validate = validate
        self.payload = payload
        self.expires_after = float(expires_after)
        self.in_progress_timeout = in_progress_timeout
        self.wait = float(wait)
        self.on_missing_key = on_missing_key
        self.cache_size = cache_size
        self.model = model
        self.dumps = dumps
        self.loads = loads
        self.clock = clock
        self.sleep = sleep
        self.remaining_time = remaining_time
        self._key_expression = _compile(key, "key")
        self._validate_expression = _compile(validate, "validate") if validate is not None else None
        self._engine_source = engine
        self._bind = bind
        self._skip_table_setup = skip_table_setup
        self._bound: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[str, _Cached] = collections.OrderedDict()

    # ---------------------------------------------------------------------------------- public
    def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` once per key; later calls with the key return its stored result."""
        view = _Lazy(lambda: self._payload_view(function, args, kwargs))
        key_value = self._select(self.key, self._key_expression, args, kwargs, view)
        if _is_missing(key_value):
            where = self.key if isinstance(self.key, str) else getattr(self.key, "__name__", "the key callable")
            message = (f"the idempotency key {where!r} found nothing in the payload of "
                       f"{getattr(function, '__qualname__', function)!r} (namespace {self.namespace!r})")
            if self.on_missing_key == "raise":
                raise IdempotencyKeyError(message + "; nothing was run or recorded. Fix the expression, or pass "
                                          'on_missing_key="warn" to run such calls without idempotency')
            warnings.warn(message + "; running it without idempotency (nothing recorded)",
                          IdempotencyKeyWarning, stacklevel=3)
            return function(*args, **kwargs)
        record_id = f"{self.namespace}#{_digest(key_value)}"
        payload_hash = None
        if self.validate is not None:
            payload_hash = _digest(self._select(self.validate, self._validate_expression, args, kwargs, view))
        return self._run(record_id, payload_hash, lambda: function(*args, **kwargs))

    def record_id(self, key_value: Any) -> str:
        """The hash key under which ``key_value`` (what the key expression selected) is recorded."""
        return f"{self.namespace}#{_digest(key_value)}"

    @property
    def engine(self) -> Any:
        """The engine records are written through (resolved, and the record model bound, on first use)."""
        return self._engine()

    # ---------------------------------------------------------------------------------- payloads
    def _payload_view(self, function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if self.payload is not None:
            return _jsonable(self.payload(*args, **kwargs))
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except (TypeError, ValueError):
            return _jsonable({"args": list(args), "kwargs": kwargs})
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for name in ("self", "cls"):
            arguments.pop(name, None)
        return _jsonable(arguments)

    @staticmethod
    def _select(spec: Any, expression: Any, args: tuple, kwargs: dict, view: _Lazy) -> Any:
        if expression is None:
            return spec(*args, **kwargs)
        return expression.search(view.value)

    # ---------------------------------------------------------------------------------- engine
    def _engine(self) -> Any:
        source = self._engine_source
        engine = source() if callable(source) else source
        if self._bind and engine not in self._bound:
            with self._lock:
                if engine not in self._bound:
                    if not engine.is_bound(self.model):  # keep a binding the engine already has
                        engine.bind(self.model, skip_table_setup=self._skip_table_setup)
                    self._bound.add(engine)
        return engine

    def _deadline_ms(self, now: float) -> int:
        """The in-progress deadline: always written, even when no time is left (then it is ``now``)."""
        remaining = None
        if self.remaining_time is not None:
            remaining = self.remaining_time()
        else:
            context = current_lambda_context()
            get_remaining = getattr(context, "get_remaining_time_in_millis", None)
            if get_remaining is not None:
                remaining = get_remaining() / 1000.0
        timeout = self.in_progress_timeout
        if remaining is not None:
            remaining = max(0.0, float(remaining))
            timeout = remaining if timeout is None else min(timeout, remaining)
        elif timeout is None:
            timeout = DEFAULT_IN_PROGRESS_TIMEOUT
        return int((now + timeout) * 1000)

    # ---------------------------------------------------------------------------------- protocol
    def _run(self, record_id: str, payload_hash: str | None, run: Callable[[], Any]) -> Any:
        cached = self._cache_get(record_id, payload_hash)
        if cached is not None:
            return self._load_result(cached.stored)
        engine = self._engine()
        model = self.model
        owner = uuid.uuid4().hex
        waited, delay, lost = 0.0, 0.05, 0
        write = True  # after a wait, read first: a conditional write that fails still costs a write
        while True:
            if write and self._acquire(engine, record_id, payload_hash, owner, self.clock()):
                break
            existing = self._read(engine, record_id)
            now = self.clock()
            if existing is not None and existing.status == INPROGRESS and getattr(existing, "owner", None) == owner:
                # our claim was applied but its answer was lost (e.g. a 500 that botocore retried, and the
                # retry failed its own condition): the record is ours
                break
            if existing is None or _expired(existing, now) or _lapsed(existing, now):
                lost += 1
                if lost >= MAX_ACQUIRE_ATTEMPTS:
                    raise IdempotencyError(f"could not claim {record_id} after {lost} attempts: the record keeps "
                                           "changing under concurrent calls")
                write = True
                continue
            self._check_payload(existing, payload_hash, record_id)
            if existing.status == COMPLETED:
                stored = getattr(existing, "result", None)
                self._cache_put(record_id, payload_hash, stored, _expiry_epoch(existing))
                return self._load_result(stored)
            until = _until(existing)
            # the wait is measured in time slept, so an injected clock that stands still can't make it endless
            if waited >= self.wait:
                raise IdempotencyInProgress(
                    f"another call with this key is in progress ({record_id}, namespace {self.namespace!r}); "
                    f"its claim lapses at {until.isoformat() if until else 'its expiry'}. Retry later, or pass "
                    "wait= to wait for its result", record_id=record_id, in_progress_until=until)
            pause = min(delay, self.wait - waited)
            self.sleep(pause)
            waited += pause
            delay = min(delay * 2, 1.0)
            write = False
        try:
            result = run()
        except BaseException:
            self._release(engine, record_id, owner)
            raise
        try:
            stored = self.dumps(result)
        except (TypeError, ValueError) as error:
            self._complete(engine, model, record_id, payload_hash, owner, None)
            raise TypeError(f"the result of the call recorded as {record_id} can't be stored ({error}); the call "
                            "ran and is recorded as completed, so calls with this key return None. Return "
                            "JSON-serialisable values, or pass dumps=/loads=") from error
        expires = self._complete(engine, model, record_id, payload_hash, owner, stored, result)
        if expires is not None:
            self._cache_put(record_id, payload_hash, stored, expires)
        return result

    def _acquire(self, engine: Any, record_id: str, payload_hash: str | None, owner: str, now: float) -> bool:
        model = self.model
        now_dt = _as_datetime(now)
        record = model(id=record_id, status=INPROGRESS, expires_at=_as_datetime(now + self.expires_after),
                       in_progress_until=self._deadline_ms(now), payload_hash=payload_hash, result=None,
                       owner=owner)
        free = (model.id == None) | (model.expires_at < now_dt)  # noqa: E711 - attribute_not_exists
        lapsed = (model.status == INPROGRESS) & (model.in_progress_until < int(now * 1000))
        try:
            engine.save(record, condition=free | lapsed)
        except ConstraintViolation:
            return False
        return True

    def _read(self, engine: Any, record_id: str) -> Any:
        existing = self.model(id=record_id)
        try:
            engine.load(existing, consistent=True)
        except MissingObjects:
            return None
        return existing

    def _complete(self, engine: Any, model: Any, record_id: str, payload_hash: str | None, owner: str,
                  stored: str | None, result: Any = None) -> float | None:
        """Mark the record COMPLETED if this call still holds it; the expiry written, or None.

        The function has run, so a transient failure of this write (a lost connection, throttling past
        botocore's retries) is retried with backoff: left INPROGRESS, the record would make every retry
        fail until the deadline and then run the function again. Writing COMPLETED twice is harmless.
        """
        expires = self.clock() + self.expires_after
        record = model(id=record_id, status=COMPLETED, expires_at=_as_datetime(expires), in_progress_until=None,
                       payload_hash=payload_hash, result=stored, owner=owner)
        for attempt in range(1, COMPLETE_ATTEMPTS + 1):
            try:
                engine.save(record, condition=model.owner == owner)
            except ConstraintViolation:
                logger.warning("the claim on %s lapsed before the call finished and another call took it over, "
                               "so the function may have run twice; raise in_progress_timeout above the longest "
                               "run", record_id)
                return None
            except (ConnectionFailed, RetryLimitExceeded) as error:
                if attempt == COMPLETE_ATTEMPTS:
                    raise IdempotencyCompletionFailed(
                        f"the function ran, but its record {record_id} (namespace {self.namespace!r}) could not be "
                        f"marked COMPLETED after {attempt} attempts ({error}). It stays INPROGRESS: calls with this "
                        "key get IdempotencyInProgress until its deadline, and after it the function runs again. "
                        "The result is in this error's .result", record_id=record_id, result=result) from error
                delay = random.uniform(0, min(COMPLETE_BACKOFF_CAP, COMPLETE_BACKOFF_BASE * 2 ** attempt))
                logger.debug("marking %s COMPLETED failed (%s); retry %d of %d in %.2f s", record_id,
                             type(error).__name__, attempt, COMPLETE_ATTEMPTS - 1, delay)
                self.sleep(delay)
            else:
                return expires
        return None  # not reached: the last attempt returns or raises

    def _release(self, engine: Any, record_id: str, owner: str) -> None:
        """Delete our INPROGRESS record after a failure, so a retry can run."""
        model = self.model
        try:
            engine.delete(model(id=record_id), condition=model.owner == owner)
        except ConstraintViolation:
            pass  # another call took the key over after our deadline; the record is theirs
        except Exception:
            logger.exception("could not delete the in-progress record %s after a failure; retries can run once "
                             "its deadline passes", record_id)

    def _check_payload(self, existing: Any, payload_hash: str | None, record_id: str) -> None:
        stored = getattr(existing, "payload_hash", None)
        if payload_hash is not None and stored is not None and stored != payload_hash:
            raise IdempotencyValidationError(
                f"the key of {record_id} (namespace {self.namespace!r}) was used before with a different "
                f"payload: the fields selected by validate={self.validate!r} differ. Use a new key for a new "
                "request", record_id=record_id)

    def _load_result(self, stored: str | None) -> Any:
        # bloop loads an absent String column as "" (a result that could not be stored, see _run)
        return None if stored is None or stored == "" else self.loads(stored)

    # ---------------------------------------------------------------------------------- cache
    def _cache_get(self, record_id: str, payload_hash: str | None) -> _Cached | None:
        if not self.cache_size:
            return None
        with self._lock:
            entry = self._cache.get(record_id)
            if entry is None:
                return None
            if self.clock() >= entry.expires:
                del self._cache[record_id]
                return None
            self._cache.move_to_end(record_id)
        # the cache answers only after the same validation a read from the table gets
        if payload_hash is not None and entry.payload_hash is not None and entry.payload_hash != payload_hash:
            raise IdempotencyValidationError(
                f"the key of {record_id} (namespace {self.namespace!r}) was used before with a different "
                f"payload: the fields selected by validate={self.validate!r} differ. Use a new key for a new "
                "request", record_id=record_id)
        return entry

    def _cache_put(self, record_id: str, payload_hash: str | None, stored: str | None, expires: float) -> None:
        """Called only with results validated against ``payload_hash`` (or produced by this very call)."""
        if not self.cache_size:
            return
        with self._lock:
            self._cache[record_id] = _Cached(payload_hash, stored, expires)
            self._cache.move_to_end(record_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)


class _Cached(NamedTuple):
    """A completed result kept in the in-process cache."""

    payload_hash: str | None
    stored: str | None
    expires: float  # epoch seconds


class _Lazy:
    """The payload view, built only when an expression needs it."""

    __slots__ = ("_make", "_value", "_made")

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._made = False
        self._value = None

    @property
    def value(self) -> Any:
        if not self._made:
            self._value = self._make()
            self._made = True
        return self._value


def _compile(spec: Any, what: str) -> Any:
    if callable(spec):
        return None
    if not isinstance(spec, str) or not spec:
        raise TypeError(f"{what} must be a JMESPath expression (a non-empty str) or a callable, not {spec!r}")
    try:
        return jmespath.compile(spec)
    except jmespath.exceptions.JMESPathError as error:
        raise ValueError(f"{what}={spec!r} is not a valid JMESPath expression: {error}") from None


def _as_datetime(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, UTC)


def _expiry_epoch(record: Any) -> float:
    expires_at = getattr(record, "expires_at", None)
    return expires_at.timestamp() if expires_at is not None else float("inf")


def _expired(record: Any, now: float) -> bool:
    """DynamoDB's TTL deletes records some time after expiry (up to days): expired counts as absent."""
    expires_at = getattr(record, "expires_at", None)
    return expires_at is not None and expires_at.timestamp() < int(now)


def _lapsed(record: Any, now: float) -> bool:
    until = getattr(record, "in_progress_until", None)
    return record.status == INPROGRESS and until is not None and until < int(now * 1000)


def _until(record: Any) -> datetime.datetime | None:
    until = getattr(record, "in_progress_until", None)
    return None if until is None else datetime.datetime.fromtimestamp(until / 1000, UTC)


# ------------------------------------------------------------------------------------------- decorators
def idempotent(engine: Any, *, key: str | Callable[..., Any], namespace: str, **options: Any) -> Callable:
    """Decorate a function so it runs once per key; later calls return the stored result.

    ``engine``: an Engine, or a zero-argument callable returning one (called on each call, so the engine can
    be built lazily). The record model (:class:`IdempotencyRecord`, or ``model=`` a subclass) is bound on it
    on first use (``bind=False`` if you bound it; ``skip_table_setup=True`` where the table already exists).

    ``key``: a JMESPath expression over the *payload*, or a callable taking the function's arguments. The
    payload is a dict of the call's arguments by parameter name (``self``/``cls`` left out), converted to
    JSON values (models become dicts of their columns); ``payload=`` (a callable taking the function's
    arguments) replaces it. ``namespace``: names what the keys belong to; required and never derived.

    Options: ``validate`` (an expression or callable selecting fields that must match between calls with
    one key, else :exc:`IdempotencyValidationError`), ``expires_after`` (seconds a completed result is kept,
    default 3600), ``in_progress_timeout`` (seconds before a claim of a dead call can be taken over; in
    Lambda at most the invocation's remaining time; default 60 s outside Lambda), ``wait`` (seconds to wait
    for another call's result instead of raising :exc:`IdempotencyInProgress`), ``on_missing_key``
    (``"raise"`` or ``"warn"``), ``cache_size`` (an in-process LRU of completed results), ``dumps``/``loads``
    (result serialisation, JSON by default), ``clock``/``sleep``/``remaining_time`` (for tests).
    """
    idempotency = Idempotency(engine, key=key, namespace=namespace, **options)

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return idempotency.call(function, *args, **kwargs)

        wrapper.idempotency = idempotency  # type: ignore[attr-defined]
        return wrapper

    return decorate


def idempotent_record(engine: Any, *, namespace: str, key: str | Callable[..., Any] = "meta.event.id",
                      **options: Any) -> Callable:
    """:func:`idempotent` for stream handlers ``handler(event)``: each record's side effect runs once.

    The payload is :func:`event_payload` of the event, and the key defaults to the record's ``eventID``
    (``meta.event.id``), which is the same whether the record reached the handler through Lambda or the
    local worker. Other options as for :func:`idempotent`.
    """
    options.setdefault("payload", event_payload)
    return idempotent(engine, key=key, namespace=namespace, **options)
