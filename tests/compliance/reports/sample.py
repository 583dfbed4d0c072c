"""Hand-built scans for the report, framework and drift tests (no AWS needed: these are pure cores)."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudwarden.compliance.checks.base import CheckMeta, CheckResult, Status
from cloudwarden.compliance.results import ScanRecord

ACCOUNT = "123456789012"
XSS = '<script>alert("pwn")</script><img src=x onerror=alert(1)>'

METAS = {
    "iam_user_mfa_console": CheckMeta(
        id="iam_user_mfa_console", title="IAM users with a console password have MFA", service="iam",
        severity="high", resource_type="AwsIamUser",
        remediation="Enable an MFA device for each console user, or remove the console password.",
        cis={"7.0": ["2.10"], "5.0": ["1.9"], "3.0": ["1.10"]},
        references=("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa.html",),
    ),
    "s3_bucket_public_access_block": CheckMeta(
        id="s3_bucket_public_access_block", title="S3 buckets block public access", service="s3",
        severity="critical", resource_type="AwsS3Bucket",
        remediation="Turn on all four Block Public Access settings on the bucket.",
        cis={"7.0": ["3.1.4"], "5.0": ["2.1.4"], "3.0": ["2.1.4"]},
    ),
    "ec2_sg_ssh_open": CheckMeta(
        id="ec2_sg_ssh_open", title="Security groups do not allow SSH from the internet", service="ec2",
        severity="high", resource_type="AwsEc2SecurityGroup",
        remediation="Remove the 0.0.0.0/0 rule on port 22; use Session Manager or a bastion.",
        cis={"7.0": ["6.3"], "5.0": ["5.3"], "3.0": ["5.2"]},
    ),
    "securityhub_enabled": CheckMeta(
        id="securityhub_enabled", title="Security Hub is enabled", service="securityhub",
        severity="medium", resource_type="AwsAccount",
        remediation="Enable Security Hub in every enabled region.",
        cis={"7.0": ["5.16"], "5.0": ["4.16"], "3.0": ["4.16"]},
    ),
    "kms_rotation": CheckMeta(
        id="kms_rotation", title="Customer managed KMS keys rotate", service="kms",
        severity="medium", resource_type="AwsKmsKey",
        remediation="Enable automatic rotation on the key.",
        cis={"7.0": ["4.6"], "5.0": ["3.6"], "3.0": ["3.6"]},
    ),
}


def user(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def bucket(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def sg(gid: str, region: str = "us-east-1") -> str:
    return f"arn:aws:ec2:{region}:{ACCOUNT}:security-group/{gid}"


def r(check: str, status: Status, arn: str, reason: str, region: str = "global") -> CheckResult:
    return CheckResult(status, arn, reason, region, METAS[check].resource_type, check_id=check, account_id=ACCOUNT)


def base_results() -> list[CheckResult]:
    return [
        r("iam_user_mfa_console", Status.FAIL, user("alice"), "console password without MFA"),
        r("iam_user_mfa_console", Status.PASS, user("bob"), "MFA device arn:aws:iam::123456789012:mfa/bob"),
        r("s3_bucket_public_access_block", Status.FAIL, bucket("acme-public"), "BlockPublicAcls is off"),
        r("s3_bucket_public_access_block", Status.PASS, bucket("acme-private"), "all four settings on"),
        r("ec2_sg_ssh_open", Status.PASS, sg("sg-1"), "no 0.0.0.0/0 on 22", "us-east-1"),
        r("securityhub_enabled", Status.NOT_EVALUATED, f"arn:aws:securityhub:us-east-1:{ACCOUNT}:", "securityhub:DescribeHub in us-east-1: AccessDenied: no", "us-east-1"),
        r("kms_rotation", Status.PASS, f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1", "rotation on", "us-east-1"),
    ]


def make_scan(results: list[CheckResult] | None = None, frameworks: list[str] | None = None, scan_id: str = "a" * 32,
              when: datetime | None = None) -> ScanRecord:
    t = when or datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    return ScanRecord(
        results=base_results() if results is None else results,
        checks=dict(METAS),
        accounts=[ACCOUNT],
        regions=["us-east-1"],
        frameworks=frameworks or ["cis-7.0"],
        started_at=t,
        finished_at=t,
        scan_id=scan_id,
        api_requests=42,
    )
