"""The local run: the embedded AWS in this process, a few orders, then the worker until it has caught up.

Run it from ``examples/`` with ``python -m portable_worker.run_local``. The worker here is
:class:`bloop.worker.Worker`, what ``python -m bloop worker`` runs.
"""
from __future__ import annotations

import os
import sys
import tempfile

if not __package__:  # run as a file: make ``portable_worker`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bloop import Engine
from bloop.local import start_local
from bloop.stream.checkpoint import FileCheckpoint
from bloop.worker import Worker
from portable_worker.handlers import handle
from portable_worker.models import CustomerTotal, Order, engine

#: what place_orders() leads to: customer -> (paid_total, paid_orders)
EXPECTED = {"ada": (42, 2), "bob": (20, 1)}


def place_orders(engine: Engine) -> None:
    """Orders placed, paid, and changed after payment (a change the handler must not count again)."""
    engine.save(Order(id="o1", customer="ada", status="paid", total=30),
                Order(id="o2", customer="bob", status="new", total=20))
    engine.save(Order(id="o3", customer="ada", status="new", total=12),
                Order(id="o4", customer="cyd", status="new", total=5))
    engine.save(Order(id="o2", status="paid"))  # only the status changes; the stream image has the rest
    engine.save(Order(id="o3", status="paid"))
    engine.save(Order(id="o1", total=31))  # changed after payment: not a payment
    engine.save(Order(id="o4", status="cancelled"))


def totals(engine: Engine) -> dict:
    """customer -> (paid_total, paid_orders), as the handler left them."""
    return {t.customer: (t.paid_total, t.paid_orders) for t in engine.scan(CustomerTotal, consistent=True)}


def run_worker(engine: Engine, token_path: str) -> None:
    worker = Worker(handle, model=Order, engine=engine, checkpoint=FileCheckpoint(token_path),
                    exit_when_idle=True, poll_interval=0.2, progress_interval=0)
    result = worker.run()
    print(f"worker: {result.reason}; {result.handled} records handled")
    assert result.exit_code == 0, result


def main() -> None:
    with start_local() as aws:
        os.environ.update(aws.environ)  # so engine() (boto3's default clients) finds the embedded AWS
        local = engine()
        local.bind(Order)
        place_orders(local)
        with tempfile.TemporaryDirectory() as directory:
            run_worker(local, os.path.join(directory, "orders.token"))
        found = totals(local)
        print(f"customer totals: {found}")
        assert found == EXPECTED, found


if __name__ == "__main__":
    main()
