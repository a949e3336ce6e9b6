"""The extension seam: how an extension (e.g. S3-backed columns) takes part in an engine's writes and reads.

Extensions are registered on an engine, ``Engine(extensions=[S3Columns(client)])``, and see only an
:class:`ExtensionContext` (table names, a concurrency helper, reads by key), never the engine. One
extension instance belongs to one engine, so state it keeps per object (what an object last read from
its item, for example) is per engine too; it keeps that state itself (:class:`ObjectState`), never in
the user's objects.

For every write call (save, delete, batch, transaction) the write path calls, in order:

1. ``prepare(writes)``: pure, before anything is rendered; may AND a condition onto ``write.condition``,
   set ``write.return_old``, stash its plan in ``write.state``, or raise to refuse the whole call;
2. ``before_send(writes)``: I/O allowed (e.g. uploads), after every request was validated and rendered;
   raising aborts the call;
3. ``after_send(writes)``: always, once ``prepare`` succeeded, whether the call was sent or not; each
   write carries ``error`` (None on success) and ``old_item`` (the image before it, when known);
4. ``verify(writes)``: extra post-condition problems, only when the caller asked for verification.

``after_load(objs)`` runs after objects are filled from DynamoDB (load, query, scan, read transactions,
sync images, stream and Lambda events), with a whole batch or page at once.
"""
from __future__ import annotations

import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, Sequence, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from .conditions import Condition
    from .models import BaseModel
    from .session import SessionWrapper

__all__ = ["Extension", "ExtensionContext", "ObjectState", "Outcome", "Registry", "Runner", "Write", "WRITE_KINDS"]

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound="Extension")

#: "save" (UpdateItem), "put" (a batch save: whole item), "delete", "check" (a transaction's ConditionCheck)
WRITE_KINDS = ("save", "put", "delete", "check")


@dataclass(eq=False)
class Write:
    """One object of a write call, as extensions see it."""

    obj: BaseModel
    kind: str
    #: names of the non-key columns this write stores (empty for deletes and checks)
    columns: frozenset[str] = frozenset()
    condition: Condition | None = None
    #: an extension needs the image before the write (e.g. to know which S3 object it displaced)
    return_old: bool = False
    #: wire values an extension stores for columns (by name) instead of dumping the object's value;
    #: None removes the attribute. The user's object is never changed for a write.
    overrides: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    old_item: dict[str, Any] | None = None
    #: per-extension scratch space for this write (keyed by the extension's own name)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """What one call of :meth:`Runner.run_all` gave: a result, or the error it raised.

    A frozen dataclass that unpacks like ``(result, error)``, not a NamedTuple: a generic NamedTuple
    needs Python 3.11, and 3.10 is supported.
    """

    result: R | None
    error: BaseException | None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.result, self.error))


class Runner:
    """The one concurrency helper: runs a function over items on a bounded thread pool (lazily created)."""

    def __init__(self, max_workers: int) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int, not {max_workers!r}")
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="bloop")
            return self._pool

    def run_all(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Outcome[R]]:
        """``fn`` over items (concurrently when there are several); one Outcome per item, in order.

        Errors are returned, not raised, so a caller can report exactly what failed and what did not.
        """
        if len(items) == 1:  # the common single write: no closure, no pool
            try:
                return [Outcome(fn(items[0]), None)]
            except Exception as error:  # reported per item; the caller decides what to raise
                return [Outcome(None, error)]

        def attempt(item: T) -> Outcome[R]:
            try:
                return Outcome(fn(item), None)
            except Exception as error:  # reported per item; the caller decides what to raise
                return Outcome(None, error)
        if not items or self.max_workers == 1:
            return [attempt(item) for item in items]
        return list(self._executor().map(attempt, items))


class ExtensionContext:
    """What an extension may use of its engine: table names, the concurrency helper, reads by key."""

    def __init__(self, table_name: Callable[[type[BaseModel]], str], runner: Runner,
                 session: SessionWrapper) -> None:
        self._table_name = table_name
        self._runner = runner
        self._session = session

    def table_name(self, model: type[BaseModel]) -> str:
        """The table ``model`` is bound to on this engine (InvalidModel when it is not bound)."""
        return self._table_name(model)

    def run_all(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Outcome[R]]:
        """Run ``fn`` over items on the engine's thread pool; one :class:`Outcome` per item, in order."""
        return self._runner.run_all(fn, items)

    def get_items(self, keys: Iterable[tuple[str, dict]], consistent: bool = False,
                  options: dict[str, dict] | None = None) -> dict[tuple, dict]:
        """Items for ``(table name, wire key)`` pairs by ``(table, util.key_identity(key))``; absent: missing."""
        return self._session.get_items(keys, consistent=consistent, options=options)


class Extension:
    """Base of every extension: no-op hooks; override what the extension needs."""

    #: the key of this extension's entries in ``Write.state``
    name = "extension"

    def __init__(self) -> None:
        self._context: ExtensionContext | None = None

    @property
    def context(self) -> ExtensionContext:
        if self._context is None:
            raise RuntimeError(f"{type(self).__name__} is not registered on an engine "
                               "(Engine(extensions=[...]))")
        return self._context

    def attach(self, context: ExtensionContext) -> None:
        """Called once by the engine it is registered on; an instance serves one engine."""
        if self._context is not None and self._context is not context:
            raise ValueError(f"this {type(self).__name__} is already registered on another engine; "
                             "give each engine its own instance")
        self._context = context

    @classmethod
    def missing(cls, model: type[BaseModel]) -> Exception:
        """The error ``bind`` raises when a model's column types need this extension and none is registered."""
        return ValueError(f"{model.__name__} needs the {cls.__name__} extension; create the engine with "
                          f"Engine(extensions=[{cls.__name__}(...)])")

    def bind(self, model: type[BaseModel]) -> bool:
        """Whether this extension takes part in the model's writes and reads; may raise to refuse the model."""
        return False

    def prepare(self, writes: list[Write]) -> None:
        pass

    def before_send(self, writes: list[Write]) -> None:
        pass

    def after_send(self, writes: list[Write]) -> None:
        pass

    def verify(self, writes: list[Write]) -> list[str]:
        return []

    def after_load(self, objs: Sequence[BaseModel]) -> None:
        pass


class ObjectState(Generic[T]):
    """Per-object state an extension keeps for the objects it saw, without touching the objects.

    Entries go away with their object (weak references); objects are matched by identity, never by
    ``__eq__``/``__hash__``, which user models may define.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, T]] = {}
        self._lock = threading.Lock()

    def get(self, obj: object, default: T | None = None) -> T | None:
        entry = self._entries.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return default
        return entry[1]

    def set(self, obj: object, value: T) -> None:
        key = id(obj)
        entries = self._entries

        def forget(ref: weakref.ref, key: int = key) -> None:
            with self._lock:
                current = entries.get(key)
                if current is not None and current[0] is ref:
                    del entries[key]
        with self._lock:
            entries[key] = (weakref.ref(obj, forget), value)

    def setdefault(self, obj: object, factory: Callable[[], T]) -> T:
        found = self.get(obj)
        if found is None:
            found = factory()
            self.set(obj, found)
        return found

    def __len__(self) -> int:
        return len(self._entries)


class Registry:
    """The extensions of one engine, and which of them take part in each bound model."""

    def __init__(self, extensions: Sequence[Extension], context: ExtensionContext) -> None:
        self.extensions: list[Extension] = []
        for extension in extensions:
            if not isinstance(extension, Extension):
                raise TypeError(f"extensions must be bloop.extensions.Extension instances, not {extension!r}")
            extension.attach(context)
            self.extensions.append(extension)
        self._by_model: dict[type, list[Extension]] = {}

    def find(self, kind: type[E]) -> E | None:
        for extension in self.extensions:
            if isinstance(extension, kind):
                return extension
        return None

    def bind(self, model: type[BaseModel]) -> None:
        """Check that the extensions the model's column types need are registered; record who takes part."""
        for column in sorted(model.Meta.columns, key=lambda c: c.name):
            needed = getattr(column.typedef, "extension", None)
            if isinstance(needed, type) and issubclass(needed, Extension) and self.find(needed) is None:
                raise needed.missing(model)
        self._by_model[model] = [extension for extension in self.extensions if extension.bind(model)]

    def for_models(self, models: Iterable[type]) -> list[Extension]:
        """The extensions taking part in any of ``models``, in registration order."""
        by_model = self._by_model
        if not by_model:
            return []
        found: list[Extension] = []
        for model in models:
            for extension in by_model.get(model, ()):
                if extension not in found:
                    found.append(extension)
        if len(found) > 1:
            found.sort(key=self.extensions.index)
        return found
