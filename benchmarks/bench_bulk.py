"""Bulk writes with a simulated 2 ms round trip per call: batch() and save(*objs) against a loop of saves.

Every DynamoDB call is answered in-process by ``SlowTable`` after a real ``time.sleep`` of the round
trip (outside any lock, so concurrent calls overlap as they would over the network). Targets (issue 4):
batch >= 20x the loop, save(*objs) >= 5x the loop, verifying 10,000 objects <= 100 read calls.
"""
from __future__ import annotations

import sys
import threading
import time

from bloop import BaseModel, Column, Engine, Integer, String

ROUND_TRIP = 0.002


class Item(BaseModel):
    id = Column(String, hash_key=True)
    n = Column(Integer)
    name = Column(String)


class SlowTable:
    """A fake dynamodb client: stores items, answers after ROUND_TRIP seconds, counts calls."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def _count(self, name: str) -> None:
        time.sleep(ROUND_TRIP)
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1

    def update_item(self, **request):
        self._count("UpdateItem")
        key = request["Key"]["id"]["S"]
        item = dict(self.items.get(key, request["Key"]))
        names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
        for assignment in request["UpdateExpression"].removeprefix("SET ").split(", "):
            name_ref, value_ref = assignment.split("=")
            item[names[name_ref]] = values[value_ref]
        with self._lock:
            self.items[key] = item
        return {}

    def batch_write_item(self, RequestItems):
        self._count("BatchWriteItem")
        with self._lock:
            for requests in RequestItems.values():
                for request in requests:
                    item = request["PutRequest"]["Item"]
                    self.items[item["id"]["S"]] = item
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems):
        self._count("BatchGetItem")
        responses = {}
        for table, spec in RequestItems.items():
            responses[table] = [self.items[k["id"]["S"]] for k in spec["Keys"] if k["id"]["S"] in self.items]
        return {"Responses": responses}


def make_engine() -> tuple[Engine, SlowTable]:
    table = SlowTable()
    engine = Engine(dynamodb=table, dynamodbstreams=object())
    engine.bind(Item, skip_table_setup=True)
    return engine, table


def objects(count: int) -> list[Item]:
    return [Item(id=str(i), n=i, name=f"item {i}") for i in range(count)]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(count: int) -> dict[str, float]:
    engine, _ = make_engine()
    loop_objs = objects(count)
    loop = timed(lambda: [engine.save(obj) for obj in loop_objs])

    engine, _ = make_engine()
    many = objects(count)
    concurrent = timed(lambda: engine.save(*many))

    engine, table = make_engine()
    batch_objs = objects(count)

    def batch_save() -> None:
        with engine.batch() as batch:
            batch.save(*batch_objs)
    batched = timed(batch_save)

    engine, table = make_engine()
    verified_objs = objects(count)

    def verified() -> None:
        with engine.batch(verify="item") as batch:
            batch.save(*verified_objs)
    timed(verified)
    return {"loop_s": loop, "save_many_s": concurrent, "batch_s": batched,
            "batch_speedup": loop / batched, "save_many_speedup": loop / concurrent,
            "verify_reads": table.calls.get("BatchGetItem", 0)}


def main(count: int = 10_000) -> list[tuple[str, float, str, bool]]:
    result = run(count)
    rows = [
        (f"batch() vs loop of save, {count} objects, 2 ms RTT", result["batch_speedup"], ">= 20x",
         result["batch_speedup"] >= 20),
        (f"save(*objs) vs loop of save, {count} objects, 2 ms RTT", result["save_many_speedup"], ">= 5x",
         result["save_many_speedup"] >= 5),
        (f"read calls to verify {count} batch-saved objects", result["verify_reads"], "<= 100",
         result["verify_reads"] <= 100),
    ]
    print(f"loop {result['loop_s']:.2f}s, save(*objs) {result['save_many_s']:.2f}s, batch {result['batch_s']:.2f}s")
    for name, value, target, ok in rows:
        print(f"{name:<60} {value:>8.1f}  target {target:<8} {'ok' if ok else 'MISSED'}")
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
