"""What a user's code looks like to a type checker: tests/unit/test_typing.py runs mypy and pyright on it.

Lines ending in ``# E: <mypy error code>`` must be reported by both checkers; nothing else may be.
``reveal_type`` lines are compared with the expectations in the test.
"""
# ruff: noqa: F821  (reveal_type exists only for type checkers)
from __future__ import annotations

import datetime
import decimal
import uuid

from bloop import (
    UUID,
    BaseModel,
    Column,
    DateTime,
    DynamicList,
    DynamicMap,
    Engine,
    GlobalSecondaryIndex,
    Integer,
    List,
    Map,
    Number,
    Set,
    String,
    Timestamp,
)
from bloop.actions import add


class User(BaseModel):
    id = Column(String, hash_key=True)
    visits = Column(Integer)
    score = Column(Number())
    joined = Column(DateTime)
    expires = Column(Timestamp)
    token = Column(UUID)
    tags = Column(Set(String))
    lucky = Column(Set(Integer))
    aliases = Column(List(String))
    tokens = Column(List(UUID))
    profile = Column(Map(city=String))
    extra = Column(DynamicMap)
    history = Column(DynamicList)
    by_token = GlobalSecondaryIndex(projection="all", hash_key="token")


def use(engine: Engine, user: User) -> None:
    reveal_type(user.id)
    reveal_type(user.visits)
    reveal_type(user.score)
    reveal_type(user.joined)
    reveal_type(user.expires)
    reveal_type(user.token)
    reveal_type(user.tags)
    reveal_type(user.lucky)
    reveal_type(user.aliases)
    reveal_type(user.tokens)
    reveal_type(user.profile)
    reveal_type(user.extra)
    reveal_type(user.history)
    reveal_type(User.id)
    reveal_type(engine.query(User, key=User.id == "u1"))
    reveal_type(engine.query(User, key=User.id == "u1").one())
    reveal_type(engine.query(User, key=User.id == "u1").first())
    reveal_type(engine.scan(User).all())
    for found in engine.scan(User):
        reveal_type(found)
    event = next(engine.stream(User, "trim_horizon"))
    if event is not None:
        reveal_type(event["meta"]["sequence_number"])
        reveal_type(event["meta"]["created_at"])
        event["meta"]["sequence"]  # E: typeddict-item

    user.visits = 3
    user.visits = None
    user.visits = add(1)
    user.tags = {"a", "b"}
    user.joined = datetime.datetime.now(datetime.timezone.utc)
    user.score = decimal.Decimal("1.5")
    user.token = uuid.uuid4()
    user.visits = "oops"  # E: assignment
    user.tags = ["a"]  # E: assignment
    user.id = 7  # E: assignment
    user.joined = "2026-01-01"  # E: assignment


class Animal(BaseModel):
    id = Column(String, hash_key=True)
    kind = Column(String, discriminator=True)


class Dog(Animal, discriminator="dog"):
    bark = Column(Integer)
    version = Column(Integer, version=True)


def use_single_table(engine: Engine) -> None:
    for animal in engine.scan(Animal):
        reveal_type(animal)
    for dog in engine.scan(Dog, filter=Dog.bark > 1):
        reveal_type(dog)
    reveal_type(engine.query(Dog, key=Dog.id == "d1").first())
