"""A simulated DynamoDB Streams service for tests: a drop-in for a boto3 ``dynamodbstreams`` client.

moto serves one shard that never closes, never trims and never fails, so none of the faults a
stream consumer must survive can be reproduced on it (``shared/streams-faults.md`` section 4).
:class:`SimulatedStreams` answers ``describe_stream``, ``get_shard_iterator``, ``get_records`` and
``list_streams`` in-process, with boto3's parsed response shapes and botocore ``ClientError``
codes, and adds what tests need to drive it:

* **Topology.** Several root shards per stream; each key routes by the hash of its hash key to
  the one open shard whose hash range holds it, so a key never leaves its lineage. ``split()``
  closes a shard into one or more children; optional timed rollover; ``disable()`` / ``enable()``
  (a new stream ARN and label each time); ``delete_table()``.
* **A virtual clock** (:class:`VirtualClock`) that drives 24 h trimming, 15 min iterator expiry,
  shards vanishing from DescribeStream, rollover and ``ApproximateCreationDateTime``.
* **DescribeStream fidelity.** ``Limit`` paging with ``LastEvaluatedShardId``, ``ShardFilter``
  (``CHILD_SHARDS``), an optional non-chronological listing order, children that become visible
  only after N more DescribeStream calls, parents that still look open after they closed.
* **GetRecords fidelity.** ``Limit`` 1..1000, a page-size and a 1 MB cap, empty pages at the
  head and injectable empty pages in the middle of a shard, a closed shard ending with a
  response that has no ``NextShardIterator``.
* **Faults** (:class:`FaultSchedule`): an error code per operation, shard and call number, lost
  replies (state advances, the caller gets ``InternalServerError``), crashes
  (:class:`SimulatedCrash`) and actions run just before a call (e.g. split mid-read).
* **Ground truth.** Every streamed change is appended to ``write_log`` as a
  :class:`WrittenRecord`; ``tests/sim/oracle.py`` checks a consumer's deliveries against it.
* **Call accounting and latency.** ``calls`` counts calls per operation; ``latency`` adds a real
  ``time.sleep`` per call, taken outside the state lock so concurrent shard polls overlap.

Numbers taken from AWS documentation: 24 h record retention; 15 min shard iterator lifetime;
GetRecords returns at most 1000 records or 1 MB; DescribeStream returns at most 100 shards per
page and allows 10 calls/s; at most 2 concurrent readers per shard; ``SequenceNumber`` is 21-40
decimal digits; ``ApproximateCreationDateTime`` is rounded down to the second; a write that
changes nothing produces no record; TTL deletes carry ``userIdentity``.

Guesses (undocumented or not confirmed against AWS), all adjustable in :class:`Settings`:

* the sequence-number scheme: per-shard counters with random gaps and random bases of 21-40
  digits, some crossing from 21 to 22 digits, so they are *not* comparable across shards
  (``sequence_numbers="global"`` gives one increasing counter instead);
* shard ids ``shardId-<20-digit creation ms>-<8 hex>`` and ARN/label formats;
* the rollover period (about 4 h, community knowledge) and its jitter; rollover is off by default;
* child visibility and parent-close delays, counted in DescribeStream calls (and seconds);
* trimming at exactly 24 h (AWS only promises "any time after 24 h");
* a closed shard vanishes from DescribeStream exactly ``retention`` after it closed;
* the error codes for malformed requests (``ValidationException``) and for ``Limit`` > 1000
  (``Settings.limit_over_max_error``; the research note says ``LimitExceededException``);
* ``reads_per_shard_per_second`` (5/s is Kinesis's figure; DynamoDB Streams documents none) and
  the throttling error for rate limits (``LimitExceededException``); rate limits are off by
  default and count *virtual* seconds, so enable them only for consumers that sleep through
  ``sim.clock.sleep``;
* reusing an older, unexpired iterator is allowed (iterators are stateless positions);
* ``AT_TIMESTAMP`` follows the current botocore model documentation.

Like boto3, timestamps in responses are aware datetimes in ``dateutil.tz.tzlocal()``; the
virtual clock itself is UTC.

Not simulated: the Lambda event source mapping, HTTP transport, ``ENABLING``/``DISABLING``
transitions, shard merges (undocumented for DynamoDB). Rate limits exist but are off by default.
"""

from __future__ import annotations

import base64
import bisect
import copy
import functools
import hashlib
import json
import random
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, Union

import botocore.session
from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError, ParamValidationError
from botocore.utils import parse_timestamp
from dateutil.tz import tzlocal

__all__ = [
    "SimulatedStreams",
    "SimulatedTable",
    "SimulatedCrash",
    "VirtualClock",
    "Settings",
    "WrittenRecord",
    "ShardState",
    "StreamState",
    "FaultSchedule",
    "ScheduledFault",
    "service_error",
]

# ---------------------------------------------------------------------------------------------
# Limits (see the module docstring for which are documented). The rate limits are off by
# default; pass e.g. ``describe_calls_per_second=DESCRIBE_CALLS_PER_SECOND`` to turn one on.

RETENTION = timedelta(hours=24)
ITERATOR_LIFETIME = timedelta(minutes=15)
MAX_RECORDS_PER_PAGE = 1000
MAX_PAGE_BYTES = 1024 * 1024
MAX_SHARDS_PER_DESCRIBE = 100
MAX_STREAMS_PER_LIST = 100
DESCRIBE_CALLS_PER_SECOND = 10
MAX_READERS_PER_SHARD = 2
READS_PER_SHARD_PER_SECOND = 5  # Kinesis's figure, not documented for DynamoDB Streams
SHARD_LIFETIME = timedelta(hours=4)  # community knowledge, not documented

OPERATIONS = ("DescribeStream", "GetShardIterator", "GetRecords", "ListStreams")
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
ERROR_CODES = (
    "ExpiredIteratorException",
    "TrimmedDataAccessException",
    "ResourceNotFoundException",
    "LimitExceededException",
    "ThrottlingException",
    "InternalServerError",
    "ValidationException",
)
DEFAULT_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
HASH_SPACE = 2**128
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class SimulatedCrash(BaseException):
    """The simulated process dies here.

    A ``BaseException`` so that ``except Exception`` blocks in library code do not swallow it:
    only the test driver catches it, then resumes a new "process" from the last saved token.
    ``point`` names where the crash happened (a crash point or an operation name).
    """

    def __init__(self, point: str):
        super().__init__(f"simulated crash at {point}")
        self.point = point


@functools.cache
def _client_exceptions():
    """The modeled exception classes a real ``dynamodbstreams`` client raises (built once)."""
    model = botocore.session.get_session().get_service_model("dynamodbstreams")
    return ClientExceptionsFactory().create_client_exceptions(model)


def service_error(operation: str, code: str, message: str) -> ClientError:
    """A ``ClientError`` shaped like botocore's, of the modeled subclass when there is one.

    Modeled codes (e.g. ``ExpiredIteratorException``) get the same class as
    ``client.exceptions.ExpiredIteratorException``; others (``ThrottlingException``,
    ``ValidationException``) are plain ``ClientError``, as with a real client.
    """
    status = 500 if code == "InternalServerError" else 400
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
    }
    return _client_exceptions().from_code(code)(response, operation)


def _as_timedelta(value: Union[timedelta, float, int, None]) -> Optional[timedelta]:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


# ---------------------------------------------------------------------------------------------
# Virtual clock


class VirtualClock:
    """Virtual UTC time: nothing in the simulator reads the real clock.

    Hand ``clock.now`` and ``clock.sleep`` to the consumer under test so that its backoff and
    pacing advance virtual time instantly; tests call ``advance()`` to jump over hours.
    Thread-safe, but every sleeper advances the one clock: eight threads each sleeping 1 s move
    it by 8 s, so concurrent consumers see time pass faster than they would for real.
    """

    def __init__(self, start: datetime = DEFAULT_START):
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware start datetime")
        self._start = start.astimezone(timezone.utc)
        self._now = self._start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current virtual time, an aware UTC datetime."""
        with self._lock:
            return self._now

    def advance(self, seconds: Union[float, timedelta]) -> datetime:
        """Move virtual time forward (never backward) and return the new time."""
        delta = _as_timedelta(seconds)
        if delta < timedelta(0):
            raise ValueError("virtual time never goes backward")
        with self._lock:
            self._now += delta
            return self._now

    def sleep(self, seconds: float) -> None:
        """A drop-in for ``time.sleep`` that advances virtual time and returns at once."""
        self.advance(seconds)

    def monotonic(self) -> float:
        """Seconds since the clock was created, a drop-in for ``time.monotonic``."""
        return (self.now() - self._start).total_seconds()

    def time(self) -> float:
        """Epoch seconds, a drop-in for ``time.time``."""
        return self.now().timestamp()


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass
class Settings:
    """Knobs of the simulated service. Defaults are the documented AWS values where one exists.

    Counts named ``*_delay`` are in DescribeStream calls made on the same stream. Rate limits
    (``None`` = off) use the *virtual* clock. ``retention`` must not change once tables exist.
    """

    retention: timedelta = RETENTION
    iterator_lifetime: timedelta = ITERATOR_LIFETIME
    #: most records one GetRecords returns, whatever its Limit (smaller = more pages)
    page_size: int = MAX_RECORDS_PER_PAGE
    max_page_bytes: int = MAX_PAGE_BYTES
    #: True: the page holding a closed shard's last records already lacks NextShardIterator.
    #: False: one more call returns [] without NextShardIterator (both happen in the wild).
    last_page_closes_shard: bool = False
    #: close every open shard into one child this long after it opened (None = never)
    rollover_after: Optional[timedelta] = None
    #: each shard's lifetime is rollover_after * (1 +- uniform(rollover_jitter))
    rollover_jitter: float = 0.0
    #: children created by split/rollover are listed only after this many more DescribeStream calls
    child_visibility_delay: int = 0
    #: ... and only once this many virtual seconds passed since they opened
    child_visibility_seconds: float = 0.0
    #: a closed shard is listed without EndingSequenceNumber for this many more DescribeStream calls
    parent_close_delay: int = 0
    #: "chronological" (by shard id) or "shuffled" (a stable pseudo-random order)
    listing_order: str = "chronological"
    #: "per_shard" (not comparable across shards) or "global" (one increasing counter)
    sequence_numbers: str = "per_shard"
    describe_calls_per_second: Optional[int] = None
    reads_per_shard_per_second: Optional[int] = None
    max_readers_per_shard: Optional[int] = None
    #: real seconds slept per call, outside the state lock (for throughput benchmarks)
    latency: float = 0.0
    #: error code for GetRecords Limit > 1000
    limit_over_max_error: str = "ValidationException"
    support_at_timestamp: bool = True
    region: str = "us-east-1"
    account_id: str = "123456789012"


# ---------------------------------------------------------------------------------------------
# Records


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"not DynamoDB JSON: {value!r}")


def canonical_json(value: Any) -> str:
    """A stable text form of DynamoDB JSON (bytes included), used as a dict key."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _attribute_size(value: dict) -> int:
    """Approximate DynamoDB attribute size in bytes (close enough for the 1 MB page cap)."""
    ((type_name, inner),) = value.items()
    if type_name == "S":
        return len(inner.encode())
    if type_name in ("N", "B"):
        return len(inner)
    if type_name in ("BOOL", "NULL"):
        return 1
    if type_name in ("SS", "NS"):
        return sum(len(str(item).encode()) for item in inner)
    if type_name == "BS":
        return sum(len(item) for item in inner)
    if type_name == "L":
        return 3 + sum(1 + _attribute_size(item) for item in inner)
    if type_name == "M":
        return 3 + sum(len(name.encode()) + 1 + _attribute_size(item) for name, item in inner.items())
    raise ValueError(f"unknown DynamoDB type {type_name!r}")


def image_size(image: Optional[dict]) -> int:
    if not image:
        return 0
    return sum(len(name.encode()) + _attribute_size(value) for name, value in image.items())


@dataclass(eq=False)
class WrittenRecord:
    """One stream record as written: the ground truth the oracle checks deliveries against.

    ``new_image`` / ``old_image`` are the full item images; which of them the reader sees depends
    on ``view_type``. ``index`` is the position in the simulator's global write order (the order
    of changes, so per key it is the order the consumer must deliver in).
    """

    index: int
    stream_arn: str
    table_name: str
    shard_id: str
    sequence_number: str
    event_id: str
    event_name: str
    key: dict
    new_image: Optional[dict]
    old_image: Optional[dict]
    view_type: str
    ttl: bool
    written_at: datetime
    expires_at: datetime
    size_bytes: int = 0
    #: set when the stream itself was deleted (the record became unreadable then)
    deleted_at: Optional[datetime] = None

    @property
    def created_at(self) -> datetime:
        """``ApproximateCreationDateTime``: the write time rounded down to the second."""
        return self.written_at.replace(microsecond=0)

    @property
    def key_id(self) -> str:
        """A hashable, canonical form of the key, for grouping records per item."""
        return canonical_json(self.key)

    def readable_at(self, now: datetime) -> bool:
        """False once the record has been trimmed (or its stream deleted)."""
        if self.deleted_at is not None and now >= self.deleted_at:
            return False
        return now < self.expires_at

    def visible_images(self) -> dict:
        """``NewImage`` / ``OldImage`` as the stream's view type exposes them (not copied)."""
        images = {}
        if self.new_image is not None and self.view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            images["NewImage"] = self.new_image
        if self.old_image is not None and self.view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            images["OldImage"] = self.old_image
        return images

    def to_boto(self) -> dict:
        """The record as boto3's ``get_records`` returns it (a fresh copy each call)."""
        body = {
            "ApproximateCreationDateTime": self.created_at.astimezone(tzlocal()),
            "Keys": copy.deepcopy(self.key),
        }
        body.update(copy.deepcopy(self.visible_images()))
        body["SequenceNumber"] = self.sequence_number
        body["SizeBytes"] = self.size_bytes
        body["StreamViewType"] = self.view_type
        record = {
            "eventID": self.event_id,
            "eventName": self.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.stream_arn.split(":")[3],
            "dynamodb": body,
        }
        if self.ttl:
            record["userIdentity"] = dict(TTL_IDENTITY)
        return record


def _visible_size(record: WrittenRecord) -> int:
    """``SizeBytes``: the key plus the images the view type keeps."""
    return image_size(record.key) + sum(image_size(image) for image in record.visible_images().values())


# ---------------------------------------------------------------------------------------------
# Shards and streams


@dataclass(eq=False)
class ShardState:
    """One shard: an ordered run of records over a hash range of keys.

    Records are never physically removed; ``trim_index`` says how many leading records are
    gone. Positions (and so iterators) are indexes into ``records``.
    """

    shard_id: str
    parent_id: Optional[str]
    hash_range: tuple  # (low, high), high exclusive
    starting_sequence: int
    next_sequence: int
    opened_at: datetime
    lifetime_factor: float = 1.0
    records: list = field(default_factory=list)
    sequence_ints: list = field(default_factory=list)
    written_ats: list = field(default_factory=list)
    ending_sequence: Optional[int] = None
    closed_at: Optional[datetime] = None
    visible_from_call: int = 0
    visible_from_time: Optional[datetime] = None
    close_visible_from_call: int = 0
    #: position -> number of empty pages still to serve there (F17)
    empty_pages: dict = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def trim_index(self, now: datetime, retention: timedelta) -> int:
        """Number of leading records trimmed at ``now``."""
        return bisect.bisect_right(self.written_ats, now - retention)

    def vanished(self, now: datetime, retention: timedelta) -> bool:
        """A closed shard whose records are all trimmed is no longer listed or readable."""
        return self.closed_at is not None and now >= self.closed_at + retention

    def last_sequence(self) -> int:
        if self.ending_sequence is not None:
            return self.ending_sequence
        return self.sequence_ints[-1] if self.sequence_ints else self.starting_sequence

    def position_of(self, sequence_number: int, after: bool) -> Optional[int]:
        """Position for AT/AFTER_SEQUENCE_NUMBER, or None when the number is outside the shard."""
        if not self.starting_sequence <= sequence_number <= self.last_sequence():
            return None
        if after:
            return bisect.bisect_right(self.sequence_ints, sequence_number)
        return bisect.bisect_left(self.sequence_ints, sequence_number)

    def describe(self, show_closed: bool) -> dict:
        described = {"ShardId": self.shard_id}
        if self.parent_id is not None:
            described["ParentShardId"] = self.parent_id
        sequence_range = {"StartingSequenceNumber": str(self.starting_sequence)}
        if show_closed and self.ending_sequence is not None:
            sequence_range["EndingSequenceNumber"] = str(self.ending_sequence)
        described["SequenceNumberRange"] = sequence_range
        return described


@dataclass(eq=False)
class StreamState:
    """One stream of a table (a new one after every disable/enable)."""

    arn: str
    label: str
    table_name: str
    key_schema: list
    view_type: str
    created_at: datetime
    status: str = "ENABLED"
    disabled_at: Optional[datetime] = None
    deleted_at: Optional[datetime] = None
    shards: dict = field(default_factory=dict)  # shard_id -> ShardState, creation order
    open_shards: dict = field(default_factory=dict)
    describe_calls: int = 0
    listing_seed: str = ""
    listing_order: str = "chronological"
    _listing: Optional[tuple] = field(default=None, repr=False)
    _routing: Optional[tuple] = field(default=None, repr=False)

    def sort_key(self, shard_id: str) -> str:
        """Listing order as a function of the id, so unknown ExclusiveStartShardIds still page."""
        if self.listing_order == "shuffled":
            return hashlib.sha1(f"{self.listing_seed}:{shard_id}".encode()).hexdigest()
        return shard_id

    def listing(self) -> tuple:
        """``(sort keys, shards)`` of every shard ever opened, in listing order (cached)."""
        if self._listing is None:
            ordered = sorted((self.sort_key(shard_id), shard) for shard_id, shard in self.shards.items())
            self._listing = ([key for key, _ in ordered], [shard for _, shard in ordered])
        return self._listing

    def open_shard_for(self, key_hash: int) -> ShardState:
        """The open shard whose hash range holds ``key_hash`` (ranges of open shards tile the space)."""
        if self._routing is None:
            ordered = sorted((shard.hash_range[0], shard) for shard in self.open_shards.values())
            self._routing = ([low for low, _ in ordered], [shard for _, shard in ordered])
        lows, shards = self._routing
        return shards[bisect.bisect_right(lows, key_hash) - 1]

    def topology_changed(self) -> None:
        self._listing = None
        self._routing = None

    def readable_at(self, now: datetime, retention: timedelta) -> bool:
        if self.deleted_at is not None and now >= self.deleted_at:
            return False
        return self.disabled_at is None or now < self.disabled_at + retention


class SequenceNumbers:
    """Allocates sequence numbers: increasing within a shard, gapped, unique in the simulator."""

    #: lengths of per-shard bases; None = just below 10**21
    _BASE_DIGITS = (None, 21, 22, 25, 33, 40)

    def __init__(self, rng: random.Random, mode: str):
        if mode not in ("per_shard", "global"):
            raise ValueError("sequence_numbers must be 'per_shard' or 'global'")
        self._rng = rng
        self._mode = mode
        self._used: set = set()
        # Starts just below 10**21 so the length changes from 21 to 22 digits early on.
        self._global_next = 10**21 - 2_000
        self._turn = rng.randrange(len(self._BASE_DIGITS))

    def new_base(self) -> int:
        """StartingSequenceNumber for a new shard.

        Shards take turns (from a random starting turn) among lengths of 21-40 digits and a
        base just below 10**21, whose numbers grow from 21 to 22 digits after a few records.
        """
        if self._mode == "global":
            return self._global_next
        self._turn += 1
        digits = self._BASE_DIGITS[self._turn % len(self._BASE_DIGITS)]
        if digits is None:
            return 10**21 - self._rng.randrange(200, 3_000)
        return self._rng.randrange(10 ** (digits - 1), 10**digits // 2)

    def allocate(self, shard: ShardState) -> int:
        if self._mode == "global":
            value = max(self._global_next, shard.next_sequence)
            while value in self._used:
                value += 1
            self._global_next = value + self._rng.randint(1, 50)
        else:
            value = shard.next_sequence
            while value in self._used:
                value += 1
        shard.next_sequence = value + self._rng.randint(1, 200)
        self._used.add(value)
        return value


# ---------------------------------------------------------------------------------------------
# Faults


@dataclass(eq=False)
class ScheduledFault:
    """One scheduled fault. ``seen`` counts matching calls, ``fired`` how often it struck."""

    operation: str
    error_code: Optional[str] = None
    shard_id: Optional[str] = None
    times: Optional[int] = 1
    after_calls: int = 0
    lost_reply: bool = False
    crash: bool = False
    action: Optional[Callable[[], None]] = None
    probability: float = 1.0
    message: Optional[str] = None
    seen: int = 0
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    @property
    def strikes_after_reply(self) -> bool:
        """Lost replies and crashes-after-reply let the call compute (and change state) first."""
        return self.lost_reply

    def exception(self, operation: str) -> BaseException:
        if self.crash:
            return SimulatedCrash(operation)
        message = self.message or f"Simulated {self.error_code} (scheduled fault)"
        return service_error(operation, self.error_code, message)


class FaultSchedule:
    """Faults to inject into future calls.

    Every call to ``operation`` (whose shard is ``shard_id``, when given) is a *matching call*.
    The first ``after_calls`` matching calls pass; the next ``times`` fail (``times=None``:
    every later one). With ``probability`` < 1 a due call fails only that often. The shard of a
    call is the iterator's shard (GetRecords), ``ShardId`` (GetShardIterator) or the
    ``ShardFilter`` shard (DescribeStream).
    """

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._faults: list = []
        self._lock = threading.Lock()

    def schedule(
        self,
        operation: str,
        error_code: str = "InternalServerError",
        *,
        shard_id: Optional[str] = None,
        times: Optional[int] = 1,
        after_calls: int = 0,
        lost_reply: bool = False,
        probability: float = 1.0,
        message: Optional[str] = None,
    ) -> ScheduledFault:
        """Fail matching calls with ``error_code``.

        ``lost_reply=True`` (F22): the call is fully processed (iterators issued, empty-page
        budgets spent, DescribeStream visibility counters advanced) and then the error is
        raised instead of returning the response.
        """
        if error_code not in ERROR_CODES:
            raise ValueError(f"unknown error code {error_code!r}; expected one of {ERROR_CODES}")
        return self._add(
            ScheduledFault(
                operation=self._checked(operation),
                error_code=error_code,
                shard_id=shard_id,
                times=times,
                after_calls=after_calls,
                lost_reply=lost_reply,
                probability=probability,
                message=message,
            )
        )

    def crash(
        self,
        operation: str,
        *,
        shard_id: Optional[str] = None,
        after_calls: int = 0,
        after_reply: bool = True,
        times: Optional[int] = 1,
    ) -> ScheduledFault:
        """Raise :class:`SimulatedCrash` from a matching call.

        ``after_reply=True`` models "the process died after the service answered" (e.g. right
        after a fetch): the call's effects happen, the caller never sees the response.
        """
        return self._add(
            ScheduledFault(
                operation=self._checked(operation),
                shard_id=shard_id,
                times=times,
                after_calls=after_calls,
                lost_reply=after_reply,
                crash=True,
            )
        )

    def run_before(
        self,
        operation: str,
        action: Callable[[], None],
        *,
        shard_id: Optional[str] = None,
        after_calls: int = 0,
        times: Optional[int] = 1,
    ) -> ScheduledFault:
        """Run ``action()`` just before a matching call is processed.

        For changes that must land between two calls of the consumer, e.g.
        ``run_before("GetRecords", lambda: sim.split(shard_id), after_calls=3)`` or
        ``run_before("GetRecords", lambda: sim.clock.advance(16 * 60))``. The action runs under
        the simulator's (re-entrant) lock, before the call reads the clock.
        """
        return self._add(
            ScheduledFault(
                operation=self._checked(operation),
                shard_id=shard_id,
                times=times,
                after_calls=after_calls,
                action=action,
            )
        )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list:
        """Faults that may still strike."""
        with self._lock:
            return [fault for fault in self._faults if not fault.exhausted]

    def due(self, operation: str, shard_id: Optional[str]) -> list:
        """The faults that strike this call (advances their counters)."""
        striking = []
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or fault.operation != operation:
                    continue
                if fault.shard_id is not None and fault.shard_id != shard_id:
                    continue
                fault.seen += 1
                if fault.seen <= fault.after_calls:
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                striking.append(fault)
        return striking

    def _add(self, fault: ScheduledFault) -> ScheduledFault:
        with self._lock:
            self._faults.append(fault)
        return fault

    @staticmethod
    def _checked(operation: str) -> str:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; expected one of {OPERATIONS}")
        return operation


# ---------------------------------------------------------------------------------------------
# Tables: the write side used by tests


class SimulatedTable:
    """The write side of one table: items, its streams, and the topology of its current stream.

    Keys and items are DynamoDB JSON (``{"id": {"S": "a"}}``), as boto3's low-level client uses.
    Every method takes the simulator's lock and first applies due rollovers.
    """

    def __init__(
        self, service: SimulatedStreams, name: str, key_schema: list, view_type: str, shard_count: int
    ):
        if view_type not in VIEW_TYPES:
            raise ValueError(f"view_type must be one of {VIEW_TYPES}")
        if shard_count < 1:
            raise ValueError("shard_count must be at least 1")
        self._service = service
        self.name = name
        self.key_schema = [dict(element) for element in key_schema]
        self.key_names = [element["AttributeName"] for element in self.key_schema]
        self.hash_key = next(e["AttributeName"] for e in self.key_schema if e["KeyType"] == "HASH")
        self.view_type = view_type
        self.shard_count = shard_count
        self.items: dict = {}
        self.streams: list = []  # every stream this table had, oldest first
        self.deleted = False

    # -- stream identity ---------------------------------------------------------------------

    @property
    def stream(self) -> Optional[StreamState]:
        """The latest stream (possibly disabled), i.e. DescribeTable's LatestStreamArn."""
        return self.streams[-1] if self.streams else None

    @property
    def stream_arn(self) -> Optional[str]:
        return self.stream.arn if self.stream else None

    @property
    def stream_enabled(self) -> bool:
        return self.stream is not None and self.stream.status == "ENABLED"

    def description(self) -> dict:
        """The stream-related part of DynamoDB's DescribeTable ``Table``."""
        described = {
            "TableName": self.name,
            "KeySchema": copy.deepcopy(self.key_schema),
            "TableStatus": "ACTIVE",
        }
        if self.stream_enabled:
            described["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream.view_type,
            }
        else:
            described["StreamSpecification"] = {"StreamEnabled": False}
        if self.stream is not None:
            described["LatestStreamArn"] = self.stream.arn
            described["LatestStreamLabel"] = self.stream.label
        return described

    # -- writes ------------------------------------------------------------------------------

    def put_item(self, item: dict) -> Optional[WrittenRecord]:
        """PutItem: INSERT or MODIFY; no record when the item is unchanged (F26)."""
        key = self._key_of(item)
        with self._service._lock:
            old = self.items.get(canonical_json(key))
            return self.write(key, new=item, old=old)

    def update_item(self, key: dict, attributes: dict, remove: tuple = ()) -> Optional[WrittenRecord]:
        """UpdateItem: set ``attributes`` and drop the names in ``remove``."""
        key = self._key_of(key)
        with self._service._lock:
            old = self.items.get(canonical_json(key))
            new = {**(old or key), **attributes}
            for name in remove:
                new.pop(name, None)
            return self.write(key, new=new, old=old)

    def delete_item(self, key: dict, *, ttl: bool = False) -> Optional[WrittenRecord]:
        """DeleteItem (or a TTL expiry with ``ttl=True``); no record when the item is absent."""
        key = self._key_of(key)
        with self._service._lock:
            old = self.items.get(canonical_json(key))
            if old is None:
                return None
            return self.write(key, new=None, old=old, ttl=ttl)

    def write(
        self, key: dict, new: Optional[dict], old: Optional[dict], *, ttl: bool = False
    ) -> Optional[WrittenRecord]:
        """Append one change with explicit images (the low-level form of the methods above).

        The event name follows from the images: INSERT (no old), MODIFY (both), REMOVE (no new).
        ``new == old`` writes nothing (F26). The item store is set to ``new``. Returns the
        :class:`WrittenRecord`, or None when no stream record was produced (no change, or the
        stream is disabled).
        """
        if new is None and old is None:
            raise ValueError("a write needs a new or an old image")
        if ttl and new is not None:
            raise ValueError("only a REMOVE can come from TTL")
        key = self._key_of(key)
        service = self._service
        with service._lock:
            if self.deleted:
                raise ValueError(f"table {self.name} was deleted")
            now = service.clock.now()
            service._catch_up(now)
            if new == old:
                return None
            item_id = canonical_json(key)
            if new is None:
                self.items.pop(item_id, None)
            else:
                self.items[item_id] = copy.deepcopy(new)
            if not self.stream_enabled:
                return None
            event_name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
            return service._append_record(
                self.stream, key, event_name, new, old, ttl, now, self._key_hash(key)
            )

    # -- topology ----------------------------------------------------------------------------

    def shard_of(self, key: dict) -> str:
        """The open shard a write of ``key`` would go to now."""
        with self._service._lock:
            self._service._catch_up(self._service.clock.now())
            return self._enabled_stream().open_shard_for(self._key_hash(self._key_of(key))).shard_id

    def open_shard_ids(self) -> list:
        with self._service._lock:
            self._service._catch_up(self._service.clock.now())
            return list(self._enabled_stream().open_shards)

    def split(self, shard_id: str, children: int = 2) -> list:
        """Close an open shard and open ``children`` shards splitting its hash range (F13).

        Returns the children's ids. Keys of the parent keep routing into one of its children.
        """
        if children < 1:
            raise ValueError("children must be at least 1")
        service = self._service
        with service._lock:
            now = service.clock.now()
            service._catch_up(now)
            stream = self._enabled_stream()
            parent = stream.open_shards.get(shard_id)
            if parent is None:
                raise ValueError(f"{shard_id} is not an open shard of {stream.arn}")
            return [child.shard_id for child in service._split(stream, parent, children, now)]

    def rollover(self, shard_id: Optional[str] = None) -> list:
        """Close ``shard_id`` (default: every open shard) into one child each (F15)."""
        with self._service._lock:
            targets = [shard_id] if shard_id else self.open_shard_ids()
            return [child for target in targets for child in self.split(target, children=1)]

    def inject_empty_pages(self, shard_id: str, count: int = 1, before_sequence_number: Optional[str] = None):
        """Serve ``count`` empty pages (with a NextShardIterator) before a record (F17).

        ``before_sequence_number`` names a record of the shard; None means before whatever is
        written next. Reads that would cross that point stop just before it.
        """
        service = self._service
        with service._lock:
            shard = service._find_shard(shard_id)
            if before_sequence_number is None:
                position = len(shard.records)
            else:
                position = bisect.bisect_left(shard.sequence_ints, int(before_sequence_number))
            shard.empty_pages[position] = shard.empty_pages.get(position, 0) + count

    # -- lifecycle ---------------------------------------------------------------------------

    def disable(self) -> str:
        """Disable the stream (F20): every open shard closes, no children; readable for 24 h."""
        service = self._service
        with service._lock:
            now = service.clock.now()
            service._catch_up(now)
            stream = self._enabled_stream()
            for shard in list(stream.open_shards.values()):
                service._close_shard(stream, shard, now)
            stream.status = "DISABLED"
            stream.disabled_at = now
            return stream.arn

    def enable(self, view_type: Optional[str] = None) -> str:
        """Enable a new stream (new ARN, label and shard ids; F4) and return its ARN."""
        service = self._service
        with service._lock:
            if self.deleted:
                raise ValueError(f"table {self.name} was deleted")
            if self.stream_enabled:
                raise ValueError(f"table {self.name} already has an enabled stream")
            if view_type is not None:
                if view_type not in VIEW_TYPES:
                    raise ValueError(f"view_type must be one of {VIEW_TYPES}")
                self.view_type = view_type
            return service._new_stream(self).arn

    def delete(self, *, keep_streams_readable: bool = False) -> None:
        """Delete the table (F21).

        By default every stream of the table is gone at once (ResourceNotFoundException, also
        for iterators already issued). ``keep_streams_readable=True``: the stream is only
        disabled and stays readable for the retention period.
        """
        service = self._service
        with service._lock:
            now = service.clock.now()
            if self.stream_enabled:
                self.disable()
            self.deleted = True
            self.items.clear()
            if keep_streams_readable:
                return
            for stream in self.streams:
                stream.deleted_at = now
                for shard in stream.shards.values():
                    for record in shard.records:
                        record.deleted_at = record.deleted_at or now

    # -- helpers -----------------------------------------------------------------------------

    def _enabled_stream(self) -> StreamState:
        if not self.stream_enabled:
            raise ValueError(f"table {self.name} has no enabled stream")
        return self.stream

    def _key_of(self, item: dict) -> dict:
        missing = [name for name in self.key_names if name not in item]
        if missing:
            raise ValueError(f"item lacks key attribute(s) {missing} of table {self.name}")
        return {name: copy.deepcopy(item[name]) for name in self.key_names}

    def _key_hash(self, key: dict) -> int:
        digest = hashlib.md5(canonical_json(key[self.hash_key]).encode()).digest()
        return int.from_bytes(digest, "big")


# ---------------------------------------------------------------------------------------------
# The service


@dataclass
class _IteratorState:
    stream_arn: str
    shard_id: str
    position: int
    issued_at: datetime


class SimulatedStreams:
    """An in-process DynamoDB Streams service with a boto3-client surface.

    ``SimulatedStreams(table_name="Table", key_schema=[{"AttributeName": "id", "KeyType":
    "HASH"}], view_type="NEW_AND_OLD_IMAGES", shard_count=1, clock=None, seed=0, **settings)``
    creates one default table (``sim.table``); pass ``table_name=None`` for none and add tables
    with :meth:`create_table`. Extra keyword arguments set :class:`Settings` fields.

    Client surface: :meth:`describe_stream`, :meth:`get_shard_iterator`, :meth:`get_records`,
    :meth:`list_streams` (keyword arguments, boto3-shaped dicts, ``ClientError`` on failure) and
    ``exceptions`` (the same classes as ``client.exceptions``). Test surface: ``clock``,
    ``settings``, ``faults``, ``calls``, ``shard_calls``, ``write_log`` and shortcuts to the
    default table's write and topology methods.
    """

    def __init__(
        self,
        *,
        table_name: Optional[str] = "Table",
        key_schema: Optional[list] = None,
        view_type: str = "NEW_AND_OLD_IMAGES",
        shard_count: int = 1,
        clock: Optional[VirtualClock] = None,
        seed: int = 0,
        **settings: Any,
    ):
        self.clock = clock or VirtualClock()
        self.settings = Settings(**settings)
        self.settings.retention = _as_timedelta(self.settings.retention)
        self.settings.iterator_lifetime = _as_timedelta(self.settings.iterator_lifetime)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._sequences = SequenceNumbers(self._rng, self.settings.sequence_numbers)
        self._streams: dict = {}  # arn -> StreamState, creation order
        self._shards: dict = {}  # shard_id -> (StreamState, ShardState), every shard ever opened
        self._iterator_serial = 0
        self._request_serial = 0
        self._next_rollover: tuple = (None, None)  # (rollover_after, earliest due rollover)
        self._rate_windows: dict = defaultdict(deque)
        self._readers: Counter = Counter()
        # A separate generator, so probabilistic faults do not shift sequence numbers or shard ids.
        self.faults = FaultSchedule(random.Random(f"faults-{seed}"))
        #: calls per operation name, failed ones included
        self.calls: Counter = Counter()
        #: calls per (operation, shard_id) for GetRecords, GetShardIterator, filtered DescribeStream
        self.shard_calls: Counter = Counter()
        #: every stream record ever appended, in write order
        self.write_log: list = []
        self.tables: dict = {}
        self.table: Optional[SimulatedTable] = None
        self.exceptions = _client_exceptions()
        if table_name is not None:
            self.table = self.create_table(
                table_name, key_schema=key_schema, view_type=view_type, shard_count=shard_count
            )

    def create_table(
        self,
        name: str,
        *,
        key_schema: Optional[list] = None,
        view_type: str = "NEW_AND_OLD_IMAGES",
        shard_count: int = 1,
        stream_enabled: bool = True,
    ) -> SimulatedTable:
        """Add a table (with an enabled stream of ``shard_count`` root shards by default)."""
        with self._lock:
            if name in self.tables and not self.tables[name].deleted:
                raise ValueError(f"table {name} exists")
            key_schema = key_schema or [{"AttributeName": "id", "KeyType": "HASH"}]
            table = SimulatedTable(self, name, key_schema, view_type, shard_count)
            self.tables[name] = table
            if stream_enabled:
                self._new_stream(table)
            return table

    # -- shortcuts to the default table -------------------------------------------------------

    @property
    def stream_arn(self) -> Optional[str]:
        """The default table's latest stream ARN."""
        return self.table.stream_arn

    def put_item(self, item: dict) -> Optional[WrittenRecord]:
        return self.table.put_item(item)

    def update_item(self, key: dict, attributes: dict, remove: tuple = ()) -> Optional[WrittenRecord]:
        return self.table.update_item(key, attributes, remove)

    def delete_item(self, key: dict, *, ttl: bool = False) -> Optional[WrittenRecord]:
        return self.table.delete_item(key, ttl=ttl)

    def write(self, key: dict, new: Optional[dict], old: Optional[dict], *, ttl: bool = False):
        return self.table.write(key, new, old, ttl=ttl)

    def shard_of(self, key: dict) -> str:
        return self.table.shard_of(key)

    def open_shard_ids(self) -> list:
        return self.table.open_shard_ids()

    def split(self, shard_id: str, children: int = 2) -> list:
        return self.table.split(shard_id, children)

    def rollover(self, shard_id: Optional[str] = None) -> list:
        return self.table.rollover(shard_id)

    def inject_empty_pages(self, shard_id: str, count: int = 1, before_sequence_number: Optional[str] = None):
        return self.table.inject_empty_pages(shard_id, count, before_sequence_number)

    def disable(self) -> str:
        return self.table.disable()

    def enable(self, view_type: Optional[str] = None) -> str:
        return self.table.enable(view_type)

    def delete_table(self, *, keep_streams_readable: bool = False) -> None:
        return self.table.delete(keep_streams_readable=keep_streams_readable)

    # -- inspection ---------------------------------------------------------------------------

    def shard(self, shard_id: str) -> ShardState:
        """The :class:`ShardState` object (also vanished ones), for assertions."""
        with self._lock:
            return self._find_shard(shard_id)

    def shard_parents(self) -> dict:
        """``{shard_id: parent_id or None}`` for every shard ever opened (for the oracle)."""
        with self._lock:
            return {shard_id: shard.parent_id for shard_id, (_, shard) in self._shards.items()}

    def records(self, stream_arn: Optional[str] = None) -> list:
        """The write log, optionally of one stream."""
        with self._lock:
            return [r for r in self.write_log if stream_arn is None or r.stream_arn == stream_arn]

    def reset_counters(self) -> None:
        with self._lock:
            self.calls.clear()
            self.shard_calls.clear()

    def describe_table(self, *, TableName: str) -> dict:
        """DynamoDB's (not Streams') DescribeTable, reduced to the stream fields.

        For consumers that compare a token's ARN with ``LatestStreamArn`` (F3/F4).
        """
        with self._lock:
            table = self.tables.get(TableName)
            if table is None or table.deleted:
                raise service_error(
                    "DescribeTable",
                    "ResourceNotFoundException",
                    f"Requested resource not found: Table: {TableName}",
                )
            return {"Table": table.description()}

    # -- client API ---------------------------------------------------------------------------

    def describe_stream(
        self,
        *,
        StreamArn: str,
        Limit: Optional[int] = None,
        ExclusiveStartShardId: Optional[str] = None,
        ShardFilter: Optional[dict] = None,
    ) -> dict:
        _require_str("StreamArn", StreamArn)
        filtered = ShardFilter.get("ShardId") if isinstance(ShardFilter, dict) else None
        return self._call(
            "DescribeStream",
            filtered,
            lambda now: self._describe_stream(now, StreamArn, Limit, ExclusiveStartShardId, ShardFilter),
        )

    def get_shard_iterator(
        self,
        *,
        StreamArn: str,
        ShardId: str,
        ShardIteratorType: str,
        SequenceNumber: Optional[str] = None,
        Timestamp: Any = None,
    ) -> dict:
        _require_str("StreamArn", StreamArn)
        _require_str("ShardId", ShardId)
        _require_str("ShardIteratorType", ShardIteratorType)
        return self._call(
            "GetShardIterator",
            ShardId,
            lambda now: self._get_shard_iterator(
                now, StreamArn, ShardId, ShardIteratorType, SequenceNumber, Timestamp
            ),
        )

    def get_records(self, *, ShardIterator: str, Limit: Optional[int] = None) -> dict:
        _require_str("ShardIterator", ShardIterator)
        state = self._decode_iterator(ShardIterator)
        shard_id = state.shard_id if state else None
        return self._call(
            "GetRecords",
            shard_id,
            lambda now: self._get_records(now, ShardIterator, state, Limit),
            reader=shard_id,
        )

    def list_streams(
        self,
        *,
        TableName: Optional[str] = None,
        Limit: Optional[int] = None,
        ExclusiveStartStreamArn: Optional[str] = None,
    ) -> dict:
        return self._call(
            "ListStreams",
            None,
            lambda now: self._list_streams(now, TableName, Limit, ExclusiveStartStreamArn),
        )

    # -- call plumbing ------------------------------------------------------------------------

    def _call(
        self, operation: str, shard_id: Optional[str], handler: Callable, reader: Optional[str] = None
    ) -> dict:
        """Count, sleep (real latency, unlocked), inject faults, then run ``handler`` locked."""
        if reader is not None:
            with self._lock:
                self._readers[reader] += 1
        try:
            if self.settings.latency:
                time.sleep(self.settings.latency)
            with self._lock:
                self.calls[operation] += 1
                if shard_id is not None:
                    self.shard_calls[(operation, shard_id)] += 1
                striking = self.faults.due(operation, shard_id)
                for fault in striking:
                    if fault.action is not None:
                        fault.action()
                failing = [fault for fault in striking if fault.action is None]
                early = [fault for fault in failing if not fault.strikes_after_reply]
                if early:
                    raise early[0].exception(operation)
                now = self.clock.now()
                self._catch_up(now)
                if reader is not None:
                    self._check_readers(operation, reader)
                response = handler(now)
                if failing:
                    raise failing[0].exception(operation)
                response["ResponseMetadata"] = self._response_metadata()
                return response
        finally:
            if reader is not None:
                with self._lock:
                    self._readers[reader] -= 1

    def _response_metadata(self) -> dict:
        self._request_serial += 1
        request_id = f"{self._request_serial:032X}"
        return {"RequestId": request_id, "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}

    def _check_readers(self, operation: str, shard_id: str) -> None:
        limit = self.settings.max_readers_per_shard
        if limit is not None and self._readers[shard_id] > limit:
            raise service_error(
                operation,
                "LimitExceededException",
                f"More than {limit} concurrent readers on shard {shard_id}",
            )

    def _check_rate(self, operation: str, key: Any, per_second: Optional[int], now: datetime) -> None:
        if per_second is None:
            return
        window = self._rate_windows[key]
        while window and window[0] <= now - timedelta(seconds=1):
            window.popleft()
        if len(window) >= per_second:
            raise service_error(operation, "LimitExceededException", f"Rate exceeded ({per_second} calls/s)")
        window.append(now)

    # -- DescribeStream -----------------------------------------------------------------------

    def _describe_stream(self, now, arn, limit, exclusive_start, shard_filter) -> dict:
        operation = "DescribeStream"
        page_size = _checked_limit(operation, limit, MAX_SHARDS_PER_DESCRIBE, "ValidationException")
        stream = self._readable_stream(operation, arn, now)
        self._check_rate(operation, ("DescribeStream", arn), self.settings.describe_calls_per_second, now)
        parent_filter = None
        if shard_filter is not None:
            if shard_filter.get("Type") != "CHILD_SHARDS" or not isinstance(shard_filter.get("ShardId"), str):
                raise service_error(
                    operation, "ValidationException", "ShardFilter needs Type CHILD_SHARDS and a ShardId"
                )
            parent_filter = shard_filter["ShardId"]
        stream.describe_calls += 1
        call = stream.describe_calls
        retention = self.settings.retention

        def listed(shard: ShardState) -> bool:
            return (
                not shard.vanished(now, retention)
                and call >= shard.visible_from_call
                and (shard.visible_from_time is None or now >= shard.visible_from_time)
                and (parent_filter is None or shard.parent_id == parent_filter)
            )

        keys, ordered = stream.listing()
        start = 0 if exclusive_start is None else bisect.bisect_right(keys, stream.sort_key(exclusive_start))
        page, more = [], False
        for index in range(start, len(ordered)):
            if listed(ordered[index]):
                if len(page) == page_size:
                    more = True
                    break
                page.append(ordered[index])
        description = {
            "StreamArn": stream.arn,
            "StreamLabel": stream.label,
            "StreamStatus": stream.status,
            "StreamViewType": stream.view_type,
            "CreationRequestDateTime": stream.created_at.astimezone(tzlocal()),
            "TableName": stream.table_name,
            "KeySchema": copy.deepcopy(stream.key_schema),
            "Shards": [shard.describe(show_closed=call >= shard.close_visible_from_call) for shard in page],
        }
        if more:
            description["LastEvaluatedShardId"] = page[-1].shard_id
        return {"StreamDescription": description}

    # -- GetShardIterator ---------------------------------------------------------------------

    def _get_shard_iterator(self, now, arn, shard_id, iterator_type, sequence_number, timestamp) -> dict:
        operation = "GetShardIterator"
        if iterator_type not in ITERATOR_TYPES or (
            iterator_type == "AT_TIMESTAMP" and not self.settings.support_at_timestamp
        ):
            raise service_error(
                operation, "ValidationException", f"Invalid ShardIteratorType: {iterator_type}"
            )
        needs_sequence = iterator_type in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
        if needs_sequence and sequence_number is None:
            raise service_error(
                operation, "ValidationException", f"{iterator_type} requires a SequenceNumber"
            )
        if not needs_sequence and sequence_number is not None:
            raise service_error(operation, "ValidationException", f"{iterator_type} takes no SequenceNumber")
        if (iterator_type == "AT_TIMESTAMP") != (timestamp is not None):
            raise service_error(operation, "ValidationException", "Timestamp goes with AT_TIMESTAMP only")
        stream = self._readable_stream(operation, arn, now)
        shard = stream.shards.get(shard_id)
        if shard is None or shard.vanished(now, self.settings.retention):
            raise service_error(
                operation,
                "ResourceNotFoundException",
                f"Requested resource not found: Shard: {shard_id} in {arn}",
            )
        trim = shard.trim_index(now, self.settings.retention)
        if iterator_type == "TRIM_HORIZON":
            position = trim
        elif iterator_type == "LATEST":
            position = len(shard.records)
        elif iterator_type == "AT_TIMESTAMP":
            position = self._position_at_time(operation, shard, _as_datetime(operation, timestamp), trim, now)
        else:
            if not isinstance(sequence_number, str) or not sequence_number.isdigit():
                raise service_error(
                    operation, "ValidationException", f"Invalid SequenceNumber: {sequence_number!r}"
                )
            position = shard.position_of(int(sequence_number), after=iterator_type == "AFTER_SEQUENCE_NUMBER")
            if position is None:
                raise service_error(
                    operation,
                    "ValidationException",
                    f"Invalid SequenceNumber {sequence_number} for shard {shard_id}",
                )
            if position < trim:
                raise service_error(
                    operation,
                    "TrimmedDataAccessException",
                    f"Sequence number {sequence_number} of shard {shard_id} is beyond the trim horizon",
                )
        return {"ShardIterator": self._issue_iterator(stream, shard, position, now)}

    def _position_at_time(self, operation, shard, at: datetime, trim: int, now: datetime) -> int:
        if at > now:
            raise service_error(operation, "ValidationException", "Timestamp is in the future")
        created = [record.created_at for record in shard.records]
        return max(trim, bisect.bisect_left(created, at))

    # -- GetRecords ---------------------------------------------------------------------------

    def _get_records(self, now, token: str, state: Optional[_IteratorState], limit) -> dict:
        operation = "GetRecords"
        page_limit = _checked_limit(
            operation, limit, MAX_RECORDS_PER_PAGE, self.settings.limit_over_max_error
        )
        if state is None:
            raise service_error(operation, "ValidationException", f"Invalid ShardIterator: {token[:40]}")
        stream = self._readable_stream(operation, state.stream_arn, now)
        if now - state.issued_at >= self.settings.iterator_lifetime:
            raise service_error(
                operation,
                "ExpiredIteratorException",
                f"Iterator expired. The iterator was created at time {state.issued_at.isoformat()} "
                f"while right now it is {now.isoformat()}, beyond the tolerated delay of "
                f"{int(self.settings.iterator_lifetime.total_seconds() * 1000)} milliseconds.",
            )
        shard = stream.shards.get(state.shard_id)
        if shard is None or shard.vanished(now, self.settings.retention):
            raise service_error(operation, "ResourceNotFoundException", f"Shard {state.shard_id} not found")
        self._check_rate(
            operation, ("GetRecords", shard.shard_id), self.settings.reads_per_shard_per_second, now
        )
        position = state.position
        if position < shard.trim_index(now, self.settings.retention):
            raise service_error(
                operation,
                "TrimmedDataAccessException",
                f"The iterator of shard {shard.shard_id} points at records trimmed since it was issued",
            )
        if shard.empty_pages.get(position, 0) > 0:
            shard.empty_pages[position] -= 1
            return {"Records": [], "NextShardIterator": self._issue_iterator(stream, shard, position, now)}
        end = min(len(shard.records), position + min(page_limit, self.settings.page_size))
        for barrier, remaining in shard.empty_pages.items():
            if remaining > 0 and position < barrier < end:
                end = barrier
        page, size = [], 0
        for record in shard.records[position:end]:
            if page and size + record.size_bytes > self.settings.max_page_bytes:
                break
            size += record.size_bytes
            page.append(record)
        end = position + len(page)
        response = {"Records": [record.to_boto() for record in page]}
        at_end = end >= len(shard.records)
        if shard.is_open or not at_end or (page and not self.settings.last_page_closes_shard):
            response["NextShardIterator"] = self._issue_iterator(stream, shard, end, now)
        return response

    # -- ListStreams --------------------------------------------------------------------------

    def _list_streams(self, now, table_name, limit, exclusive_start) -> dict:
        page_size = _checked_limit("ListStreams", limit, MAX_STREAMS_PER_LIST, "ValidationException")
        streams = [
            stream
            for stream in self._streams.values()
            if stream.readable_at(now, self.settings.retention)
            and (table_name is None or stream.table_name == table_name)
        ]
        if exclusive_start is not None:
            arns = [stream.arn for stream in streams]
            if exclusive_start in arns:
                streams = streams[arns.index(exclusive_start) + 1 :]
        page = streams[:page_size]
        response = {
            "Streams": [
                {"StreamArn": stream.arn, "TableName": stream.table_name, "StreamLabel": stream.label}
                for stream in page
            ]
        }
        if len(streams) > page_size:
            response["LastEvaluatedStreamArn"] = page[-1].arn
        return response

    # -- iterators ----------------------------------------------------------------------------

    def _issue_iterator(self, stream: StreamState, shard: ShardState, position: int, now: datetime) -> str:
        """Iterators are opaque to callers but carry their whole state (reusable until expiry)."""
        self._iterator_serial += 1
        issued = int(now.timestamp() * 1_000_000)
        payload = json.dumps([stream.arn, shard.shard_id, position, issued, self._iterator_serial])
        return "sim-iterator:" + base64.urlsafe_b64encode(payload.encode()).decode()

    @staticmethod
    def _decode_iterator(token: str) -> Optional[_IteratorState]:
        prefix = "sim-iterator:"
        if not token.startswith(prefix):
            return None
        try:
            arn, shard_id, position, issued, _ = json.loads(base64.urlsafe_b64decode(token[len(prefix) :]))
            issued_at = datetime.fromtimestamp(issued / 1_000_000, timezone.utc)
        except (ValueError, TypeError):
            return None
        return _IteratorState(arn, shard_id, int(position), issued_at)

    # -- state changes (called under the lock) ------------------------------------------------

    def _readable_stream(self, operation: str, arn: str, now: datetime) -> StreamState:
        stream = self._streams.get(arn)
        if stream is None or not stream.readable_at(now, self.settings.retention):
            raise service_error(
                operation,
                "ResourceNotFoundException",
                f"Requested resource not found: Stream: {arn} not found",
            )
        return stream

    def _find_shard(self, shard_id: str) -> ShardState:
        if shard_id not in self._shards:
            raise ValueError(f"unknown shard {shard_id}")
        return self._shards[shard_id][1]

    def _new_stream(self, table: SimulatedTable) -> StreamState:
        now = self.clock.now()
        labelled = now
        labels = {stream.label for stream in table.streams}
        while _label(labelled) in labels:
            labelled += timedelta(milliseconds=1)
        label = _label(labelled)
        settings = self.settings
        arn = f"arn:aws:dynamodb:{settings.region}:{settings.account_id}:table/{table.name}/stream/{label}"
        stream = StreamState(
            arn=arn,
            label=label,
            table_name=table.name,
            key_schema=copy.deepcopy(table.key_schema),
            view_type=table.view_type,
            created_at=now,
            listing_seed=str(self._rng.random()),
            listing_order=settings.listing_order,
        )
        self._streams[arn] = stream
        table.streams.append(stream)
        width = HASH_SPACE // table.shard_count
        for number in range(table.shard_count):
            high = HASH_SPACE if number == table.shard_count - 1 else (number + 1) * width
            self._open_shard(stream, None, (number * width, high), now, hidden=False)
        return stream

    def _open_shard(
        self,
        stream: StreamState,
        parent: Optional[ShardState],
        hash_range: tuple,
        opened_at: datetime,
        hidden: bool,
    ):
        while True:
            millis = int(opened_at.timestamp() * 1000)
            shard_id = f"shardId-{millis:020d}-{self._rng.getrandbits(32):08x}"
            if shard_id not in self._shards:
                break
        base = self._sequences.new_base()
        jitter = self.settings.rollover_jitter
        shard = ShardState(
            shard_id=shard_id,
            parent_id=parent.shard_id if parent else None,
            hash_range=hash_range,
            starting_sequence=base,
            next_sequence=base + self._rng.randint(1, 200),
            opened_at=opened_at,
            lifetime_factor=1.0 + self._rng.uniform(-jitter, jitter),
        )
        if hidden:
            shard.visible_from_call = stream.describe_calls + self.settings.child_visibility_delay + 1
            shard.visible_from_time = opened_at + timedelta(seconds=self.settings.child_visibility_seconds)
        stream.shards[shard_id] = shard
        stream.open_shards[shard_id] = shard
        stream.topology_changed()
        self._next_rollover = (None, None)  # the new shard may roll over first
        self._shards[shard_id] = (stream, shard)
        return shard

    def _close_shard(self, stream: StreamState, shard: ShardState, closed_at: datetime) -> None:
        shard.ending_sequence = self._sequences.allocate(shard)
        shard.closed_at = closed_at
        shard.close_visible_from_call = stream.describe_calls + self.settings.parent_close_delay + 1
        del stream.open_shards[shard.shard_id]
        stream.topology_changed()

    def _split(self, stream: StreamState, parent: ShardState, children: int, at: datetime) -> list:
        self._close_shard(stream, parent, at)
        low, high = parent.hash_range
        width = (high - low) // children
        opened = []
        for number in range(children):
            child_high = high if number == children - 1 else low + (number + 1) * width
            opened.append(
                self._open_shard(stream, parent, (low + number * width, child_high), at, hidden=True)
            )
        return opened

    def _catch_up(self, now: datetime) -> None:
        """Apply every rollover due by ``now``, each at its own moment (lazy, so any jump works)."""
        lifetime = _as_timedelta(self.settings.rollover_after)
        if lifetime is None:
            return
        cached_lifetime, next_due = self._next_rollover
        if cached_lifetime == lifetime and next_due is not None and now < next_due:
            return
        deadlines = []
        for table in self.tables.values():
            stream = table.stream
            if stream is None or stream.status != "ENABLED":
                continue
            for shard in list(stream.open_shards.values()):
                current = shard
                while current.opened_at + lifetime * current.lifetime_factor <= now:
                    closes_at = current.opened_at + lifetime * current.lifetime_factor
                    (current,) = self._split(stream, current, 1, closes_at)
                deadlines.append(current.opened_at + lifetime * current.lifetime_factor)
        self._next_rollover = (lifetime, min(deadlines, default=None))

    def _append_record(self, stream, key, event_name, new, old, ttl, now, key_hash) -> WrittenRecord:
        shard = stream.open_shard_for(key_hash)
        sequence = self._sequences.allocate(shard)
        record = WrittenRecord(
            index=len(self.write_log),
            stream_arn=stream.arn,
            table_name=stream.table_name,
            shard_id=shard.shard_id,
            sequence_number=str(sequence),
            event_id=f"{self._rng.getrandbits(128):032x}",
            event_name=event_name,
            key=copy.deepcopy(key),
            new_image=copy.deepcopy(new),
            old_image=copy.deepcopy(old),
            view_type=stream.view_type,
            ttl=ttl,
            written_at=now,
            expires_at=now + self.settings.retention,
        )
        record.size_bytes = _visible_size(record)
        shard.records.append(record)
        shard.sequence_ints.append(sequence)
        shard.written_ats.append(now)
        self.write_log.append(record)
        return record


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the operations


def _require_str(name: str, value: Any) -> None:
    """botocore validates parameter types on the client side, before any request."""
    if not isinstance(value, str):
        raise ParamValidationError(
            report=f"Invalid type for parameter {name}, value: {value!r}, type: {type(value)}"
        )


def _checked_limit(operation: str, limit: Optional[int], maximum: int, over_max_code: str) -> int:
    if limit is None:
        return maximum
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ParamValidationError(report=f"Invalid type for parameter Limit, value: {limit!r}")
    if limit < 1:
        raise ParamValidationError(
            report=f"Invalid value for parameter Limit, value: {limit}, valid min value: 1"
        )
    if limit > maximum:
        raise service_error(
            operation,
            over_max_code,
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            f"Member must have value less than or equal to {maximum}",
        )
    return limit


def _as_datetime(operation: str, value: Any) -> datetime:
    """Timestamp parameters as botocore accepts them: datetime (naive = UTC), epoch, or text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError) as error:
        raise ParamValidationError(report=f"Invalid timestamp {value!r}: {error}") from None


def _label(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
