"""engine.batch(): BatchWriteItem over HTTP, with unprocessed items scripted by a client wrapper."""
import pytest

from bloop import BaseModel, Column, Integer, String, object_saved
from bloop.actions import add
from bloop.exceptions import BatchWriteIncomplete, InvalidBatch, InvalidModel
from bloop.session import RetryPolicy
from bloop.testing import unique_prefix


class Row(BaseModel):
    id = Column(String, hash_key=True)
    n = Column(Integer)
    note = Column(String)


class Abstract(BaseModel):
    class Meta:
        abstract = True
    id = Column(String, hash_key=True)


class Unprocessing:
    """Wraps a dynamodb client: BatchWriteItem leaves the requests for ``stuck_ids`` unprocessed,
    ``times`` times each (forever when None). Records the size of every BatchWriteItem call."""

    def __init__(self, client, stuck_ids=(), times=None):
        self._client = client
        self.stuck_ids = set(stuck_ids)
        self.times = times
        self.sizes = []
        self.rounds = {}

    def __getattr__(self, name):
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems):
        self.sizes.append(sum(len(v) for v in RequestItems.values()))
        sent, left = {}, {}
        for table, requests in RequestItems.items():
            for request in requests:
                body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
                row_id = body["id"]["S"]
                rounds = self.rounds.get(row_id, 0)
                if row_id in self.stuck_ids and (self.times is None or rounds < self.times):
                    self.rounds[row_id] = rounds + 1
                    left.setdefault(table, []).append(request)
                else:
                    sent.setdefault(table, []).append(request)
        if sent:
            self._client.batch_write_item(RequestItems=sent)
        return {"UnprocessedItems": left}


@pytest.fixture
def make_engine(bloop_local, engine_factory):
    def make(**wrapper):
        client = Unprocessing(bloop_local.dynamodb, **wrapper)
        engine = engine_factory(dynamodb=client, retry=RetryPolicy(attempts=4, sleep=lambda s: None),
                                table_name_template=unique_prefix() + "{table_name}")
        engine.bind(Row)
        return engine, client
    return make


def count_rows(engine):
    return engine.scan(Row, projection="count", consistent=True).count


def test_batch_writes_25_per_call_and_replaces_items(make_engine):
    engine, client = make_engine()
    engine.save(Row(id="0", n=1, note="kept by save, dropped by batch put"))
    rows = [Row(id=str(i), n=i) for i in range(60)]
    saved = []
    object_saved.connect(receiver := (lambda sender, obj, **_: saved.append(obj)))
    try:
        with engine.batch(verify="item") as batch:
            batch.save(*rows)
    finally:
        object_saved.disconnect(receiver)
    assert sorted(client.sizes) == [10, 25, 25]
    assert count_rows(engine) == 60 and len(saved) == 60
    first = Row(id="0")
    engine.load(first, consistent=True)
    assert first.note == ""  # PutItem semantics: the whole item was replaced
    with engine.batch() as batch:
        batch.delete(*rows[:30])
    assert count_rows(engine) == 30


def test_unprocessed_items_are_retried(make_engine):
    engine, client = make_engine(stuck_ids={"3", "7"}, times=2)
    with engine.batch() as batch:
        batch.save(*[Row(id=str(i), n=i) for i in range(10)])
    assert count_rows(engine) == 10
    assert client.rounds == {"3": 2, "7": 2}


def test_still_unprocessed_after_bound_lists_exact_objects(make_engine):
    engine, client = make_engine(stuck_ids={"4", "8"})
    rows = [Row(id=str(i), n=i) for i in range(10)]
    with pytest.raises(BatchWriteIncomplete) as excinfo:
        with engine.batch() as batch:
            batch.save(*rows)
    assert excinfo.value.objects == [rows[4], rows[8]]
    assert count_rows(engine) == 8


def test_duplicate_keys_are_refused_before_any_write(make_engine):
    engine, client = make_engine()
    with pytest.raises(InvalidBatch, match="same key"):
        with engine.batch() as batch:
            batch.save(Row(id="a", n=1), Row(id="b"), Row(id="a", n=2))
    assert client.sizes == [] and count_rows(engine) == 0
    same = Row(id="c", n=1)
    with engine.batch() as batch:
        batch.save(same, same)  # one object twice is one request
    assert count_rows(engine) == 1


def test_bad_objects_are_refused(make_engine):
    engine, client = make_engine()
    with pytest.raises(InvalidModel, match="abstract"):
        engine.batch().save(Abstract(id="x"))

    class Unbound(BaseModel):
        id = Column(String, hash_key=True)

    with pytest.raises(InvalidModel, match="not bound"):
        engine.batch().save(Unbound(id="x"))
    row = Row(id="x", n=add(1))
    with pytest.raises(ValueError, match="ADD"):
        with engine.batch() as batch:
            batch.save(row)
    assert client.sizes == []


def test_exception_inside_block_sends_nothing(make_engine):
    engine, client = make_engine()
    with pytest.raises(RuntimeError):
        with engine.batch() as batch:
            batch.save(Row(id="x"))
            raise RuntimeError("user code failed")
    assert client.sizes == []


def test_concurrent_plain_saves_keep_per_object_conditions(make_engine):
    from bloop import ConstraintViolation
    engine, client = make_engine()
    rows = [Row(id=str(i), n=i) for i in range(40)]
    engine.save(*rows)
    for row in rows:
        row.n = row.n + 100
    rows[13].n = -1
    with pytest.raises(ConstraintViolation) as excinfo:
        engine.save(*rows, condition=Row.n < 20)
    assert excinfo.value.obj is rows[20]  # the first failure in argument order
    fresh = [Row(id=str(i)) for i in range(40)]
    engine.load(*fresh, consistent=True)
    assert [r.n for r in fresh] == [-1 if i == 13 else (i + 100 if i < 20 else i) for i in range(40)]


class DroppingConnection(Unprocessing):
    """The first BatchWriteItem writes all but the last ``left`` requests and leaves those unprocessed; the
    retry fails with a connection error (the requests written by the first call stay written)."""

    def __init__(self, client, left=5):
        super().__init__(client)
        self.left = left
        self.calls = 0

    def batch_write_item(self, RequestItems):
        from botocore.exceptions import ConnectionClosedError
        self.calls += 1
        if self.calls > 1:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1:1")
        ((table, requests),) = RequestItems.items()
        self._client.batch_write_item(RequestItems={table: requests[:-self.left]})
        return {"UnprocessedItems": {table: requests[-self.left:]}}


def test_a_failed_retry_reports_only_what_was_not_written(bloop_local, engine_factory):
    client = DroppingConnection(bloop_local.dynamodb)
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(attempts=2, sleep=lambda s: None))
    engine.bind(Row)
    rows = [Row(id=str(i), n=i) for i in range(25)]
    with pytest.raises(BatchWriteIncomplete) as excinfo:
        with engine.batch() as batch:
            batch.save(*rows)
    assert excinfo.value.objects == rows[20:]
    assert count_rows(engine) == 20


class Reordering(Unprocessing):
    """Leaves ``stuck_ids`` unprocessed forever, answering with each item's attributes in another order
    (DynamoDB documents no order for UnprocessedItems)."""

    def batch_write_item(self, RequestItems):
        left = super().batch_write_item(RequestItems)["UnprocessedItems"]
        reordered = {table: [{"PutRequest": {"Item": dict(reversed(r["PutRequest"]["Item"].items()))}}
                             for r in requests] for table, requests in left.items()}
        return {"UnprocessedItems": reordered}


def test_unprocessed_items_are_matched_back_by_key(bloop_local, engine_factory):
    client = Reordering(bloop_local.dynamodb, stuck_ids={"3", "30", "31", "59"})
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(attempts=2, sleep=lambda s: None))
    engine.bind(Row)
    rows = [Row(id=str(i), n=i, note="x") for i in range(60)]
    with pytest.raises(BatchWriteIncomplete) as excinfo:
        with engine.batch() as batch:
            batch.save(*rows)
    assert excinfo.value.objects == [rows[3], rows[30], rows[31], rows[59]]
    assert count_rows(engine) == 56
