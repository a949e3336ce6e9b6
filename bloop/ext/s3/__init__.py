"""Large attributes in S3: columns whose values live in S3 objects, with a pointer in the item.

``Column(S3Blob(Binary, bucket="docs"))`` holds bytes (``S3Blob(String, ...)`` holds text). In Python the
attribute is the value itself. In the item it is either the value (when its encoded size is at most
``inline_threshold`` bytes) or a pointer map ``{"bucket", "key", "size", "sha256"}``.

The package, one concept a module:

* :mod:`~bloop.ext.s3.column`: the column type :class:`S3Blob`, :class:`S3Pointer` and the model checks;
* :mod:`~bloop.ext.s3.planner`: what a write uploads, stores and displaces, as data (pure);
* :mod:`~bloop.ext.s3.store`: the only module that calls S3;
* :mod:`~bloop.ext.s3.hook`: :class:`S3Columns`, the engine extension that runs the plans and fetches
  values after loads (``Engine(extensions=[S3Columns(client)])``, or ``Engine(s3=client)``);
* :mod:`~bloop.ext.s3.collector`: :func:`collect_garbage`, which deletes what no item references.

Values are fetched eagerly when objects are loaded (load, query, scan, read transactions, stream
images), concurrently on the engine's thread pool; there is no lazy mode. docs/s3.rst states the
guarantees and the failure cases.
"""
from __future__ import annotations

from .collector import GarbageReport, collect_garbage
from .column import DEFAULT_INLINE_THRESHOLD, DEFAULT_RETENTION, S3Blob, S3Pointer, s3_columns, validate_model
from .errors import (
    InvalidS3Column,
    InvalidS3Value,
    MissingBucket,
    MissingValue,
    S3ContentMismatch,
    S3Error,
    S3NotConfigured,
    S3ObjectMissing,
)
from .hook import S3Columns

__all__ = [
    "S3Blob", "S3Pointer", "S3Columns", "collect_garbage", "GarbageReport", "s3_columns", "validate_model",
    "InvalidS3Column", "S3NotConfigured", "InvalidS3Value", "S3Error", "MissingBucket", "S3ObjectMissing",
    "S3ContentMismatch", "MissingValue", "DEFAULT_INLINE_THRESHOLD", "DEFAULT_RETENTION",
]
