"""Acceptance: every value either round-trips exactly through save and load, or is refused before any request.

Property-based over the embedded AWS, one table. Refused means a named BloopException, no request sent
(counted with botocore's before-send hook) and no item written. "Exactly" allows for the one documented
rule: an empty value (``""``, ``b""``, ``set()``...) or None is not stored and loads as the type's empty
value, in a column and in a map.
"""
import datetime
import decimal
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bloop import (
    UUID,
    BaseModel,
    Binary,
    Boolean,
    Column,
    DateTime,
    DynamicList,
    DynamicMap,
    Integer,
    List,
    Map,
    Number,
    Set,
    String,
    Timestamp,
)
from bloop.exceptions import BloopException

from .calls import counting_requests

UTC = datetime.timezone.utc
D = decimal.Decimal


class Everything(BaseModel):
    id = Column(String, hash_key=True)
    s = Column(String)
    n = Column(Number)
    i = Column(Integer)
    b = Column(Binary)
    flag = Column(Boolean)
    u = Column(UUID)
    dt = Column(DateTime)
    ts = Column(Timestamp)
    ss = Column(Set(String))
    ns = Column(Set(Number))
    bs = Column(Set(Binary))
    ints = Column(List(Integer))
    m = Column(Map(a=String, b=Integer))
    dm = Column(DynamicMap)
    dl = Column(DynamicList)


def nested(levels):
    value = 1
    for _ in range(levels):
        value = {"x": value}
    return value


EDGE_NUMBERS = st.sampled_from([
    D("1E-130"), D("-1E-130"), D("9.9999999999999999999999999999999999999E+125"), D("1E+50"), D("1E-50"),
    int("9" * 38 + "0" * 88), D("1E+126"), D("1E-131"), D("1" * 39), D("0E+200"), 10 ** 50, 10 ** 126,
])
numbers = st.one_of(EDGE_NUMBERS, st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                    st.decimals(allow_nan=False, allow_infinity=False))
text = st.one_of(st.text(max_size=8), st.sampled_from(["a\ud800b", "\udfff", "é", "日本"]))
wrong = st.one_of(st.integers(), st.binary(max_size=3), st.text(max_size=3), st.booleans(), st.none())
aware = st.datetimes(min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(9000, 1, 1),
                     timezones=st.just(UTC))
scalars = st.one_of(st.none(), st.booleans(), text, st.binary(max_size=4), st.integers(-10 ** 40, 10 ** 40),
                    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10 ** 6,
                                max_value=10 ** 6), st.sets(st.text(max_size=3), max_size=3),
                    st.sets(st.integers(-9, 9), max_size=3), st.sets(st.one_of(st.text(max_size=2),
                                                                                st.integers(0, 3)), max_size=3))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)), max_leaves=8)

VALUES = {
    "s": st.one_of(text, wrong),
    "n": st.one_of(numbers, wrong),
    "i": st.one_of(st.integers(-10 ** 40, 10 ** 40), st.floats(allow_nan=False, allow_infinity=False), wrong),
    "b": st.one_of(st.binary(max_size=8), wrong),
    "flag": st.one_of(st.booleans(), wrong),
    "u": st.one_of(st.uuids(), st.uuids().map(str), wrong),
    "dt": st.one_of(aware, st.datetimes(), wrong),
    "ts": st.one_of(aware.map(lambda d: d.replace(microsecond=0)), wrong),
    "ss": st.one_of(st.sets(text, max_size=4), st.lists(st.text(max_size=3), max_size=3), wrong),
    "ns": st.one_of(st.sets(numbers, max_size=4), wrong),
    "bs": st.one_of(st.sets(st.binary(max_size=3), max_size=4), wrong),
    "ints": st.one_of(st.lists(st.one_of(st.integers(-10 ** 6, 10 ** 6), st.none()), max_size=5), wrong),
    "m": st.one_of(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.one_of(text, st.integers(), st.none()),
                                   max_size=3), wrong),
    "dm": st.one_of(st.dictionaries(st.text(max_size=4), documents, max_size=4),
                    st.integers(30, 34).map(nested), wrong),
    "dl": st.one_of(st.lists(documents, max_size=4), wrong),
}


def beyond_dynamodb(number):
    """Whether DynamoDB can't hold ``number`` exactly: over 38 significant digits or outside 1E-130..9.99E+125.

    moto accepts such numbers, so the test must know DynamoDB's rule itself.
    """
    if isinstance(number, bool) or not isinstance(number, (int, float, decimal.Decimal)):
        return False
    exact = decimal.Decimal(number)
    if not exact:
        return False
    digits = len(exact.normalize(decimal.Context(prec=1000)).as_tuple().digits)
    return digits > 38 or not -130 <= exact.adjusted() <= 125


def must_be_refused(name, value):
    if name in ("n", "i"):
        return beyond_dynamodb(value)
    if name == "ns" and isinstance(value, set):
        return any(beyond_dynamodb(v) for v in value)
    return False


def empty(value):
    return value is None or (not isinstance(value, (bool, int, float, decimal.Decimal)) and not value)


def pruned(value):
    """What a dynamic value loads back as: None and empty values in maps are not stored."""
    if isinstance(value, dict):
        out = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not empty(v)}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def expected(name, value):
    if name == "s":
        return value or ""
    if name == "b":
        return bytes(value) if value else b""
    if name in ("ss", "ns", "bs"):
        return set(value) if value else set()
    if name == "ints":
        return list(value) if value else []
    if name == "m":
        value = value or {}
        return {"a": value.get("a") or "", "b": value.get("b")}
    if name == "dm":
        return pruned(value) if value else {}
    if name == "dl":
        return pruned(value) if value else []
    return value


def round_trips_or_is_refused(engine, dynamodb, name, value):
    """Save ``value`` in column ``name``: it loads back exactly, or is refused before any request."""
    obj = Everything(id=uuid.uuid4().hex)
    setattr(obj, name, value)
    with counting_requests(dynamodb) as sent:
        try:
            engine.save(obj)
        except BloopException:
            refused = True
        else:
            refused = False
    assert refused or not must_be_refused(name, value), f"{name}={value!r} is beyond DynamoDB's numbers, yet was sent"
    if refused:
        assert sent == [], f"requests were sent before {name}={value!r} was refused"
        table = engine._compute_table_name(Everything)
        assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": obj.id}}, ConsistentRead=True)
        return "refused"
    loaded = Everything(id=obj.id)
    engine.load(loaded, consistent=True)
    assert getattr(loaded, name) == expected(name, value)
    return "stored"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_value_round_trips_or_is_refused_before_any_request(engine, dynamodb, data):
    engine.bind(Everything)
    name = data.draw(st.sampled_from(sorted(VALUES)), label="column")
    round_trips_or_is_refused(engine, dynamodb, name, data.draw(VALUES[name], label="value"))


EDGES = [  # (column, value, outcome): the cases issue 14 measured, each pinned
    ("n", D("1E+126"), "refused"), ("n", D("1E-131"), "refused"), ("n", D("1" * 39), "refused"),
    ("n", D("1E-130"), "stored"), ("n", D("9.9999999999999999999999999999999999999E+125"), "stored"),
    ("n", -D("1E-130"), "stored"), ("n", int("9" * 38 + "0" * 88), "stored"), ("n", D("1E+50"), "stored"),
    ("i", 10 ** 126, "refused"), ("i", 10 ** 125, "stored"), ("i", 1.5, "refused"), ("i", True, "refused"),
    ("ns", {D("1E+126")}, "refused"), ("ns", {1, D("1E-130")}, "stored"),
    ("ints", [1, None, 2], "refused"), ("ints", "abc", "refused"), ("ss", "abc", "refused"),
    ("ss", {"a", ""}, "refused"), ("u", "not-a-uuid", "refused"), ("s", "a\ud800", "refused"), ("s", 5, "refused"),
    ("b", 5, "refused"), ("flag", "false", "refused"), ("m", {"a": "x", "c": 1}, "refused"),
    ("dm", nested(31), "stored"), ("dm", nested(32), "stored"), ("dm", nested(33), "refused"),
    ("dm", nested(2000), "refused"), ("dm", {"s": {"a", 1}}, "refused"), ("dm", {"s": {1, "a"}}, "refused"),
    ("dl", [1, None], "refused"), ("dm", {"when": datetime.datetime(2020, 1, 1, tzinfo=UTC)}, "refused"),
]


@pytest.mark.parametrize("name, value, outcome", EDGES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(EDGES)])
def test_the_edges_round_trip_or_are_refused(engine, dynamodb, name, value, outcome):
    engine.bind(Everything)
    assert round_trips_or_is_refused(engine, dynamodb, name, value) == outcome


@pytest.mark.parametrize("range_value", [
    D("1E+50"), D("9.9999999999999999999999999999999999999E+125"), D("-1E+50"), D("1E-130"), D("1E-50"),
    int("9" * 38 + "0" * 88), D("123.4500"),
])
def test_number_range_keys_at_the_edges_load(engine, range_value):
    """DynamoDB answers 1E+50 in plain notation; keys are matched by value, so load finds the item."""
    class Edge(BaseModel):
        id = Column(String, hash_key=True)
        r = Column(Number, range_key=True)
        n = Column(Number)

    engine.bind(Edge)
    engine.save(Edge(id="k", r=range_value, n=range_value))
    loaded = Edge(id="k", r=range_value)
    engine.load(loaded, consistent=True)
    assert loaded.n == range_value
    again = engine.query(Edge, key=(Edge.id == "k") & (Edge.r == range_value)).one()
    assert again.r == range_value
    engine.save(again)  # what was loaded saves again, including 126-digit numbers
    engine.delete(again)
