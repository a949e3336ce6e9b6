"""What a model needs from its table: the CreateTable request, and a comparison with DescribeTable. Pure."""
from __future__ import annotations

from typing import Any

from .models import STREAM_VIEWS, GlobalSecondaryIndex

__all__ = ["create_table_request", "compare_tables", "expected_stream_view"]


def _key_schema(hash_key: Any, range_key: Any) -> list[dict]:
    schema = [{"AttributeName": hash_key.dynamo_name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.dynamo_name, "KeyType": "RANGE"})
    return schema


def _projection(index: Any, table_keys: set) -> dict:
    mode = index.projection["mode"]
    if mode == "all":
        return {"ProjectionType": "ALL"}
    if mode == "keys":
        return {"ProjectionType": "KEYS_ONLY"}
    key_names = {c.dynamo_name for c in table_keys | index.keys}
    non_key = sorted(c.dynamo_name for c in index.projection["included"] if c.dynamo_name not in key_names)
    if not non_key:
        return {"ProjectionType": "KEYS_ONLY"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": non_key}


def expected_stream_view(model: Any) -> str | None:
    stream = model.Meta.stream
    if not stream:
        return None
    return STREAM_VIEWS[frozenset(stream["include"])]


def _on_demand(model: Any) -> bool:
    billing = model.Meta.billing
    return bool(billing) and billing["mode"] == "on_demand"


def create_table_request(table_name: str, model: Any) -> dict:
    meta = model.Meta
    attributes: dict[str, str] = {}
    for column in meta.keys | {k for index in meta.indexes for k in index.keys}:
        attributes[column.dynamo_name] = column.typedef.backing_type
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": _key_schema(meta.hash_key, meta.range_key),
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in sorted(attributes.items())],
    }
    on_demand = _on_demand(model)
    if on_demand:
        request["BillingMode"] = "PAY_PER_REQUEST"
    else:
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = {
            "ReadCapacityUnits": meta.read_units or 1, "WriteCapacityUnits": meta.write_units or 1}
    gsis, lsis = [], []
    for index in sorted(meta.indexes, key=lambda i: i.dynamo_name):
        entry: dict[str, Any] = {
            "IndexName": index.dynamo_name,
            "KeySchema": _key_schema(index.hash_key, index.range_key),
            "Projection": _projection(index, meta.keys),
        }
        if isinstance(index, GlobalSecondaryIndex):
            if not on_demand:
                entry["ProvisionedThroughput"] = {
                    "ReadCapacityUnits": index.read_units or 1, "WriteCapacityUnits": index.write_units or 1}
            gsis.append(entry)
        else:
            lsis.append(entry)
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    if lsis:
        request["LocalSecondaryIndexes"] = lsis
    view = expected_stream_view(model)
    if view:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    if meta.encryption and meta.encryption["enabled"]:
        request["SSESpecification"] = {"Enabled": True}
    return request


def compare_tables(model: Any, description: dict, ttl: dict | None = None, backups: dict | None = None) -> list[str]:
    """Ways the table falls short of the model (empty when it is a superset of what the model needs)."""
    meta = model.Meta
    problems = []
    attribute_types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}

    def check_keys(where: str, expected: list[dict], actual: list[dict]) -> None:
        if sorted(expected, key=str) != sorted(actual or [], key=str):
            problems.append(f"{where} key schema is {actual}, the model expects {expected}")
            return
        for entry in expected:
            column = meta.columns_by_dynamo_name[entry["AttributeName"]]
            found = attribute_types.get(entry["AttributeName"])
            if found != column.typedef.backing_type:
                problems.append(f"{where} key {entry['AttributeName']!r} has type {found}, "
                                f"the model expects {column.typedef.backing_type}")

    check_keys("table", _key_schema(meta.hash_key, meta.range_key), description.get("KeySchema", []))
    existing = {i["IndexName"]: i for i in description.get("GlobalSecondaryIndexes", []) or []}
    existing_lsis = {i["IndexName"]: i for i in description.get("LocalSecondaryIndexes", []) or []}
    for index in meta.indexes:
        kind = "GSI" if isinstance(index, GlobalSecondaryIndex) else "LSI"
        found = (existing if kind == "GSI" else existing_lsis).get(index.dynamo_name)
        if found is None:
            problems.append(f"{kind} {index.dynamo_name!r} is missing from the table")
            continue
        check_keys(f"{kind} {index.dynamo_name!r}", _key_schema(index.hash_key, index.range_key), found["KeySchema"])
        wanted = _projection(index, meta.keys)
        actual = found.get("Projection", {})
        actual_type = actual.get("ProjectionType")
        if actual_type == "ALL":
            continue
        if wanted["ProjectionType"] == "ALL":
            problems.append(f"{kind} {index.dynamo_name!r} projects {actual_type}, the model expects ALL")
        elif wanted["ProjectionType"] == "INCLUDE":
            missing = set(wanted["NonKeyAttributes"]) - set(actual.get("NonKeyAttributes", []))
            if missing:
                problems.append(f"{kind} {index.dynamo_name!r} does not project {sorted(missing)}")
    view = expected_stream_view(model)
    if view:
        spec = description.get("StreamSpecification") or {}
        if not spec.get("StreamEnabled") or spec.get("StreamViewType") != view:
            problems.append(f"the stream is {spec or 'disabled'}, the model expects {view}")
    if meta.ttl and ttl is not None:
        status = ttl.get("TimeToLiveStatus")
        name = meta.ttl["column"].dynamo_name
        if status not in ("ENABLED", "ENABLING") or ttl.get("AttributeName") != name:
            problems.append(f"TTL is {status} on {ttl.get('AttributeName')!r}, the model expects it on {name!r}")
    if meta.backups and backups is not None:
        status = (backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus")
        wanted_status = "ENABLED" if meta.backups["enabled"] else "DISABLED"
        if status != wanted_status:
            problems.append(f"point-in-time recovery is {status}, the model expects {wanted_status}")
    if meta.billing:
        mode = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
        wanted_mode = "PAY_PER_REQUEST" if _on_demand(model) else "PROVISIONED"
        if mode != wanted_mode:
            problems.append(f"billing mode is {mode}, the model expects {wanted_mode}")
    if meta.encryption:
        status = (description.get("SSEDescription") or {}).get("Status", "DISABLED")
        if meta.encryption["enabled"] and status not in ("ENABLED", "ENABLING"):
            problems.append(f"encryption is {status}, the model expects it enabled")
    mode = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    if mode == "PROVISIONED":
        throughput = description.get("ProvisionedThroughput") or {}
        for option, wire in (("read_units", "ReadCapacityUnits"), ("write_units", "WriteCapacityUnits")):
            wanted_units = getattr(meta, option)
            if wanted_units is not None and throughput.get(wire) != wanted_units:
                problems.append(f"{wire} is {throughput.get(wire)}, the model expects {wanted_units}")
    return problems


def table_status_problems(description: dict) -> list[str]:
    """Parts of the table that are not ACTIVE yet."""
    problems = []
    if description.get("TableStatus") != "ACTIVE":
        problems.append(f"table is {description.get('TableStatus')}")
    for index in description.get("GlobalSecondaryIndexes", []) or []:
        if index.get("IndexStatus", "ACTIVE") != "ACTIVE":
            problems.append(f"GSI {index['IndexName']!r} is {index.get('IndexStatus')}")
    return problems
