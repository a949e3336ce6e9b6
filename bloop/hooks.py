"""Engine hooks: how an extension (e.g. S3-backed columns) takes part in writes and reads.

A column type opts in by having an ``engine_hook()`` method returning an :class:`EngineHook`; ``bind``
registers each distinct hook once per engine. The engine calls, for every write call:

1. ``prepare(engine, writes)`` before anything is sent: pure; may set ``write.condition`` (AND-ed with the
   user's condition) or raise to refuse the whole call;
2. ``before_send(engine, writes)``: I/O allowed (e.g. upload objects); raising aborts the call, and
   ``after_send`` still runs so the hook can clean up;
3. ``after_send(engine, writes)``: each write carries ``error`` (None on success) and ``old_item``;
4. ``verify(engine, writes)``: extra post-condition problems, when the caller asked for verification.

``after_load(engine, objs)`` runs after objects are filled from DynamoDB (load, query, scan, stream,
read transactions), with a whole batch or page at once so the hook can fetch concurrently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EngineHook", "Write"]


@dataclass
class Write:
    """One object of a write call, as the hooks see it."""

    obj: Any
    kind: str  # "save" (UpdateItem), "put" (batch save), "delete"
    condition: Any = None
    error: BaseException | None = None
    old_item: dict | None = None
    state: dict = field(default_factory=dict)


class EngineHook:
    """No-op base: override what the extension needs."""

    def prepare(self, engine: Any, writes: list[Write]) -> None:
        pass

    def before_send(self, engine: Any, writes: list[Write]) -> None:
        pass

    def after_send(self, engine: Any, writes: list[Write]) -> None:
        pass

    def after_load(self, engine: Any, objs: list[Any]) -> None:
        pass

    def verify(self, engine: Any, writes: list[Write]) -> list[str]:
        return []
