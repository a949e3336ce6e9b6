"""Run a stream handler in AWS Lambda: the DynamoDB Streams event source mapping calls it with batches.

The handler is the one the local worker (``python -m bloop worker``) runs: a function taking one typed
event, the same dict ``engine.stream`` yields::

    from bloop.ext.aws_lambda import lambda_handler

    def handle(event):                      # {"key", "old", "new", "meta"}
        ...

    handler = lambda_handler(handle, model=Order, report_batch_item_failures=True)

Records of a batch are handled one after another, in order. On the first failure the rest of the batch
is left alone, so per key nothing is applied out of order:

* with ``report_batch_item_failures=True`` the entry point returns
  ``{"batchItemFailures": [{"itemIdentifier": <sequence number of the failed record>}]}``; Lambda then
  retries from that record. Declare it only when the mapping has ``FunctionResponseTypes:
  ["ReportBatchItemFailures"]``: without it Lambda ignores the response, counts the batch as a success
  and the failed records are lost;
* otherwise (the default, safe under any mapping) it raises :exc:`RecordFailed`, and Lambda retries the
  whole batch.

Either way records before the failed one can be handled again on the retry: make side effects
idempotent (:mod:`bloop.ext.idempotency`). There is no stream token in Lambda: the mapping keeps the
position.

Binding: the model is bound with ``skip_table_setup=True`` by default. Turning a record into an event needs
no AWS call, so a cold start makes none either (a full bind costs DescribeTable, DescribeStream and maybe
DescribeTimeToLive calls, the IAM permissions for them, and can *create* a missing table).
"""
from __future__ import annotations

import base64
import contextvars
import copy
import logging
import os
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..exceptions import BloopException, InvalidModel, InvalidStream
from ..models import BaseModel
from ..stream.events import EventBuilder

__all__ = ["LambdaStreamHandler", "RecordFailed", "current_lambda_context", "default_engine",
           "lambda_event", "lambda_handler", "normalize_record"]

logger = logging.getLogger("bloop.ext.aws_lambda")

UTC = timezone.utc
#: stop starting new records when less than this much of the invocation is left (milliseconds)
DEFAULT_TIMEOUT_MARGIN_MS = 1000

_context: contextvars.ContextVar[Any] = contextvars.ContextVar("bloop_lambda_context", default=None)


def current_lambda_context() -> Any:
    """The Lambda context of the invocation being handled, or None outside one.

    :mod:`bloop.ext.idempotency` reads the remaining time from it to set in-progress deadlines.
    """
    return _context.get()


class RecordFailed(BloopException):
    """A record's handler raised (or the record could not be decoded); Lambda retries the batch.

    ``sequence_number`` and ``event_id`` name the record; the handler's exception is ``__cause__``.
    """

    def __init__(self, message: str, *, sequence_number: str | None = None, event_id: str | None = None,
                 handled: int = 0) -> None:
        super().__init__(message)
        self.sequence_number = sequence_number
        self.event_id = event_id
        #: records of the batch handled before this one
        self.handled = handled


def default_engine() -> Any:
    """``Engine()`` with boto3's default clients and ``BLOOP_TABLE_NAME_TEMPLATE`` when it is set."""
    from ..engine import Engine
    return Engine(table_name_template=os.environ.get("BLOOP_TABLE_NAME_TEMPLATE") or "{table_name}")


# --------------------------------------------------------------------------------------------- records
def _decode_value(value: Any) -> Any:
    """A Lambda-JSON attribute value in boto3's form: binaries are base64 text in Lambda JSON."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (tag, inner), = value.items()
    if tag == "B":
        return {"B": base64.b64decode(inner) if isinstance(inner, str) else inner}
    if tag == "BS":
        return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in inner]}
    if tag == "M":
        return {"M": {name: _decode_value(v) for name, v in inner.items()}}
    if tag == "L":
        return {"L": [_decode_value(v) for v in inner]}
    return value


def _encode_value(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    (tag, inner), = value.items()
    if tag == "B":
        return {"B": base64.b64encode(bytes(inner)).decode() if not isinstance(inner, str) else inner}
    if tag == "BS":
        return {"BS": [base64.b64encode(bytes(v)).decode() if not isinstance(v, str) else v for v in inner]}
    if tag == "M":
        return {"M": {name: _encode_value(v) for name, v in inner.items()}}
    if tag == "L":
        return {"L": [_encode_value(v) for v in inner]}
    return value


IMAGES = ("Keys", "NewImage", "OldImage")


def normalize_record(record: dict) -> dict:
    """A record of a Lambda event in the shape boto3's ``get_records`` returns (a copy).

    ``ApproximateCreationDateTime`` (epoch seconds) becomes an aware UTC datetime; binary values (base64
    text) become bytes. A record without ``ApproximateCreationDateTime`` (hand-written test events often
    lack it) gets ``created_at`` None in its event.
    """
    if not isinstance(record, dict) or not isinstance(record.get("dynamodb"), dict):
        raise ValueError("not a DynamoDB Streams record: expected an object with a 'dynamodb' object")
    normal = {name: value for name, value in record.items() if name != "dynamodb"}
    body = dict(record["dynamodb"])
    for name in IMAGES:
        if body.get(name) is not None:
            body[name] = {attribute: _decode_value(v) for attribute, v in body[name].items()}
    created_at = body.get("ApproximateCreationDateTime")
    if isinstance(created_at, (int, float)) and not isinstance(created_at, bool):
        body["ApproximateCreationDateTime"] = datetime.fromtimestamp(created_at, UTC)
    elif isinstance(created_at, datetime):
        if created_at.tzinfo is None:
            raise ValueError(f"ApproximateCreationDateTime {created_at!r} is a naive datetime")
    elif created_at is not None:
        raise ValueError(f"ApproximateCreationDateTime must be epoch seconds, got {created_at!r}")
    if "SequenceNumber" in body:
        body["SequenceNumber"] = str(body["SequenceNumber"])
    normal["dynamodb"] = body
    return normal


def lambda_event(records: Iterable[dict], *, event_source_arn: str) -> dict:
    """The Lambda event a DynamoDB Streams mapping would send for ``records`` (boto3 ``get_records`` shape).

    For feeding an entry point with records read from the embedded AWS (or any stream): timestamps become
    epoch seconds, binaries base64 text, and each record gets ``eventSourceARN``. The result is plain JSON.
    """
    region = event_source_arn.split(":")[3] if event_source_arn.count(":") >= 5 else None
    rendered = []
    for record in records:
        out = {name: copy.deepcopy(value) for name, value in record.items() if name != "dynamodb"}
        body = {name: copy.deepcopy(value) for name, value in record["dynamodb"].items()}
        for name in IMAGES:
            if body.get(name) is not None:
                body[name] = {attribute: _encode_value(v) for attribute, v in body[name].items()}
        created_at = body.get("ApproximateCreationDateTime")
        if isinstance(created_at, datetime):
            body["ApproximateCreationDateTime"] = created_at.timestamp()
        out["dynamodb"] = body
        out.setdefault("eventSource", "aws:dynamodb")
        if region:
            out.setdefault("awsRegion", region)
        out["eventSourceARN"] = event_source_arn
        rendered.append(out)
    return {"Records": rendered}


def _table_of(arn: str) -> str | None:
    """The table name in a stream ARN ``arn:aws:dynamodb:region:account:table/NAME/stream/LABEL``."""
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    parts = resource.split("/")
    if len(parts) >= 2 and parts[0] == "table":
        return parts[1]
    return None


# --------------------------------------------------------------------------------------------- handler
class LambdaStreamHandler:
    """A Lambda entry point over a typed-event handler; build it with :func:`lambda_handler`."""

    def __init__(self, handler: Callable[[dict], Any], *, model: Any, engine: Any = None,
                 report_batch_item_failures: bool = False, stream_arn: str | None = None,
                 check_source: bool = True, bind: bool = True, skip_table_setup: bool = True,
                 timeout_margin_ms: int = DEFAULT_TIMEOUT_MARGIN_MS) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {handler!r}")
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise InvalidModel(f"model must be a bloop model class, not {model!r}")
        if not model.Meta.stream:
            raise InvalidStream(f"{model.__name__} has no stream, so no DynamoDB Streams event can be for it; "
                                "declare Meta.stream = {'include': [...]} and enable it on the table")
        if timeout_margin_ms < 0:
            raise ValueError("timeout_margin_ms must be >= 0")
        self.handler = handler
        self.model = model
        self.report_batch_item_failures = bool(report_batch_item_failures)
        self.stream_arn = stream_arn
        self.check_source = check_source
        self.timeout_margin_ms = timeout_margin_ms
        self._engine_source = engine
        self._bind = bind
        self._skip_table_setup = skip_table_setup
        self._lock = threading.Lock()
        self._ready: tuple[Any, EventBuilder, str] | None = None

    @property
    def engine(self) -> Any:
        """The engine the model is bound to (created and bound on first use)."""
        return self._prepare()[0]

    def _prepare(self) -> tuple[Any, EventBuilder, str]:
        ready = self._ready
        if ready is not None:
            return ready
        with self._lock:
            if self._ready is None:
                source = self._engine_source
                engine = default_engine() if source is None else source() if callable(source) else source
                # a model the engine already bound (perhaps with table setup) keeps that binding
                if self._bind and not engine.is_bound(self.model):
                    engine.bind(self.model, skip_table_setup=self._skip_table_setup)
                table_name = engine.table_name(self.model)
                self._ready = (engine, EventBuilder(self.model, engine), table_name)
            return self._ready

    def _check_sources(self, records: list, table_name: str) -> None:
        for record in records:
            arn = record.get("eventSourceARN") if isinstance(record, dict) else None
            if not arn:
                continue
            if self.stream_arn is not None:
                if arn != self.stream_arn:
                    raise InvalidStream(f"a record came from {arn}, but this function reads {self.stream_arn} "
                                        f"for {self.model.__name__}; check the event source mapping")
            elif _table_of(arn) != table_name:
                raise InvalidStream(
                    f"a record came from the stream of table {_table_of(arn)!r} ({arn}), but "
                    f"{self.model.__name__} is bound to table {table_name!r}; check the event source mapping "
                    "and the engine's table_name_template (BLOOP_TABLE_NAME_TEMPLATE)")

    def __call__(self, event: dict, context: Any = None) -> dict | None:
        """Handle a DynamoDB Streams Lambda event; the partial batch response, or None (see the module docs)."""
        if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
            raise ValueError("not a DynamoDB Streams event: expected an object with a 'Records' list")
        engine, builder, table_name = self._prepare()
        records = event["Records"]
        if self.check_source:
            self._check_sources(records, table_name)
        token = _context.set(context)
        try:
            failed = self._handle_batch(records, engine, builder, context)
        finally:
            _context.reset(token)
        response: dict | None = None
        if self.report_batch_item_failures:
            response = {"batchItemFailures": [] if failed is None else [{"itemIdentifier": failed}]}
        if "window" in event:
            # tumbling windows: a response without state counts as a failed invocation; pass it on unchanged
            response = dict(response or {}, state=event.get("state") or {})
        return response

    def _handle_batch(self, records: list, engine: Any, builder: EventBuilder, context: Any) -> str | None:
        """Handle records in order; the sequence number of the first one not handled, or None."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        for index, record in enumerate(records):
            body = record.get("dynamodb") if isinstance(record, dict) else None
            sequence_number = str(body.get("SequenceNumber")) if isinstance(body, dict) else None
            event_id = record.get("eventID") if isinstance(record, dict) else None
            # at least one record per invocation, or a margin larger than the timeout would never progress
            if index and remaining is not None and remaining() < self.timeout_margin_ms:
                message = (f"stopped before record {sequence_number} with {remaining()} ms left "
                           f"(timeout_margin_ms={self.timeout_margin_ms}); {index} of {len(records)} handled")
                logger.warning(message)
                if self.report_batch_item_failures:
                    return sequence_number
                raise RecordFailed(message, sequence_number=sequence_number, event_id=event_id, handled=index)
            try:
                typed = _build(engine, builder, record)
                self.handler(typed)
            except Exception as error:
                if not sequence_number:
                    raise RecordFailed(f"record {index} of the batch has no dynamodb.SequenceNumber; "
                                       "it can't be reported as a batch item failure", handled=index) from error
                what = f"record {sequence_number} (eventID {event_id}) of {self.model.__name__}"
                if self.report_batch_item_failures:
                    logger.exception("%s failed; reporting it so Lambda retries from it (%d of %d handled)",
                                     what, index, len(records))
                    return sequence_number
                raise RecordFailed(f"{what} failed: {error!r}; {index} of {len(records)} records were handled "
                                   "and Lambda retries the whole batch", sequence_number=sequence_number,
                                   event_id=event_id, handled=index) from error
        return None


def _build(engine: Any, builder: EventBuilder, record: dict) -> dict:
    """The event ``next(stream)`` would give for the record: built and finished by the engine's read path."""
    normal = normalize_record(record)
    body = normal["dynamodb"]
    if body.get("ApproximateCreationDateTime") is None:
        body["ApproximateCreationDateTime"] = datetime.fromtimestamp(0, UTC)
        event = engine.reads.event(builder, normal)
        event["meta"]["created_at"] = None
        return event
    return engine.reads.event(builder, normal)


def lambda_handler(handler: Callable[[dict], Any], *, model: Any, engine: Any = None,
                   report_batch_item_failures: bool = False, stream_arn: str | None = None,
                   check_source: bool = True, bind: bool = True, skip_table_setup: bool = True,
                   timeout_margin_ms: int = DEFAULT_TIMEOUT_MARGIN_MS) -> LambdaStreamHandler:
    """Wrap ``handler(event)`` into a Lambda entry point ``entry(lambda_event, context)`` for ``model``.

    ``engine``: an Engine, a zero-argument callable returning one (called on the first invocation), or None
    for :func:`default_engine`. The model is bound on it on first use (``skip_table_setup=True`` unless told
    otherwise; ``bind=False`` if you bound it yourself).

    ``report_batch_item_failures``: return partial batch responses (see the module docs); only with the
    mapping's ``ReportBatchItemFailures`` on.

    ``stream_arn``: every record's ``eventSourceARN`` must be exactly this. Without it the table named in
    ``eventSourceARN`` must be the model's table on the engine (``check_source=False`` turns both off).

    ``timeout_margin_ms``: once less time than this is left in the invocation, no new record is started;
    the rest of the batch is reported (or the batch raised), so a long batch doesn't time out and replay
    from its start forever. At least one record is handled per invocation.
    """
    return LambdaStreamHandler(handler, model=model, engine=engine,
                               report_batch_item_failures=report_batch_item_failures, stream_arn=stream_arn,
                               check_source=check_source, bind=bind, skip_table_setup=skip_table_setup,
                               timeout_margin_ms=timeout_margin_ms)
