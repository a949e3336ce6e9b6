"""Which searches send a ProjectionExpression: only those it narrows (requests recorded in-process)."""
import pytest

from benchmarks.canned import CannedAWS, make_engine, patched
from bloop import BaseModel, Column, GlobalSecondaryIndex, Integer, LocalSecondaryIndex, String


class Doc(BaseModel):
    id = Column(String, hash_key=True)
    rank = Column(Integer, range_key=True)
    owner = Column(String)
    title = Column(String)
    body = Column(String)
    by_owner = GlobalSecondaryIndex(projection="all", hash_key="owner")
    owner_keys = GlobalSecondaryIndex(projection="keys", hash_key="owner", dynamo_name="owner-keys")
    by_title = LocalSecondaryIndex(projection=["body"], range_key="title")


ITEM = {"id": {"S": "d"}, "rank": {"N": "1"}, "owner": {"S": "o"}, "title": {"S": "t"}, "body": {"S": "b"},
        "extra": {"S": "not a column"}}


@pytest.fixture
def sent():
    page = {"Items": [ITEM], "Count": 1, "ScannedCount": 1}
    canned = CannedAWS().on("Query", page).on("Scan", page)
    canned.requests = []
    with patched(canned):
        yield canned.requests


@pytest.fixture
def engine():
    return make_engine(Doc)


@pytest.mark.parametrize("search", [
    lambda e: e.query(Doc, key=Doc.id == "d"),
    lambda e: e.scan(Doc),
    lambda e: e.query(Doc.by_owner, key=Doc.owner == "o"),
    lambda e: e.scan(Doc.by_owner),
])
def test_all_on_a_table_or_an_all_projecting_index_names_no_attributes(engine, sent, search):
    obj = search(engine).one()
    (_, request), = sent
    assert "ProjectionExpression" not in request and "Select" not in request
    assert "ExpressionAttributeNames" not in request or set(request["ExpressionAttributeNames"].values()) <= {
        "id", "owner"}
    assert (obj.id, obj.rank, obj.owner, obj.title, obj.body) == ("d", 1, "o", "t", "b")
    assert not hasattr(obj, "extra")


@pytest.mark.parametrize("search, names", [
    (lambda e: e.query(Doc.owner_keys, key=Doc.owner == "o"), {"id", "rank", "owner"}),
    (lambda e: e.query(Doc.by_title, key=Doc.id == "d"), {"id", "rank", "title", "body"}),
    (lambda e: e.query(Doc, key=Doc.id == "d", projection=["title"]), {"id", "rank", "title"}),
    (lambda e: e.scan(Doc.by_owner, projection=[Doc.body]), {"id", "rank", "owner", "body"}),
])
def test_a_projection_that_narrows_is_sent_with_the_keys(engine, sent, search, names):
    search(engine).one()
    (_, request), = sent
    assert request["Select"] == "SPECIFIC_ATTRIBUTES"
    refs = [ref.strip() for ref in request["ProjectionExpression"].split(",")]
    assert {request["ExpressionAttributeNames"][ref] for ref in refs} == names


def test_count_selects_count(engine, sent):
    assert engine.scan(Doc, projection="count").count == 1
    (_, request), = sent
    assert request["Select"] == "COUNT" and "ProjectionExpression" not in request
