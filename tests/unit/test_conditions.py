"""Conditions render with placeholders only, and bad operands fail at construction or render time."""
import pytest

from bloop import BaseModel, Column, Condition, Integer, List, Map, Number, Set, String
from bloop.actions import add, delete, remove
from bloop.conditions import render
from bloop.exceptions import InvalidCondition


class Doc(BaseModel):
    id = Column(String, hash_key=True)
    count = Column(Number)
    tags = Column(Set(String))
    data = Column(Map(name=String, items=List(Integer)))


def rendered(condition):
    return render(None, condition=condition)


def test_comparisons_render_placeholders_only():
    out = rendered((Doc.id == "x'); DROP") & (Doc.count >= 3))
    assert out["ConditionExpression"] == "((#n0 = :v0) AND (#n1 >= :v1))"
    assert out["ExpressionAttributeNames"] == {"#n0": "id", "#n1": "count"}
    assert out["ExpressionAttributeValues"] == {":v0": {"S": "x'); DROP"}, ":v1": {"N": "3"}}


def test_none_means_existence():
    assert rendered(Doc.count == None)["ConditionExpression"] == "(attribute_not_exists(#n0))"  # noqa: E711
    assert rendered(Doc.count.is_not(None))["ConditionExpression"] == "(attribute_exists(#n0))"
    with pytest.raises(InvalidCondition):
        Doc.count < None  # noqa: B015


def test_paths_and_functions():
    out = rendered(Doc.data["items"][2].between(1, 5) | Doc.data["name"].begins_with("a") | ~Doc.tags.contains("t"))
    assert out["ConditionExpression"] == (
        "((#n0.#n1[2] BETWEEN :v0 AND :v1) OR (begins_with(#n0.#n2, :v2)) OR (NOT (contains(#n3, :v3))))")
    assert out["ExpressionAttributeValues"][":v3"] == {"S": "t"}  # contains dumps with the set's inner type


def test_in_accepts_list_or_varargs():
    listed = rendered(Doc.id.in_(["a", "b"]))
    assert listed == rendered(Doc.id.in_("a", "b"))
    assert listed["ConditionExpression"] == "(#n0 IN (:v0, :v1))"
    with pytest.raises(InvalidCondition, match="at least one"):
        Doc.id.in_([])
    with pytest.raises(InvalidCondition, match="at least one"):
        Doc.id.in_()


def test_unsupported_operations_raise_at_construction():
    with pytest.raises(InvalidCondition, match="begins_with"):
        Doc.count.begins_with(1)
    with pytest.raises(InvalidCondition, match="between"):
        Doc.tags.between(1, 2)
    with pytest.raises(InvalidCondition, match="declared keys"):
        Doc.data["nope"]


def test_bad_value_raises_before_any_call():
    with pytest.raises(InvalidCondition, match="can't compare"):
        rendered(Doc.count == "seven")


def test_empty_condition_is_identity_and_flattening():
    c = Doc.id == "a"
    assert not Condition() and (Condition() & c) is c and (c | Condition()) is c
    assert len((c & c) & (c & c)) == 4
    assert ~~c is c
    assert rendered(Condition()) == {}


def test_column_vs_column():
    out = rendered(Doc.count > Doc.data["items"][0])
    assert out["ConditionExpression"] == "(#n0 > #n1.#n2[0])"
    assert "ExpressionAttributeValues" not in out


def test_update_expression_clause_order():
    doc = Doc(id="a")
    doc.count = add(2)
    doc.tags = delete({"x"})
    doc.data = {"name": "n"}
    del doc.count
    doc.count = add(1)
    doc.tags = delete({"x"})
    other = Doc(id="b", data=remove())
    out = render(None, obj=doc, update=True)
    expression = out["UpdateExpression"]
    for ref, name in out["ExpressionAttributeNames"].items():
        expression = expression.replace(ref, name)
    for ref, value in out["ExpressionAttributeValues"].items():
        expression = expression.replace(ref, repr(value))
    assert expression == "ADD count {'N': '1'} DELETE tags {'SS': ['x']} SET data={'M': {'name': {'S': 'n'}}}"
    assert render(None, obj=other, update=True)["UpdateExpression"] == "REMOVE #n0"
