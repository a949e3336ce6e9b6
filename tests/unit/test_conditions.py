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


# ------------------------------------------------------------------------ bloop 3.x compatibility
@pytest.mark.parametrize("column, empty", [(Doc.id, ""), (Doc.tags, set()), (Doc.data, {}),
                                           (Doc.data["items"], [])])
def test_comparing_with_an_empty_value_means_absent(column, empty):
    """bloop's snapshot pattern: a missing column loads as its empty value, and == that value renders absence."""
    assert rendered(column == empty)["ConditionExpression"].startswith("(attribute_not_exists(#n0")
    assert rendered(column != empty)["ConditionExpression"].startswith("(attribute_exists(#n0")
    assert "ExpressionAttributeValues" not in rendered(column == empty)


def test_ordering_against_an_empty_value_still_raises():
    with pytest.raises(InvalidCondition, match="empty"):
        rendered(Doc.id > "")


def test_in_on_list_set_and_map_columns():
    out = rendered(Doc.tags.in_({"a"}, {"b", "c"}))
    assert out["ConditionExpression"] == "(#n0 IN (:v0, :v1))"
    assert out["ExpressionAttributeValues"][":v0"] == {"SS": ["a"]}
    out = rendered(Doc.data["items"].in_([1, 2]))  # one argument is one list value, as in bloop
    assert out["ExpressionAttributeValues"] == {":v0": {"L": [{"N": "1"}, {"N": "2"}]}}
    assert rendered(Doc.data.in_({"name": "x"}))["ExpressionAttributeValues"] == {
        ":v0": {"M": {"name": {"S": "x"}}}}


# --------------------------------------------------------------------------- refused before any call
class Other(BaseModel):
    id = Column(String, hash_key=True)
    count = Column(Number)


def test_a_column_of_another_model_is_refused():
    from bloop.conditions import ConditionRenderer
    renderer = ConditionRenderer()
    with pytest.raises(InvalidCondition, match=r"Other\.count.*not a column of Doc"):
        renderer.condition_expression("ConditionExpression", Other.count == 1, model=Doc)
    with pytest.raises(InvalidCondition, match="not a column of Doc"):
        renderer.condition_expression("ConditionExpression", Doc.count == Other.count, model=Doc)
    renderer.condition_expression("ConditionExpression", Doc.count == 1, model=Doc)


def test_an_inherited_column_of_a_base_model_is_accepted():
    from bloop.conditions import ConditionRenderer

    class Base(BaseModel):
        class Meta:
            abstract = True
        id = Column(String, hash_key=True)
        n = Column(Number)

    class Child(Base):
        pass

    ConditionRenderer().condition_expression("ConditionExpression", Base.n == 1, model=Child)
    with pytest.raises(InvalidCondition):
        ConditionRenderer().condition_expression("ConditionExpression", Child.n == 1, model=Other)


@pytest.mark.parametrize("condition", [
    lambda: Doc.id == 5, lambda: Doc.count == "seven", lambda: Doc.tags.contains(3),
    lambda: Doc.data["name"].begins_with(b"x"), lambda: Doc.id.in_("a", 1), lambda: Doc.count.between(1, "nine"),
])
def test_a_wrong_typed_operand_raises_invalid_condition(condition):
    with pytest.raises(InvalidCondition, match="can't compare"):
        rendered(condition())


@pytest.mark.parametrize("index", [True, False, -1, 1.0, "0"])
def test_a_list_index_must_be_a_non_negative_int(index):
    with pytest.raises(InvalidCondition, match="non-negative int"):
        Doc.data["items"][index]


@pytest.mark.parametrize("lower, upper, column", [(5, 1, Doc.count), ("b", "a", Doc.id),
                                                   ("\u00e9", "z", Doc.id)])
def test_reversed_between_bounds_raise(lower, upper, column):
    # "é" is after "z" in UTF-8 byte order, which is DynamoDB's order for strings
    with pytest.raises(InvalidCondition, match="reversed"):
        rendered(column.between(lower, upper))
    rendered(column.between(upper, lower))


def test_an_expression_over_4_kb_is_refused():
    condition = Condition()
    for i in range(300):
        condition &= Doc.count != i
    with pytest.raises(InvalidCondition, match="4096"):
        rendered(condition)
