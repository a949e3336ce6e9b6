"""Models shared by the integration tests (each test binds them to its own table-name template)."""
import uuid

from bloop import (
    UUID,
    BaseModel,
    Binary,
    Boolean,
    Column,
    DateTime,
    GlobalSecondaryIndex,
    Integer,
    List,
    LocalSecondaryIndex,
    Map,
    Number,
    Set,
    String,
    Timestamp,
)


class User(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    email = Column(String)
    name = Column(String)
    visits = Column(Integer, default=0)
    tags = Column(Set(String))
    avatar = Column(Binary)
    joined = Column(DateTime)
    profile = Column(Map(city=String, langs=List(String)))
    by_email = GlobalSecondaryIndex(projection="all", hash_key="email")


class Message(BaseModel):
    thread = Column(String, hash_key=True)
    sent = Column(Integer, range_key=True)
    author = Column(String)
    body = Column(String)
    score = Column(Number)
    by_author = LocalSecondaryIndex(projection=["body"], range_key="author")


class Pair(BaseModel):
    a = Column(String, hash_key=True)
    b = Column(String, range_key=True)
    value = Column(String)


class Session(BaseModel):
    class Meta:
        ttl = {"column": "expires"}

    id = Column(UUID, hash_key=True, default=uuid.uuid4)
    active = Column(Boolean)
    expires = Column(Timestamp)


class Order(BaseModel):
    """A streamed model for the stream and worker tests."""

    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    status = Column(String)
    total = Column(Integer)
