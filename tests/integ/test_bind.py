"""bind: creation, waiting with backoff, validation, per-engine state (bloop bugs B7, B13, B16)."""
import pytest

from bloop import (
    BaseModel,
    Column,
    GlobalSecondaryIndex,
    Integer,
    String,
    TableMismatch,
    Timestamp,
    before_create_table,
)
from bloop.exceptions import InvalidModel, InvalidStream, InvalidTemplate, TableSetupTimeout
from bloop.session import RetryPolicy

from .calls import counting_requests
from .models import User


class LaggingDescribe:
    """Wraps a dynamodb client so DescribeTable reports CREATING for a scripted number of calls."""

    def __init__(self, client, lagging_calls):
        self._client = client
        self.remaining = lagging_calls
        self.describe_calls = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def describe_table(self, **kwargs):
        self.describe_calls += 1
        table = self._client.describe_table(**kwargs)
        if self.remaining > 0:
            self.remaining -= 1
            table["Table"]["TableStatus"] = "CREATING"
        return table


def test_bind_waits_with_backoff_not_a_busy_loop(bloop_local, engine_factory):
    from bloop.testing import unique_prefix
    sleeps = []
    client = LaggingDescribe(bloop_local.dynamodb, lagging_calls=4)
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(sleep=sleeps.append),
                            table_name_template=unique_prefix() + "{table_name}")
    engine.bind(User)
    assert client.describe_calls == 6  # 4 CREATING, 1 ACTIVE, 1 more while checking the stream is live
    assert len(sleeps) == 4 and all(s > 0 for s in sleeps)  # B16: every retry waited
    assert sleeps == sorted(sleeps)  # and the waits grow


def test_bind_times_out_with_named_part(bloop_local, engine_factory):
    from bloop.testing import unique_prefix
    client = LaggingDescribe(bloop_local.dynamodb, lagging_calls=10 ** 6)
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(sleep=lambda s: None),
                            table_name_template=unique_prefix() + "{table_name}")
    engine.bind_timeout = 0.2
    with pytest.raises(TableSetupTimeout, match="table is CREATING") as excinfo:
        engine.bind(User)
    assert excinfo.value.parts == ["table is CREATING"]


def test_two_engines_keep_their_own_stream(engine_factory):
    primary, replica = engine_factory(), engine_factory()
    primary.bind(User)
    replica.bind(User)
    assert primary.stream_arn(User) != replica.stream_arn(User)  # B7
    assert primary._compute_table_name(User) in primary.stream_arn(User)
    assert replica._compute_table_name(User) in replica.stream_arn(User)
    assert User.Meta.stream["arn"] is None  # nothing written back onto the class


def test_before_create_table_can_rename(engine):
    class Renamed(BaseModel):
        id = Column(String, hash_key=True)

    def rename(sender, model, **_):
        if model is Renamed:
            model.Meta.table_name = "RenamedForReal"

    before_create_table.connect(rename)
    try:
        engine.bind(Renamed)  # B13: no KeyError
    finally:
        before_create_table.disconnect(rename)
    assert engine._compute_table_name(Renamed).endswith("RenamedForReal")
    engine.save(Renamed(id="x"))


def test_superset_table_passes_and_models_share_a_table(engine):
    class Wide(BaseModel):
        class Meta:
            table_name = "Shared"
        id = Column(String, hash_key=True)
        a = Column(String)
        b = Column(Integer)

    class Narrow(BaseModel):
        class Meta:
            table_name = "Shared"
        id = Column(String, hash_key=True)
        a = Column(String)

    engine.bind(Wide)
    engine.bind(Narrow)
    engine.save(Wide(id="1", a="x", b=2))
    narrow = Narrow(id="1", a="y")
    engine.save(narrow)  # UpdateItem: b survives
    wide = Wide(id="1")
    engine.load(wide, consistent=True)
    assert (wide.a, wide.b) == ("y", 2)


def test_mismatched_stream_is_named(engine):
    class NoStream(BaseModel):
        class Meta:
            table_name = "Streamless"
        id = Column(String, hash_key=True)

    class WantsStream(BaseModel):
        class Meta:
            table_name = "Streamless"
            stream = {"include": ["keys"]}
        id = Column(String, hash_key=True)

    engine.bind(NoStream)
    with pytest.raises(TableMismatch, match="stream"):
        engine.bind(WantsStream)


def test_bind_rejects_non_models_and_templates():
    from bloop import Engine
    with pytest.raises(InvalidTemplate):
        Engine(dynamodb=object(), dynamodbstreams=object(), table_name_template="no placeholder")
    engine = Engine(dynamodb=object(), dynamodbstreams=object())
    with pytest.raises(InvalidModel):
        engine.bind(object)


def test_skip_table_setup_makes_no_calls_and_has_no_stream(engine, dynamodb, dynamodbstreams):
    with counting_requests(dynamodb, dynamodbstreams) as sent:
        engine.bind(User, skip_table_setup=True)
    assert sent == []
    with pytest.raises(InvalidStream, match="skip_table_setup"):
        engine.stream_arn(User)


class LaggingExtras:
    """Wraps a dynamodb client: TTL reports ENABLING and PITR DISABLED for a scripted number of reads."""

    def __init__(self, client, ttl_lag, backups_lag):
        self._client = client
        self.ttl_lag, self.backups_lag = ttl_lag, backups_lag

    def __getattr__(self, name):
        return getattr(self._client, name)

    def describe_time_to_live(self, **kwargs):
        answer = self._client.describe_time_to_live(**kwargs)
        if self.ttl_lag > 0:
            self.ttl_lag -= 1
            answer["TimeToLiveDescription"]["TimeToLiveStatus"] = "ENABLING"
        return answer

    def describe_continuous_backups(self, **kwargs):
        answer = self._client.describe_continuous_backups(**kwargs)
        if self.backups_lag > 0:
            self.backups_lag -= 1
            answer["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
                "PointInTimeRecoveryStatus"] = "DISABLED"
        return answer


class Expiring(BaseModel):
    class Meta:
        ttl = {"column": "expires"}
        backups = {"enabled": True}
        stream = {"include": ["keys"]}
    id = Column(String, hash_key=True)
    expires = Column(Timestamp)


def test_bind_waits_for_ttl_backups_and_stream(bloop_local, engine_factory):
    from bloop.testing import unique_prefix
    client = LaggingExtras(bloop_local.dynamodb, ttl_lag=3, backups_lag=2)
    sleeps = []
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(sleep=sleeps.append),
                            table_name_template=unique_prefix() + "{table_name}")
    engine.bind(Expiring)
    assert client.ttl_lag == 0 and client.backups_lag == 0
    assert sleeps  # it polled instead of returning early
    status = bloop_local.dynamodbstreams.describe_stream(StreamArn=engine.stream_arn(Expiring))
    assert status["StreamDescription"]["StreamStatus"] == "ENABLED"


def test_bind_timeout_names_the_part_not_live(bloop_local, engine_factory):
    from bloop.testing import unique_prefix
    client = LaggingExtras(bloop_local.dynamodb, ttl_lag=10 ** 6, backups_lag=0)
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(sleep=lambda s: None),
                            table_name_template=unique_prefix() + "{table_name}")
    engine.bind_timeout = 0.2
    with pytest.raises(TableSetupTimeout) as excinfo:
        engine.bind(Expiring)
    assert excinfo.value.parts == ["TTL is ENABLING"]


# ------------------------------------------------------------ an existing table that differs is named
def model(name, body=None, **meta):
    """A model on the table "Existing" with a String hash key ``id``, plus ``body`` and Meta options."""
    attrs = {"id": Column(String, hash_key=True), **(body or {})}
    attrs["Meta"] = type("Meta", (), {"table_name": "Existing", **meta})
    return type(name, (BaseModel,), attrs)


def gsi(projection="keys"):
    return GlobalSecondaryIndex(projection=projection, hash_key="email")


@pytest.mark.parametrize("table, wanted, message", [
    ({}, {"id": Column(Integer, hash_key=True)}, "table key 'id' has type S, the model expects N"),
    ({}, {"r": Column(String, range_key=True)}, "table key schema is"),
    ({"email": Column(String)}, {"email": Column(String), "by_email": gsi()}, "GSI 'by_email' is missing"),
    ({"email": Column(String), "by_email": gsi("keys")}, {"email": Column(String), "by_email": gsi("all")},
     "GSI 'by_email' projects KEYS_ONLY, the model expects ALL"),
    ({"email": Column(String), "a": Column(String), "by_email": gsi(["a"])},
     {"email": Column(String), "a": Column(String), "b": Column(String), "by_email": gsi(["a", "b"])},
     r"GSI 'by_email' does not project \['b'\]"),
    ({"email": Column(String), "by_email": gsi()}, {"email": Column(Integer), "by_email": gsi()},
     "GSI 'by_email' key 'email' has type S, the model expects N"),
])
def test_an_existing_table_with_other_keys_or_indexes_is_named(engine, table, wanted, message):
    engine.bind(model("Table", table))
    with pytest.raises(TableMismatch, match=message):
        engine.bind(model("Wanted", wanted))


@pytest.mark.parametrize("table_meta, wanted_meta, message", [
    ({}, {"ttl": {"column": "expires"}}, "TTL is DISABLED on None, the model expects it on 'expires'"),
    ({}, {"backups": {"enabled": True}}, "point-in-time recovery is DISABLED, the model expects ENABLED"),
    ({"billing": {"mode": "on_demand"}}, {"billing": {"mode": "provisioned"}},
     "billing mode is PAY_PER_REQUEST, the model expects PROVISIONED"),
    ({}, {"billing": {"mode": "on_demand"}}, "billing mode is PROVISIONED, the model expects PAY_PER_REQUEST"),
    ({}, {"encryption": {"enabled": True}}, "encryption is DISABLED, the model expects it enabled"),
    ({"read_units": 1, "write_units": 1}, {"read_units": 5}, "ReadCapacityUnits is 1, the model expects 5"),
    ({"read_units": 1, "write_units": 1}, {"write_units": 3}, "WriteCapacityUnits is 1, the model expects 3"),
])
def test_an_existing_table_with_other_settings_is_named(engine, table_meta, wanted_meta, message):
    body = {"expires": Column(Timestamp)}
    engine.bind(model("Table", body, **table_meta))
    with pytest.raises(TableMismatch, match=message):
        engine.bind(model("Wanted", body, **wanted_meta))


@pytest.mark.parametrize("table_name", ["bad name!", "x" * 300])
def test_an_invalid_table_name_is_refused_before_any_call(engine, dynamodb, dynamodbstreams, table_name):
    Bad = model("Bad")
    Bad.Meta.table_name = table_name
    with counting_requests(dynamodb, dynamodbstreams) as sent:
        with pytest.raises(InvalidModel, match="not a valid DynamoDB name"):
            engine.bind(Bad)
    assert sent == []


def test_a_template_that_makes_an_invalid_name_is_refused_before_any_call(engine_factory, dynamodb):
    engine = engine_factory(table_name_template=lambda model: model.__name__)
    with counting_requests(dynamodb) as sent:
        with pytest.raises(InvalidModel, match="'M' is not a valid DynamoDB name"):
            engine.bind(type("M", (BaseModel,), {"id": Column(String, hash_key=True)}))
    assert sent == []
