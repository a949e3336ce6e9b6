"""The stream handler: the same function runs in the local worker and in AWS Lambda."""
from __future__ import annotations

from bloop.actions import add
from bloop.ext.idempotency import idempotent_record

from .models import IN_LAMBDA, CustomerTotal, engine


def became_paid(event: dict) -> bool:
    """True for the record of the change that made an order paid.

    moto (the embedded AWS) also writes a key-only INSERT before the real one when an UpdateItem creates an
    item; its image has no status, so it is ignored here like any other record that isn't a payment.
    """
    new, old = event["new"], event["old"]
    if new is None or new.status != "paid":
        return False
    return old is None or old.status != "paid"


# Once per stream record (keyed by its eventID): a record seen again after a Lambda retry or a worker restart
# finds its COMPLETED record and is not counted twice.
@idempotent_record(engine, namespace="portable-worker.customer-totals", skip_table_setup=IN_LAMBDA)
def handle(event: dict) -> None:
    if not became_paid(event):
        return
    order = event["new"]
    total = CustomerTotal(customer=order.customer)
    total.paid_total = add(order.total or 0)
    total.paid_orders = add(1)
    engine().save(total)
