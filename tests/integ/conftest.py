"""Fixtures shared by the integration tests."""
import threading

import pytest


@pytest.fixture
def atomic_moto_writes(monkeypatch):
    """moto quirk Q4: make moto's conditional item writes atomic, as DynamoDB's are.

    moto checks a write's condition and applies the write without a lock, so two concurrent conditional
    writes to one item can both succeed; race tests serialise its writes so that they test bloop, not moto.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)
        monkeypatch.setattr(DynamoDBBackend, name, locked)
