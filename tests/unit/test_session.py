"""SessionWrapper: error translation and the bounded, jittered retries of unprocessed keys (fake clients, no I/O)."""
import logging
import random
import warnings

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from bloop.exceptions import (
    BloopException,
    ConnectionFailed,
    ConstraintViolation,
    RecordsExpired,
    RetryLimitExceeded,
    ShardIteratorExpired,
    TransactionCanceled,
)
from bloop.session import EndpointMismatch, RetryPolicy, SessionWrapper


def client_error(code, status=400, operation="UpdateItem", **extra):
    response = {"Error": {"Code": code, "Message": f"{code} happened"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    response.update(extra)
    return ClientError(response, operation)


class Scripted:
    """A client whose methods answer from a script: exceptions are raised, dicts returned."""

    def __init__(self, **scripts):
        self.scripts = {name: list(answers) for name, answers in scripts.items()}
        self.calls = []

    def __getattr__(self, name):
        def method(**request):
            self.calls.append((name, request))
            answer = self.scripts[name].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return method


def session_for(client, sleeps):
    return SessionWrapper(dynamodb=client, dynamodbstreams=client,
                          retry=RetryPolicy(attempts=5, sleep=sleeps.append, rng=random.Random(1)))


@pytest.mark.parametrize("code, status", [
    ("ProvisionedThroughputExceededException", 400), ("ThrottlingException", 400),
    ("InternalServerError", 500), ("Anything", 503)])
def test_throttling_and_5xx_are_left_to_botocore_and_named_once_it_gives_up(code, status):
    """botocore retries these as the client's Config says; the session adds no second layer of retries."""
    sleeps = []
    client = Scripted(update_item=[client_error(code, status, ResponseMetadata={"HTTPStatusCode": status,
                                                                                "RetryAttempts": 2})])
    with pytest.raises(RetryLimitExceeded, match="after 3 attempt") as excinfo:
        session_for(client, sleeps).save_item({"TableName": "t"})
    assert len(client.calls) == 1 and sleeps == []
    assert excinfo.value.operation == "UpdateItem"
    assert isinstance(excinfo.value.__cause__, ClientError)


@pytest.mark.parametrize("error", [
    ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
    EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
    ConnectTimeoutError(endpoint_url="http://127.0.0.1:1")], ids=lambda e: type(e).__name__)
def test_connection_errors_become_connection_failed(error):
    client = Scripted(update_item=[error])
    with pytest.raises(ConnectionFailed, match=type(error).__name__) as excinfo:
        session_for(client, []).save_item({"TableName": "t"})
    assert excinfo.value.__cause__ is error and excinfo.value.operation == "UpdateItem"
    assert isinstance(excinfo.value, BloopException)


@pytest.mark.parametrize("code, exception", [
    ("ConditionalCheckFailedException", ConstraintViolation),
    ("TransactionCanceledException", TransactionCanceled),
    ("TrimmedDataAccessException", RecordsExpired),
    ("ExpiredIteratorException", ShardIteratorExpired),
    ("ValidationException", BloopException)])
def test_error_codes_become_bloop_exceptions(code, exception):
    client = Scripted(update_item=[client_error(code)])
    with pytest.raises(exception) as excinfo:
        session_for(client, []).save_item({})
    assert isinstance(excinfo.value.__cause__, ClientError)


def test_transaction_cancel_reasons_are_kept():
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]
    client = Scripted(transact_write_items=[client_error("TransactionCanceledException",
                                                         CancellationReasons=reasons)])
    with pytest.raises(TransactionCanceled) as excinfo:
        session_for(client, []).transaction_write([], "token")
    assert excinfo.value.reasons == reasons


def key(i):
    return {"id": {"S": str(i)}}


def test_load_chunks_100_keys_and_retries_unprocessed_with_backoff():
    keys = [key(i) for i in range(250)]
    answers = []
    for chunk in (keys[:100], keys[100:200], keys[200:]):
        # first answer leaves 10 keys unprocessed, the retry returns them
        answers.append({"Responses": {"t": chunk[:-10]}, "UnprocessedKeys": {"t": {"Keys": chunk[-10:]}}})
        answers.append({"Responses": {"t": chunk[-10:]}})
    client = Scripted(batch_get_item=answers)
    sleeps = []
    loaded = session_for(client, sleeps).load_items({"t": {"Keys": keys, "ConsistentRead": True}})
    assert sorted(item["id"]["S"] for item in loaded["t"]) == sorted(str(i) for i in range(250))
    sizes = [len(request["RequestItems"]["t"]["Keys"]) for _, request in client.calls]
    assert sizes == [100, 10, 100, 10, 50, 10]
    assert all(request["RequestItems"]["t"]["ConsistentRead"] for _, request in client.calls)
    assert len(sleeps) == 3


def test_load_gives_up_on_keys_unprocessed_forever():
    stuck = {"Responses": {}, "UnprocessedKeys": {"t": {"Keys": [key(1)]}}}
    client = Scripted(batch_get_item=[stuck] * 10)
    with pytest.raises(RetryLimitExceeded) as excinfo:
        session_for(client, []).load_items({"t": {"Keys": [key(1)]}})
    assert excinfo.value.unprocessed == {"t": {"Keys": [key(1)]}}


def test_each_unprocessed_keys_retry_is_logged_with_counts_not_values(caplog):
    stuck = {"Responses": {}, "UnprocessedKeys": {"t": {"Keys": [{"id": {"S": "secret-key-value"}}]}}}
    client = Scripted(batch_get_item=[stuck, stuck, {"Responses": {"t": [{"id": {"S": "secret-key-value"}}]}}])
    caplog.set_level(logging.DEBUG, logger="bloop.session")
    session_for(client, []).load_items({"t": {"Keys": [{"id": {"S": "secret-key-value"}}]}})
    lines = [r.getMessage() for r in caplog.records if r.name == "bloop.session"]
    assert lines == ["BatchGetItem: 1 key(s) unprocessed in t; retry 1 of 5 in " + lines[0].rsplit(" in ", 1)[1],
                     "BatchGetItem: 1 key(s) unprocessed in t; retry 2 of 5 in " + lines[1].rsplit(" in ", 1)[1]]
    assert "secret-key-value" not in caplog.text


# ------------------------------------------------------------------------------------------ clients
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def environment(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
                 "AWS_PROFILE", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_only_the_dynamodb_endpoint_set_warns_that_streams_go_elsewhere(environment):
    environment.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    with pytest.warns(EndpointMismatch, match="AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
        SessionWrapper()


@pytest.mark.parametrize("variables", [
    {"AWS_ENDPOINT_URL": "http://127.0.0.1:8000"},
    {"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
     "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": "http://127.0.0.1:8000"},
    {}], ids=["both by AWS_ENDPOINT_URL", "both by their own variables", "AWS itself"])
def test_matching_endpoints_do_not_warn(environment, variables):
    for name, value in variables.items():
        environment.setenv(name, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EndpointMismatch)
        SessionWrapper()


def test_the_engine_builds_its_clients_with_the_given_config_and_session(environment):
    import boto3
    from botocore.config import Config

    from bloop import Engine

    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    engine = Engine(config=config, boto3_session=boto3.session.Session(region_name="eu-west-1"))
    for client in (engine.session.dynamodb_client, engine.session.stream_client):
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
        assert client.meta.region_name == "eu-west-1"


def test_config_for_clients_the_engine_does_not_build_is_refused():
    from botocore.config import Config
    with pytest.raises(ValueError, match="configure them instead"):
        SessionWrapper(dynamodb=Scripted(), dynamodbstreams=Scripted(), config=Config())

