"""Fault injection and concurrency for S3-backed columns, over HTTP on the embedded moto server.

Every scenario fails one chosen call (S3 put, DynamoDB write, S3 delete...) or crashes the process
between two steps, then checks the invariants with ``audit``: no item points at a missing object, and
the collector removes every orphan (and nothing else).
"""
import random
import threading

import pytest

from bloop import BloopException, ConstraintViolation, MissingObjects
from bloop.exceptions import BatchWriteIncomplete
from bloop.ext.s3 import S3Error, S3ObjectMissing, collect_garbage

from . import test_s3 as shared
from .test_s3 import Crash, Doc, Streamed, audit, big, load, raw_item, referenced_objects, stored_objects

bucket, faults, make_engine = shared.bucket, shared.faults, shared.make_engine  # fixtures shared with test_s3

# (operation, client method, mode, a second fault or None, outcome, orphans): see test_s3.Faults for the modes.
# outcome: what the operation raises ("ok": nothing; "crash": the simulated process death).
# orphans: objects left behind for the collector, which no item references; each count says which.
OK, CRASH = "ok", "crash"
SCENARIOS = [
    ("update", "put_object", "fail", None, S3Error, 0),
    ("update", "put_object", "crash_after", None, CRASH, 2),  # both new uploads (body, text): never pointed at
    ("update", "update_item", "fail", None, BloopException, 0),  # the new upload is removed at once
    ("update", "update_item", "fail_after", None, BloopException, 1),  # applied: the old body is displaced
    ("update", "update_item", "crash_before", None, CRASH, 2),  # both new uploads, never pointed at
    ("update", "update_item", "crash_after", None, CRASH, 1),  # the displaced old body
    ("update", "delete_objects", "fail", None, OK, 1),  # the write stands; the old value awaits the collector
    ("update", "delete_objects", "crash_before", None, CRASH, 1),
    ("update", "update_item", "fail_after", ("batch_get_item", "fail", 1, 1), BloopException, 1),
    ("create", "put_object", "fail", None, S3Error, 0),
    ("create", "update_item", "fail", None, BloopException, 0),
    ("create", "update_item", "fail_after", None, BloopException, 0),  # applied: the new item points at it
    ("create", "update_item", "crash_before", None, CRASH, 1),  # uploaded, never pointed at
    ("overwrite", "update_item", "fail", None, BloopException, 0),
    ("overwrite", "update_item", "crash_after", None, CRASH, 1),
    ("overwrite", "delete_objects", "fail", None, OK, 1),
    ("delete", "delete_item", "fail", None, BloopException, 0),
    ("delete", "delete_item", "fail_after", None, BloopException, 1),  # the deleted item's value
    ("delete", "delete_item", "crash_after", None, CRASH, 1),
    ("delete", "delete_objects", "fail", None, OK, 1),
    ("batch", "put_object", "fail", None, S3Error, 0),
    ("batch", "batch_write_item", "fail", None, BatchWriteIncomplete, 0),
    ("batch", "batch_write_item", "crash_after", None, CRASH, 1),
    ("batch", "delete_objects", "fail", None, OK, 1),
    ("transaction", "put_object", "fail", None, S3Error, 0),
    ("transaction", "transact_write_items", "fail", None, BloopException, 0),
    ("transaction", "transact_write_items", "fail_after", None, BloopException, 1),
    ("transaction", "transact_write_items", "crash_before", None, CRASH, 2),  # both uploads, never pointed at
    ("transaction", "delete_objects", "crash_before", None, CRASH, 1),
    ("streamed", "update_item", "fail", None, BloopException, 0),
    ("streamed", "copy_object", "fail", None, OK, 1),
    ("streamed", "copy_object", "crash_before", None, CRASH, 1),
]


def operate(engine, operation):
    """Run one write against an item "a" that holds a large value (and "z", a bystander)."""
    if operation == "streamed":
        doc = load(engine, Streamed, id="a")
        doc.body = big("streamed-new")
        engine.save(doc)
    elif operation == "update":
        doc = load(engine, id="a")
        doc.body, doc.text = big("new"), "t" * 300
        engine.save(doc)
    elif operation == "create":
        engine.save(Doc(id="fresh", body=big("fresh")))
    elif operation == "overwrite":
        engine.save(Doc(id="a", body=big("blind")))
    elif operation == "delete":
        engine.delete(Doc(id="a"))
    elif operation == "batch":
        loaded = load(engine, id="a")
        with engine.batch() as batch:
            batch.save(Doc(id="b1", body=big("b1")), Doc(id="b2", body=big("b2")))
            batch.delete(loaded)
    elif operation == "transaction":
        doc = load(engine, id="a")
        doc.body = big("tx")
        with engine.transaction() as tx:
            tx.save(doc, Doc(id="t2", body=big("t2")))


def outcome_of(engine, operation):
    """What the operation raised, as a SCENARIOS outcome; anything unexpected propagates and fails the test."""
    try:
        operate(engine, operation)
    except Crash:
        return CRASH
    except BloopException as error:
        return error
    return OK


def matches(outcome, expected):
    if isinstance(expected, str):
        return outcome == expected
    return isinstance(outcome, expected)


@pytest.mark.parametrize("operation, method, mode, more, expected, orphans", SCENARIOS,
                         ids=["-".join(s[:3]) + ("+" + s[3][0] if s[3] else "") for s in SCENARIOS])
def test_no_dangling_pointer_and_no_orphan_left(make_engine, faults, operation, method, mode, more, expected,
                                                orphans):
    model = Streamed if operation == "streamed" else Doc
    engine = make_engine(model)
    engine.save(model(id="a", body=big("old")), model(id="z", body=big("bystander")))
    faults.fail(method, mode)
    if more:  # a second fault
        faults.fail(*more)
    outcome = outcome_of(engine, operation)
    assert faults.fired == 1 + bool(more), f"the scenario never reached {method} (or {more})"
    assert matches(outcome, expected), f"{operation} with {method} {mode} gave {outcome!r}, expected {expected}"
    faults.heal()
    # right after the fault, before any clean-up: no item points at a missing object ...
    referenced, stored = referenced_objects(engine, model), stored_objects(engine, model)
    assert referenced <= stored
    # ... and exactly the expected objects are orphans; the collector removes those and nothing else
    assert len(stored - referenced) == orphans
    collect_garbage(engine, model, min_age=0)
    assert referenced_objects(engine, model) == referenced
    assert stored_objects(engine, model) == referenced
    assert raw_item(engine, model, {"id": {"S": "z"}}) is not None
    assert load(engine, model, id="z").body == big("bystander")


@pytest.mark.parametrize("operation", ["update", "create", "transaction", "batch"])
def test_a_failed_item_write_removes_its_objects_at_once(make_engine, faults, operation):
    engine = make_engine(Doc)
    engine.save(Doc(id="a", body=big("old")), Doc(id="z", body=big("bystander")))
    before = stored_objects(engine, Doc)
    method = {"update": "update_item", "create": "update_item", "transaction": "transact_write_items",
              "batch": "batch_write_item"}[operation]
    faults.fail(method, "fail")
    with pytest.raises(BloopException):
        operate(engine, operation)
    faults.heal()
    assert stored_objects(engine, Doc) == before  # a batch's delete of "a" failed with its saves
    audit(engine, Doc, collect=False)


def test_an_applied_write_reported_failed_keeps_the_object_it_points_at(make_engine, faults):
    engine = make_engine(Doc)
    engine.save(Doc(id="a", body=big("old")))
    faults.fail("update_item", "fail_after")
    doc = load(engine, id="a")
    doc.body = big("new")
    with pytest.raises(BloopException):
        engine.save(doc)
    faults.heal()
    assert load(engine, id="a").body == big("new")
    assert len(stored_objects(engine, Doc)) == 2  # "old" is an orphan now; it is not referenced
    assert len(audit(engine, Doc)) == 1


def test_concurrent_writers_never_leave_a_dangling_pointer(make_engine):
    engine = make_engine(Doc, max_workers=4)
    engine.save(Doc(id="hot", body=big("seed")))
    errors = []
    outcomes = {"saved": 0, "conflicts": 0, "deleted": 0}
    lock = threading.Lock()

    def writer(number):
        rng = random.Random(number)
        for step in range(8):
            action = rng.choice(["load-and-save", "load-and-save", "blind", "delete", "read", "small"])
            try:
                if action == "load-and-save":
                    doc = Doc(id="hot")
                    try:
                        engine.load(doc, consistent=True)
                    except (MissingObjects, S3ObjectMissing):  # absent, or deleted while it was read
                        pass
                    doc.body = big(f"w{number}-{step}", rng.randrange(1_000, 50_000))
                    engine.save(doc)
                elif action == "blind":
                    engine.save(Doc(id="hot", body=big(f"b{number}-{step}", 20_000)))
                elif action == "delete":
                    engine.delete(Doc(id="hot"))
                    with lock:
                        outcomes["deleted"] += 1
                    continue
                elif action == "read":
                    try:
                        load(engine, id="hot")
                    except (MissingObjects, S3ObjectMissing):
                        pass
                    continue
                else:
                    engine.save(Doc(id="hot", body=b"small"))
                with lock:
                    outcomes["saved"] += 1
            except ConstraintViolation:
                with lock:
                    outcomes["conflicts"] += 1
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes["saved"] > 0
    audit(engine, Doc)
