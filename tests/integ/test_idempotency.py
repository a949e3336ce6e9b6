"""Idempotency (bloop.ext.idempotency) over HTTP on the embedded moto server.

Besides the basics (completed keys, failures, expiry, validation, races) there is a test for each failure
mode seen in other implementations: a record stuck INPROGRESS after a timeout; no in-progress deadline
written when the remaining time is 0; a local cache answering before validation; validation skipped on a
fast path.

moto quirk Q4: moto checks a write's condition and applies the write without a lock, so two concurrent
conditional writes to one item can both succeed (DynamoDB's are atomic). Measured with four threads racing
``attribute_not_exists`` UpdateItems: 0 of 300 rounds had two winners at Python's default thread switch
interval, 46 of 300 at 1 microsecond. The race tests serialise moto's item writes (fixture
``atomic_moto_writes``) so that they test our protocol, not moto's locking.
"""
import json
import threading
import time
import warnings

import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError

from bloop import BaseModel, Column, Integer, String
from bloop.exceptions import ConnectionFailed, MissingObjects, RetryLimitExceeded
from bloop.ext.aws_lambda import lambda_handler
from bloop.ext.idempotency import (
    COMPLETED,
    INPROGRESS,
    IdempotencyCompletionFailed,
    IdempotencyInProgress,
    IdempotencyKeyError,
    IdempotencyKeyWarning,
    IdempotencyRecord,
    IdempotencyValidationError,
    idempotent,
    idempotent_record,
)

from .http_faults import HttpFaults

T0 = 1_800_000_000.0


class Clock:
    """A settable clock (epoch seconds) so expiry and deadlines are tested without sleeping."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def stored(engine, record_id):
    """The record as the table holds it (None when absent)."""
    record = IdempotencyRecord(id=record_id)
    try:
        engine.load(record, consistent=True)
    except MissingObjects:
        return None
    return record


def all_records(engine):
    return list(engine.scan(IdempotencyRecord, consistent=True))


def test_a_completed_key_returns_the_stored_result_without_running(engine):
    clock = Clock()
    runs = []

    @idempotent(engine, key="order_id", namespace="billing.charge", validate="amount", clock=clock,
                expires_after=600)
    def charge(order_id, amount, note=None):
        runs.append(order_id)
        return {"order": order_id, "charged": amount}

    assert charge("o1", 10) == {"order": "o1", "charged": 10}
    assert charge("o1", 10, note="retry") == {"order": "o1", "charged": 10}  # note isn't validated
    assert charge(order_id="o1", amount=10) == {"order": "o1", "charged": 10}
    assert runs == ["o1"]
    assert charge("o2", 10)["order"] == "o2" and runs == ["o1", "o2"]
    record = stored(engine, charge.idempotency.record_id("o1"))
    assert record.status == COMPLETED and json.loads(record.result) == {"order": "o1", "charged": 10}
    assert record.expires_at.timestamp() == T0 + 600 and record.in_progress_until is None
    assert record.payload_hash and record.id.startswith("billing.charge#")
    ttl = engine.session.dynamodb_client.describe_time_to_live(
        TableName=engine.table_name(IdempotencyRecord))["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_namespaces_keep_equal_keys_apart(engine):
    runs = []
    first = idempotent(engine, key="n", namespace="first")(lambda n: runs.append(("first", n)))
    second = idempotent(engine, key="n", namespace="second")(lambda n: runs.append(("second", n)))
    first(1), second(1), first(1)
    assert runs == [("first", 1), ("second", 1)]
    with pytest.raises(ValueError, match="namespace"):
        idempotent(engine, key="n", namespace="")


def test_a_failure_deletes_the_in_progress_record_so_a_retry_runs(engine):
    attempts = []

    @idempotent(engine, key="order_id", namespace="billing.charge")
    def charge(order_id):
        attempts.append(order_id)
        if len(attempts) == 1:
            raise ConnectionError("payment provider down")
        return "ok"

    with pytest.raises(ConnectionError):
        charge("o1")
    assert stored(engine, charge.idempotency.record_id("o1")) is None
    assert charge("o1") == "ok" and charge("o1") == "ok"
    assert attempts == ["o1", "o1"]


def test_completed_records_expire(engine):
    clock = Clock()
    runs = []
    count = idempotent(engine, key="k", namespace="expiry", clock=clock, expires_after=60)(
        lambda k: runs.append(k) or len(runs))
    assert count("a") == 1
    clock.now = T0 + 59
    assert count("a") == 1
    clock.now = T0 + 61  # expired, though DynamoDB's TTL has not deleted it (it may take days)
    assert count("a") == 2
    assert stored(engine, count.idempotency.record_id("a")).expires_at.timestamp() == T0 + 61 + 60


def test_a_reused_key_with_different_validated_fields_raises(engine):
    runs = []

    @idempotent(engine, key="order_id", namespace="billing.charge", validate="[amount, currency]")
    def charge(order_id, amount, currency="EUR"):
        runs.append(amount)
        return amount

    assert charge("o1", 10) == 10
    with pytest.raises(IdempotencyValidationError, match="different payload"):
        charge("o1", 99)
    with pytest.raises(IdempotencyValidationError):
        charge("o1", 10, currency="USD")
    assert runs == [10]
    assert json.loads(stored(engine, charge.idempotency.record_id("o1")).result) == 10


def race_once(engine, namespace):
    """Two threads call at once; the winner's function holds the key until the loser has its answer."""
    runs, outcomes = [], []
    start, release = threading.Barrier(2), threading.Event()

    @idempotent(engine, key="k", namespace=namespace)
    def slow(k):
        runs.append(threading.current_thread().name)
        release.wait(10)
        return "done"

    def call():
        start.wait(5)
        try:
            outcomes.append(slow("same"))
        except IdempotencyInProgress as error:
            outcomes.append(error)
            release.set()  # the loser has its answer: let the winner finish

    threads = [threading.Thread(target=call, name=f"caller-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return slow, runs, outcomes


def test_two_threads_racing_on_one_key_one_runs_the_other_is_told(engine, atomic_moto_writes):
    for round_number in range(4):
        slow, runs, outcomes = race_once(engine, f"race-{round_number}")
        assert len(runs) == 1
        errors = [o for o in outcomes if isinstance(o, IdempotencyInProgress)]
        assert len(errors) == 1 and outcomes.count("done") == 1
        assert errors[0].record_id == slow.idempotency.record_id("same")
        assert errors[0].in_progress_until is not None
        assert slow("same") == "done" and len(runs) == 1


def test_a_racing_call_can_wait_for_the_result(engine, atomic_moto_writes):
    runs, results = [], []
    started, release = threading.Event(), threading.Event()

    @idempotent(engine, key="k", namespace="race-wait", wait=10)
    def slow(k):
        runs.append(k)
        started.set()
        release.wait(10)
        return {"value": 42}

    first = threading.Thread(target=lambda: results.append(slow("same")))
    first.start()
    assert started.wait(10)
    waiter = threading.Thread(target=lambda: results.append(slow("same")))
    waiter.start()
    time.sleep(0.2)  # let the waiter find the INPROGRESS record (no timing is asserted)
    release.set()
    first.join(10)
    waiter.join(10)
    assert results == [{"value": 42}, {"value": 42}] and runs == ["same"]


def test_failure_mode_record_stuck_in_progress_after_a_timeout(engine, caplog):
    """A call that dies mid-run (a Lambda timeout) leaves INPROGRESS; after its deadline another call runs."""
    dying_clock, retry_clock = Clock(), Clock()
    started, release = threading.Event(), threading.Event()
    runs = []

    def body(k):
        runs.append(threading.current_thread().name)
        if threading.current_thread().name == "dying":
            started.set()
            release.wait(10)  # "dead": it never finishes in time
        return threading.current_thread().name

    dying = idempotent(engine, key="k", namespace="stuck", clock=dying_clock, in_progress_timeout=30)(body)
    retry = idempotent(engine, key="k", namespace="stuck", clock=retry_clock, in_progress_timeout=30)(body)
    thread = threading.Thread(target=dying, args=("job",), name="dying")
    thread.start()
    assert started.wait(10)
    record_id = retry.idempotency.record_id("job")
    assert stored(engine, record_id).in_progress_until == int((T0 + 30) * 1000)
    retry_clock.now = T0 + 29
    with pytest.raises(IdempotencyInProgress) as raised:
        retry("job")
    assert raised.value.in_progress_until.timestamp() == T0 + 30
    retry_clock.now = T0 + 31  # the claim lapsed: the key is taken over
    assert retry("job") == "MainThread"
    assert stored(engine, record_id).status == COMPLETED
    release.set()  # the "dead" call wakes up: its COMPLETED write must not clobber the new owner's
    thread.join(10)
    assert "another call took it over" in caplog.text
    assert json.loads(stored(engine, record_id).result) == "MainThread"
    assert retry("job") == "MainThread"


def test_failure_mode_in_progress_deadline_written_when_no_time_is_left(engine):
    """In Lambda the deadline is the end of the invocation; 0 ms left still writes one (= now)."""
    seen = {}
    clock = Clock()

    class Order(BaseModel):
        class Meta:
            stream = {"include": ["new"]}
        id = Column(String, hash_key=True)

    @idempotent_record(engine, namespace="orders", clock=clock)
    def handle(event):
        seen["record"] = stored(engine, handle.idempotency.record_id(event["meta"]["event"]["id"]))

    class NoTimeLeft:
        def get_remaining_time_in_millis(self):
            return 0

    record = {"eventID": "e-1", "eventName": "INSERT", "eventVersion": "1.1",
              "dynamodb": {"ApproximateCreationDateTime": T0, "Keys": {"id": {"S": "o1"}},
                           "NewImage": {"id": {"S": "o1"}}, "SequenceNumber": "100"}}
    entry = lambda_handler(handle, model=Order, engine=engine)
    entry({"Records": [record]}, NoTimeLeft())
    assert seen["record"].status == "INPROGRESS"
    assert seen["record"].in_progress_until == int(T0 * 1000)  # written, and already due
    # outside Lambda: in_progress_timeout (60 s by default), or remaining_time= when given
    plain = idempotent(engine, key="k", namespace="plain", clock=clock)(
        lambda k: stored(engine, plain.idempotency.record_id(k)).in_progress_until)
    assert plain("a") == int((T0 + 60) * 1000)
    zero = idempotent(engine, key="k", namespace="zero", clock=clock, remaining_time=lambda: 0)(
        lambda k: stored(engine, zero.idempotency.record_id(k)).in_progress_until)
    assert zero("a") == int(T0 * 1000)


def test_failure_mode_cache_answering_before_validation(engine):
    runs = []

    @idempotent(engine, key="order_id", namespace="cached", validate="amount", cache_size=8)
    def charge(order_id, amount):
        runs.append(amount)
        return amount

    assert charge("o1", 10) == 10
    engine.delete(IdempotencyRecord(id=charge.idempotency.record_id("o1")))  # only the cache knows now
    assert charge("o1", 10) == 10 and runs == [10]  # answered by the cache...
    with pytest.raises(IdempotencyValidationError):
        charge("o1", 99)  # ...but never before validating
    assert runs == [10]

    # a lookup that failed validation leaves nothing in the cache
    other = idempotent(engine, key="order_id", namespace="cached", validate="amount", cache_size=8)(
        lambda order_id, amount: runs.append(("other", amount)) or amount)
    assert charge("o2", 5) == 5
    with pytest.raises(IdempotencyValidationError):
        other("o2", 6)
    engine.delete(IdempotencyRecord(id=charge.idempotency.record_id("o2")))
    assert other("o2", 6) == 6 and runs[-1] == ("other", 6)  # ran: the failed lookup cached nothing


def test_failure_mode_validation_skipped_on_a_fast_path(engine):
    """Every path that finds an existing record validates: in progress, waiting, and completed."""
    started, release = threading.Event(), threading.Event()

    @idempotent(engine, key="order_id", namespace="fast-path", validate="amount", wait=10)
    def charge(order_id, amount):
        started.set()
        release.wait(10)
        return amount

    thread = threading.Thread(target=charge, args=("o1", 10))
    thread.start()
    assert started.wait(10)
    try:
        with pytest.raises(IdempotencyValidationError):
            charge("o1", 99)  # in progress, and this call would wait: validated first
    finally:
        release.set()
        thread.join(10)
    with pytest.raises(IdempotencyValidationError):
        charge("o1", 99)  # completed
    assert charge("o1", 10) == 10


def test_a_key_that_finds_nothing_raises_or_warns_and_records_nothing(engine):
    runs = []

    def body(order, amount=0):
        runs.append(order)
        return "ran"

    strict = idempotent(engine, key="order.id", namespace="missing")(body)
    with pytest.raises(IdempotencyKeyError, match="'order.id' found nothing.*nothing was run or recorded"):
        strict({"number": 1})
    with pytest.raises(IdempotencyKeyError):
        idempotent(engine, key="[order.id, order.customer]", namespace="missing")(body)({"other": 1})
    assert runs == []
    lenient = idempotent(engine, key="order.id", namespace="missing", on_missing_key="warn")(body)
    with pytest.warns(IdempotencyKeyWarning, match="without idempotency"):
        assert lenient({"number": 1}) == "ran"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lenient({"id": "o1"}) == "ran"  # found: no warning
    assert len(runs) == 2
    assert [r.id for r in all_records(engine)] == [lenient.idempotency.record_id("o1")]


def test_keys_from_callables_models_and_methods(engine):
    class Shipment(BaseModel):
        id = Column(String, hash_key=True)
        weight = Column(Integer)

    runs = []

    class Shipper:
        @idempotent(engine, key="shipment.id", namespace="ship", validate="shipment.weight")
        def ship(self, shipment):
            runs.append(shipment.id)
            return shipment.weight

    by_callable = idempotent(engine, key=lambda shipment: shipment.id.upper(), namespace="ship-upper")(
        lambda shipment: runs.append(("upper", shipment.id)))
    shipper = Shipper()
    assert shipper.ship(Shipment(id="s1", weight=3)) == 3
    assert Shipper().ship(Shipment(id="s1", weight=3)) == 3  # self is not part of the payload
    with pytest.raises(IdempotencyValidationError):
        shipper.ship(Shipment(id="s1", weight=4))
    by_callable(Shipment(id="a")), by_callable(Shipment(id="A"))
    assert runs == ["s1", ("upper", "a")]


def test_results_that_json_cant_store(engine):
    runs = []
    keep = idempotent(engine, key="k", namespace="results")(lambda k: runs.append(k) or {1, 2})
    with pytest.raises(TypeError, match="recorded as completed"):
        keep("a")
    assert keep("a") is None and runs == ["a"]
    pickled = idempotent(engine, key="k", namespace="results-repr", dumps=repr, loads=eval)(lambda k: {1, 2})
    assert pickled("a") == {1, 2} and pickled("a") == {1, 2}


def test_per_record_mode_on_real_stream_events(engine):
    """idempotent_record over the events engine.stream yields: each record's effect once, on any replay."""

    class Account(BaseModel):
        class Meta:
            stream = {"include": ["new", "old"]}
        id = Column(String, hash_key=True)
        credits = Column(Integer)

    engine.bind(Account)
    engine.save(Account(id="a1", credits=5))
    engine.save(Account(id="a1", credits=7))
    effects = []

    @idempotent_record(engine, namespace="accounts.audit", validate="[key, new, old]")
    def audit(event):
        effects.append(event["meta"]["event"]["id"])

    def drain():
        stream = engine.stream(Account, "trim_horizon")
        events, idle = [], 0
        while idle < 2:  # two empty polls in a row, past the stream's pacing at the head: caught up
            event = next(stream)
            if event is None:
                idle += 1
                time.sleep(0.3)
            else:
                idle, events = 0, events + [event]
        return events

    events = drain()
    for event in events + drain():  # a replay of the whole stream
        audit(event)
    assert sorted(effects) == sorted({e["meta"]["event"]["id"] for e in events}) and len(effects) == len(events)


# ------------------------------------------------------------------------------- faults under botocore
@pytest.fixture
def faulty(bloop_local, engine_factory):
    """An engine whose DynamoDB client has its own HttpFaults (botocore's retries stay in play)."""
    def make(**config):
        client = bloop_local.client("dynamodb", config=Config(retries={"mode": "standard", **config}))
        return engine_factory(dynamodb=client), HttpFaults(client)
    return make


def test_a_claim_applied_but_answered_with_a_500_is_still_this_calls(faulty):
    """botocore retries the 500; the retry fails its own condition (the record exists): the call holds it."""
    engine, faults = faulty(total_max_attempts=3)
    runs = []

    @idempotent(engine, key="order_id", namespace="claims.lost-answer")
    def charge(order_id):
        runs.append(order_id)
        return "charged"

    assert charge.idempotency.engine is engine  # bound (the table created) before the fault is armed
    faults.on("UpdateItem", (500, "InternalServerError"), contains=INPROGRESS, apply=True, times=1)
    assert charge("o1") == "charged"
    assert runs == ["o1"] and faults.fired["UpdateItem"] == 1
    record = stored(engine, charge.idempotency.record_id("o1"))
    assert record.status == COMPLETED and json.loads(record.result) == "charged"
    assert charge("o1") == "charged" and runs == ["o1"]


def test_a_completed_write_that_fails_transiently_is_retried(faulty):
    engine, faults = faulty(total_max_attempts=2)
    runs, sleeps = [], []

    @idempotent(engine, key="order_id", namespace="claims.completed-retried", sleep=sleeps.append)
    def charge(order_id):
        runs.append(order_id)
        return "charged"

    assert charge.idempotency.engine is engine
    # botocore makes 2 attempts per call: the first two bloop attempts fail, the third succeeds
    faults.on("UpdateItem", ConnectionClosedError(endpoint_url="http://injected"), contains=COMPLETED, times=4)
    assert charge("o1") == "charged"
    assert runs == ["o1"] and faults.fired["UpdateItem"] == 4 and len(sleeps) == 2
    assert stored(engine, charge.idempotency.record_id("o1")).status == COMPLETED


@pytest.mark.parametrize("fault", [ConnectionClosedError(endpoint_url="http://injected"),
                                   (400, "ThrottlingException")], ids=["connection reset", "throttled"])
def test_a_completed_write_that_keeps_failing_says_the_function_ran(faulty, fault):
    engine, faults = faulty(total_max_attempts=1)
    runs = []

    @idempotent(engine, key="order_id", namespace="claims.completed-failed", sleep=lambda seconds: None)
    def charge(order_id):
        runs.append(order_id)
        return "charged"

    assert charge.idempotency.engine is engine
    faults.on("UpdateItem", fault, contains=COMPLETED)
    with pytest.raises(IdempotencyCompletionFailed, match="the function ran") as excinfo:
        charge("o1")
    assert runs == ["o1"] and excinfo.value.result == "charged"
    assert isinstance(excinfo.value.__cause__, (ConnectionFailed, RetryLimitExceeded))
    faults.heal()
    assert stored(engine, charge.idempotency.record_id("o1")).status == INPROGRESS
