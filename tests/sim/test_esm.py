"""The Lambda adapter under a simulated event source mapping (tests/sim/esm.py): batches, retries from the
reported record, bisect, retry limits, parallelization and timeouts, over a stream with splits.

"Nothing lost or applied out of order per key" is checked by ``check_applied`` against the simulator's write
log: every record applied (or discarded *and* listed in the on-failure destination, F29), first applications
per key in write order, and the last application of each key is its last write (F28, F30).
"""
from __future__ import annotations

import random

import pytest

from bloop import BaseModel, Column, Engine, Integer, String
from bloop.ext.aws_lambda import lambda_handler
from tests.sim import SimulatedStreams
from tests.sim.esm import EventSourceMapping, Stuck, check_applied


class Item(BaseModel):
    class Meta:
        table_name = "Table"
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    value = Column(Integer)


def write_workload(sim: SimulatedStreams, *, writes: int = 150, keys: int = 8, seed: int = 1,
                   split_after: tuple = (50, 100)) -> None:
    """Puts and deletes over a few keys; every open shard splits after each count in ``split_after``."""
    rng = random.Random(seed)
    present: set = set()
    for number in range(writes):
        key = f"k{rng.randrange(keys)}"
        if key in present and rng.random() < 0.15:
            sim.delete_item({"id": {"S": key}})
            present.discard(key)
        else:
            sim.put_item({"id": {"S": key}, "value": {"N": str(number)}})
            present.add(key)
        if number + 1 in split_after:
            for shard_id in sim.open_shard_ids():
                sim.split(shard_id, children=2)


class Handler:
    """A stream handler whose chosen records fail their first ``failures`` attempts (or always)."""

    def __init__(self, failing: set = frozenset(), failures: int = 2, spend_ms: int = 0, esm=None):
        self.failing = set(failing)
        self.failures = failures
        self.attempts: dict = {}
        self.applied: list = []
        self.spend_ms = spend_ms
        self.esm = esm

    def __call__(self, event: dict) -> None:
        if self.spend_ms:
            self.esm.context.spend(self.spend_ms)
        sequence = event["meta"]["sequence_number"]
        if sequence in self.failing:
            self.attempts[sequence] = self.attempts.get(sequence, 0) + 1
            if self.failures is None or self.attempts[sequence] <= self.failures:
                raise RuntimeError(f"transient failure of {sequence}")
        self.applied.append(event)


def offline_engine(sim: SimulatedStreams) -> Engine:
    engine = Engine(dynamodb=sim, dynamodbstreams=sim)
    engine.bind(Item, skip_table_setup=True)
    return engine


def every_nth(sim: SimulatedStreams, n: int) -> set:
    return {record.sequence_number for record in sim.write_log[n - 1::n]}


def violations(sim: SimulatedStreams, handler: Handler, esm: EventSourceMapping) -> list:
    return check_applied(sim.write_log, handler.applied, stream_arn=sim.stream_arn, now=sim.clock.now(),
                         on_failure=esm.on_failure, discarded=esm.discarded)


@pytest.mark.parametrize("bisect", [False, True], ids=["bisect-off", "bisect-on"])
@pytest.mark.parametrize("report", [False, True], ids=["raise", "report"])
def test_nothing_lost_or_out_of_order_per_key(report, bisect):
    sim = SimulatedStreams(shard_count=2, seed=3)
    write_workload(sim)
    handler = Handler(failing=every_nth(sim, 7))
    function = lambda_handler(handler, model=Item, engine=offline_engine(sim), report_batch_item_failures=report)
    esm = EventSourceMapping(sim, function, batch_size=10, report_batch_item_failures=report,
                             bisect_batch_on_function_error=bisect)
    esm.run()
    assert violations(sim, handler, esm) == []
    outcomes = {invocation.outcome for invocation in esm.invocations}
    assert outcomes == ({"ok", "partial"} if report else {"ok", "error"})
    assert len(esm.shards) == 2 + 4 + 8  # two splits of every open shard: children waited for their parents
    if bisect:
        assert min(len(invocation.sequence_numbers) for invocation in esm.invocations) < 10
    if not report:
        # raising retries the whole batch: records before the failure are applied again (idempotency's job)
        assert len(handler.applied) > len(sim.write_log)


def test_per_key_order_holds_with_parallel_batches_per_shard():
    sim = SimulatedStreams(shard_count=1, seed=4)
    write_workload(sim, writes=200, keys=12, split_after=(120,))
    handler = Handler(failing=every_nth(sim, 5))
    function = lambda_handler(handler, model=Item, engine=offline_engine(sim), report_batch_item_failures=True)
    esm = EventSourceMapping(sim, function, batch_size=8, report_batch_item_failures=True,
                             parallelization_factor=3)
    esm.run()
    assert violations(sim, handler, esm) == []
    assert {invocation.lane for invocation in esm.invocations} == {0, 1, 2}


def test_reporting_without_the_mapping_option_loses_the_failed_records():
    """F28: the response is ignored unless ReportBatchItemFailures is on; why raising is the default."""
    sim = SimulatedStreams(seed=5)
    write_workload(sim, writes=60, split_after=())
    handler = Handler(failing=every_nth(sim, 9))
    function = lambda_handler(handler, model=Item, engine=offline_engine(sim), report_batch_item_failures=True)
    esm = EventSourceMapping(sim, function, batch_size=10, report_batch_item_failures=False)
    esm.run()
    lost = [problem for problem in violations(sim, handler, esm) if problem.startswith("I1")]
    assert len(lost) >= len(every_nth(sim, 9))  # each failed record, and the rest of its batch
    # the default (raising) is safe under the same mapping
    handler = Handler(failing=every_nth(sim, 9))
    function = lambda_handler(handler, model=Item, engine=offline_engine(sim))
    esm = EventSourceMapping(sim, function, batch_size=10, report_batch_item_failures=False)
    esm.run()
    assert violations(sim, handler, esm) == []


def test_processing_past_a_failure_applies_changes_out_of_order():
    """The check catches what a process-every-record batch processor does (streams-faults.md 2.3)."""
    sim = SimulatedStreams(seed=6)
    write_workload(sim, writes=80, keys=3, split_after=())
    handler = Handler(failing=every_nth(sim, 6), failures=1)
    engine = offline_engine(sim)
    inner = lambda_handler(handler, model=Item, engine=engine, report_batch_item_failures=True)

    def process_all_report_all(event, context):
        failures = []
        for record in event["Records"]:
            response = inner({"Records": [record]}, context)
            failures.extend(response["batchItemFailures"])
        return {"batchItemFailures": failures}

    esm = EventSourceMapping(sim, process_all_report_all, batch_size=10, report_batch_item_failures=True)
    esm.run()
    assert any(problem.startswith("I2") for problem in violations(sim, handler, esm))


@pytest.mark.parametrize("bisect", [False, True], ids=["bisect-off", "bisect-on"])
def test_exhausted_retries_go_to_the_on_failure_destination(bisect):
    """F29: a record that always fails; with MaximumRetryAttempts=2 its batch is discarded and listed."""
    sim = SimulatedStreams(seed=7)
    write_workload(sim, writes=40, split_after=())
    poison = sim.write_log[12].sequence_number
    handler = Handler(failing={poison}, failures=None)
    function = lambda_handler(handler, model=Item, engine=offline_engine(sim), report_batch_item_failures=True)
    esm = EventSourceMapping(sim, function, batch_size=10, report_batch_item_failures=True,
                             bisect_batch_on_function_error=bisect, maximum_retry_attempts=2)
    esm.run()
    assert violations(sim, handler, esm) == []  # processed, or listed in the destination
    final_batches = [i.sequence_numbers for i in esm.invocations if poison in i.sequence_numbers][-3:]
    assert len({tuple(batch) for batch in final_batches}) == 1  # one batch: its attempt and two retries
    info = esm.on_failure[0]["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == poison and "Records" not in esm.on_failure[0]
    if bisect:
        assert final_batches[0] == [poison]
        assert esm.discarded == {poison}  # split down to the failing record: only it is discarded
    else:
        # without bisect the whole retried batch (poison and the records after it) is discarded
        assert len(esm.discarded) == info["batchSize"] == 10


def test_stopping_before_the_timeout_keeps_a_long_batch_moving():
    """2.4 item 6: a batch longer than the timeout replays forever unless the function stops in time."""
    def run(report, margin_ms, bisect=False):
        sim = SimulatedStreams(seed=8)
        write_workload(sim, writes=60, split_after=())
        handler = Handler(spend_ms=100)
        function = lambda_handler(handler, model=Item, engine=offline_engine(sim), report_batch_item_failures=report,
                                  timeout_margin_ms=margin_ms)
        esm = EventSourceMapping(sim, function, batch_size=30, report_batch_item_failures=report,
                                 bisect_batch_on_function_error=bisect, timeout_ms=1000)
        handler.esm = esm
        return sim, handler, esm

    sim, handler, esm = run(report=True, margin_ms=150)
    esm.run()
    assert violations(sim, handler, esm) == []
    assert {invocation.outcome for invocation in esm.invocations} <= {"ok", "partial"}  # never timed out

    sim, handler, esm = run(report=False, margin_ms=0)
    with pytest.raises(Stuck):
        esm.run(max_invocations=50)  # ten records fit, the batch has thirty: the same ten forever
    assert {invocation.outcome for invocation in esm.invocations} == {"timeout"}

    sim, handler, esm = run(report=False, margin_ms=0, bisect=True)
    esm.run()  # bisect shrinks the batch until it fits
    assert violations(sim, handler, esm) == []
