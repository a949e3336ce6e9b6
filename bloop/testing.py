"""pytest plugin (entry point ``bloop``): fixtures backed by the embedded AWS in :mod:`bloop.local`.

pytest loads this module for every project that has bloop installed, so it must stay cheap to import:
moto and boto3 are only imported when a fixture below is first used. Projects can override any fixture
by defining one with the same name in their own conftest.py.

One server serves the whole session; each ``bloop_engine`` gets its own table-name prefix instead of a
reset between tests, so tests stay isolated without paying for table teardown. Every fixture has a
``bloop_`` name; ``engine``, ``engine_factory``, ``dynamodb``, ``dynamodbstreams`` and ``s3`` are aliases.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from bloop.engine import Engine
    from bloop.local import LocalAWS

__all__ = [
    "bloop_local", "bloop_dynamodb", "bloop_dynamodbstreams", "bloop_s3", "bloop_engine", "bloop_engine_factory",
    "dynamodb", "dynamodbstreams", "s3", "engine", "engine_factory", "unique_prefix",
]

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def unique_prefix() -> str:
    """A table-name prefix not used before in this process, e.g. ``"t12-"`` (xdist worker id appended)."""
    with _counter_lock:
        n = next(_counter)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"t{n}{worker}-" if worker else f"t{n}-"


@pytest.fixture(scope="session")
def bloop_local() -> Iterator[LocalAWS]:
    """One embedded AWS for the test session (each xdist worker gets its own), stopped at the end."""
    from bloop.local import LocalAWS

    aws = LocalAWS()
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture(scope="session")
def bloop_dynamodb(bloop_local: LocalAWS) -> Any:
    """boto3 DynamoDB client bound to the embedded AWS."""
    return bloop_local.dynamodb


@pytest.fixture(scope="session")
def bloop_dynamodbstreams(bloop_local: LocalAWS) -> Any:
    """boto3 DynamoDB Streams client bound to the embedded AWS."""
    return bloop_local.dynamodbstreams


@pytest.fixture(scope="session")
def bloop_s3(bloop_local: LocalAWS) -> Any:
    """boto3 S3 client bound to the embedded AWS."""
    return bloop_local.s3


@pytest.fixture
def bloop_engine_factory(bloop_local: LocalAWS) -> Callable[..., Engine]:
    """Make more engines for one test; each call gets a fresh ``table_name_template`` unless given one."""

    def make(**kwargs: Any) -> Engine:
        kwargs.setdefault("table_name_template", unique_prefix() + "{table_name}")
        return bloop_local.engine(**kwargs)

    return make


@pytest.fixture
def bloop_engine(bloop_engine_factory: Callable[..., Engine]) -> Engine:
    """A bloop Engine on the embedded AWS whose tables no other test sees."""
    return bloop_engine_factory()


# The short names bloop's own suite started with. They are aliases of the bloop_ fixtures above; a
# project whose conftest.py defines a fixture of the same name replaces the alias and nothing else.


@pytest.fixture(scope="session")
def dynamodb(bloop_dynamodb: Any) -> Any:
    """Alias of ``bloop_dynamodb``."""
    return bloop_dynamodb


@pytest.fixture(scope="session")
def dynamodbstreams(bloop_dynamodbstreams: Any) -> Any:
    """Alias of ``bloop_dynamodbstreams``."""
    return bloop_dynamodbstreams


@pytest.fixture(scope="session")
def s3(bloop_s3: Any) -> Any:
    """Alias of ``bloop_s3``."""
    return bloop_s3


@pytest.fixture
def engine_factory(bloop_engine_factory: Callable[..., Engine]) -> Callable[..., Engine]:
    """Alias of ``bloop_engine_factory``."""
    return bloop_engine_factory


@pytest.fixture
def engine(bloop_engine: Engine) -> Engine:
    """Alias of ``bloop_engine``."""
    return bloop_engine
