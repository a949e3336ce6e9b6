"""The local worker (bloop.worker) in this process, on the embedded moto server: the loop, checkpoints,
failures, settings precedence and the command's answers to bad input.

moto quirk Q1 (see test_stream.py): saving a new item writes two INSERT records, so N saves of new items
give 2N events; the tests count records, not saves.
"""
import json
import logging
import os
import signal
import sys
import textwrap
import threading
import uuid

import pytest

from bloop import BaseModel, Column, String
from bloop.__main__ import main as cli
from bloop.stream.checkpoint import FileCheckpoint, TableCheckpoint
from bloop.worker import Worker, WorkerError, load_settings
from tests.integ.models import Order


class Plain(BaseModel):
    id = Column(String, hash_key=True)


@pytest.fixture
def orders(engine):
    engine.bind(Order)
    for number in range(3):
        engine.save(Order(id=f"o{number}", status="new", total=number))
    return engine


@pytest.fixture(autouse=True)
def restore_process_state(monkeypatch):
    """The command sets signal handlers and the bloop logger's level (never the environment: see
    test_the_command_passes_its_engine_to_a_factory_and_changes_no_process_state); put them back after each
    test, and start each without the AWS_* / BLOOP_* variables the tests set."""
    for name in ("BLOOP_TABLE_NAME_TEMPLATE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    level = logging.getLogger("bloop").level
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)
    logging.getLogger("bloop").setLevel(level)


def sequence_numbers(events):
    return [event["meta"]["sequence_number"] for event in events]


def make_worker(engine, handler, checkpoint, **options):
    options.setdefault("exit_when_idle", True)
    options.setdefault("poll_interval", 0.05)
    options.setdefault("progress_interval", 0)
    return Worker(handler, model=Order, engine=engine, checkpoint=checkpoint, **options)


def test_handles_every_record_saves_the_token_and_resumes(orders, tmp_path):
    seen = []
    store = FileCheckpoint(tmp_path / "orders.token")
    result = make_worker(orders, seen.append, store).run()
    assert (result.exit_code, result.reason, result.handled) == (0, "caught up", 6)  # Q1: 2 records a save
    assert result.token == store.load() and result.token is not None
    orders.save(Order(id="o1", status="paid"))
    again = []
    assert make_worker(orders, again.append, store).run().handled == 1
    assert [(e["meta"]["event"]["type"], e["new"].status) for e in again] == [("modify", "paid")]
    assert not set(sequence_numbers(again)) & set(sequence_numbers(seen))


def test_a_failing_handler_stops_with_the_token_at_the_last_handled_record(orders, tmp_path, caplog):
    seen = []

    def fails_on_the_third(event):
        if len(seen) == 2:
            raise RuntimeError("downstream is down")
        seen.append(event)

    store = FileCheckpoint(tmp_path / "orders.token")
    result = make_worker(orders, fails_on_the_third, store).run()
    assert (result.exit_code, result.reason, result.handled) == (1, "a handler failed", 2)
    assert isinstance(result.error, RuntimeError)
    assert "stopping with the checkpoint at the record before it" in caplog.text
    retried = []
    assert make_worker(orders, retried.append, store).run().handled == 4
    everything = []
    make_worker(orders, everything.append, None).run()
    assert sequence_numbers(seen + retried) == sequence_numbers(everything)  # the failed record first, no gap


def test_on_error_skip_logs_the_record_and_moves_on(orders, tmp_path, caplog):
    seen = []

    def fails_on_the_third(event):
        seen.append(event)
        if len(seen) == 3:
            raise RuntimeError("bad record")

    store = FileCheckpoint(tmp_path / "orders.token")
    result = make_worker(orders, fails_on_the_third, store, on_error="skip").run()
    assert (result.exit_code, result.handled, result.skipped) == (0, 5, 1)
    assert f"record {seen[2]['meta']['sequence_number']}" in caplog.text and "skipped (--on-error skip)" in caplog.text
    assert make_worker(orders, seen.append, store).run().handled == 0


def test_save_every_n_records_and_at_the_end(orders, tmp_path):
    saves = []

    class CountingCheckpoint(FileCheckpoint):
        def save(self, token):
            saves.append(token)
            super().save(token)

    result = make_worker(orders, lambda event: None, CountingCheckpoint(tmp_path / "t"), save_every=4).run()
    assert result.handled == 6 and len(saves) == 2  # after the 4th record, then the last 2 at the stop


def test_stop_ends_the_run_after_the_current_record(orders, tmp_path):
    store = FileCheckpoint(tmp_path / "orders.token")
    seen = []

    def stop_on_the_second(event):
        seen.append(event)
        if len(seen) == 2:
            threading.Thread(target=worker.stop).start()
            worker._stop.wait(5)  # the stop arrives while this record is being handled

    worker = make_worker(orders, stop_on_the_second, store, exit_when_idle=False)
    result = worker.run()
    assert (result.exit_code, result.reason, result.handled) == (0, "stopped", 2)
    rest = []
    make_worker(orders, rest.append, store).run()
    assert len(rest) == 4 and not set(sequence_numbers(rest)) & set(sequence_numbers(seen))


def test_table_checkpoint(orders):
    seen = []
    store = TableCheckpoint(orders, "orders-worker")
    assert make_worker(orders, seen.append, store).run().handled == 6
    assert TableCheckpoint(orders, "orders-worker", bind=False).load() == store.load()
    assert make_worker(orders, seen.append, TableCheckpoint(orders, "orders-worker", bind=False)).run().handled == 0


# ------------------------------------------------------------------------------------------- settings
def test_settings_precedence_config_file_then_env_then_flags(tmp_path):
    ini = tmp_path / "worker.ini"
    ini.write_text("[worker]\nhandler = app:handle\nmodel = app:Order\nfrom = latest\nsave-every = 5\n"
                   "poll_interval = 3\ncheckpoint = file.token\n")
    environ = {"BLOOP_CONFIG": str(ini), "BLOOP_SAVE_EVERY": "7", "BLOOP_CHECKPOINT": "table:env",
               "BLOOP_LOCAL": "yes"}
    settings = load_settings({"checkpoint": "flag.token"}, environ=environ)
    assert (settings.handler, settings.model, settings.start) == ("app:handle", "app:Order", "latest")
    assert (settings.save_every, settings.poll_interval, settings.local) == (7, 3.0, True)
    assert settings.checkpoint == "flag.token"
    assert settings.sources["checkpoint"] == "flag" and settings.sources["save_every"] == "env"
    assert settings.sources["start"] == "config" and settings.sources["on_error"] == "default"
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.bloop.worker]\nhandler = "a:b"\nexit-when-idle = true\nsave_every = 2\n')
    if sys.version_info < (3, 11):  # TOML config files need tomllib, as the worker docs say
        with pytest.raises(WorkerError, match="needs Python 3.11"):
            load_settings({"config": str(toml)}, environ={})
        return
    from_toml = load_settings({"config": str(toml)}, environ={})
    assert (from_toml.handler, from_toml.exit_when_idle, from_toml.save_every) == ("a:b", True, 2)


def test_bad_settings_say_where_they_came_from(tmp_path):
    with pytest.raises(WorkerError, match=r"--save-every = '0' \(from BLOOP_SAVE_EVERY\): must be at least 1"):
        load_settings({}, environ={"BLOOP_SAVE_EVERY": "0"})
    with pytest.raises(WorkerError, match=r"--on-error = 'ignore' \(from flag\)"):
        load_settings({"on_error": "ignore"}, environ={})
    bad = tmp_path / "bad.ini"
    bad.write_text("[worker]\nsave_evry = 3\n")
    with pytest.raises(WorkerError, match="unknown setting 'save_evry'"):
        load_settings({"config": str(bad)}, environ={})
    with pytest.raises(WorkerError, match="does not exist"):
        load_settings({}, environ={"BLOOP_CONFIG": str(tmp_path / "missing.ini")})


# ------------------------------------------------------------------------------------------- bad input
@pytest.fixture
def app(tmp_path):
    """A module importable from --app-dir tmp_path, under a name unique to the test."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        from bloop import BaseModel, Column, String

        class Order(BaseModel):
            class Meta:
                stream = {"include": ["new", "old"]}
            id = Column(String, hash_key=True)

        class Plain(BaseModel):
            id = Column(String, hash_key=True)

        def handle(event):
            pass

        answer = 42

        engines, handled = [], []

        def make_handler(engine):
            engines.append(engine)
            return handled.append

        def broken_factory(engine):
            return answer
    """))
    return name


def run_cli(*args):
    return cli(["worker", *args])


def test_an_import_path_that_does_not_resolve(app, tmp_path, capsys):
    token = tmp_path / "orders.token"
    common = ["--app-dir", str(tmp_path), "--checkpoint", str(token), "--endpoint-url", "http://127.0.0.1:9"]
    assert run_cli("no_such_package.handlers:handle", "--model", f"{app}:Order", *common) == 2
    assert "can't import module 'no_such_package.handlers'" in capsys.readouterr().err
    assert run_cli(f"{app}:missing", "--model", f"{app}:Order", *common) == 2
    assert f"module '{app}' has no attribute 'missing'" in capsys.readouterr().err
    assert run_cli(f"{app}:answer", "--model", f"{app}:Order", *common) == 2
    assert "is 42, which is not callable" in capsys.readouterr().err
    assert run_cli(f"{app}:handle", "--model", f"{app}:handle", *common) == 2
    assert "not a bloop model class" in capsys.readouterr().err
    assert run_cli(f"{app}:handle", *common) == 2
    assert "no model given" in capsys.readouterr().err
    assert run_cli("handle", "--model", f"{app}:Order", *common) == 2
    assert "is not an import path" in capsys.readouterr().err
    assert not token.exists()  # nothing recorded (and the unreachable endpoint was never called)


def test_a_model_without_a_stream(app, engine, tmp_path, capsys, bloop_local, monkeypatch):
    for name, value in bloop_local.environ.items():
        monkeypatch.setenv(name, value)
    token = tmp_path / "orders.token"
    template = engine.table_name_template
    code = run_cli(f"{app}:handle", "--model", f"{app}:Plain", "--app-dir", str(tmp_path), "--checkpoint",
                   str(token), "--table-name-template", template)
    assert code == 2
    assert "model Plain has no stream" in capsys.readouterr().err
    assert not token.exists()
    tables = bloop_local.dynamodb.list_tables()["TableNames"]
    assert not [name for name in tables if name.startswith(template.split("{")[0])]  # no table created


def test_bad_positions_and_checkpoints(app, tmp_path, capsys):
    common = [f"{app}:handle", "--model", f"{app}:Order", "--app-dir", str(tmp_path)]
    assert run_cli(*common, "--from", "yesterday") == 2
    assert "is not trim_horizon, latest or an ISO 8601 time" in capsys.readouterr().err
    assert run_cli(*common, "--from", "2026-01-01T00:00:00") == 2
    assert "has no UTC offset" in capsys.readouterr().err


def test_a_foreign_token_in_the_checkpoint_is_refused(orders, app, tmp_path, capsys, bloop_local, monkeypatch):
    for name, value in bloop_local.environ.items():
        monkeypatch.setenv(name, value)
    token = tmp_path / "orders.token"
    token.write_text(json.dumps({"stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/Other/stream/x",
                                 "active": [], "shards": []}))
    # the app module's Order has this test's table and stream: bind it with the same template
    code = run_cli(f"{app}:handle", "--model", f"{app}:Order", "--app-dir", str(tmp_path), "--checkpoint",
                   str(token), "--table-name-template", orders.table_name_template, "--exit-when-idle")
    assert code == 2
    assert "belongs to stream" in capsys.readouterr().err


def test_the_command_passes_its_engine_to_a_factory_and_changes_no_process_state(orders, app, tmp_path, capsys,
                                                                                  bloop_local, monkeypatch):
    for name, value in bloop_local.environ.items():
        if not name.startswith("AWS_ENDPOINT_URL"):  # the endpoint is given as a flag only
            monkeypatch.setenv(name, value)
    environ, path = dict(os.environ), list(sys.path)
    code = run_cli(f"{app}:make_handler", "--factory", "--model", f"{app}:Order", "--app-dir", str(tmp_path),
                   "--endpoint-url", bloop_local.endpoint, "--region", "us-east-1",
                   "--table-name-template", orders.table_name_template, "--exit-when-idle",
                   "--poll-interval", "0.05")
    assert code == 0, capsys.readouterr().err
    assert dict(os.environ) == environ and sys.path == path
    module = sys.modules[app]
    (engine,) = module.engines
    assert engine.table_name_template == orders.table_name_template
    assert len(module.handled) == 6  # 3 new items, 2 records each (Q1)
    assert {event["new"].id for event in module.handled} == {"o0", "o1", "o2"}


def test_a_factory_that_returns_no_handler_is_named(orders, app, tmp_path, capsys, bloop_local, monkeypatch):
    for name, value in bloop_local.environ.items():
        monkeypatch.setenv(name, value)
    code = run_cli(f"{app}:broken_factory", "--factory", "--model", f"{app}:Order", "--app-dir", str(tmp_path),
                   "--table-name-template", orders.table_name_template)
    assert code == 2
    assert f"factory '{app}:broken_factory' returned 42, which is not callable" in capsys.readouterr().err
