"""Building objects: what __init__ sets, marks and signals, and key dumping (the load path's first steps)."""
import pytest

from bloop import BaseModel, Column, Integer, String, missing, object_modified
from bloop.exceptions import InvalidValue, MissingKey
from bloop.models import bind_column, dump_key, marked


class Thing(BaseModel):
    id = Column(String, hash_key=True)
    rank = Column(Integer, range_key=True)
    name = Column(String)
    count = Column(Integer, default=lambda: 3)
    label = Column(String, default="none")


def test_given_values_and_defaults_are_set_marked_and_signalled():
    seen = []

    def receiver(_, obj, column, value, **__):
        seen.append((column.name, value))
    object_modified.connect(receiver)
    try:
        obj = Thing(id="a", rank=1, label=missing, bogus=2)
    finally:
        object_modified.disconnect(receiver)
    assert sorted(seen) == [("count", 3), ("id", "a"), ("label", "none"), ("rank", 1)]
    assert marked(obj) == {"id", "rank", "count", "label"}
    assert not hasattr(obj, "name")


def test_a_given_value_wins_over_the_default_and_none_is_a_value():
    obj = Thing(id="a", rank=1, count=None, label="mine")
    assert obj.count is None and obj.label == "mine"


def test_a_column_bound_later_with_a_default_is_applied():
    class Late(BaseModel):
        id = Column(String, hash_key=True)
    Late(id="x")  # compiles the model before the new column
    bind_column(Late, "extra", Column(String, default="late"))
    assert Late(id="y").extra == "late"


def test_dump_key_is_hash_then_range_and_names_what_is_wrong():
    assert list(dump_key(Thing(id="a", rank=2))) == ["id", "rank"]
    assert dump_key(Thing(id="a", rank=2)) == {"id": {"S": "a"}, "rank": {"N": "2"}}
    with pytest.raises(MissingKey, match="rank"):
        dump_key(Thing(id="a"))
    with pytest.raises(MissingKey, match="id"):
        dump_key(Thing(id="", rank=1))
    with pytest.raises(InvalidValue, match="Thing.rank"):
        dump_key(Thing(id="a", rank="not a number"))
