"""engine.load over HTTP: what each request asks for, and objects that share a key or a call."""
import pytest

from bloop import MissingObjects, object_loaded

from .models import Message, Pair, User


@pytest.fixture
def bound(engine):
    engine.bind(User)
    engine.bind(Message)
    engine.bind(Pair)
    return engine


@pytest.fixture
def requests(bound):
    """The RequestItems of every BatchGetItem the engine sends."""
    sent = []

    def record(params, **_):
        sent.append(params["RequestItems"])
    bound.session.dynamodb_client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", record)
    yield sent
    bound.session.dynamodb_client.meta.events.unregister("provide-client-params.dynamodb.BatchGetItem", record)


def test_objects_sharing_a_key_are_all_filled_from_one_read(bound, requests):
    bound.save(User(id="shared", name="one"))
    first, second = User(id="shared"), User(id="shared")
    bound.load(first, second)
    assert first.name == second.name == "one"
    assert [len(spec["Keys"]) for request in requests for spec in request.values()] == [1]


def test_objects_sharing_a_missing_key_are_all_reported(bound):
    first, second, third = User(id="absent"), User(id="absent"), Pair(a="x", b="absent")
    with pytest.raises(MissingObjects) as excinfo:
        bound.load(first, second, third)
    assert excinfo.value.objects == [first, second, third]


def test_keys_of_several_tables_go_100_a_call_each_asked_once(bound, requests):
    users = [User(id=f"u{i}", name=str(i)) for i in range(130)]
    pairs = [Pair(a="p", b=f"{i}", value=str(i)) for i in range(90)]
    bound.save(*users, *pairs)
    fresh_users = [User(id=f"u{i}") for i in range(130)]
    fresh_pairs = [Pair(a="p", b=f"{i}") for i in range(90)]
    bound.load(*fresh_users, *fresh_pairs, consistent=True)

    assert [u.name for u in fresh_users] == [str(i) for i in range(130)]
    assert [p.value for p in fresh_pairs] == [str(i) for i in range(90)]
    sizes = [sum(len(spec["Keys"]) for spec in request.values()) for request in requests]
    assert sizes == [100, 100, 20]
    assert all(spec["ConsistentRead"] is True for request in requests for spec in request.values())
    asked = [tuple(sorted((name, *value.items()) for name, value in key.items()))
             for request in requests for spec in request.values() for key in spec["Keys"]]
    assert len(asked) == len(set(asked)) == 220


def test_loaded_objects_are_unmarked_and_signal_once_each(bound):
    bound.save(User(id="signals", name="n"))
    obj = User(id="signals")
    seen = []

    def receiver(_, obj, **__):
        seen.append(obj)
    object_loaded.connect(receiver)
    try:
        bound.load(obj)
    finally:
        object_loaded.disconnect(receiver)
    assert seen == [obj]
    bound.save(obj)  # nothing changed since the load: a key-only write, which keeps the item
    assert bound.query(User, key=User.id == "signals").one().name == "n"
