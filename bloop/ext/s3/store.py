"""The only module that calls S3: puts, gets, checks, touches, lists and deletes objects, and names S3's
errors as bloop exceptions (:class:`~bloop.ext.s3.S3Error` and subclasses).
"""
from __future__ import annotations

import datetime
import hashlib
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from ...session import error_code, translate
from ...util import chunked
from .column import S3Pointer
from .errors import MissingBucket, S3ContentMismatch, S3Error
from .planner import META_SUPERSEDED, Disposal, Upload

__all__ = ["S3Store", "DELETE_OBJECTS_CHUNK_SIZE"]

DELETE_OBJECTS_CHUNK_SIZE = 1000
UTC = datetime.timezone.utc


def _failure(error: ClientError | BotoCoreError, action: str, bucket: str, key: str | None = None) -> S3Error:
    """The S3Error for a failed call: bloop's one translator of botocore errors, plus where it happened."""
    if isinstance(error, ClientError) and error_code(error) == "NoSuchBucket":
        return MissingBucket(f"{action}: the bucket {bucket!r} does not exist; create it, or fix the S3Blob's "
                             "bucket=", bucket, key)
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    return S3Error(f"{translate(error, action)} ({where})", bucket, key)


def _is_not_found(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")


class S3Store:
    """An S3 client seen as the object store of S3-backed columns (retries follow the client's own Config)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def put(self, upload: Upload) -> None:
        try:
            self.client.put_object(Bucket=upload.bucket, Key=upload.key, Body=upload.body, Metadata=upload.metadata)
        except (ClientError, BotoCoreError) as error:
            raise _failure(error, "PutObject", upload.bucket, upload.key) from error

    def get(self, pointer: S3Pointer) -> bytes | None:
        """The object's content, or None when it does not exist; raises S3ContentMismatch if it isn't the pointer's."""
        try:
            body = self.client.get_object(Bucket=pointer.bucket, Key=pointer.key)["Body"].read()
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise _failure(error, "GetObject", pointer.bucket, pointer.key) from error
        except BotoCoreError as error:
            raise _failure(error, "GetObject", pointer.bucket, pointer.key) from error
        if len(body) != pointer.size or hashlib.sha256(body).hexdigest() != pointer.sha256:
            raise S3ContentMismatch(f"{pointer.url} holds {len(body)} bytes that do not match its pointer "
                                    f"({pointer.size} bytes, sha256 {pointer.sha256[:12]}...)", pointer.bucket,
                                    pointer.key)
        return body

    def exists(self, pointer: S3Pointer) -> bool:
        return self.metadata(pointer.bucket, pointer.key) is not None

    def metadata(self, bucket: str, key: str) -> dict | None:
        """The object's user metadata (HeadObject), or None when it does not exist."""
        try:
            return self.client.head_object(Bucket=bucket, Key=key).get("Metadata") or {}
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise _failure(error, "HeadObject", bucket, key) from error
        except BotoCoreError as error:
            raise _failure(error, "HeadObject", bucket, key) from error

    def delete(self, bucket: str, keys: list[str]) -> list[tuple[str, str]]:
        """Delete keys (1000 a call); returns (key, reason) for those S3 did not delete."""
        failed: list[tuple[str, str]] = []
        for chunk in chunked(sorted(set(keys)), DELETE_OBJECTS_CHUNK_SIZE):
            try:
                response = self.client.delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            except (ClientError, BotoCoreError) as error:
                failed.extend((key, str(error)) for key in chunk)
                continue
            failed.extend((e.get("Key", "?"), e.get("Code", "?")) for e in response.get("Errors") or ())
        return failed

    def touch(self, disposal: Disposal) -> None:
        """Copy the object onto itself: its LastModified becomes now, so the collector keeps it for min_age."""
        pointer = disposal.pointer
        metadata = dict(disposal.metadata)
        metadata[META_SUPERSEDED] = datetime.datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self.client.copy_object(Bucket=pointer.bucket, Key=pointer.key,
                                    CopySource={"Bucket": pointer.bucket, "Key": pointer.key},
                                    Metadata=metadata, MetadataDirective="REPLACE")
        except ClientError as error:
            if not _is_not_found(error):
                raise _failure(error, "CopyObject", pointer.bucket, pointer.key) from error
        except BotoCoreError as error:
            raise _failure(error, "CopyObject", pointer.bucket, pointer.key) from error

    def list(self, bucket: str, prefix: str) -> Iterator[dict]:
        """Every object under ``prefix`` (ListObjectsV2 pages)."""
        request = {"Bucket": bucket, "Prefix": prefix}
        while True:
            try:
                response = self.client.list_objects_v2(**request)
            except (ClientError, BotoCoreError) as error:
                raise _failure(error, "ListObjectsV2", bucket) from error
            yield from response.get("Contents") or ()
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                return
            request["ContinuationToken"] = token
