"""S3 collector (global: buckets are listed once; each bucket's settings are read in its own region).

Inventory keys, service "s3", region "global":

- `account_public_access_block`: s3control GetPublicAccessBlock `PublicAccessBlockConfiguration` dict
  (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets), or None when the account
  has none configured.
- `buckets`: list of {"Name": str, "CreationDate": datetime, "Region": str | None} (ListBuckets entries plus
  the GetBucketLocation region; None when the location could not be read, see `bucket_location/<name>`).
- per bucket `<name>`:
  - `bucket_location/<name>`: GetBucketLocation response {"LocationConstraint": ...}, only when ListBuckets
    did not already give the bucket's region (newer S3 endpoints include `BucketRegion`).
  - `bucket_policy/<name>`: the GetBucketPolicy document parsed from JSON (dict), or None without a policy
    (an unparseable policy is recorded as a failure with code InvalidData).
  - `bucket_acl/<name>`: GetBucketAcl response {"Owner": {...}, "Grants": [...]}.
  - `bucket_public_access_block/<name>`: GetPublicAccessBlock `PublicAccessBlockConfiguration` or None.
  - `bucket_encryption/<name>`: GetBucketEncryption `ServerSideEncryptionConfiguration` ({"Rules": [...]}) or None.
  - `bucket_versioning/<name>`: GetBucketVersioning response, e.g. {"Status": "Enabled", "MFADelete": "Disabled"};
    {} when versioning was never enabled.
  - `bucket_logging/<name>`: GetBucketLogging `LoggingEnabled` ({"TargetBucket", "TargetPrefix"}) or None.
  - `bucket_object_lock/<name>`: GetObjectLockConfiguration `ObjectLockConfiguration` or None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cloudwarden.compliance.collectors._fetch import call_all, fetch
from cloudwarden.compliance.collectors.base import CollectContext, collector
from cloudwarden.compliance.inventory import CollectionFailure

_BUCKET_WORKERS = 8  # bounded: the runner already runs services and regions in parallel


def strip_account_host(request: Any, **_: Any) -> None:
    """s3control puts "<account>." in front of the host; an AWS-compatible endpoint on an IP address or
    localhost (moto_server, LocalStack) cannot resolve that name, so drop it there."""
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    label, _dot, rest = host.partition(".")
    if label.isdigit() and len(label) == 12 and "amazonaws" not in rest:
        request.url = urlunsplit(parts._replace(netloc=parts.netloc.replace(f"{label}.", "", 1)))


def bucket_region(location: dict[str, Any]) -> str:
    constraint = location.get("LocationConstraint")
    if not constraint:
        return "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


def _policy(ctx: CollectContext, client: Any, name: str) -> None:
    key = f"bucket_policy/{name}"
    ok, raw = fetch(ctx, key, "GetBucketPolicy", lambda: client.get_bucket_policy(Bucket=name)["Policy"],
                    absent=("NoSuchBucketPolicy",))
    if ok and raw is not None:
        try:
            ctx.put(key, json.loads(raw))
        except ValueError as exc:
            ctx.inventory.fail(ctx.service, key, CollectionFailure(
                ctx.service, ctx.region, "GetBucketPolicy", "InvalidData",
                f"bucket {name}: policy is not valid JSON ({exc})"), ctx.region)


def _bucket_tasks(ctx: CollectContext, name: str, region: str) -> list[Callable[[], object]]:
    """One task per API call of this bucket, so the calls of many buckets interleave on the pool."""
    client = ctx.client("s3", region)
    return [
        lambda: _policy(ctx, client, name),
        lambda: fetch(ctx, f"bucket_acl/{name}", "GetBucketAcl",
                      lambda: {k: v for k, v in client.get_bucket_acl(Bucket=name).items() if k in ("Owner", "Grants")}),
        lambda: fetch(ctx, f"bucket_public_access_block/{name}", "GetPublicAccessBlock",
                      lambda: client.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"],
                      absent=("NoSuchPublicAccessBlockConfiguration",)),
        lambda: fetch(ctx, f"bucket_encryption/{name}", "GetBucketEncryption",
                      lambda: client.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"],
                      absent=("ServerSideEncryptionConfigurationNotFoundError",)),
        lambda: fetch(ctx, f"bucket_versioning/{name}", "GetBucketVersioning",
                      lambda: call_all(client, "GetBucketVersioning", Bucket=name)),
        lambda: fetch(ctx, f"bucket_logging/{name}", "GetBucketLogging",
                      lambda: client.get_bucket_logging(Bucket=name).get("LoggingEnabled")),
        lambda: fetch(ctx, f"bucket_object_lock/{name}", "GetObjectLockConfiguration",
                      lambda: client.get_object_lock_configuration(Bucket=name).get("ObjectLockConfiguration"),
                      absent=("ObjectLockConfigurationNotFoundError",)),
    ]


def _located(ctx: CollectContext, client: Any, bucket: dict[str, Any]) -> dict[str, Any]:
    name = bucket["Name"]
    region = bucket.get("BucketRegion")  # newer S3 ListBuckets responses carry it
    if not region:
        ok, loc = fetch(ctx, f"bucket_location/{name}", "GetBucketLocation",
                        lambda: call_all(client, "GetBucketLocation", Bucket=name))
        region = bucket_region(loc) if ok else None
    return {"Name": name, "CreationDate": bucket.get("CreationDate"), "Region": region}


@collector(
    "s3",
    actions=[
        "s3:GetAccountPublicAccessBlock",
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetBucketPolicy",
        "s3:GetBucketAcl",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketVersioning",
        "s3:GetBucketLogging",
        "s3:GetBucketObjectLockConfiguration",
    ],
    regional=False,
    description="account/bucket public access block, bucket policies, ACLs, encryption, versioning, logging",
)
def collect_s3(ctx: CollectContext) -> None:
    account = ctx.inventory.account_id
    control = ctx.client("s3control")
    control.meta.events.register("before-sign.s3-control", strip_account_host, unique_id="cloudwarden-s3control-host")
    fetch(ctx, "account_public_access_block", "GetPublicAccessBlock",
          lambda: control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"],
          absent=("NoSuchPublicAccessBlockConfiguration",))
    client = ctx.client("s3")
    ok, listed = fetch(ctx, "buckets", "ListBuckets", lambda: call_all(client, "ListBuckets", "Buckets"))
    if not ok:
        return
    with ThreadPoolExecutor(max_workers=_BUCKET_WORKERS) as pool:
        buckets = list(pool.map(lambda b: _located(ctx, client, b), listed))
        ctx.put("buckets", buckets)
        tasks = [t for b in buckets for t in _bucket_tasks(ctx, b["Name"], b["Region"] or "us-east-1")]
        for _ in pool.map(lambda task: task(), tasks):
            pass
