"""Query and Scan: request building (validated before any call) and lazy, resumable iterators."""
from __future__ import annotations

from collections import deque
from typing import Any, Generic, Iterator, TypeVar

from .conditions import And, BeginsWith, Between, Comparison, Condition, ConditionRenderer
from .exceptions import ConstraintViolation, InvalidPosition, InvalidSearch
from .models import BaseModel, Index, LocalSecondaryIndex
from .polymorphism import search_filter

__all__ = ["Search", "QueryIterator", "ScanIterator", "search_target"]

M = TypeVar("M")  # the model a search returns instances of

RANGE_OPERATIONS = {"==", "<", "<=", ">", ">="}
MAX_SEGMENTS = 1_000_000  # DynamoDB's TotalSegments limit


def search_target(model_or_index: Any) -> tuple[Any, Index | None]:
    if isinstance(model_or_index, Index):
        return model_or_index.model, model_or_index
    if isinstance(model_or_index, type) and issubclass(model_or_index, BaseModel):
        if model_or_index.Meta.abstract:
            raise InvalidSearch(f"{model_or_index.__name__} is abstract; search a concrete model")
        return model_or_index, None
    raise InvalidSearch(f"search a model class or one of its indexes, not {model_or_index!r}")


def _key_columns(model: Any, index: Index | None) -> tuple[Any, Any]:
    if index is None:
        return model.Meta.hash_key, model.Meta.range_key
    return index.hash_key, index.range_key


def _check_key_condition(model: Any, index: Index | None, key: Any) -> set:
    """A Query key is ``hash == v`` optionally AND one range condition; returns the columns used."""
    hash_key, range_key = _key_columns(model, index)
    where = f"{model.__name__}" + (f".{index.name}" if index is not None else "")
    help_text = (f"a query key must be ({hash_key.model.__name__}.{hash_key.name} == value) optionally "
                 "& one condition on the range key (==, <, <=, >, >=, begins_with, between)")
    if not isinstance(key, Condition) or not key:
        raise InvalidSearch(f"query on {where} needs a key condition; {help_text}")
    parts = key.conditions if isinstance(key, And) else [key]
    if len(parts) > 2:
        raise InvalidSearch(f"query key on {where} has {len(parts)} conditions; {help_text}")
    found_hash = found_range = False
    for part in parts:
        column = getattr(part, "column", None)
        if getattr(part, "path", ()) != ():
            raise InvalidSearch(f"query keys can't use document paths; {help_text}")
        if column is hash_key and isinstance(part, Comparison) and part.operation == "==" and part.value is not None:
            if found_hash:
                raise InvalidSearch(f"query key on {where} names the hash key twice; {help_text}")
            found_hash = True
        elif range_key is not None and column is range_key and (
                isinstance(part, (BeginsWith, Between)) or
                (isinstance(part, Comparison) and part.operation in RANGE_OPERATIONS and part.value is not None)):
            if found_range:
                raise InvalidSearch(f"query key on {where} names the range key twice; {help_text}")
            found_range = True
        else:
            raise InvalidSearch(f"query key on {where} has an invalid part {part!r}; {help_text}")
    if not found_hash:
        raise InvalidSearch(f"query key on {where} has no condition on the hash key; {help_text}")
    return {hash_key} | ({range_key} if found_range else set())


class Search:
    """Validated request for one Query or Scan."""

    def __init__(self, mode: str, engine: Any, model_or_index: Any, key: Any = None, filter: Any = None,
                 projection: Any = "all", consistent: bool = False, forward: bool = True,
                 parallel: tuple[int, int] | None = None) -> None:
        self.mode = mode
        self.engine = engine
        self.model, self.index = search_target(model_or_index)
        self.consistent = bool(consistent)
        if self.index is not None and not isinstance(self.index, LocalSecondaryIndex) and consistent:
            self.consistent = False  # GSIs can't be read consistently; bloop drops the flag silently
        source = self.index.projection if self.index is not None else self.model.Meta.projection
        self.available = source["available"]
        self.key = key
        if mode == "query":
            _check_key_condition(self.model, self.index, key)
            # DynamoDB refuses a filter on any key attribute of the queried table or index
            key_columns = {c for c in _key_columns(self.model, self.index) if c is not None}
        else:
            key_columns = set()
        if filter is not None and not isinstance(filter, Condition):
            raise InvalidSearch(f"filter must be a condition, not {filter!r}")
        filter = search_filter(self.model, self.index, filter)  # a single-table member finds only its items
        self.filter = filter
        for column in (filter.iter_columns() if filter else ()):
            if column not in self.available:
                raise InvalidSearch(f"the filter uses {column!r}, which {self._source_name} does not project")
            if column in key_columns:
                raise InvalidSearch(f"the filter uses the key column {column!r}; put it in the key condition")
        self._projection = projection if isinstance(projection, str) else None
        if projection == "count":
            self.projected = None
        elif projection == "all":
            # the table's own column set keeps unpacking on the compiled fast path
            self.projected = self.model.Meta.columns if self.index is None else set(source["included"])
        else:
            if isinstance(projection, str):
                projection = [projection]
            self.projected = set()
            for item in projection:
                column = self.model.Meta.columns_by_name.get(item) if isinstance(item, str) else item
                if column is None or column not in self.available:
                    raise InvalidSearch(f"can't project {item!r}: {self._source_name} does not provide it")
                self.projected.add(column)
            if not self.projected:
                raise InvalidSearch("projection needs at least one column, or 'all' / 'count'")
        # the keys are always fetched (see _render), so results can be saved or loaded again
        keys = self._always_fetched()
        self.unpacked = self.projected if self.projected is None or keys <= self.projected else (
            set(self.projected) | keys)
        self.forward = forward
        if parallel is not None:
            if mode != "scan":
                raise InvalidSearch("parallel is only for scans")
            if (not isinstance(parallel, tuple) or len(parallel) != 2 or
                    not all(type(p) is int for p in parallel) or not 0 <= parallel[0] < parallel[1]):
                raise InvalidSearch(f"parallel must be (segment, total_segments) with 0 <= segment < total, "
                                    f"not {parallel!r}")
            if parallel[1] > MAX_SEGMENTS:
                raise InvalidSearch(f"a parallel scan has at most {MAX_SEGMENTS:,} segments (DynamoDB's limit), "
                                    f"not {parallel[1]:,}")
        self.parallel = parallel
        self.request = self._render()

    @property
    def _source_name(self) -> str:
        return f"{self.model.__name__}" + (f".{self.index.name}" if self.index is not None else "")

    def _render(self) -> dict:
        renderer = ConditionRenderer(self.engine)
        if self.mode == "query":
            renderer.condition_expression("KeyConditionExpression", self.key, model=self.model)
        renderer.condition_expression("FilterExpression", self.filter, model=self.model)
        request: dict[str, Any] = {"TableName": self.engine.table_name(self.model),
                                   "ConsistentRead": self.consistent}
        if self.projected is None:
            request["Select"] = "COUNT"
        elif self._narrows():
            # keys are always fetched so that ``token`` works whatever was projected (bloop bug B11)
            keys = self._always_fetched()
            renderer.projection_expression(set(self.projected) | keys)
            request["Select"] = "SPECIFIC_ATTRIBUTES"
        request.update(renderer.output)
        if self.index is not None:
            request["IndexName"] = self.index.dynamo_name
        if self.mode == "query":
            request["ScanIndexForward"] = bool(self.forward)
        if self.parallel is not None:
            request["Segment"], request["TotalSegments"] = self.parallel
        return request

    def _always_fetched(self) -> set:
        """The keys, and a single-table model's discriminator (which picks each item's class) when available."""
        keys = self.model.Meta.keys | (self.index.keys if self.index is not None else set())
        discriminator = self.model.Meta.discriminator
        if discriminator is not None and discriminator in self.available:
            keys = keys | {discriminator}
        return keys

    def _narrows(self) -> bool:
        """Whether a ProjectionExpression would leave anything out.

        ``"all"`` on a table or on an index that projects everything reads every column either way,
        and naming each of them costs DynamoDB time (about a quarter of a small query's) for nothing;
        attributes that are not columns are not loaded in either case.
        """
        if self._projection != "all":
            return True
        return self.index is not None and self.index.projection["mode"] != "all"

    def prepare(self) -> SearchIterator[Any]:
        cls = QueryIterator if self.mode == "query" else ScanIterator
        return cls(self)


class SearchIterator(Generic[M]):
    """Lazy pages of results. Iterating a second time yields nothing until ``reset()``."""

    mode = ""

    def __init__(self, search: Search) -> None:
        self._search = search
        self.engine = search.engine
        self.model = search.model
        self.request = search.request
        self._key_names = [c.dynamo_name for c in
                           (self.model.Meta.keys | (search.index.keys if search.index else set()))]
        self.reset()

    def reset(self) -> None:
        self.buffer: deque[tuple[dict, Any]] = deque()
        self._count = 0
        self._scanned = 0
        self._exclusive_start_key: dict | None = None
        self._last_yielded_key: dict | None = None
        self._done = False

    @property
    def exhausted(self) -> bool:
        return self._done and not self.buffer

    @property
    def token(self) -> dict:
        """Where to resume: the key of the last yielded item (always requested, even if not projected)."""
        return {"ExclusiveStartKey": self._last_yielded_key}

    def move_to(self, token: dict) -> None:
        if not isinstance(token, dict) or "ExclusiveStartKey" not in token:
            raise InvalidPosition(f"a search token is {{'ExclusiveStartKey': key or None}}, not {token!r}")
        self.reset()
        self._exclusive_start_key = token["ExclusiveStartKey"]

    def _fetch_page(self) -> None:
        request = dict(self.request)
        if self._exclusive_start_key:
            request["ExclusiveStartKey"] = self._exclusive_start_key
        response = self.engine.session.search_items(self.mode, request)
        self._count += response.get("Count", 0)
        self._scanned += response.get("ScannedCount", 0)
        self.buffer.extend(self._unpack_page(response.get("Items", [])))
        self._exclusive_start_key = response.get("LastEvaluatedKey")
        self._done = not self._exclusive_start_key

    def __iter__(self) -> Iterator[M]:
        return self

    def __next__(self) -> M:
        while not self.buffer:
            if self._done:
                raise StopIteration
            self._fetch_page()
        key, obj = self.buffer.popleft()
        self._last_yielded_key = key
        return obj

    def _unpack_page(self, items: list[dict]) -> list[tuple[dict, Any]]:
        """Objects for a whole page at once, through the engine's read path (extensions finish them together)."""
        objs = self.engine.reads.page(self.model, items, self._search.unpacked)
        names = self._key_names
        return [({n: item[n] for n in names if n in item}, obj) for item, obj in zip(items, objs)]

    def first(self) -> M:
        self.reset()
        for obj in self:
            return obj
        raise ConstraintViolation(f"{self.mode} did not find any results")

    def one(self) -> M:
        first = self.first()
        for _ in self:
            raise ConstraintViolation(f"{self.mode} found more than one result")
        return first

    def all(self) -> list[M]:
        self.reset()
        return list(self)

    @property
    def count(self) -> int:
        """Items matched so far (all of them for ``projection="count"``, which reads every page)."""
        self._drain_counts()
        return self._count

    @property
    def scanned(self) -> int:
        """Items evaluated before the filter, so far."""
        self._drain_counts()
        return self._scanned

    def _drain_counts(self) -> None:
        if self.request.get("Select") != "COUNT":
            return
        while not self._done:
            self._fetch_page()
            self.buffer.clear()


class QueryIterator(SearchIterator[M]):
    mode = "query"


class ScanIterator(SearchIterator[M]):
    mode = "scan"

