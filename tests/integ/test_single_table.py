"""Single-table models (a discriminator column, ``class Dog(Animal, discriminator="dog")``) over HTTP on moto."""
import json

import pytest

from bloop import BaseModel, Column, GlobalSecondaryIndex, Integer, String
from bloop.exceptions import InvalidModel, InvalidSearch
from bloop.ext.aws_lambda import lambda_event, lambda_handler
from tests.integ.calls import counting_requests
from tests.integ.test_lambda_example import stream_records
from tests.integ.test_stream import drain


class Animal(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    kind = Column(String, discriminator=True)
    name = Column(String)
    owner = Column(String)
    by_owner = GlobalSecondaryIndex(projection="all", hash_key="owner")
    owner_keys = GlobalSecondaryIndex(projection="keys", hash_key="owner")


class Dog(Animal, discriminator="dog"):
    bark = Column(Integer)


class Cat(Animal, discriminator="cat"):
    lives = Column(Integer)


class Puppy(Dog, discriminator="puppy"):
    teeth = Column(Integer)


class Pet(BaseModel):
    class Meta:
        stream = {"include": ["keys"]}

    id = Column(String, hash_key=True)
    kind = Column(String, discriminator=True)


class Fish(Pet, discriminator="fish"):
    fins = Column(Integer)


@pytest.fixture
def bound(engine):
    engine.bind(Animal)
    return engine


def raw(engine, key):
    return engine.session.dynamodb_client.get_item(
        TableName=engine.table_name(Animal), Key={"id": {"S": key}}, ConsistentRead=True).get("Item")


def put_raw(engine, item):
    engine.session.dynamodb_client.put_item(TableName=engine.table_name(Animal), Item=item)


def by_id(objs):
    return {obj.id: obj for obj in objs}


def zoo(engine):
    """A dog, a cat, a puppy, an item of an unknown kind and one with no kind; all owned by ada."""
    engine.save(Dog(id="d1", name="Rex", owner="ada", bark=7),
                Cat(id="c1", name="Tom", owner="ada", lives=9),
                Puppy(id="p1", name="Bit", owner="ada", bark=2, teeth=12))
    put_raw(engine, {"id": {"S": "b1"}, "kind": {"S": "bird"}, "name": {"S": "Tweety"}, "owner": {"S": "ada"}})
    put_raw(engine, {"id": {"S": "x1"}, "name": {"S": "Nobody"}, "owner": {"S": "ada"}})


# ------------------------------------------------------------------------------------ declaration
def test_members_share_the_base_table_indexes_and_stream():
    assert Dog.Meta.table_name == Cat.Meta.table_name == Puppy.Meta.table_name == "Animal"
    assert Dog.Meta.stream["include"] == {"new", "old"}
    assert {index.dynamo_name for index in Cat.Meta.indexes} == {"by_owner", "owner_keys"}
    assert Animal.Meta.family.classes == {"dog": Dog, "cat": Cat, "puppy": Puppy}
    assert Dog.Meta.discriminator_value == "dog" and Animal.Meta.discriminator_value is None


def test_constructing_a_member_sets_its_discriminator():
    assert Dog(id="1").kind == "dog"
    assert Puppy(id="2").kind == "puppy"
    assert Cat(id="3", kind="dog").kind == "dog"  # an explicit value stays on the object; a save stores "cat"
    assert not hasattr(Animal(id="4"), "kind")


def test_bad_declarations_raise_at_class_definition():
    with pytest.raises(InvalidModel, match="already used by Dog"):
        class Wolf(Animal, discriminator="dog"):
            pass
    with pytest.raises(InvalidModel, match="none of its bases has a discriminator column"):
        class Car(BaseModel, discriminator="car"):
            id = Column(String, hash_key=True)
    with pytest.raises(InvalidModel, match="at most one discriminator column"):
        class Two(BaseModel):
            id = Column(String, hash_key=True)
            a = Column(String, discriminator=True)
            b = Column(String, discriminator=True)
    with pytest.raises(InvalidModel, match="at most one discriminator column"):
        class Horse(Animal, discriminator="horse"):
            breed = Column(String, discriminator=True)
    with pytest.raises(InvalidModel, match="changes the hash_key"):
        class Cow(Animal, discriminator="cow"):
            tag = Column(Integer, hash_key=True, dynamo_name="id")
    with pytest.raises(InvalidModel, match="changes the range_key"):
        class Bull(Animal, discriminator="bull"):
            born = Column(String, range_key=True)
    with pytest.raises(InvalidModel, match="declare indexes on the base"):
        class Owl(Animal, discriminator="owl"):
            by_name = GlobalSecondaryIndex(projection="keys", hash_key="name")
    with pytest.raises(InvalidModel, match="shares Animal's table"):
        class Bat(Animal, discriminator="bat"):
            class Meta:
                table_name = "Bats"
    with pytest.raises(InvalidModel, match="must be a String"):
        class Numbered(BaseModel):
            id = Column(String, hash_key=True)
            kind = Column(Integer, discriminator=True)
    # none of the refused classes joined the family
    assert set(Animal.Meta.family.classes) == {"dog", "cat", "puppy"}


# ---------------------------------------------------------------------------------------- binding
def test_bind_base_creates_one_table_and_binds_every_member(bound):
    names = {model: bound.table_name(model) for model in (Animal, Dog, Cat, Puppy)}
    assert len(set(names.values())) == 1
    prefix = names[Animal][:-len("Animal")]
    client = bound.session.dynamodb_client
    assert client.describe_table(TableName=names[Animal])["Table"]["TableStatus"] == "ACTIVE"
    for member in ("Dog", "Cat", "Puppy"):  # no table of their own
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.describe_table(TableName=prefix + member)


def test_a_refused_declaration_is_never_bound(engine):
    with pytest.raises(InvalidModel) as refused:  # its traceback keeps the half-made class alive
        class Wolf(Animal, discriminator="dog"):
            pass
    with pytest.raises(InvalidModel) as refused_too:
        class Horse(Animal, discriminator="horse"):
            breed = Column(String, discriminator=True)
    assert refused.value and refused_too.value
    assert {cls.__name__ for cls in Animal.__subclasses__()} >= {"Dog", "Cat"}
    engine.bind(Animal)
    assert engine.is_bound(Dog) and engine.is_bound(Puppy)
    assert not any(engine.is_bound(cls) for cls in Animal.__subclasses__() if cls.__name__ in ("Wolf", "Horse"))


def test_binding_a_member_alone_binds_the_same_table(bound, engine_factory):
    other = engine_factory(table_name_template=lambda model: bound.table_name(Animal) if model is Animal
                           else "never-" + model.__name__)
    other.bind(Cat)
    assert all(other.is_bound(m) for m in (Animal, Dog, Cat, Puppy))
    assert {other.table_name(m) for m in (Animal, Dog, Cat, Puppy)} == {bound.table_name(Animal)}
    other.save(Cat(id="c9", lives=3))
    assert raw(bound, "c9")["kind"] == {"S": "cat"}


# ------------------------------------------------------------------------------------------ writes
def test_every_write_stores_the_discriminator(bound):
    dog = Dog(id="d1", name="Rex")
    dog.kind = "cat"  # the class decides, not the attribute
    bound.save(dog)
    assert raw(bound, "d1")["kind"] == {"S": "dog"} and dog.kind == "dog"
    blank = Cat.Meta.init()  # an object built without __init__ has no kind
    blank.id = "c1"
    with bound.transaction() as tx:
        tx.save(blank)
    assert raw(bound, "c1")["kind"] == {"S": "cat"} and blank.kind == "cat"
    with bound.batch() as batch:
        batch.save(Puppy(id="p1", teeth=3))
    assert raw(bound, "p1")["kind"] == {"S": "puppy"}


# ------------------------------------------------------------------------------------------- reads
def test_scan_and_query_return_each_item_as_its_class(bound):
    zoo(bound)
    found = by_id(bound.scan(Animal, consistent=True))
    assert {key: type(obj) for key, obj in found.items()} == {
        "d1": Dog, "c1": Cat, "p1": Puppy, "b1": Animal, "x1": Animal}
    assert found["d1"].bark == 7 and found["c1"].lives == 9 and found["p1"].teeth == 12
    assert found["b1"].kind == "bird" and found["b1"].name == "Tweety"  # unknown kind: the base, kept
    assert found["x1"].kind == ""  # a missing String loads as "", as in bloop
    via_index = by_id(bound.query(Animal.by_owner, key=Animal.owner == "ada"))
    assert {key: type(obj) for key, obj in via_index.items()} == {
        "d1": Dog, "c1": Cat, "p1": Puppy, "b1": Animal, "x1": Animal}
    assert via_index["c1"].lives == 9
    partial = by_id(bound.scan(Animal, projection=[Animal.name]))
    # the discriminator is fetched with the projected columns, so each item still gets its class
    assert type(partial["d1"]) is Dog and partial["d1"].name == "Rex" and not hasattr(partial["d1"], "bark")


def test_searching_a_member_returns_only_its_items(bound):
    zoo(bound)
    assert sorted((type(o).__name__, o.id) for o in bound.scan(Dog, consistent=True)) == [
        ("Dog", "d1"), ("Puppy", "p1")]
    assert [o.id for o in bound.scan(Cat)] == ["c1"]
    # the user's filter is combined with the discriminator test
    assert [o.id for o in bound.scan(Dog, filter=Dog.bark > 5)] == ["d1"]
    assert bound.scan(Puppy, filter=Puppy.bark > 5).all() == []
    assert [o.id for o in bound.query(Cat.by_owner, key=Cat.owner == "ada")] == ["c1"]
    assert bound.query(Dog, key=Dog.id == "c1").all() == []
    assert bound.query(Cat, key=Cat.id == "c1").one().lives == 9
    assert bound.scan(Dog, projection="count").count == 2


def test_member_search_of_an_index_without_the_discriminator_is_refused_before_any_call(bound):
    with counting_requests(bound.session.dynamodb_client) as sent:
        with pytest.raises(InvalidSearch, match="does not project the discriminator column 'kind'"):
            bound.scan(Dog.owner_keys)
    assert sent == []
    zoo(bound)
    keys_only = bound.query(Animal.owner_keys, key=Animal.owner == "ada").all()
    assert len(keys_only) == 5 and {type(o) for o in keys_only} == {Animal}  # no discriminator projected


def test_load_fills_the_object_given(bound):
    zoo(bound)
    animal = Animal(id="d1")
    bound.load(animal, consistent=True)
    assert type(animal) is Animal and animal.name == "Rex" and animal.kind == "dog"
    dog = Dog(id="d1")
    bound.load(dog, consistent=True)
    assert dog.bark == 7


# ----------------------------------------------------------------------------------------- streams
def mixed_writes(engine):
    """Writes of every kind, one at a time so that the stream's order is known."""
    dog = Dog(id="d1", name="Rex", bark=7)
    engine.save(dog)
    engine.save(Cat(id="c1", name="Tom", lives=9))
    put_raw(engine, {"id": {"S": "b1"}, "kind": {"S": "bird"}, "name": {"S": "Tweety"}})
    dog.bark = 8
    engine.save(dog)
    engine.delete(Cat(id="c1"))


def summary(events):
    """(type, id, old class, new class, a class's own column) per event, without moto's key-only INSERTs
    (quirk Q1: an UpdateItem that creates an item first streams an INSERT of its key alone)."""
    out = []
    for e in events:
        new, old = e["new"], e["old"]
        if e["meta"]["event"]["type"] == "insert" and new is not None and not new.name:
            continue
        image = new or old
        own = getattr(image, "bark", None) if isinstance(image, Dog) else getattr(image, "lives", None)
        out.append((e["meta"]["event"]["type"], e["key"].id, type(old).__name__ if old else None,
                    type(new).__name__ if new else None, own))
    return out


EXPECTED = [
    ("insert", "d1", None, "Dog", 7),
    ("insert", "c1", None, "Cat", 9),
    ("insert", "b1", None, "Animal", None),
    ("modify", "d1", "Dog", "Dog", 8),
    ("remove", "c1", "Cat", None, 9),
]


def test_stream_of_mixed_items_gives_each_image_its_class(bound):
    mixed_writes(bound)
    events = drain(bound.stream(Animal, "trim_horizon"))
    assert summary(events) == EXPECTED
    assert {type(e["key"]) for e in events} == {Animal}
    modify = next(e for e in events if e["meta"]["event"]["type"] == "modify")
    assert modify["old"].bark == 7 and modify["new"].name == "Rex"


def test_lambda_adapter_gives_each_image_its_class(bound, bloop_local):
    mixed_writes(bound)
    arn = bound.stream_arn(Animal)
    event = json.loads(json.dumps(lambda_event(stream_records(bloop_local, arn), event_source_arn=arn)))
    seen = []
    entry = lambda_handler(seen.append, model=Animal, engine=bound, bind=False)
    entry(event, None)
    assert summary(seen) == EXPECTED


def test_keys_only_stream_gives_the_base_class_for_key(engine):
    engine.bind(Pet)
    engine.save(Fish(id="f1", fins=4))
    engine.delete(Fish(id="f1"))
    events = drain(engine.stream(Pet, "trim_horizon"))
    assert events and all(type(e["key"]) is Pet and e["key"].id == "f1" for e in events)
    assert all(e["new"] is None and e["old"] is None for e in events)
    assert [e["meta"]["event"]["type"] for e in events][-1] == "remove"
