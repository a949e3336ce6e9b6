"""The benchmark workloads run, and bloop and raw boto3 do the same work (no timing here)."""
import re
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import pytest
from botocore.client import BaseClient

from benchmarks import bench_core
from benchmarks.canned import CannedAWS, Result, compare, make_engine, patched, print_table

N = 7  # not a multiple of anything the workloads chunk by
PAGE = 3


@pytest.fixture
def service():
    records = bench_core.make_records(N)
    canned = bench_core.canned_service(records, page_size=PAGE)
    canned.requests = []
    with patched(canned):
        yield records, canned


@pytest.fixture
def engine():
    return make_engine(bench_core.Item)


def _sorted_sets(wire):
    """Wire values with set members sorted (set iteration order is not part of the request) and numbers
    compared by value ("0.00" and "0" are the same number; bloop sends DynamoDB's canonical text)."""
    if isinstance(wire, dict):
        return {k: Decimal(v) if k == "N" else sorted(v) if k in ("SS", "NS", "BS") else _sorted_sets(v)
                for k, v in wire.items()}
    if isinstance(wire, list):
        return [_sorted_sets(v) for v in wire]
    return wire


def _set_attributes(request):
    """{attribute name: wire value} that an UpdateExpression of only SET clauses writes."""
    expression = request["UpdateExpression"]
    assert expression.startswith("SET ")
    names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
    written = {}
    for clause in expression[4:].split(", "):
        name_ref, value_ref = re.fullmatch(r"(#\w+) ?= ?(:\w+)", clause.strip()).groups()
        written[names[name_ref]] = _sorted_sets(values[value_ref])
    return written


def test_the_item_has_13_attributes_of_every_kind():
    record = bench_core.make_records(1)[0]
    assert len(bench_core.COLUMNS) == len(record) == 13
    assert set(bench_core.Item.Meta.columns_by_name) == set(bench_core.COLUMNS)
    wire = bench_core.wire_item(record)
    assert {tag for value in wire.values() for tag in value} == {"S", "N", "BOOL", "SS", "L", "M", "B"}
    assert {type(value) for value in record.values()} >= {str, int, Decimal, bool, UUID, datetime, set, list, dict,
                                                           bytes}


def test_save_writes_the_same_attributes(service, engine):
    records, canned = service
    client = engine.session.dynamodb_client

    bench_core.raw_save(client, records)
    raw_requests = [params for op, params in canned.requests if op == "PutItem"]
    canned.requests.clear()
    bench_core.bloop_save(engine, bench_core.make_objects(records))
    bloop_requests = [params for op, params in canned.requests if op == "UpdateItem"]

    assert len(raw_requests) == len(bloop_requests) == N
    for raw, ours in zip(raw_requests, bloop_requests):
        assert ours["TableName"] == raw["TableName"] == bench_core.TABLE
        raw_item = {name: _sorted_sets(value) for name, value in raw["Item"].items()}
        assert set(raw_item) == set(bench_core.COLUMNS)
        assert {**_sorted_sets(ours["Key"]), **_set_attributes(ours)} == raw_item


def test_an_unchanged_object_saved_again_sends_every_column_again(service, engine):
    records, canned = service
    objs = bench_core.make_objects(records[:1])
    bench_core.bloop_save(engine, objs)
    bench_core.bloop_save(engine, objs)
    first, second = [params for op, params in canned.requests if op in ("UpdateItem", "PutItem")]
    assert len(_set_attributes(first)) == 11
    # bloop 3.x sends the columns an unchanged object knows: one UpdateItem, never a key-only write
    assert _set_attributes(second) == _set_attributes(first)


def test_load_gives_the_same_values(service, engine):
    records, canned = service
    client = engine.session.dynamodb_client
    keys = bench_core.make_keys(N)

    raw = bench_core.raw_load(client, keys)
    objs = bench_core.bloop_load(engine, keys)

    assert canned.calls["BatchGetItem"] == 2  # one call for each side: N keys fit in one
    assert [bench_core.values_of(obj) for obj in objs] == raw == records


def test_load_batches_100_keys_a_call_on_both_sides():
    records = bench_core.make_records(250)
    canned = bench_core.canned_service(records)
    canned.requests = []
    engine = make_engine(bench_core.Item)
    keys = bench_core.make_keys(250)
    with patched(canned):
        bench_core.raw_load(engine.session.dynamodb_client, keys)
        raw_sizes = [len(params["RequestItems"][bench_core.TABLE]["Keys"]) for _, params in canned.requests]
        canned.requests.clear()
        bench_core.bloop_load(engine, keys)
        bloop_sizes = [len(params["RequestItems"][bench_core.TABLE]["Keys"]) for _, params in canned.requests]
    assert raw_sizes == bloop_sizes == [100, 100, 50]


def test_query_gives_the_same_values(service, engine):
    records, canned = service
    client = engine.session.dynamodb_client

    raw = bench_core.raw_query(client, bench_core.PARTITION)
    objs = bench_core.bloop_query(engine, bench_core.PARTITION)

    pages = -(-N // PAGE)
    assert canned.calls["Query"] == 2 * pages
    assert all(isinstance(obj, bench_core.Item) for obj in objs)
    assert [bench_core.values_of(obj) for obj in objs] == raw == records


def test_run_measures_every_workload_once():
    lines = []
    results = bench_core.run(n_save=3, n_load=3, query_pages=1, n_load_big=5, repeats=1, repeats_big=1,
                             out=lines.append)
    assert [r.name for r in results] == ["save (PutItem)", "load (BatchGetItem)", "load 5 in one call",
                                         "query (100/page)"]
    assert all(r.bloop > 0 and r.raw > 0 for r in results)
    assert len(lines) == len(results)
    table = []
    print_table(results, out=table.append)
    assert len(table) == 2 + len(results)


def test_the_canned_aws_is_removed_afterwards_and_refuses_unknown_calls(engine):
    original = BaseClient._make_api_call
    with patched(CannedAWS()):
        assert BaseClient._make_api_call is not original
        with pytest.raises(NotImplementedError, match="DeleteItem"):
            engine.session.dynamodb_client.delete_item(TableName="t", Key={})
    assert BaseClient._make_api_call is original


def test_compare_keeps_the_best_of_each_side():
    result = compare("noop", bloop=lambda: (lambda: None), raw=lambda: (lambda: sum(range(1000))),
                     target=1.0, repeats=3, warmup=0)
    assert isinstance(result, Result)
    assert result.bloop <= result.bloop_median and result.raw <= result.raw_median
    assert result.met is (result.ratio <= 1.0)


def test_the_runner_finds_every_bench_module_and_reads_what_main_returns():
    from benchmarks.__main__ import _results_of, discover

    assert "bench_core" in discover([])
    assert discover(["no-such-benchmark"]) == []
    rows, checks = _results_of("bench_x", [
        Result("a", 2.0, 1.0, 1.5),
        {"name": "b", "bloop": 1.0, "raw": 2.0, "target": 1.0},
        ("batch vs loop", 25.0, ">= 20x", True),  # a check that is not a bloop/raw ratio
    ])
    assert [(r.name, r.ratio, r.met) for r in rows] == [("a", 2.0, False), ("b", 0.5, True)]
    assert checks == [("batch vs loop", 25.0, ">= 20x", True)]
    assert _results_of("bench_x", None) == ([], [])
