"""save, load and query: bloop against the same workload in raw boto3 with TypeSerializer/TypeDeserializer.

Budget (design.md section 6): save <= 1.2x raw; load and query <= 1.0x raw.

Both sides work on the same records, call the same client methods and get the same canned responses
(``canned.py``), and produce the same wire requests and python values; ``tests/unit/test_benchmarks_run.py``
checks that. The raw side is what a careful boto3 user writes: an UpdateExpression with placeholders,
DateTime stored as fixed-width UTC ISO 8601 (the format bloop uses, so both store the same strings) and
parsed back with ``datetime.fromisoformat`` so both sides end with the same python values.

``python -m benchmarks.bench_core`` runs only this module.
"""
from __future__ import annotations

import datetime
import decimal
from typing import Any, Callable

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bloop import BaseModel, Boolean, Column, DateTime, Integer, List, Map, Number, Set, String

from .canned import CannedAWS, Result, compare, format_result, make_engine, patched

TABLE = "bench-core-items"
PARTITION = "bench"
PAGE_SIZE = 100
UTC = datetime.timezone.utc

# sized so that the whole module runs in about 10 s on a slow, busy machine
N_SAVE = 1000
N_LOAD = 1000
N_QUERY_PAGES = 10
REPEATS = 15  # best of 15: other processes on a busy machine inflate single runs, rarely all of them


class Item(BaseModel):
    """Eight columns of mixed types; ``id`` + ``rank`` is the key, so a query walks one partition."""

    class Meta:
        table_name = TABLE

    id = Column(String, hash_key=True)
    rank = Column(Integer, range_key=True)
    price = Column(Number)
    active = Column(Boolean)
    tags = Column(Set(String))
    profile = Column(Map(name=String, age=Integer, score=Number))
    history = Column(List(Integer))
    created = Column(DateTime)


COLUMNS = ("id", "rank", "price", "active", "tags", "profile", "history", "created")
KEY_NAMES = ("id", "rank")
DATETIME_NAMES = ("created",)
START = datetime.datetime(2024, 1, 1, tzinfo=UTC)


def make_records(n: int) -> list[dict[str, Any]]:
    """``n`` records of python values in one partition, shared by both sides."""
    return [{
        "id": PARTITION,
        "rank": i,
        "price": decimal.Decimal(f"{i % 1000}.{i % 97:02d}"),
        "active": i % 2 == 0,
        "tags": {f"tag-{i % 7}", f"tag-{i % 11}", "common"},
        "profile": {"name": f"user {i}", "age": 20 + i % 50, "score": decimal.Decimal(f"{i % 10}.5")},
        "history": [i, i + 1, i + 2, i + 3],
        "created": START + datetime.timedelta(seconds=i, microseconds=i % 1000 + 1),
    } for i in range(n)]


# ------------------------------------------------------------------------------------------ raw side
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def raw_datetime(value: datetime.datetime) -> str:
    """What a careful raw user stores: fixed-width UTC ISO 8601, so string order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def raw_dump(name: str, value: Any) -> dict:
    return _serialize(raw_datetime(value) if name in DATETIME_NAMES else value)


def raw_key(record: dict) -> dict:
    return {name: _serialize(record[name]) for name in KEY_NAMES}


def raw_save(client: Any, records: list[dict]) -> None:
    """UpdateItem per record: SET every non-key attribute through #name / :value placeholders."""
    for record in records:
        names: dict[str, str] = {}
        values: dict[str, dict] = {}
        clauses = []
        for name, value in record.items():
            if name in KEY_NAMES:
                continue
            index = len(names)
            names[f"#n{index}"] = name
            values[f":v{index}"] = raw_dump(name, value)
            clauses.append(f"#n{index}=:v{index}")
        client.update_item(TableName=TABLE, Key=raw_key(record), UpdateExpression="SET " + ", ".join(clauses),
                           ExpressionAttributeNames=names, ExpressionAttributeValues=values)


def raw_unpack(item: dict) -> dict:
    values = {name: _deserialize(wire) for name, wire in item.items()}
    for name in DATETIME_NAMES:
        if name in values:
            values[name] = datetime.datetime.fromisoformat(values[name])
    return values


def raw_load(client: Any, keys: list[dict]) -> list[dict]:
    """BatchGetItem, 100 keys a call (following UnprocessedKeys), each item deserialized into a dict."""
    loaded = []
    for start in range(0, len(keys), 100):
        request = {TABLE: {"Keys": [raw_key(key) for key in keys[start:start + 100]]}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            loaded.extend(raw_unpack(item) for item in response["Responses"].get(TABLE, ()))
            request = response.get("UnprocessedKeys")
    return loaded


def raw_query(client: Any, partition: str) -> list[dict]:
    """Every page of one partition, each item deserialized into a dict."""
    request = {"TableName": TABLE, "KeyConditionExpression": "#n0 = :v0",
               "ExpressionAttributeNames": {"#n0": "id"}, "ExpressionAttributeValues": {":v0": _serialize(partition)}}
    results = []
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


def make_key_objects(records: list[dict]) -> list[Item]:
    return [Item(id=record["id"], rank=record["rank"]) for record in records]


def bloop_save(engine: Any, objs: list[Item]) -> None:
    for obj in objs:
        engine.save(obj)


def bloop_load(engine: Any, objs: list[Item]) -> list[Item]:
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
    """UpdateItem, BatchGetItem and Query answered from ``records``.

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

    return CannedAWS().on("UpdateItem", {}).on("BatchGetItem", batch_get_item).on("Query", query)


# -------------------------------------------------------------------------------------------- timing
def run(n_save: int = N_SAVE, n_load: int = N_LOAD, query_pages: int = N_QUERY_PAGES,
        repeats: int = REPEATS, out: Callable[[str], Any] = print) -> list[Result]:
    engine = make_engine(Item)
    client = engine.session.dynamodb_client
    query_count = query_pages * PAGE_SIZE
    records = make_records(max(n_save, n_load, query_count))
    save_records, load_records = records[:n_save], records[:n_load]
    load_keys = [{name: record[name] for name in KEY_NAMES} for record in load_records]

    # Each side is a prepare function returning the run to time. bloop's objects are built in prepare,
    # outside the clock (every save run needs fresh, changed objects); the raw records need no building,
    # and serializing them is timed, as dumping the objects is on bloop's side.
    def bloop_save_run() -> Callable[[], Any]:
        objs = make_objects(save_records)
        return lambda: bloop_save(engine, objs)

    def bloop_load_run() -> Callable[[], Any]:
        objs = make_key_objects(load_records)
        return lambda: bloop_load(engine, objs)

    results = []
    with patched(canned_service(records, query_count)):
        for name, n, target, bloop_side, raw_side, note in (
            ("save", n_save, 1.2, bloop_save_run, lambda: lambda: raw_save(client, save_records), ""),
            ("load", n_load, 1.0, bloop_load_run, lambda: lambda: raw_load(client, load_keys), ""),
            ("load incl. key objects", n_load, None,
             lambda: lambda: bloop_load(engine, make_key_objects(load_records)),
             lambda: lambda: raw_load(client, load_keys), "bloop also builds Item(id=, rank=) per key"),
            (f"query ({PAGE_SIZE}/page)", query_count, 1.0,
             lambda: lambda: bloop_query(engine, PARTITION), lambda: lambda: raw_query(client, PARTITION), ""),
        ):
            result = compare(name, n=n, target=target, repeats=repeats, bloop=bloop_side, raw=raw_side, note=note)
            results.append(result)
            out(format_result(result))
    return results


def main() -> list[Result]:
    return run()


if __name__ == "__main__":
    from .canned import print_table

    print_table(main())
