"""Checkpoint stores: where a consumer keeps its stream token between runs.

Save the token *after* handling an event; on start, ``load()`` and resume from it::

    store = FileCheckpoint("orders.token")            # or TableCheckpoint(engine, "orders-worker")
    stream = engine.stream(Order, store.load() or "trim_horizon")
    for event in stream.iterate(stop=stop_on_signals()):
        handle(event)
        store.save(stream.token)

:class:`FileCheckpoint` never leaves a torn file: it writes a temporary file, fsyncs it and renames it
over the old one, so a crash leaves either the old token or the new one. :class:`TableCheckpoint` keeps
the token in a DynamoDB item with a version number and writes it conditionally: if another worker saved
since this one loaded, the save raises :exc:`~bloop.exceptions.CheckpointConflict` instead of silently
overwriting that worker's progress.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from ..exceptions import CheckpointConflict, ConstraintViolation, MissingObjects
from ..models import BaseModel, Column
from ..types import Integer, String

__all__ = ["CheckpointStore", "FileCheckpoint", "StreamCheckpoint", "TableCheckpoint"]


class CheckpointStore(Protocol):
    def load(self) -> dict | None: ...

    def save(self, token: dict) -> None: ...


class FileCheckpoint:
    """A token in a JSON file, replaced atomically on every save."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def load(self) -> dict | None:
        """The saved token, or None when nothing was saved yet."""
        try:
            with open(self.path, encoding="utf-8") as file:
                return json.load(file)
        except FileNotFoundError:
            return None

    def save(self, token: dict) -> None:
        data = json.dumps(token, separators=(",", ":")).encode()
        directory = self.path.parent
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories can't be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


class StreamCheckpoint(BaseModel):
    """One named checkpoint: the token as JSON and a version bumped by every save."""

    class Meta:
        table_name = "bloop-stream-checkpoints"

    name = Column(String, hash_key=True)
    token = Column(String)
    version = Column(Integer)


class TableCheckpoint:
    """A token in a DynamoDB item, written through ``engine`` with a version check.

    ``model`` is the checkpoint model (any model with ``name``, ``token`` and ``version`` columns, for
    another table name); it is bound on ``engine`` unless ``bind=False``.
    """

    def __init__(self, engine: Any, name: str, *, model: Any = StreamCheckpoint, bind: bool = True) -> None:
        self.engine = engine
        self.name = name
        self.model = model
        #: the version this worker last loaded or saved; None before load()
        self.version: int | None = None
        if bind:
            engine.bind(model)

    def load(self) -> dict | None:
        """The saved token (None when there is none yet); remembers its version for the next save."""
        item = self.model(name=self.name)
        try:
            self.engine.load(item, consistent=True)
        except MissingObjects:
            self.version = 0
            return None
        self.version = item.version or 0
        return json.loads(item.token) if item.token else None

    def save(self, token: dict) -> None:
        """Write ``token`` if nobody else wrote since our load/save; else raise CheckpointConflict."""
        expected = self.version or 0
        model = self.model
        condition = (model.version == None) if expected == 0 else (model.version == expected)  # noqa: E711
        item = model(name=self.name, token=json.dumps(token, separators=(",", ":")), version=expected + 1)
        try:
            self.engine.save(item, condition=condition)
        except ConstraintViolation as error:
            raise CheckpointConflict(
                f"checkpoint {self.name!r} was saved by another worker since this one read version {expected}; "
                "two workers are reading the same stream: stop one, or load() again to take over") from error
        self.version = expected + 1
