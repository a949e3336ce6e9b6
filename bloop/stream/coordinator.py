"""The shards of one stream being read: which to poll, in what order records leave, what the token says.

The *frontier* is the set of shards being read (none an ancestor of another). A shard leaves it only
once every record it held has been delivered and its children have been found; the children then take
its place, starting at their first record. That keeps a parent's records ahead of its children's
(per-key order across splits), and lets the token list just the frontier: finished shards are pruned,
so a token taken at any moment never names a parent and its children together (bloop bug B2).

Shards are polled in rounds, concurrently on a bounded thread pool (boto3 clients are thread-safe).
A round only fetches shards with nothing waiting in the buffer and applies every worker's outcome
before raising any worker's error, so a failure on one shard never loses what another returned
(bloop bug B6).
"""
from __future__ import annotations

import logging
from functools import partial
from typing import Any, Callable, Iterable

from ..exceptions import InvalidStream, RetryLimitExceeded, StreamNotFound
from .buffer import RecordBuffer
from .clock import Clock
from .lineage import Listing, find_children, leaves, list_shards, orphan_roots, roots
from .pool import TaskPool
from .shard import Loss, Shard
from .token import ParsedToken

__all__ = ["Coordinator"]

logger = logging.getLogger("bloop.stream")

#: seconds between polls of a shard that is read up to its head (Lambda polls 4 times a second); ``next``
#: waits out at most this much to poll a shard it would otherwise skip
HEAD_INTERVAL = 0.25
#: records the buffer may hold after one round; each round's GetRecords Limit is sized to stay under it
MAX_BUFFERED = 10_000
MIN_PAGE = 100
MAX_PAGE = 1000
#: more finished shards than this in one round: one full listing instead of one CHILD_SHARDS call each
FULL_LISTING_AFTER = 8
#: children not listed yet: ask again after 0.1 s, doubling up to this (the KCL adapter retries; Flink
#: rediscovers every 60 s)
MAX_CHILD_LOOKUP_DELAY = 30.0
#: a closed shard of a DISABLED stream gets no children; ask this many times before believing it
DISABLED_LOOKUPS = 3
#: seconds between full listings that look for lineages the frontier lost track of (KCL syncs every 60 s)
RECONCILE_EVERY = 60.0
#: listing (DescribeStream) failing for this long in a row is reported; shorter storms are only logged
LISTING_FAILURE_BOUND = 300.0
#: started shard ids are remembered this long (shards are listed for about 28 hours at most)
REMEMBER_STARTED = 48 * 3600.0


class Coordinator:
    """Shard state of one stream; the Stream above it turns the records it hands out into events."""

    def __init__(self, session: Any, stream_arn: str, clock: Clock, *, max_workers: int = 16,
                 max_buffered: int = MAX_BUFFERED, head_interval: float = HEAD_INTERVAL) -> None:
        self.session = session
        self.stream_arn = stream_arn
        self.clock = clock
        self.max_buffered = max(MIN_PAGE, max_buffered)
        self.head_interval = head_interval
        self.frontier: dict[str, Shard] = {}
        self.buffer = RecordBuffer()
        self.losses: list[Loss] = []
        #: the stream was disabled and every lineage has ended
        self.disabled = False
        self._started: dict[str, float] = {}
        #: children by parent id from the last full listing (parent links never change)
        self._children_cache: dict[str, list[dict]] = {}
        #: when the last full listing was checked for lineages the frontier lost track of (None: never)
        self._reconciled_at: float | None = None
        #: listing failures in a row (throttling past every retry), since when, and when to try again
        self._listing_failures = 0
        self._listing_failing_since: float | None = None
        self._listing_retry_at = 0.0
        self.pool = TaskPool(max_workers)

    # ------------------------------------------------------------------------------------ positions
    def start_at_trim_horizon(self, skip_before: float | None = None) -> None:
        listing = list_shards(self.session, self.stream_arn)
        shards = [_listed(s, skip_before=skip_before) for s in roots(listing)]
        self._begin(shards, Shard.begin_at_oldest)
        self._add(shards)
        self._listed(listing)

    def start_at_latest(self) -> None:
        """LATEST iterators are taken now: "latest" means the records written after this call."""
        listing = list_shards(self.session, self.stream_arn)
        shards = [_listed(s) for s in leaves(listing)]
        self._begin(shards, Shard.begin_at_latest)
        self._add(shards)
        self._listed(listing)

    def start_at_token(self, token: ParsedToken) -> None:
        """No AWS call: iterators are acquired on the first poll."""
        shards = []
        for position in token.frontier:
            iterator_type = position.iterator_type
            if iterator_type == "latest":
                # LATEST now would skip what was written since the token was saved: re-read the shard
                # from its oldest record instead (at-least-once, documented)
                iterator_type = "trim_horizon"
            shards.append(Shard(position.shard_id, parent=position.parent, iterator_type=iterator_type,
                                sequence_number=position.sequence_number, skip_before=position.skip_before,
                                finished=position.finished, from_start=position.from_start))
        self._add(shards)

    def _begin(self, shards: list[Shard], begin: Callable[[Shard, Any, str, Clock], None]) -> None:
        for _, error in self._run([partial(begin, s, self.session, self.stream_arn, self.clock) for s in shards]):
            if error is not None:
                raise error

    def _listed(self, listing: Listing) -> None:
        """The frontier was just built from ``listing``: nothing to reconcile before the next interval."""
        self._children_cache = listing.children_by_parent()
        self._reconciled_at = self.clock.monotonic()
        self.disabled = not self.frontier and listing.status != "ENABLED"

    def _add(self, shards: Iterable[Shard], replacing: str | None = None) -> None:
        now = self.clock.monotonic()
        fresh = [s for s in shards if s.shard_id not in self.frontier and s.shard_id not in self._started]
        if replacing is not None and replacing in self.frontier:
            # keep the frontier's order stable: children take their parent's place
            items = list(self.frontier.items())
            at = [shard_id for shard_id, _ in items].index(replacing)
            self.frontier = dict(items[:at] + [(s.shard_id, s) for s in fresh] + items[at + 1:])
        else:
            for shard in fresh:
                self.frontier[shard.shard_id] = shard
        for shard in fresh:
            self._started[shard.shard_id] = now

    def _forget_old_starts(self) -> None:
        horizon = self.clock.monotonic() - REMEMBER_STARTED
        if self._started and next(iter(self._started.values())) < horizon:
            self._started = {k: t for k, t in self._started.items() if t >= horizon or k in self.frontier}

    # -------------------------------------------------------------------------------------- tokens
    def token(self) -> dict:
        shards = []
        for shard in self.frontier.values():
            entry = shard.token()
            if shard.exhausted and not self.buffer.holds(shard.shard_id):
                entry["finished"] = True
            shards.append(entry)
        return {"stream_arn": self.stream_arn, "active": list(self.frontier), "shards": shards}

    # ------------------------------------------------------------------------------------- reading
    def peek(self) -> tuple[Shard, dict] | None:
        found = self.buffer.peek()
        if found is None:
            return None
        return self.frontier[found[0]], found[1]

    def pop(self) -> tuple[Shard, dict]:
        shard_id, record = self.buffer.pop()
        shard = self.frontier[shard_id]
        shard.consumed(record["dynamodb"]["SequenceNumber"])
        return shard, record

    def take_losses(self) -> list[Loss]:
        losses, self.losses = self.losses, []
        return losses

    def return_losses(self, losses: list[Loss]) -> None:
        """Put back losses that were taken but not reported (a loss callback raised)."""
        self.losses[:0] = losses

    def poll(self, *, ignore_pacing: bool = False, wait: bool = False) -> bool:
        """One round: fetch every due shard, then look for the children of finished ones.

        Returns True when the round changed anything (records fetched or skipped, shards started or
        finished), i.e. another round right away may find more. ``wait``: when every shard that could
        be fetched is skipped only because it was polled at its head less than ``head_interval`` ago,
        sleep until the first of them may be polled again (at most ``head_interval``) and poll it, so
        a ``next`` right after a write sees it while a tight loop still polls a shard at most four
        times a second.
        """
        self._forget_old_starts()
        now = self.clock.monotonic()
        throttled: list[BaseException] = []
        if self._reconcile_due(now):
            try:
                self._reconcile()
            except RetryLimitExceeded as failure:
                # a DescribeStream storm must not stop the shards already known (F11)
                self._listing_failed(failure, now, throttled)
        due = self._due(now, ignore_pacing)
        if not due and wait and not ignore_pacing:
            paced = [s.paced_until for s in self.frontier.values()
                     if self._fetchable(s) and s.not_before <= now and s.paced_until > now]
            if paced:
                self.clock.sleep(min(min(paced) - now, self.head_interval))
                now = self.clock.monotonic()
                due = self._due(now, ignore_pacing)
        due.sort(key=lambda s: s.last_polled)
        budget = max(1, self.max_buffered // MIN_PAGE)
        due = due[:budget]
        limit = max(MIN_PAGE, min(MAX_PAGE, self.max_buffered // max(1, len(due))))
        positions = {s.shard_id: (s.iterator_type, s.sequence_number) for s in due}
        outcomes = self._run([partial(s.fetch, self.session, self.stream_arn, self.clock, limit) for s in due])
        changed = False
        errors: list[BaseException] = []
        now = self.clock.monotonic()
        for shard, (records, error) in zip(due, outcomes):
            self.losses.extend(shard.losses)
            shard.losses = []
            if error is not None:
                shard.failures += 1
                if isinstance(error, RetryLimitExceeded):
                    shard.not_before = now + min(MAX_CHILD_LOOKUP_DELAY, 2.0 ** shard.failures)
                    throttled.append(error)
                else:
                    errors.append(error)
                continue
            shard.failures = 0
            if records:
                self.buffer.extend(shard.shard_id, records)
                shard.paced_until = 0.0
                changed = True
            else:
                # counted from when the poll began, so the time a call takes doesn't lower the rate
                shard.paced_until = shard.last_polled + self.head_interval if shard.at_head else 0.0
                changed = changed or shard.exhausted or shard.gone or (
                    (shard.iterator_type, shard.sequence_number) != positions[shard.shard_id])
        changed = self._discover(throttled) or changed
        if errors:
            raise errors[0]
        if throttled and not changed and not len(self.buffer):
            raise throttled[0]
        return changed

    def _fetchable(self, shard: Shard) -> bool:
        return not shard.exhausted and not shard.gone and not self.buffer.holds(shard.shard_id)

    def _due(self, now: float, ignore_pacing: bool) -> list[Shard]:
        return [s for s in self.frontier.values() if self._fetchable(s) and s.not_before <= now
                and (ignore_pacing or s.paced_until <= now)]

    # -------------------------------------------------------------------------------------- listing
    def _reconcile_due(self, now: float) -> bool:
        if now < self._listing_retry_at:
            return False
        return self._reconciled_at is None or now - self._reconciled_at >= RECONCILE_EVERY

    def _listing_failed(self, error: RetryLimitExceeded, now: float, throttled: list[BaseException]) -> None:
        """Listing ran out of retries: read the known shards meanwhile, try again with backoff, and
        report it (from a round that found nothing else) only once it has failed for a while."""
        self._listing_failures += 1
        if self._listing_failing_since is None:
            self._listing_failing_since = now
        self._listing_retry_at = now + min(RECONCILE_EVERY, 2.0 ** self._listing_failures)
        failing_for = now - self._listing_failing_since
        logger.warning("listing the shards of %s failed %d times in a row (for %.0f s); known shards are still "
                       "read: %s", self.stream_arn, self._listing_failures, failing_for, error)
        if failing_for >= LISTING_FAILURE_BOUND:
            throttled.append(RetryLimitExceeded(
                f"listing the shards of {self.stream_arn} has failed for {failing_for:.0f} s "
                f"({self._listing_failures} times in a row): {error}. Known shards are still read and the "
                "position is kept; new shards are found once listing works again", operation="DescribeStream"))

    def _listing_worked(self) -> None:
        self._listing_failures = 0
        self._listing_failing_since = None
        self._listing_retry_at = 0.0

    # ---------------------------------------------------------------------------------- discovery
    def _finished(self) -> list[Shard]:
        now = self.clock.monotonic()
        return [s for s in self.frontier.values()
                if (s.exhausted or s.gone) and not self.buffer.holds(s.shard_id) and s.not_before <= now]

    def _discover(self, throttled: list[BaseException]) -> bool:
        """Replace finished shards by their children, vanished ones by the survivors; False if no change.

        Listing throttled past every retry leaves the finished shards where they are, to be looked at
        again after a backoff; the other shards keep being read meanwhile.
        """
        finished = self._finished()
        gone = [s for s in finished if s.gone]
        now = self.clock.monotonic()
        if gone:
            try:
                self._replace_vanished(gone)
            except RetryLimitExceeded as failure:
                self._listing_failed(failure, now, throttled)
                for shard in gone:
                    shard.not_before = self._listing_retry_at
                gone = []
        ended = [s for s in finished if not s.gone]
        for shard, (answer, error) in zip(ended, self._children_of(ended)):
            if error is not None:
                if isinstance(error, InvalidStream):
                    raise self._stream_not_found(error)
                if isinstance(error, RetryLimitExceeded):
                    self._listing_failed(error, now, throttled)
                    shard.not_before = self._listing_retry_at
                    continue
                raise error
            children, status = answer
            if children:
                self._add([_child(c, skip_before=shard.skip_before) for c in children], replacing=shard.shard_id)
                self.frontier.pop(shard.shard_id, None)
                continue
            shard.child_lookups += 1
            if status != "ENABLED" and shard.child_lookups >= DISABLED_LOOKUPS:
                logger.info("stream %s is %s: shard %s has ended", self.stream_arn, status, shard.shard_id)
                self.frontier.pop(shard.shard_id, None)
                self.disabled = not self.frontier
            else:
                shard.not_before = now + min(MAX_CHILD_LOOKUP_DELAY, 0.1 * 2 ** (shard.child_lookups - 1))
        return bool(gone) or any(s.shard_id not in self.frontier for s in ended)

    def _replace_vanished(self, gone: list[Shard]) -> None:
        """Shards no longer readable: report what was unread, then resume at the oldest survivors (F5)."""
        self._check_stream_exists()
        listing = self._list()  # before anything changes: a throttled listing leaves the shards in place
        for shard in gone:
            if not shard.exhausted:
                self.losses.append(shard.lost_remainder("the shard was trimmed away before it was read to its end"))
            self.frontier.pop(shard.shard_id, None)
        skip = min((s.skip_before for s in gone if s.skip_before is not None), default=None)
        self._reconcile(skip_before=skip, listing=listing)

    def _list(self) -> Listing:
        try:
            listing = list_shards(self.session, self.stream_arn)
        except InvalidStream as error:
            raise self._stream_not_found(error) from error
        self._listing_worked()
        return listing

    def _reconcile(self, skip_before: float | None = None, listing: Listing | None = None) -> None:
        """Start every listed shard the frontier no longer leads to (what KCL's periodic shard sync does).

        A lineage is lost track of when a shard vanished before its children were found, for example
        after a day offline: CHILD_SHARDS then answers with the surviving children only. Such shards are
        listed, yet neither above nor below the frontier; they start at their oldest record, and their
        vanished parent is reported as a gap unless this process read it.
        """
        if listing is None:
            listing = self._list()
        self._children_cache = listing.children_by_parent()
        starts = {s["ShardId"]: _start_sequence(s) for s in listing.shards}
        for shard in self.frontier.values():
            start = starts.get(shard.shard_id)
            if start is not None:
                shard.learn_start(start)
        survivors = [s for s in orphan_roots(listing, self.frontier) if s["ShardId"] not in self._started]
        parents: set[str] = {s["ParentShardId"] for s in survivors if s.get("ParentShardId") is not None}
        vanished = parents - set(listing.parent_of) - set(self._started)
        shards = [_listed(s, skip_before=skip_before) for s in survivors]
        self._begin(shards, Shard.begin_at_oldest)
        for parent in sorted(vanished):  # once the survivors started: a failed start reports nothing twice
            self.losses.append(Loss(parent, None, None, "the shard vanished before its records were read"))
        self._reconciled_at = self.clock.monotonic()
        self._add(shards)
        if not self.frontier and listing.status != "ENABLED":
            self.disabled = True

    def _children_of(self, finished: list[Shard]) -> list[tuple[Any, BaseException | None]]:
        """((children, stream status), error) per shard.

        Parent links never change, so children found in an earlier full listing are still right; when
        many shards finish together (a mass rollover) one new listing answers for all of them.
        """
        cached = self._children_cache
        missing = [s for s in finished if s.shard_id not in cached]
        found: dict[str, tuple[Any, BaseException | None]]
        if len(missing) > FULL_LISTING_AFTER:
            try:
                listing = self._list()
            except RetryLimitExceeded as error:
                found = {s.shard_id: (None, error) for s in missing}
            else:
                cached = self._children_cache = listing.children_by_parent()
                found = {s.shard_id: ((cached.get(s.shard_id, []), listing.status), None) for s in missing}
        else:
            found = dict(zip((s.shard_id for s in missing), self._run(
                [partial(find_children, self.session, self.stream_arn, s.shard_id) for s in missing])))
        return [found[s.shard_id] if s.shard_id in found else ((cached[s.shard_id], "ENABLED"), None)
                for s in finished]

    def _check_stream_exists(self) -> None:
        try:
            self.session.describe_stream_page(self.stream_arn, limit=1)
        except InvalidStream as error:
            raise self._stream_not_found(error) from error

    def _stream_not_found(self, error: BaseException) -> StreamNotFound:
        return StreamNotFound(
            f"stream {self.stream_arn} no longer exists (was its table deleted?); the last position is in "
            f"this error's .token: {error}", token=self.token())

    def _run(self, tasks: list[Callable[[], Any]]) -> list[tuple[Any, BaseException | None]]:
        return self.pool.run(tasks)

    def close(self) -> None:
        self.pool.close()


def _start_sequence(listed: dict) -> str | None:
    start = (listed.get("SequenceNumberRange") or {}).get("StartingSequenceNumber")
    return start if isinstance(start, str) and start.isdigit() else None


def _listed(listed: dict, **options: Any) -> Shard:
    """A shard from a DescribeStream entry, not positioned yet."""
    return Shard(listed["ShardId"], parent=listed.get("ParentShardId"), start_sequence=_start_sequence(listed),
                 **options)


def _child(listed: dict, **options: Any) -> Shard:
    """A child starts at its first record, exactly (StartingSequenceNumber), so trimming is noticed."""
    start = _start_sequence(listed)
    if start is None:
        return _listed(listed, **options)
    return _listed(listed, iterator_type="at_sequence", sequence_number=start, from_start=True, **options)
