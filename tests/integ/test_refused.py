"""Bad input is refused with a named error before any request, and leaves nothing written (bloop issue 14)."""
import uuid

import pytest

from bloop import BaseModel, Column, Integer, List, Number, Set, String
from bloop.exceptions import InvalidCondition, InvalidSearch, InvalidValue

from .calls import counting_requests


class Item(BaseModel):
    id = Column(String, hash_key=True)
    r = Column(Integer, range_key=True)
    tags = Column(List(String))
    labels = Column(Set(String))
    ints = Column(List(Integer))
    n = Column(Number)
    s = Column(String)


class Stranger(BaseModel):
    id = Column(String, hash_key=True)
    n = Column(Number)


@pytest.fixture
def bound(engine, dynamodb, dynamodbstreams):
    engine.bind(Item)
    return engine


def absent(engine, dynamodb, obj):
    table = engine._compute_table_name(Item)
    key = {"id": {"S": obj.id}, "r": {"N": str(obj.r)}}
    return "Item" not in dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)


@pytest.mark.parametrize("column, value, message", [
    ("tags", "abc", "expects a list"),
    ("labels", "abc", "expects a set"),
    ("ints", [1, None, 2], "None at index 1"),
    ("n", 5 ** 0.5, "38 significant digits"),
    ("s", 5, "expects a str"),
    ("s", "a\ud800", "surrogate"),
])
def test_a_bad_value_is_refused_before_any_request_and_nothing_is_written(bound, dynamodb, column, value, message):
    obj = Item(id=uuid.uuid4().hex, r=1, **{column: value})
    with counting_requests(dynamodb) as sent:
        with pytest.raises(InvalidValue, match=rf"Item\.{column} can't store .*{message}"):
            bound.save(obj)
    assert sent == []
    assert absent(bound, dynamodb, obj)


@pytest.mark.parametrize("condition, error, message", [
    (lambda: Stranger.n == 1, InvalidCondition, "not a column of Item"),
    (lambda: Item.s == 5, InvalidCondition, "can't compare"),
    (lambda: Item.r.between(9, 1), InvalidCondition, "reversed"),
    (lambda: Item.s.begins_with(b"x"), InvalidCondition, "can't compare"),
])
def test_a_bad_condition_on_a_write_sends_nothing(bound, dynamodb, condition, error, message):
    obj = Item(id=uuid.uuid4().hex, r=1, s="x")
    with counting_requests(dynamodb) as sent:
        with pytest.raises(error, match=message):
            bound.save(obj, condition=condition())
        with pytest.raises(error, match=message):
            bound.delete(obj, condition=condition())
    assert sent == []
    assert absent(bound, dynamodb, obj)


def test_a_bool_list_index_is_refused_where_it_is_written(bound):
    with pytest.raises(InvalidCondition, match="non-negative int"):
        Item.tags[True]


@pytest.mark.parametrize("search", [
    lambda e: e.query(Item, key=Item.id == "x", filter=Item.r == 1),  # a key of the table queried
    lambda e: e.query(Item, key=(Item.id == "x") & (Item.r == 1), filter=Item.id == "y"),
    lambda e: e.scan(Item, filter=Stranger.n == 1),
    lambda e: e.scan(Item, parallel=(0, 1_000_001)),
    lambda e: e.scan(Item, parallel=(True, 2)),
])
def test_a_bad_search_is_refused_before_any_request(bound, dynamodb, search):
    with counting_requests(dynamodb) as sent:
        with pytest.raises((InvalidSearch, InvalidCondition)):
            search(bound).all()
    assert sent == []


def test_a_query_filter_on_a_non_key_column_is_sent(bound):
    bound.save(Item(id="q", r=1, n=2), Item(id="q", r=2, n=3))
    assert [i.r for i in bound.query(Item, key=Item.id == "q", filter=Item.n == 3, consistent=True)] == [2]
    assert len(bound.scan(Item, parallel=(0, 1_000_000)).all()) <= 2
