"""Stream tokens: checked completely before any AWS call, so a bad token never moves a stream.

A token is the JSON dict ``stream.token`` returns (bloop 3.x's shape, which is accepted as well)::

    {"stream_arn": "arn:aws:dynamodb:...:table/T/stream/2026-01-01T00:00:00.000",
     "active": ["shardId-1", ...],
     "shards": [{"shard_id": "shardId-1", "parent": "shardId-0",
                 "iterator_type": "after_sequence", "sequence_number": "4100000000000000000001"}, ...]}

Our own tokens list only the shards still being read (finished shards are pruned, which keeps the
token small) and may carry three extra keys per shard: ``skip_before`` (epoch seconds; records older
than that are skipped, what is left of a ``move_to(datetime)``), ``finished`` (every record was read;
only the shard's children remain to be found) and ``from_start`` (the at_sequence position is the
shard's StartingSequenceNumber: if the service refuses it, the shard is read from trim_horizon).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..exceptions import InvalidPosition, InvalidStream

__all__ = ["ITERATOR_TYPES", "MAX_TOKEN_SHARDS", "ShardPosition", "ParsedToken", "parse_token"]

ITERATOR_TYPES = ("trim_horizon", "latest", "at_sequence", "after_sequence")
EXACT_TYPES = ("at_sequence", "after_sequence")
#: far more than a stream's live shards (DynamoDB tables rarely pass a few thousand), far less than hostile
MAX_TOKEN_SHARDS = 10_000
MAX_SHARD_ID_LENGTH = 65  # AWS: ShardId is 28-65 characters
MAX_SEQUENCE_DIGITS = 40  # AWS: SequenceNumber is 21-40 digits
MAX_ARN_LENGTH = 1024


@dataclass(frozen=True)
class ShardPosition:
    """One shard of a token: where reading resumes."""

    shard_id: str
    parent: str | None = None
    iterator_type: str = "trim_horizon"
    sequence_number: str | None = None
    skip_before: float | None = None
    finished: bool = False
    from_start: bool = False


@dataclass(frozen=True)
class ParsedToken:
    """A validated token: ``frontier`` are the shards to read, none an ancestor of another."""

    stream_arn: str
    frontier: tuple[ShardPosition, ...]


def _bad(message: str) -> InvalidPosition:
    return InvalidPosition(f"invalid stream token: {message}")


def _shard_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_SHARD_ID_LENGTH or not value.isprintable():
        raise _bad(f"{where} must be a shard id (a string of 1-{MAX_SHARD_ID_LENGTH} printable characters), "
                   f"got {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _sequence_number(value: Any, where: str) -> str:
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= MAX_SEQUENCE_DIGITS):
        raise _bad(f"{where} must be a decimal string of 1-{MAX_SEQUENCE_DIGITS} digits, got {_short(value)}")
    return value


def _parse_shard(entry: Any, index: int) -> ShardPosition:
    where = f"shards[{index}]"
    if not isinstance(entry, Mapping):
        raise _bad(f"{where} must be an object, got {_short(entry)}")
    shard_id = _shard_id(entry.get("shard_id"), f"{where}.shard_id")
    parent = entry.get("parent")
    if parent is not None:
        parent = _shard_id(parent, f"{where}.parent")
    iterator_type = entry.get("iterator_type")
    if iterator_type is None:
        iterator_type = "trim_horizon"  # bloop 3.x omits it for a shard that was never positioned
    if iterator_type not in ITERATOR_TYPES:
        raise _bad(f"{where}.iterator_type must be one of {', '.join(ITERATOR_TYPES)}, got {_short(iterator_type)}")
    sequence_number = entry.get("sequence_number")
    if iterator_type in EXACT_TYPES:
        if sequence_number is None:
            raise _bad(f"{where} has iterator_type {iterator_type!r} but no sequence_number")
        sequence_number = _sequence_number(sequence_number, f"{where}.sequence_number")
    elif sequence_number is not None:
        raise _bad(f"{where} has iterator_type {iterator_type!r}, which takes no sequence_number")
    skip_before = entry.get("skip_before")
    if skip_before is not None:
        if isinstance(skip_before, bool) or not isinstance(skip_before, (int, float)) or not math.isfinite(skip_before):
            raise _bad(f"{where}.skip_before must be a number of epoch seconds, got {_short(skip_before)}")
        skip_before = float(skip_before)
    flags = {}
    for flag in ("finished", "from_start"):
        flags[flag] = entry.get(flag, False)
        if not isinstance(flags[flag], bool):
            raise _bad(f"{where}.{flag} must be true or false, got {_short(flags[flag])}")
    if flags["from_start"] and iterator_type != "at_sequence":
        raise _bad(f"{where}.from_start is only meaningful with iterator_type 'at_sequence'")
    return ShardPosition(shard_id, parent, iterator_type, sequence_number, skip_before, **flags)


def _check_acyclic(parents: dict[str, str | None]) -> None:
    """Parent links must form a forest; one walk per shard, each shard settled once (linear time)."""
    settled: set[str] = set()
    for start in parents:
        path: list[str] = []
        on_path: set[str] = set()
        shard_id: str | None = start
        while shard_id is not None and shard_id in parents and shard_id not in settled:
            if shard_id in on_path:
                cycle = path[path.index(shard_id):] + [shard_id]
                raise _bad(f"shard parents form a cycle: {' -> '.join(cycle[:6])}{' ...' if len(cycle) > 6 else ''}")
            path.append(shard_id)
            on_path.add(shard_id)
            shard_id = parents[shard_id]
        settled.update(path)


def _frontier(shards: dict[str, ShardPosition], active: list[str]) -> tuple[ShardPosition, ...]:
    """The active shards that no other active shard is an ancestor of.

    bloop 3.x tokens can list a closed parent together with its children as active (bloop bug B2);
    the children are found again once the parent is finished, so they are dropped here.
    """
    active_set = set(active)
    below_active: dict[str, bool] = {}  # shard id -> has an active ancestor (memo: linear overall)

    def has_active_ancestor(shard_id: str) -> bool:
        chain = []
        parent = shards[shard_id].parent
        while parent is not None and parent in shards and parent not in below_active and parent not in active_set:
            chain.append(parent)
            parent = shards[parent].parent
        if parent is None or parent not in shards:
            answer = False
        elif parent in active_set:
            answer = True
        else:
            answer = below_active[parent]
        for link in chain:
            below_active[link] = answer
        return answer

    return tuple(shards[shard_id] for shard_id in active if not has_active_ancestor(shard_id))


def parse_token(token: Any, *, expected_arn: str, model_name: str) -> ParsedToken:
    """Validate ``token`` (a dict, or its JSON text) without any AWS call.

    Raises InvalidPosition naming what is malformed, or InvalidStream when the token belongs to a stream
    other than ``expected_arn`` (the stream this engine bound for the model).
    """
    if isinstance(token, (str, bytes)):
        try:
            token = json.loads(token)
        except ValueError as error:
            raise _bad(f"not valid JSON ({error})") from None
    if not isinstance(token, Mapping):
        raise _bad(f"expected a dict, got {type(token).__name__}")
    for key in ("stream_arn", "active", "shards"):
        if key not in token:
            raise _bad(f"missing {key!r}")
    stream_arn, active, entries = token["stream_arn"], token["active"], token["shards"]
    if not isinstance(stream_arn, str) or not 1 <= len(stream_arn) <= MAX_ARN_LENGTH:
        raise _bad(f"stream_arn must be a string of 1-{MAX_ARN_LENGTH} characters, got {_short(stream_arn)}")
    if not isinstance(entries, list):
        raise _bad(f"shards must be a list, got {type(entries).__name__}")
    if not isinstance(active, list):
        raise _bad(f"active must be a list, got {type(active).__name__}")
    if len(entries) > MAX_TOKEN_SHARDS or len(active) > MAX_TOKEN_SHARDS:
        raise _bad(f"it lists {max(len(entries), len(active))} shards; at most {MAX_TOKEN_SHARDS} are accepted")
    shards: dict[str, ShardPosition] = {}
    for index, entry in enumerate(entries):
        position = _parse_shard(entry, index)
        if position.shard_id in shards:
            raise _bad(f"shard {position.shard_id!r} is listed twice")
        shards[position.shard_id] = position
    seen_active: set[str] = set()
    for index, shard_id in enumerate(active):
        _shard_id(shard_id, f"active[{index}]")
        if shard_id not in shards:
            raise _bad(f"active shard {shard_id!r} is not described in 'shards'")
        if shard_id in seen_active:
            raise _bad(f"active shard {shard_id!r} is listed twice")
        seen_active.add(shard_id)
    _check_acyclic({shard_id: position.parent for shard_id, position in shards.items()})
    if stream_arn != expected_arn:
        raise InvalidStream(
            f"this token belongs to stream {stream_arn}, but {model_name} streams {expected_arn} on this engine; "
            "tokens can't move between streams (a re-enabled stream is a new stream): move_to('trim_horizon') "
            "or move_to('latest') to start on this one")
    return ParsedToken(stream_arn, _frontier(shards, list(active)))
