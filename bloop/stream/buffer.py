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


class RecordBuffer:
    def __init__(self) -> None:
        self._queues: dict[str, deque] = {}
        self._heads: list[tuple] = []  # (created_at, arrival, shard_id): the head of each non-empty queue
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
            self._push_head(shard_id, records[0])
        queue.extend(records)
        self._size += len(records)

    def peek(self) -> tuple[str, dict] | None:
        """The shard and record to deliver next, or None when nothing is waiting."""
        if not self._heads:
            return None
        shard_id = self._heads[0][2]
        return shard_id, self._queues[shard_id][0]

    def pop(self) -> tuple[str, dict]:
        _, _, shard_id = heapq.heappop(self._heads)
        queue = self._queues[shard_id]
        record = queue.popleft()
        self._size -= 1
        if queue:
            self._push_head(shard_id, queue[0])
        else:
            del self._queues[shard_id]
        return shard_id, record

    def _push_head(self, shard_id: str, record: dict) -> None:
        heapq.heappush(self._heads, (record["dynamodb"]["ApproximateCreationDateTime"], next(self._arrival), shard_id))
