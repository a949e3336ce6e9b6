"""The example's handler (examples/portable_worker) through both runtimes, on the embedded moto server:

* the local worker, ``python -m bloop worker portable_worker.lambda_function:handler`` (the Lambda entry
  point names its handler and model, so no --model), as a subprocess;
* the Lambda entry point itself, called with the Lambda event built from the stream records of the same
  writes (under another table prefix), twice, as a Lambda retry would;

and both leave the same customer totals. moto quirk Q1 (each new item gives a key-only INSERT first) is
tolerated by the example's handler itself.
"""
import importlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

from bloop.ext.aws_lambda import lambda_event
from bloop.testing import unique_prefix

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(monkeypatch, bloop_local):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in bloop_local.environ.items():
        monkeypatch.setenv(name, value)
    from portable_worker import models, run_local
    return models, run_local


def stream_records(bloop_local, stream_arn):
    client = bloop_local.dynamodbstreams
    records = []
    for shard in client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break  # moto's single shard never closes: an empty page is its head
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator")
    return records


def test_worker_and_lambda_entry_point_have_the_same_effects(example, bloop_local, monkeypatch, tmp_path):
    models, run_local = example
    # the local worker
    monkeypatch.setenv("BLOOP_TABLE_NAME_TEMPLATE", unique_prefix() + "{table_name}")
    by_worker = models.engine()
    by_worker.bind(models.Order)
    run_local.place_orders(by_worker)
    command = [sys.executable, "-m", "bloop", "worker", "portable_worker.lambda_function:handler",
               "--app-dir", str(EXAMPLES), "--checkpoint", str(tmp_path / "orders.token"),
               "--exit-when-idle", "--poll-interval", "0.1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert "12 records handled" in result.stderr  # 4 new orders (2 records each, Q1) and 4 changes
    worker_totals = run_local.totals(by_worker)

    # the Lambda entry point, fed with the Lambda event of the same writes
    monkeypatch.setenv("BLOOP_TABLE_NAME_TEMPLATE", unique_prefix() + "{table_name}")
    by_lambda = models.engine()
    by_lambda.bind(models.Order)
    run_local.place_orders(by_lambda)
    arn = by_lambda.stream_arn(models.Order)
    event = json.loads(json.dumps(lambda_event(stream_records(bloop_local, arn), event_source_arn=arn)))
    import portable_worker.lambda_function as entry_module
    entry = importlib.reload(entry_module).handler  # a fresh entry point: a cold start
    assert entry(event, None) == {"batchItemFailures": []}
    assert entry(event, None) == {"batchItemFailures": []}  # a retry of the same batch counts nothing twice
    lambda_totals = run_local.totals(by_lambda)

    assert worker_totals == lambda_totals == run_local.EXPECTED
