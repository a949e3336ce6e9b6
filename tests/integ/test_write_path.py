"""The one write path over HTTP: all-or-nothing preparation, DynamoDB's limits before any call, and
bloop 3.x's save semantics (what an unchanged object, or one from another engine, sends).

"Before any call" is proven by counting the requests the clients send (botocore's event hooks).
"""
import pytest

from bloop import BaseModel, Column, ConstraintViolation, Integer, MissingObjects, String
from bloop.exceptions import InvalidTransaction, InvalidValue, ItemTooLarge
from bloop.limits import MAX_ITEM_SIZE

from .calls import counting_requests


class M(BaseModel):
    id = Column(String, hash_key=True)
    s = Column(String)
    n = Column(Integer)


class Ranged(BaseModel):
    id = Column(String, hash_key=True)
    r = Column(String, range_key=True)


class Wide(BaseModel):
    id = Column(String, hash_key=True)
    text = Column(String, dynamo_name="é")  # a two-byte name: DynamoDB counts names in UTF-8 bytes


@pytest.fixture
def engine(engine_factory):
    engine = engine_factory()
    for model in (M, Ranged, Wide):
        engine.bind(model)
    return engine


def stored(engine, model, **key):
    wire = {name: {"S": value} for name, value in key.items()}
    return engine.session.dynamodb_client.get_item(TableName=engine.table_name(model), Key=wire,
                                                   ConsistentRead=True).get("Item")


def count(engine, model):
    return engine.session.dynamodb_client.scan(TableName=engine.table_name(model), Select="COUNT")["Count"]


# ----------------------------------------------------------------------------------- all or nothing
def test_one_bad_object_of_a_save_leaves_nothing_written(engine):
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(InvalidValue, match="M.s"):
            engine.save(M(id="good", s="x"), M(id="bad", s=b"x"))
    assert sent == []
    assert stored(engine, M, id="good") is None


def test_one_bad_request_of_a_batch_leaves_nothing_written(engine):
    good = [M(id=f"good{i}", s="x") for i in range(29)]
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(InvalidValue, match="M.s"):
            with engine.batch() as batch:
                batch.save(*good, M(id="bad", s=b"x"))
    assert sent == []
    assert count(engine, M) == 0


def test_item_size_counts_names_in_utf8_bytes(engine):
    # 409,601 bytes as DynamoDB counts them, 409,600 characters: "id" + "k" + "é" (2 bytes) + the text
    text = "x" * (MAX_ITEM_SIZE + 1 - len("id") - len("k") - len("é".encode()))
    obj = Wide(id="k", text=text)
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(ItemTooLarge, match="Wide.text"):
            engine.save(obj)
        with pytest.raises(ItemTooLarge, match="Wide.text"):
            with engine.transaction() as tx:
                tx.save(obj)
        with pytest.raises(ItemTooLarge, match="Wide.text"):
            with engine.batch() as batch:
                batch.save(obj)
    assert sent == []
    obj.text = text[:400_000]  # moto quirk: it refuses items over 405,000 bytes, DynamoDB over 409,600
    engine.save(obj)
    assert len(stored(engine, Wide, id="k")["é"]["S"]) == 400_000


def test_a_transaction_over_4_mb_is_refused_before_any_call(engine):
    objs = [M(id=f"big{i}", s="x" * 200_000) for i in range(25)]  # 25 items of 200 KB: 5 MB
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(InvalidTransaction, match="4 MB"):
            with engine.transaction() as tx:
                tx.save(*objs)
    assert sent == []
    assert count(engine, M) == 0


@pytest.mark.parametrize("model, key, limit", [
    (M, {"id": "h" * 2049}, "2048"),
    (Ranged, {"id": "h", "r": "r" * 1025}, "1024"),
    (M, {"id": "é" * 1025}, "2048"),  # 2050 bytes in UTF-8
], ids=["hash key", "range key", "hash key in UTF-8 bytes"])
def test_keys_over_dynamodbs_limits_are_refused_before_any_call(engine, model, key, limit):
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(InvalidValue, match=limit):
            engine.save(model(**key))
        with pytest.raises(InvalidValue, match=limit):
            engine.delete(model(**key))
        with pytest.raises(InvalidValue, match=limit):
            engine.load(model(**key))
    assert sent == []


def test_keys_at_dynamodbs_limits_are_written(engine):
    engine.save(M(id="h" * 2048, s="x"), Ranged(id="h", r="r" * 1024))
    assert stored(engine, M, id="h" * 2048)["s"] == {"S": "x"}
    assert stored(engine, Ranged, id="h", r="r" * 1024) is not None


# ------------------------------------------------------------------------------ bloop 3.x save semantics
def test_an_object_loaded_from_another_engine_is_written_whole(engine, engine_factory):
    secondary = engine_factory()
    secondary.bind(M)
    engine.save(M(id="a", s="x", n=1))
    obj = M(id="a")
    engine.load(obj)
    secondary.save(obj)  # bloop's replication pattern: synced with the primary, not with this table
    assert stored(secondary, M, id="a") == {"id": {"S": "a"}, "s": {"S": "x"}, "n": {"N": "1"}}
    obj.n = 2
    secondary.save(obj)  # now synced with the secondary: a partial save there
    engine.save(obj)  # ... and a whole one on the primary, which it no longer matches
    assert stored(engine, M, id="a")["n"] == stored(secondary, M, id="a")["n"] == {"N": "2"}


def test_an_unchanged_object_saves_as_one_update_with_the_columns_it_knows(engine):
    obj = M(id="u", s="x", n=1)
    engine.save(obj)
    engine.session.dynamodb_client.delete_item(TableName=engine.table_name(M), Key={"id": {"S": "u"}})
    with counting_requests(engine.session.dynamodb_client) as sent:
        engine.save(obj)
    assert sent == ["UpdateItem"]
    assert stored(engine, M, id="u") == {"id": {"S": "u"}, "s": {"S": "x"}, "n": {"N": "1"}}


def test_a_key_only_object_saves_as_one_update_with_just_its_key(engine):
    with counting_requests(engine.session.dynamodb_client) as sent:
        engine.save(M(id="k"))  # creates the item (moto needs bloop._moto_compat for this)
    assert sent == ["UpdateItem"]
    assert stored(engine, M, id="k") == {"id": {"S": "k"}}
    engine.save(M(id="full", s="kept"))
    engine.save(M(id="full"))  # an existing item is left as it is
    assert stored(engine, M, id="full")["s"] == {"S": "kept"}
    with pytest.raises(ConstraintViolation):
        engine.save(M(id="full"), condition=M.s == "other")
    synced = M(id="full")
    engine.save(synced, sync="new")
    assert synced.s == "kept"


def test_saving_an_unchanged_object_in_a_transaction_is_a_write(engine):
    first, second = M(id="t1", s="a"), M(id="t2", s="b")
    engine.save(first, second)
    engine.session.dynamodb_client.delete_item(TableName=engine.table_name(M), Key={"id": {"S": "t2"}})
    with counting_requests(engine.session.dynamodb_client) as sent:
        with engine.transaction() as tx:
            tx.save(first, second)  # bloop's README flow: no InvalidTransaction for unchanged objects
    assert sent == ["TransactWriteItems"]
    assert stored(engine, M, id="t2") == {"id": {"S": "t2"}, "s": {"S": "b"}}


def test_a_key_only_object_in_a_transaction_is_refused_with_the_alternative(engine):
    with pytest.raises(InvalidTransaction, match="engine.save"):
        with engine.transaction() as tx:
            tx.save(M(id="only-key"))


def test_an_object_saved_again_after_its_delete_writes_every_column(engine):
    obj = M(id="d", s="x", n=3)
    engine.save(obj)
    engine.delete(obj)
    engine.save(obj)
    assert stored(engine, M, id="d") == {"id": {"S": "d"}, "s": {"S": "x"}, "n": {"N": "3"}}


def test_a_changed_object_synced_with_this_table_sends_only_its_changes(engine):
    obj = M(id="p", s="x", n=1)
    engine.save(obj)
    other = M(id="p")
    engine.load(other)
    other.n = 2
    engine.save(other)
    obj.s = "y"  # stale n=1 must not overwrite the other writer's n=2
    engine.save(obj)
    assert stored(engine, M, id="p") == {"id": {"S": "p"}, "s": {"S": "y"}, "n": {"N": "2"}}
    with pytest.raises(MissingObjects):
        engine.load(M(id="nothing"))
