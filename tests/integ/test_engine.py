"""Engine operations over HTTP against the embedded moto server."""
import datetime
from decimal import Decimal

import pytest

from bloop import ConstraintViolation, MissingObjects, TableMismatch, object_saved
from bloop.actions import add, delete
from bloop.exceptions import InvalidModel, InvalidSync, ItemTooLarge, MissingKey

from .models import Message, Pair, Session, User

UTC = datetime.timezone.utc


@pytest.fixture
def bound(engine):
    engine.bind(User)
    engine.bind(Message)
    engine.bind(Pair)
    return engine


def raw_item(engine, model, key):
    return engine.session.dynamodb_client.get_item(
        TableName=engine.table_name(model), Key=key, ConsistentRead=True).get("Item")


def test_save_and_load_round_trip(bound):
    joined = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    user = User(id="u1", email="ada@example.com", tags={"a", "b"}, avatar=b"\x00\xffpng", joined=joined,
                profile={"city": "Paris", "langs": ["fr", "en"]})
    bound.save(user)
    same = User(id="u1")
    bound.load(same, consistent=True)
    assert same.email == "ada@example.com"
    assert same.visits == 0
    assert same.tags == {"a", "b"}
    assert same.avatar == b"\x00\xffpng"
    assert same.joined == joined
    assert same.profile == {"city": "Paris", "langs": ["fr", "en"]}


def test_binary_is_stored_as_bytes(bound):
    bound.save(User(id="bin", avatar=b"\x01\x02"))
    item = raw_item(bound, User, {"id": {"S": "bin"}})
    assert item["avatar"] == {"B": b"\x01\x02"}  # B15: not base64 text


def test_save_sends_only_changed_columns(bound):
    bound.save(User(id="u2", email="one@example.com", name="One"))
    # another writer changes name behind our back
    bound.session.dynamodb_client.update_item(
        TableName=bound._compute_table_name(User), Key={"id": {"S": "u2"}},
        UpdateExpression="SET #n = :v", ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":v": {"S": "Changed"}})
    user = User(id="u2")
    bound.load(user, consistent=True)
    user.email = "two@example.com"
    requests = []
    real = bound.session.save_item
    bound.session.save_item = lambda request: requests.append(request) or real(request)
    bound.save(user)
    assert list(requests[0]["ExpressionAttributeNames"].values()) == ["email"]
    assert raw_item(bound, User, {"id": {"S": "u2"}})["name"] == {"S": "Changed"}


def test_add_action_not_reapplied_on_second_save(bound):
    user = User(id="u3", visits=1)
    bound.save(user)
    user.visits = add(5)
    bound.save(user)
    bound.save(user)  # B14: must not add again
    fresh = User(id="u3")
    bound.load(fresh, consistent=True)
    assert fresh.visits == 6


def test_set_delete_action(bound):
    user = User(id="u4", tags={"a", "b", "c"})
    bound.save(user)
    user.tags = delete({"b"})
    bound.save(user, sync="new")
    assert user.tags == {"a", "c"}


def test_sync_old_and_new(bound):
    user = User(id="u5", name="before")
    bound.save(user)
    user.name = "after"
    bound.save(user, sync="old")
    assert user.name == "before"
    user.name = "after"
    bound.save(user, sync="new")
    assert user.name == "after"


def test_unknown_sync_is_refused_before_any_write(bound):
    user = User(id="u6", name="x")
    with pytest.raises(InvalidSync):
        bound.save(user, sync=True)
    assert raw_item(bound, User, {"id": {"S": "u6"}}) is None


def test_condition_failure_raises_constraint_violation(bound):
    bound.save(User(id="u7", name="a"))
    user = User(id="u7", name="b")
    with pytest.raises(ConstraintViolation):
        bound.save(user, condition=User.name == "zzz")
    bound.save(user, condition=User.name == "a")
    assert raw_item(bound, User, {"id": {"S": "u7"}})["name"] == {"S": "b"}


def test_key_only_save_creates_then_keeps_item(bound):
    pair = Pair(a="x", b="y")
    bound.save(pair)
    assert raw_item(bound, Pair, {"a": {"S": "x"}, "b": {"S": "y"}}) == {"a": {"S": "x"}, "b": {"S": "y"}}
    bound.save(Pair(a="x", b="y", value="v"))
    bound.save(Pair(a="x", b="y"))  # key-only save of an existing item leaves it alone
    assert raw_item(bound, Pair, {"a": {"S": "x"}, "b": {"S": "y"}})["value"] == {"S": "v"}
    with pytest.raises(ConstraintViolation):
        bound.save(Pair(a="x", b="y"), condition=Pair.value == "other")
    bound.save(Pair(a="x", b="y"), condition=Pair.value == "v")


def test_load_with_swapped_keys(bound):
    # B10: (a, b) and (b, a) are different items
    bound.save(Pair(a="p", b="q", value="pq"), Pair(a="q", b="p", value="qp"))
    first, second = Pair(a="p", b="q"), Pair(a="q", b="p")
    bound.load(first, second)
    assert (first.value, second.value) == ("pq", "qp")


def test_load_missing_raises_with_objects(bound):
    bound.save(User(id="here"))
    here, gone = User(id="here"), User(id="gone")
    with pytest.raises(MissingObjects) as excinfo:
        bound.load(here, gone)
    assert excinfo.value.objects == [gone]
    assert here.visits == 0


def test_load_more_than_one_batch(bound):
    users = [User(id=f"many-{i}", name=str(i)) for i in range(230)]
    bound.save(*users)
    fresh = [User(id=f"many-{i}") for i in range(230)]
    bound.load(*fresh)
    assert [u.name for u in fresh] == [str(i) for i in range(230)]


def test_missing_key_raises_before_any_call(bound):
    with pytest.raises(MissingKey):
        bound.save(User(id="ok", name="x"), User(name="no key"))
    assert raw_item(bound, User, {"id": {"S": "ok"}}) is None


def test_item_too_large(bound):
    with pytest.raises(ItemTooLarge, match="S3"):
        bound.save(User(id="big", name="x" * 410_000))
    assert raw_item(bound, User, {"id": {"S": "big"}}) is None


def test_delete_and_condition(bound):
    user = User(id="d1", name="x")
    bound.save(user)
    with pytest.raises(ConstraintViolation):
        bound.delete(user, condition=User.name == "y")
    bound.delete(user, condition=User.name == "x")
    assert raw_item(bound, User, {"id": {"S": "d1"}}) is None
    bound.delete(user)  # deleting a missing item succeeds


def test_query_gsi_and_lsi(bound):
    for i in range(5):
        bound.save(Message(thread="t", sent=i, author=f"a{4 - i}", body=f"b{i}", score=Decimal(i) / 2))
    bound.save(User(id="q1", email="q@example.com", name="Q"))
    assert bound.query(User.by_email, key=User.email == "q@example.com").one().name == "Q"
    sent = [m.sent for m in bound.query(Message, key=(Message.thread == "t") & (Message.sent >= 2))]
    assert sent == [2, 3, 4]
    backwards = bound.query(Message, key=Message.thread == "t", forward=False).first()
    assert backwards.sent == 4
    by_author = bound.query(Message.by_author, key=(Message.thread == "t") & Message.author.begins_with("a"))
    first = by_author.first()
    assert (first.author, first.body) == ("a0", "b4")
    assert not hasattr(first, "score")  # not projected into the LSI


def test_scan_filter_count_and_parallel(bound):
    for i in range(10):
        bound.save(Message(thread=f"s{i}", sent=i, author="x" if i % 2 else "y"))
    scan = bound.scan(Message, filter=Message.author == "x")
    assert sorted(m.sent for m in scan) == [1, 3, 5, 7, 9]
    assert bound.scan(Message, projection="count").count == 10
    parts = [m.sent for seg in range(3) for m in bound.scan(Message, parallel=(seg, 3))]
    assert sorted(parts) == list(range(10))  # B8


def test_search_token_resumes(bound):
    for i in range(6):
        bound.save(Message(thread="tok", sent=i))
    query = bound.query(Message, key=Message.thread == "tok", projection=["author"])
    first, _ = next(query), next(query)
    assert (first.thread, first.sent) == ("tok", 0)  # keys are set even when not projected
    assert first.author == ""  # projected but never written: the type's empty value
    assert not hasattr(first, "body")  # not projected: not set
    token = query.token  # B11: keys not projected, token still works
    assert token["ExclusiveStartKey"] == {"thread": {"S": "tok"}, "sent": {"N": "1"}}
    resumed = bound.query(Message, key=Message.thread == "tok")
    resumed.move_to(token)
    assert [m.sent for m in resumed] == [2, 3, 4, 5]


def test_transactions(bound):
    a, b = User(id="tx-a", name="A"), User(id="tx-b", name="B")
    bound.save(b)
    with bound.transaction() as tx:
        tx.save(a)
        tx.check(b, condition=User.name == "B")  # B9: ConditionCheck
    loaded_a, loaded_b = User(id="tx-a"), User(id="tx-b")
    with bound.transaction("r") as rtx:
        rtx.load(loaded_a, loaded_b)
    assert (loaded_a.name, loaded_b.name) == ("A", "B")
    from bloop import TransactionCanceled
    a.name = "A2"
    with pytest.raises(TransactionCanceled):
        with bound.transaction() as tx:
            tx.save(a)
            tx.check(b, condition=User.name == "not B")
    fresh = User(id="tx-a")
    bound.load(fresh, consistent=True)
    assert fresh.name == "A"


def test_signals(bound):
    seen = []

    def on_saved(sender, obj, **_):
        seen.append(obj)

    object_saved.connect(on_saved)
    try:
        user = User(id="sig")
        bound.save(user)
    finally:
        object_saved.disconnect(on_saved)
    assert seen == [user]


def test_bind_validates_existing_table(engine_factory):
    first = engine_factory()
    first.bind(User)
    template = first.table_name_template

    from bloop import BaseModel, Column, String

    class Conflicting(BaseModel):
        class Meta:
            table_name = "User"

        id = Column(Integer, hash_key=True)

    second = engine_factory(table_name_template=template)
    with pytest.raises(TableMismatch, match="key"):
        second.bind(Conflicting)
    assert String  # same table, different key type -> mismatch named


def test_ttl_table(engine):
    engine.bind(Session)
    session = Session(active=True, expires=datetime.datetime.now(UTC))
    engine.save(session)
    fresh = Session(id=session.id)
    engine.load(fresh)
    assert fresh.active is True


def test_unbound_model(engine):
    with pytest.raises(InvalidModel, match="bind"):
        engine.save(User(id="x"))


from bloop import Integer  # noqa: E402


def test_wrong_value_type_is_named_and_nothing_written(bound):
    from bloop.exceptions import InvalidValue
    good, bad = User(id="v1", name="ok"), User(id="v2", visits="many")
    with pytest.raises(InvalidValue, match="User.visits can't store 'many'"):
        bound.save(good, bad)
    assert raw_item(bound, User, {"id": {"S": "v1"}}) is None
    with pytest.raises(InvalidValue, match="User.score|Message.score"):
        bound.save(Message(thread="x", sent=1, score=0.1))  # a float that is not exactly 0.1


def test_transactions_take_up_to_100_items(bound):
    from bloop.exceptions import InvalidTransaction
    users = [User(id=f"tx100-{i}", name=str(i)) for i in range(100)]
    with bound.transaction() as tx:
        tx.save(*users)  # bloop 3.1.1 refused more than 10
    fresh = [User(id=f"tx100-{i}") for i in range(100)]
    bound.load(*fresh, consistent=True)
    assert [u.name for u in fresh] == [str(i) for i in range(100)]
    with pytest.raises(InvalidTransaction, match="at most 100"):
        bound.transaction().save(*[User(id=f"tx101-{i}", name="x") for i in range(101)])
    with pytest.raises(InvalidTransaction, match="twice"):
        with bound.transaction() as tx:
            tx.save(User(id="dup", name="a"))
            tx.delete(User(id="dup"))


def test_number_keys_written_as_non_canonical_text_load(engine):
    from bloop import BaseModel, Column, Number, String

    class Priced(BaseModel):
        price = Column(Number, hash_key=True)
        label = Column(String)

    engine.bind(Priced)
    engine.save(Priced(price=Decimal("1.50"), label="one fifty"), verify="item")
    again = Priced(price=Decimal("1.5000"))
    engine.load(again, consistent=True)
    assert again.label == "one fifty"


def test_stored_value_of_another_type_is_named_on_load(bound):
    from bloop.exceptions import InvalidValue
    bound.session.dynamodb_client.put_item(TableName=bound._compute_table_name(User),
                                           Item={"id": {"S": "typed"}, "visits": {"S": "many"}})
    with pytest.raises(InvalidValue, match="User.visits can't load the stored value"):
        bound.load(User(id="typed"))
