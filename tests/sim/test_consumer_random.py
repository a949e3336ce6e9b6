"""Randomized kill-and-resume runs: random writes, splits, faults, clock jumps and crashes, many seeds.

Each seed builds a simulated stream with random settings, then lives through a dozen process lives:
write a burst, maybe split shards, schedule faults, run until idle, a crash point or a crash inside a
service call, advance the clock (sometimes past iterator expiry, sometimes past retention), and resume
from the last saved token. At the end the oracle must find zero violations of I1-I5.
"""
import random

import pytest

from tests.sim import AFTER_FETCH, AFTER_HANDLE, AFTER_SAVE, BEFORE_SAVE, CrashPlan

from .test_consumer_kit import HOUR, MINUTE, Consumer

SEEDS = range(50)
CRASH_POINTS = (AFTER_FETCH, AFTER_HANDLE, BEFORE_SAVE, AFTER_SAVE)
SERVICE_FAULTS = (
    ("GetRecords", "ThrottlingException", {}),
    ("GetRecords", "LimitExceededException", {}),
    ("GetRecords", "InternalServerError", {"lost_reply": True}),
    ("GetRecords", "ExpiredIteratorException", {}),
    ("GetShardIterator", "ThrottlingException", {}),
    ("GetShardIterator", "InternalServerError", {"lost_reply": True}),
    ("DescribeStream", "LimitExceededException", {}),
    ("DescribeStream", "InternalServerError", {"lost_reply": True}),
)


def settings(rng):
    return {
        "shard_count": rng.randint(1, 4),
        "page_size": rng.choice((2, 5, 50, 1000)),
        "listing_order": rng.choice(("chronological", "shuffled")),
        "child_visibility_delay": rng.choice((0, 0, 2, 5)),
        "parent_close_delay": rng.choice((0, 1, 3)),
        "last_page_closes_shard": rng.random() < 0.5,
        "rollover_after": rng.choice((None, None, 4 * HOUR)),
        "sequence_numbers": rng.choice(("per_shard", "global")),
    }


def one_life(consumer, rng):
    sim = consumer.sim
    for _ in range(rng.randint(0, 25)):
        consumer.write(f"k{rng.randint(0, 11)}")
        if rng.random() < 0.06:
            sim.split(rng.choice(sim.open_shard_ids()), rng.choice((1, 2)))
        if rng.random() < 0.03:
            sim.inject_empty_pages(rng.choice(sim.open_shard_ids()), count=rng.randint(1, 3))
    for _ in range(rng.choice((0, 0, 1, 3))):
        operation, code, options = rng.choice(SERVICE_FAULTS)
        sim.faults.schedule(operation, code, after_calls=rng.randint(0, 6), times=rng.randint(1, 4), **options)
    if rng.random() < 0.15:
        operation = rng.choice(("GetRecords", "GetShardIterator", "DescribeStream"))
        sim.faults.crash(operation, after_calls=rng.randint(0, 8))
    crashes = CrashPlan()
    if rng.random() < 0.6:
        crashes.arm(rng.choice(CRASH_POINTS), on_hit=rng.randint(1, 15))
    consumer.session(crashes=crashes, max_events=rng.choice((None, 5, 20)), save_every=rng.choice((1, 1, 3)),
                     idle_limit=rng.randint(2, 8))
    sim.faults.clear()
    sim.clock.advance(rng.choice((1, 30, 5 * MINUTE, 16 * MINUTE, 3 * HOUR, 25 * HOUR if rng.random() < 0.1 else 60)))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_kill_and_resume_keeps_every_invariant(seed):
    rng = random.Random(seed)
    consumer = Consumer(seed=seed, **settings(rng))
    start = "trim_horizon"
    if rng.random() < 0.3:
        consumer.write_many(rng.randint(1, 10))
        start = "latest"
    start_index = len(consumer.sim.write_log)
    consumer.start(start)
    for _ in range(12):
        one_life(consumer, rng)
    consumer.session(idle_limit=240)  # a last life with time to find late children
    violations = consumer.violations(start_index=start_index)
    assert violations == [], f"seed {seed}: {violations}"
    consumer.close()
