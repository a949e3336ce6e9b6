"""S3-backed columns: a 1 MB value saved and loaded, bloop against raw boto3, and the calls per operation.

Three figures:

* time, canned: every AWS call is answered in-process by a small item and object store (below, on
  ``canned.py``), so only the library's work is timed. The raw side is what a careful boto3 user
  writes: PutObject under a fresh key, then UpdateItem with the pointer; GetItem, then GetObject. bloop
  also hashes the value (SHA-256, for the pointer) on save and checks it on load, and asks for the old
  image to remove the object it replaces: that is most of its extra work, so these rows are information,
  not targets;
* calls per operation (the same store counts them): a blind save, a load, a save of unchanged content,
  a save of new content, a delete, a save of an inline value;
* wall time of the 1 MB save and load over HTTP on the embedded moto server (information; skipped when
  moto is not installed).

``python -m benchmarks.bench_s3`` runs only this module.
"""
from __future__ import annotations

import io
import re
import statistics
import time
import uuid
from typing import Any, Callable

import boto3

from bloop import BaseModel, Binary, Column, Engine, String
from bloop.ext.s3 import S3Blob

from .canned import CannedAWS, clients, compare, format_result, patched

BUCKET = "bench-s3"
TABLE = "bench-s3-docs"
SIZE = 1024 * 1024
REPEATS = 7


class Doc(BaseModel):
    class Meta:
        table_name = TABLE

    id = Column(String, hash_key=True)
    body = Column(S3Blob(Binary, bucket=BUCKET))


def value(tag: str = "v", size: int = SIZE) -> bytes:
    seed = f"{tag}:".encode()
    return (seed * (size // len(seed) + 1))[:size]


# ------------------------------------------------------------------------------------- canned store
class Store:
    """Items and objects in dicts, enough of DynamoDB and S3 for these workloads (conditions always pass)."""

    def __init__(self) -> None:
        self.items: dict[tuple, dict] = {}
        self.objects: dict[tuple[str, str], bytes] = {}
        self.aws = CannedAWS()
        handlers = {"UpdateItem": self.update_item, "GetItem": self.get_item, "BatchGetItem": self.batch_get_item,
                    "DeleteItem": self.delete_item, "PutObject": self.put_object, "GetObject": self.get_object,
                    "HeadObject": self.head_object, "DeleteObjects": self.delete_objects,
                    "CopyObject": self.copy_object}
        for operation, handler in handlers.items():
            self.aws.on(operation, handler)

    @staticmethod
    def _identity(table: str, key: dict) -> tuple:
        return table, tuple(sorted((name, repr(wire)) for name, wire in key.items()))

    def update_item(self, params: dict) -> dict:
        identity = self._identity(params["TableName"], params["Key"])
        old = self.items.get(identity)
        item = dict(old or params["Key"])
        names, values = params.get("ExpressionAttributeNames", {}), params.get("ExpressionAttributeValues", {})
        for clause, body in re.findall(r"(SET|REMOVE) ([^A-Z]+?)(?= SET | REMOVE |$)", params["UpdateExpression"]):
            for part in body.split(","):
                if clause == "SET":
                    name, ref = (p.strip() for p in part.split("="))
                    item[names[name]] = values[ref]
                else:
                    item.pop(names[part.strip()], None)
        self.items[identity] = item
        if params.get("ReturnValues") == "ALL_OLD" and old:
            return {"Attributes": old}
        return {}

    def get_item(self, params: dict) -> dict:
        item = self.items.get(self._identity(params["TableName"], params["Key"]))
        return {"Item": item} if item else {}

    def batch_get_item(self, params: dict) -> dict:
        found = {table: [item for key in spec["Keys"] if (item := self.items.get(self._identity(table, key)))]
                 for table, spec in params["RequestItems"].items()}
        return {"Responses": found}

    def delete_item(self, params: dict) -> dict:
        old = self.items.pop(self._identity(params["TableName"], params["Key"]), None)
        return {"Attributes": old} if old and params.get("ReturnValues") == "ALL_OLD" else {}

    def put_object(self, params: dict) -> dict:
        self.objects[(params["Bucket"], params["Key"])] = bytes(params["Body"])
        return {}

    def get_object(self, params: dict) -> dict:
        return {"Body": io.BytesIO(self.objects[(params["Bucket"], params["Key"])])}

    def head_object(self, params: dict) -> dict:
        return {"ContentLength": len(self.objects[(params["Bucket"], params["Key"])])}

    def delete_objects(self, params: dict) -> dict:
        for entry in params["Delete"]["Objects"]:
            self.objects.pop((params["Bucket"], entry["Key"]), None)
        return {}

    def copy_object(self, params: dict) -> dict:
        return {}


def canned_engine() -> tuple[Engine, Any]:
    dynamodb, dynamodbstreams = clients()
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    engine = Engine(dynamodb=dynamodb, dynamodbstreams=dynamodbstreams, s3=s3)
    engine.bind(Doc, skip_table_setup=True)
    return engine, s3


# ------------------------------------------------------------------------------------------ the sides
def bloop_save(engine: Engine, key: str, data: bytes) -> None:
    engine.save(Doc(id=key, body=data))


def bloop_load(engine: Engine, key: str) -> bytes:
    doc = Doc(id=key)
    engine.load(doc)
    return doc.body


def raw_save(dynamodb: Any, s3: Any, key: str, data: bytes) -> None:
    object_key = f"raw/{key}/{uuid.uuid4().hex}"
    s3.put_object(Bucket=BUCKET, Key=object_key, Body=data)
    pointer = {"M": {"bucket": {"S": BUCKET}, "key": {"S": object_key}, "size": {"N": str(len(data))}}}
    dynamodb.update_item(TableName=TABLE, Key={"id": {"S": key}}, UpdateExpression="SET #b=:b",
                         ExpressionAttributeNames={"#b": "body"}, ExpressionAttributeValues={":b": pointer})


def raw_load(dynamodb: Any, s3: Any, key: str) -> bytes:
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": key}})["Item"]
    pointer = item["body"]["M"]
    return s3.get_object(Bucket=pointer["bucket"]["S"], Key=pointer["key"]["S"])["Body"].read()


# ------------------------------------------------------------------------------------------- figures
def calls_per_operation(engine: Engine, store: Store, size: int = SIZE) -> dict[str, dict[str, int]]:
    """Calls each operation makes, by operation name."""
    def counted(operation: Callable[[], Any]) -> dict[str, int]:
        store.aws.calls.clear()
        operation()
        return dict(sorted(store.aws.calls.items()))

    loaded = Doc(id="calls")
    rows = {"save (new item)": counted(lambda: engine.save(Doc(id="calls", body=value("a", size)))),
            "load": counted(lambda: engine.load(loaded))}
    loaded.body = value("a", size)
    rows["save (same content)"] = counted(lambda: engine.save(loaded))
    loaded.body = value("b", size)
    rows["save (new content)"] = counted(lambda: engine.save(loaded))
    rows["delete"] = counted(lambda: engine.delete(loaded))
    rows["save (inline value)"] = counted(lambda: engine.save(Doc(id="small", body=b"small")))
    return rows


def timed(size: int = SIZE, repeats: int = REPEATS) -> list:
    engine, s3 = canned_engine()
    dynamodb = engine.session.dynamodb_client
    store = Store()
    data = value("t", size)
    with patched(store.aws):
        bloop_save(engine, "load-me", data)
        raw_save(dynamodb, s3, "raw-load-me", data)
        assert bloop_load(engine, "load-me") == raw_load(dynamodb, s3, "raw-load-me") == data
        note = "bloop hashes the value (SHA-256)"
        results = [
            compare(f"save {size // 1024} KB", bloop=lambda: lambda: bloop_save(engine, "k", data),
                    raw=lambda: lambda: raw_save(dynamodb, s3, "k", data), target=None, n=1, repeats=repeats,
                    note=note + "; asks for ALL_OLD"),
            compare(f"load {size // 1024} KB", bloop=lambda: lambda: bloop_load(engine, "load-me"),
                    raw=lambda: lambda: raw_load(dynamodb, s3, "raw-load-me"), target=None, n=1,
                    repeats=repeats, note=note + " to check it"),
        ]
        calls = calls_per_operation(engine, store, size)
    return [results, calls]


def over_http(size: int = SIZE, repeats: int = 5) -> dict[str, float] | None:
    """Median seconds of a save and a load on the embedded moto server; None without moto."""
    try:
        from bloop.local import LocalAWS
        aws = LocalAWS().start()
    except ImportError:
        return None
    try:
        aws.s3.create_bucket(Bucket=BUCKET)
        engine = aws.engine(s3=aws.s3, table_name_template="bench-{table_name}")
        engine.bind(Doc)
        saves, loads = [], []
        for repeat in range(repeats):
            data = value(f"h{repeat}", size)
            start = time.perf_counter()
            engine.save(Doc(id="http", body=data))
            saves.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert bloop_load(engine, "http") == data
            loads.append(time.perf_counter() - start)
        return {"save": statistics.median(saves), "load": statistics.median(loads)}
    finally:
        aws.reset()
        aws.stop()


def run(size: int = SIZE, repeats: int = REPEATS, http: bool = True, out: Callable[[str], Any] = print) -> list:
    results, calls = timed(size, repeats)
    for result in results:
        out(format_result(result))
    out("calls per operation (1 object):")
    for name, counted in calls.items():
        out(f"  {name:<22} " + ", ".join(f"{op} {n}" for op, n in counted.items()))
    if http:
        wall = over_http(size)
        if wall is not None:
            out(f"over HTTP (moto, median of 5): save {size // 1024} KB {wall['save'] * 1e3:.1f} ms, "
                f"load {wall['load'] * 1e3:.1f} ms")
    return results


def main() -> list:
    return run()


if __name__ == "__main__":
    main()
