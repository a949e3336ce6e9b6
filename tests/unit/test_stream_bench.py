"""The stream benchmark workloads run, and bloop and raw boto3 produce the same values (no timing here)."""
from benchmarks import bench_stream
from benchmarks.bench_core import COLUMNS
from benchmarks.canned import patched
from bloop.stream import Stream


def test_unpacking_gives_the_raw_values_for_both_images():
    records = bench_stream.make_stream_records(7)
    engine = bench_stream.stream_engine()
    with patched(bench_stream.canned_stream(records, page=3)):
        raw = bench_stream.raw_read(engine.session.stream_client, 7)
        stream = Stream(model=bench_stream.StreamItem, engine=engine, max_workers=1)
        stream.move_to("trim_horizon")
        events = bench_stream.bloop_read(stream, 7)
    for (raw_new, raw_old), event in zip(raw, events):
        assert {name: getattr(event["new"], name) for name in COLUMNS} == raw_new
        assert {name: getattr(event["old"], name) for name in COLUMNS} == raw_old
        assert event["key"].rank == raw_new["rank"]


def test_both_workloads_produce_results():
    unpack = bench_stream.run_unpack(n=20, repeats=1)
    assert unpack.bloop > 0 and unpack.raw > 0 and unpack.target == 1.0
    polling = bench_stream.run_concurrency(shards=4, per_shard=6, page=2, latency=0.001)
    assert polling.n == 24 and polling.bloop > 0 and polling.raw > 0
