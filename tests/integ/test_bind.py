"""bind: creation, waiting with backoff, validation, per-engine state (bloop bugs B7, B13, B16)."""
import pytest

from bloop import BaseModel, Column, Integer, String, TableMismatch, Timestamp, before_create_table
from bloop.exceptions import InvalidModel, InvalidStream, InvalidTemplate, TableSetupTimeout
from bloop.session import RetryPolicy

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


def test_skip_table_setup_makes_no_calls_and_has_no_stream(engine):
    engine.bind(User, skip_table_setup=True)
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
