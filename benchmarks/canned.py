"""Shared helpers: an in-process canned AWS, clients and an engine that use it, and paired timing.

The canned responder replaces ``botocore.client.BaseClient._make_api_call``, the one method every
boto3 client operation goes through. So no request leaves the process, and botocore's parameter
validation, serialisation, signing and response parsing are all skipped. That is the same for raw
boto3 and for bloop (bloop calls the same client methods), so what is timed is only the library's own
work on each side: building requests, dumping and loading values, and the client method dispatch.

Handlers return their canned responses as they are: a handler that hands out one shared response
object relies on neither side mutating it (boto3's TypeDeserializer and bloop don't).
"""
from __future__ import annotations

import contextlib
import functools
import gc
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import boto3
from botocore.client import BaseClient

__all__ = [
    "CannedAWS", "Result", "clients", "compare", "format_result", "make_engine", "patched", "print_table",
]

Handler = Callable[[dict], dict]

# CPU time of this process: the work each side does, without the time other processes on a shared
# machine hold the cores (wall time there measures the neighbours as much as the code). The timed
# workloads run in this thread, wait for nothing (AWS answers in-process) and include the collector.
CLOCK = time.process_time


class CannedAWS:
    """Answers AWS operations by name (``"UpdateItem"``, ``"GetRecords"``...) from registered handlers.

    A handler is a function of the request parameters returning the response dict, or a dict returned
    as it is. ``calls`` counts requests per operation; set ``requests`` to a list to record
    ``(operation, params)`` pairs (tests do; the timed runs don't).
    """

    def __init__(self) -> None:
        self.handlers: dict[str, Handler | dict] = {}
        self.calls: Counter = Counter()
        self.requests: list[tuple[str, dict]] | None = None

    def on(self, operation: str, handler: Handler | dict) -> CannedAWS:
        self.handlers[operation] = handler
        return self

    def __call__(self, client: Any, operation: str, params: dict) -> dict:
        handler = self.handlers.get(operation)
        if handler is None:
            raise NotImplementedError(
                f"the canned AWS has no answer for {operation}; register one with canned.on({operation!r}, ...)")
        self.calls[operation] += 1
        if self.requests is not None:
            self.requests.append((operation, params))
        return handler(params) if callable(handler) else handler


@contextlib.contextmanager
def patched(responder: Callable[[Any, str, dict], dict]) -> Iterator[Callable[[Any, str, dict], dict]]:
    """Route every boto3 client call to ``responder(client, operation_name, params)`` while inside."""
    original = BaseClient._make_api_call

    def _make_api_call(client: Any, operation_name: str, api_params: dict) -> dict:
        return responder(client, operation_name, api_params)

    BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
    try:
        yield responder
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


@functools.cache
def clients(region: str = "us-east-1") -> tuple[Any, Any]:
    """A (dynamodb, dynamodbstreams) pair with dummy credentials; made once, they are slow to create."""
    options = {"region_name": region, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    return boto3.client("dynamodb", **options), boto3.client("dynamodbstreams", **options)


def make_engine(*models: Any) -> Any:
    """An Engine on :func:`clients` with ``models`` bound without any call (``skip_table_setup``)."""
    from bloop import Engine

    dynamodb, dynamodbstreams = clients()
    engine = Engine(dynamodb=dynamodb, dynamodbstreams=dynamodbstreams)
    for model in models:
        engine.bind(model, skip_table_setup=True)
    return engine


# ------------------------------------------------------------------------------------------- timing
@dataclass
class Result:
    """One workload timed on both sides; ``bloop`` and ``raw`` are the best (least) seconds per run."""

    name: str
    bloop: float
    raw: float
    target: float | None  # the most bloop may take, as a multiple of raw; None: informational
    n: int = 0  # items per run
    bloop_median: float | None = None
    raw_median: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.bloop / self.raw if self.raw else float("inf")

    @property
    def median_ratio(self) -> float | None:
        if self.bloop_median is None or not self.raw_median:
            return None
        return self.bloop_median / self.raw_median

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def _time_once(prepare: Callable[[], Callable[[], Any]]) -> float:
    """Seconds one run takes. Its inputs are built by ``prepare``, outside the clock.

    The garbage collector stays on while timing: a library that allocates more triggers more
    collections, and in production those are its cost too. Collecting first means neither side
    inherits a collection that the other side's garbage made due.
    """
    run = prepare()
    gc.collect()
    start = CLOCK()
    run()
    return CLOCK() - start


def compare(name: str, *, bloop: Callable[[], Callable[[], Any]], raw: Callable[[], Callable[[], Any]],
            target: float | None, n: int = 0, repeats: int = 7, warmup: int = 1, note: str = "") -> Result:
    """Time ``bloop`` and ``raw`` ``repeats`` times each, interleaved, and keep the best and the median.

    Each side is a *prepare* function: it builds the inputs of one run (fresh objects, say) and returns
    the zero-argument callable that is timed. Sides alternate which goes first so drift hits both.
    """
    for _ in range(warmup):
        _time_once(bloop)
        _time_once(raw)
    bloop_times: list[float] = []
    raw_times: list[float] = []
    for repeat in range(repeats):
        order = ((bloop, bloop_times), (raw, raw_times))
        for prepare, times in (order if repeat % 2 == 0 else order[::-1]):
            times.append(_time_once(prepare))
    return Result(name=name, bloop=min(bloop_times), raw=min(raw_times), target=target, n=n,
                  bloop_median=statistics.median(bloop_times), raw_median=statistics.median(raw_times), note=note)


# ----------------------------------------------------------------------------------------- printing
def _field(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, dict):
        return result.get(name, default)
    return getattr(result, name, default)


def as_result(result: Any) -> Result:
    """A :class:`Result` from a Result, a dict or any object with the same fields."""
    if isinstance(result, Result):
        return result
    return Result(name=str(_field(result, "name", "?")), bloop=float(_field(result, "bloop")),
                  raw=float(_field(result, "raw")), target=_field(result, "target"), n=int(_field(result, "n", 0)),
                  bloop_median=_field(result, "bloop_median"), raw_median=_field(result, "raw_median"),
                  note=str(_field(result, "note", "")))


def _verdict(result: Result) -> str:
    if result.met is None:
        return "info"
    return "ok" if result.met else "MISS"


def format_result(result: Result) -> str:
    per_item = f"{result.bloop / result.n * 1e6:7.2f} / {result.raw / result.n * 1e6:7.2f} us/item" if result.n else ""
    target = f"<= {result.target:.2f}x" if result.target is not None else "   -   "
    median = result.median_ratio
    median_text = f" (median {median:.2f}x)" if median is not None else ""
    return (f"{result.name:<24} bloop {result.bloop * 1e3:8.2f} ms  raw {result.raw * 1e3:8.2f} ms  "
            f"ratio {result.ratio:5.2f}x{median_text}  target {target}  {_verdict(result):<4}  {per_item}")


def print_table(results: Iterable[Any], out: Callable[[str], Any] = print) -> None:
    rows = [as_result(r) for r in results]
    header = (f"{'benchmark':<24} {'n':>6} {'bloop ms':>10} {'raw ms':>10} {'ratio':>7} {'median':>7} "
              f"{'target':>8}  verdict")
    out(header)
    out("-" * len(header))
    for row in rows:
        target = f"<={row.target:.2f}x" if row.target is not None else "-"
        median = f"{row.median_ratio:.2f}x" if row.median_ratio is not None else "-"
        out(f"{row.name:<24} {row.n:>6} {row.bloop * 1e3:>10.2f} {row.raw * 1e3:>10.2f} {row.ratio:>6.2f}x "
            f"{median:>7} {target:>8}  {_verdict(row)}" + (f"  ({row.note})" if row.note else ""))
