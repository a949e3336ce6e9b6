"""SessionWrapper: error translation and bounded, jittered retries (fake clients, no I/O)."""
import random

import pytest
from botocore.exceptions import ClientError

from bloop.exceptions import (
    BloopException,
    ConstraintViolation,
    RecordsExpired,
    RetryLimitExceeded,
    ShardIteratorExpired,
    TransactionCanceled,
)
from bloop.session import RetryPolicy, SessionWrapper


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
def test_throttling_and_5xx_are_retried_with_growing_jitter(code, status):
    sleeps = []
    client = Scripted(update_item=[client_error(code, status)] * 3 + [{"Attributes": {"a": {"S": "b"}}}])
    assert session_for(client, sleeps).save_item({"TableName": "t"}) == {"a": {"S": "b"}}
    assert len(sleeps) == 3
    assert all(0 <= s <= 0.05 * 2 ** i for i, s in enumerate(sleeps))


def test_retry_bound_raises_named_error():
    sleeps = []
    client = Scripted(update_item=[client_error("ThrottlingException")] * 5)
    with pytest.raises(RetryLimitExceeded, match="throttled 5 times"):
        session_for(client, sleeps).save_item({"TableName": "t"})
    assert len(client.calls) == 5


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
