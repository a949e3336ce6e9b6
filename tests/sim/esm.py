"""A simulated AWS Lambda event source mapping (ESM) for DynamoDB Streams, on the simulated stream service.

:class:`EventSourceMapping` reads a :class:`tests.sim.service.SimulatedStreams` stream through its client API
(DescribeStream, GetShardIterator, GetRecords) and invokes a function ``function(event, context)`` with
Lambda-shaped batches, the way the managed poller does. It simulates (Lambda developer guide, "Using AWS
Lambda with Amazon DynamoDB", "services-ddb-batchfailurereporting"; ``shared/streams-faults.md`` 2.2):

* **Lineage and order.** Every shard is read in sequence order; a shard's records are only invoked once its
  parent is finished (every record checkpointed and the parent closed), or when the parent is no longer
  listed. One batch per shard (per lane, see below) is in flight at a time.
* **Batches.** Up to ``batch_size`` records from the shard's checkpoint, rendered as Lambda's JSON:
  ``ApproximateCreationDateTime`` in epoch seconds, binary values base64 text, ``eventSourceARN``. The
  rendering is written here independently of ``bloop.ext.aws_lambda``.
* **Function errors** (an exception, or a timeout): the batch is retried. ``bisect_batch_on_function_error``
  splits the failing batch in two and retries each half (splitting does not count against retries).
  ``maximum_retry_attempts`` (-1 = until the records expire, the default) then discards the batch and sends
  its metadata (``DDBStreamBatchInfo``: shard id, start/end sequence numbers, batch size, stream ARN; never
  the records) to the on-failure destination (:attr:`on_failure`).
* **Partial batch responses** when ``report_batch_item_failures`` is on: the checkpoint moves to the lowest
  reported ``itemIdentifier`` and everything from there is retried; an empty or null list, or a null
  response, is success; an empty or null ``itemIdentifier``, one not in the batch, or a malformed response is
  a full failure. With bisect on as well, the batch is split at the reported record and only the rest is
  retried. **When the option is off the response is ignored**: a normal return is success, and records the
  function reported as failed are lost.
* **ParallelizationFactor**: a shard's records are spread over ``parallelization_factor`` lanes by the hash
  of their keys; lanes checkpoint and retry independently, so only per-key order holds.
* **Timeouts**: with ``timeout_ms`` set, the context's ``get_remaining_time_in_millis()`` counts down as the
  function calls ``context.spend(ms)`` (the test's stand-in for work); spending past the timeout raises
  :class:`InvocationTimedOut` (a :class:`BaseException`, so no ``except Exception`` in the function stops it),
  as Lambda stops a function mid-record. The invocation then counts as a function error.

Guesses: odd batches bisect into ``ceil(n/2)`` then ``floor(n/2)``; a partial response that moved the
checkpoint resets the retry count (one that did not counts as a failed attempt); lanes are chosen by an md5 of
the key; shards and lanes take turns, one invocation each per round.

Not simulated: the batching window, the 6 MB payload limit, ``MaximumRecordAgeInSeconds``, tumbling windows,
filter criteria, the 4 polls a second, concurrent invocations (the turns above are sequential), the on-failure
destination's own delivery, and the delay of a new mapping before it starts polling.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Optional

from .service import SimulatedStreams

__all__ = ["EventSourceMapping", "Invocation", "InvocationTimedOut", "SimulatedContext", "Stuck", "check_applied",
           "render_lambda_record"]


class InvocationTimedOut(BaseException):
    """Lambda stopped the function: it ran past its timeout."""


class Stuck(AssertionError):
    """The mapping made no progress for ``max_invocations`` invocations (a batch retried forever)."""


class SimulatedContext:
    """Lambda's context object, with virtual time the function spends explicitly."""

    def __init__(self, request_id: str, timeout_ms: Optional[int]):
        self.aws_request_id = request_id
        self.function_name = "simulated-function"
        self.timeout_ms = timeout_ms
        self.elapsed_ms = 0

    def spend(self, ms: int) -> None:
        self.elapsed_ms += ms
        if self.timeout_ms is not None and self.elapsed_ms > self.timeout_ms:
            raise InvocationTimedOut(f"{self.aws_request_id} ran past its {self.timeout_ms} ms timeout")

    def get_remaining_time_in_millis(self) -> int:
        if self.timeout_ms is None:
            return 900_000
        return max(0, self.timeout_ms - self.elapsed_ms)


def _encode(value: Any) -> Any:
    tag, inner = next(iter(value.items()))
    if tag == "B":
        return {"B": base64.b64encode(inner).decode()}
    if tag == "BS":
        return {"BS": [base64.b64encode(v).decode() for v in inner]}
    if tag == "M":
        return {"M": {k: _encode(v) for k, v in inner.items()}}
    if tag == "L":
        return {"L": [_encode(v) for v in inner]}
    return {tag: inner}


def render_lambda_record(record: dict, stream_arn: str) -> dict:
    """A boto3-shaped stream record as Lambda's JSON event carries it."""
    body = record["dynamodb"]
    rendered = {name: copy.deepcopy(value) for name, value in record.items() if name != "dynamodb"}
    out_body: dict = {}
    for name, value in body.items():
        if name in ("Keys", "NewImage", "OldImage"):
            out_body[name] = {attribute: _encode(v) for attribute, v in value.items()}
        elif isinstance(value, datetime):
            out_body[name] = value.timestamp()
        else:
            out_body[name] = value
    rendered["dynamodb"] = out_body
    rendered["eventSourceARN"] = stream_arn
    return json.loads(json.dumps(rendered))


@dataclass
class Invocation:
    """One call of the function."""

    shard_id: str
    lane: int
    sequence_numbers: list
    #: "ok", "partial" (reported failures), "error" (raised), "timeout", "bad response"
    outcome: str
    reported: Optional[str] = None
    error: Optional[str] = None


@dataclass
class _Lane:
    pending: deque = field(default_factory=deque)  # boto3 records not checkpointed yet, in order
    retries: int = 0
    limits: deque = field(default_factory=deque)  # sizes of bisected sub-batches still to run


@dataclass
class _Shard:
    shard_id: str
    parent: Optional[str]
    lanes: list
    last_fetched: Optional[str] = None
    closed: bool = False  # GetRecords returned no NextShardIterator

    def drained(self) -> bool:
        return self.closed and all(not lane.pending for lane in self.lanes)


class EventSourceMapping:
    """A DynamoDB Streams event source mapping invoking ``function(event, context)``; see the module docs."""

    def __init__(self, service: SimulatedStreams, function: Callable[[dict, Any], Any], *,
                 stream_arn: Optional[str] = None, batch_size: int = 100, report_batch_item_failures: bool = False,
                 bisect_batch_on_function_error: bool = False, maximum_retry_attempts: int = -1,
                 parallelization_factor: int = 1, timeout_ms: Optional[int] = None) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("BatchSize is 1..10000")
        if not 1 <= parallelization_factor <= 10:
            raise ValueError("ParallelizationFactor is 1..10")
        self.service = service
        self.function = function
        self.stream_arn = stream_arn or service.stream_arn
        self.batch_size = batch_size
        self.report_batch_item_failures = report_batch_item_failures
        self.bisect = bisect_batch_on_function_error
        self.maximum_retry_attempts = maximum_retry_attempts
        self.factor = parallelization_factor
        self.timeout_ms = timeout_ms
        self.shards: dict = {}
        #: every invocation, in order
        self.invocations: list = []
        #: what the on-failure destination received: DDBStreamBatchInfo metadata, never records
        self.on_failure: list = []
        #: sequence numbers discarded after the retries ran out (ground truth for the checks)
        self.discarded: set = set()
        #: the context of the invocation running now (the function's stand-in for work calls .spend on it)
        self.context: Optional[SimulatedContext] = None

    # ------------------------------------------------------------------------------------- running
    def run(self, max_invocations: int = 10_000) -> None:
        """Invoke until every readable record is checkpointed; :class:`Stuck` after ``max_invocations``."""
        budget = max_invocations
        while True:
            self._discover()
            progressed = False
            for shard in list(self.shards.values()):
                if not self._eligible(shard):
                    continue
                if self._fetch(shard):
                    progressed = True
                for index, lane in enumerate(shard.lanes):
                    if lane.pending:
                        if budget == 0:
                            raise Stuck(f"no end after {max_invocations} invocations; last: {self.invocations[-1]}")
                        budget -= 1
                        self._invoke(shard, index, lane)
                        progressed = True
            if not progressed:
                return

    def _discover(self) -> None:
        start = None
        while True:
            request = {"StreamArn": self.stream_arn}
            if start:
                request["ExclusiveStartShardId"] = start
            page = self.service.describe_stream(**request)["StreamDescription"]
            for described in page["Shards"]:
                if described["ShardId"] not in self.shards:
                    self.shards[described["ShardId"]] = _Shard(described["ShardId"], described.get("ParentShardId"),
                                                               [_Lane() for _ in range(self.factor)])
            start = page.get("LastEvaluatedShardId")
            if not start:
                return

    def _eligible(self, shard: _Shard) -> bool:
        if shard.drained():
            return False
        parent = self.shards.get(shard.parent) if shard.parent else None
        return parent is None or parent.drained()

    def _fetch(self, shard: _Shard) -> bool:
        """Append the shard's new records to its lanes; True when anything changed."""
        if shard.closed:
            return False
        if shard.last_fetched is None:
            request = {"ShardIteratorType": "TRIM_HORIZON"}
        else:
            request = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_fetched}
        iterator = self.service.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard.shard_id,
                                                   **request)["ShardIterator"]
        changed = False
        while iterator:
            page = self.service.get_records(ShardIterator=iterator)
            for record in page["Records"]:
                shard.lanes[self._lane_of(record)].pending.append(record)
                shard.last_fetched = record["dynamodb"]["SequenceNumber"]
                changed = True
            iterator = page.get("NextShardIterator")
            if iterator is None:
                shard.closed = changed = True
            elif not page["Records"]:
                break  # the head of an open shard
        return changed

    def _lane_of(self, record: dict) -> int:
        if self.factor == 1:
            return 0
        digest = hashlib.md5(json.dumps(record["dynamodb"]["Keys"], sort_keys=True).encode()).digest()
        return int.from_bytes(digest[:4], "big") % self.factor

    # ------------------------------------------------------------------------------------- one call
    def _invoke(self, shard: _Shard, lane_index: int, lane: _Lane) -> None:
        size = min(lane.limits[0] if lane.limits else self.batch_size, len(lane.pending))
        batch = [lane.pending[i] for i in range(size)]
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        event = {"Records": [render_lambda_record(r, self.stream_arn) for r in batch]}
        context = self.context = SimulatedContext(f"request-{len(self.invocations) + 1}", self.timeout_ms)
        invocation = Invocation(shard.shard_id, lane_index, sequence_numbers, "ok")
        self.invocations.append(invocation)
        try:
            response = self.function(event, context)
        except InvocationTimedOut as error:
            invocation.outcome, invocation.error = "timeout", str(error)
            self._function_error(shard, lane, size)
            return
        except Exception as error:
            invocation.outcome, invocation.error = "error", repr(error)
            self._function_error(shard, lane, size)
            return
        finally:
            self.context = None
        if not self.report_batch_item_failures:
            self._succeeded(lane, size)  # the response is ignored, whatever it says
            return
        failed_at = self._first_reported(response, sequence_numbers)
        if failed_at is None:
            self._succeeded(lane, size)
        elif failed_at == "bad":
            invocation.outcome = "bad response"
            self._function_error(shard, lane, size)
        else:
            invocation.outcome, invocation.reported = "partial", sequence_numbers[failed_at]
            self._partial(shard, lane, size, failed_at)

    @staticmethod
    def _first_reported(response: Any, sequence_numbers: list) -> Any:
        """Index of the lowest reported record; None = success; "bad" = treated as a full failure."""
        if response is None:
            return None
        if not isinstance(response, dict):
            return "bad"
        failures = response.get("batchItemFailures")
        if not failures:
            return None
        positions = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or identifier not in sequence_numbers:
                return "bad"
            positions.append(sequence_numbers.index(identifier))
        return min(positions)

    def _succeeded(self, lane: _Lane, size: int) -> None:
        for _ in range(size):
            lane.pending.popleft()
        lane.retries = 0
        if lane.limits:
            lane.limits.popleft()

    def _partial(self, shard: _Shard, lane: _Lane, size: int, failed_at: int) -> None:
        for _ in range(failed_at):
            lane.pending.popleft()
        if failed_at:
            lane.retries = 0
            if self.bisect:
                rest = size - failed_at
                if lane.limits:
                    lane.limits[0] = rest
                else:
                    lane.limits.append(rest)
            elif lane.limits:
                lane.limits.popleft()
            return
        self._function_error(shard, lane, size)

    def _function_error(self, shard: _Shard, lane: _Lane, size: int) -> None:
        if self.bisect and size > 1:
            halves = [math.ceil(size / 2), size // 2]
            if lane.limits:
                lane.limits.popleft()
            lane.limits.extendleft(reversed(halves))
            return
        lane.retries += 1
        if 0 <= self.maximum_retry_attempts < lane.retries:
            batch = [lane.pending.popleft() for _ in range(size)]
            self.discarded.update(r["dynamodb"]["SequenceNumber"] for r in batch)
            self.on_failure.append({"DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": batch[0]["dynamodb"]["ApproximateCreationDateTime"].isoformat(),
                "approximateArrivalOfLastRecord": batch[-1]["dynamodb"]["ApproximateCreationDateTime"].isoformat(),
                "batchSize": size,
                "streamArn": self.stream_arn,
            }})
            lane.retries = 0
            if lane.limits:
                lane.limits.popleft()


def _listed(record: Any, on_failure: Iterable[dict]) -> bool:
    sequence = int(record.sequence_number)
    for entry in on_failure:
        info = entry["DDBStreamBatchInfo"]
        if info["shardId"] == record.shard_id and \
                int(info["startSequenceNumber"]) <= sequence <= int(info["endSequenceNumber"]):
            return True
    return False


def check_applied(write_log: Iterable[Any], applied: Iterable[dict], *, stream_arn: str, now: Any,
                  on_failure: Iterable[dict] = (), discarded: Iterable[str] = ()) -> list:
    """Check side effects against the write log; human-readable violations (empty = fine).

    ``applied`` are the events whose handler completed, in the order it completed them (bloop events or
    anything with ``meta.sequence_number``). "Nothing lost or applied out of order per key" means:

    * I1: every record still readable is applied at least once, unless it was discarded after the retries
      ran out *and* the on-failure destination lists it;
    * I2: per key, first applications follow write order (no later change applied before an earlier one);
    * final state: per key, the last application is the key's last applied write (a replay of an old change
      never has the last word).
    """
    records = [r for r in write_log if r.stream_arn == stream_arn]
    by_sequence = {r.sequence_number: r for r in records}
    discarded = set(discarded)
    on_failure = list(on_failure)
    problems = []
    first_seen: set = set()
    newest_first: dict = {}
    last_applied: dict = {}
    for event in applied:
        sequence = str(event["meta"]["sequence_number"])
        record = by_sequence.get(sequence)
        if record is None:
            problems.append(f"applied seq {sequence}, which this stream never wrote")
            continue
        if sequence not in first_seen:
            first_seen.add(sequence)
            newest = newest_first.get(record.key_id)
            if newest is not None and record.index < newest:
                problems.append(f"I2: write #{record.index} of {record.key} first applied after write #{newest}")
            newest_first[record.key_id] = max(record.index, newest if newest is not None else -1)
        last_applied[record.key_id] = record
    final: dict = {}
    for record in records:
        if record.sequence_number in first_seen:
            final[record.key_id] = record
        elif record.sequence_number in discarded:
            if not _listed(record, on_failure):
                problems.append(f"I5: write #{record.index} ({record.key}) was discarded but the on-failure "
                                "destination does not list it")
        elif record.readable_at(now):
            problems.append(f"I1: write #{record.index} ({record.key}, seq {record.sequence_number}) was never "
                            "applied")
    for key_id, record in final.items():
        if last_applied[key_id] is not record:
            problems.append(f"final state of {record.key}: last applied write #{last_applied[key_id].index}, "
                            f"not its last write #{record.index}")
    return problems
