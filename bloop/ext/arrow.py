"""arrow-aware DateTime and Timestamp: dump any arrow object as UTC, load it back in ``timezone``."""
from __future__ import annotations

from typing import Any, ClassVar

import arrow

from .. import types

__all__ = ["DateTime", "Timestamp"]


class _ArrowMixin:
    """Converts at the edges and lets the core type do the storing."""

    python_type: ClassVar[Any] = arrow.Arrow  # the core types' own python_type (datetime) is overridden here

    def __init__(self, timezone: str = "utc") -> None:
        self.timezone = timezone

    def dynamo_dump(self, value: Any, *, context: Any = None, **kwargs: Any) -> Any:
        if value is None:
            return None
        return super().dynamo_dump(value.to("utc").datetime, context=context, **kwargs)  # type: ignore[misc]

    def dynamo_load(self, value: Any, *, context: Any = None, **kwargs: Any) -> Any:
        loaded = super().dynamo_load(value, context=context, **kwargs)  # type: ignore[misc]
        return None if loaded is None else arrow.get(loaded).to(self.timezone)


class DateTime(_ArrowMixin, types.DateTime):
    """Stored like :class:`bloop.DateTime` (fixed-width UTC ISO 8601 text)."""


class Timestamp(_ArrowMixin, types.Timestamp):
    """Stored like :class:`bloop.Timestamp` (epoch seconds; usable for TTL)."""
