"""One stream handler, two runtimes: the local worker and the AWS Lambda entry point give the same effects.

Starts the embedded AWS, places the same orders twice (under two table-name prefixes), then

1. runs ``python -m bloop worker portable_worker.handlers:handle ...`` on the first set until it has caught
   up, twice (the second run resumes from the checkpoint and finds nothing new);
2. reads the second set's stream records, turns them into the event Lambda's DynamoDB Streams mapping would
   send, and calls ``portable_worker.lambda_function.handler`` with it, twice (a Lambda retry);

and checks that both leave the same customer totals: each paid order counted once.
Run it with ``python examples/portable_worker_demo.py``.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

EXAMPLES = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(EXAMPLES))

from portable_worker.models import Order, engine  # noqa: E402
from portable_worker.run_local import EXPECTED, place_orders, totals  # noqa: E402

from bloop.ext.aws_lambda import lambda_event  # noqa: E402
from bloop.local import start_local  # noqa: E402


class LambdaContext:
    """The part of Lambda's context object the entry point reads."""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def stream_records(aws, stream_arn: str) -> list[dict]:
    """Every record of the stream, as boto3's get_records returns them (moto serves one shard)."""
    client = aws.dynamodbstreams
    records = []
    for shard in client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]:
        iterator = client.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator)
            if not page["Records"]:
                break  # moto never closes a shard: an empty page is its head
            records.extend(page["Records"])
            iterator = page.get("NextShardIterator")
    return records


def run_worker(token_path: pathlib.Path) -> None:
    command = [sys.executable, "-m", "bloop", "worker", "portable_worker.handlers:handle",
               "--model", "portable_worker.models:Order", "--checkpoint", str(token_path),
               "--exit-when-idle", "--poll-interval", "0.2", "--app-dir", str(EXAMPLES)]
    print("$ python -m bloop worker " + " ".join(command[4:]))
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    for line in result.stderr.splitlines():
        print("  | " + line.split(": ", 1)[-1])  # without the time stamp and logger name
    assert result.returncode == 0, result.stderr


def main(token_path: pathlib.Path) -> None:
    with start_local() as aws:
        os.environ.update(aws.environ)  # the worker subprocess and engine() use the embedded AWS

        os.environ["BLOOP_TABLE_NAME_TEMPLATE"] = "worker-{table_name}"
        by_worker = engine()
        by_worker.bind(Order)
        place_orders(by_worker)
        run_worker(token_path)
        run_worker(token_path)  # resumes from the checkpoint: nothing new, nothing counted again
        worker_totals = totals(by_worker)
        print(f"local worker -> {worker_totals}")

        os.environ["BLOOP_TABLE_NAME_TEMPLATE"] = "lambda-{table_name}"
        by_lambda = engine()
        by_lambda.bind(Order)
        place_orders(by_lambda)
        arn = by_lambda.stream_arn(Order)
        event = json.loads(json.dumps(lambda_event(stream_records(aws, arn), event_source_arn=arn)))
        from portable_worker.lambda_function import handler
        for attempt in (1, 2):  # the second call is what a Lambda retry of the same batch looks like
            response = handler(event, LambdaContext())
            print(f"lambda invocation {attempt}: {len(event['Records'])} records -> {response}")
            assert response == {"batchItemFailures": []}, response
        lambda_totals = totals(by_lambda)
        print(f"lambda entry point -> {lambda_totals}")

        assert worker_totals == lambda_totals == EXPECTED, (worker_totals, lambda_totals)
        print("same effects in both runtimes; every paid order counted once")


if __name__ == "__main__":
    default = pathlib.Path(tempfile.gettempdir()) / "portable_worker.token.json"
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default)
