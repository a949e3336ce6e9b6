"""Engine: binds models to tables and runs every operation. Binding state is per engine (bloop bug B7)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeVar, overload

from . import signals
from .batch import BatchWriter
from .conditions import Condition
from .exceptions import (
    ConstraintViolation,
    InvalidClient,
    InvalidModel,
    InvalidStream,
    InvalidSync,
    InvalidTemplate,
    TableMismatch,
    TableSetupTimeout,
)
from .extensions import Extension, ExtensionContext, Outcome, Registry, Runner
from .models import BaseModel, check_name
from .polymorphism import table_model, with_family
from .read import ReadPath
from .search import QueryIterator, ScanIterator, Search
from .session import RetryPolicy, SessionWrapper
from .tables import compare_tables, create_table_request, expected_stream_view, table_status_problems
from .transactions import ReadTransaction, WriteTransaction
from .util import Sentinel, backoff, walk_subclasses
from .verify import check_level
from .write import SYNC_DELETE, Rendered, WriteItem, WritePath

if TYPE_CHECKING:  # the stream package is imported only when a stream is opened
    from .stream import Stream

__all__ = ["Engine", "BoundTable"]

M = TypeVar("M", bound=BaseModel)  # a model class's instances, as query and scan return them

DEFAULT = Sentinel("engine default")
E = TypeVar("E", bound=Extension)


@dataclass
class BoundTable:
    """What an engine learned about a model's table when it bound it."""

    table_name: str
    stream_arn: str | None = None
    description: dict | None = None


def _check_client(argument: str, client: Any) -> None:
    """Refuse a boto3 client for another service here, not with an AttributeError at its first use."""
    from botocore.client import BaseClient  # type: ignore[import-untyped]  # test doubles pass unchecked

    if isinstance(client, BaseClient) and (service := client.meta.service_model.service_name) != argument:
        raise InvalidClient(f"{argument}= got a boto3 client for {service!r}; pass boto3.client({argument!r})")


def _validate_template(template: Any) -> Callable[[Any], str]:
    if callable(template):
        return template
    if isinstance(template, str):
        if "{table_name}" not in template:
            raise InvalidTemplate(f"table_name_template {template!r} must contain '{{table_name}}'")
        return lambda model: template.format(table_name=model.Meta.table_name)
    raise InvalidTemplate(f"table_name_template must be a string with '{{table_name}}' or a callable, "
                          f"not {template!r}")


class Engine:
    """Binds models to DynamoDB tables and loads, saves, deletes, searches and streams their objects."""

    def __init__(self, *, dynamodb: Any = None, dynamodbstreams: Any = None,
                 table_name_template: str | Callable[[Any], str] = "{table_name}",
                 retry: RetryPolicy | None = None, bind_timeout: float = 300.0, verify: str | None = None,
                 verify_timeout: float = 30.0, max_workers: int = 10, s3: Any = None,
                 extensions: Sequence[Extension] = (), config: Any = None, boto3_session: Any = None) -> None:
        self._table_name = _validate_template(table_name_template)
        for argument, client in (("dynamodb", dynamodb), ("dynamodbstreams", dynamodbstreams), ("s3", s3)):
            _check_client(argument, client)
        self.table_name_template = table_name_template
        # config (a botocore Config: its retries decide throttling and 5xx) and boto3_session apply to the
        # clients the engine builds when dynamodb= / dynamodbstreams= are not given
        self.session = SessionWrapper(dynamodb=dynamodb, dynamodbstreams=dynamodbstreams, retry=retry,
                                      config=config, boto3_session=boto3_session)
        self.bind_timeout = bind_timeout
        self.verify = check_level(verify)
        self.verify_timeout = verify_timeout
        # boto3 clients keep 10 connections by default; more threads than that only queue on the pool
        self._runner = Runner(max_workers)
        self.max_workers = max_workers
        self._bound: dict[Any, BoundTable] = {}
        self._sync_token = object()  # what "synced with this engine's table" means for an object
        extensions = list(extensions)
        if s3 is not None:  # bloop 3.x-era shorthand for Engine(extensions=[S3Columns(s3)])
            from .ext.s3 import S3Columns
            if not any(isinstance(e, S3Columns) for e in extensions):
                extensions.append(S3Columns(s3))
        self.s3 = s3
        context = ExtensionContext(self.table_name, self._runner, self.session)
        self._extensions = Registry(extensions, context)
        self._reads = ReadPath(engine=self, table_name=self.table_name, session=self.session,
                               extensions=self._extensions.for_models, sync_target=self._sync_target)
        self._writes = WritePath(engine=self, table_name=self.table_name, session=self.session,
                                 extensions=self._extensions.for_models, reads=self._reads,
                                 sync_target=self._sync_target, verify_timeout=lambda: self.verify_timeout)

    def _sync_target(self, model: Any) -> tuple[object, str]:
        return self._sync_token, self.table_name(model)

    # ------------------------------------------------------------------------------------ binding
    def _compute_table_name(self, model: Any) -> str:
        name = self._table_name(table_model(model))  # a single table's members use their base's name
        if not isinstance(name, str) or not name:
            raise InvalidTemplate(f"table_name_template returned {name!r} for {model.__name__}; it must be a str")
        return check_name(f"{model.__name__}: the table name", name)

    def bind(self, model: type[BaseModel], *, skip_table_setup: bool = False) -> None:
        """Create or check the tables of ``model`` and every concrete subclass, then bind them to this engine."""
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise InvalidModel(f"bind takes a BaseModel subclass, not {model!r}")
        found: list[Any] = with_family([model, *walk_subclasses(model)])
        models = [m for m in found if not m.Meta.abstract]
        for m in models:
            signals.before_create_table.send(self, engine=self, model=m)
        # names are computed after the signal so a handler may rename the table (bloop bug B13)
        names = {m: self._compute_table_name(m) for m in models}
        if not skip_table_setup:
            created = set()
            for m in models:
                table_name = names[m]
                if table_name not in created and self.session.create_table(create_table_request(table_name, m)):
                    created.add(table_name)
            enabled: set[str] = set()
            descriptions = {name: self._wait_until(name, partial(self._table_problems, name))
                            for name in set(names.values())}
            for m in models:
                table_name = names[m]
                if table_name in created and table_name not in enabled:
                    enabled.add(table_name)  # once per table: single-table models share one
                    self._enable_extras(m, table_name)
                description = descriptions[table_name]
                # TTL and backups that this bind just asked for are awaited below, not compared
                existing = table_name not in created
                problems = compare_tables(
                    m, description,
                    ttl=self.session.describe_ttl(table_name) if m.Meta.ttl and existing else None,
                    backups=self.session.describe_backups(table_name) if m.Meta.backups and existing else None)
                if problems:
                    raise TableMismatch(
                        f"table {table_name!r} does not match {m.__name__}: " + "; ".join(problems) +
                        ". bloop never alters an existing table: change the model, or migrate the table")
                # the stream, TTL and backups of a table can lag behind its ACTIVE status
                description = self._wait_until(table_name, partial(self._extras_problems, m, table_name))
                stream_arn = description.get("LatestStreamArn") if expected_stream_view(m) else None
                self._bound[m] = BoundTable(table_name, stream_arn, description)
                signals.model_validated.send(self, engine=self, model=m)
        else:
            for m in models:
                self._bound[m] = BoundTable(names[m])
        for m in models:
            self._extensions.bind(m)
            signals.model_bound.send(self, engine=self, model=m)

    def _enable_extras(self, model: Any, table_name: str) -> None:
        meta = model.Meta
        if meta.ttl:
            self.session.enable_ttl(table_name, meta.ttl["column"].dynamo_name)
        if meta.backups and meta.backups["enabled"]:
            self.session.enable_backups(table_name)

    def _table_problems(self, table_name: str) -> tuple[dict, list[str]]:
        description = self.session.describe_table(table_name)
        return description, table_status_problems(description)

    def _extras_problems(self, model: Any, table_name: str) -> tuple[dict, list[str]]:
        """Parts of the table that the model declares and that are not live yet."""
        description, problems = self._table_problems(table_name)
        meta = model.Meta
        if expected_stream_view(model):
            arn = description.get("LatestStreamArn")
            status = self.session.describe_stream_page(arn, limit=1).get("StreamStatus") if arn else None
            if status != "ENABLED":
                problems.append(f"stream is {status or 'not created'}")
        if meta.ttl:
            ttl = self.session.describe_ttl(table_name)
            if ttl.get("TimeToLiveStatus") != "ENABLED":
                problems.append(f"TTL is {ttl.get('TimeToLiveStatus')}")
        if meta.backups and meta.backups["enabled"]:
            backups = self.session.describe_backups(table_name)
            status = (backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
            if status != "ENABLED":
                problems.append(f"point-in-time recovery is {status}")
        return description, problems

    def _wait_until(self, table_name: str, check: Callable[[], tuple[dict, list[str]]]) -> dict:
        """Poll ``check`` with capped exponential backoff until it reports no problems, or time out."""
        delays = backoff(self.bind_timeout, first=0.05, cap=5.0)
        while True:
            description, problems = check()
            if not problems:
                return description
            delay = next(delays, None)
            if delay is None:
                raise TableSetupTimeout(
                    f"table {table_name!r} was not fully live after {self.bind_timeout}s: " + "; ".join(problems),
                    parts=problems)
            self.session.retry.sleep(delay)

    def is_bound(self, model: Any) -> bool:
        """Whether ``model`` was bound to this engine."""
        return model in self._bound

    def table_name(self, model: type[BaseModel]) -> str:
        """The table ``model`` is bound to on this engine; InvalidModel when it is not bound."""
        return self._binding(model).table_name

    def _binding(self, model: Any) -> BoundTable:
        found = self._bound.get(model)
        if found is None:
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise InvalidModel(f"expected a model class, got {model!r}")
            if model.Meta.abstract:
                raise InvalidModel(f"{model.__name__} is abstract; use a concrete subclass")
            raise InvalidModel(f"{model.__name__} is not bound to this engine; call engine.bind({model.__name__})")
        return found

    # -------------------------------------------------------------------------------------- writes
    def _unique(self, objs: Iterable[Any]) -> list[Any]:
        seen, unique = set(), []
        for obj in objs:
            if id(obj) not in seen:
                seen.add(id(obj))
                unique.append(obj)
        for obj in unique:
            self._writes.check_object(obj)
        return unique

    def save(self, *objs: Any, condition: Condition | None = None, sync: str | None = None,
             verify: Any = DEFAULT) -> None:
        """One UpdateItem per object, sent concurrently.

        An object synced with this engine's table sends the columns changed since it was last loaded or
        saved here; any other object (new, unchanged, or loaded through another engine) sends every
        column it knows. ``sync="new"`` / ``"old"`` reloads the object from the item after / before the
        write. ``verify="item"`` / ``"indexes"`` returns only once the write is readable (see
        :mod:`bloop.verify`). Every object is validated and rendered before the first request is sent;
        the first failure (in argument order) is raised once all have finished.
        """
        level = self.verify if verify is DEFAULT else check_level(verify)
        items = [WriteItem("save", obj, condition) for obj in _distinct(objs)]
        prepared = self._writes.prepare(items, mode="single", sync=sync, level=level)
        self._writes.send(prepared, self._send_each)

    def delete(self, *objs: Any, condition: Condition | None = None, sync: str | None = None,
               verify: Any = DEFAULT) -> None:
        """One DeleteItem per object (concurrently); deleting a missing item succeeds.

        ``sync="old"`` loads what was deleted; ``verify`` as in :meth:`save`.
        """
        if sync not in SYNC_DELETE:
            raise InvalidSync(f'delete takes sync=None or "old", not {sync!r}')
        level = self.verify if verify is DEFAULT else check_level(verify)
        items = [WriteItem("delete", obj, condition) for obj in _distinct(objs)]
        prepared = self._writes.prepare(items, mode="single", sync=sync, level=level)
        self._writes.send(prepared, self._send_each)

    def _send_each(self, rendered: list[Rendered]) -> list[Outcome[Any]]:
        return self._runner.run_all(self._send_one, rendered)

    def _send_one(self, r: Rendered) -> dict | None:
        """One UpdateItem or DeleteItem; the attributes its ReturnValues asked for."""
        try:
            if r.write.kind == "delete":
                return self.session.delete_item(r.request)
            return self.session.save_item(r.request)
        except ConstraintViolation as error:
            error.obj = r.write.obj
            raise

    def batch(self, *, verify: Any = DEFAULT) -> BatchWriter:
        """Collect saves and deletes, then send them with BatchWriteItem on a clean ``with`` exit.

        Batch saves are PutItem: they replace whole items (unlike :meth:`save`, which updates columns).
        """
        return BatchWriter(self._writes, self.session, self._runner,
                           verify=self.verify if verify is DEFAULT else check_level(verify))

    # ------------------------------------------------------------------------------------ extensions
    def extension(self, kind: type[E]) -> E | None:
        """The registered extension of type ``kind`` (e.g. ``engine.extension(S3Columns)``), or None."""
        return self._extensions.find(kind)

    @property
    def extensions(self) -> list[Extension]:
        """The extensions registered on this engine, in order."""
        return list(self._extensions.extensions)

    @property
    def reads(self) -> ReadPath:
        """This engine's read path (for library layers: search, stream, the Lambda adapter)."""
        return self._reads

    # --------------------------------------------------------------------------------------- reads
    def load(self, *objs: Any, consistent: bool = False) -> None:
        """Fill the objects from their items (BatchGetItem, 100 keys a call); raises MissingObjects."""
        self._reads.load(self._unique(objs), consistent=consistent)

    # A model class types the results as its instances; an index (declared in the class body, so its
    # model is unknown to type checkers) gives Any.
    @overload
    def query(self, model_or_index: type[M], key: Condition, filter: Condition | None = None,
              projection: Any = "all", consistent: bool = False, forward: bool = True) -> QueryIterator[M]: ...

    @overload
    def query(self, model_or_index: Any, key: Condition, filter: Condition | None = None,
              projection: Any = "all", consistent: bool = False, forward: bool = True) -> QueryIterator[Any]: ...

    def query(self, model_or_index: Any, key: Condition, filter: Condition | None = None,
              projection: Any = "all", consistent: bool = False, forward: bool = True) -> QueryIterator[Any]:
        """A lazy iterator over the items of a model or index whose key matches ``key``.

        ``key`` must test the hash key with ``==``, optionally AND-ed with one condition on the range
        key (``==``, ``<``, ``<=``, ``>``, ``>=``, ``between``, ``begins_with``); ``filter`` drops
        items server-side after they are read (they still count towards consumed capacity).
        ``projection`` is ``"all"``, ``"count"`` or columns (names or Column objects; the key
        columns always come back too); ``consistent`` asks for a strongly consistent read (not on
        a GSI); ``forward=False`` reverses the range key order. Nothing is sent until the iterator
        is used: iterate it, or call ``first()``, ``one()``, ``all()`` or ``count``. Bad arguments
        raise :exc:`~bloop.exceptions.InvalidSearch` here, before any request.
        """
        model = getattr(model_or_index, "model", None) or model_or_index
        self._binding(model)
        search = Search("query", self, model_or_index, key=key, filter=filter, projection=projection,
                        consistent=consistent, forward=forward)
        return search.prepare()  # type: ignore[return-value]

    @overload
    def scan(self, model_or_index: type[M], filter: Condition | None = None, projection: Any = "all",
             consistent: bool = False, parallel: tuple[int, int] | None = None) -> ScanIterator[M]: ...

    @overload
    def scan(self, model_or_index: Any, filter: Condition | None = None, projection: Any = "all",
             consistent: bool = False, parallel: tuple[int, int] | None = None) -> ScanIterator[Any]: ...

    def scan(self, model_or_index: Any, filter: Condition | None = None, projection: Any = "all",
             consistent: bool = False, parallel: tuple[int, int] | None = None) -> ScanIterator[Any]:
        """A lazy iterator over every item of a model's table or index, optionally filtered.

        ``filter`` is applied server-side after items are read (a scan reads, and pays for, the
        whole table). ``parallel=(segment, total_segments)`` reads one segment of a parallel scan,
        so ``total_segments`` workers can share the table. ``projection`` and ``consistent`` are as
        for :meth:`query`. Nothing is sent until the iterator is used.
        """
        model = getattr(model_or_index, "model", None) or model_or_index
        self._binding(model)
        search = Search("scan", self, model_or_index, filter=filter, projection=projection,
                        consistent=consistent, parallel=parallel)
        return search.prepare()  # type: ignore[return-value]

    def transaction(self, mode: str = "w") -> WriteTransaction | ReadTransaction:
        """A new transaction: ``"w"`` (the default) for writes, ``"r"`` for consistent reads.

        Used as a context manager it commits when the block ends without an exception; otherwise
        call ``prepare()`` and then ``commit()`` on the result (a prepared write transaction can be
        committed again, with the same token, for about ten minutes). Up to 100 items; every object
        is validated before anything is sent. See :doc:`/engine`.
        """
        if mode == "w":
            return WriteTransaction(self._writes, self.session)
        if mode == "r":
            return ReadTransaction(self._writes, self.session, self._reads)
        raise ValueError(f'transaction mode must be "w" or "r", not {mode!r}')

    # ------------------------------------------------------------------------------------- streams
    def stream_arn(self, model: Any) -> str:
        """The stream this engine bound for ``model``."""
        binding = self._binding(model)
        if not model.Meta.stream:
            raise InvalidStream(f"{model.__name__} has no stream; declare Meta.stream = {{'include': [...]}}")
        if not binding.stream_arn:
            raise InvalidStream(f"{model.__name__} was bound without table setup, so its stream ARN is unknown; "
                                "bind it without skip_table_setup")
        return binding.stream_arn

    def stream(self, model: Any, position: Any, **options: Any) -> Stream:
        """A Stream over the model's table stream, moved to ``position``.

        ``options`` go to :class:`~bloop.stream.Stream` (``on_loss``, ``max_workers``, ``clock``).
        """
        from .stream import Stream
        self.stream_arn(model)
        stream = Stream(model=model, engine=self, **options)
        stream.move_to(position)
        return stream


def _distinct(objs: Sequence[Any]) -> list[Any]:
    """``objs`` without repeats (by identity), in order; the write path checks each one."""
    if len(objs) == 1:
        return [objs[0]]
    seen: set[int] = set()
    distinct = []
    for obj in objs:
        if id(obj) not in seen:
            seen.add(id(obj))
            distinct.append(obj)
    return distinct
