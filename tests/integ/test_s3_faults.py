"""Fault injection and concurrency for S3-backed columns, over HTTP on the embedded moto server.

Every scenario fails one chosen call (S3 put, DynamoDB write, S3 delete...) or crashes the process
between two steps, then checks the invariants with ``audit``: no item points at a missing object, and
the collector removes every orphan (and nothing else).
"""
import random
import threading

import pytest

from bloop import BloopException, ConstraintViolation, MissingObjects
from bloop.ext.s3 import S3ObjectMissing

from . import test_s3 as shared
from .test_s3 import Crash, Doc, Streamed, audit, big, load, raw_item, stored_objects

bucket, faults, make_engine = shared.bucket, shared.faults, shared.make_engine  # fixtures shared with test_s3

# (operation, client method, mode[, a second fault]): see test_s3.Faults for the modes
SCENARIOS = [
    ("update", "put_object", "fail"),
    ("update", "put_object", "crash_after"),
    ("update", "update_item", "fail"),
    ("update", "update_item", "fail_after"),  # applied, but reported failed
    ("update", "update_item", "crash_before"),
    ("update", "update_item", "crash_after"),
    ("update", "delete_objects", "fail"),
    ("update", "delete_objects", "crash_before"),
    ("update", "update_item", "fail_after", ("batch_get_item", "fail", 1, 1)),  # and the check before cleanup
    ("create", "put_object", "fail"),
    ("create", "update_item", "fail"),
    ("create", "update_item", "fail_after"),
    ("create", "update_item", "crash_before"),
    ("overwrite", "update_item", "fail"),
    ("overwrite", "update_item", "crash_after"),
    ("overwrite", "delete_objects", "fail"),
    ("delete", "delete_item", "fail"),
    ("delete", "delete_item", "fail_after"),
    ("delete", "delete_item", "crash_after"),
    ("delete", "delete_objects", "fail"),
    ("batch", "put_object", "fail"),
    ("batch", "batch_write_item", "fail"),
    ("batch", "batch_write_item", "crash_after"),
    ("batch", "delete_objects", "fail"),
    ("transaction", "put_object", "fail"),
    ("transaction", "transact_write_items", "fail"),
    ("transaction", "transact_write_items", "fail_after"),
    ("transaction", "transact_write_items", "crash_before"),
    ("transaction", "delete_objects", "crash_before"),
    ("streamed", "update_item", "fail"),
    ("streamed", "copy_object", "fail"),
    ("streamed", "copy_object", "crash_before"),
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


PARAMS = [(*s, None) if len(s) == 3 else s for s in SCENARIOS]


@pytest.mark.parametrize("operation, method, mode, more", PARAMS,
                         ids=["-".join(s[:3]) + ("+" + s[3][0] if s[3] else "") for s in PARAMS])
def test_no_dangling_pointer_and_no_orphan_left(make_engine, faults, operation, method, mode, more):
    model = Streamed if operation == "streamed" else Doc
    engine = make_engine(model)
    engine.save(model(id="a", body=big("old")), model(id="z", body=big("bystander")))
    faults.fail(method, mode)
    if more:  # a second fault
        faults.fail(*more)
    try:
        operate(engine, operation)
    except (Exception, Crash):
        pass
    assert faults.fired == 1 + bool(more), f"the scenario never reached {method} (or {more})"
    faults.heal()
    referenced = audit(engine, model)
    assert raw_item(engine, model, {"id": {"S": "z"}}) is not None
    assert load(engine, model, id="z").body == big("bystander")
    assert referenced <= stored_objects(engine, model)


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
