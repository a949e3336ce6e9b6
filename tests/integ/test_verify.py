"""Post-conditions over HTTP; index lag is scripted by a client wrapper (moto is immediately consistent)."""
from decimal import Decimal

import pytest

from bloop import BaseModel, Column, GlobalSecondaryIndex, Integer, List, Map, MissingObjects, Number, Set, String
from bloop.exceptions import InvalidVerification, VerificationFailed, VerificationTimeout
from bloop.session import RetryPolicy
from bloop.testing import unique_prefix


class Player(BaseModel):
    id = Column(String, hash_key=True)
    team = Column(String)
    score = Column(Integer)
    by_team = GlobalSecondaryIndex(projection=["score"], hash_key="team")


class LaggingIndex:
    """Wraps a dynamodb client: the first ``lag`` index queries answer with a stale view.

    ``stale_items`` is what the stale view shows (default nothing). Counts index queries and batch reads.
    """

    def __init__(self, client, lag=0, stale_items=()):
        self._client = client
        self.lag = lag
        self.stale_items = list(stale_items)
        self.index_queries = 0
        self.batch_gets = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def query(self, **request):
        if "IndexName" in request:
            self.index_queries += 1
            if self.lag > 0:
                self.lag -= 1
                return {"Items": list(self.stale_items), "Count": len(self.stale_items), "ScannedCount": 0}
        return self._client.query(**request)

    def batch_get_item(self, **request):
        self.batch_gets += 1
        return self._client.batch_get_item(**request)


@pytest.fixture
def lagging(bloop_local, engine_factory):
    def make(lag=0, stale_items=(), **kwargs):
        client = LaggingIndex(bloop_local.dynamodb, lag, stale_items)
        engine = engine_factory(dynamodb=client, retry=RetryPolicy(sleep=lambda s: None),
                                table_name_template=unique_prefix() + "{table_name}", **kwargs)
        engine.bind(Player)
        return engine, client
    return make


def test_item_level_reads_back_in_batches(lagging):
    engine, client = lagging()
    players = [Player(id=str(i), team="a", score=i) for i in range(250)]
    engine.save(*players, verify="item")
    assert client.batch_gets == 3  # 250 objects, 100 keys per BatchGetItem
    engine.delete(*players, verify="item")
    assert client.batch_gets == 6


def test_index_level_polls_until_realized(lagging):
    engine, client = lagging(lag=3)
    engine.save(Player(id="p1", team="red", score=5), verify="indexes")
    assert client.index_queries == 4  # three stale answers, then the realized one


def test_index_level_times_out_naming_object_and_index(lagging):
    engine, client = lagging(lag=10 ** 6, verify_timeout=0.2)
    player = Player(id="p2", team="blue", score=1)
    with pytest.raises(VerificationTimeout) as excinfo:
        engine.save(player, verify="indexes")
    message = str(excinfo.value)
    assert "Player.by_team" in message and "p2" in message and "not listed" in message
    # the write itself happened and is not undone
    fresh = Player(id="p2")
    engine.load(fresh, consistent=True)
    assert fresh.score == 1


def test_index_key_change_waits_for_old_entry_to_go(lagging):
    engine, client = lagging()
    player = Player(id="p3", team="old", score=1)
    engine.save(player)
    stale = {"id": {"S": "p3"}, "team": {"S": "old"}, "score": {"N": "1"}}
    client.stale_items, client.lag = [stale], 2
    player.team = "new"
    engine.save(player, verify="indexes")
    assert client.index_queries >= 3


def test_delete_with_indexes_waits_for_removal(lagging):
    engine, client = lagging()
    player = Player(id="p4", team="gone", score=1)
    engine.save(player)
    client.stale_items = [{"id": {"S": "p4"}, "team": {"S": "gone"}, "score": {"N": "1"}}]
    client.lag = 2
    engine.delete(player, verify="indexes")
    assert client.index_queries == 3


def test_projected_values_must_match(lagging):
    engine, client = lagging()
    player = Player(id="p5", team="t", score=1)
    engine.save(player)
    client.stale_items = [{"id": {"S": "p5"}, "team": {"S": "t"}, "score": {"N": "1"}}]
    client.lag = 2
    player.score = 2
    engine.save(player, verify="indexes")
    assert client.index_queries == 3  # the stale score was not accepted


def test_concurrent_writer_is_reported_not_undone(lagging):
    engine, client = lagging()
    player = Player(id="p6", team="t", score=1)
    real = client._client

    class Interfering(LaggingIndex):
        def batch_get_item(self, **request):
            real.update_item(TableName=request_table(request), Key={"id": {"S": "p6"}},
                             UpdateExpression="SET score = :s", ExpressionAttributeValues={":s": {"N": "99"}})
            return real.batch_get_item(**request)

    def request_table(request):
        return next(iter(request["RequestItems"]))

    engine.session.dynamodb_client = Interfering(real)
    with pytest.raises(VerificationFailed, match="99"):
        engine.save(player, verify="item")


def test_engine_default_and_sync_new(lagging):
    engine, client = lagging(verify="indexes")
    player = Player(id="p7", team="t", score=3)
    engine.save(player, sync="new")
    assert client.index_queries == 1 and client.batch_gets == 1
    assert player.score == 3


def test_unknown_level_is_refused_before_writing(lagging):
    engine, client = lagging()
    with pytest.raises(InvalidVerification):
        engine.save(Player(id="p8", score=1), verify="everything")
    with pytest.raises(MissingObjects):
        engine.load(Player(id="p8"), consistent=True)


# ------------------------------------------------ verify="item" must be able to fail for deletes and batches
def interfering(client, before_read):
    """A client whose consistent read-backs first let ``before_read(real_client, table)`` write something."""
    real = client._client

    class Interfering(LaggingIndex):
        def batch_get_item(self, **request):
            before_read(real, next(iter(request["RequestItems"])))
            return real.batch_get_item(**request)

    return Interfering(real)


def test_item_level_delete_fails_when_the_item_is_still_there(lagging):
    engine, client = lagging()
    engine.save(Player(id="d1", team="t", score=1))

    def put_back(real, table):  # another writer recreates the item between the delete and the read-back
        real.put_item(TableName=table, Item={"id": {"S": "d1"}, "score": {"N": "5"}})

    engine.session.dynamodb_client = interfering(client, put_back)
    with pytest.raises(VerificationFailed, match="still there") as raised:
        engine.delete(Player(id="d1"), verify="item")
    assert len(raised.value.failures) == 1


def test_item_level_delete_passes_when_the_item_is_gone(lagging):
    engine, client = lagging()
    engine.save(Player(id="d2", team="t", score=1))
    engine.delete(Player(id="d2"), verify="item")
    assert client.batch_gets == 1


def test_item_level_batch_put_fails_on_an_attribute_it_did_not_write(lagging):
    """A batch put replaces the whole item, so any difference, even an extra attribute, is a failure."""
    engine, client = lagging()

    def add_attribute(real, table):
        real.update_item(TableName=table, Key={"id": {"S": "b1"}}, UpdateExpression="SET extra = :e",
                         ExpressionAttributeValues={":e": {"S": "x"}})

    engine.session.dynamodb_client = interfering(client, add_attribute)
    with pytest.raises(VerificationFailed, match="extra"):
        with engine.batch(verify="item") as batch:
            batch.save(Player(id="b1", team="t", score=1))


def test_item_level_batch_put_passes_when_the_item_is_exactly_what_was_written(lagging):
    engine, client = lagging()
    with engine.batch(verify="item") as batch:
        batch.save(Player(id="b2", team="t", score=1))
    assert client.batch_gets == 1


def test_batch_delete_with_indexes_waits_for_the_old_entry_to_go(lagging):
    engine, client = lagging()
    player = Player(id="b1", team="gone", score=1)
    engine.save(player)
    client.stale_items = [{"id": {"S": "b1"}, "team": {"S": "gone"}, "score": {"N": "1"}}]
    client.lag = 2
    with engine.batch(verify="indexes") as batch:
        batch.delete(player)
    assert client.index_queries == 3  # the old image was read first, so the old entry was watched


def test_batch_put_changing_an_index_key_waits_for_the_old_entry_to_go(lagging):
    engine, client = lagging()
    player = Player(id="b2", team="old", score=1)
    engine.save(player)
    stale = {"id": {"S": "b2"}, "team": {"S": "old"}, "score": {"N": "1"}}
    client.stale_items, client.lag = [stale], 2
    player.team = "new"
    with engine.batch(verify="indexes") as batch:
        batch.save(player)
    # two stale answers, then the new entry is listed and the old one is gone
    assert client.index_queries >= 4


def test_batch_delete_times_out_while_the_old_entry_stays(lagging):
    engine, client = lagging(verify_timeout=0.2)
    player = Player(id="b3", team="stays", score=1)
    engine.save(player)
    client.stale_items = [{"id": {"S": "b3"}, "team": {"S": "stays"}, "score": {"N": "1"}}]
    client.lag = 10 ** 6
    with pytest.raises(VerificationTimeout, match="still listed"):
        with engine.batch(verify="indexes") as batch:
            batch.delete(player)


class Reading(BaseModel):
    id = Column(Number, hash_key=True)
    value = Column(Number)
    values = Column(Set(Number))
    doc = Column(Map(n=Number, ns=List(Number)))
    by_value = GlobalSecondaryIndex(projection="all", hash_key="value")


def _plain(wire):
    """DynamoDB's form of a wire value it answers with: numbers in plain notation, set members in any order."""
    ((tag, inner),) = wire.items()
    if tag == "N":
        return {"N": format(Decimal(inner), "f")}
    if tag == "NS":
        return {"NS": [format(Decimal(v), "f") for v in reversed(inner)]}
    if tag == "M":
        return {"M": {name: _plain(value) for name, value in inner.items()}}
    if tag == "L":
        return {"L": [_plain(value) for value in inner]}
    return wire


class PlainNumbers(LaggingIndex):
    """Reads answer numbers the way DynamoDB does (``1E+50`` as fifty zeros); moto echoes the text it was sent.

    ``before_read(real_client)``, when set, writes something first (another writer).
    """

    before_read = None

    def batch_get_item(self, **request):
        if self.before_read:
            self.before_read(self._client)
        response = super().batch_get_item(**request)
        for items in response["Responses"].values():
            items[:] = [{name: _plain(value) for name, value in item.items()} for item in items]
        return response

    def query(self, **request):
        response = super().query(**request)
        response["Items"] = [{name: _plain(value) for name, value in item.items()} for item in response["Items"]]
        return response


def test_numbers_read_back_in_plain_notation_verify(lagging):
    """bloop sends ``1E+50`` (DynamoDB's canonical text); the read-back's fifty zeros are the same number."""
    engine, client = lagging(verify_timeout=2)
    engine.bind(Reading)
    engine.session.dynamodb_client = plain = PlainNumbers(client._client)
    big = Decimal("1E+50")
    reading = Reading(id=big, value=big, values={big, Decimal("1E-50"), Decimal(2)},
                      doc={"n": big, "ns": [big, Decimal("1.5")]})
    with engine.batch(verify="item") as batch:  # a whole-item put: the item must be exactly what was sent
        batch.save(reading)
    reading.value = Decimal("2E+50")
    engine.save(reading, verify="indexes")  # the changed attributes, then the index entry under its new key
    assert plain.batch_gets == 2 and plain.index_queries >= 1

    def change_value(real):  # another writer: a different number is still a mismatch
        real.update_item(TableName=engine.table_name(Reading), Key={"id": {"N": "1E+50"}},
                         UpdateExpression="SET #v = :v", ExpressionAttributeNames={"#v": "value"},
                         ExpressionAttributeValues={":v": {"N": "3E+50"}})

    plain.before_read = change_value
    reading.value = Decimal("4E+50")
    with pytest.raises(VerificationFailed, match="value"):
        engine.save(reading, verify="item")
