"""Stream: bloop 3.x's public stream object, reading one model's table stream without losing records.

``next(stream)`` returns the next event, or None when nothing is available right now (never
StopIteration). ``stream.token`` is a JSON dict of the position; save it *after* handling an event and
pass it to ``engine.stream(Model, token)`` (or ``move_to``) to resume: events after the saved token may
be delivered again after a crash, nothing before it is, and nothing is skipped.

When retention removed records before they were read (a consumer more than a day behind, a token that
is too old), the gap is reported, never skipped silently: to ``stream.on_loss(loss)`` when a callback is
set, otherwise as :exc:`~bloop.exceptions.RecordsLost` (a ``RecordsExpired``) from ``next``. Either way
the stream has already moved to the oldest record still retained, so reading simply continues.

A shard read from ``latest`` has no exact position until its first record arrives. If its iterator
lapses before that (15 minutes without a poll) or a token saved then is restored, the shard is re-read
from its first record: nothing is lost, but records from before the move may be delivered (and if the
shard's first records were trimmed meanwhile, that is reported as a loss, though some predate the move).
``heartbeat`` or ``iterate`` keep such an iterator alive.

``move_to(datetime)`` compares record creation times only, never this machine's clock: it delivers every
record created at or after one second before the time (creation times are rounded down to the second),
and a token taken before the seek has found its first record carries the seek on (bloop bug B4).

Iterators are refreshed from the consumed position before and after they expire, so ``heartbeat`` is
never required; shards are polled concurrently (``max_workers``) and a shard at its head at most four
times a second. ``next`` never returns None only because of that pacing: it waits for the first shard
that may be polled again (at most a quarter second) and polls it, so a write is seen by the next call.

A shard that has not returned a record yet is written in a token as an exact sequence number (its first
one, or where a reported gap began), never as "trim_horizon": restoring it notices what retention
removed in between and reports it (see shard.py).
"""
from __future__ import annotations

import numbers
from datetime import datetime
from typing import Any, Callable, Iterator

from ..exceptions import InvalidPosition, RecordDecodeError, RecordsLost, StreamDisabled
from .clock import SYSTEM_CLOCK, Clock
from .coordinator import Coordinator
from .events import EventBuilder, StreamEvent
from .loop import iterate
from .shard import Loss
from .token import parse_token

__all__ = ["Stream"]

#: poll rounds one ``next`` may run while rounds make progress without producing a record (a parent
#: finishing, its children found and read, pages skipped by a time seek)
MAX_ROUNDS_PER_NEXT = 4
#: a seek to a time delivers records from one second before it: ApproximateCreationDateTime is
#: rounded down to the second
SEEK_TOLERANCE = 1.0


class Stream:
    """An iterator of events over ``model``'s stream on ``engine``; move it with :meth:`move_to`.

    ``on_loss``: called with a :class:`~bloop.stream.shard.Loss` for each gap retention forced; when
    None, ``next`` raises :exc:`~bloop.exceptions.RecordsLost` instead. ``clock`` (now, monotonic,
    sleep) is for tests; ``max_workers`` bounds how many shards are polled at once.
    """

    def __init__(self, *, model: Any, engine: Any, on_loss: Callable[[Loss], Any] | None = None,
                 clock: Clock | None = None, max_workers: int | None = None) -> None:
        self.model = model
        self.engine = engine
        self.on_loss = on_loss
        self._clock: Clock = clock or SYSTEM_CLOCK
        # default to the engine's pool size: botocore keeps 10 connections per client unless told otherwise
        self.max_workers = max_workers or engine.max_workers
        self._events = EventBuilder(model, engine)
        self._coordinator = self._new_coordinator()
        self._newest_delivered: datetime | None = None
        self._caught_up = False

    @property
    def clock(self) -> Clock:
        """Where the stream reads time (tests plug in a virtual clock, also after ``engine.stream``)."""
        return self._clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._clock = self._coordinator.clock = clock

    @property
    def stream_arn(self) -> str:
        """The stream this engine bound for the model (a token must name the same one)."""
        return self.engine.stream_arn(self.model)

    def __repr__(self) -> str:
        return f"<Stream[{self.model.__name__}] at {self.stream_arn}>"

    # -------------------------------------------------------------------------------------- moving
    def _new_coordinator(self) -> Coordinator:
        return Coordinator(self.engine.session, self.stream_arn, self.clock, max_workers=self.max_workers)

    def move_to(self, position: Any) -> None:
        """Move to "trim_horizon", "latest", an aware datetime, or a token from ``stream.token``.

        A malformed or foreign token raises InvalidPosition / InvalidStream before any AWS call; on
        any error the stream keeps its previous position.
        """
        if isinstance(position, (str, bytes)) and position not in ("trim_horizon", "latest") \
                and not _looks_like_json(position):
            raise InvalidPosition(
                f"unknown stream position {_short(position)}: the accepted positions are 'trim_horizon' (the "
                "oldest record retained), 'latest' (changes made from now on), an aware datetime, or a token "
                "from stream.token (a dict, or its JSON text)")
        coordinator = self._new_coordinator()
        if isinstance(position, str) and position in ("trim_horizon", "latest"):
            if position == "trim_horizon":
                coordinator.start_at_trim_horizon()
            else:
                coordinator.start_at_latest()
        elif _is_time(position):
            coordinator.start_at_trim_horizon(skip_before=_epoch_seconds(position) - SEEK_TOLERANCE)
        elif isinstance(position, (dict, str, bytes)):
            coordinator.start_at_token(
                parse_token(position, expected_arn=self.stream_arn, model_name=self.model.__name__))
        else:
            raise InvalidPosition(f"can't move a stream to {position!r}: use 'trim_horizon', 'latest', an aware "
                                  "datetime, or a token from stream.token")
        self._coordinator.close()
        self._coordinator = coordinator
        self._caught_up = False

    @property
    def token(self) -> dict:
        """The position as a JSON-serialisable dict (save it after handling the last event)."""
        return self._coordinator.token()

    # ------------------------------------------------------------------------------------- reading
    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> StreamEvent | None:
        coordinator = self._coordinator
        if coordinator.losses:
            self._report_losses()
        found = coordinator.peek()
        rounds = 0
        while found is None and rounds < MAX_ROUNDS_PER_NEXT:
            rounds += 1
            # the first round may wait (at most HEAD_INTERVAL) for a shard skipped only by pacing
            progressed = coordinator.poll(wait=rounds == 1)
            self._report_losses()
            found = coordinator.peek()
            if not progressed:
                break
        if found is None:
            self._caught_up = True
            if coordinator.disabled:
                raise StreamDisabled(
                    f"stream {coordinator.stream_arn} was disabled and every record in it has been delivered; "
                    f"{self._latest_stream_hint()}", token=coordinator.token())
            return None
        shard, record = found
        try:
            # the read path: extensions finish the images (e.g. fetch S3-backed values), from this thread
            event = self.engine.reads.event(self._events, record)
        except Exception as error:
            sequence_number = record["dynamodb"]["SequenceNumber"]
            raise RecordDecodeError(
                f"record {sequence_number} of shard {shard.shard_id} can't be loaded into "
                f"{self.model.__name__}: {error!r}; the stream stays on it (stream.skip({sequence_number!r}) "
                "moves past it)", shard_id=shard.shard_id, sequence_number=sequence_number, record=record,
            ) from error
        coordinator.pop()
        self._caught_up = False
        self._newest_delivered = event["meta"]["created_at"]
        return event

    def _latest_stream_hint(self) -> str:
        """Name the table's current stream (F4: a re-enabled stream is a new one), when it can be read."""
        advice = "bind the model again and move_to('trim_horizon') to read the table's new stream"
        try:
            table_name = self.engine.table_name(self.model)
            latest = self.engine.session.describe_table(table_name).get("LatestStreamArn")
        except Exception:  # only a hint: the error being raised matters more
            return "if the table has a new stream, " + advice
        if latest and latest != self._coordinator.stream_arn:
            return f"the table's latest stream is {latest}: {advice}"
        return "the table has no newer stream"

    def skip(self, sequence_number: str) -> None:
        """Move past the undeliverable record ``sequence_number`` (from RecordDecodeError) unread."""
        found = self._coordinator.peek()
        if found is None or found[1]["dynamodb"]["SequenceNumber"] != sequence_number:
            raise InvalidPosition(f"record {sequence_number} is not the next record of this stream; "
                                  "only the record a RecordDecodeError named can be skipped")
        self._coordinator.pop()

    def _report_losses(self) -> None:
        losses = self._coordinator.take_losses()
        if not losses:
            return
        if self.on_loss is None:
            raise RecordsLost("stream records were trimmed before they were read: " + "; ".join(map(str, losses))
                              + ". Reading continues with the oldest records left; set stream.on_loss to "
                              "handle gaps without an exception", losses=losses)
        for index, loss in enumerate(losses):
            try:
                self.on_loss(loss)
            except BaseException:
                self._coordinator.return_losses(losses[index + 1:])  # report the rest on the next call
                raise

    def heartbeat(self) -> None:
        """Poll every shard with nothing waiting now (kept from bloop 3.x; iterators refresh themselves).

        Useful between long pauses: it keeps a ``latest`` shard's iterator alive before its first
        record. Records found are kept for the following ``next`` calls.
        """
        self._coordinator.poll(ignore_pacing=True)
        self._report_losses()

    # ------------------------------------------------------------------------------------ helpers
    def iterate(self, poll_interval: float = 1.0, *, max_poll_interval: float | None = None,
                stop: Any = None) -> Iterator[StreamEvent]:
        """Yield events forever (or until ``stop``), sleeping with backoff while the stream is idle.

        ``stop`` is a ``threading.Event``, or a callable returning True to stop; it is checked before
        every event and during sleeps. While nothing arrives the sleep doubles from ``poll_interval`` up
        to ``max_poll_interval`` (default 10x ``poll_interval``, at most 5 minutes).
        """
        return iterate(self, poll_interval=poll_interval, max_poll_interval=max_poll_interval, stop=stop)

    @property
    def lag(self) -> float | None:
        """Seconds between now and the creation of the newest event delivered; 0.0 when caught up.

        None before the first event. Creation times are rounded down to the second by DynamoDB.
        """
        if self._caught_up and not len(self._coordinator.buffer):
            return 0.0
        if self._newest_delivered is None:
            return None
        return max(0.0, (self.clock.now() - self._newest_delivered).total_seconds())

    def close(self) -> None:
        """Stop the stream's polling threads (they also stop when the stream is garbage collected)."""
        self._coordinator.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _looks_like_json(text: str | bytes) -> bool:
    """A token's JSON text (an object); anything else given as text is a mistyped position."""
    return text.lstrip().startswith(b"{") if isinstance(text, bytes) else text.lstrip().startswith("{")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_time(position: Any) -> bool:
    return isinstance(position, datetime) or (
        not isinstance(position, (str, bytes, dict, numbers.Number)) and callable(getattr(position, "timestamp", None)))


def _epoch_seconds(position: Any) -> float:
    offset = getattr(position, "utcoffset", None)
    if callable(offset) and offset() is None:
        raise InvalidPosition(
            f"can't move a stream to the naive datetime {position!r}: its meaning depends on this machine's "
            "clock settings. Pass an aware one, e.g. datetime.now(timezone.utc) - timedelta(hours=1)")
    timestamp = position.timestamp
    return float(timestamp() if callable(timestamp) else timestamp)
