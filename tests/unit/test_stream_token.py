"""Token validation: every malformed or hostile token is refused with a named error, in linear time."""
import json

import pytest

from bloop.exceptions import InvalidPosition, InvalidStream
from bloop.stream.token import MAX_TOKEN_SHARDS, parse_token

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000"
SHARD = "shardId-00000001767225600000-0741c7a8"
CHILD = "shardId-00000001767225600000-7311d8a3"


def token(**changes):
    position = {"shard_id": SHARD, "iterator_type": "after_sequence", "sequence_number": "4100000000000000000001"}
    base = {"stream_arn": ARN, "active": [SHARD], "shards": [position]}
    base.update(changes)
    return base


def parse(value):
    return parse_token(value, expected_arn=ARN, model_name="Order")


def test_a_valid_token_gives_its_frontier():
    parsed = parse(token())
    assert parsed.stream_arn == ARN
    (position,) = parsed.frontier
    assert (position.shard_id, position.iterator_type, position.sequence_number) == (
        SHARD, "after_sequence", "4100000000000000000001")


def test_json_text_is_accepted():
    assert parse(json.dumps(token())).frontier[0].shard_id == SHARD


def test_bloop_3_tokens_are_accepted():
    bloop_token = {"stream_arn": ARN, "active": [SHARD], "shards": [{"shard_id": SHARD}]}  # no iterator_type
    assert parse(bloop_token).frontier[0].iterator_type == "trim_horizon"
    latest = {"stream_arn": ARN, "active": [SHARD], "shards": [{"shard_id": SHARD, "iterator_type": "latest"}]}
    assert parse(latest).frontier[0].iterator_type == "latest"


def test_children_listed_active_beside_their_parent_are_dropped():
    bloop_b2 = token(active=[CHILD, SHARD], shards=[
        {"shard_id": SHARD, "iterator_type": "after_sequence", "sequence_number": "12"},
        {"shard_id": CHILD, "parent": SHARD, "iterator_type": "trim_horizon"},
    ])
    assert [p.shard_id for p in parse(bloop_b2).frontier] == [SHARD]


def test_a_foreign_stream_names_both_streams():
    other = ARN.replace("Orders", "Invoices")
    with pytest.raises(InvalidStream) as raised:
        parse(token(stream_arn=other))
    assert other in str(raised.value) and ARN in str(raised.value) and "Order" in str(raised.value)


@pytest.mark.parametrize("bad, message", [
    ("not json", "not valid JSON"),
    ([], "expected a dict"),
    ({"active": [], "shards": []}, "missing 'stream_arn'"),
    (token(active="x"), "active must be a list"),
    (token(shards={}), "shards must be a list"),
    (token(stream_arn=7), "stream_arn must be a string"),
    (token(shards=[7]), r"shards\[0\] must be an object"),
    (token(shards=[{"shard_id": ""}]), r"shards\[0\].shard_id"),
    (token(shards=[{"shard_id": "x" * 66}]), r"shards\[0\].shard_id"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "AT_TIMESTAMP"}]), "iterator_type must be one of"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "after_sequence"}]), "no sequence_number"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "at_sequence", "sequence_number": "12a"}]), "decimal string"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "at_sequence", "sequence_number": 12}]), "decimal string"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "at_sequence", "sequence_number": "1" * 41}]), "1-40 digits"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "at_sequence", "sequence_number": "١٢"}]), "decimal string"),
    (token(shards=[{"shard_id": SHARD, "iterator_type": "latest", "sequence_number": "12"}]), "takes no sequence"),
    (token(shards=[{"shard_id": SHARD, "skip_before": "soon"}]), "skip_before"),
    (token(shards=[{"shard_id": SHARD, "skip_before": float("nan")}]), "skip_before"),
    (token(shards=[{"shard_id": SHARD, "finished": "yes"}]), "finished must be"),
    (token(shards=[{"shard_id": SHARD, "from_start": True}]), "from_start"),
    (token(shards=[{"shard_id": SHARD}, {"shard_id": SHARD}]), "listed twice"),
    (token(active=[CHILD]), "not described"),
    (token(active=[SHARD, SHARD]), "listed twice"),
    (token(active=[SHARD], shards=[{"shard_id": SHARD, "parent": SHARD}]), "cycle"),
    (token(active=[SHARD], shards=[{"shard_id": SHARD, "parent": CHILD}, {"shard_id": CHILD, "parent": SHARD}]),
     "cycle"),
    (token(shards=[{"shard_id": SHARD, "parent": 5}]), "parent"),
])
def test_malformed_tokens_say_what_is_wrong(bad, message):
    with pytest.raises(InvalidPosition, match=message):
        parse(bad)


def test_huge_tokens_are_refused_by_size_before_anything_else():
    shards = [{"shard_id": f"shardId-{i:020d}"} for i in range(MAX_TOKEN_SHARDS + 1)]
    with pytest.raises(InvalidPosition, match="at most"):
        parse(token(shards=shards, active=[]))
    with pytest.raises(InvalidPosition, match="at most"):
        parse(token(active=["x"] * (MAX_TOKEN_SHARDS + 1)))


def test_a_long_parent_chain_and_a_long_cycle_are_checked_in_linear_time():
    count = MAX_TOKEN_SHARDS
    ids = [f"shardId-{i:020d}" for i in range(count)]
    chain = [{"shard_id": ids[i], "parent": ids[i - 1] if i else None} for i in range(count)]
    parsed = parse(token(shards=chain, active=ids))
    assert [p.shard_id for p in parsed.frontier] == [ids[0]]  # every other active shard descends from it
    cycle = [{"shard_id": ids[i], "parent": ids[i - 1]} for i in range(count)]  # ids[0]'s parent is the last
    with pytest.raises(InvalidPosition, match="cycle"):
        parse(token(shards=cycle, active=[ids[5]]))


def test_unknown_extra_keys_are_ignored():
    extra = token(version=2)
    extra["shards"][0]["note"] = "ours"
    assert parse(extra).frontier[0].shard_id == SHARD
