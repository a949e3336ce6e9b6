"""The S3 benchmark's workloads run in-process and count the calls an S3-backed column makes (no timing)."""
from benchmarks import bench_s3
from benchmarks.__main__ import discover
from benchmarks.canned import patched


def test_the_runner_finds_the_module():
    assert "bench_s3" in discover(["s3"])


def test_calls_per_operation_never_upload_unchanged_content():
    engine, _ = bench_s3.canned_engine()
    store = bench_s3.Store()
    with patched(store.aws):
        calls = bench_s3.calls_per_operation(engine, store, size=10_000)
    assert calls == {
        "save (new item)": {"PutObject": 1, "UpdateItem": 1},
        "load": {"BatchGetItem": 1, "GetObject": 1},
        "save (same content)": {"UpdateItem": 1},
        "save (new content)": {"DeleteObjects": 1, "PutObject": 1, "UpdateItem": 1},
        "delete": {"DeleteItem": 1, "DeleteObjects": 1},
        "save (inline value)": {"UpdateItem": 1},
    }
    assert store.objects == {}  # the delete removed the last object


def test_both_sides_store_and_load_the_same_value():
    engine, s3 = bench_s3.canned_engine()
    dynamodb = engine.session.dynamodb_client
    store = bench_s3.Store()
    data = bench_s3.value("same", 50_000)
    with patched(store.aws):
        bench_s3.bloop_save(engine, "a", data)
        bench_s3.raw_save(dynamodb, s3, "b", data)
        assert bench_s3.bloop_load(engine, "a") == bench_s3.raw_load(dynamodb, s3, "b") == data
    assert sorted(len(body) for body in store.objects.values()) == [50_000, 50_000]


def test_run_reports_both_timings_and_the_calls():
    lines = []
    results = bench_s3.run(size=20_000, repeats=1, http=False, out=lines.append)
    assert [r.name for r in results] == ["save 19 KB", "load 19 KB"]
    assert all(r.bloop > 0 and r.raw > 0 and r.target is None for r in results)
    assert any("save (same content)" in line and "PutObject" not in line for line in lines)
