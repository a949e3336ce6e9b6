"""Post-conditions: after a write returns, read it back until the change is realized, or say what was seen.

Two levels:

* ``"item"``: one consistent BatchGetItem per 100 objects shows exactly what was written (or, for a
  delete, that the item is gone). A mismatch means another writer got in between: VerificationFailed.
* ``"indexes"``: the item check, then every global secondary index the object projects into is polled
  (index reads are never consistent) until the object appears under its new index key with the
  expected projected values, and is gone from its old index key; VerificationTimeout at the deadline.

A failed verification never undoes or repeats the write.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidVerification, VerificationFailed, VerificationTimeout
from .models import GlobalSecondaryIndex
from .util import backoff, key_identity

if TYPE_CHECKING:  # pragma: no cover
    from .session import SessionWrapper

__all__ = ["LEVELS", "Expectation", "check_level", "verify_writes"]

LEVELS = {None: None, "none": None, "item": "item", "indexes": "indexes"}
DEFAULT_DEADLINE = 30.0


def check_level(level: Any) -> str | None:
    try:
        return LEVELS[level]
    except (KeyError, TypeError):
        raise InvalidVerification(f'verify must be None, "item" or "indexes", not {level!r}') from None


@dataclass
class Expectation:
    """What one write should have left behind."""

    obj: Any
    table_name: str
    key: dict
    deleted: bool = False
    attributes: dict = field(default_factory=dict)  # dynamo name -> wire value, or None for "absent"
    whole_item: bool = False  # batch puts replace the item: it must equal ``attributes`` exactly
    old_item: dict | None = None  # the image before the write, when known (for old index keys)

    @property
    def identity(self) -> tuple:
        return self.table_name, key_identity(self.key)


def _describe(obj: Any) -> str:
    return repr(obj)


def read_back(session: SessionWrapper, expectations: list[Expectation]) -> dict[tuple, dict]:
    """Consistent reads of every expected item (100 keys per BatchGetItem), by identity; absent: missing."""
    return session.get_items(((e.table_name, e.key) for e in expectations), consistent=True)


def _same(found: dict | None, sent: dict | None) -> bool:
    """Wire values compare by meaning: DynamoDB answers numbers in plain notation (``1E+50`` as fifty zeros)."""
    if found == sent:
        return True
    return found is not None and sent is not None and key_identity({"": found}) == key_identity({"": sent})


def _item_problem(expectation: Expectation, item: dict | None) -> str | None:
    if expectation.deleted:
        return None if item is None else f"deleted, but the item is still there: {item}"
    if item is None:
        return "saved, but no item was found"
    if expectation.whole_item:
        if item == expectation.attributes or key_identity(item) == key_identity(expectation.attributes):
            return None
        return f"expected {expectation.attributes}, found {item}"
    wrong = {name: item.get(name) for name, value in expectation.attributes.items()
             if not _same(item.get(name), value)}
    if wrong:
        wanted = {name: expectation.attributes[name] for name in wrong}
        return f"expected {wanted}, found {wrong}"
    return None


def _index_key(index: Any, item: dict | None) -> dict | None:
    if item is None:
        return None
    key = {}
    for column in index.keys:
        if column.dynamo_name not in item:
            return None
        key[column.dynamo_name] = item[column.dynamo_name]
    return key


def _projected_names(index: Any) -> set[str]:
    return {column.dynamo_name for column in index.projection["included"]}


@dataclass
class IndexCheck:
    expectation: Expectation
    index: Any
    index_key: dict
    present: bool
    projected: dict  # for present checks: dynamo name -> wire value or None
    seen: Any = "nothing yet"

    def describe(self) -> str:
        where = f"{self.index.model.__name__}.{self.index.name} under {self.index_key}"
        wanted = f"present with {self.projected}" if self.present else "absent"
        return f"{_describe(self.expectation.obj)}: {where} should be {wanted}; saw {self.seen}"


def _index_checks(expectation: Expectation, item: dict | None) -> list[IndexCheck]:
    checks = []
    for index in type(expectation.obj).Meta.gsis:
        new_key = None if expectation.deleted else _index_key(index, item)
        old_key = _index_key(index, expectation.old_item)
        if new_key is not None:
            projected = {name: item.get(name) for name in _projected_names(index)}  # type: ignore[union-attr]
            checks.append(IndexCheck(expectation, index, new_key, True, projected))
        if old_key is not None and old_key != new_key:
            checks.append(IndexCheck(expectation, index, old_key, False, {}))
    return checks


def _run_check(session: SessionWrapper, check: IndexCheck) -> bool:
    expectation = check.expectation
    names, values, conditions = {}, {}, []
    for i, (name, value) in enumerate(sorted(check.index_key.items())):
        names[f"#i{i}"], values[f":i{i}"] = name, value
        conditions.append(f"#i{i} = :i{i}")
    request: dict[str, Any] = {
        "TableName": expectation.table_name, "IndexName": check.index.dynamo_name,
        "KeyConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
    }
    match = None
    while True:
        response = session.query_items(request)
        for item in response.get("Items", []):
            if all(_same(item.get(k), v) for k, v in expectation.key.items()):
                match = item
                break
        if match is not None or not response.get("LastEvaluatedKey"):
            break
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}
    if not check.present:
        check.seen = "the item is still listed" if match is not None else "absent"
        return match is None
    if match is None:
        check.seen = "the item is not listed"
        return False
    seen = {name: match.get(name) for name in check.projected}
    check.seen = seen
    return seen == check.projected


def verify_writes(session: SessionWrapper, expectations: list[Expectation], level: str | None,
                  deadline: float = DEFAULT_DEADLINE) -> dict[tuple, dict]:
    """Check the writes; returns the read-back items by identity (used to fill ``sync="new"``)."""
    if level is None or not expectations:
        return {}
    items = read_back(session, expectations)
    failures = []
    for expectation in expectations:
        problem = _item_problem(expectation, items.get(expectation.identity))
        if problem:
            failures.append(f"{_describe(expectation.obj)}: {problem}")
    if failures:
        raise VerificationFailed(
            f"{len(failures)} write(s) were not visible in a consistent read (another writer?): "
            + "; ".join(failures[:10]), failures=failures)
    if level == "indexes":
        pending = [c for e in expectations for c in _index_checks(e, items.get(e.identity))
                   if isinstance(c.index, GlobalSecondaryIndex)]
        _poll(session, pending, deadline)
    return items


def _poll(session: SessionWrapper, pending: list[IndexCheck], deadline: float) -> None:
    delays = backoff(deadline, first=0.02, cap=1.0)
    while pending:
        pending = [check for check in pending if not _run_check(session, check)]
        if not pending:
            return
        delay = next(delays, None)
        if delay is None:
            failures = [check.describe() for check in pending]
            raise VerificationTimeout(
                f"{len(failures)} index entr(y/ies) not realized after {deadline}s: " + "; ".join(failures[:10]),
                failures=failures)
        session.retry.sleep(delay)
