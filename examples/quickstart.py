"""The used-by flow, end to end on the embedded local AWS (moto's server on 127.0.0.1).

Define models, bind, save, query a GSI, scan with a filter, read the table's stream from
trim_horizon, persist the stream token to a file, then resume from it and show that nothing repeats.
Run it with ``make demo`` (or ``python examples/quickstart.py``).
"""
from __future__ import annotations

import json
import pathlib
import sys
import tempfile

from bloop import BaseModel, Column, GlobalSecondaryIndex, Integer, String
from bloop.local import start_local


class Account(BaseModel):
    class Meta:
        stream = {"include": ["new", "old"]}

    id = Column(String, hash_key=True)
    email = Column(String)
    plan = Column(String, default="free")
    logins = Column(Integer, default=0)
    by_email = GlobalSecondaryIndex(projection="all", hash_key="email")


def drain(stream) -> list[dict]:
    """Every event available now; next(stream) returns None once the stream is caught up."""
    events = []
    while (event := next(stream)) is not None:
        events.append(event)
    return events


def key_only_insert(event: dict) -> bool:
    """moto's extra INSERT before a new item's real one: its image holds only the key (DynamoDB has none)."""
    return event["meta"]["event"]["type"] == "insert" and event["new"] is not None and not event["new"].email


def describe(event: dict) -> str:
    image = event["new"] or event["old"]
    note = "  <- moto's extra key-only INSERT (DynamoDB doesn't send it)" if key_only_insert(event) else ""
    return (f"  {event['meta']['event']['type']:<6} {event['key'].id:<6} "
            f"plan={getattr(image, 'plan', None)!s:<5} seq={event['meta']['sequence_number']}{note}")


def main(token_path: pathlib.Path) -> None:
    with start_local() as aws:
        engine = aws.engine()
        engine.bind(Account)
        print(f"bound {Account.__name__} on {aws.endpoint}")

        engine.save(Account(id="ada", email="ada@example.com", plan="pro"),
                    Account(id="bob", email="bob@example.com"),
                    Account(id="cyd", email="cyd@example.com", plan="pro"))

        ada = engine.query(Account.by_email, key=Account.email == "ada@example.com").one()
        print(f"query by email -> {ada}")
        pros = sorted(a.id for a in engine.scan(Account, filter=Account.plan == "pro"))
        print(f"scan plan == 'pro' -> {pros}")

        # On moto each new item shows up twice: a key-only INSERT, then the INSERT with its values (a moto
        # quirk for UpdateItem on a new item; real DynamoDB sends one INSERT); the output marks them. The
        # three saves ran concurrently, so their order in the stream may vary.
        stream = engine.stream(Account, "trim_horizon")
        first = drain(stream)
        print(f"first run: {len(first)} events")
        for event in first:
            print(describe(event))
        extra = sum(map(key_only_insert, first))
        if extra:
            print(f"  ({extra} of these are key-only INSERTs with blank columns: moto, the embedded AWS, writes "
                  "one before each new item's real INSERT; DynamoDB writes only the second)")
        token_path.write_text(json.dumps(stream.token))
        print(f"saved the stream token to {token_path}")

        bob = Account(id="bob")
        engine.load(bob)
        bob.plan = "pro"
        engine.save(bob)
        engine.delete(Account(id="cyd"))

        resumed = engine.stream(Account, json.loads(token_path.read_text()))
        second = drain(resumed)
        print(f"resumed run: {len(second)} events")
        for event in second:
            print(describe(event))
        seen = {e["meta"]["sequence_number"] for e in first}
        repeated = [e for e in second if e["meta"]["sequence_number"] in seen]
        types = [(e["meta"]["event"]["type"], e["key"].id) for e in second]
        assert not repeated, f"resumed stream repeated {repeated}"
        assert types == [("modify", "bob"), ("remove", "cyd")], types
        print("nothing repeated, nothing lost")


if __name__ == "__main__":
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(tempfile.gettempdir()) / "bloop.token.json"
    main(path)
