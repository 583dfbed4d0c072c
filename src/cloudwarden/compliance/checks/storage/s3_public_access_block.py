"""CIS: S3 Block Public Access is on, for the account and for every bucket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudwarden.compliance.checks._common import account_arn
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.storage._buckets import per_bucket
from cloudwarden.compliance.inventory import Inventory

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_CIS = {"7.0": ["3.1.4"], "5.0": ["2.1.4"], "3.0": ["2.1.4"]}
_REFS = ["https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"]


def missing(config: dict[str, Any] | None) -> list[str]:
    """The Block Public Access settings that are not on."""
    return [s for s in SETTINGS if not (config or {}).get(s)]


@check(
    id="s3_account_level_public_access_blocks",
    title="S3 Block Public Access is enabled at the account level",
    service="s3", severity="high", resource_type="AwsAccount",
    cis=_CIS,
    remediation=(
        "Turn on all four Block Public Access settings for the account (S3 console > Block Public Access "
        "settings for this account, or `aws s3control put-public-access-block`). They override any bucket "
        "policy or ACL that would make data public, including buckets created later."
    ),
    references=_REFS,
)
def account_level(inv: Inventory) -> Iterator[CheckResult]:
    config = inv.get("s3", "account_public_access_block")
    off = missing(config)
    if off:
        yield failed(account_arn(inv), "account-level Block Public Access is "
                     + ("not configured" if config is None else "missing " + ", ".join(off)))
    else:
        yield passed(account_arn(inv), "all four account-level Block Public Access settings are on")


@check(
    id="s3_bucket_level_public_access_block",
    title="S3 buckets have Block Public Access enabled (bucket or account level)",
    service="s3", severity="high", resource_type="AwsS3Bucket",
    cis=_CIS,
    remediation=(
        "Turn on all four Block Public Access settings on the bucket (Permissions tab), or once for the "
        "whole account. If a bucket really must serve public content, put it behind CloudFront with origin "
        "access control instead of opening the bucket."
    ),
    references=_REFS,
)
def bucket_level(inv: Inventory) -> Iterator[CheckResult]:
    account_off = missing(inv.get("s3", "account_public_access_block"))

    def judge(arn: str, name: str, region: str, config: Any) -> CheckResult:
        off = missing(config)
        if not off:
            return passed(arn, "all four bucket-level Block Public Access settings are on", region)
        if not account_off:
            return passed(arn, "covered by account-level Block Public Access", region)
        return failed(arn, "Block Public Access missing at bucket level (" + ", ".join(off)
                      + ") and at account level (" + ", ".join(account_off) + ")", region)

    yield from per_bucket(inv, "bucket_public_access_block", judge)
