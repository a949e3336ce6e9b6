"""The embedded AWS (bloop.local), its CLI (python -m bloop local) and the pytest plugin, all over real HTTP.

moto's state is process-global, so anything that wipes it (reset) runs in a subprocess, never in the
session server other tests share.
"""

import json
import os
import pathlib
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

from bloop.local import DUMMY_CREDENTIALS, LocalAWS, LocalAWSError
from bloop.testing import unique_prefix

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
WAIT = 30  # upper bound, in seconds, for any subprocess interaction


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        assert 200 <= response.status < 300
        return response.read()


def subprocess_env() -> dict:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


class Cli:
    """``python -m bloop local`` as a subprocess, with its stdout readable under a deadline."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bloop", "local", *args],
            cwd=REPO_ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.seen: list = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r}; got {self.seen}, rc={self.proc.poll()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def cli_factory():
    started = []

    def start(*args: str) -> Cli:
        cli = Cli(*args)
        started.append(cli)
        return cli

    yield start
    for cli in started:
        cli.close()


# ---------------------------------------------------------------- the session server


def test_server_answers(bloop_local):
    assert bloop_local.running
    assert bloop_local.endpoint == f"http://127.0.0.1:{bloop_local.port}"
    assert bloop_local.region == "us-east-1"
    json.loads(http_get(bloop_local.endpoint + "/moto-api/config"))


def test_clients_are_bound_and_cached(bloop_local, dynamodb, dynamodbstreams, s3):
    assert dynamodb is bloop_local.dynamodb
    assert dynamodbstreams is bloop_local.dynamodbstreams
    assert s3 is bloop_local.s3
    for client in (dynamodb, dynamodbstreams, s3):
        assert client.meta.endpoint_url == bloop_local.endpoint
        assert client.meta.region_name == "us-east-1"
    credentials = dynamodb._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == DUMMY_CREDENTIALS
    assert bloop_local.client("dynamodb") is not dynamodb


def test_dynamodb_table_with_stream(dynamodb, dynamodbstreams):
    table = unique_prefix() + "users"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    item = {"id": {"S": "u1"}, "age": {"N": "42"}}
    dynamodb.put_item(TableName=table, Item=item)
    assert dynamodb.get_item(TableName=table, Key={"id": {"S": "u1"}}, ConsistentRead=True)["Item"] == item

    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    assert stream_arn in [s["StreamArn"] for s in dynamodbstreams.list_streams(TableName=table)["Streams"]]
    description = dynamodbstreams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    shard_id = description["Shards"][0]["ShardId"]
    iterator = dynamodbstreams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = dynamodbstreams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"]
    assert records[0]["dynamodb"]["NewImage"] == item


def test_s3_object_roundtrip(s3):
    bucket = unique_prefix() + "bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"hello world")
    assert s3.get_object(Bucket=bucket, Key="dir/hello.txt")["Body"].read() == b"hello world"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/hello.txt"]


# ---------------------------------------------------------------- LocalAWS lifecycle


def test_two_instances_get_different_ports():
    with LocalAWS() as first, LocalAWS() as second:
        assert first.port != second.port
        for aws in (first, second):
            http_get(aws.endpoint + "/moto-api/config")
            assert "TableNames" in aws.dynamodb.list_tables()
    assert not first.running and not second.running
    with pytest.raises(LocalAWSError):
        _ = first.endpoint


def test_busy_port_is_reported(bloop_local):
    with pytest.raises(LocalAWSError, match="cannot bind"):
        LocalAWS(port=bloop_local.port).start()


def test_stop_frees_the_port_and_is_idempotent():
    aws = LocalAWS().start()
    port = aws.port
    aws.stop()
    aws.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_reset_wipes_state():
    # In a subprocess: reset() would also wipe the tables of the session server other tests use.
    result = run_python(
        """
        from bloop.local import start_local
        aws = start_local()
        try:
            aws.s3.create_bucket(Bucket="doomed-bucket")
            assert [b["Name"] for b in aws.s3.list_buckets()["Buckets"]] == ["doomed-bucket"]
            aws.reset()
            assert aws.s3.list_buckets()["Buckets"] == []
        finally:
            aws.stop()
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_plugin_import_is_light():
    result = run_python(
        """
        import sys
        import bloop.testing
        heavy = [m for m in ("moto", "werkzeug", "flask", "bloop.local") if m in sys.modules]
        assert not heavy, heavy
        """
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- python -m bloop local


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_serves_until_signalled(cli_factory, bloop_local, signum):
    port = free_port()
    cli = cli_factory("--port", str(port))
    endpoint = f"http://127.0.0.1:{port}"
    assert cli.wait_for("export AWS_ENDPOINT_URL=") == f"export AWS_ENDPOINT_URL={endpoint}"
    assert cli.wait_for("export AWS_ACCESS_KEY_ID=") == "export AWS_ACCESS_KEY_ID=testing"
    assert cli.wait_for("export AWS_SECRET_ACCESS_KEY=") == "export AWS_SECRET_ACCESS_KEY=testing"
    assert cli.wait_for("export AWS_DEFAULT_REGION=") == "export AWS_DEFAULT_REGION=us-east-1"
    assert any(endpoint in line for line in cli.seen[:1]), cli.seen

    # The subprocess is its own moto: a table made there is invisible to this process's server.
    client = bloop_local.client("dynamodb", endpoint_url=endpoint)
    table = unique_prefix() + "cli"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert table in client.list_tables()["TableNames"]
    assert table not in bloop_local.dynamodb.list_tables()["TableNames"]
    client.close()

    cli.proc.send_signal(signum)
    assert cli.proc.wait(timeout=WAIT) == 0
    assert cli.wait_for("bloop: embedded AWS stopped")
    with pytest.raises(OSError):
        http_get(endpoint + "/moto-api/config")


def test_cli_reports_busy_port(cli_factory, bloop_local):
    cli = cli_factory("--port", str(bloop_local.port))
    assert cli.proc.wait(timeout=WAIT) == 1
    assert "cannot bind" in cli.proc.stderr.read()


# ---------------------------------------------------------------- plugin fixtures


def test_engine_factory_gives_each_engine_its_own_tables(bloop_local, engine_factory, monkeypatch):
    monkeypatch.setattr(bloop_local, "engine", lambda **kwargs: kwargs)
    first, second = engine_factory(), engine_factory()
    templates = {first["table_name_template"], second["table_name_template"]}
    assert len(templates) == 2
    assert all(t.endswith("{table_name}") and t.format(table_name="x") != "x" for t in templates)
    assert engine_factory(table_name_template="mine-{table_name}") == {"table_name_template": "mine-{table_name}"}


def test_engines_from_the_factory_do_not_see_each_others_items(engine_factory, dynamodb):
    from bloop import BaseModel, Column, MissingObjects, String

    class Isolated(BaseModel):
        id = Column(String, hash_key=True)
        note = Column(String)

    first, second = engine_factory(), engine_factory()
    first.bind(Isolated)
    second.bind(Isolated)
    assert first._compute_table_name(Isolated) != second._compute_table_name(Isolated)
    first.save(Isolated(id="only-in-first", note="x"))
    with pytest.raises(MissingObjects):
        second.load(Isolated(id="only-in-first"), consistent=True)
    assert second.scan(Isolated, consistent=True).all() == []
    assert [obj.id for obj in first.scan(Isolated, consistent=True)] == ["only-in-first"]


def test_engine_fixture(request):
    pytest.importorskip("bloop.engine")
    engine = request.getfixturevalue("engine")
    assert engine is not request.getfixturevalue("engine_factory")()


def test_fixtures_have_bloop_names_and_short_aliases(request, bloop_dynamodb, bloop_dynamodbstreams, bloop_s3):
    assert request.getfixturevalue("dynamodb") is bloop_dynamodb
    assert request.getfixturevalue("dynamodbstreams") is bloop_dynamodbstreams
    assert request.getfixturevalue("s3") is bloop_s3
    assert request.getfixturevalue("engine") is request.getfixturevalue("bloop_engine")
    assert request.getfixturevalue("engine_factory") is request.getfixturevalue("bloop_engine_factory")
    assert bloop_dynamodb.meta.service_model.service_name == "dynamodb"
    assert bloop_dynamodbstreams.meta.service_model.service_name == "dynamodbstreams"
