"""Single-table models on the embedded local AWS: dogs and cats in one table, read back as Dog and Cat.

docs/single_table.rst shows this file in parts; tests/integ/test_examples.py runs it.
"""
from __future__ import annotations

import time

from bloop import BaseModel, Column, GlobalSecondaryIndex, Integer, String
from bloop.local import start_local


# --- models
class Animal(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    kind = Column(String, discriminator=True)      # names each item's class
    name = Column(String)
    owner = Column(String)
    by_owner = GlobalSecondaryIndex(projection="all", hash_key="owner")


class Dog(Animal, discriminator="dog"):            # same table, indexes and stream as Animal
    good_boy = Column(Integer)


class Cat(Animal, discriminator="cat"):
    lives = Column(Integer)
# --- end models


def main() -> None:
    with start_local() as aws:
        engine = aws.engine()
        client = engine.session.dynamodb_client

        # --- bind and save
        engine.bind(Animal)                         # one table; Dog and Cat are bound with it
        rex = Dog(id="rex", name="Rex", owner="ada", good_boy=10)
        assert rex.kind == "dog"                    # set when the object is constructed
        engine.save(rex, Cat(id="tom", name="Tom", owner="ada", lives=9))
        # an item written by someone else, of a kind this program doesn't know
        client.put_item(TableName=engine.table_name(Animal),
                        Item={"id": {"S": "tweety"}, "kind": {"S": "bird"}, "owner": {"S": "ada"}})
        # --- end bind and save

        # --- read
        for animal in engine.query(Animal.by_owner, key=Animal.owner == "ada"):
            print(f"{type(animal).__name__:<6} {animal.id}")   # Dog rex, Cat tom, Animal tweety
        dogs = engine.scan(Dog).all()                           # only dogs: a filter on kind is added
        assert [d.id for d in dogs] == ["rex"] and dogs[0].good_boy == 10
        fat_cats = engine.scan(Cat, filter=Cat.lives > 5).all()  # your filter AND kind == "cat"
        assert [c.id for c in fat_cats] == ["tom"]
        plain = Animal(id="rex")
        engine.load(plain)                                      # load fills the object you give it
        assert type(plain) is Animal and plain.kind == "dog"
        # --- end read
        print(f"scan(Dog) -> {dogs}")

        # --- stream
        stream = engine.stream(Animal, "trim_horizon")
        events, idle = [], 0
        while idle < 2:                             # None: caught up; twice in a row: done
            event = next(stream)
            if event is None:
                idle += 1
                time.sleep(0.3)
            else:
                idle = 0
                events.append(event)
        for event in events:
            image = event["new"] or event["old"]
            note = "" if image.kind else "  <- moto's key-only INSERT: no kind, so the base class"
            print(f"{event['meta']['event']['type']:<6} {type(image).__name__:<6} {event['key'].id}{note}")
        # moto (not DynamoDB) streams a key-only INSERT before each item an UpdateItem creates: no kind, so Animal
        assert {type(e["new"]) for e in events if e["new"] is not None and e["new"].kind} == {Dog, Cat, Animal}
        # --- end stream


if __name__ == "__main__":
    main()
