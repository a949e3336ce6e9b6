"""Every public name of bloop 3.x (design.md section 3) is importable from where bloop users import it."""
import importlib

import pytest

import bloop

TOP_LEVEL = [
    "BaseModel", "Column", "GlobalSecondaryIndex", "LocalSecondaryIndex", "Engine",
    "Binary", "Boolean", "DateTime", "DynamicList", "DynamicMap", "Integer", "List", "Map", "Number", "Set",
    "String", "Timestamp", "UUID",
    "BloopException", "ConstraintViolation", "MissingObjects", "RecordsExpired", "ShardIteratorExpired",
    "TableMismatch", "TransactionCanceled", "TransactionTokenExpired",
    "before_create_table", "model_bound", "model_created", "model_validated", "object_deleted", "object_loaded",
    "object_modified", "object_saved",
    "Condition", "QueryIterator", "ScanIterator", "Stream", "ReadTransaction", "WriteTransaction", "missing",
]
SUBMODULE_NAMES = {
    "bloop.exceptions": ["InvalidModel", "InvalidStream", "InvalidSearch", "InvalidCondition", "InvalidPosition",
                         "InvalidTemplate", "InvalidShardIterator", "MissingKey", "TransactionTokenExpired"],
    "bloop.actions": ["add", "delete", "remove", "set", "wrap", "unwrap", "Action", "ActionType"],
    "bloop.types": ["Type", "FIXED_ISO8601_FORMAT", "DynamicType"],
    "bloop.models": ["IMeta", "Index", "bind_column", "bind_index", "refresh_index", "unbind",
                     "unpack_from_dynamodb"],
    "bloop.session": ["SessionWrapper"],
    "bloop.util": ["walk_subclasses"],
    "bloop.conditions": ["render", "ConditionRenderer"],
    "bloop.ext.arrow": ["DateTime", "Timestamp"],
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level(name):
    assert name in bloop.__all__
    assert getattr(bloop, name) is not None


@pytest.mark.parametrize("module, names", SUBMODULE_NAMES.items())
def test_submodules(module, names):
    imported = importlib.import_module(module)
    for name in names:
        assert hasattr(imported, name), f"{module}.{name}"


def test_value_errors_are_value_errors():
    from bloop import exceptions
    for name in ["InvalidModel", "InvalidStream", "InvalidSearch", "InvalidCondition", "InvalidPosition",
                 "InvalidTemplate", "InvalidShardIterator", "MissingKey"]:
        assert issubclass(getattr(exceptions, name), ValueError)
        assert issubclass(getattr(exceptions, name), exceptions.BloopException)


def test_engine_compute_table_name():
    engine = bloop.Engine(dynamodb=object(), dynamodbstreams=object(), table_name_template="prod-{table_name}")

    class Thing(bloop.BaseModel):
        id = bloop.Column(bloop.String, hash_key=True)

    assert engine._compute_table_name(Thing) == "prod-Thing"
    assert Thing.Meta.table_name == "Thing"


def test_missing_objects_names_the_keys_only():
    class Song(bloop.BaseModel):
        artist = bloop.Column(bloop.String, hash_key=True)
        title = bloop.Column(bloop.String, range_key=True)
        lyrics = bloop.Column(bloop.String)

    error = bloop.MissingObjects("2 object(s) were not found",
                                 objects=[Song(artist="a", title="t1", lyrics="secret"), Song(artist="b", title="t2")])
    assert str(error) == "2 object(s) were not found: Song(artist='a', title='t1'), Song(artist='b', title='t2')"
    assert len(error.objects) == 2


def test_engine_refuses_a_client_for_another_service():
    import boto3

    dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    expected = r"dynamodbstreams= got a boto3 client for 'dynamodb'; pass boto3.client\('dynamodbstreams'\)"
    with pytest.raises(bloop.exceptions.InvalidClient, match=expected):
        bloop.Engine(dynamodb=dynamodb, dynamodbstreams=dynamodb)
    with pytest.raises(bloop.exceptions.InvalidClient, match="s3= got a boto3 client for 'dynamodb'"):
        bloop.Engine(dynamodb=dynamodb, dynamodbstreams=object(), s3=dynamodb)
    assert bloop.Engine(dynamodb=dynamodb, dynamodbstreams=object()).session is not None
