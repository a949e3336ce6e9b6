"""Fetched records waiting to be delivered: one FIFO per shard, merged by creation time.

Within a shard records leave in the order they were fetched (sequence order), whatever their
timestamps say; across shards the oldest head goes first. There is no total order across shards in
DynamoDB Streams, so the merge only keeps deliveries roughly in time order; the guarantees (per key,
parent before child) come from each shard's FIFO and from starting children only after their parent.
"""
from __future__ import annotations

import heapq
import itertools
from collections import deque
from typing import Iterable

__all__ = ["RecordBuffer"]


def _created_at(record: dict) -> float:
    # a float key: comparing boto3's datetimes calls tzlocal.utcoffset() (slow) on every comparison
    created_at = record["dynamodb"].get("ApproximateCreationDateTime")
    return created_at.timestamp() if created_at else 0.0


class RecordBuffer:
    def __init__(self) -> None:
        self._queues: dict[str, deque] = {}
        #: (created_at, arrival, shard_id) for the head of each non-empty queue; while only one queue
        #: holds records its key is not computed (nothing to merge with), see _rekey
        self._heads: list[tuple] = []
        self._arrival = itertools.count()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def holds(self, shard_id: str) -> bool:
        """True while records fetched from ``shard_id`` are still waiting."""
        return shard_id in self._queues

    def extend(self, shard_id: str, records: Iterable[dict]) -> None:
        """Queue a page of ``shard_id``'s records (in sequence order) behind any already waiting."""
        records = list(records)
        if not records:
            return
        queue = self._queues.get(shard_id)
        if queue is None:
            queue = self._queues[shard_id] = deque()
            if len(self._queues) == 2:
                self._rekey()
            key = _created_at(records[0]) if len(self._queues) > 1 else 0.0
            heapq.heappush(self._heads, (key, next(self._arrival), shard_id))
        queue.extend(records)
        self._size += len(records)

    def peek(self) -> tuple[str, dict] | None:
        """The shard and record to deliver next, or None when nothing is waiting."""
        if not self._heads:
            return None
        shard_id = self._heads[0][2]
        return shard_id, self._queues[shard_id][0]

    def pop(self) -> tuple[str, dict]:
        heads = self._heads
        shard_id = heads[0][2]
        queue = self._queues[shard_id]
        record = queue.popleft()
        self._size -= 1
        if not queue:
            heapq.heappop(heads)
            del self._queues[shard_id]
        elif len(heads) > 1:
            heapq.heapreplace(heads, (_created_at(queue[0]), next(self._arrival), shard_id))
        return shard_id, record

    def _rekey(self) -> None:
        """A second queue arrived: the lone head gets its real key so the merge can compare."""
        self._heads = [(_created_at(self._queues[shard_id][0]), arrival, shard_id)
                       for _, arrival, shard_id in self._heads]
        heapq.heapify(self._heads)
