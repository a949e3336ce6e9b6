"""A portable stream function: one handler, run by the local worker and by AWS Lambda.

* ``models.py``: ``Order`` (its table has a stream) and ``CustomerTotal`` (what the handler maintains),
  and ``engine()``, the engine for the current environment (AWS, or the embedded AWS via ``AWS_ENDPOINT_URL``).
* ``handlers.py``: ``handle(event)`` adds an order's total to its customer once the order is paid. The
  addition is not idempotent by itself (an ADD), so the handler is wrapped with ``idempotent_record``:
  a record delivered twice (a Lambda retry, a worker restarted after a crash) is counted once.
* ``run_local.py``: the local run: the embedded AWS, a few orders, the worker until it has caught up.
* ``lambda_function.py``: the Lambda entry point (set the function's handler to
  ``portable_worker.lambda_function.handler``).

The four-terminal loop (from the repository root)::

    python -m bloop local --port 8000                                       # 1: the embedded AWS
    export AWS_ENDPOINT_URL=http://127.0.0.1:8000 AWS_ACCESS_KEY_ID=testing \\
        AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1            # 2, 3, 4: point at it
    python -m bloop worker portable_worker.handlers:handle \\
        --model portable_worker.models:Order --checkpoint orders.token --app-dir examples   # 2: the worker
    aws dynamodb put-item --table-name Order --item \\
        '{"id": {"S": "o1"}, "customer": {"S": "ada"}, "status": {"S": "paid"}, "total": {"N": "30"}}'
    aws dynamodb get-item --table-name CustomerTotal --key '{"customer": {"S": "ada"}}'     # 3: poke at it
    python -m pytest tests                                                  # 4: the tests
"""
