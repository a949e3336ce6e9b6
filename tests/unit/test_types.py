"""Round trips of every type through its wire form (property-based), and the edges users hit."""
import datetime
import decimal
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bloop import (
    UUID,
    Binary,
    Boolean,
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
from bloop.actions import ActionType, add
from bloop.exceptions import InvalidModel
from bloop.ext import arrow as arrow_ext

UTC = datetime.timezone.utc


def round_trip(typedef, value):
    action = typedef._dump(value, context={})
    if action.type is ActionType.Remove:
        return typedef._load(None, context={})
    return typedef._load(action.value, context={})


aware = st.datetimes(min_value=datetime.datetime(1970, 1, 2), max_value=datetime.datetime(9000, 1, 1),
                     timezones=st.just(UTC))
numbers = st.decimals(allow_nan=False, allow_infinity=False, places=6,
                      min_value=decimal.Decimal("-1e20"), max_value=decimal.Decimal("1e20"))


@given(st.text(min_size=1))
def test_string(value):
    assert round_trip(String(), value) == value


@given(st.binary(min_size=1))
def test_binary(value):
    assert round_trip(Binary(), value) == value


@given(numbers)
def test_number(value):
    assert round_trip(Number(), value) == value


@given(st.integers(min_value=-(10 ** 30), max_value=10 ** 30))
def test_integer(value):
    assert round_trip(Integer(), value) == value


@given(st.booleans())
def test_boolean(value):
    assert round_trip(Boolean(), value) is value


@given(st.uuids())
def test_uuid(value):
    assert round_trip(UUID(), value) == value


@given(aware)
def test_datetime(value):
    assert round_trip(DateTime(), value) == value


@given(aware)
def test_timestamp(value):
    assert round_trip(Timestamp(), value) == value.replace(microsecond=0)


@given(st.sets(st.text(min_size=1), min_size=1))
def test_string_set(value):
    assert round_trip(Set(String), value) == value


@given(st.sets(numbers, min_size=1))
def test_number_set(value):
    assert round_trip(Set(Number), value) == value


@given(st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1))
def test_list(value):
    assert round_trip(List(Integer), value) == value


@given(st.text(min_size=1), st.lists(st.text(min_size=1), min_size=1))
def test_map(name, langs):
    typedef = Map(name=String, langs=List(String), age=Integer)
    assert round_trip(typedef, {"name": name, "langs": langs}) == {"name": name, "langs": langs, "age": None}


dynamic_values = st.recursive(
    st.one_of(st.text(min_size=1), st.binary(min_size=1), st.booleans(), numbers),
    lambda children: st.one_of(st.lists(children, min_size=1),
                               st.dictionaries(st.text(min_size=1), children, min_size=1)),
    max_leaves=10)


@given(st.dictionaries(st.text(min_size=1), dynamic_values, min_size=1))
def test_dynamic_map(value):
    assert round_trip(DynamicMap(), value) == value


@given(st.lists(dynamic_values, min_size=1))
def test_dynamic_list(value):
    assert round_trip(DynamicList(), value) == value


def test_empty_values_are_not_stored():
    for typedef, empty in [(String(), ""), (Binary(), b""), (Set(String), set()), (List(String), []),
                           (Map(a=String), {}), (DynamicMap(), {}), (DynamicList(), [])]:
        assert typedef._dump(empty, context={}).type is ActionType.Remove
    assert String()._load(None, context={}) == ""
    assert Set(String)._load(None, context={}) == set()


def test_float_that_is_not_exact_raises():
    with pytest.raises(decimal.Inexact):
        Number()._dump(0.1, context={})
    assert Number()._dump(0.5, context={}).value == {"N": "0.5"}


def test_nan_and_wrong_type_raise():
    with pytest.raises(TypeError):
        Number()._dump(decimal.Decimal("NaN"), context={})
    with pytest.raises(TypeError):
        Number()._dump(object(), context={})
    with pytest.raises(decimal.InvalidOperation, match="not a number"):
        Number()._dump("not a number", context={})
    with pytest.raises(TypeError, match="encode"):
        Binary()._dump("text", context={})


def test_naive_datetime_raises_with_hint():
    with pytest.raises(ValueError, match="aware"):
        DateTime()._dump(datetime.datetime(2020, 1, 1), context={})
    with pytest.raises(ValueError, match="aware"):
        Timestamp()._dump(datetime.datetime(2020, 1, 1), context={})


def test_datetime_is_stored_in_utc_fixed_width():
    paris = datetime.timezone(datetime.timedelta(hours=2))
    value = datetime.datetime(2020, 1, 1, 12, tzinfo=paris)
    assert DateTime()._dump(value, context={}).value == {"S": "2020-01-01T10:00:00.000000+00:00"}


def test_nested_add_is_refused():
    with pytest.raises(ValueError, match="inside"):
        List(Integer)._dump([add(1)], context={})


def test_set_of_list_is_refused():
    with pytest.raises(InvalidModel):
        Set(List(String))


def test_paths():
    typedef = Map(address=Map(lines=List(String)))
    assert isinstance(typedef["address"]["lines"][0], String)
    with pytest.raises(InvalidModel, match="declared keys"):
        typedef["nope"]


def test_custom_type():
    class Upper(String):
        def dynamo_dump(self, value, *, context, **kwargs):
            return value.upper() if value else None

        def dynamo_load(self, value, *, context, **kwargs):
            return value.lower() if value else None

    assert Upper()._dump("abc", context={}).value == {"S": "ABC"}
    assert round_trip(Upper(), "abc") == "abc"


def test_arrow_types():
    import arrow
    value = arrow.get("2021-06-01T12:00:00+02:00")
    loaded = round_trip(arrow_ext.DateTime(timezone="Europe/Paris"), value)
    assert loaded == value and str(loaded.tzinfo) != "tzutc()"
    assert round_trip(arrow_ext.Timestamp(), value) == value


def test_uuid_string_form():
    value = uuid.UUID(int=5)
    assert UUID()._dump(value, context={}).value == {"S": str(value)}


@pytest.mark.parametrize("value, wire", [
    (decimal.Decimal("1.0"), "1"), (decimal.Decimal("1.50"), "1.5"), (decimal.Decimal("1E+2"), "100"),
    (decimal.Decimal("-0.00"), "0"), (decimal.Decimal("0.001"), "0.001"), (7, "7"), (2.5, "2.5")])
def test_numbers_are_sent_in_dynamodbs_canonical_text(value, wire):
    # DynamoDB answers with this text, so a key or a verified value read back compares equal
    assert Number()._dump(value, context={}).value == {"N": wire}


# ------------------------------------------------------------------ values are checked, never reshaped
@pytest.mark.parametrize("typedef, value", [
    (List(String), "abc"),            # a str is iterable: it must not become ["a", "b", "c"]
    (Set(String), "abc"),
    (Set(Integer), [1, 2]),           # a list is not a set (duplicates would be dropped)
    (UUID(), "not-a-uuid"),
    (UUID(), str(uuid.UUID(int=1))),  # text loads back as text's UUID, not the str saved
    (String(), 5),
    (String(), b"x"),
    (Binary(), 5),                    # bytes(5) would be five zero bytes
    (Boolean(), "false"),             # bool("false") is True
    (Boolean(), 1),
    (Integer(), 1.5),                 # int(1.5) would truncate
    (Integer(), True),
    (Integer(), "3"),
    (Number(), True),
    (DateTime(), "2020-01-01"),
    (Timestamp(), 1577836800),
    (Map(a=Integer), {"a": 1, "b": 2}),  # an undeclared key would be dropped
    (Map(a=Integer), [("a", 1)]),
    (DynamicMap(), {"when": datetime.datetime(2020, 1, 1, tzinfo=UTC)}),  # would load back as a str
    (DynamicMap(), {1: "x"}),
    (DynamicList(), {"a": 1}),
])
def test_wrong_type_raises_instead_of_reshaping(typedef, value):
    with pytest.raises((TypeError, ValueError)):
        typedef._dump(value, context={})


def test_lone_surrogate_raises_value_error():
    for typedef, value in [(String(), "a\ud800b"), (Set(String), {"ok", "\udfff"}), (DynamicMap(), {"k": "\ud800"}),
                           (DynamicMap(), {"\ud800": "v"}), (List(String), ["\ud800"])]:
        with pytest.raises(ValueError, match="surrogate"):
            typedef._dump(value, context={})


@pytest.mark.parametrize("typedef, value", [
    (List(Integer), [1, None, 2]),
    (List(String), ["a", "", "b"]),
    (List(Map(a=Integer)), [{"a": 1}, {}]),
    (DynamicList(), [1, None]),
    (DynamicMap(), {"l": ["x", ""]}),
])
def test_none_or_empty_inside_a_list_raises_naming_the_index(typedef, value):
    with pytest.raises(ValueError, match="at index 1"):
        typedef._dump(value, context={})


def test_empty_value_inside_a_set_raises():
    with pytest.raises(ValueError, match="empty"):
        Set(String)._dump({"a", ""}, context={})
    with pytest.raises(ValueError, match="empty"):
        Set(Binary)._dump({b"a", b""}, context={})


@pytest.mark.parametrize("value", [{"a", 1}, {1, "a"}, {b"x", "x"}, {"x", b"x"}, {1, b"x"}])
def test_mixed_dynamic_set_raises_in_any_order(value):
    with pytest.raises(TypeError, match="one kind"):
        DynamicMap()._dump({"s": value}, context={})


def test_typed_set_with_a_foreign_element_raises():
    with pytest.raises(TypeError):
        Set(String)._dump({"a", 1}, context={})
    with pytest.raises(TypeError):
        Set(Integer)._dump({1, "a"}, context={})


def nested(levels, leaf=1):
    value = leaf
    for _ in range(levels):
        value = {"x": value}
    return value


def test_dynamic_nesting_is_limited_to_32_levels():
    assert DynamicMap()._dump(nested(32), context={}).type is ActionType.Set
    with pytest.raises(ValueError, match="32 levels"):
        DynamicMap()._dump(nested(33), context={})
    with pytest.raises(ValueError, match="32 levels"):  # not a RecursionError
        DynamicMap()._dump(nested(2000), context={})
    deep_list = 1
    for _ in range(33):
        deep_list = [deep_list]
    with pytest.raises(ValueError, match="32 levels"):
        DynamicList()._dump(deep_list, context={})


def test_typed_nesting_counts_dynamic_values_inside():
    typedef = List(DynamicMap)  # the list is one level, so the map may nest 31 more
    assert typedef._dump([nested(31)], context={}).type is ActionType.Set
    with pytest.raises(ValueError, match="32 levels"):
        typedef._dump([nested(32)], context={})


def test_typed_nesting_deeper_than_32_is_refused_at_declaration():
    from bloop import Column
    typedef = Integer
    for _ in range(32):
        typedef = List(typedef)
    Column(typedef)
    with pytest.raises(InvalidModel, match="32 levels"):
        Column(List(typedef))


# ------------------------------------------------------------------------------ numbers at the edges
LARGEST = decimal.Decimal("9.9999999999999999999999999999999999999E+125")


@pytest.mark.parametrize("value", [decimal.Decimal("1E-130"), -decimal.Decimal("1E-130"), LARGEST,
                                   LARGEST.copy_negate(), decimal.Decimal("1E+50"), 10 ** 50,
                                   decimal.Decimal("0E+200")])
def test_numbers_at_the_edges_of_dynamodbs_range_are_stored(value):
    assert round_trip(Number(), value) == value


@pytest.mark.parametrize("value, error", [
    (decimal.Decimal("1E+126"), decimal.Overflow), (-decimal.Decimal("1E+126"), decimal.Overflow),
    (decimal.Decimal("1E-131"), decimal.Underflow), (decimal.Decimal("1.5E-140"), decimal.Underflow),
    (10 ** 126, decimal.Overflow), (decimal.Decimal("1" * 39), decimal.Inexact),
    (decimal.Decimal("1." + "1" * 38), decimal.Inexact),
])
def test_numbers_outside_dynamodbs_range_or_precision_raise(value, error):
    with pytest.raises(error, match="range|38"):
        Number()._dump(value, context={})


def test_a_loaded_126_digit_number_saves_again():
    """DynamoDB answers 9.99...E+125 in plain notation: 38 digits and 88 zeros. Its trailing zeros are exact."""
    wire = "9" * 38 + "0" * 88
    loaded = Number()._load({"N": wire}, context={})
    assert Number()._dump(loaded, context={}).value == {"N": "9.9999999999999999999999999999999999999E+125"}
    assert Integer()._dump(int(wire), context={}).value == {"N": "9.9999999999999999999999999999999999999E+125"}


def test_keys_match_by_numeric_value():
    from bloop.util import key_identity
    sent = {"id": {"S": "a"}, "r": {"N": "1E+50"}}
    answered = {"r": {"N": "1" + "0" * 50}, "id": {"S": "a"}}
    assert key_identity(sent) == key_identity(answered)
    assert hash(key_identity(sent)) == hash(key_identity(answered))
    assert key_identity({"r": {"N": "1"}}) != key_identity({"r": {"S": "1"}})
    assert key_identity({"r": {"N": "1"}}) != key_identity({"r": {"N": "2"}})


def test_number_errors_become_invalid_value_naming_model_and_column():
    from bloop import BaseModel, Column
    from bloop.exceptions import InvalidValue
    from bloop.models import dump_item

    class Edge(BaseModel):
        id = Column(String, hash_key=True)
        n = Column(Number)

    with pytest.raises(InvalidValue, match=r"Edge\.n .*outside DynamoDB's number range"):
        dump_item(Edge(id="x", n=decimal.Decimal("1E+126")))
