"""One retry layer: throttling, 5xx and connection errors are retried by botocore as the client's Config
says, and bloop adds no second layer; each retry is logged once at DEBUG on ``bloop.session``.

Faults are injected under botocore (tests/integ/http_faults.py), so botocore's own retry machinery runs.
"""
import logging

import pytest
from botocore.config import Config

from bloop import BaseModel, Column, String
from bloop.exceptions import ConnectionFailed, RetryLimitExceeded
from bloop.session import RetryPolicy

from .http_faults import HttpFaults


class Secret(BaseModel):
    id = Column(String, hash_key=True)
    note = Column(String)


@pytest.fixture
def throttled(bloop_local, engine_factory):
    def make(retries):
        client = bloop_local.client("dynamodb", config=Config(retries=retries))
        engine = engine_factory(dynamodb=client)
        engine.bind(Secret)
        return engine, HttpFaults(client).on("UpdateItem", (400, "ThrottlingException"))
    return make


# botocore's max_attempts counts retries (3 retries = 4 requests); total_max_attempts counts requests
@pytest.mark.parametrize("retries, requests", [
    ({"mode": "standard", "total_max_attempts": 3}, 3),
    ({"mode": "standard", "max_attempts": 3}, 4),
    ({"mode": "adaptive", "total_max_attempts": 2}, 2),
], ids=["standard total_max_attempts=3", "standard max_attempts=3", "adaptive total_max_attempts=2"])
def test_a_throttled_save_makes_exactly_the_attempts_the_config_allows(throttled, caplog, retries, requests):
    engine, faults = throttled(retries)
    caplog.set_level(logging.DEBUG, logger="bloop.session")
    with pytest.raises(RetryLimitExceeded, match=f"UpdateItem failed with ThrottlingException after {requests} "
                                                 "attempt") as excinfo:
        engine.save(Secret(id="k1", note="the-secret-value"))
    assert faults.sent["UpdateItem"] == requests
    lines = [record.getMessage() for record in caplog.records if record.name == "bloop.session"]
    assert len(lines) == requests - 1  # one DEBUG line per retry
    assert all("UpdateItem" in line and "ThrottlingException" in line for line in lines)
    assert "the-secret-value" not in caplog.text and "the-secret-value" not in str(excinfo.value)
    assert excinfo.value.operation == "UpdateItem"


def test_a_transient_throttle_is_absorbed_by_botocore(throttled):
    engine, faults = throttled({"mode": "standard", "total_max_attempts": 3})
    faults.rules[0].times = 2
    engine.save(Secret(id="k1", note="kept"))
    assert faults.sent["UpdateItem"] == 3
    loaded = Secret(id="k1")
    engine.load(loaded, consistent=True)
    assert loaded.note == "kept"


def test_connection_errors_are_bloop_exceptions(bloop_local, engine_factory):
    config = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=1)
    nowhere = {"endpoint_url": "http://127.0.0.1:9", "config": config}  # nothing listens on port 9
    engine = engine_factory(dynamodb=bloop_local.client("dynamodb", **nowhere),
                            dynamodbstreams=bloop_local.client("dynamodbstreams", **nowhere))
    engine.bind(Secret, skip_table_setup=True)
    with pytest.raises(ConnectionFailed, match="UpdateItem failed: EndpointConnectionError") as excinfo:
        engine.save(Secret(id="k1", note="n"))
    assert excinfo.value.operation == "UpdateItem"


def test_unprocessed_items_are_retried_by_bloop_and_each_retry_logged(bloop_local, engine_factory, caplog):
    client = bloop_local.client("dynamodb")
    engine = engine_factory(dynamodb=client, retry=RetryPolicy(sleep=lambda seconds: None))
    engine.bind(Secret)
    sent = []

    def remember(params, **kwargs):
        sent.append(params["RequestItems"])

    def leave_one_unprocessed(parsed, **kwargs):
        if len(sent) <= 2:  # the first two answers claim one request was not processed (a harmless rewrite)
            table, requests = next(iter(sent[-1].items()))
            parsed["UnprocessedItems"] = {table: requests[:1]}

    client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", remember)
    client.meta.events.register("after-call.dynamodb.BatchWriteItem", leave_one_unprocessed)
    caplog.set_level(logging.DEBUG, logger="bloop.session")
    with engine.batch() as batch:
        for number in range(3):
            batch.save(Secret(id=f"k{number}", note="the-secret-value"))
    assert len(sent) == 3
    table = engine.table_name(Secret)
    lines = [record.getMessage() for record in caplog.records if record.name == "bloop.session"]
    assert [line.rsplit(" in ", 1)[0] for line in lines] == [
        f"BatchWriteItem: 1 item(s) unprocessed in {table}; retry 1 of 10",
        f"BatchWriteItem: 1 item(s) unprocessed in {table}; retry 2 of 10"]
    assert "the-secret-value" not in caplog.text
    assert len(list(engine.scan(Secret, consistent=True))) == 3
