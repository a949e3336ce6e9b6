"""The write path: one pipeline for save, delete, batch and transactions.

    prepare -> validate and render ALL writes -> extensions before send -> send -> extensions after
    send -> settle change tracking and signal -> verify

:meth:`WritePath.prepare` does the first two steps for every object of a call before anything is sent,
so one bad object (a value its type refuses, a key over DynamoDB's limits, an item over 400 KB, a
transaction over 4 MB) leaves nothing written. :meth:`WritePath.send` does the rest; the callers
(``Engine.save``/``delete``, :mod:`bloop.batch`, :mod:`bloop.transactions`) differ only in the
``mode`` they render for and the sender that groups and sends the rendered requests.

Rendering is a pure function of the model, the object's values and the table name; I/O happens
only in the senders (through session.py), in extensions' ``before_send``/``after_send`` and in verify.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, NamedTuple, Sequence

from . import polymorphism, signals, versioning
from .actions import REMOVE, SET, Action
from .conditions import Condition, ConditionRenderer, conditions_and
from .exceptions import InvalidBatch, InvalidCondition, InvalidModel, InvalidSync, InvalidTransaction
from .extensions import Extension, Outcome, Write
from .limits import check_expressions, check_item_size, check_key, check_transaction
from .models import (
    BaseModel,
    Column,
    clear_marks,
    compiled,
    dump_changes,
    dump_key,
    marked,
    set_synced,
    settle_after_save,
    synced_with,
)
from .plans import save_plan
from .util import key_identity, key_repr
from .verify import Expectation, verify_writes

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine
    from .read import ReadPath
    from .session import SessionWrapper

__all__ = ["WritePath", "WriteItem", "Prepared", "Rendered", "Sender", "SYNC_SAVE", "SYNC_DELETE", "columns_to_write"]

SYNC_SAVE = {None: "NONE", "new": "ALL_NEW", "old": "ALL_OLD"}
#: ``Rendered.stored`` of a fast-rendered save when nothing will read it (no verify); never mutated
_NOTHING_STORED: dict[str, Any] = {}
SYNC_DELETE = {None: "NONE", "old": "ALL_OLD"}
MODES = ("single", "batch", "transaction")
TRANSACT_NAMES = {"save": "Update", "delete": "Delete", "check": "ConditionCheck"}
_object_saved = signals.object_saved
_object_deleted = signals.object_deleted


class WriteItem(NamedTuple):
    """What a write call asks for one object: "save", "put", "delete" or "check", and the user's condition."""

    kind: str
    obj: BaseModel
    condition: Condition | None = None


@dataclass(eq=False)
class Rendered:
    """One write, validated and rendered: the request the sender sends for it."""

    write: Write
    table_name: str
    key: dict[str, Any]
    #: single: UpdateItem / DeleteItem parameters; batch: {"PutRequest"|"DeleteRequest": ...};
    #: transaction: {"Update"|"Delete"|"ConditionCheck": ...}
    request: dict[str, Any]
    #: the ReturnValues asked for ("NONE" where the call returns no image)
    returns: str = "NONE"
    #: dynamo name -> wire value (None: removed) that the write stores, for verify
    stored: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    #: the item before the write, read ahead when the call can't return it and verify needs it
    old_item: dict[str, Any] | None = None
    #: rendered from plain values only (no actions): settling just clears the marks
    plain: bool = False

    @property
    def identity(self) -> tuple:
        return self.table_name, key_identity(self.key)


#: sends the rendered requests of one call; one Outcome per request, in order (result: the image returned)
Sender = Callable[[list[Rendered]], list[Outcome[Any]]]


@dataclass(eq=False)
class Prepared:
    """The validated, rendered writes of one call, ready to send (a transaction may send them again)."""

    mode: str
    rendered: list[Rendered]
    extensions: list[Extension]
    sync: str | None = None
    level: str | None = None
    #: some write is of a model with a version column (bloop.versioning takes part)
    versioned: bool = False
    #: some write is of a single-table member (bloop.polymorphism stores its discriminator)
    polymorphic: bool = False

    @property
    def writes(self) -> list[Write]:
        return [r.write for r in self.rendered]


def columns_to_write(obj: BaseModel, kind: str, synced: bool) -> frozenset[str]:
    """The non-key columns a write stores.

    A save of an object synced with the target table sends what changed since; an object that is
    unchanged, or synced with another table (loaded from another engine), sends every column it
    knows, as bloop 3.x does. A batch put stores every known column; deletes and checks none.
    """
    if kind not in ("save", "put"):
        return frozenset()
    non_keys = compiled(type(obj).Meta).non_key_names
    changed = marked(obj)
    if kind == "save" and synced and changed:
        return non_keys.intersection(changed)
    known = non_keys.intersection(obj.__dict__)
    deleted = changed.difference(known)  # marked but holding no value: deleted since the last save
    return known.union(non_keys.intersection(deleted)) if deleted else known


class WritePath:
    """The write pipeline of one engine; built by the engine, used by every write call."""

    def __init__(self, *, engine: Engine, table_name: Callable[[type[BaseModel]], str], session: SessionWrapper,
                 extensions: Callable[[Iterable[type[BaseModel]]], list[Extension]], reads: ReadPath,
                 sync_target: Callable[[type[BaseModel]], Hashable], verify_timeout: Callable[[], float]) -> None:
        self.engine = engine  # the sender of signals, and what types' dumpers find in their context
        self.table_name = table_name
        self.session = session
        self.extensions = extensions
        self.reads = reads
        self.sync_target = sync_target
        self.verify_timeout = verify_timeout
        self.context = {"engine": engine}  # what types' dumpers find in their context

    # ------------------------------------------------------------------------------------- checks
    def check_object(self, obj: object) -> None:
        """An instance of a concrete model bound to this engine, else InvalidModel."""
        if not isinstance(obj, BaseModel):
            raise InvalidModel(f"expected an instance of a model, got {obj!r}")
        model = type(obj)
        if model.Meta.abstract:
            raise InvalidModel(f"{model.__name__} is abstract; its instances can't be saved, loaded or deleted")
        self.table_name(model)

    @staticmethod
    def check_condition(condition: object) -> None:
        if condition is not None and not isinstance(condition, Condition):
            raise InvalidCondition(f"condition must be a bloop condition (e.g. Model.col == value), not {condition!r}")

    # ------------------------------------------------------------------------ prepare and render
    def prepare(self, items: Sequence[WriteItem], *, mode: str,
                sync: str | None = None, level: str | None = None) -> Prepared:
        """Validate and render every write of a call; raises before anything is sent if one is bad.

        ``items`` say what to do with each object (:class:`WriteItem`).
        """
        if mode == "single" and sync is not None and (
                sync not in (SYNC_SAVE if all(k == "save" for k, _, _ in items) else SYNC_DELETE)):
            allowed = '"new" or "old"' if all(k == "save" for k, _, _ in items) else '"old"'
            raise InvalidSync(f"sync must be None or {allowed}, not {sync!r}")
        writes = []
        versioned = polymorphic = False
        for kind, obj, condition in items:
            self.check_object(obj)
            if condition is not None:
                self.check_condition(condition)
            model = type(obj)
            where = synced_with(obj)
            synced = where is not None and where == self.sync_target(model)
            writes.append(Write(obj, kind, columns_to_write(obj, kind, synced)))
            versioned = versioned or versioning.version_column(model) is not None
            polymorphic = polymorphic or model.Meta.discriminator_value is not None
        if versioned:
            versioning.prepare(writes, [condition for _, _, condition in items], mode, {"engine": self.engine})
        if polymorphic:
            polymorphism.prepare(writes, {"engine": self.engine})
        extensions = self.extensions({type(w.obj) for w in writes})
        for extension in extensions:
            extension.prepare(writes)
        try:
            rendered = [self._render(write, condition, mode, sync, level)
                        for write, (_, _, condition) in zip(writes, items)]
            if mode != "single":
                self._check_group(rendered, mode)
        except BaseException as error:
            # nothing was sent: extensions undo what their prepare did
            _fail(writes, error)
            _after_send(extensions, writes)
            raise
        return Prepared(mode, rendered, extensions, sync, level, versioned, polymorphic)

    def _render(self, write: Write, condition: Condition | None, mode: str, sync: str | None,
                level: str | None) -> Rendered:
        if write.kind == "save" and mode == "single" and condition is None:
            fast = self._render_fast(write, sync, level)
            if fast is not None:
                return fast
        return self._render_general(write, condition, mode, sync, level)

    def _render_fast(self, write: Write, sync: str | None, level: str | None) -> Rendered | None:
        """A save of plain values through the model's compiled plan (:mod:`bloop.plans`); None when the
        general path must render it. Both give the same request (tests/unit/test_save_fast_path.py)."""
        if write.condition is not None or write.overrides or not write.columns:
            return None
        obj = write.obj
        model = type(obj)
        table_name = self.table_name(model)
        fast = save_plan(model.Meta).render(obj, write.columns, self.context, table_name, keep_stored=bool(level))
        if fast is None:
            return None
        body = fast.body
        returns = body["ReturnValues"] = _save_returns(model, write, sync, level)
        return Rendered(write, table_name, fast.key, body, returns,
                        _NOTHING_STORED if fast.stored is None else fast.stored, fast.size, plain=True)

    def _render_general(self, write: Write, condition: Condition | None, mode: str, sync: str | None,
                        level: str | None) -> Rendered:
        obj, kind = write.obj, write.kind
        model = type(obj)
        renderer = ConditionRenderer(self.engine)
        table_name = self.table_name(model)
        key = dump_key(obj, renderer.context)
        check_key(obj, key)
        stored: dict[str, Any] = {}  # SET values and REMOVEs (None): what verify expects, what a put stores
        operands: dict[str, Any] = {}  # ADD/DELETE values: their result isn't known, but they count in the size
        changes: dict[Column, Action] = {}
        if kind in ("save", "put"):
            overrides = write.overrides
            changes = dump_changes(obj, renderer.context, names=write.columns.difference(overrides))
            by_name = model.Meta.columns_by_name
            for name, wire in overrides.items():
                changes[by_name[name]] = Action(REMOVE, None) if wire is None else Action(SET, wire)
            for column, action in changes.items():
                if action.type is SET:
                    stored[column.dynamo_name] = action.value
                elif action.type is REMOVE:
                    stored[column.dynamo_name] = None
                elif kind == "put":
                    raise InvalidBatch(
                        f"{model.__name__}.{column.name} holds a {action.type.wire_key} action, which a batch save "
                        f"(a whole-item PutItem) can't send; use engine.save for ADD/DELETE ({key_repr(obj)})")
                else:
                    operands[column.dynamo_name] = action.value
        sized = {**key, **stored, **operands}
        size = check_item_size(obj, sized, "saving" if kind in ("save", "put") else "writing")
        renderer.condition_expression("ConditionExpression", conditions_and(condition, write.condition),
                                      model=model)
        if kind == "save":
            renderer.update_expression(changes)
        body: dict[str, Any] = {"TableName": table_name, "Key": key}
        body.update(renderer.output)
        check_expressions(obj, body)
        returns = "NONE"
        if mode == "batch":
            if "ConditionExpression" in body:
                raise InvalidBatch(f"a batch write can't carry a condition ({key_repr(obj)}); use engine.save/delete "
                                   "or a transaction for conditional writes")
            item = {**key, **{name: value for name, value in stored.items() if value is not None}}
            request = {"PutRequest": {"Item": item}} if kind == "put" else {"DeleteRequest": {"Key": key}}
            return Rendered(write, table_name, key, request, "NONE", item if kind == "put" else {}, size)
        if mode == "transaction":
            if kind == "save" and "UpdateExpression" not in body:
                raise InvalidTransaction(
                    f"{key_repr(obj)} has only its key, and a transaction's Update needs something to set; save it "
                    "with engine.save (an UpdateItem with just the key creates the item), or use check(obj, condition)")
            if kind == "check" and "ConditionExpression" not in body:
                raise InvalidTransaction(f"check({key_repr(obj)}) needs a non-empty condition")
            return Rendered(write, table_name, key, {TRANSACT_NAMES[kind]: body}, "NONE", stored, size)
        if kind == "save":
            returns = _save_returns(model, write, sync, level)
        elif sync == "old" or (level == "indexes" and model.Meta.gsis) or write.return_old:
            returns = "ALL_OLD"
        body["ReturnValues"] = returns
        return Rendered(write, table_name, key, body, returns, stored, size)

    @staticmethod
    def _check_group(rendered: list[Rendered], mode: str) -> None:
        """One request per item in a batch or transaction; a transaction within DynamoDB's limits."""
        owners: dict[tuple, Rendered] = {}
        for r in rendered:
            other = owners.setdefault(r.identity, r)
            if other is not r:
                if mode == "batch":
                    raise InvalidBatch(
                        f"{key_repr(other.write.obj)} and {key_repr(r.write.obj)} have the same key in one batch; "
                        "DynamoDB rejects duplicate keys in a BatchWriteItem. Keep one of them (bloop does not guess "
                        "which wins)")
                raise InvalidTransaction(f"{key_repr(r.write.obj)} appears twice in one transaction; DynamoDB "
                                         "allows one operation per item")
        if mode == "transaction":
            check_transaction([(r.write.obj, r.size) for r in rendered])

    # ------------------------------------------------------------------------------------ sending
    def send(self, prepared: Prepared, sender: Sender,
             on_failure: Callable[[list[Rendered]], None] | None = None) -> None:
        """Extensions before send, send, extensions after send, settle and signal, verify.

        ``on_failure`` gets the writes that failed (after every success was settled) and raises; by
        default the first failure's error is raised.
        """
        rendered, extensions, writes = prepared.rendered, prepared.extensions, prepared.writes
        level, sync = prepared.level, prepared.sync
        for write in writes:
            write.error, write.old_item = None, None  # a transaction committed again starts clean
        try:
            for extension in extensions:
                extension.before_send(writes)
            if level == "indexes" and prepared.mode == "batch":
                self._read_old_images(rendered)
        except BaseException as error:
            _fail(writes, error)
            _after_send(extensions, writes)
            raise
        try:
            outcomes = sender(rendered)
        except BaseException as error:
            outcomes = [Outcome(None, error)] * len(rendered)
        images = []
        for r, outcome in zip(rendered, outcomes):
            write = r.write
            write.error = outcome.error
            write.old_item = outcome.result if r.returns == "ALL_OLD" else r.old_item
            if outcome.error is None and outcome.result is not None and (
                    sync == "old" or (sync == "new" and not level)):
                images.append((write.obj, outcome.result))
        versioned = prepared.versioned
        if versioned:
            versioning.explain(rendered, self.session)
        # sync images are filled and finished before after_send, which may remove what an old image
        # points at (e.g. the S3 object a save displaced)
        try:
            if images:
                self.reads.finish([self.reads.fill(obj, item) for obj, item in images])
        finally:
            if extensions:
                _after_send(extensions, writes)
        expectations = []
        targets: dict[type, Hashable] = {}
        for r in rendered:
            write = r.write
            if write.error is not None:
                continue
            obj = write.obj
            if versioned:
                versioning.settle(write)
            if prepared.polymorphic:
                polymorphism.settle(write)
            if write.kind in ("save", "put"):
                if r.plain:
                    clear_marks(obj)  # nothing on the object to turn into a value
                else:
                    settle_after_save(obj)
                model = type(obj)
                target = targets.get(model)
                if target is None:
                    target = targets[model] = self.sync_target(model)
                set_synced(obj, target)
                if _object_saved.receivers:
                    _object_saved.send(self.engine, engine=self.engine, obj=obj)
            elif write.kind == "delete":
                clear_marks(obj)
                set_synced(obj, None)  # the item is gone: a later save writes every column again
                if _object_deleted.receivers:
                    _object_deleted.send(self.engine, engine=self.engine, obj=obj)
            if level and write.kind != "check":
                expectations.append(_expectation(r))
        failed = [r for r in rendered if r.write.error is not None]
        if failed:
            if on_failure is not None:
                on_failure(failed)
            raise failed[0].write.error  # type: ignore[misc]
        if not level:
            return
        items = verify_writes(self.session, expectations, level, self.verify_timeout())
        problems = [problem for extension in extensions for problem in extension.verify(writes)]
        if problems:
            from .exceptions import VerificationFailed
            raise VerificationFailed("; ".join(problems[:10]), failures=problems)
        if sync == "new":
            filled = []
            for expectation in expectations:
                item = items.get(expectation.identity)
                if item is not None:
                    filled.append(self.reads.fill(expectation.obj, item))
            self.reads.finish(filled)

    def _read_old_images(self, rendered: list[Rendered]) -> None:
        """BatchWriteItem returns no images: read the items of models with GSIs first, for verify="indexes"."""
        wanted = [r for r in rendered if type(r.write.obj).Meta.gsis]
        if not wanted:
            return
        found = self.session.get_items(((r.table_name, r.key) for r in wanted), consistent=True)
        for r in wanted:
            r.old_item = found.get(r.identity)


def _save_returns(model: Any, write: Write, sync: str | None, level: str | None) -> str:
    """The ReturnValues of an UpdateItem."""
    if (level == "indexes" and model.Meta.gsis) or (write.return_old and sync is None):
        return "ALL_OLD"  # old index keys must be checked for removal; sync="new" reads back
    return SYNC_SAVE[sync]  # type: ignore[index]


def _expectation(r: Rendered) -> Expectation:
    write = r.write
    if write.kind == "delete":
        return Expectation(write.obj, r.table_name, r.key, deleted=True, old_item=write.old_item)
    if write.kind == "put":
        return Expectation(write.obj, r.table_name, r.key, attributes=r.stored, whole_item=True,
                           old_item=write.old_item)
    return Expectation(write.obj, r.table_name, r.key, attributes=r.stored, old_item=write.old_item)


def _fail(writes: list[Write], error: BaseException) -> None:
    for write in writes:
        write.error = error


def _after_send(extensions: list[Extension], writes: list[Write]) -> None:
    """Every extension's after_send runs, even when one raises; the first error is raised after."""
    first: BaseException | None = None
    for extension in extensions:
        try:
            extension.after_send(writes)
        except BaseException as error:  # the others still clean up
            first = first or error
    if first is not None:
        raise first

