"""The only module that calls boto3 for DynamoDB and DynamoDB Streams.

Retries happen in one layer each:

* throttling, 5xx answers and connection errors are retried by botocore, as the client's ``Config`` says
  (``retries={"mode": "standard" | "adaptive" | "legacy", "total_max_attempts": N}``). When botocore gives
  up, the error is translated once: :exc:`~bloop.exceptions.RetryLimitExceeded` for throttling and 5xx,
  :exc:`~bloop.exceptions.ConnectionFailed` for connection errors, other bloop exceptions by error code;
* the library retries only what botocore does not see as a failure: keys and items a batch call left
  unprocessed, with full-jitter exponential backoff up to :class:`RetryPolicy`'s bound. Polling waits
  (bind, verify) sleep through the same policy.

Each retry, botocore's or the library's, is logged at DEBUG on the ``bloop.session`` logger with the
operation, the attempt and the reason (an error code or a count), never with item values.
"""
from __future__ import annotations

import logging
import random
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from botocore.client import BaseClient  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .exceptions import (
    BloopException,
    ConnectionFailed,
    ConstraintViolation,
    InvalidStream,
    ItemTooLarge,
    RecordsExpired,
    RetryLimitExceeded,
    ShardIteratorExpired,
    TableMismatch,
    TransactionCanceled,
)
from .util import chunked, item_key_identity, key_identity

__all__ = ["SessionWrapper", "RetryPolicy", "EndpointMismatch", "translate", "make_clients",
           "BATCH_GET_ITEM_CHUNK_SIZE", "RETRYABLE_CODES"]

logger = logging.getLogger("bloop.session")

BATCH_GET_ITEM_CHUNK_SIZE = 100
BATCH_WRITE_ITEM_CHUNK_SIZE = 25
#: codes that mean "try again later": botocore retries them (all but TransactionInProgressException)
RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "LimitExceededException",
    "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable", "ThrottlingError",
    "TransactionInProgressException",
})
STREAM_ITERATOR_TYPES = {
    "trim_horizon": "TRIM_HORIZON", "latest": "LATEST",
    "at_sequence": "AT_SEQUENCE_NUMBER", "after_sequence": "AFTER_SEQUENCE_NUMBER",
}
#: hosts of AWS's own endpoints (anything else is a custom endpoint, e.g. the embedded AWS)
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


class EndpointMismatch(UserWarning):
    """The DynamoDB and DynamoDB Streams clients talk to different services (one custom endpoint, one AWS)."""


@dataclass
class RetryPolicy:
    """The library's own retries (unprocessed keys/items) and polling sleeps: full jitter, capped, bounded.

    Throttling and 5xx are not retried here: botocore does, following the client's Config.
    """

    attempts: int = 10
    base: float = 0.05
    cap: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** attempt)))


# ------------------------------------------------------------------------------------------ errors
def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: BaseException, operation: str) -> BloopException:
    """The bloop exception for a botocore failure of ``operation`` (raise it ``from error``)."""
    if isinstance(error, ClientError):
        return _translate_client_error(error, operation)
    if isinstance(error, ParamValidationError):
        # botocore refused the request before sending it (e.g. an option this botocore doesn't know)
        return BloopException(f"{operation} request was refused by botocore: {error}")
    if isinstance(error, (BotocoreConnectionError, HTTPClientError)):
        return ConnectionFailed(
            f"{operation} failed: {type(error).__name__}: {error}. botocore retried it as the client's Config "
            "says; a write may or may not have been applied", operation=operation)
    return BloopException(f"{operation} failed in botocore: {type(error).__name__}: {error}")


def _translate_client_error(error: ClientError, operation: str) -> BloopException:
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message", str(error))
    metadata = error.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode", 0)
    if code == "ConditionalCheckFailedException":
        return ConstraintViolation(f"the condition was not met ({operation})", error.response.get("Item"))
    if code == "TransactionCanceledException":
        return TransactionCanceled(f"the transaction was canceled: {message}",
                                   reasons=error.response.get("CancellationReasons"))
    if code == "TrimmedDataAccessException":
        return RecordsExpired(f"the stream position is past the retention window (24 hours): {message}")
    if code == "ExpiredIteratorException":
        return ShardIteratorExpired(f"the shard iterator expired (they last 15 minutes): {message}")
    if code == "ResourceNotFoundException" and operation in ("DescribeStream", "GetShardIterator", "GetRecords"):
        return InvalidStream(f"the stream or shard was not found ({operation}): {message}")
    if code == "ValidationException" and "size" in message.lower() and "item" in message.lower():
        return ItemTooLarge(f"{operation} was refused: {message}")
    if code in RETRYABLE_CODES or status >= 500:
        attempts = int(metadata.get("RetryAttempts") or 0) + 1
        return RetryLimitExceeded(
            f"{operation} failed with {code or f'HTTP {status}'} after {attempts} attempt(s); botocore retries "
            "throttling and 5xx as the client's Config says (retries mode and total_max_attempts). Retry "
            "later, or raise the table's capacity", operation=operation)
    return BloopException(f"{operation} failed with {code}: {message}")


# --------------------------------------------------------------------------------- botocore's retries
def _note_retry_reason(request_dict: Any = None, response: Any = None, caught_exception: Any = None,
                       **kwargs: Any) -> None:
    """needs-retry: remember why the attempt failed, for the line logged if botocore retries it."""
    if request_dict is None:
        return None
    if caught_exception is not None:
        reason = type(caught_exception).__name__
    elif response is not None:
        http, parsed = response
        code = (parsed or {}).get("Error", {}).get("Code")
        reason = code or f"HTTP {getattr(http, 'status_code', '?')}"
    else:
        return None
    request_dict.setdefault("context", {})["bloop_retry_reason"] = reason
    return None  # botocore's own handler decides


def _log_retry(request: Any = None, operation_name: str | None = None, **kwargs: Any) -> None:
    """request-created: a request created for attempt 2+ is botocore retrying; one DEBUG line each."""
    context = getattr(request, "context", None) or {}
    attempt = (context.get("retries") or {}).get("attempt", 1)
    if attempt > 1 and logger.isEnabledFor(logging.DEBUG):
        retries = getattr(context.get("client_config"), "retries", None) or {}
        total = retries.get("total_max_attempts", "?")
        logger.debug("%s: botocore retry %d (attempt %d of %s, mode %s) after %s", operation_name, attempt - 1,
                     attempt, total, retries.get("mode", "legacy"), context.get("bloop_retry_reason", "a failure"))


def _watch_retries(client: Any) -> None:
    if not isinstance(client, BaseClient):
        return  # a test double or a simulator: no botocore retries to log
    events = client.meta.events
    # unique ids: engines sharing a client log each retry once
    events.register("needs-retry", _note_retry_reason, unique_id="bloop.session.retry-reason")
    events.register("request-created", _log_retry, unique_id="bloop.session.retry-log")


def _is_custom(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return not host.endswith(AWS_HOST_SUFFIXES)


def _check_endpoints(dynamodb: Any, streams: Any) -> None:
    """Warn when writes and stream reads would go to different services (e.g. only one endpoint set)."""
    if not (isinstance(dynamodb, BaseClient) and isinstance(streams, BaseClient)):
        return
    writes, reads = dynamodb.meta.endpoint_url, streams.meta.endpoint_url
    if _is_custom(writes) or _is_custom(reads):
        if urlsplit(writes).netloc != urlsplit(reads).netloc:
            warnings.warn(
                f"the DynamoDB client talks to {writes} and the DynamoDB Streams client to {reads}: streams would "
                "be read from another service than the one written to. Set AWS_ENDPOINT_URL (both clients), or "
                "AWS_ENDPOINT_URL_DYNAMODB_STREAMS as well as AWS_ENDPOINT_URL_DYNAMODB", EndpointMismatch,
                stacklevel=4)


def make_clients(region: str | None = None, endpoint_url: str | None = None, *, config: Any = None,
                 boto3_session: Any = None) -> tuple[Any, Any]:
    """dynamodb and dynamodbstreams clients; ``endpoint_url`` None lets boto3 read AWS_ENDPOINT_URL*."""
    import boto3  # type: ignore[import-untyped]
    session = boto3_session or boto3.session.Session(region_name=region)
    options: dict[str, Any] = {"endpoint_url": endpoint_url, "config": config}
    if region is not None:
        options["region_name"] = region
    return session.client("dynamodb", **options), session.client("dynamodbstreams", **options)


class SessionWrapper:
    """Thin wrapper over the dynamodb and dynamodbstreams clients (boto3 clients are thread-safe).

    Clients not given are built from ``boto3_session`` (default: a new ``boto3.Session()``) with ``config``,
    a ``botocore.config.Config`` (its ``retries`` decide how throttling and 5xx are retried).
    """

    def __init__(self, dynamodb: Any = None, dynamodbstreams: Any = None, retry: RetryPolicy | None = None, *,
                 config: Any = None, boto3_session: Any = None) -> None:
        if dynamodb is not None and dynamodbstreams is not None and (config is not None or boto3_session):
            raise ValueError("config= and boto3_session= configure the clients the engine builds; both clients "
                             "were given, so configure them instead (boto3.client(..., config=...))")
        if dynamodb is None or dynamodbstreams is None:
            import boto3  # type: ignore[import-untyped]
            session = boto3_session or boto3.session.Session()
            dynamodb = dynamodb or session.client("dynamodb", config=config)
            dynamodbstreams = dynamodbstreams or session.client("dynamodbstreams", config=config)
        self.dynamodb_client = dynamodb
        self.stream_client = dynamodbstreams
        self.retry = retry or RetryPolicy()
        _check_endpoints(dynamodb, dynamodbstreams)
        _watch_retries(dynamodb)
        _watch_retries(dynamodbstreams)

    # ----------------------------------------------------------------------------------------- core
    def call(self, client: Any, operation: str, method: str, **request: Any) -> dict:
        """One API call; botocore retries throttling, 5xx and connection errors; failures become bloop exceptions."""
        try:
            response: dict = getattr(client, method)(**request)
        except (ClientError, BotoCoreError) as error:
            raise translate(error, operation) from error
        return response

    def pause_before_retry(self, operation: str, attempt: int, reason: str) -> None:
        """The library's own retries (unprocessed keys/items): log one DEBUG line, then sleep full jitter.

        ``attempt`` counts from 0; ``reason`` says what is retried, by count and table, never by value.
        """
        delay = self.retry.delay(attempt)
        logger.debug("%s: %s; retry %d of %d in %.2f s", operation, reason, attempt + 1, self.retry.attempts, delay)
        self.retry.sleep(delay)

    def _dynamodb(self, operation: str, method: str, **request: Any) -> dict:
        return self.call(self.dynamodb_client, operation, method, **request)

    def _streams(self, operation: str, method: str, **request: Any) -> dict:
        return self.call(self.stream_client, operation, method, **request)

    # ---------------------------------------------------------------------------------------- items
    def save_item(self, item: dict) -> dict | None:
        """UpdateItem; returns the attributes ReturnValues asked for."""
        # the request goes to the client as it is (one keyword expansion, not one per layer)
        try:
            response: dict = self.dynamodb_client.update_item(**item)
        except (ClientError, BotoCoreError) as error:
            raise translate(error, "UpdateItem") from error
        return response.get("Attributes")

    def put_item(self, item: dict) -> dict:
        return self._dynamodb("PutItem", "put_item", **item)

    def delete_item(self, item: dict) -> dict | None:
        return self._dynamodb("DeleteItem", "delete_item", **item).get("Attributes")

    def load_items(self, items: dict) -> dict[str, list[dict]]:
        """BatchGetItem over ``{table: {"Keys": [...], "ConsistentRead": bool, ...}}``, 100 keys a call.

        UnprocessedKeys are re-requested with backoff until the retry bound.
        """
        loaded: dict[str, list[dict]] = {table: [] for table in items}
        pending = [(table, key) for table, spec in items.items() for key in spec["Keys"]]
        for chunk in chunked(pending, BATCH_GET_ITEM_CHUNK_SIZE):
            request: dict[str, dict] = {}
            for table, key in chunk:
                entry = request.get(table)
                if entry is None:
                    entry = request[table] = {k: v for k, v in items[table].items() if k != "Keys"}
                    entry["Keys"] = []
                entry["Keys"].append(key)
            for table, found in self._batch_get(request):
                loaded[table].extend(found)
        return loaded

    def _batch_get(self, request: dict[str, dict]) -> Iterator[tuple[str, list[dict]]]:
        """(table, items) per table in each response to one BatchGetItem request, following UnprocessedKeys."""
        for attempt in range(self.retry.attempts + 1):
            response = self._dynamodb("BatchGetItem", "batch_get_item", RequestItems=request)
            yield from response.get("Responses", {}).items()
            # keep the caller's options (ConsistentRead, projection) even if a reply omits them
            request = {table: {**request[table], **spec} for table, spec in
                       (response.get("UnprocessedKeys") or {}).items()}
            if not request:
                return
            left = sum(len(spec.get("Keys") or ()) for spec in request.values())
            if attempt == self.retry.attempts:
                raise RetryLimitExceeded(f"BatchGetItem left {left} key(s) unprocessed after "
                                         f"{self.retry.attempts} retries", operation="BatchGetItem",
                                         unprocessed=request)
            tables = ", ".join(sorted(request))
            self.pause_before_retry("BatchGetItem", attempt, f"{left} key(s) unprocessed in {tables}")

    def get_items(self, keys: Iterable[tuple[str, dict]], consistent: bool = False,
                  options: dict[str, dict] | None = None) -> dict[tuple, dict]:
        """Items found for ``(table, wire key)`` pairs, by ``(table, key_identity(key))``.

        A key asked twice is read once; a key with no item is absent from the result. ``options``
        adds request options per table (e.g. a ProjectionExpression, which must include the keys).
        """
        wanted: dict[str, dict[tuple, dict]] = {}
        for table_name, key in keys:
            by_identity = wanted.get(table_name)
            if by_identity is None:
                by_identity = wanted[table_name] = {}
            by_identity.setdefault(key_identity(key), key)
        return {(table_name, identity): item
                for table_name, identity, item in self.iter_items(wanted, consistent, options)}

    def iter_items(self, wanted: dict[str, dict[tuple, dict]], consistent: bool = False,
                   options: dict[str, dict] | None = None) -> Iterator[tuple[str, tuple, dict]]:
        """``(table, key_identity(key), item)`` for each item found of ``{table: {key_identity(key): key}}``.

        :meth:`get_items` for callers that already computed each key's identity (once), and that
        use each item as it arrives: at 10,000 keys a call, every container kept per key until the
        end is work for the garbage collector. Each BatchGetItem request is built once, 100 keys at
        a time, in the order given.
        """
        request: dict[str, dict] = {}
        count = 0
        for table_name, by_identity in wanted.items():
            table_options = (options or {}).get(table_name, {})
            spec = None
            for key in by_identity.values():
                if spec is None:
                    spec = request.get(table_name)
                    if spec is None:
                        spec = request[table_name] = {"Keys": [], "ConsistentRead": bool(consistent),
                                                      **table_options}
                spec["Keys"].append(key)
                count += 1
                if count == BATCH_GET_ITEM_CHUNK_SIZE:
                    yield from self._identified(request)
                    request, count, spec = {}, 0, None
        if request:
            yield from self._identified(request)

    def _identified(self, request: dict[str, dict]) -> Iterator[tuple[str, tuple, dict]]:
        names_of = {table_name: sorted(spec["Keys"][0]) for table_name, spec in request.items()}
        for table_name, items in self._batch_get(request):
            names = names_of[table_name]
            for item in items:
                yield table_name, item_key_identity(item, names), item

    def batch_write_items(self, request: dict) -> dict:
        """One BatchWriteItem (up to 25 requests); returns UnprocessedItems for the caller to retry."""
        return self._dynamodb("BatchWriteItem", "batch_write_item", RequestItems=request).get("UnprocessedItems") or {}

    def query_items(self, request: dict) -> dict:
        return self._dynamodb("Query", "query", **request)

    def scan_items(self, request: dict) -> dict:
        return self._dynamodb("Scan", "scan", **request)

    def search_items(self, mode: str, request: dict) -> dict:
        return self.query_items(request) if mode == "query" else self.scan_items(request)

    def transaction_read(self, items: list[dict]) -> dict:
        return self._dynamodb("TransactGetItems", "transact_get_items", TransactItems=items)

    def transaction_write(self, items: list[dict], client_request_token: str) -> None:
        self._dynamodb("TransactWriteItems", "transact_write_items",
                       TransactItems=items, ClientRequestToken=client_request_token)

    # --------------------------------------------------------------------------------------- tables
    def create_table(self, request: dict) -> bool:
        """CreateTable; False when the table already exists."""
        try:
            self._dynamodb("CreateTable", "create_table", **request)
        except BloopException as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and error_code(cause) == "ResourceInUseException":
                return False
            raise
        return True

    def describe_table(self, table_name: str) -> dict:
        try:
            return self._dynamodb("DescribeTable", "describe_table", TableName=table_name)["Table"]
        except BloopException as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and error_code(cause) == "ResourceNotFoundException":
                raise TableMismatch(f"table {table_name!r} does not exist; bind the model to create it") from cause
            raise

    def describe_ttl(self, table_name: str) -> dict:
        return self._dynamodb("DescribeTimeToLive", "describe_time_to_live",
                              TableName=table_name).get("TimeToLiveDescription", {})

    def describe_backups(self, table_name: str) -> dict:
        return self._dynamodb("DescribeContinuousBackups", "describe_continuous_backups",
                              TableName=table_name).get("ContinuousBackupsDescription", {})

    def enable_ttl(self, table_name: str, attribute_name: str) -> None:
        self._dynamodb("UpdateTimeToLive", "update_time_to_live", TableName=table_name,
                       TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute_name})

    def enable_backups(self, table_name: str) -> None:
        self._dynamodb("UpdateContinuousBackups", "update_continuous_backups", TableName=table_name,
                       PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

    # -------------------------------------------------------------------------------------- streams
    def describe_stream_page(self, stream_arn: str, exclusive_start_shard_id: str | None = None,
                             shard_filter: dict | None = None, limit: int | None = None) -> dict:
        """One DescribeStream page (the ``StreamDescription``)."""
        request: dict[str, Any] = {"StreamArn": stream_arn}
        if exclusive_start_shard_id:
            request["ExclusiveStartShardId"] = exclusive_start_shard_id
        if shard_filter:
            request["ShardFilter"] = shard_filter
        if limit:
            request["Limit"] = limit
        return self._streams("DescribeStream", "describe_stream", **request)["StreamDescription"]

    def describe_stream(self, stream_arn: str, first_shard: str | None = None) -> dict:
        """The stream description with the shards of every page from ``first_shard`` on."""
        description = self.describe_stream_page(stream_arn, first_shard)
        shards = list(description.get("Shards", []))
        while description.get("LastEvaluatedShardId"):
            description = self.describe_stream_page(stream_arn, description["LastEvaluatedShardId"])
            shards.extend(description.get("Shards", []))
        description = dict(description)
        description["Shards"] = shards
        description.pop("LastEvaluatedShardId", None)
        return description

    def get_shard_iterator(self, *, stream_arn: str, shard_id: str, iterator_type: str,
                           sequence_number: str | None = None) -> str:
        request = {"StreamArn": stream_arn, "ShardId": shard_id,
                   "ShardIteratorType": STREAM_ITERATOR_TYPES[iterator_type]}
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        return self._streams("GetShardIterator", "get_shard_iterator", **request)["ShardIterator"]

    def get_stream_records(self, iterator_id: str, limit: int | None = None) -> dict:
        request: dict[str, Any] = {"ShardIterator": iterator_id}
        if limit:
            request["Limit"] = limit
        return self._streams("GetRecords", "get_records", **request)


