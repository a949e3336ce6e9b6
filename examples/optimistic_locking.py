"""Optimistic locking on the embedded local AWS: two editors, one wins, the other reloads and retries.

docs/locking.rst shows this file in parts; tests/integ/test_examples.py runs it.
"""
from __future__ import annotations

from bloop import BaseModel, Column, ConstraintViolation, Integer, String, VersionConflict
from bloop.exceptions import InvalidBatch
from bloop.local import start_local


# --- model
class Page(BaseModel):
    id = Column(String, hash_key=True)
    body = Column(String)
    version = Column(Integer, version=True)  # at most one per model; Integer or Number; not a key
# --- end model


def main() -> None:
    with start_local() as aws:
        engine = aws.engine()
        engine.bind(Page)

        # --- save
        page = Page(id="home", body="Welcome")
        engine.save(page)               # a new object: writes version 1, only if no such item exists
        assert page.version == 1
        page.body = "Welcome!"
        engine.save(page)               # stored version must still be 1; writes 2 in the same request
        assert page.version == 2
        # --- end save
        print(f"saved {page}")

        # --- conflict
        alice, bob = Page(id="home"), Page(id="home")
        engine.load(alice, bob)         # both at version 2
        alice.body = "Hello from Alice"
        engine.save(alice)              # version 3
        bob.body = "Hello from Bob"
        try:
            engine.save(bob)            # expects version 2: stale
        except VersionConflict as error:
            print(f"conflict: {error}")
            assert bob.version == 2     # nothing was written, bob is unchanged
            engine.load(bob)            # reload...
            bob.body += " (and Bob)"    # ...reapply the change...
            engine.save(bob)            # ...and retry
        assert bob.version == 4
        # --- end conflict
        print(f"after the retry: {bob}")

        # --- conditions
        try:
            engine.save(bob, condition=Page.body.begins_with("Goodbye"))
        except VersionConflict:         # someone else changed the item
            raise
        except ConstraintViolation:     # the version was current: the condition itself failed
            print("condition failed: the body doesn't start with 'Goodbye'")
        with engine.transaction() as tx:
            tx.save(Page(id="about", body="About us"))
            tx.delete(bob)              # a stale item here would cancel the whole transaction
        # --- end conditions

        # --- batch
        try:
            with engine.batch() as batch:
                batch.save(Page(id="contact", body="Write to us"))
        except InvalidBatch as error:   # BatchWriteItem can't carry the version check
            print(f"batch refused: {error}")
        # --- end batch


if __name__ == "__main__":
    main()
