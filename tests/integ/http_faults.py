"""Faults injected under botocore, at the HTTP layer of one client (``before-send`` hooks).

What the library sees is what a network or service fault gives it, botocore's own retries included:
an answer replaced by an error (``HttpFaults.answer``), the request sent and applied and then its answer
lost (``apply=True``), or a connection error instead of any answer. Every request the client sends is
counted by operation in ``sent``.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from botocore.awsrequest import AWSResponse
from botocore.httpsession import URLLib3Session


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


@dataclass
class _Rule:
    operation: str
    contains: bytes | None
    fault: Any  # (status, code) or an exception instance
    apply: bool
    times: int | None


class HttpFaults:
    """Register on ``client``; ``on(...)`` adds a fault; ``sent`` counts the requests per operation."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.sent: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()
        self.rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._http = URLLib3Session(proxies={})
        client.meta.events.register("before-send", self._before_send)

    def on(self, operation: str, fault: Any, *, contains: str | None = None, apply: bool = False,
           times: int | None = None) -> HttpFaults:
        """Answer ``operation`` requests (whose body contains ``contains``) with ``fault``: ``(status, code)``
        or an exception to raise; ``apply=True`` sends the request first; ``times`` None means always."""
        self.rules.append(_Rule(operation, contains.encode() if contains else None, fault, apply, times))
        return self

    def heal(self) -> None:
        self.rules.clear()

    def _match(self, operation: str, body: bytes) -> _Rule | None:
        with self._lock:
            self.sent[operation] += 1
            for rule in self.rules:
                if rule.operation != operation or (rule.contains is not None and rule.contains not in body):
                    continue
                if rule.times is not None:
                    if rule.times <= 0:
                        continue
                    rule.times -= 1
                self.fired[operation] += 1
                return rule
        return None

    def _before_send(self, request: Any, **kwargs: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        operation = target.rpartition(".")[2] or kwargs.get("event_name", "").rpartition(".")[2]
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else bytes(body) if isinstance(body, (bytes, bytearray)) else b""
        rule = self._match(operation, body)
        if rule is None:
            return None
        if rule.apply:
            self._http.send(request)
        if isinstance(rule.fault, BaseException):
            raise rule.fault
        status, code = rule.fault
        payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                              "message": f"injected {code}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(payload))}
        return AWSResponse(request.url, status, headers, _Body(payload))


def throttle(operation: str = "UpdateItem") -> Callable[[HttpFaults], HttpFaults]:
    return lambda faults: faults.on(operation, (400, "ThrottlingException"))
