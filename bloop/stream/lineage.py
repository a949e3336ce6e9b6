"""Finding shards: DescribeStream pages, children of a finished shard, and where lineages start.

DescribeStream is eventually consistent and not chronological: a closed shard's children may show up
some calls later, and children may be listed before their parent. So nothing here trusts listing order,
one empty answer never ends a lineage (the coordinator asks again later), and a parent that is no
longer listed counts as finished (its records were trimmed away).
"""
from __future__ import annotations

from typing import Any, Iterable

from ..exceptions import BloopException, InvalidStream, RetryLimitExceeded

__all__ = ["Listing", "list_shards", "find_children", "roots", "leaves", "orphan_roots"]

#: the most DescribeStream returns per page
PAGE_LIMIT = 100


class Listing:
    """The shards of one full DescribeStream walk, and the stream's status at the time."""

    def __init__(self, shards: list[dict], status: str) -> None:
        self.shards = shards
        self.status = status
        self.parent_of: dict[str, str | None] = {s["ShardId"]: s.get("ParentShardId") for s in shards}

    def children_by_parent(self) -> dict[str, list[dict]]:
        found: dict[str, list[dict]] = {}
        for shard in self.shards:
            parent = shard.get("ParentShardId")
            if parent is not None:
                found.setdefault(parent, []).append(shard)
        return found


def list_shards(session: Any, stream_arn: str) -> Listing:
    """Every listed shard, following LastEvaluatedShardId page by page."""
    shards: list[dict] = []
    start = None
    while True:
        page = session.describe_stream_page(stream_arn, exclusive_start_shard_id=start, limit=PAGE_LIMIT)
        shards.extend(page.get("Shards") or [])
        start = page.get("LastEvaluatedShardId")
        if not start:
            return Listing(shards, page.get("StreamStatus", "ENABLED"))


def find_children(session: Any, stream_arn: str, parent_id: str) -> tuple[list[dict], str]:
    """The listed children of ``parent_id`` and the stream's status.

    Uses ``ShardFilter`` CHILD_SHARDS; a service that refuses the filter gets a full listing instead,
    and one that ignores it (moto) is filtered here, so only real children come back.
    """
    shard_filter = {"Type": "CHILD_SHARDS", "ShardId": parent_id}
    children: list[dict] = []
    start = None
    try:
        while True:
            page = session.describe_stream_page(stream_arn, exclusive_start_shard_id=start,
                                                shard_filter=shard_filter, limit=PAGE_LIMIT)
            children.extend(s for s in page.get("Shards") or [] if s.get("ParentShardId") == parent_id)
            start = page.get("LastEvaluatedShardId")
            if not start:
                return children, page.get("StreamStatus", "ENABLED")
    except (InvalidStream, RetryLimitExceeded):
        raise
    except BloopException:
        pass  # an endpoint or botocore that doesn't know ShardFilter: list everything instead
    listing = list_shards(session, stream_arn)
    return listing.children_by_parent().get(parent_id, []), listing.status


def roots(listing: Listing) -> list[dict]:
    """Shards whose parent is not listed: where the oldest retained records are."""
    return [s for s in listing.shards if listing.parent_of[s["ShardId"]] not in listing.parent_of]


def leaves(listing: Listing) -> list[dict]:
    """Shards no listed shard names as parent: the newest of each lineage."""
    parents = set(listing.parent_of.values())
    return [s for s in listing.shards if s["ShardId"] not in parents]


def orphan_roots(listing: Listing, frontier: Iterable[str]) -> list[dict]:
    """The oldest listed shards of lineages the frontier has lost track of.

    When a shard being read vanished (its records were trimmed away, say after a day offline), its
    children may have vanished too. Every listed shard that is neither an ancestor nor a descendant of
    a frontier shard then belongs to such a lineage (or is new); the topmost of them are where reading
    resumes.
    """
    frontier = set(frontier)
    parent_of = listing.parent_of
    ancestors: set[str] = set()
    for shard_id in frontier:
        parent = parent_of.get(shard_id)
        while parent is not None and parent in parent_of and parent not in ancestors:
            ancestors.add(parent)
            parent = parent_of[parent]
    below_frontier: dict[str, bool] = {}

    def descends_from_frontier(shard_id: str) -> bool:
        chain = []
        current: str | None = shard_id
        answer = False
        while current is not None:
            if current in below_frontier:
                answer = below_frontier[current]
                break
            parent = parent_of.get(current)
            if parent in frontier:
                answer = True
                chain.append(current)
                break
            chain.append(current)
            if parent not in parent_of or parent in chain:
                break
            current = parent
        for link in chain:
            below_frontier[link] = answer
        return answer

    unrelated = {s["ShardId"] for s in listing.shards
                 if s["ShardId"] not in frontier and s["ShardId"] not in ancestors
                 and not descends_from_frontier(s["ShardId"])}
    return [s for s in listing.shards if s["ShardId"] in unrelated and parent_of[s["ShardId"]] not in unrelated]
