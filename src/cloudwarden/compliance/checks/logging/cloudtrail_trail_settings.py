"""CIS: per-trail settings — log file validation, KMS encryption, access logging on the trail's bucket."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.logging._trails import load_trails
from cloudwarden.compliance.inventory import Inventory


@check(
    id="cloudtrail_log_file_validation_enabled",
    title="CloudTrail log file validation is enabled",
    service="cloudtrail", severity="medium", resource_type="AwsCloudTrailTrail",
    cis={"7.0": ["4.2"], "5.0": ["3.2"], "3.0": ["3.2"]},
    remediation=(
        "Turn on log file integrity validation for the trail (console: trail > General details > Log file "
        "validation, or `aws cloudtrail update-trail --enable-log-file-validation`). CloudTrail then writes "
        "signed digest files, so you can prove later that no log file was altered or removed."
    ),
    references=["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-enabling.html"],
)
def log_file_validation(inv: Inventory) -> Iterator[CheckResult]:
    trails = load_trails(inv)
    yield from trails.skipped
    for v in trails.views:
        if v.trail.get("LogFileValidationEnabled"):
            yield passed(v.arn, "log file validation is on", v.home)
        else:
            yield failed(v.arn, "log file validation is off: tampering with delivered logs would go unnoticed", v.home)
    if not trails.views and not trails.skipped:
        yield nothing_found(inv, "cloudtrail", "trails (see cloudtrail_multi_region_enabled)")


@check(
    id="cloudtrail_kms_encryption_enabled",
    title="CloudTrail logs are encrypted at rest with a customer-managed KMS key",
    service="cloudtrail", severity="medium", resource_type="AwsCloudTrailTrail",
    cis={"7.0": ["4.5"], "5.0": ["3.5"], "3.0": ["3.5"]},
    remediation=(
        "Create a customer-managed KMS key whose key policy lets CloudTrail encrypt and your log readers "
        "decrypt, then set it as the trail's SSE-KMS key. Reading the logs then needs both S3 and KMS "
        "permissions, and every decrypt is itself logged."
    ),
    references=["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/encrypting-cloudtrail-log-files-with-aws-kms.html"],
)
def kms_encryption(inv: Inventory) -> Iterator[CheckResult]:
    trails = load_trails(inv)
    yield from trails.skipped
    for v in trails.views:
        key = v.trail.get("KmsKeyId")
        if key:
            yield passed(v.arn, f"logs are encrypted with KMS key {key}", v.home, kms_key=key)
        else:
            yield failed(v.arn, "logs are not encrypted with a KMS key (only S3-managed encryption)", v.home)
    if not trails.views and not trails.skipped:
        yield nothing_found(inv, "cloudtrail", "trails (see cloudtrail_multi_region_enabled)")


@check(
    id="cloudtrail_logs_s3_bucket_access_logging_enabled",
    title="Server access logging is enabled on the CloudTrail S3 bucket",
    service="cloudtrail", severity="medium", resource_type="AwsS3Bucket",
    cis={"7.0": ["4.4"], "5.0": ["3.4"], "3.0": ["3.4"]},
    remediation=(
        "Enable S3 server access logging on the bucket that receives the trail's logs, delivering to a "
        "separate bucket that only the logging service can write to. Requests that read or delete trail "
        "logs are then recorded even when data events are not."
    ),
    references=["https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"],
)
def trail_bucket_access_logging(inv: Inventory) -> Iterator[CheckResult]:
    trails = load_trails(inv)
    yield from trails.skipped
    buckets, why = get_or_reason(inv, "s3", "buckets")
    names = {b["Name"] for b in buckets or []}
    done: set[str] = set()
    for v in trails.views:
        name = v.trail.get("S3BucketName")
        if not name or name in done:
            continue
        done.add(name)
        arn = f"arn:{inv.partition}:s3:::{name}"
        if why is not None:
            yield not_evaluated(arn, why, v.home)
            continue
        if name not in names:
            yield not_evaluated(arn, f"bucket {name} of trail {v.trail.get('Name')} is not in this account "
                                     "(for example a central log archive account); check its access logging there", v.home)
            continue
        logging, why_b = get_or_reason(inv, "s3", f"bucket_logging/{name}")
        if why_b is not None:
            yield not_evaluated(arn, why_b, v.home)
        elif logging:
            yield passed(arn, f"access logs of trail bucket go to {logging.get('TargetBucket')}", v.home)
        else:
            yield failed(arn, f"trail bucket {name} has no server access logging", v.home)
    if not done and not trails.skipped:
        yield nothing_found(inv, "cloudtrail", "trail buckets")
