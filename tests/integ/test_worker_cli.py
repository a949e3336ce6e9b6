"""``python -m bloop worker`` as a real subprocess against the embedded AWS of this test session: killed
with SIGKILL mid-run and restarted (with idempotency, every record's side effect happens exactly once),
stopped with SIGTERM (a clean stop: the restart neither repeats nor skips a record), and with ``--local``.

The worker finds the embedded AWS through AWS_ENDPOINT_URL, as a worker in a second terminal would. moto
quirk Q1 (test_stream.py): each new item saved gives two INSERT records; the checks count records.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from bloop import BaseModel, Column, Integer, String

HANDLERS = textwrap.dedent('''
    """Test handlers; the pauses let the test kill the worker at an exact point."""
    import os
    import pathlib
    import time

    from bloop import BaseModel, Column, Engine, Integer, String
    from bloop.actions import add
    from bloop.ext.idempotency import idempotent_record

    class Ledger(BaseModel):
        class Meta:
            stream = {"include": ["new", "old"]}
        id = Column(String, hash_key=True)
        amount = Column(Integer)

    class Effect(BaseModel):
        """How often each record's side effect ran (an ADD: not idempotent by itself)."""
        event_id = Column(String, hash_key=True)
        count = Column(Integer)

    class Delivery(BaseModel):
        """How often each record reached the handler."""
        event_id = Column(String, hash_key=True)
        count = Column(Integer)

    MARKERS = pathlib.Path(os.environ["MARKERS"])
    _engine = None
    delivered = 0

    def engine():
        global _engine
        if _engine is None:
            _engine = Engine(table_name_template=os.environ["BLOOP_TABLE_NAME_TEMPLATE"])
            _engine.bind(Effect)
            _engine.bind(Delivery)
        return _engine

    def count(model, event):
        item = model(event_id=event["meta"]["event"]["id"])
        item.count = add(1)
        engine().save(item)

    def pause(name):
        (MARKERS / name).write_text("")
        time.sleep(3600)  # until killed

    # a short in-progress deadline, and waiting long enough for it, so a record claimed by a killed worker
    # is taken over by the next one
    @idempotent_record(engine, namespace="kill-test", in_progress_timeout=1.0, wait=20)
    def effect(event):
        if os.environ.get("PAUSE_BEFORE_EFFECT") == str(delivered):
            pause(f"claimed-{delivered}")  # killed holding the INPROGRESS record, before the effect
        count(Effect, event)

    def handle(event):
        global delivered
        delivered += 1
        count(Delivery, event)
        effect(event)
        if os.environ.get("PAUSE_AFTER") == str(delivered):
            pause(f"after-{delivered}")  # killed after the effect, before the next checkpoint

    def log_line(event):
        """For the SIGTERM test: one line per delivery, a little work per record."""
        with open(MARKERS / "deliveries", "a") as file:
            file.write(event["meta"]["sequence_number"] + "\\n")
            file.flush()
            os.fsync(file.fileno())
        time.sleep(0.02)
''')


class Ledger(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    amount = Column(Integer)


class Effect(BaseModel):
    event_id = Column(String, hash_key=True)
    count = Column(Integer)


class Delivery(BaseModel):
    event_id = Column(String, hash_key=True)
    count = Column(Integer)


@pytest.fixture
def setup(engine, bloop_local, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kill_handlers.py").write_text(HANDLERS)
    (tmp_path / "markers").mkdir()
    engine.bind(Ledger)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BLOOP_"))}
    env.update(bloop_local.environ, BLOOP_TABLE_NAME_TEMPLATE=engine.table_name_template,
               MARKERS=str(tmp_path / "markers"))
    return engine, env, tmp_path


def start_worker(env, tmp_path, handler, *flags, **extra_env):
    command = [sys.executable, "-m", "bloop", "worker", f"kill_handlers:{handler}", "--model",
               "kill_handlers:Ledger", "--app-dir", str(tmp_path / "app"), "--checkpoint",
               str(tmp_path / "ledger.token"), "--poll-interval", "0.1", *flags]
    log = open(tmp_path / f"worker-{len(list(tmp_path.glob('worker-*.log')))}.log", "w")
    process = subprocess.Popen(command, env={**env, **extra_env}, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log.name
    return process


def wait_for(path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the worker exited ({process.returncode}) before {path.name}: "
                                 + open(process.log_path).read())
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} after {timeout}s: " + open(process.log_path).read())
        time.sleep(0.05)


def finish(process, timeout=60):
    try:
        assert process.wait(timeout) == 0, open(process.log_path).read()
    finally:
        if process.poll() is None:
            process.kill()


def stream_event_ids(engine):
    stream = engine.stream(Ledger, "trim_horizon")
    ids, idle = [], 0
    while idle < 2:
        event = next(stream)
        if event is None:
            idle += 1
            time.sleep(0.3)
        else:
            idle = 0
            ids.append(event["meta"]["event"]["id"])
    return ids


def test_sigkill_mid_run_then_restart_each_side_effect_exactly_once(setup):
    engine, env, tmp_path = setup
    for number in range(10):
        engine.save(Ledger(id=f"entry-{number}", amount=number))  # 20 records (Q1)
    markers = tmp_path / "markers"

    # life 1: checkpoint every 5 records; killed after the 8th record's effect (token at the 5th)
    first = start_worker(env, tmp_path, "handle", "--save-every", "5", PAUSE_AFTER="8")
    wait_for(markers / "after-8", first)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    # life 2: records 6-8 come again (their effects are recorded: skipped); killed while holding the 12th
    # record's claim (the 7th delivery of this life), before its effect
    second = start_worker(env, tmp_path, "handle", "--save-every", "5", PAUSE_BEFORE_EFFECT="7")
    wait_for(markers / "claimed-7", second)
    second.send_signal(signal.SIGKILL)
    second.wait(10)
    # life 3: to the end; the 12th record's claim lapses after 1 s and is taken over
    finish(start_worker(env, tmp_path, "handle", "--save-every", "5", "--exit-when-idle"))

    event_ids = stream_event_ids(engine)
    assert len(event_ids) == 20
    engine.bind(Effect, skip_table_setup=True)  # created by the handler's module
    engine.bind(Delivery, skip_table_setup=True)
    effects = {e.event_id: e.count for e in engine.scan(Effect, consistent=True)}
    deliveries = {d.event_id: d.count for d in engine.scan(Delivery, consistent=True)}
    assert effects == {event_id: 1 for event_id in event_ids}  # exactly once each
    assert sorted(deliveries.values()).count(2) == 5  # records 6-8 and 11-12 were delivered twice


def test_sigterm_stops_cleanly_and_the_restart_repeats_nothing(setup):
    engine, env, tmp_path = setup
    for number in range(10):
        engine.save(Ledger(id=f"entry-{number}", amount=number))  # 20 records (Q1)
    deliveries = tmp_path / "markers" / "deliveries"
    worker = start_worker(env, tmp_path, "log_line")
    deadline = time.monotonic() + 60
    while not (deliveries.exists() and len(deliveries.read_text().split()) >= 5):
        assert time.monotonic() < deadline and worker.poll() is None, open(worker.log_path).read()
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, open(worker.log_path).read()
    log = open(worker.log_path).read()
    assert "got SIGTERM; stopping after the current record" in log and "checkpoint saved" in log
    handled = len(deliveries.read_text().split())
    assert handled < 20
    finish(start_worker(env, tmp_path, "log_line", "--exit-when-idle"))
    lines = deliveries.read_text().split()
    assert len(lines) == 20 and len(set(lines)) == 20  # nothing repeated, nothing skipped


def test_local_starts_the_embedded_aws_in_the_worker(setup):
    _, env, tmp_path = setup
    env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    worker = start_worker(env, tmp_path, "handle", "--local", "--exit-when-idle")
    finish(worker)
    log = open(worker.log_path).read()
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in log and "caught up" in log
