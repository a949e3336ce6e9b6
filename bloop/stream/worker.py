"""The worker loop: run a handler over a model's stream with checkpoints, the way Lambda's event source
mapping would, as library code (``python -m bloop worker`` is its command line, :mod:`bloop.worker_cli`).

::

    from bloop.stream.checkpoint import FileCheckpoint
    from bloop.worker import Worker

    result = Worker(handle, model=Order, engine=engine, checkpoint=FileCheckpoint("orders.token")).run()

A handler that raises stops the run with the checkpoint at the last handled record, so a restart retries
the failed record first; ``on_error="skip"`` logs the failure and moves on instead.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..exceptions import RecordDecodeError, RecordsLost, StreamDisabled
from .events import StreamEvent
from .loop import iterate

__all__ = ["Worker", "WorkerResult", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

logger = logging.getLogger("bloop.worker")

#: exit statuses of a run (and of ``python -m bloop worker``)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: polls in a row that found nothing before ``exit_when_idle`` stops the worker
IDLE_POLLS = 2


@dataclass
class WorkerResult:
    """How a run ended."""

    exit_code: int
    reason: str
    handled: int = 0
    skipped: int = 0
    #: the exception that stopped the worker, if one did
    error: BaseException | None = None
    #: the last token saved (None if nothing was saved)
    token: dict | None = None


class _StopFlag(threading.Event):
    """Set to stop. ``iterate`` asks ``is_set()`` before every poll, which gives the worker a tick while idle."""

    def __init__(self, tick: Callable[[], None]) -> None:
        super().__init__()
        self._tick = tick

    def is_set(self) -> bool:
        if not super().is_set():
            self._tick()
        return super().is_set()


class Worker:
    """Runs ``handler(event)`` over ``model``'s stream on ``engine``, checkpointing as it goes.

    ``checkpoint`` is a store with ``load()`` / ``save(token)`` (``FileCheckpoint``, ``TableCheckpoint``) or
    None. ``start`` is used when there is no saved token. Call :meth:`stop` (from a signal handler or another
    thread) to end the run after the current record.
    """

    def __init__(self, handler: Callable[[Any], Any], *, model: Any, engine: Any, checkpoint: Any = None,
                 start: Any = "trim_horizon", save_every: int = 1, on_error: str = "stop", on_loss: str = "stop",
                 poll_interval: float = 0.5, max_poll_interval: float | None = 2.0,
                 progress_interval: float = 30.0, exit_when_idle: bool = False) -> None:
        if on_error not in ("stop", "skip") or on_loss not in ("stop", "log"):
            raise ValueError('on_error must be "stop" or "skip", on_loss "stop" or "log"')
        self.handler = handler
        self.model = model
        self.engine = engine
        self.checkpoint = checkpoint
        self.start = start
        self.save_every = max(1, int(save_every))
        self.on_error = on_error
        self.on_loss = on_loss
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.progress_interval = progress_interval
        self.exit_when_idle = exit_when_idle
        self.handled = 0
        self.skipped = 0
        self.saved_token: dict | None = None
        self._stream: Any = None
        self._stop = _StopFlag(self._tick)
        self._token: dict | None = None  # position just after the last handled (or skipped) record
        self._unsaved = 0
        self._idle_polls = 0
        self._idle = False
        self._seen_at_tick = -1
        self._progress_at = time.monotonic()
        self._progress_count = 0

    def stop(self) -> None:
        """End the run after the current record (the token of the last handled record is saved)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called (or the run ended itself)."""
        return threading.Event.is_set(self._stop)  # the flag alone, without a tick

    # ------------------------------------------------------------------------------ running
    def _position(self) -> tuple[Any, str]:
        token = self.checkpoint.load() if self.checkpoint is not None else None
        if token is not None:
            return token, "the saved checkpoint"
        return self.start, f"{self.start} (no checkpoint saved yet)" if self.checkpoint else str(self.start)

    def run(self) -> WorkerResult:
        """Read and handle events until stopped, caught up (``exit_when_idle``) or failed.

        Resumes from the checkpoint's token, or starts at ``start``. The token of the last handled record
        is saved before returning, whatever ended the run.
        """
        position, described = self._position()
        stream = self.engine.stream(self.model, position)
        self._stream = stream
        if self.on_loss == "log":
            stream.on_loss = lambda loss: logger.error("records were lost to retention before they were read: %s; "
                                                       "carrying on with the oldest record left", loss)
        self._token = stream.token
        logger.info("reading %s's stream %s from %s", self.model.__name__, stream.stream_arn, described)
        try:
            result = self._loop(stream)
        finally:
            try:
                self._save()
            finally:
                stream.close()
                self._log_progress(final=True)
        result.token = self.saved_token
        return result

    def _loop(self, stream: Any) -> WorkerResult:
        while not self._stop.is_set():
            try:
                for event in iterate(stream, poll_interval=self.poll_interval,
                                     max_poll_interval=self.max_poll_interval, stop=self._stop):
                    error = self._handle(stream, event)
                    if error is not None:
                        return self._result(EXIT_FAILED, "a handler failed", error)
            except RecordDecodeError as error:
                if self.on_error == "stop":
                    logger.error("%s; stopping (--on-error skip would log and skip it)", error)
                    return self._result(EXIT_FAILED, "a record could not be decoded", error)
                logger.error("%s; skipped (--on-error skip)", error)
                stream.skip(error.sequence_number)
                self.skipped += 1
                self._advance(stream)
            except RecordsLost as error:
                logger.error("%s; stopping with the checkpoint before the gap (--on-loss log carries on)", error)
                return self._result(EXIT_FAILED, "records were lost to retention", error)
            except StreamDisabled as error:
                logger.error("%s", error)
                return self._result(EXIT_FAILED, "the stream was disabled", error)
        return self._result(EXIT_OK, "caught up" if self._idle else "stopped")

    def _handle(self, stream: Any, event: StreamEvent) -> BaseException | None:
        meta = event["meta"]
        try:
            self.handler(event)
        except Exception as error:
            where = f"record {meta['sequence_number']} (eventID {meta['event']['id']}, {meta['event']['type']})"
            if self.on_error == "stop":
                logger.error("%s failed; stopping with the checkpoint at the record before it, so a restart "
                             "retries it (--on-error skip would log and skip it)", where, exc_info=True)
                return error
            logger.error("%s failed; skipped (--on-error skip)", where, exc_info=True)
            self.skipped += 1
        else:
            self.handled += 1
        self._advance(stream)
        return None

    def _advance(self, stream: Any) -> None:
        self._token = stream.token
        self._unsaved += 1
        if self._unsaved >= self.save_every:
            self._save()

    def _save(self) -> None:
        if self.checkpoint is None or not self._unsaved or self._token is None:
            return
        self.checkpoint.save(self._token)
        self.saved_token = self._token
        self._unsaved = 0

    def _result(self, exit_code: int, reason: str, error: BaseException | None = None) -> WorkerResult:
        return WorkerResult(exit_code, reason, self.handled, self.skipped, error, self.saved_token)

    # ------------------------------------------------------------------------------ ticks
    def _tick(self) -> None:
        """Before every poll: progress lines, and the idle check of ``exit_when_idle``."""
        stream = self._stream
        if stream is None:
            return
        seen = self.handled + self.skipped
        if self.exit_when_idle:
            if seen == self._seen_at_tick and stream.lag == 0.0:
                self._idle_polls += 1
                if self._idle_polls >= IDLE_POLLS:
                    self._idle = True
                    logger.info("caught up; stopping (--exit-when-idle)")
                    self._stop.set()
            else:
                self._idle_polls = 0
        self._seen_at_tick = seen
        if self.progress_interval and time.monotonic() - self._progress_at >= self.progress_interval:
            self._log_progress()

    def _log_progress(self, final: bool = False) -> None:
        now = time.monotonic()
        elapsed = max(now - self._progress_at, 1e-9)
        count = self.handled + self.skipped
        rate = (count - self._progress_count) / elapsed
        lag = self._stream.lag if self._stream is not None else None
        lag_text = "unknown" if lag is None else f"{lag:.1f} s"
        if self.checkpoint is None:
            checkpoint = "none"
        elif self.saved_token is None:
            checkpoint = "unchanged"
        else:
            checkpoint = "saved" + (f" ({self._unsaved} records not yet)" if self._unsaved else "")
        logger.info("%s%d records handled, %d skipped (%.1f/s); lag %s; checkpoint %s",
                    "stopped: " if final else "", self.handled, self.skipped, rate, lag_text, checkpoint)
        self._progress_at = now
        self._progress_count = count
