"""What a botocore client does before bloop sees an error, for the simulated service.

bloop leaves throttling and 5xx retries to botocore (the client's ``Config``), so a consumer on a real
client only sees throttling that outlasted botocore's retries. The simulator is called directly, without
botocore; :class:`BotocoreRetries` puts botocore's retries back in front of it. The default is botocore's
default for a DynamoDB client (legacy mode: 10 attempts, ``0.05 * 2 ** (attempt - 1)`` seconds between
them), sleeping on the simulator's virtual clock. What is left raises as botocore raises it, with
``ResponseMetadata.RetryAttempts``.
"""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

#: the codes botocore retries (throttling and transient errors)
RETRIED_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
    "InternalError", "InternalServerError", "ServiceUnavailable",
})
#: botocore's legacy policy for DynamoDB (botocore/data/_retry.json)
LEGACY_DYNAMODB_ATTEMPTS = 10
LEGACY_DYNAMODB_BASE = 0.05


def _retried(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.response.get("Error", {}).get("Code") in RETRIED_CODES or status in (500, 502, 503, 504)


class BotocoreRetries:
    """A client for bloop: ``sim``'s API methods behind botocore's retries; everything else passes through."""

    def __init__(self, sim: Any, total_max_attempts: int = LEGACY_DYNAMODB_ATTEMPTS,
                 base: float = LEGACY_DYNAMODB_BASE) -> None:
        self._sim = sim
        self._attempts = total_max_attempts
        self._base = base
        self.retries = 0  # retries made, over every call

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._sim, name)
        if name.startswith("_") or not callable(found):
            return found

        def call(*args: Any, **request: Any) -> Any:
            for attempt in range(1, self._attempts + 1):
                try:
                    return found(*args, **request)
                except ClientError as error:
                    if attempt == self._attempts or not _retried(error):
                        error.response.setdefault("ResponseMetadata", {})["RetryAttempts"] = attempt - 1
                        raise
                self.retries += 1
                self._sim.clock.sleep(self._base * 2 ** (attempt - 1))
            raise AssertionError("unreachable")

        return call
