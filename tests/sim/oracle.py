"""Invariant checks for stream consumers, and crash hooks for kill-and-resume tests.

The oracle compares what a consumer delivered with the ground truth of what was written, and
reports violations of the five invariants of ``shared/design.md`` section 5 (T is the last token
saved after its record was handled):

* **I1 complete**: every expected record still within retention is delivered at least once.
* **I2 ordered**: per key, first deliveries follow write order, across splits and resumes;
  within one session, every delivery of a key (replays included) follows write order.
* **I3 bounded duplicates**: nothing is delivered twice within a session, and a later session
  never re-delivers a record that a saved token already covered.
* **I4 right stream**: every delivered record belongs to the configured stream.
* **I5 loud loss**: every expected record that was trimmed before it was delivered is covered
  by a loss report.

It works with any consumer. What it needs:

* a **write log**: objects with the attributes of :class:`tests.sim.service.WrittenRecord`
  that it reads: ``index`` (global write order), ``stream_arn``, ``shard_id``,
  ``sequence_number`` (str), ``key`` (for messages), ``key_id`` (hashable per item) and
  ``readable_at(now) -> bool``; ``SimulatedStreams.write_log`` is one;
* a **delivery log** (:class:`DeliveryLog`): one :class:`SessionLog` per process life, holding
  the events handed to the user's handler in order and how many of them the last saved token
  covers. Events are bloop events (``event["meta"]["sequence_number"]``), boto3/Lambda records
  (``record["dynamodb"]["SequenceNumber"]``), or anything :func:`sequence_number_of` reads;
  records are matched by sequence number (unique within the simulator), never by model objects;
* **loss reports** (:class:`LossReport` or dicts with the same keys) collected from the
  consumer's data-loss hook or errors.

Crash hooks: :class:`CrashPlan` raises :class:`SimulatedCrash` at a named point; the driver
:func:`run_session` calls the points around handling and token saves, and records the session.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from .service import SimulatedCrash

__all__ = [
    "AFTER_FETCH",
    "BEFORE_HANDLE",
    "AFTER_HANDLE",
    "BEFORE_SAVE",
    "AFTER_SAVE",
    "CRASH_POINTS",
    "CrashPlan",
    "DeliveryLog",
    "LossReport",
    "SessionLog",
    "SimulatedCrash",
    "check_invariants",
    "check_simulation",
    "run_session",
    "sequence_number_of",
]

# ---------------------------------------------------------------------------------------------
# Crash hooks

#: the consumer returned an event, before the handler saw it
AFTER_FETCH = "after_fetch"
#: just before the handler runs (same moment as AFTER_FETCH in run_session; kept for drivers)
BEFORE_HANDLE = "before_handle"
#: the handler returned, the token is not saved yet (F2)
AFTER_HANDLE = "after_handle"
#: the token was read from the consumer but not stored yet
BEFORE_SAVE = "before_save"
#: the token is stored
AFTER_SAVE = "after_save"
CRASH_POINTS = (AFTER_FETCH, BEFORE_HANDLE, AFTER_HANDLE, BEFORE_SAVE, AFTER_SAVE)


class CrashPlan:
    """Decides where the simulated process dies.

    ``plan.arm(AFTER_HANDLE, on_hit=3)`` makes the third ``plan.hit(AFTER_HANDLE)`` raise
    :class:`SimulatedCrash`; hits are counted from the moment of arming, and a point fires once
    (arm it again for the next session). Points are plain strings, so a driver may add its own.
    For a crash inside the library right after a service call, use the simulator's
    ``sim.faults.crash("GetRecords", after_calls=k)`` instead.
    """

    def __init__(self) -> None:
        self._armed: dict = {}
        #: every hit per point, armed or not
        self.hits: Counter = Counter()

    def arm(self, point: str, *, on_hit: int = 1) -> None:
        if on_hit < 1:
            raise ValueError("on_hit counts from 1")
        self._armed[point] = on_hit

    def disarm(self, point: Optional[str] = None) -> None:
        if point is None:
            self._armed.clear()
        else:
            self._armed.pop(point, None)

    @property
    def armed(self) -> dict:
        """``{point: hits still to go before the crash}``."""
        return dict(self._armed)

    def hit(self, point: str) -> None:
        """Call at ``point``; raises :class:`SimulatedCrash` when it is due."""
        self.hits[point] += 1
        if point not in self._armed:
            return
        self._armed[point] -= 1
        if self._armed[point] == 0:
            del self._armed[point]
            raise SimulatedCrash(point)


# ---------------------------------------------------------------------------------------------
# Delivery log


@dataclass
class SessionLog:
    """What one process life delivered.

    ``saved_through`` is how many of ``deliveries`` the last token saved in this session covers.
    ``token`` is that token, ready for the next session to resume from; ``saves`` counts saves
    (a token may be saved before anything was delivered, e.g. right after positioning).
    """

    number: int
    deliveries: list = field(default_factory=list)
    saved_through: int = 0
    token: Any = None
    saves: int = 0
    crashed: bool = False
    crash_point: Optional[str] = None

    def delivered(self, event: Any) -> None:
        """The user's handler finished with ``event``."""
        self.deliveries.append(event)

    def saved(self, token: Any) -> None:
        """A token was stored after the latest delivery; it covers every delivery so far."""
        self.saved_through = len(self.deliveries)
        self.token = token
        self.saves += 1


class DeliveryLog:
    """Every session of one consumer, in order (a resume starts a new session)."""

    def __init__(self) -> None:
        self.sessions: list = []

    def new_session(self) -> SessionLog:
        session = SessionLog(number=len(self.sessions) + 1)
        self.sessions.append(session)
        return session

    @property
    def last_token(self) -> Any:
        """The most recently saved token of any session (what a restart resumes from), or None."""
        for session in reversed(self.sessions):
            if session.saves:
                return session.token
        return None

    @property
    def deliveries(self) -> list:
        """Every delivered event across sessions, in order."""
        return [event for session in self.sessions for event in session.deliveries]


def run_session(
    log: DeliveryLog,
    next_event: Callable[[], Any],
    *,
    save_token: Callable[[], Any],
    handle: Optional[Callable[[Any], None]] = None,
    crashes: Optional[CrashPlan] = None,
    idle_limit: int = 3,
    sleep: Optional[Callable[[float], None]] = None,
    poll_interval: float = 1.0,
    max_events: Optional[int] = None,
    save_every: int = 1,
) -> SessionLog:
    """Drive one process life of a consumer and record it in ``log``.

    ``next_event()`` returns the next event, or None when nothing is available (bloop's
    ``next(stream)`` contract; ``StopIteration`` also ends the session). After ``idle_limit``
    consecutive Nones the session ends; between them ``sleep(poll_interval)`` is called
    (pass ``sim.clock.sleep``). Each event goes through: crash point AFTER_FETCH, ``handle``,
    ``delivered``, AFTER_HANDLE; and every ``save_every`` deliveries: BEFORE_SAVE,
    ``save_token()`` (returns the token to store, e.g. ``lambda: stream.token``), AFTER_SAVE.
    A :class:`SimulatedCrash` from anywhere (crash plan, handler, simulator) ends the session
    with ``crashed=True``; the next session resumes from ``log.last_token``.
    """
    crashes = crashes or CrashPlan()
    session = log.new_session()
    idle = 0
    try:
        while max_events is None or len(session.deliveries) < max_events:
            try:
                event = next_event()
            except StopIteration:
                break
            if event is None:
                idle += 1
                if idle >= idle_limit:
                    break
                if sleep is not None:
                    sleep(poll_interval)
                continue
            idle = 0
            crashes.hit(AFTER_FETCH)
            crashes.hit(BEFORE_HANDLE)
            if handle is not None:
                handle(event)
            session.delivered(event)
            crashes.hit(AFTER_HANDLE)
            if len(session.deliveries) % save_every == 0:
                token = save_token()
                crashes.hit(BEFORE_SAVE)
                session.saved(token)
                crashes.hit(AFTER_SAVE)
    except SimulatedCrash as crash:
        session.crashed = True
        session.crash_point = crash.point
    return session


# ---------------------------------------------------------------------------------------------
# Loss reports


@dataclass(frozen=True)
class LossReport:
    """A consumer's statement that records were lost to retention (I5).

    Covers the records of ``shard_id`` with ``after_sequence_number`` < sequence number <
    ``before_sequence_number`` (either bound may be None = open). A report whose
    ``before_sequence_number`` is None also covers every descendant of the shard: a consumer
    that was offline for more than a day cannot name the shards that came and went (F5).
    """

    shard_id: str
    after_sequence_number: Optional[str] = None
    before_sequence_number: Optional[str] = None

    @classmethod
    def coerce(cls, value: Any) -> LossReport:
        """Accept a LossReport, a dict with the same keys, or any object with those attributes."""
        if isinstance(value, LossReport):
            return value
        if isinstance(value, dict):
            get = value.get
        else:

            def get(name, default=None):
                return getattr(value, name, default)

        return cls(
            shard_id=get("shard_id"),
            after_sequence_number=get("after_sequence_number"),
            before_sequence_number=get("before_sequence_number"),
        )

    def covers(self, record: Any, parents: dict) -> bool:
        if record.shard_id == self.shard_id:
            sequence = int(record.sequence_number)
            if self.after_sequence_number is not None and sequence <= int(self.after_sequence_number):
                return False
            return self.before_sequence_number is None or sequence < int(self.before_sequence_number)
        return self.before_sequence_number is None and self.shard_id in _ancestors(record.shard_id, parents)


def _ancestors(shard_id: str, parents: dict) -> set:
    found = set()
    parent = parents.get(shard_id)
    while parent is not None and parent not in found:
        found.add(parent)
        parent = parents.get(parent)
    return found


# ---------------------------------------------------------------------------------------------
# The oracle


def sequence_number_of(event: Any) -> str:
    """The sequence number of a bloop event, a boto3/Lambda record, or a WrittenRecord."""
    if isinstance(event, dict):
        if "meta" in event:
            return str(event["meta"]["sequence_number"])
        if "dynamodb" in event:
            return str(event["dynamodb"]["SequenceNumber"])
        if "sequence_number" in event:
            return str(event["sequence_number"])
    return str(event.sequence_number)


class _Violations:
    """Collects messages, at most ``limit`` per invariant, then a count of the rest."""

    def __init__(self, limit: int):
        self._limit = limit
        self._messages: list = []
        self._suppressed: Counter = Counter()
        self._shown: Counter = Counter()

    def add(self, invariant: str, message: str) -> None:
        if self._shown[invariant] < self._limit:
            self._shown[invariant] += 1
            self._messages.append(f"{invariant}: {message}")
        else:
            self._suppressed[invariant] += 1

    def result(self) -> list:
        more = [f"{name}: ... and {count} more" for name, count in sorted(self._suppressed.items())]
        return self._messages + more


def _describe(record: Any) -> str:
    return f"write #{record.index} (shard {record.shard_id}, seq {record.sequence_number}, key {record.key})"


def check_invariants(
    write_log: Iterable[Any],
    delivery_log: Any,
    *,
    stream_arn: str,
    now: Any,
    loss_reports: Iterable[Any] = (),
    shard_parents: Optional[dict] = None,
    start_index: int = 0,
    expected: Optional[Callable[[Any], bool]] = None,
    max_messages: int = 20,
) -> list:
    """Check I1-I5; return human-readable violations (empty list = all hold).

    ``delivery_log`` is a :class:`DeliveryLog` or a list of :class:`SessionLog`. ``now`` is the
    time of the check (records unreadable by then count as lost to retention). The records the
    consumer must deliver are those of ``stream_arn`` with ``index >= start_index`` (set it to
    ``len(sim.write_log)`` at the moment a ``latest`` consumer positioned itself) for which
    ``expected(record)`` is true. ``shard_parents`` (``sim.shard_parents()``) lets a loss report
    on a shard cover its descendants. At most ``max_messages`` messages per invariant.
    """
    sessions = delivery_log.sessions if isinstance(delivery_log, DeliveryLog) else list(delivery_log)
    write_log = list(write_log)
    by_sequence = {record.sequence_number: record for record in write_log}
    parents = shard_parents or {}
    reports = [LossReport.coerce(report) for report in loss_reports]
    violations = _Violations(max_messages)

    delivered_sequences = set()
    first_index_per_key: dict = {}
    covered_by_tokens: set = set()
    for session in sessions:
        seen_in_session: set = set()
        last_index_per_key: dict = {}
        for event in session.deliveries:
            sequence = sequence_number_of(event)
            record = by_sequence.get(sequence)
            if record is None:
                violations.add(
                    "I4", f"session {session.number} delivered seq {sequence}, which was never written"
                )
                continue
            if record.stream_arn != stream_arn:
                violations.add(
                    "I4",
                    f"session {session.number} delivered {_describe(record)} from stream {record.stream_arn}",
                )
                continue
            # I3: no duplicate within a session, no redelivery of what a saved token covered
            if sequence in seen_in_session:
                violations.add("I3", f"session {session.number} delivered {_describe(record)} twice")
            elif sequence in covered_by_tokens:
                violations.add(
                    "I3",
                    f"session {session.number} re-delivered {_describe(record)}, "
                    "already covered by a token saved in an earlier session",
                )
            seen_in_session.add(sequence)
            # I2: within a session, per key, write order (replays included)
            previous = last_index_per_key.get(record.key_id)
            if previous is not None and record.index < previous:
                violations.add(
                    "I2",
                    f"session {session.number} delivered {_describe(record)} after write #{previous} "
                    "of the same key",
                )
            last_index_per_key[record.key_id] = max(record.index, previous or 0)
            # I2: across sessions, first deliveries per key in write order
            if sequence not in delivered_sequences:
                delivered_sequences.add(sequence)
                latest_first = first_index_per_key.get(record.key_id)
                if latest_first is not None and record.index < latest_first:
                    violations.add(
                        "I2",
                        f"{_describe(record)} was first delivered (session {session.number}) after "
                        f"write #{latest_first} of the same key",
                    )
                first_index_per_key[record.key_id] = max(record.index, latest_first or 0)
        # the next session resumes from this session's token, which covers its saved prefix
        covered_by_tokens.update(
            sequence_number_of(event) for event in session.deliveries[: session.saved_through]
        )

    for record in write_log:
        if record.stream_arn != stream_arn or record.index < start_index:
            continue
        if expected is not None and not expected(record):
            continue
        if record.sequence_number in delivered_sequences:
            continue
        if record.readable_at(now):
            violations.add("I1", f"{_describe(record)} is still readable but was never delivered")
        elif not any(report.covers(record, parents) for report in reports):
            violations.add("I5", f"{_describe(record)} was lost to retention and no loss report covers it")
    return violations.result()


def check_simulation(
    sim: Any,
    delivery_log: Any,
    *,
    stream_arn: Optional[str] = None,
    loss_reports: Iterable[Any] = (),
    start_index: int = 0,
    expected: Optional[Callable[[Any], bool]] = None,
) -> list:
    """:func:`check_invariants` with the write log, clock and lineage taken from ``sim``.

    ``stream_arn`` defaults to the default table's latest stream.
    """
    return check_invariants(
        sim.records(),
        delivery_log,
        stream_arn=stream_arn or sim.stream_arn,
        now=sim.clock.now(),
        loss_reports=loss_reports,
        shard_parents=sim.shard_parents(),
        start_index=start_index,
        expected=expected,
    )
