"""The AWS Lambda entry point: set the function's handler to ``portable_worker.lambda_function.handler``.

The event source mapping should have ``FunctionResponseTypes: ["ReportBatchItemFailures"]`` (hence
``report_batch_item_failures=True``): a failed record is retried from where it failed, not with its batch.
"""
from __future__ import annotations

from bloop.ext.aws_lambda import lambda_handler

from .handlers import handle
from .models import Order, engine

# engine is called on the first invocation; Order is bound with skip_table_setup=True (the default): building
# typed events from the Lambda records needs no AWS call, so a cold start makes none.
handler = lambda_handler(handle, model=Order, engine=engine, report_batch_item_failures=True)
