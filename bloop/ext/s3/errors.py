"""The exceptions of S3-backed columns."""
from __future__ import annotations

from typing import Any, NamedTuple

from ...exceptions import BloopException, InvalidModel

__all__ = ["MissingValue", "InvalidS3Column", "S3NotConfigured", "InvalidS3Value", "S3Error", "MissingBucket",
           "S3ObjectMissing", "S3ContentMismatch"]


class MissingValue(NamedTuple):
    """An object's S3-backed column whose pointer names an object that does not exist."""

    obj: Any
    column: str  # the column's name
    pointer: Any  # the S3Pointer


class InvalidS3Column(InvalidModel):
    """An S3Blob is declared or used in a way that can't work (no bucket, a key, in an index...)."""


class S3NotConfigured(BloopException, ValueError):
    """A model with S3-backed columns is used with an engine that has no S3 client (``Engine(s3=...)``)."""


class InvalidS3Value(BloopException, TypeError):
    """A value can't be stored in an S3-backed column (wrong type, ADD/DELETE, an unfetched pointer...)."""


class S3Error(BloopException):
    """An S3 call failed; ``bucket`` and ``key`` say where."""

    def __init__(self, message: str, bucket: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key


class MissingBucket(S3Error):
    """The bucket of an S3-backed column does not exist; raised before the item is written."""


class S3ObjectMissing(S3Error):
    """Items point at objects that are gone; ``objects`` lists :class:`MissingValue` (obj, column name, pointer)."""

    def __init__(self, message: str, objects: list[MissingValue] | None = None) -> None:
        first = objects[0].pointer if objects else None
        super().__init__(message, getattr(first, "bucket", None), getattr(first, "key", None))
        self.objects = list(objects or [])


class S3ContentMismatch(S3Error):
    """An object's content does not match the size and SHA-256 recorded in its pointer."""


