"""The declared extension interface: what an extension registered on an engine sees, and when."""
import gc

import pytest

from bloop import BaseModel, Column, Integer, String
from bloop.exceptions import InvalidValue
from bloop.extensions import Extension, ExtensionContext, ObjectState

from .calls import counting_requests


class Item(BaseModel):
    id = Column(String, hash_key=True)
    n = Column(Integer)


class Other(BaseModel):
    id = Column(String, hash_key=True)


class Recorder(Extension):
    """Takes part in Item only; records every call it gets."""

    name = "recorder"

    def __init__(self):
        super().__init__()
        self.calls = []
        self.seen: ObjectState[int] = ObjectState()

    def bind(self, model):
        return model is Item

    def prepare(self, writes):
        self.calls.append(("prepare", [(w.kind, w.obj.id, sorted(w.columns)) for w in writes]))

    def before_send(self, writes):
        self.calls.append(("before_send", [w.obj.id for w in writes]))

    def after_send(self, writes):
        self.calls.append(("after_send", [(w.obj.id, type(w.error).__name__ if w.error else None)
                                          for w in writes]))
        for write in writes:
            if write.error is None:
                self.seen.set(write.obj, self.seen.get(write.obj, 0) + 1)

    def verify(self, writes):
        self.calls.append(("verify", [w.obj.id for w in writes]))
        return []

    def after_load(self, objs):
        self.calls.append(("after_load", sorted(o.id for o in objs)))


@pytest.fixture
def recorded(engine_factory):
    recorder = Recorder()
    engine = engine_factory(extensions=[recorder])
    engine.bind(Item)
    engine.bind(Other)
    return engine, recorder


def test_every_write_call_goes_through_the_same_steps(recorded):
    engine, recorder = recorded
    a, b = Item(id="a", n=1), Item(id="b")
    engine.save(a, b, verify="item")
    with engine.batch() as batch:
        batch.save(Item(id="c", n=3))
    with engine.transaction() as tx:
        tx.delete(b)
    assert [name for name, _ in recorder.calls] == [
        "prepare", "before_send", "after_send", "verify",  # save
        "prepare", "before_send", "after_send",  # batch
        "prepare", "before_send", "after_send",  # transaction
    ]
    assert recorder.calls[0] == ("prepare", [("save", "a", ["n"]), ("save", "b", [])])
    assert recorder.calls[2] == ("after_send", [("a", None), ("b", None)])
    assert recorder.calls[4] == ("prepare", [("put", "c", ["n"])])
    assert recorder.calls[7] == ("prepare", [("delete", "b", [])])
    assert recorder.seen.get(a) == 1 and recorder.seen.get(b) == 2
    # the extension's per-object state lives in the extension and goes with the object
    tracked = len(recorder.seen)
    del a
    gc.collect()
    assert len(recorder.seen) == tracked - 1


def test_every_read_ends_with_after_load(recorded):
    engine, recorder = recorded
    engine.save(Item(id="a", n=1), Item(id="b", n=2))
    recorder.calls.clear()
    engine.load(Item(id="a"))
    list(engine.query(Item, key=Item.id == "b"))
    list(engine.scan(Item))
    with engine.transaction("r") as tx:
        tx.load(Item(id="a"))
    engine.save(Item(id="a", n=5), sync="new")
    assert [call for call in recorder.calls if call[0] == "after_load"] == [
        ("after_load", ["a"]), ("after_load", ["b"]), ("after_load", ["a", "b"]), ("after_load", ["a"]),
        ("after_load", ["a"])]


def test_an_extension_sees_only_its_models_and_a_narrow_context(recorded):
    engine, recorder = recorded
    engine.save(Other(id="x"))
    engine.load(Other(id="x"))
    assert recorder.calls == []  # Other is not its model
    context = recorder.context
    assert isinstance(context, ExtensionContext) and not hasattr(context, "session")
    assert context.table_name(Item) == engine.table_name(Item)
    assert [o.result for o in context.run_all(lambda x: x * 2, [1, 2, 3])] == [2, 4, 6]
    engine.save(Item(id="k", n=1))
    key = {"id": {"S": "k"}}
    (found,) = context.get_items([(engine.table_name(Item), key)], consistent=True).values()
    assert found["n"] == {"N": "1"}


def test_a_refused_call_sends_nothing_and_still_lets_extensions_clean_up(recorded):
    engine, recorder = recorded
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(InvalidValue):
            engine.save(Item(id="ok", n=1), Item(id="bad", n="not a number"))
    assert sent == []
    assert [name for name, _ in recorder.calls] == ["prepare", "after_send"]
    assert recorder.calls[1] == ("after_send", [("ok", "InvalidValue"), ("bad", "InvalidValue")])


def test_a_failing_before_send_aborts_the_call(engine_factory):
    class Refusing(Recorder):
        def before_send(self, writes):
            raise RuntimeError("upload failed")

    refusing = Refusing()
    engine = engine_factory(extensions=[refusing])
    engine.bind(Item)
    with counting_requests(engine.session.dynamodb_client) as sent:
        with pytest.raises(RuntimeError, match="upload failed"):
            engine.save(Item(id="a", n=1))
    assert sent == []
    assert refusing.calls[-1] == ("after_send", [("a", "RuntimeError")])
