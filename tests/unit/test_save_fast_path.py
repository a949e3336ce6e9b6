"""The save fast path (bloop.plans) renders exactly what the general path renders, or leaves it to it.

Random models (column types, DynamoDB names, keys) with random values, valid and not: whenever the
general path renders a save, the fast path renders the same request, key, size and stored values (or
declines, only for what it leaves to the general path: actions, limits); whenever the general path
refuses a save, the fast path declines it too, so the general path raises the error a user sees.
"""
import datetime
import decimal
import string
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.canned import make_engine
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
from bloop.actions import add, remove
from bloop.actions import set as set_action
from bloop.codecs import compile_dumper, compile_sized_dumper
from bloop.exceptions import ItemTooLarge
from bloop.extensions import Write
from bloop.limits import MAX_ITEM_SIZE, value_size
from bloop.write import columns_to_write

UTC = datetime.timezone.utc
D = decimal.Decimal


class Shout(String):
    """A custom type: the fast path has no shortcut for it and must size what its dumper returns."""

    def dynamo_dump(self, value, *, context=None, **kwargs):
        return None if value is None else str(value).upper() or None


text = st.one_of(st.text(max_size=6), st.sampled_from(["", "é", "日本", "a\ud800", "x" * 40]))
numbers = st.one_of(
    st.integers(-10 ** 40, 10 ** 40),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([D("1.50"), D("-0.00"), D("1E+50"), D("1E-130"), D("1E+126"), D("1" * 39), D("0.0000001"),
                     D("NaN"), 0.1, 2.5, True]),
)
aware = st.datetimes(min_value=datetime.datetime(1, 1, 2), max_value=datetime.datetime(9998, 1, 1),
                     timezones=st.sampled_from([UTC, datetime.timezone(datetime.timedelta(hours=5))]))
wrong = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=2), st.binary(max_size=2), st.booleans(),
                  st.just([1, None]), st.just({"zz": 1}), st.just(set_action("x")), st.just(add(1)), st.just(remove()))

# (type factory, strategy of values it should store) for columns; nested types come with their values
KINDS = {
    "string": (lambda: String(), text),
    "integer": (lambda: Integer(), numbers),
    "number": (lambda: Number(), numbers),
    "boolean": (lambda: Boolean(), st.booleans()),
    "binary": (lambda: Binary(), st.binary(max_size=6)),
    "uuid": (lambda: UUID(), st.builds(uuid.UUID, int=st.integers(0, 2 ** 128 - 1))),
    "datetime": (lambda: DateTime(), st.one_of(aware, st.datetimes())),
    "timestamp": (lambda: Timestamp(), aware),
    "string set": (lambda: Set(String), st.one_of(st.sets(text, max_size=4), st.frozensets(text, max_size=2))),
    "number set": (lambda: Set(Number), st.sets(numbers, max_size=3)),
    "binary set": (lambda: Set(Binary), st.sets(st.binary(max_size=3), max_size=3)),
    "int list": (lambda: List(Integer), st.lists(st.one_of(numbers, st.none()), max_size=4)),
    "map": (lambda: Map(a=String, b=Integer, c=List(Number)),
            st.dictionaries(st.sampled_from(["a", "b", "c", "d"]),
                            st.one_of(text, numbers, st.lists(numbers, max_size=3), st.none()), max_size=4)),
    "map list": (lambda: List(Map(x=String, y=Set(String))),
                 st.lists(st.fixed_dictionaries({}, optional={"x": text, "y": st.sets(text, max_size=2)}),
                          max_size=3)),
    "dynamic map": (lambda: DynamicMap(), st.dictionaries(st.text(max_size=3), st.one_of(text, numbers, st.booleans()),
                                                          max_size=3)),
    "dynamic list": (lambda: DynamicList(), st.lists(st.one_of(text, numbers), max_size=3)),
    "custom": (lambda: Shout(), text),
}
KEY_KINDS = {"string": (String, st.text(min_size=1, max_size=6)),
             "integer": (Integer, st.integers(-10 ** 6, 10 ** 6)),
             "binary": (Binary, st.binary(min_size=1, max_size=4))}
names = st.text(alphabet=string.ascii_letters + "_.- é", min_size=1, max_size=5)
MODELS = [0]


@st.composite
def models_and_objects(draw):
    """A model with random columns and DynamoDB names, and an object of it with random values."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=6))
    dynamo_names = draw(st.lists(names, min_size=len(kinds) + 2, max_size=len(kinds) + 2, unique=True))
    hash_kind = draw(st.sampled_from(sorted(KEY_KINDS)))
    range_kind = draw(st.one_of(st.none(), st.sampled_from(sorted(KEY_KINDS))))
    attrs = {"k": Column(KEY_KINDS[hash_kind][0], hash_key=True, dynamo_name=dynamo_names[0])}
    if range_kind is not None:
        attrs["r"] = Column(KEY_KINDS[range_kind][0], range_key=True, dynamo_name=dynamo_names[1])
    for number, kind in enumerate(kinds):
        attrs[f"c{number}"] = Column(KINDS[kind][0](), dynamo_name=dynamo_names[number + 2])
    MODELS[0] += 1
    model = type(f"Random{MODELS[0]}", (BaseModel,), attrs)
    values = {"k": draw(KEY_KINDS[hash_kind][1])}
    if range_kind is not None:
        values["r"] = draw(KEY_KINDS[range_kind][1])
    deleted = []
    for number, kind in enumerate(kinds):
        choice = draw(st.sampled_from(["value", "value", "value", "wrong", "unset", "deleted"]))
        if choice == "value":
            values[f"c{number}"] = draw(KINDS[kind][1])
        elif choice == "wrong":
            values[f"c{number}"] = draw(wrong)
        elif choice == "deleted":
            deleted.append(f"c{number}")
    obj = model(**values)
    for name in deleted:
        delattr(obj, name)
    return model, obj


def render_both(model, obj, level):
    writes = make_engine(model)._writes
    write = Write(obj, "save", columns_to_write(obj, "save", synced=False))
    try:
        general = writes._render_general(write, None, "single", None, level)
    except Exception as error:  # noqa: BLE001 - whatever the general path raises, the fast path must decline
        general = error
    return general, writes._render_fast(write, None, level), write


def plain(obj, columns):
    from bloop.actions import Action
    return not any(isinstance(obj.__dict__.get(name), Action) for name in columns)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models_and_objects(), st.sampled_from([None, "item"]))
def test_the_fast_path_renders_what_the_general_path_renders(model_and_obj, level):
    model, obj = model_and_obj
    general, fast, write = render_both(model, obj, level)
    if isinstance(general, Exception):
        assert fast is None, general
        return
    if plain(obj, write.columns) and write.columns and general.size <= MAX_ITEM_SIZE:
        assert fast is not None  # plain values within the limits never need the general path
    if fast is None:
        return
    assert fast.request == general.request
    assert (fast.table_name, fast.key, fast.returns, fast.size) == (
        general.table_name, general.key, general.returns, general.size)
    if level:
        assert fast.stored == general.stored


class Wide(BaseModel):
    id = Column(String, hash_key=True)
    text = Column(String)
    more = Column(String, dynamo_name="é")
    numbers = Column(List(Number))


@pytest.mark.parametrize("over", [0, 1])
def test_the_size_is_exact_at_the_400_kb_limit(over):
    def obj(length):
        return Wide(id="a", text="x" * length, more="é" * 10, numbers=[D("1.5"), 10 ** 30, -7])
    _, small, _ = render_both(Wide, obj(1), None)
    general, fast, _ = render_both(Wide, obj(1 + MAX_ITEM_SIZE - small.size + over), None)
    if over:
        assert isinstance(general, ItemTooLarge) and fast is None
    else:
        assert fast.size == general.size == MAX_ITEM_SIZE


def test_expressions_are_rendered_once_per_set_of_columns():
    class Once(BaseModel):
        id = Column(String, hash_key=True)
        text = Column(String)
        other = Column(Integer)
    writes = make_engine(Once)._writes
    first = writes._render_fast(Write(Once(id="a", text="t"), "save", frozenset({"text"})), None, None)
    plan = Once.Meta._compiled.save_plan
    (cached,) = plan.expressions.values()
    again = writes._render_fast(Write(Once(id="b", text="u"), "save", frozenset({"text"})), None, None)
    assert list(plan.expressions.values()) == [cached]
    assert first.request["UpdateExpression"] == again.request["UpdateExpression"] == cached.text
    assert again.request["ExpressionAttributeValues"] == {":v0": {"S": "u"}}
    assert again.request["ExpressionAttributeNames"] is not cached.names  # each request owns its dicts
    writes._render_fast(Write(Once(id="c", text="v", other=1), "save", frozenset({"text", "other"})), None, None)
    assert len(plan.expressions) == 2


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.data())
def test_sized_dumpers_dump_like_the_dumpers_and_size_like_the_limits(kind, data):
    typedef = KINDS[kind][0]()
    value = data.draw(st.one_of(KINDS[kind][1], wrong))
    try:
        expected = compile_dumper(typedef)(value, None)
    except Exception as error:  # noqa: BLE001
        with pytest.raises(type(error)):
            compile_sized_dumper(typedef)(value, None)
        return
    wire, size = compile_sized_dumper(typedef)(value, None)
    assert wire == expected
    assert size == (0 if wire is None else value_size(wire))
