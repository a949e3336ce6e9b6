"""Model declarations: what is valid, what raises InvalidModel (naming model, attribute and fix)."""
import pytest

from bloop import (
    BaseModel,
    Column,
    DateTime,
    GlobalSecondaryIndex,
    Integer,
    LocalSecondaryIndex,
    Map,
    String,
    Timestamp,
    missing,
    object_modified,
)
from bloop.exceptions import InvalidModel
from bloop.models import bind_column, dump_changes, marked, unbind, unpack_from_dynamodb


class Base(BaseModel):
    class Meta:
        abstract = True

    id = Column(String, hash_key=True)
    created = Column(Integer, default=lambda: 7)


class Mixin:
    note = Column(String, dynamo_name="n")


class Child(Base, Mixin):
    name = Column(String, default="anon")


def test_meta_is_never_inherited():
    assert Base.Meta.abstract is True
    assert Child.Meta.abstract is False
    assert Child.Meta.table_name == "Child"


def test_inherited_columns_are_copies_bound_to_the_child():
    assert Child.id is not Base.id
    assert Child.note is not Mixin.note
    assert Child.id.model is Child and Child.note.dynamo_name == "n"
    assert {c.name for c in Child.Meta.columns} == {"id", "created", "note", "name"}
    assert Child.Meta.hash_key is Child.id


def test_defaults_value_callable_and_missing():
    obj = Child(id="a")
    assert (obj.created, obj.name) == (7, "anon")
    assert not hasattr(obj, "note")

    class Skips(BaseModel):
        id = Column(String, hash_key=True)
        maybe = Column(String, default=lambda: missing)

    assert not hasattr(Skips(id="x"), "maybe")


def test_unknown_kwargs_are_ignored_and_repr_lists_set_columns():
    assert repr(Child(id="a", bogus=1)) == "Child(created=7, id='a', name='anon')"


def test_change_tracking_and_object_modified():
    seen = []
    def receiver(sender, obj, column, value, **_):
        seen.append((column.name, value))

    object_modified.connect(receiver)
    try:
        obj = Child(id="a")
        obj.name = "b"
        del obj.note
    finally:
        object_modified.disconnect(receiver)
    assert ("name", "b") in seen and ("note", None) in seen
    assert marked(obj) == {"id", "created", "name", "note"}
    assert {c.name for c in dump_changes(obj)} == {"created", "name", "note"}


def test_loading_does_not_mark():
    obj = unpack_from_dynamodb(attrs={"id": {"S": "a"}, "name": {"S": "x"}}, model=Child)
    assert obj.name == "x" and obj.note == "" and marked(obj) == set()
    assert obj.created is None  # loaded objects get no defaults (Meta.init skips __init__)


def test_index_projection_resolution():
    class Model(BaseModel):
        id = Column(String, hash_key=True)
        sort = Column(Integer, range_key=True)
        email = Column(String)
        age = Column(Integer)
        data = Column(String)
        by_email = GlobalSecondaryIndex(projection=["age"], hash_key="email")
        by_age = LocalSecondaryIndex(projection="keys", range_key=age)
        loose = LocalSecondaryIndex(projection="keys", range_key="data", strict=False)

    assert {c.name for c in Model.by_email.projection["included"]} == {"id", "sort", "email", "age"}
    assert {c.name for c in Model.by_age.projection["included"]} == {"id", "sort", "age"}
    assert Model.loose.projection["available"] == Model.Meta.columns
    assert repr(Model.by_email) == "<GSI[Model.by_email=include]>"
    with pytest.raises(AttributeError):
        Model().by_email  # noqa: B018


@pytest.mark.parametrize("body, message", [
    ({"id": Column(String)}, "no hash key"),
    ({"a": Column(String, hash_key=True), "b": Column(String, hash_key=True)}, "both 'a' and 'b'"),
    ({"a": Column(String, hash_key=True), "b": Column(String, dynamo_name="a")}, "DynamoDB name 'a'"),
    ({"a": Column(Map(x=String), hash_key=True)}, "String, Number or Binary"),
    ({"a": Column(String, hash_key=True), "i": GlobalSecondaryIndex(projection="all", hash_key="nope")},
     "'nope', which is not a column"),
    ({"a": Column(String, hash_key=True), "i": LocalSecondaryIndex(projection="all", range_key="a")},
     "needs the model to have a range key"),
    ({"a": Column(String, hash_key=True), "Meta": type("Meta", (), {"stream": {"include": ["keys", "new"]}})},
     'Meta.stream\\["include"\\]'),
    ({"a": Column(String, hash_key=True), "Meta": type("Meta", (), {"billing": {"mode": "free"}})},
     "Meta.billing"),
    ({"a": Column(String, hash_key=True), "t": Column(DateTime),
      "Meta": type("Meta", (), {"ttl": {"column": "t"}})}, "Timestamp"),
    ({"a": Column(String, hash_key=True), "Meta": type("Meta", (), {"read_units": 0})}, "read_units"),
])
def test_invalid_declarations(body, message):
    with pytest.raises(InvalidModel, match=message):
        type("Broken", (BaseModel,), dict(body))


def test_lsi_rejects_its_own_throughput():
    with pytest.raises(InvalidModel, match="hash_key"):
        LocalSecondaryIndex(projection="all", range_key="x", hash_key="y")


def test_column_rejects_non_type():
    with pytest.raises(TypeError, match="bloop Type"):
        Column(str)


def test_ttl_with_timestamp_and_stream_normalised():
    class Model(BaseModel):
        class Meta:
            ttl = {"column": "expires"}
            stream = {"include": ("new", "old")}

        id = Column(String, hash_key=True)
        expires = Column(Timestamp)

    assert Model.Meta.ttl["column"] is Model.expires
    assert Model.Meta.stream == {"include": {"new", "old"}, "arn": None}


def test_eq_without_hash_gets_a_hash():
    class Model(BaseModel):
        id = Column(String, hash_key=True)

        def __eq__(self, other):
            return self.id == other.id

    one, same = Model(id="a"), Model(id="a")
    assert one == same and hash(one) != hash(same)  # identity hash, as in bloop
    assert {one: 1}[one] == 1


def test_local_none_hides_inherited_column():
    class Hidden(Child):
        note = None

    assert "note" not in Hidden.Meta.columns_by_name


def test_bind_column_and_unbind():
    class Model(BaseModel):
        id = Column(String, hash_key=True)

    bind_column(Model, "extra", Column(Integer))
    assert Model.extra.model is Model and "extra" in Model.Meta.columns_by_name
    with pytest.raises(InvalidModel, match="force=True"):
        bind_column(Model, "extra", Column(Integer))
    unbind(Model.Meta, name="extra")
    assert "extra" not in Model.Meta.columns_by_name


def test_meta_init_builds_loaded_objects():
    made = []

    class Custom(BaseModel):
        class Meta:
            init = staticmethod(lambda: made.append(1) or Custom.__new__(Custom))

        id = Column(String, hash_key=True)
        name = Column(String, default="default is not applied on load")

    obj = unpack_from_dynamodb(attrs={"id": {"S": "a"}}, model=Custom)
    assert made == [1] and obj.id == "a" and obj.name == ""


# ------------------------------------------------------------------ declarations checked against DynamoDB
def meta(**options):
    return type("Meta", (), options)


def lsi(n):
    return LocalSecondaryIndex(projection="keys", range_key=f"c{n}")


@pytest.mark.parametrize("body, message", [
    ({"Meta": meta(tablename="x")}, "Meta.tablename is not a Meta option; did you mean 'table_name'"),
    ({"Meta": meta(streams={"include": ["new"]})}, "did you mean 'stream'"),
    ({"Meta": meta(read_capacity=1)}, "The options are abstract, table_name"),
    ({"i": GlobalSecondaryIndex(projection="all", hash_key="r", dynamo_name="bad name!")}, "not a valid DynamoDB"),
    ({"i": GlobalSecondaryIndex(projection="all", hash_key="r", dynamo_name="x" * 256)}, "3 to 255 characters"),
    ({"ix": GlobalSecondaryIndex(projection="all", hash_key="r")}, "'ix' is not a valid"),
    ({**{f"c{n}": Column(String) for n in range(6)}, **{f"lsi{n}": lsi(n) for n in range(6)}},
     "6 LocalSecondaryIndexes; DynamoDB allows 5"),
    ({**{f"c{n}": Column(String) for n in range(101)},
      "by_r": GlobalSecondaryIndex(projection=[f"c{n}" for n in range(60)], hash_key="r"),
      "by_r2": GlobalSecondaryIndex(projection=[f"c{n}" for n in range(41)], hash_key="r")},
     "project 101 non-key attributes"),
    ({"idx": GlobalSecondaryIndex(projection="all", hash_key="r", read_units=0)}, r"Broken\.idx\.read_units"),
    ({"idx": GlobalSecondaryIndex(projection="all", hash_key="r", write_units=True)}, r"Broken\.idx\.write_units"),
    ({"Meta": meta(read_units=True)}, r"Meta\.read_units must be a positive int"),
    ({"long": Column(String, dynamo_name="y" * 256),
      "by_long": GlobalSecondaryIndex(projection="keys", hash_key="long")}, "over 255 bytes"),
])
def test_declarations_dynamodb_would_reject(body, message):
    with pytest.raises(InvalidModel, match=message):
        type("Broken", (BaseModel,), {"id": Column(String, hash_key=True), "r": Column(String, range_key=True),
                                      **body})


def test_declarations_at_dynamodbs_limits_are_accepted():
    body = {**{f"c{n}": Column(String) for n in range(100)}, **{f"lsi{n}": lsi(n) for n in range(5)},
            "by_r": GlobalSecondaryIndex(projection=[f"c{n}" for n in range(100)], hash_key="r",
                                         dynamo_name="a.b-c_" + "d" * 249)}
    Model = type("Fine", (BaseModel,), {"id": Column(String, hash_key=True), "r": Column(String, range_key=True),
                                        "Meta": meta(table_name="x" * 255), **body})
    assert len(Model.Meta.lsis) == 5


def test_invalid_stream_is_an_invalid_stream_and_an_invalid_model():
    from bloop.exceptions import InvalidStream
    for include in (["keys", "new"], ["everything"], None):
        with pytest.raises(InvalidStream) as raised:
            type("Broken", (BaseModel,), {"id": Column(String, hash_key=True),
                                          "Meta": meta(stream={"include": include})})
        assert isinstance(raised.value, InvalidModel)


# ------------------------------------------------------------------------ bloop 3.x compatibility
def test_a_subclass_replaces_an_inherited_column_with_the_same_dynamo_name():
    class Parent(BaseModel):
        id = Column(String, hash_key=True)
        old = Column(String, dynamo_name="shared")
        by_old = GlobalSecondaryIndex(projection="keys", hash_key="old", dynamo_name="by_shared")

    class Replaced(Parent):
        new = Column(Integer, dynamo_name="shared")
        by_new = GlobalSecondaryIndex(projection="all", hash_key="new", dynamo_name="by_shared")

    assert Replaced.Meta.columns_by_dynamo_name["shared"] is Replaced.new
    assert "old" not in Replaced.Meta.columns_by_name
    assert {i.name for i in Replaced.Meta.indexes} == {"by_new"}
    assert Parent.Meta.columns_by_dynamo_name["shared"] is Parent.old  # the parent is untouched


def test_a_model_inheriting_eq_from_a_mixin_stays_hashable():
    class EqualById:
        def __eq__(self, other):
            return type(other) is type(self) and self.id == other.id

    class Model(EqualById, BaseModel):
        id = Column(String, hash_key=True)

    one, same = Model(id="a"), Model(id="a")
    assert one == same
    assert len({one, same}) == 2  # identity hash, as in bloop


def test_a_local_key_replaces_the_inherited_key():
    """bloop 3.x's own integration tests: a subclass may declare its own hash or range key."""
    class Keyed(BaseModel):
        class Meta:
            abstract = True
        id = Column(String, hash_key=True)
        created = Column(Integer, range_key=True)

    class Versioned(Keyed):
        version = Column(Integer, range_key=True)

    class Rehashed(Keyed):
        version = Column(Integer, hash_key=True)

    assert Versioned.Meta.range_key is Versioned.version and Versioned.Meta.hash_key is Versioned.id
    assert "created" in Versioned.Meta.columns_by_name and not Versioned.created.range_key
    assert Rehashed.Meta.hash_key is Rehashed.version and Rehashed.Meta.range_key is Rehashed.created
    assert Keyed.created.range_key  # the base keeps its own key
    with pytest.raises(InvalidModel, match="both 'a' and 'b'"):
        type("Two", (BaseModel,), {"a": Column(String, hash_key=True), "b": Column(String, hash_key=True)})
