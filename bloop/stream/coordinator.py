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

#: seconds between polls of a shard that is read up to its head (Lambda polls 4 times a second)
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
        for _, error in self._run([(lambda s=s: begin(s, self.session, self.stream_arn, self.clock))
                                   for s in shards]):
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

    def poll(self, *, ignore_pacing: bool = False) -> bool:
        """One round: fetch every due shard, then look for the children of finished ones.

        Returns True when the round changed anything (records fetched or skipped, shards started or
        finished), i.e. another round right away may find more.
        """
        self._forget_old_starts()
        now = self.clock.monotonic()
        if self._reconciled_at is None or now - self._reconciled_at >= RECONCILE_EVERY:
            self._reconcile()
        due = [s for s in self.frontier.values()
               if not s.exhausted and not s.gone and not self.buffer.holds(s.shard_id)
               and (ignore_pacing or s.not_before <= now)]
        due.sort(key=lambda s: s.last_polled)
        budget = max(1, self.max_buffered // MIN_PAGE)
        due = due[:budget]
        limit = max(MIN_PAGE, min(MAX_PAGE, self.max_buffered // max(1, len(due))))
        positions = {s.shard_id: (s.iterator_type, s.sequence_number) for s in due}
        outcomes = self._run([(lambda s=s: s.fetch(self.session, self.stream_arn, self.clock, limit)) for s in due])
        changed = False
        throttled: list[BaseException] = []
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
                shard.not_before = 0.0
                changed = True
            else:
                shard.not_before = now + self.head_interval if shard.at_head else 0.0
                changed = changed or shard.exhausted or shard.gone or (
                    (shard.iterator_type, shard.sequence_number) != positions[shard.shard_id])
        changed = self._discover() or changed
        if errors:
            raise errors[0]
        if throttled and not changed and not len(self.buffer):
            raise throttled[0]
        return changed

    # ---------------------------------------------------------------------------------- discovery
    def _finished(self) -> list[Shard]:
        now = self.clock.monotonic()
        return [s for s in self.frontier.values()
                if (s.exhausted or s.gone) and not self.buffer.holds(s.shard_id) and s.not_before <= now]

    def _discover(self) -> bool:
        """Replace finished shards by their children, vanished ones by the survivors; False if no change."""
        finished = self._finished()
        gone = [s for s in finished if s.gone]
        if gone:
            self._replace_vanished(gone)
        ended = [s for s in finished if not s.gone]
        now = self.clock.monotonic()
        for shard, (answer, error) in zip(ended, self._children_of(ended)):
            if error is not None:
                if isinstance(error, InvalidStream):
                    raise self._stream_not_found(error)
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
        for shard in gone:
            if not shard.exhausted:
                self.losses.append(shard.lost_remainder("the shard was trimmed away before it was read to its end"))
            self.frontier.pop(shard.shard_id, None)
        skip = min((s.skip_before for s in gone if s.skip_before is not None), default=None)
        self._reconcile(skip_before=skip)

    def _reconcile(self, skip_before: float | None = None) -> None:
        """Start every listed shard the frontier no longer leads to (what KCL's periodic shard sync does).

        A lineage is lost track of when a shard vanished before its children were found, for example
        after a day offline: CHILD_SHARDS then answers with the surviving children only. Such shards are
        listed, yet neither above nor below the frontier; they start at their oldest record, and their
        vanished parent is reported as a gap unless this process read it.
        """
        try:
            listing = list_shards(self.session, self.stream_arn)
        except InvalidStream as error:
            raise self._stream_not_found(error) from error
        self._children_cache = listing.children_by_parent()
        self._reconciled_at = self.clock.monotonic()
        survivors = [s for s in orphan_roots(listing, self.frontier) if s["ShardId"] not in self._started]
        vanished = {s.get("ParentShardId") for s in survivors} - set(listing.parent_of) - set(self._started) - {None}
        for parent in sorted(vanished):
            self.losses.append(Loss(parent, None, None, "the shard vanished before its records were read"))
        shards = [_listed(s, skip_before=skip_before) for s in survivors]
        self._begin(shards, Shard.begin_at_oldest)
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
        if len(missing) > FULL_LISTING_AFTER:
            listing = list_shards(self.session, self.stream_arn)
            cached = self._children_cache = listing.children_by_parent()
            status = listing.status
            found = {s.shard_id: ((cached.get(s.shard_id, []), status), None) for s in missing}
        else:
            found = dict(zip((s.shard_id for s in missing), self._run(
                [(lambda s=s: find_children(self.session, self.stream_arn, s.shard_id)) for s in missing])))
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
