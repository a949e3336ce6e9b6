"""bloop: an object mapper for DynamoDB and DynamoDB Streams, API-compatible with bloop 3.x."""
from .conditions import Condition
from .engine import Engine
from .exceptions import (
    BloopException,
    ConstraintViolation,
    MissingObjects,
    RecordsExpired,
    ShardIteratorExpired,
    TableMismatch,
    TransactionCanceled,
    TransactionTokenExpired,
    VersionConflict,
)
from .models import BaseModel, Column, GlobalSecondaryIndex, LocalSecondaryIndex
from .search import QueryIterator, ScanIterator
from .signals import (
    before_create_table,
    model_bound,
    model_created,
    model_validated,
    object_deleted,
    object_loaded,
    object_modified,
    object_saved,
)
from .transactions import ReadTransaction, WriteTransaction
from .types import (
    UUID,
    Binary,
    Boolean,
    DateTime,
    DynamicList,
    DynamicMap,
    Integer,
    List,
    Map,
    Number,
    Set,
    String,
    Timestamp,
)
from .util import missing

__version__ = "3.2.0"

__all__ = [
    "BaseModel", "Column", "GlobalSecondaryIndex", "LocalSecondaryIndex", "Engine",
    "Binary", "Boolean", "DateTime", "DynamicList", "DynamicMap", "Integer", "List", "Map", "Number", "Set",
    "String", "Timestamp", "UUID",
    "BloopException", "ConstraintViolation", "MissingObjects", "RecordsExpired", "ShardIteratorExpired",
    "TableMismatch", "TransactionCanceled", "TransactionTokenExpired", "VersionConflict",
    "before_create_table", "model_bound", "model_created", "model_validated", "object_deleted", "object_loaded",
    "object_modified", "object_saved",
    "Condition", "QueryIterator", "ScanIterator", "Stream", "ReadTransaction", "WriteTransaction", "missing",
]


def __getattr__(name: str):
    # Stream imports lazily: most programs never stream, and the stream package is the heaviest part.
    if name == "Stream":
        from .stream import Stream
        return Stream
    raise AttributeError(f"module 'bloop' has no attribute {name!r}")
