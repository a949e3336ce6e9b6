"""Optimistic locking (``Column(Integer, version=True)``) over HTTP on the embedded moto server."""
import threading
from decimal import Decimal

import pytest

from bloop import BaseModel, Column, ConstraintViolation, Integer, Number, String, VersionConflict
from bloop.exceptions import InvalidBatch, InvalidModel, TransactionCanceled
from tests.integ.calls import counting_requests


class Doc(BaseModel):
    id = Column(String, hash_key=True)
    body = Column(String)
    owner = Column(String)
    version = Column(Integer, version=True)


class Ledger(BaseModel):
    id = Column(String, hash_key=True)
    total = Column(Integer)
    rev = Column(Number, version=True, dynamo_name="r")


@pytest.fixture
def bound(engine):
    engine.bind(Doc)
    engine.bind(Ledger)
    return engine


def raw(engine, model, key):
    return engine.session.dynamodb_client.get_item(
        TableName=engine.table_name(model), Key=key, ConsistentRead=True).get("Item")


# ------------------------------------------------------------------------------------ declaration
def test_bad_version_declarations_raise_at_class_definition():
    with pytest.raises(InvalidModel, match="at most one version column"):
        class Two(BaseModel):
            id = Column(String, hash_key=True)
            a = Column(Integer, version=True)
            b = Column(Integer, version=True)
    with pytest.raises(InvalidModel, match="key column can't be the version"):
        class Keyed(BaseModel):
            id = Column(Integer, hash_key=True, version=True)
    with pytest.raises(InvalidModel, match="must be Integer or Number"):
        class Text(BaseModel):
            id = Column(String, hash_key=True)
            v = Column(String, version=True)
    assert Doc.Meta.version is Doc.version
    assert Ledger.Meta.version is Ledger.rev


# ------------------------------------------------------------------------------------------ saves
def test_new_object_writes_version_1_then_each_save_increments(bound):
    doc = Doc(id="d1", body="hello")
    bound.save(doc)
    assert doc.version == 1
    assert raw(bound, Doc, {"id": {"S": "d1"}})["version"] == {"N": "1"}
    doc.body = "hello again"
    bound.save(doc)
    assert doc.version == 2
    item = raw(bound, Doc, {"id": {"S": "d1"}})
    assert item["version"] == {"N": "2"} and item["body"] == {"S": "hello again"}
    same = Doc(id="d1")
    bound.load(same, consistent=True)
    assert same.version == 2
    same.owner = "ada"
    bound.save(same)
    assert same.version == 3


def test_number_version_column_with_its_own_dynamo_name(bound):
    ledger = Ledger(id="l1", total=5)
    bound.save(ledger)
    assert ledger.rev == 1
    ledger.total = 6
    bound.save(ledger, sync="new")
    assert ledger.rev == Decimal(2)
    assert raw(bound, Ledger, {"id": {"S": "l1"}})["r"] == {"N": "2"}


def test_stale_save_raises_and_changes_nothing(bound):
    bound.save(Doc(id="d2", body="v1"))
    mine, theirs = Doc(id="d2"), Doc(id="d2")
    bound.load(mine, theirs, consistent=True)
    theirs.body = "theirs"
    bound.save(theirs)
    mine.body = "mine"
    with pytest.raises(VersionConflict) as raised:
        bound.save(mine)
    error = raised.value
    assert isinstance(error, ConstraintViolation)
    assert error.obj is mine and error.expected == 1
    message = str(error)
    assert "changed by someone else" in message and "Reload" in message and "retry" in message
    assert mine.version == 1 and mine.body == "mine"  # the local object is unchanged
    item = raw(bound, Doc, {"id": {"S": "d2"}})
    assert item["body"] == {"S": "theirs"} and item["version"] == {"N": "2"}
    # the documented way out: reload, reapply, retry
    bound.load(mine, consistent=True)
    mine.body = "mine"
    bound.save(mine)
    assert mine.version == 3


def test_new_object_over_an_existing_item_is_stale(bound):
    bound.save(Doc(id="d3", body="first"))
    with pytest.raises(VersionConflict, match="no versioned item"):
        bound.save(Doc(id="d3", body="second"))
    assert raw(bound, Doc, {"id": {"S": "d3"}})["body"] == {"S": "first"}


def test_stale_delete_raises_and_keeps_the_item(bound):
    doc = Doc(id="d4", body="x")
    bound.save(doc)
    other = Doc(id="d4")
    bound.load(other, consistent=True)
    other.body = "y"
    bound.save(other)
    with pytest.raises(VersionConflict, match="can't delete"):
        bound.delete(doc)
    assert doc.version == 1
    assert raw(bound, Doc, {"id": {"S": "d4"}}) is not None
    bound.delete(other)
    assert raw(bound, Doc, {"id": {"S": "d4"}}) is None
    # the item is gone, so the object has no version: saving it again creates the item at version 1
    assert not hasattr(other, "version") or other.version is None
    bound.save(other)
    assert other.version == 1


def test_user_condition_is_combined_with_the_version_check(bound):
    doc = Doc(id="d5", body="x", owner="ada")
    bound.save(doc)
    doc.body = "by grace"
    # fresh version, failing user condition: a plain ConstraintViolation, not a conflict
    with pytest.raises(ConstraintViolation) as raised:
        bound.save(doc, condition=Doc.owner == "grace")
    assert not isinstance(raised.value, VersionConflict)
    assert doc.version == 1
    # both hold: written
    bound.save(doc, condition=Doc.owner == "ada")
    assert doc.version == 2
    # user condition holds but the version is stale: a conflict
    stale = Doc(id="d5", body="stale", owner="ada", version=1)
    with pytest.raises(VersionConflict):
        bound.save(stale, condition=Doc.owner == "ada")
    with pytest.raises(VersionConflict):
        bound.delete(stale, condition=Doc.owner == "ada")
    assert raw(bound, Doc, {"id": {"S": "d5"}})["body"] == {"S": "by grace"}


# ---------------------------------------------------------------------------- transactions, batch
def test_transaction_applies_the_version_rules(bound):
    a, b = Doc(id="t1", body="a"), Doc(id="t2", body="b")
    with bound.transaction() as tx:
        tx.save(a, b)
    assert (a.version, b.version) == (1, 1)
    stale = Doc(id="t2", body="stale", version=0)
    a.body = "a2"
    with pytest.raises(TransactionCanceled):
        with bound.transaction() as tx:
            tx.save(a, stale)
    assert a.version == 1 and stale.version == 0  # nothing settled
    assert raw(bound, Doc, {"id": {"S": "t1"}})["body"] == {"S": "a"}  # the whole transaction was canceled
    with bound.transaction() as tx:
        tx.save(a)
        tx.delete(b)
    assert a.version == 2
    assert raw(bound, Doc, {"id": {"S": "t2"}}) is None


def test_batch_refuses_versioned_models_before_any_call(bound):
    with counting_requests(bound.session.dynamodb_client) as sent:
        with pytest.raises(InvalidBatch, match="version column"):
            with bound.batch() as batch:
                batch.save(Doc(id="b1", body="x"))
        with pytest.raises(InvalidBatch, match="version column"):
            with bound.batch() as batch:
                batch.delete(Doc(id="b1", version=1))
    assert sent == []


# ------------------------------------------------------------------------------------------ races
def race(engine, copies):
    """Each copy changes its body and saves at the same moment; "won" or "stale" for each."""
    barrier = threading.Barrier(len(copies))
    results: list = [None] * len(copies)

    def attempt(i):
        copies[i].body = f"writer {i}"
        barrier.wait()
        try:
            engine.save(copies[i])
            results[i] = "won"
        except VersionConflict:
            results[i] = "stale"

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(len(copies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_threads_saving_the_same_version_exactly_one_wins(bound, atomic_moto_writes):
    for round_ in range(5):
        key = f"race{round_}"
        bound.save(Doc(id=key, body="start"))
        copies = [Doc(id=key), Doc(id=key)]
        bound.load(*copies, consistent=True)
        results = race(bound, copies)
        assert sorted(results) == ["stale", "won"]
        winner = results.index("won")
        item = raw(bound, Doc, {"id": {"S": key}})
        assert item["body"] == {"S": f"writer {winner}"} and item["version"] == {"N": "2"}
        assert copies[winner].version == 2 and copies[1 - winner].version == 1
