"""Shared pieces of the stream consumer tests on the simulated service (this module has no tests).

A :class:`Consumer` wires a bloop Engine to a :class:`SimulatedStreams` on a virtual clock and drives
"process lives" with the oracle's :func:`run_session`: each session resumes from the last saved
token (JSON round-tripped, as a real store would), and :meth:`Consumer.violations` checks I1-I5.
"""
from __future__ import annotations

import json
from typing import Any

from bloop import BaseModel, Column, Engine, Integer, String
from bloop.engine import BoundTable
from bloop.exceptions import RetryLimitExceeded
from bloop.session import RetryPolicy
from bloop.stream import Stream
from tests.sim import DeliveryLog, SimulatedStreams, check_simulation, run_session
from tests.sim.botocore_retries import BotocoreRetries

HOUR = 3600
MINUTE = 60


class Thing(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    value = Column(Integer)
    note = Column(String)


class KeysOnly(BaseModel):
    class Meta:
        table_name = "Table"
        stream = {"include": ["keys"]}

    id = Column(String, hash_key=True)
    value = Column(Integer)


def key(name: str) -> dict:
    return {"id": {"S": name}}


def item(name: str, value: int, **extra: Any) -> dict:
    return {"id": {"S": name}, "value": {"N": str(value)}, **extra}


def make_engine(sim: SimulatedStreams, model: Any = Thing, table_name: str = "Table") -> Engine:
    """An Engine on the simulator, with ``model`` bound to ``table_name``'s stream without a bind call."""
    # the simulator behind botocore's retries, as a real client would be (bloop adds none for throttling)
    client = BotocoreRetries(sim)
    engine = Engine(dynamodb=client, dynamodbstreams=client, retry=RetryPolicy(sleep=sim.clock.sleep))
    engine._bound[model] = BoundTable(table_name, sim.tables[table_name].stream_arn)
    return engine


class Consumer:
    """One consumer (model + engine + delivery log) of a simulated stream, across process lives."""

    def __init__(self, sim: SimulatedStreams | None = None, *, model: Any = Thing, max_workers: int = 4,
                 **sim_options: Any) -> None:
        self.sim = sim or SimulatedStreams(**sim_options)
        self.model = model
        self.engine = make_engine(self.sim, model)
        self.max_workers = max_workers
        self.log = DeliveryLog()
        self.losses: list = []
        self.initial: Any = None
        self.streams: list[Stream] = []
        self.counter = 0

    # -- writes ------------------------------------------------------------------------------
    def write(self, name: str, value: int | None = None) -> Any:
        """PutItem with a new value (so it always writes a record); returns the WrittenRecord."""
        self.counter += 1
        return self.sim.put_item(item(name, self.counter if value is None else value))

    def write_many(self, count: int, keys: int = 7) -> list:
        return [self.write(f"k{i % keys}") for i in range(count)]

    # -- reading -----------------------------------------------------------------------------
    def stream(self, position: Any, **options: Any) -> Stream:
        options.setdefault("on_loss", self.losses.append)
        options.setdefault("max_workers", self.max_workers)
        options.setdefault("clock", self.sim.clock)
        stream = Stream(model=self.model, engine=self.engine, **options)
        stream.move_to(position)
        self.streams.append(stream)
        return stream

    def start(self, position: Any) -> Stream:
        """Position the first process; its token counts as saved right away (as a careful user does)."""
        stream = self.stream(position)
        self.initial = json.loads(json.dumps(stream.token))
        return stream

    def resume_position(self, fallback: Any = "trim_horizon") -> Any:
        return self.log.last_token or self.initial or fallback

    def session(self, stream: Stream | None = None, *, crashes: Any = None, idle_limit: int = 6,
                max_events: int | None = None, save_every: int = 1, handle: Any = None) -> Any:
        """One process life: read until idle (or a crash); tokens saved as JSON after each handled event."""
        stream = stream or self.stream(self.resume_position())

        def next_event() -> Any:
            try:
                return next(stream)
            except RetryLimitExceeded:
                return None  # what stream.iterate does: wait (the driver sleeps) and poll again

        try:
            return run_session(self.log, next_event, save_token=lambda: json.loads(json.dumps(stream.token)),
                               crashes=crashes, idle_limit=idle_limit, sleep=self.sim.clock.sleep, poll_interval=1.0,
                               max_events=max_events, save_every=save_every, handle=handle)
        finally:
            stream.close()

    def drain(self, stream: Stream, idle_limit: int = 6) -> list:
        """Every event available now (ends after ``idle_limit`` Nones in a row, 1 virtual second apart)."""
        events, idle = [], 0
        while idle < idle_limit:
            event = next(stream)
            if event is None:
                idle += 1
                self.sim.clock.advance(1)
            else:
                idle = 0
                events.append(event)
        return events

    def violations(self, **options: Any) -> list:
        return check_simulation(self.sim, self.log, loss_reports=self.losses, **options)

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


def sequence_numbers(events: list) -> list:
    return [event["meta"]["sequence_number"] for event in events]
