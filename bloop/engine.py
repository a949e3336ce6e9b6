"""Engine: binds models to tables and runs every operation. Binding state is per engine (bloop bug B7)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from . import signals
from .actions import ActionType
from .batch import BatchWriter
from .conditions import Condition, ConditionRenderer, conditions_and
from .exceptions import (
    ConstraintViolation,
    InvalidModel,
    InvalidStream,
    InvalidSync,
    InvalidTemplate,
    ItemTooLarge,
    MissingObjects,
    TableMismatch,
    TableSetupTimeout,
    VerificationFailed,
)
from .hooks import EngineHook, Write
from .models import (
    BaseModel,
    check_name,
    clear_marks,
    dump_changes,
    dump_key,
    settle_after_save,
    unpack_from_dynamodb,
)
from .search import QueryIterator, ScanIterator, Search
from .session import RetryPolicy, SessionWrapper
from .tables import compare_tables, create_table_request, expected_stream_view, table_status_problems
from .transactions import ReadTransaction, WriteTransaction
from .util import (
    MAX_ITEM_SIZE,
    Sentinel,
    attributes_size,
    backoff,
    key_identity,
    scalar_first_size,
    walk_subclasses,
    wire_size,
)
from .verify import Expectation, check_level, verify_writes

__all__ = ["Engine", "BoundTable"]

DEFAULT = Sentinel("engine default")
SYNC_SAVE = {None: "NONE", "new": "ALL_NEW", "old": "ALL_OLD"}
SYNC_DELETE = {None: "NONE", "old": "ALL_OLD"}


@dataclass
class BoundTable:
    """What an engine learned about a model's table when it bound it."""

    table_name: str
    stream_arn: str | None = None
    description: dict | None = None


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
                 verify_timeout: float = 30.0, max_workers: int = 10, s3: Any = None) -> None:
        self._table_name = _validate_template(table_name_template)
        self.table_name_template = table_name_template
        self.session = SessionWrapper(dynamodb=dynamodb, dynamodbstreams=dynamodbstreams, retry=retry)
        self.bind_timeout = bind_timeout
        self.verify = check_level(verify)
        self.verify_timeout = verify_timeout
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int, not {max_workers!r}")
        # boto3 clients keep 10 connections by default; more threads than that only queue on the pool
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._bound: dict[Any, BoundTable] = {}
        self._hooks: dict[Any, list[EngineHook]] = {}
        self.s3 = s3  # an S3 client, for S3-backed columns (bloop.ext.s3)

    # ------------------------------------------------------------------------------------ binding
    def _compute_table_name(self, model: Any) -> str:
        name = self._table_name(model)
        if not isinstance(name, str) or not name:
            raise InvalidTemplate(f"table_name_template returned {name!r} for {model.__name__}; it must be a str")
        return check_name(f"{model.__name__}: the table name", name)

    def bind(self, model: type[BaseModel], *, skip_table_setup: bool = False) -> None:
        """Create or check the tables of ``model`` and every concrete subclass, then bind them to this engine."""
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise InvalidModel(f"bind takes a BaseModel subclass, not {model!r}")
        models = [m for m in [model, *walk_subclasses(model)] if not m.Meta.abstract]
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
            descriptions = {name: self._wait_until(name, lambda name=name: self._table_problems(name))
                            for name in set(names.values())}
            for m in models:
                table_name = names[m]
                if table_name in created:
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
                description = self._wait_until(table_name, lambda m=m, t=table_name: self._extras_problems(m, t))
                stream_arn = description.get("LatestStreamArn") if expected_stream_view(m) else None
                self._bound[m] = BoundTable(table_name, stream_arn, description)
                signals.model_validated.send(self, engine=self, model=m)
        else:
            for m in models:
                self._bound[m] = BoundTable(names[m])
        for m in models:
            self._hooks[m] = _hooks_of(m)
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

    def _binding(self, model: Any) -> BoundTable:
        found = self._bound.get(model)
        if found is None:
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise InvalidModel(f"expected a model class, got {model!r}")
            if model.Meta.abstract:
                raise InvalidModel(f"{model.__name__} is abstract; use a concrete subclass")
            raise InvalidModel(f"{model.__name__} is not bound to this engine; call engine.bind({model.__name__})")
        return found

    def _check_object(self, obj: Any) -> None:
        model = type(obj)
        if not isinstance(obj, BaseModel):
            raise InvalidModel(f"expected an instance of a model, got {obj!r}")
        if model.Meta.abstract:
            raise InvalidModel(f"{model.__name__} is abstract; its instances can't be saved, loaded or deleted")
        self._binding(model)

    # -------------------------------------------------------------------------------------- writes
    def _unique(self, objs: Iterable[Any]) -> list[Any]:
        seen, unique = set(), []
        for obj in objs:
            if id(obj) not in seen:
                seen.add(id(obj))
                unique.append(obj)
        for obj in unique:
            self._check_object(obj)
        return unique

    def _render_save(self, obj: Any, condition: Any, sync: Any, level: str | None = None,
                     return_old: bool = False) -> tuple[dict, dict]:
        renderer = ConditionRenderer(self)
        changes = dump_changes(obj, renderer.context)
        return_values = SYNC_SAVE[sync]
        if (level == "indexes" and type(obj).Meta.gsis) or (return_old and sync is None):
            return_values = "ALL_OLD"  # old index keys must be checked for removal; sync="new" reads back
        request: dict[str, Any] = {
            "TableName": self._binding(type(obj)).table_name,
            "Key": dump_key(obj, renderer.context),
            "ReturnValues": return_values,
        }
        size = attributes_size(request["Key"].items())
        for column, action in changes.items():
            if action.value is not None:
                size += len(column.dynamo_name) + scalar_first_size(action.value)
        if size > MAX_ITEM_SIZE:
            biggest = max(changes, key=lambda c: wire_size(changes[c].value) if changes[c].value else 0)
            raise ItemTooLarge(
                f"saving {type(obj).__name__} would write about {size} bytes, over DynamoDB's 400 KB item limit "
                f"(largest column: {biggest.name!r}); keep large values in S3 (e.g. an S3-backed column) "
                "and store a pointer")
        renderer.condition_expression("ConditionExpression", condition, model=type(obj))
        renderer.update_expression(changes)
        request.update(renderer.output)
        return request, changes

    def save(self, *objs: Any, condition: Condition | None = None, sync: str | None = None,
             verify: Any = DEFAULT) -> None:
        """UpdateItem per object with the columns changed since it was last loaded or saved.

        ``sync="new"`` / ``"old"`` reloads the object from the item after / before the write.
        ``verify="item"`` / ``"indexes"`` returns only once the write is readable (see :mod:`bloop.verify`).
        Every object is validated and rendered before the first request is sent; several objects are
        written concurrently, and the first failure (in argument order) is raised once all have finished.
        """
        if sync not in SYNC_SAVE:
            raise InvalidSync(f'sync must be None, "new" or "old", not {sync!r}')
        level = self.verify if verify is DEFAULT else check_level(verify)
        _check_condition(condition)
        objs = self._unique(objs)
        writes, hooks = self._prepare_writes(objs, "save")
        conditions = [conditions_and(condition, w.condition) for w in writes]
        rendered = [self._render_save(w.obj, c, sync, level, w.state.get("return_old"))
                    for w, c in zip(writes, conditions)]
        self._before_send(hooks, writes)
        outcomes = self._run_all(lambda args: self._send_save(args[0], args[1][0], args[2], sync),
                                 list(zip(objs, rendered, conditions)))
        for write, (result, error) in zip(writes, outcomes):
            write.error = error
            write.old_item = result[1] if result else None
        # sync images are unpacked and finished by the hooks before after_send, which may remove what an
        # old image points at (e.g. the S3 object a save displaced)
        synced = []
        if sync == "old" or (sync == "new" and not level):
            for obj, (result, error) in zip(objs, outcomes):
                if error is None and result[0] is not None:
                    unpack_from_dynamodb(attrs=result[0], expected=type(obj).Meta.columns, obj=obj, engine=self)
                    synced.append(obj)
        try:
            self._after_load(synced)
        finally:
            for hook in hooks:
                hook.after_send(self, writes)
        expectations = []
        for obj, (request, changes), (result, error) in zip(objs, rendered, outcomes):
            if error is not None:
                continue
            attributes, old_item = result
            if level:
                expectations.append(_save_expectation(obj, request, changes, old_item))
            settle_after_save(obj)
            signals.object_saved.send(self, engine=self, obj=obj)
        _raise_first(outcomes)
        items = verify_writes(self, expectations, level, self.verify_timeout)
        self._verify_hooks(hooks, writes, level)
        if sync == "new" and level:
            synced = []
            for expectation in expectations:
                item = items.get(expectation.identity)
                if item is not None:
                    unpack_from_dynamodb(attrs=item, expected=type(expectation.obj).Meta.columns,
                                         obj=expectation.obj, engine=self)
                    synced.append(expectation.obj)
            self._after_load(synced)

    def _send_save(self, obj: Any, request: dict, condition: Any, sync: Any) -> tuple[dict | None, dict | None]:
        """(attributes for sync, the image before the write when it was asked for)."""
        if "UpdateExpression" not in request:
            return self._ensure_exists(obj, request, condition, sync)
        try:
            attributes = self.session.save_item(request)
        except ConstraintViolation as error:
            error.obj = obj
            raise
        old_item = attributes if request["ReturnValues"] == "ALL_OLD" else None
        return attributes, old_item

    def _ensure_exists(self, obj: Any, request: dict, condition: Any, sync: Any) -> tuple[dict | None, dict | None]:
        """Save of an object with nothing but its key: create the item if absent, keep it if present.

        An UpdateItem without an UpdateExpression does this on DynamoDB but not everywhere (moto answers
        HTTP 500), so this uses a PutItem that only succeeds when the item is absent.
        """
        model = type(obj)
        renderer = ConditionRenderer(self)
        absent = model.Meta.hash_key == None  # noqa: E711 - renders attribute_not_exists
        renderer.condition_expression("ConditionExpression", absent & condition if condition else absent,
                                      model=model)
        put = {"TableName": request["TableName"], "Item": request["Key"],
               "ReturnValuesOnConditionCheckFailure": "ALL_OLD", **renderer.output}
        try:
            self.session.put_item(put)
            return (request["Key"] if sync == "new" else None), None
        except ConstraintViolation as error:
            cause = error.__cause__
            existing = getattr(cause, "response", {}).get("Item")
            if existing is None:
                error.obj = obj
                raise  # the item is absent, so the user's condition failed
        if condition:
            check = ConditionRenderer(self)
            check.condition_expression("ConditionExpression", condition, model=model)
            body = {"TableName": request["TableName"], "Key": request["Key"], **check.output}
            try:
                self.session.transaction_write([{"ConditionCheck": body}], _request_token())
            except Exception as error:
                raise ConstraintViolation(f"the condition was not met (saving {obj!r})", obj) from error
        return existing, existing

    def delete(self, *objs: Any, condition: Condition | None = None, sync: str | None = None,
               verify: Any = DEFAULT) -> None:
        """DeleteItem per object (concurrently); deleting a missing item succeeds.

        ``sync="old"`` loads what was deleted; ``verify`` as in :meth:`save`.
        """
        if sync not in SYNC_DELETE:
            raise InvalidSync(f'delete takes sync=None or "old", not {sync!r}')
        level = self.verify if verify is DEFAULT else check_level(verify)
        _check_condition(condition)
        objs = self._unique(objs)
        writes, hooks = self._prepare_writes(objs, "delete")
        requests = []
        for write in writes:
            obj = write.obj
            renderer = ConditionRenderer(self)
            wants_old = sync == "old" or (level == "indexes" and type(obj).Meta.gsis) or write.state.get("return_old")
            request = {"TableName": self._binding(type(obj)).table_name, "Key": dump_key(obj, renderer.context),
                       "ReturnValues": "ALL_OLD" if wants_old else "NONE"}
            renderer.condition_expression("ConditionExpression", conditions_and(condition, write.condition),
                                          model=type(obj))
            request.update(renderer.output)
            requests.append(request)
        self._before_send(hooks, writes)
        outcomes = self._run_all(lambda pair: self._send_delete(*pair), list(zip(objs, requests)))
        for write, (attributes, error) in zip(writes, outcomes):
            write.error, write.old_item = error, attributes
        synced = []
        if sync:
            for obj, (attributes, error) in zip(objs, outcomes):
                if error is None and attributes is not None:
                    unpack_from_dynamodb(attrs=attributes, expected=type(obj).Meta.columns, obj=obj, engine=self)
                    synced.append(obj)
        try:
            self._after_load(synced)  # before after_send, which may remove what the old image points at
        finally:
            for hook in hooks:
                hook.after_send(self, writes)
        expectations = []
        for obj, request, (attributes, error) in zip(objs, requests, outcomes):
            if error is not None:
                continue
            if level:
                expectations.append(Expectation(obj, request["TableName"], request["Key"], deleted=True,
                                                old_item=attributes))
            clear_marks(obj)
            signals.object_deleted.send(self, engine=self, obj=obj)
        _raise_first(outcomes)
        verify_writes(self, expectations, level, self.verify_timeout)
        self._verify_hooks(hooks, writes, level)

    def _send_delete(self, obj: Any, request: dict) -> dict | None:
        try:
            return self.session.delete_item(request)
        except ConstraintViolation as error:
            error.obj = obj
            raise

    def batch(self, *, verify: Any = DEFAULT) -> BatchWriter:
        """Collect saves and deletes, then send them with BatchWriteItem on a clean ``with`` exit.

        Batch saves are PutItem: they replace whole items (unlike :meth:`save`, which updates columns).
        """
        return BatchWriter(self, verify=self.verify if verify is DEFAULT else check_level(verify))

    # ----------------------------------------------------------------------------------------- hooks
    def _hooks_for(self, objs: Iterable[Any]) -> list[EngineHook]:
        found: list[EngineHook] = []
        for model in {type(obj) for obj in objs}:
            for hook in self._hooks.get(model, ()):
                if hook not in found:
                    found.append(hook)
        return found

    def _prepare_writes(self, objs: list[Any], kind: str | list[str]) -> tuple[list[Write], list[EngineHook]]:
        """``kind`` is one kind for every object, or one per object (batches and transactions mix them)."""
        kinds = [kind] * len(objs) if isinstance(kind, str) else list(kind)
        writes = [Write(obj, k) for obj, k in zip(objs, kinds)]
        hooks = self._hooks_for(objs)
        for hook in hooks:
            hook.prepare(self, writes)
        return writes, hooks

    def _before_send(self, hooks: list[EngineHook], writes: list[Write]) -> None:
        """Run the hooks' I/O before the writes; on failure every write is marked failed and cleaned up."""
        try:
            for hook in hooks:
                hook.before_send(self, writes)
        except BaseException as error:
            for write in writes:
                write.error = error
            for hook in hooks:
                hook.after_send(self, writes)
            raise

    def _verify_hooks(self, hooks: list[EngineHook], writes: list[Write], level: str | None) -> None:
        if not level:
            return
        problems = [problem for hook in hooks for problem in hook.verify(self, writes)]
        if problems:
            raise VerificationFailed("; ".join(problems[:10]), failures=problems)

    def _after_load(self, objs: list[Any]) -> None:
        """Let hooks finish objects just filled from DynamoDB (e.g. fetch S3-backed values), a batch at once."""
        if objs:
            for hook in self._hooks_for(objs):
                hook.after_load(self, objs)

    # ----------------------------------------------------------------------------------- concurrency
    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="bloop")
            return self._pool

    def _run_all(self, fn: Callable[[Any], Any], items: list) -> list[tuple[Any, BaseException | None]]:
        """Run ``fn`` over items (concurrently when there are several); (result, error) per item, in order."""
        def attempt(item: Any) -> tuple[Any, BaseException | None]:
            try:
                return fn(item), None
            except Exception as error:  # reported per item, raised by the caller
                return None, error
        if len(items) <= 1 or self.max_workers == 1:
            return [attempt(item) for item in items]
        return list(self._executor().map(attempt, items))

    # --------------------------------------------------------------------------------------- reads
    def load(self, *objs: Any, consistent: bool = False) -> None:
        """Fill the objects from their items (BatchGetItem, 100 keys a call); raises MissingObjects."""
        unique = self._unique(objs)
        context = {"engine": self}
        # one identity per key; objects sharing a key (rare) wait in ``more``
        wanted: dict[tuple, dict] = {}
        first: dict[tuple, Any] = {}
        more: dict[tuple, list[Any]] = {}
        bound = self._bound
        for obj in unique:
            key = dump_key(obj, context)
            identity = (bound[type(obj)].table_name, key_identity(key))
            if identity in first:
                more.setdefault(identity, []).append(obj)
            else:
                first[identity] = obj
                wanted[identity] = key
        found = self.session.get_items_by_identity(wanted, consistent=consistent)
        loaded, missing = [], []
        for identity, obj in first.items():
            item = found.get(identity)
            group = more.get(identity) if more else None
            if item is None:
                missing.append(obj)
                if group:
                    missing.extend(group)
                continue
            unpack_from_dynamodb(attrs=item, obj=obj, engine=self, context=context)
            loaded.append(obj)
            if group:
                for other in group:
                    unpack_from_dynamodb(attrs=item, obj=other, engine=self, context=context)
                    loaded.append(other)
        self._after_load(loaded)
        if missing:
            raise MissingObjects(f"{len(missing)} object(s) were not found", objects=missing)

    def query(self, model_or_index: Any, key: Condition, filter: Condition | None = None,
              projection: Any = "all", consistent: bool = False, forward: bool = True) -> QueryIterator:
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

    def scan(self, model_or_index: Any, filter: Condition | None = None, projection: Any = "all",
             consistent: bool = False, parallel: tuple[int, int] | None = None) -> ScanIterator:
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
            return WriteTransaction(self)
        if mode == "r":
            return ReadTransaction(self)
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

    def stream(self, model: Any, position: Any, **options: Any) -> Any:
        """A Stream over the model's table stream, moved to ``position``.

        ``options`` go to :class:`~bloop.stream.Stream` (``on_loss``, ``max_workers``, ``clock``).
        """
        from .stream import Stream
        self.stream_arn(model)
        stream = Stream(model=model, engine=self, **options)
        stream.move_to(position)
        return stream


def _hooks_of(model: Any) -> list[EngineHook]:
    """Hooks the model's column types ask for (one per distinct hook object)."""
    hooks: list[EngineHook] = []
    for column in sorted(model.Meta.columns, key=lambda c: c.name):
        factory = getattr(column.typedef, "engine_hook", None)
        hook = factory() if callable(factory) else None
        if hook is not None and hook not in hooks:
            hooks.append(hook)
    return hooks


def _raise_first(outcomes: list[tuple[Any, BaseException | None]]) -> None:
    for _, error in outcomes:
        if error is not None:
            raise error


def _save_expectation(obj: Any, request: dict, changes: dict, old_item: dict | None) -> Expectation:
    attributes = {}
    for column, action in changes.items():
        if action.type is ActionType.Set:
            attributes[column.dynamo_name] = action.value
        elif action.type is ActionType.Remove:
            attributes[column.dynamo_name] = None
    return Expectation(obj, request["TableName"], request["Key"], attributes=attributes, old_item=old_item)


def _check_condition(condition: Any) -> None:
    if condition is not None and not isinstance(condition, Condition):
        from .exceptions import InvalidCondition
        raise InvalidCondition(f"condition must be a bloop condition (e.g. Model.col == value), not {condition!r}")


def _request_token() -> str:
    import uuid
    return uuid.uuid4().hex



