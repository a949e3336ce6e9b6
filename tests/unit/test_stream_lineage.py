"""Listing helpers: paging, CHILD_SHARDS with fallbacks, roots, leaves and lost lineages."""
import pytest

from bloop.exceptions import BloopException, InvalidStream
from bloop.stream.lineage import Listing, find_children, leaves, list_shards, orphan_roots, roots


def shard(shard_id, parent=None):
    found = {"ShardId": shard_id, "SequenceNumberRange": {"StartingSequenceNumber": "100"}}
    if parent:
        found["ParentShardId"] = parent
    return found


class PagedSession:
    """describe_stream_page over a fixed listing, two shards a page; optionally refusing ShardFilter."""

    def __init__(self, shards, refuse_filter=False, ignore_filter=False):
        self.shards, self.refuse_filter, self.ignore_filter = shards, refuse_filter, ignore_filter
        self.calls = []

    def describe_stream_page(self, stream_arn, exclusive_start_shard_id=None, shard_filter=None, limit=None):
        self.calls.append((exclusive_start_shard_id, shard_filter, limit))
        if shard_filter and self.refuse_filter:
            raise BloopException("DescribeStream failed with ValidationException: unknown ShardFilter")
        listed = self.shards
        if shard_filter and not self.ignore_filter:
            listed = [s for s in listed if s.get("ParentShardId") == shard_filter["ShardId"]]
        ids = [s["ShardId"] for s in listed]
        start = ids.index(exclusive_start_shard_id) + 1 if exclusive_start_shard_id else 0
        page = listed[start:start + 2]
        description = {"Shards": page, "StreamStatus": "ENABLED"}
        if start + 2 < len(listed):
            description["LastEvaluatedShardId"] = page[-1]["ShardId"]
        return description


TREE = [shard("c1", "p"), shard("p", "gone"), shard("c2", "p"), shard("g1", "c1"), shard("other")]


def test_list_shards_follows_every_page_with_the_maximum_limit():
    session = PagedSession(TREE)
    listing = list_shards(session, "arn")
    assert [s["ShardId"] for s in listing.shards] == ["c1", "p", "c2", "g1", "other"]
    assert [call[2] for call in session.calls] == [100, 100, 100]


@pytest.mark.parametrize("options", [{}, {"refuse_filter": True}, {"ignore_filter": True}],
                         ids=["filter", "filter-refused", "filter-ignored"])
def test_find_children_returns_only_real_children(options):
    children, status = find_children(PagedSession(TREE, **options), "arn", "p")
    assert [c["ShardId"] for c in children] == ["c1", "c2"] and status == "ENABLED"


def test_find_children_lets_a_missing_stream_through():
    class Gone(PagedSession):
        def describe_stream_page(self, *args, **kwargs):
            raise InvalidStream("gone")

    with pytest.raises(InvalidStream):
        find_children(Gone([]), "arn", "p")


def test_roots_and_leaves_ignore_listing_order():
    listing = Listing(TREE, "ENABLED")
    assert [s["ShardId"] for s in roots(listing)] == ["p", "other"]  # p's parent is no longer listed
    assert [s["ShardId"] for s in leaves(listing)] == ["c2", "g1", "other"]


def test_orphan_roots_are_lineages_neither_above_nor_below_the_frontier():
    listing = Listing(TREE + [shard("x1", "vanished"), shard("x2", "x1")], "ENABLED")
    assert [s["ShardId"] for s in orphan_roots(listing, ["c1", "c2", "other"])] == ["x1"]
    assert [s["ShardId"] for s in orphan_roots(listing, ["p"])] == ["other", "x1"]
    assert orphan_roots(listing, ["gone"]) == [shard("other"), shard("x1", "vanished")]  # p's parent is gone
