"""Where CloudTrail files come from: local files and folders, an S3 bucket in CloudTrail's layout, and
SQS notifications of new objects. This module lists and reads; it never parses.

A source yields `WorkItem`s: picklable descriptions of one file or object (and, for append-only JSON
Lines files, the byte offset to resume from) that a worker process can read on its own. Whether an item
was already processed is the checkpoint's business (`checkpoint.py`); the pipeline asks it.

S3 layout: `[<prefix>/]AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`. With a
date range the listing walks only the day folders of the range (accounts and regions are discovered with
delimiter listings), so an org trail with years of history is not listed whole for one day of work.
"""

from __future__ import annotations

import importlib
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote_plus, urlparse

import orjson

from cloudwarden.errors import AwsError, ConfigError, InputError, SourceUnavailable


def _inflate_module() -> ModuleType:
    """ISA-L's inflate when installed: zlib's API (max_length, unconsumed_tail, unused_data, eof), about 3x
    faster on CloudTrail gzip; otherwise the standard zlib, which gives the same results more slowly."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:  # pragma: no cover - isal is a dependency
        return zlib


_inflate = _inflate_module()
_INFLATE_ERRORS: tuple[type[BaseException], ...] = tuple({zlib.error, _inflate.error})

DEFAULT_MAX_BYTES = 512 << 20  # decompressed size above which a file is set aside (bounds memory per worker)
SUFFIXES = (".json.gz", ".json", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".csv", ".csv.gz", ".gz")
APPENDABLE = (".jsonl", ".ndjson")  # plain text files that grow: read from the last offset
LAYOUT = re.compile(
    r"(?:^|/)AWSLogs/(?:(?P<org>o-[a-z0-9]+)/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/[^/]+$"
)
_SKIP_PARTS = ("CloudTrail-Digest", "CloudTrail-Insight")
_REGION_PREFIX = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?\d{12}/CloudTrail/[a-z0-9-]+/$")
_ACCOUNT_PREFIX = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?\d{12}/(?P<rest>(?:CloudTrail/)?)$")
_ORG_PREFIX = re.compile(r"AWSLogs/o-[a-z0-9]+/$")


@dataclass(frozen=True, slots=True)
class WorkItem:
    source: str  # checkpoint namespace: "dir:/abs/path" or "s3://bucket/prefix"
    key: str  # identity inside the source: a path or an S3 key
    etag: str  # the version: S3 ETag, or "size:mtime_ns" (whole files), or "dev:inode" (appendable files)
    size: int
    bucket: str = ""  # S3 objects
    endpoint_url: str = ""
    region_name: str = ""
    start: int = 0  # byte offset to resume from (appendable files)
    appendable: bool = False
    account: str = ""  # from the AWSLogs layout when the key follows it
    region: str = ""
    day: date | None = None

    @property
    def csv(self) -> bool:
        return self.key.endswith((".csv", ".csv.gz"))


def layout_of(key: str) -> tuple[str, str, date | None]:
    """(account, region, day) from a key in CloudTrail's layout, empty when the key does not follow it."""
    match = LAYOUT.search(key)
    if not match:
        return "", "", None
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        day = None
    return match["account"], match["region"], day


_STAMP = re.compile(r"_(\d{8}T\d{4}Z)_")


def time_order(items: list[WorkItem]) -> list[WorkItem]:
    """Items in (approximate) event-time order across accounts and regions: by day folder, then the
    delivery timestamp CloudTrail puts in file names, then key. Correlation windows and alert grouping
    expect events roughly in time order; a path sort would replay each region's whole history in turn."""

    def key(item: WorkItem) -> tuple[date, str, str]:
        stamp = _STAMP.search(item.key.rsplit("/", 1)[-1])
        return (item.day or date.min, stamp.group(1) if stamp else "", item.key)

    return sorted(items, key=key)


def in_range(day: date | None, since: date | None, until: date | None) -> bool:
    if day is None:
        return True  # unknown: filter record by record instead
    return (since is None or day >= since) and (until is None or day <= until)


def wanted(name: str) -> bool:
    """A file or object worth reading: a known suffix, or no extension at all (Kinesis Data Firehose names its
    S3 objects `<stream>-<n>-<time>-<uuid>` unless compression or an extension is configured); the content
    decides the format either way. Digest and Insight files, hidden files and folder markers are skipped."""
    base = name.rsplit("/", 1)[-1]
    if not base or base.startswith(".") or any(part in name for part in _SKIP_PARTS):
        return False
    return name.endswith(SUFFIXES) or "." not in base


# ---------------------------------------------------------------------------------------------- reading
def decompress(data: bytes, where: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Gunzip when the content is gzip (by magic, not name); bounded; InputError on truncation or corruption."""
    if data[:2] != b"\x1f\x8b":
        if len(data) > max_bytes:
            raise InputError(f"file larger than the {max_bytes} byte limit", source=where)
        return data
    out: list[bytes] = []
    total = 0
    view = data
    while view:
        d = _inflate.decompressobj(wbits=31)
        try:
            chunk = d.decompress(view, max_bytes - total + 1)
            while d.unconsumed_tail and total + len(chunk) <= max_bytes:
                more = d.decompress(d.unconsumed_tail, max_bytes - total - len(chunk) + 1)
                if not more:
                    break
                chunk += more
        except _INFLATE_ERRORS as exc:
            raise InputError(f"corrupt gzip: {exc}", source=where) from exc
        total += len(chunk)
        if total > max_bytes:
            raise InputError(f"decompressed size exceeds the {max_bytes} byte limit", source=where)
        out.append(chunk)
        if not d.eof:
            raise InputError(f"truncated gzip (ended after {total} decompressed bytes)", source=where)
        view = d.unused_data  # concatenated gzip members are legal
        if view[:2] != b"\x1f\x8b":
            break
    return out[0] if len(out) == 1 else b"".join(out)


_s3_clients: dict[tuple[str, str], Any] = {}


def s3_client(endpoint_url: str = "", region_name: str = "") -> Any:
    """One boto3 S3 client per process and endpoint (workers create their own)."""
    key = (endpoint_url, region_name)
    client = _s3_clients.get(key)
    if client is None:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region_name or None,
            config=Config(retries={"mode": "adaptive", "max_attempts": 8}),
        )
        _s3_clients[key] = client
    return client


def read_item(item: WorkItem, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, int]:
    """The item's content (decompressed) and the offset reached (appendable files; else the size)."""
    where = f"s3://{item.bucket}/{item.key}" if item.bucket else item.key
    if item.bucket:
        try:
            body = s3_client(item.endpoint_url, item.region_name).get_object(Bucket=item.bucket, Key=item.key)["Body"]
            data = body.read(max_bytes + 1)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404"):
                raise InputError("object vanished before it could be read", source=where) from exc
            raise SourceUnavailable(f"cannot read object: {exc}", source=where) from exc
        if len(data) > max_bytes:
            raise InputError(f"object larger than the {max_bytes} byte limit", source=where)
        return decompress(data, where, max_bytes), len(data)
    try:
        with open(item.key, "rb") as fh:
            if item.appendable:
                fh.seek(item.start)
                data = fh.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise InputError(f"more than {max_bytes} new bytes; split the file", source=where)
                cut = data.rfind(b"\n") + 1  # an unfinished last line waits for the next pass
                return data[:cut], item.start + cut
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise InputError("file vanished before it could be read", source=where) from exc
    except OSError as exc:
        raise SourceUnavailable(f"cannot read file: {exc.strerror or exc}", source=where) from exc
    if len(data) > max_bytes:
        raise InputError(f"file larger than the {max_bytes} byte limit", source=where)
    return decompress(data, where, max_bytes), len(data)


# ---------------------------------------------------------------------------------------------- local
class LocalSource:
    """A file or a folder (walked recursively) of CloudTrail files."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).resolve()
        if not self.path.exists():
            raise ConfigError("no such file or folder", source=str(path))
        self.id = f"dir:{self.path}"

    def list(self, since: date | None = None, until: date | None = None) -> list[WorkItem]:
        files = [self.path] if self.path.is_file() else sorted(self._walk(self.path))
        items = []
        for path in files:
            name = str(path)
            account, region, day = layout_of(name)
            if not in_range(day, since, until):
                continue
            try:
                st = path.stat()
            except OSError:
                continue  # vanished since the walk
            appendable = name.endswith(APPENDABLE)
            etag = f"{st.st_dev}:{st.st_ino}" if appendable else f"{st.st_size}:{st.st_mtime_ns}"
            items.append(
                WorkItem(
                    source=self.id, key=name, etag=etag, size=st.st_size, appendable=appendable,
                    account=account, region=region, day=day,
                )
            )
        return time_order(items)

    @staticmethod
    def _walk(root: Path) -> Iterator[Path]:
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_PARTS and not d.startswith("."))
            for name in names:
                if wanted(name):
                    yield Path(folder) / name


# ---------------------------------------------------------------------------------------------- S3
def _days(since: date, until: date) -> Iterator[date]:
    day = since
    while day <= until:
        yield day
        day += timedelta(days=1)


class S3Source:
    """`s3://bucket[/prefix]` holding CloudTrail's AWSLogs layout (single account or organization trail)."""

    def __init__(self, url: str, endpoint_url: str = "", region_name: str = "") -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ConfigError("expected s3://bucket[/prefix]", source=url)
        self.bucket = parsed.netloc
        self.prefix = parsed.path.lstrip("/")
        self.endpoint_url = endpoint_url
        self.region_name = region_name
        self.id = f"s3://{self.bucket}/{self.prefix}"

    @property
    def client(self) -> Any:
        return s3_client(self.endpoint_url, self.region_name)

    def _prefixes(self, prefix: str) -> list[str]:
        out: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/"
            ):
                out.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        except Exception as exc:
            raise AwsError(f"cannot list: {exc}", source=f"s3://{self.bucket}/{prefix}") from exc
        return out

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
        except Exception as exc:
            raise AwsError(f"cannot list: {exc}", source=f"s3://{self.bucket}/{prefix}") from exc

    def region_prefixes(self) -> list[tuple[str, bool]]:
        """Folders to list: `(prefix, True)` for each `.../CloudTrail/<region>/` under the source (accounts
        and organization members discovered by delimiter listings), or `(prefix, False)` when the source
        already points below a region, or holds no `AWSLogs/` folder at all (both listed as is)."""
        root = self.prefix
        if "AWSLogs/" not in root:
            root = (root.rstrip("/") + "/" if root else "") + "AWSLogs/"
            if not self._prefixes(root):
                # not CloudTrail's own layout (Kinesis Data Firehose delivery, a copy elsewhere): list it as is
                return [(self.prefix, False)]
        if not root.endswith("/"):
            return [(root, False)]
        if _REGION_PREFIX.search(root):
            return [(root, True)]
        account_match = _ACCOUNT_PREFIX.search(root)
        if account_match:
            accounts = [root[: account_match.start("rest")]]
        elif _ORG_PREFIX.search(root):
            accounts = self._prefixes(root)
        elif root.endswith("AWSLogs/"):
            accounts = []
            for child in self._prefixes(root):
                name = child.rstrip("/").rsplit("/", 1)[-1]
                accounts.extend(self._prefixes(child) if name.startswith("o-") else [child])
        else:
            return [(root, False)]
        regions: list[tuple[str, bool]] = []
        for account in accounts:
            regions.extend((r, True) for r in self._prefixes(account + "CloudTrail/"))
        return regions

    def item(self, key: str, etag: str, size: int) -> WorkItem:
        account, region, day = layout_of(key)
        return WorkItem(
            source=self.id, key=key, etag=etag.strip('"'), size=size, bucket=self.bucket,
            endpoint_url=self.endpoint_url, region_name=self.region_name, account=account, region=region, day=day,
        )

    def list(self, since: date | None = None, until: date | None = None) -> list[WorkItem]:
        items: list[WorkItem] = []
        for region_prefix, region_level in self.region_prefixes():
            if since is not None and region_level:
                last = until or datetime.now(UTC).date()
                prefixes = [f"{region_prefix}{d:%Y/%m/%d}/" for d in _days(since, last)]
            else:
                prefixes = [region_prefix]
            for prefix in prefixes:
                for obj in self._objects(prefix):
                    key = obj["Key"]
                    if not wanted(key.rsplit("/", 1)[-1]) or any(p in key for p in _SKIP_PARTS):
                        continue
                    item = self.item(key, obj.get("ETag", ""), int(obj.get("Size", 0)))
                    if in_range(item.day, since, until):
                        items.append(item)
        return time_order(items)


# ---------------------------------------------------------------------------------------------- SQS
@dataclass(frozen=True)
class Notification:
    receipt_handle: str
    objects: list[tuple[str, str, str, int]]  # (bucket, key, etag, size)


def objects_in_message(body: str) -> list[tuple[str, str, str, int]]:
    """S3 objects named by an SQS message: S3 event notification, the same wrapped in SNS, or CloudTrail's
    own SNS notification ({"s3Bucket", "s3ObjectKey": [...]}). Unknown shapes yield nothing."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
        return objects_in_message(doc["Message"])
    out: list[tuple[str, str, str, int]] = []
    if not isinstance(doc, dict):
        return out
    if isinstance(doc.get("s3Bucket"), str) and isinstance(doc.get("s3ObjectKey"), list):
        return [(doc["s3Bucket"], str(k), "", 0) for k in doc["s3ObjectKey"]]
    for record in doc.get("Records") or []:
        if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name", "")
        obj = s3.get("object") or {}
        key = unquote_plus(str(obj.get("key", "")))  # S3 URL-encodes keys in notifications
        if bucket and key:
            out.append((bucket, key, str(obj.get("eTag", "")), int(obj.get("size", 0) or 0)))
    return out


class SqsNotifications:
    """Long-polls a queue that receives S3 (or CloudTrail SNS) notifications of new log objects."""

    def __init__(self, queue_url: str, endpoint_url: str = "", region_name: str = "") -> None:
        import boto3

        self.queue_url = queue_url
        self.client = boto3.client("sqs", endpoint_url=endpoint_url or None, region_name=region_name or None)

    def receive(self, wait_seconds: int = 10, max_messages: int = 10) -> list[Notification]:
        try:
            resp = self.client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds
            )
        except Exception as exc:
            raise AwsError(f"cannot receive: {exc}", source=self.queue_url) from exc
        return [Notification(m["ReceiptHandle"], objects_in_message(m.get("Body", ""))) for m in resp.get("Messages", [])]

    def delete(self, receipt_handle: str) -> None:
        try:
            self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt_handle)
        except Exception as exc:
            raise AwsError(f"cannot delete message: {exc}", source=self.queue_url) from exc


def open_source(spec: str, endpoint_url: str = "", region_name: str = "") -> LocalSource | S3Source:
    if spec.startswith("s3://"):
        return S3Source(spec, endpoint_url, region_name)
    return LocalSource(spec)
