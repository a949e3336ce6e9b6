"""Where moto's server answers a request DynamoDB accepts, made to serve it as DynamoDB does.

Quarantined here, applied by :mod:`bloop.local` before its server starts, and tested in
tests/integ/test_moto_compat.py; the library itself never depends on it (it sends what real
DynamoDB needs, and these patches only let the embedded AWS answer the same requests).

* ``UpdateItem`` with a ``Key`` and no ``UpdateExpression`` (bloop's save of an object that holds
  nothing but its key, as bloop 3.x sends it): DynamoDB creates the item when it is missing and
  leaves it as it is otherwise; moto 5 fails with HTTP 500 (``'NoneType' object has no attribute
  'items'``) because it applies the absent legacy ``AttributeUpdates`` as if it were a dict.
"""
from __future__ import annotations

from typing import Any

__all__ = ["apply_moto_compat", "PATCHES"]

PATCHES = ("UpdateItem without UpdateExpression",)
_MARK = "_bloop_compat"


def apply_moto_compat() -> bool:
    """Patch the in-process moto (idempotent); False when moto is not installed or its layout differs."""
    try:
        from moto.dynamodb.models.dynamo_type import Item
    except ImportError:
        return False
    original = Item.update_with_attribute_updates
    if getattr(original, _MARK, False):
        return True

    def update_with_attribute_updates(self: Any, attribute_updates: Any) -> None:
        if attribute_updates is None:  # UpdateItem with only a Key: nothing to apply
            return None
        return original(self, attribute_updates)

    setattr(update_with_attribute_updates, _MARK, True)
    Item.update_with_attribute_updates = update_with_attribute_updates  # type: ignore[method-assign]
    return True
