"""One shard's reading state, and fetching its next page of records.

The *position* (``iterator_type`` + ``sequence_number``) is what has been consumed: it only moves when
a record is delivered (or skipped by a time seek), never when one is merely fetched, so a token always
describes exactly what the user has seen. A shard is only fetched once every record fetched from it
before has been delivered, so at fetch time the position is also where the last page ended: a lost or
expired iterator is re-acquired from the position with nothing skipped and nothing read twice.

``fetch`` runs on a worker thread. It touches only this shard (the coordinator waits for every worker
before it reads any shard again) and the thread-safe session.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..exceptions import (
    BloopException,
    InvalidPosition,
    InvalidStream,
    RecordsExpired,
    RetryLimitExceeded,
    ShardIteratorExpired,
)
from .clock import Clock

__all__ = ["Loss", "Shard"]

#: re-acquire an exact iterator this long after it was issued (they expire after 15 minutes)
REFRESH_AFTER = 12 * 60.0
#: empty pages followed in one fetch before the shard counts as read up to its head; a fresh iterator
#: can meet several empty pages before records further on ("GetRecords and empty pages")
CATCH_UP_PAGES = 5
#: pages one fetch reads at most (pages whose records a time seek skips included), to bound one round
MAX_PAGES_PER_FETCH = 20
#: ShardIteratorExpired this many times in one fetch (fresh iterators included): leave it to the next round
MAX_EXPIRIES = 3
#: DynamoDB Streams keeps every record at least this long: a record younger than this is never trimmed
RETENTION = 24 * 3600.0
#: allowance for this machine's clock running ahead of DynamoDB's when that guarantee is relied on
CLOCK_SKEW = 600.0


@dataclass
class Loss:
    """Records retention removed before they were read: a gap the consumer reports instead of hiding.

    The lost records are those of ``shard_id`` with ``after_sequence_number`` < sequence number <
    ``before_sequence_number`` (both bounds exclusive). ``after_sequence_number`` None: from the shard's
    start. ``before_sequence_number`` None: up to the oldest record still retained, which was not read
    yet; for a shard that vanished, that may include its descendants, since a consumer offline for more
    than a day cannot know which shards came and went.
    """

    shard_id: str
    after_sequence_number: str | None
    before_sequence_number: str | None
    reason: str

    def __str__(self) -> str:
        after = self.after_sequence_number or "its start"
        before = self.before_sequence_number or "the oldest record still retained"
        return f"shard {self.shard_id}: records after {after} up to {before} were lost ({self.reason})"


def _sequence(record: dict) -> str:
    return record["dynamodb"]["SequenceNumber"]


class Shard:
    """Where reading of one shard stands."""

    def __init__(self, shard_id: str, *, parent: str | None = None, start_sequence: str | None = None,
                 iterator_type: str = "trim_horizon", sequence_number: str | None = None,
                 skip_before: float | None = None, finished: bool = False, from_start: bool = False) -> None:
        self.shard_id = shard_id
        self.parent = parent
        #: StartingSequenceNumber from DescribeStream, when known
        self.start_sequence = start_sequence or (sequence_number if from_start else None)
        self.iterator_type = iterator_type
        self.sequence_number = sequence_number
        #: the position is at_sequence(start_sequence), chosen by us: if refused, the start is trim_horizon
        self.from_start = from_start
        #: epoch seconds; records created before are skipped (what is left of a move_to(datetime))
        self.skip_before = skip_before
        self.iterator: str | None = None
        self.iterator_at = 0.0
        #: GetRecords stopped returning NextShardIterator: every record has been fetched
        self.exhausted = finished
        #: the shard is no longer readable (ResourceNotFound): trimmed away, or the stream is gone
        self.gone = False
        self.at_head = False
        self.empty_streak = 0
        #: backoff (throttling, children not listed yet): not fetched before this monotonic time
        self.not_before = 0.0
        #: read up to its head: not polled again before this monotonic time (``next`` may wait for it)
        self.paced_until = 0.0
        self.last_polled = 0.0
        self.failures = 0
        self.child_lookups = 0
        self.latest_issued = False
        #: the iterator chain was issued at TRIM_HORIZON because the exact position was trimmed (or is
        #: unknown): the position stays exact, and is pinned to the chain's first record when one comes
        self.relative = False
        #: the position is where reading was asked to start and no iterator was issued for it yet: if it
        #: is trimmed, the oldest record left is what was asked for, not a gap
        self.start_requested = iterator_type == "trim_horizon"
        self.pending_loss: Loss | None = None
        #: gaps found by the last fetch, for the coordinator to report
        self.losses: list[Loss] = []

    # ------------------------------------------------------------------------------------- position
    def token(self) -> dict:
        """The position as a token entry: exact whenever the shard's first sequence number is known.

        A relative position restored later can't notice records trimmed in between, so "trim_horizon"
        and "latest" are written as the shard's StartingSequenceNumber: restoring it either reads from
        there, or is refused as trimmed and reports the gap.
        """
        iterator_type, sequence_number, from_start = self.iterator_type, self.sequence_number, self.from_start
        if iterator_type in ("trim_horizon", "latest") and self.start_sequence:
            # latest: no record read since LATEST, so resume from the shard's start (at-least-once; a
            # restored LATEST would skip whatever was written in between)
            iterator_type, sequence_number, from_start = "at_sequence", self.start_sequence, True
        entry: dict[str, Any] = {"shard_id": self.shard_id}
        if self.parent is not None:
            entry["parent"] = self.parent
        entry["iterator_type"] = iterator_type
        if sequence_number is not None:
            entry["sequence_number"] = sequence_number
        if from_start:
            entry["from_start"] = True
        if self.skip_before is not None:
            entry["skip_before"] = self.skip_before
        return entry

    def consumed(self, sequence_number: str) -> None:
        """A record of this shard was delivered (or skipped on purpose)."""
        self.iterator_type = "after_sequence"
        self.sequence_number = sequence_number
        self.from_start = False
        self.relative = False

    def _move(self, iterator_type: str, sequence_number: str | None = None, from_start: bool = False) -> None:
        self.iterator_type, self.sequence_number, self.from_start = iterator_type, sequence_number, from_start
        self.relative = False

    def _consumed_bound(self) -> str | None:
        """Exclusive lower bound of what has not been delivered yet (None: from the shard's start)."""
        if self.iterator_type == "after_sequence":
            return self.sequence_number
        if self.iterator_type == "at_sequence" and self.sequence_number:
            return str(int(self.sequence_number) - 1)
        return None

    def lost_remainder(self, reason: str) -> Loss:
        """The gap when the shard vanished before it was read to its end."""
        return Loss(self.shard_id, self._consumed_bound(), None, reason)

    # ------------------------------------------------------------------------------------ beginning
    def begin_at_oldest(self, session: Any, stream_arn: str, clock: Clock) -> None:
        """Position at the oldest record left (move_to trim_horizon or a time), exactly when possible.

        The position is the shard's StartingSequenceNumber. When the shard's first records are already
        trimmed, the iterator is a TRIM_HORIZON one but the position (and so the token) stays that
        exact number until the first record comes: a token restored later then notices what was trimmed
        in between. Starting at the oldest record left is not a loss: it is what was asked.
        """
        if self.start_sequence:
            self._move("at_sequence", self.start_sequence, from_start=True)
        else:
            self._move("trim_horizon")
        self.acquire(session, stream_arn, clock, lenient=True)

    def begin_at_latest(self, session: Any, stream_arn: str, clock: Clock) -> None:
        """LATEST is taken now: records written after this call are read, none before."""
        self._move("latest")
        try:
            self._issue(session, stream_arn, clock)
        except InvalidStream:
            self.gone = True

    def _issue(self, session: Any, stream_arn: str, clock: Clock, relative: bool = False) -> None:
        """An iterator at the position, or (``relative``) at TRIM_HORIZON with the position kept."""
        iterator_type = "trim_horizon" if relative else self.iterator_type
        self.iterator = session.get_shard_iterator(stream_arn=stream_arn, shard_id=self.shard_id,
                                                   iterator_type=iterator_type,
                                                   sequence_number=None if relative else self.sequence_number)
        self.iterator_at = clock.monotonic()
        self.empty_streak = 0
        self.start_requested = False
        self.relative = relative and self.iterator_type != "trim_horizon"
        if iterator_type == "latest":
            self.latest_issued = True

    # -------------------------------------------------------------------------------------- reading
    def fetch(self, session: Any, stream_arn: str, clock: Clock, limit: int | None = None) -> list[dict]:
        """The next records past the position ([] at the head, or when the shard ended or vanished).

        A gap found on the way (trimmed records) is always reported by the end of the call, bounded by
        the first record after it when this call got that far; the position has already moved past the
        gap, so the report must not wait for a later call that may never come.
        """
        self.last_polled = clock.monotonic()
        self.at_head = False
        records: list[dict] = []
        try:
            records = self._read(session, stream_arn, clock, limit)
            return records
        finally:
            if self.pending_loss is not None:
                self.pending_loss.before_sequence_number = _sequence(records[0]) if records else None
                self.losses.append(self.pending_loss)
                self.pending_loss = None

    def _read(self, session: Any, stream_arn: str, clock: Clock, limit: int | None) -> list[dict]:
        expiries = 0
        pages = 0
        while pages < MAX_PAGES_PER_FETCH:
            if self.iterator is None or self._stale(clock):
                if not self.acquire(session, stream_arn, clock):
                    return []
            try:
                response = session.get_stream_records(self.iterator, limit)
            except ShardIteratorExpired:
                self.iterator = None
                expiries += 1
                if expiries >= MAX_EXPIRIES:
                    return []  # even fresh iterators expire: try again next round rather than spin
                continue
            except RecordsExpired:
                self._trimmed("the shard iterator pointed at records trimmed while it was held")
                continue
            except InvalidStream:
                self.gone = True
                return []
            pages += 1
            self.iterator = response.get("NextShardIterator")
            self.iterator_at = clock.monotonic()
            records = response.get("Records") or []
            if records:
                # past records, one empty page means the head; only a fresh iterator may need a few
                self.empty_streak = CATCH_UP_PAGES - 1
                records = self._skip_early(records)
                if records:
                    self._pin(records[0])
                    return records
            else:
                self.empty_streak += 1
            if self.iterator is None:
                self.exhausted = True
                return []
            if not records and self.empty_streak >= CATCH_UP_PAGES:
                self.at_head = True
                return []
        return []

    def _stale(self, clock: Clock) -> bool:
        # an unread LATEST iterator can't be re-acquired without a gap; reading it keeps it fresh instead
        if self.iterator_type == "latest":
            return False
        return clock.monotonic() - self.iterator_at > REFRESH_AFTER

    def acquire(self, session: Any, stream_arn: str, clock: Clock, lenient: bool = False) -> bool:
        """A new iterator at the position; False when the shard is gone.

        A position older than the trim point continues at TRIM_HORIZON and is a gap, reported unless
        ``lenient`` (the oldest record left is what was asked for), unless the gap is already being
        reported, or unless it can't hold a wanted record (a time seek to less than a day ago).
        """
        lenient = lenient or self.start_requested
        self.start_requested = False
        if self.iterator_type == "latest" and self.latest_issued:
            # The LATEST iterator lapsed before any record came: a new one would skip whatever was
            # written meanwhile, so re-read the shard from its start instead (at-least-once, documented).
            if self.start_sequence:
                self._move("at_sequence", self.start_sequence, from_start=True)
            else:
                self._move("trim_horizon")
        try:
            try:
                self._issue(session, stream_arn, clock)
            except RecordsExpired:
                if not lenient and self.pending_loss is None and not self._seek_is_younger_than_retention(clock):
                    self.pending_loss = Loss(self.shard_id, self._consumed_bound(), None,
                                             "the position is older than the stream's retention")
                self._issue(session, stream_arn, clock, relative=True)
            except (InvalidStream, RetryLimitExceeded):
                raise
            except BloopException as error:
                if not self.from_start or isinstance(error, InvalidPosition):
                    raise InvalidPosition(
                        f"shard {self.shard_id} refused the position {self.iterator_type} "
                        f"{self.sequence_number}: {error}") from error
                # our own guess (the shard's StartingSequenceNumber) was refused: the start is trim_horizon
                self.start_sequence = None
                self._move("trim_horizon")
                self._issue(session, stream_arn, clock)
        except InvalidStream:
            self.gone = True
            self.iterator = None
            return False
        return True

    def learn_start(self, start_sequence: str) -> None:
        """The shard's StartingSequenceNumber, found by a listing after a relative position was restored
        (bloop 3.x tokens say "trim_horizon"): the position becomes that exact number."""
        if self.start_sequence is not None or self.iterator_type != "trim_horizon":
            return
        self.start_sequence = start_sequence
        relative = self.iterator is not None  # a chain issued at TRIM_HORIZON goes on from where it is
        self._move("at_sequence", start_sequence, from_start=True)
        self.relative = relative

    def _seek_is_younger_than_retention(self, clock: Clock) -> bool:
        """A time seek to less than a day ago: every record it wants is too young to have been trimmed."""
        return self.skip_before is not None and self.skip_before > clock.now().timestamp() - RETENTION + CLOCK_SKEW

    def _trimmed(self, reason: str) -> None:
        """Retention passed the iterator: remember the gap; the next iterator starts at the oldest record
        left, while the position stays where the gap began (a token taken before the next record then
        reports the gap again on restore rather than hiding it)."""
        if self.pending_loss is None:
            self.pending_loss = Loss(self.shard_id, self._consumed_bound(), None, reason)
        self.iterator = None

    def _pin(self, first: dict) -> None:
        """A relative position becomes exact once a record is known: a token then resumes there exactly."""
        if self.relative or self.iterator_type in ("trim_horizon", "latest"):
            self._move("at_sequence", _sequence(first))

    def _skip_early(self, records: list[dict]) -> list[dict]:
        """Drop records older than ``skip_before``; the first one at or after it ends the seek."""
        if self.skip_before is None:
            return records
        for index, record in enumerate(records):
            if record["dynamodb"]["ApproximateCreationDateTime"].timestamp() >= self.skip_before:
                self.skip_before = None
                return records[index:]
            self.consumed(_sequence(record))
        return []
