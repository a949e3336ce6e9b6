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
        Number()._dump("not a number" and object(), context={})
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
