"""CIS: MFA Delete is enabled on S3 buckets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.storage._buckets import per_bucket
from cloudwarden.compliance.inventory import Inventory


@check(
    id="s3_bucket_no_mfa_delete",
    title="MFA Delete is enabled on S3 buckets",
    service="s3", severity="medium", resource_type="AwsS3Bucket",
    cis={"7.0": ["3.1.2"], "5.0": ["2.1.2"], "3.0": ["2.1.2"]},
    remediation=(
        "With the root user's MFA device, enable versioning with MFA Delete on the bucket (only the root user "
        "can, through the API or CLI: put-bucket-versioning with --mfa). Deleting object versions or "
        "changing the versioning state then needs a fresh MFA code."
    ),
    references=["https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiFactorAuthenticationDelete.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    def judge(arn: str, name: str, region: str, versioning: Any) -> CheckResult:
        status = (versioning or {}).get("Status", "never enabled")
        if (versioning or {}).get("MFADelete") == "Enabled":
            return passed(arn, f"MFA Delete is enabled (versioning {status})", region)
        return failed(arn, f"MFA Delete is not enabled (versioning {status})", region)

    yield from per_bucket(inv, "bucket_versioning", judge)
