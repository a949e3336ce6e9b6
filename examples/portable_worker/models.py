"""The models, and the engine for the environment the code runs in."""
from __future__ import annotations

import os
import threading

from bloop import BaseModel, Column, Engine, Integer, String

#: Lambda sets AWS_LAMBDA_FUNCTION_NAME. There the tables are created by the deployment (CloudFormation,
#: CDK, Terraform), so binding skips table setup: no DescribeTable calls at cold start, no CreateTable rights.
IN_LAMBDA = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


class Order(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    customer = Column(String)
    status = Column(String)  # "new", "paid", "cancelled"
    total = Column(Integer)


class CustomerTotal(BaseModel):
    """What the handler maintains: the sum and count of each customer's paid orders."""

    customer = Column(String, hash_key=True)
    paid_total = Column(Integer)
    paid_orders = Column(Integer)


_engines: dict[tuple, Engine] = {}
_lock = threading.Lock()


def engine() -> Engine:
    """The engine for the current environment, with ``CustomerTotal`` bound.

    boto3's default clients follow ``AWS_ENDPOINT_URL`` (the embedded AWS) or go to AWS; the table names
    follow ``BLOOP_TABLE_NAME_TEMPLATE`` (set it in the environment: the worker reads it too).
    """
    template = os.environ.get("BLOOP_TABLE_NAME_TEMPLATE") or "{table_name}"
    where = (template, os.environ.get("AWS_ENDPOINT_URL"))
    with _lock:
        found = _engines.get(where)
        if found is None:
            found = Engine(table_name_template=template)
            found.bind(CustomerTotal, skip_table_setup=IN_LAMBDA)
            _engines[where] = found
        return found
