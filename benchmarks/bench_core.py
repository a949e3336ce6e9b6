"""save, load and query: bloop against the same workload in raw boto3 with TypeSerializer/TypeDeserializer.

Budget (issue 11): save <= 1.2x raw PutItem; load <= 1.0x raw batched GetItem; query <= 1.0x.

What makes the comparison fair:

* one 13-attribute item (string, int, Decimal, bool, UUID, datetime, string set, list, map, bytes...),
  and raw boto3 serializes all 13 attributes with ``TypeSerializer`` (and deserializes them with
  ``TypeDeserializer``); the raw side stores the UUID as its text and the datetime as fixed-width UTC
  ISO 8601 (what bloop stores) and parses them back, so both sides end with the same python values;
* every run works on fresh inputs built outside the clock, for both sides: bloop saves new objects
  (every column changed, as after ``Item(**values)``), raw saves new record dicts;
* load times the key objects on both sides: raw serializes its keys inside the clock, bloop builds
  ``Item(id=, rank=)`` per key inside the clock; raw batches 100 keys per BatchGetItem call, as bloop;
* AWS is answered in-process by the canned responder (``canned.py``), so only library work is timed;
* the garbage collector stays on (a mapper that allocates more pays for it here, as in production);
* the clock is the process's CPU time (``canned.CLOCK``): nothing timed waits, and on a shared machine
  wall time also counts the neighbours;
* each figure is the minimum and the median of several interleaved runs in one process, as a ratio.

``tests/unit/test_benchmarks_run.py`` checks that both sides send the same attributes and end with the
same values. ``python -m benchmarks.bench_core`` runs only this module.
"""
from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, Callable

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bloop import UUID, BaseModel, Binary, Boolean, Column, DateTime, Integer, List, Map, Number, Set, String

from .canned import CannedAWS, Result, compare, format_result, make_engine, patched

TABLE = "bench-core-items"
PARTITION = "bench"
PAGE_SIZE = 100
BATCH_GET_SIZE = 100
UTC = datetime.timezone.utc

# sized so that the whole module runs in about 20 s on a slow, busy machine
N_SAVE = 1000
N_LOAD = 1000
N_LOAD_BIG = 10_000  # one load() call: where the garbage collector shows
N_QUERY_PAGES = 10
REPEATS = 15  # other processes on a busy machine inflate single runs, rarely all of them
REPEATS_BIG = 5


class Item(BaseModel):
    """13 columns of mixed types; ``id`` + ``rank`` is the key, so a query walks one partition."""

    class Meta:
        table_name = TABLE

    id = Column(String, hash_key=True)
    rank = Column(Integer, range_key=True)
    name = Column(String)
    email = Column(String)
    price = Column(Number)
    quantity = Column(Integer)
    active = Column(Boolean)
    uid = Column(UUID)
    created = Column(DateTime)
    tags = Column(Set(String))
    history = Column(List(Integer))
    profile = Column(Map(nickname=String, age=Integer, score=Number))
    blob = Column(Binary)


COLUMNS = ("id", "rank", "name", "email", "price", "quantity", "active", "uid", "created", "tags", "history",
           "profile", "blob")
KEY_NAMES = ("id", "rank")
DATETIME_NAMES = ("created",)
UUID_NAMES = ("uid",)
START = datetime.datetime(2024, 1, 1, tzinfo=UTC)


def make_records(n: int) -> list[dict[str, Any]]:
    """``n`` records of python values in one partition; called per run, so every run gets new ones."""
    return [{
        "id": PARTITION,
        "rank": i,
        "name": f"user number {i}",
        "email": f"user{i}@example.com",
        "price": decimal.Decimal(f"{i % 1000}.{i % 97:02d}"),
        "quantity": i % 500,
        "active": i % 2 == 0,
        "uid": uuid.UUID(int=i * 7919 + 1),
        "created": START + datetime.timedelta(seconds=i, microseconds=i % 1000 + 1),
        "tags": {f"tag-{i % 7}", f"tag-{i % 11}", "common"},
        "history": [i, i + 1, i + 2, i + 3],
        "profile": {"nickname": f"nick {i}", "age": 20 + i % 50, "score": decimal.Decimal(f"{i % 10}.5")},
        "blob": i.to_bytes(4, "big") * 4,
    } for i in range(n)]


def make_keys(n: int) -> list[dict[str, Any]]:
    """The python key values of the first ``n`` records (what a caller has before a load)."""
    return [{"id": PARTITION, "rank": i} for i in range(n)]


# ------------------------------------------------------------------------------------------ raw side
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def raw_datetime(value: datetime.datetime) -> str:
    """What a careful raw user stores: fixed-width UTC ISO 8601, so string order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def raw_dump(name: str, value: Any) -> dict:
    if name in DATETIME_NAMES:
        value = raw_datetime(value)
    elif name in UUID_NAMES:
        value = str(value)
    return _serialize(value)


def raw_save(client: Any, records: list[dict]) -> None:
    """PutItem per record, every attribute serialized."""
    for record in records:
        client.put_item(TableName=TABLE, Item={name: raw_dump(name, value) for name, value in record.items()})


def raw_unpack(item: dict) -> dict:
    values = {name: _deserialize(wire) for name, wire in item.items()}
    for name in DATETIME_NAMES:
        if name in values:
            values[name] = datetime.datetime.fromisoformat(values[name])
    for name in UUID_NAMES:
        if name in values:
            values[name] = uuid.UUID(values[name])
    return values


def raw_load(client: Any, keys: list[dict]) -> list[dict]:
    """BatchGetItem, 100 keys a call (following UnprocessedKeys), keys serialized and items deserialized."""
    loaded: list[dict] = []
    for start in range(0, len(keys), BATCH_GET_SIZE):
        chunk = keys[start:start + BATCH_GET_SIZE]
        request = {TABLE: {"Keys": [{name: _serialize(value) for name, value in key.items()} for key in chunk]}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            loaded.extend(raw_unpack(item) for item in response["Responses"].get(TABLE, ()))
            request = response.get("UnprocessedKeys")
    return loaded


def raw_query(client: Any, partition: str) -> list[dict]:
    """Every page of one partition, each item deserialized into a dict."""
    request = {"TableName": TABLE, "KeyConditionExpression": "#n0 = :v0",
               "ExpressionAttributeNames": {"#n0": "id"}, "ExpressionAttributeValues": {":v0": _serialize(partition)}}
    results: list[dict] = []
    while True:
        response = client.query(**request)
        results.extend(raw_unpack(item) for item in response["Items"])
        last = response.get("LastEvaluatedKey")
        if not last:
            return results
        request["ExclusiveStartKey"] = last


# ---------------------------------------------------------------------------------------- bloop side
def make_objects(records: list[dict]) -> list[Item]:
    return [Item(**record) for record in records]


def bloop_save(engine: Any, objs: list[Item]) -> None:
    for obj in objs:
        engine.save(obj)


def bloop_load(engine: Any, keys: list[dict]) -> list[Item]:
    """Key objects built here (timed, as raw's key serialization is), then one load for all of them."""
    objs = [Item(id=key["id"], rank=key["rank"]) for key in keys]
    engine.load(*objs)
    return objs


def bloop_query(engine: Any, partition: str) -> list[Item]:
    return list(engine.query(Item, key=Item.id == partition))


def values_of(obj: Item) -> dict:
    return {name: getattr(obj, name) for name in COLUMNS}


# ------------------------------------------------------------------------------------- canned service
def wire_item(record: dict) -> dict:
    return {name: raw_dump(name, value) for name, value in record.items()}


def canned_service(records: list[dict], query_count: int | None = None, page_size: int = PAGE_SIZE) -> CannedAWS:
    """PutItem, UpdateItem, BatchGetItem and Query answered from ``records``.

    A query returns the first ``query_count`` records (all by default), ``page_size`` a page.
    """
    all_items = [wire_item(record) for record in records]
    by_key = {(item["id"]["S"], item["rank"]["N"]): item for item in all_items}
    items = all_items if query_count is None else all_items[:query_count]

    def batch_get_item(params: dict) -> dict:
        return {"Responses": {table: [by_key[(key["id"]["S"], key["rank"]["N"])] for key in spec["Keys"]]
                              for table, spec in params["RequestItems"].items()},
                "UnprocessedKeys": {}}

    pages = []
    for start in range(0, len(items), page_size):
        page_items = items[start:start + page_size]
        page: dict[str, Any] = {"Items": page_items, "Count": len(page_items), "ScannedCount": len(page_items)}
        if start + page_size < len(items):
            page["LastEvaluatedKey"] = {"id": page_items[-1]["id"], "rank": page_items[-1]["rank"]}
        pages.append(page)
    page_after = {(p["LastEvaluatedKey"]["id"]["S"], p["LastEvaluatedKey"]["rank"]["N"]): pages[i + 1]
                  for i, p in enumerate(pages) if "LastEvaluatedKey" in p}
    empty = {"Items": [], "Count": 0, "ScannedCount": 0}

    def query(params: dict) -> dict:
        start = params.get("ExclusiveStartKey")
        if start is None:
            return pages[0] if pages else empty
        return page_after[(start["id"]["S"], start["rank"]["N"])]

    return (CannedAWS().on("PutItem", {}).on("UpdateItem", {}).on("BatchGetItem", batch_get_item)
            .on("Query", query))


# -------------------------------------------------------------------------------------------- timing
def run(n_save: int = N_SAVE, n_load: int = N_LOAD, query_pages: int = N_QUERY_PAGES,
        n_load_big: int = N_LOAD_BIG, repeats: int = REPEATS, repeats_big: int = REPEATS_BIG,
        out: Callable[[str], Any] = print) -> list[Result]:
    engine = make_engine(Item)
    client = engine.session.dynamodb_client
    query_count = query_pages * PAGE_SIZE
    records = make_records(max(n_save, n_load, n_load_big, query_count))

    # Each side is a prepare function returning the run to time; what a run consumes is built in
    # prepare, outside the clock, new for every run.
    def bloop_save_run() -> Callable[[], Any]:
        objs = make_objects(make_records(n_save))
        return lambda: bloop_save(engine, objs)

    def raw_save_run() -> Callable[[], Any]:
        fresh = make_records(n_save)
        return lambda: raw_save(client, fresh)

    def loads(n: int) -> tuple[Callable[[], Callable[[], Any]], Callable[[], Callable[[], Any]]]:
        def bloop_side() -> Callable[[], Any]:
            keys = make_keys(n)
            return lambda: bloop_load(engine, keys)

        def raw_side() -> Callable[[], Any]:
            keys = make_keys(n)
            return lambda: raw_load(client, keys)
        return bloop_side, raw_side

    load_bloop, load_raw = loads(n_load)
    big_bloop, big_raw = loads(n_load_big)
    workloads = [
        ("save (PutItem)", n_save, 1.2, bloop_save_run, raw_save_run, repeats, ""),
        ("load (BatchGetItem)", n_load, 1.0, load_bloop, load_raw, repeats, "both sides build their keys"),
        (f"query ({PAGE_SIZE}/page)", query_count, 1.0, lambda: lambda: bloop_query(engine, PARTITION),
         lambda: lambda: raw_query(client, PARTITION), repeats, ""),
    ]
    if n_load_big:
        workloads.insert(2, (f"load {n_load_big} in one call", n_load_big, None, big_bloop, big_raw, repeats_big,
                             "the garbage collector's share shows at this size"))
    results: list[Result] = []
    with patched(canned_service(records, query_count)):
        for name, n, target, bloop_side, raw_side, times, note in workloads:
            result = compare(name, n=n, target=target, repeats=times, bloop=bloop_side, raw=raw_side, note=note)
            results.append(result)
            out(format_result(result))
    return results


def main() -> list[Result]:
    return run()


if __name__ == "__main__":
    from .canned import print_table

    print_table(main())
