"""Streams: unpacking overhead against raw boto3, and concurrent polling of many shards.

(a) ``stream unpack``: the same GetRecords pages (records with both images of bench_core's 8-column
    item), answered in-process by the canned AWS. Raw boto3 deserializes both images of each record with
    ``TypeDeserializer`` (and parses the DateTime column, so both sides end with the same python values);
    bloop's Stream turns each record into an event with key, old and new model instances. Target <= 1.0x.
(b) ``32 shards, 10 ms``: a canned 32-shard stream whose GetRecords sleeps 10 ms (a network round trip).
    bloop's Stream polling shards concurrently against the same Stream polling one shard at a time
    (``max_workers=1``), as bloop 3.x did. The ratio is concurrent / one-at-a-time time: <= 1/8 means
    >= 8x the throughput. The main row is latency-bound (10 records per call, a consumer near the
    head); the info row (100 records per call) shows decoding, which no polling strategy speeds up
    (the GIL), taking over.

``python -m benchmarks.bench_stream`` runs only this module.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from dateutil.tz import tzlocal

from bloop import Engine
from bloop.engine import BoundTable
from bloop.stream import Stream

from .bench_core import Item, make_records, raw_unpack, wire_item
from .canned import CannedAWS, Result, compare, format_result, make_engine, patched

N_RECORDS = 5000
PAGE = 1000
REPEATS = 7
SHARDS = 32
LATENCY = 0.010
RECORDS_PER_SHARD = 100
SIM_PAGE = 10  # a consumer near the head gets a few records per call: latency-bound
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/bench-stream-items/stream/2026-01-01T00:00:00.000"
SHARD_ID = "shardId-00000001767225600000-00000001"


class StreamItem(Item):
    class Meta:
        table_name = "bench-stream-items"
        stream = {"include": ["new", "old"]}


# ------------------------------------------------------------------------------------- (a) unpacking
def make_stream_records(n: int) -> list[dict]:
    """MODIFY records with both images, as boto3's get_records returns them (created_at in local time)."""
    records = make_records(n)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = []
    for number, record in enumerate(records):
        new = wire_item(record)
        old = dict(new, price={"N": "1"}, active={"BOOL": not record["active"]})
        out.append({
            "eventID": f"{number:032x}", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {"ApproximateCreationDateTime": (start + timedelta(seconds=number)).astimezone(tzlocal()),
                         "Keys": {"id": new["id"], "rank": new["rank"]}, "NewImage": new, "OldImage": old,
                         "SequenceNumber": str(10**21 + number * 7), "SizeBytes": 500,
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}})
    return out


def canned_stream(records: list[dict], page: int = PAGE) -> CannedAWS:
    """One shard holding ``records``; iterator ``it-<k>`` reads page k, past the end an empty head page."""
    pages = [records[start:start + page] for start in range(0, len(records), page)]

    def get_records(params: dict) -> dict:
        number = int(params["ShardIterator"].split("-")[1])
        if number >= len(pages):
            return {"Records": [], "NextShardIterator": params["ShardIterator"]}
        return {"Records": pages[number], "NextShardIterator": f"it-{number + 1}"}

    description = {"StreamDescription": {
        "StreamArn": STREAM_ARN, "StreamStatus": "ENABLED", "StreamViewType": "NEW_AND_OLD_IMAGES",
        "Shards": [{"ShardId": SHARD_ID, "SequenceNumberRange": {"StartingSequenceNumber": str(10**21 - 1)}}]}}
    return (CannedAWS().on("DescribeStream", description)
            .on("GetShardIterator", {"ShardIterator": "it-0"}).on("GetRecords", get_records))


def raw_read(client: Any, n: int) -> list[tuple[dict, dict]]:
    """What a boto3 user writes: follow the iterator, deserialize both images of every record."""
    iterator = client.get_shard_iterator(StreamArn=STREAM_ARN, ShardId=SHARD_ID,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out: list[tuple[dict, dict]] = []
    while len(out) < n:
        response = client.get_records(ShardIterator=iterator)
        for record in response["Records"]:
            images = record["dynamodb"]
            out.append((raw_unpack(images["NewImage"]), raw_unpack(images["OldImage"])))
        iterator = response["NextShardIterator"]
    return out


def bloop_read(stream: Stream, n: int) -> list[dict]:
    return [next(stream) for _ in range(n)]


def stream_engine() -> Engine:
    engine = make_engine(StreamItem)
    engine._bound[StreamItem] = BoundTable(StreamItem.Meta.table_name, STREAM_ARN)
    return engine


def run_unpack(n: int = N_RECORDS, repeats: int = REPEATS) -> Result:
    engine = stream_engine()
    client = engine.session.stream_client
    records = make_stream_records(n)

    def bloop_side() -> Callable[[], Any]:
        stream = Stream(model=StreamItem, engine=engine, max_workers=1)
        stream.move_to("trim_horizon")  # DescribeStream + GetShardIterator: positioning, not unpacking
        return lambda: bloop_read(stream, n)

    with patched(canned_stream(records)):
        return compare("stream unpack", bloop=bloop_side, raw=lambda: lambda: raw_read(client, n), target=1.0, n=n,
                       repeats=repeats, note="both images per record; bloop also builds key + event")


# ------------------------------------------------------------------------------ (b) many shards, RTT
def sharded_stream(records: list[dict], shards: int, page: int, latency: float) -> CannedAWS:
    """``shards`` shards sharing ``records`` round-robin; every GetRecords sleeps ``latency`` (unlocked, so
    concurrent calls overlap as they would over the network)."""
    shard_ids = [f"shardId-00000001767225600000-{number:08x}" for number in range(shards)]
    pages = {shard_id: [] for shard_id in shard_ids}
    for number, shard_id in enumerate(shard_ids):
        mine = records[number::shards]
        pages[shard_id] = [mine[start:start + page] for start in range(0, len(mine), page)]

    def get_records(params: dict) -> dict:
        time.sleep(latency)
        _, shard_id, number = params["ShardIterator"].split("|")
        shard_pages = pages[shard_id]
        if int(number) >= len(shard_pages):
            return {"Records": [], "NextShardIterator": params["ShardIterator"]}
        return {"Records": shard_pages[int(number)], "NextShardIterator": f"it|{shard_id}|{int(number) + 1}"}

    description = {"StreamDescription": {
        "StreamArn": STREAM_ARN, "StreamStatus": "ENABLED", "StreamViewType": "NEW_AND_OLD_IMAGES",
        "Shards": [{"ShardId": shard_id, "SequenceNumberRange": {"StartingSequenceNumber": str(10**21 - 1)}}
                   for shard_id in shard_ids]}}
    return (CannedAWS().on("DescribeStream", description)
            .on("GetShardIterator", lambda params: {"ShardIterator": f"it|{params['ShardId']}|0"})
            .on("GetRecords", get_records))


def time_polling(engine: Engine, total: int, max_workers: int) -> float:
    """Seconds until ``total`` records were delivered by a Stream polling ``max_workers`` shards at once."""
    with Stream(model=StreamItem, engine=engine, max_workers=max_workers) as stream:
        stream.move_to("trim_horizon")
        started = time.perf_counter()
        delivered = 0
        while delivered < total:
            if next(stream) is not None:
                delivered += 1
        return time.perf_counter() - started


def run_concurrency(shards: int = SHARDS, per_shard: int = RECORDS_PER_SHARD, page: int = SIM_PAGE,
                    latency: float = LATENCY, target: float | None = 1 / 8) -> Result:
    """Concurrent against one-shard-at-a-time polling; reported as time ratio (<= 1/8: >= 8x throughput)."""
    records = make_stream_records(shards * per_shard)
    engine = stream_engine()
    with patched(sharded_stream(records, shards, page, latency)):
        sequential = time_polling(engine, len(records), max_workers=1)
        concurrent = time_polling(engine, len(records), max_workers=shards)
    return Result(name=f"{shards} shards, {latency * 1000:.0f} ms, {page}/call", bloop=concurrent, raw=sequential,
                  target=target, n=len(records),
                  note=f"{sequential / concurrent:.1f}x the throughput of polling one shard at a time")


def main() -> list[Result]:
    results = [run_unpack(), run_concurrency(),
               run_concurrency(per_shard=400, page=100, target=None)]  # info: decoding, not latency, dominates
    for result in results:
        print(format_result(result) + (f"  ({result.note})" if result.note else ""))
    return results


if __name__ == "__main__":
    from .canned import print_table

    print_table(main())
