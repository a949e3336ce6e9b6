"""Reading a model's DynamoDB stream: :class:`Stream` and the pieces under it.

``Stream`` (stream.py) turns records into events and owns the public API; ``Coordinator``
(coordinator.py) decides which shards to poll and keeps the frontier of shards being read; ``Shard``
(shard.py) fetches one shard's pages and keeps its consumed position; ``RecordBuffer`` (buffer.py)
orders fetched records; lineage.py finds shards and children; pool.py runs per-shard calls
concurrently; events.py turns records into events; token.py validates tokens; loop.py has
``iterate`` and ``stop_on_signals``; checkpoint.py stores tokens in a file or a DynamoDB table
(imported on its own: ``from bloop.stream.checkpoint import FileCheckpoint, TableCheckpoint``).
"""
from .loop import stop_on_signals
from .shard import Loss
from .stream import Stream

__all__ = ["Stream", "Loss", "stop_on_signals"]
