"""The bulk-write benchmark's workload runs and its call accounting holds (no timing asserted)."""
from benchmarks import bench_bulk


def test_bulk_benchmark_workload(monkeypatch):
    monkeypatch.setattr(bench_bulk, "ROUND_TRIP", 0)
    result = bench_bulk.run(250)
    assert result["verify_reads"] == 3  # 250 objects, 100 keys per BatchGetItem


def test_batch_and_loop_store_the_same_items(monkeypatch):
    monkeypatch.setattr(bench_bulk, "ROUND_TRIP", 0)
    engine, table = bench_bulk.make_engine()
    for obj in bench_bulk.objects(30):
        engine.save(obj)
    looped = dict(table.items)
    engine, table = bench_bulk.make_engine()
    with engine.batch() as batch:
        batch.save(*bench_bulk.objects(30))
    assert table.items == looped
    assert table.calls == {"BatchWriteItem": 2}
