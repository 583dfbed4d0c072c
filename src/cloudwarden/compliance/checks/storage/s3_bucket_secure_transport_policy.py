"""CIS: each S3 bucket policy denies requests that do not use TLS (aws:SecureTransport = false)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.storage._buckets import per_bucket
from cloudwarden.compliance.inventory import Inventory


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def _insecure_condition(condition: Any) -> bool:
    """Bool / BoolIfExists aws:SecureTransport = false (keys are case-insensitive in IAM)."""
    if not isinstance(condition, dict):
        return False
    for operator, body in condition.items():
        if str(operator).lower() not in ("bool", "boolifexists") or not isinstance(body, dict):
            continue
        for key, value in body.items():
            if str(key).lower() == "aws:securetransport" and any(str(v).lower() == "false" for v in _as_list(value)):
                return True
    return False


def denies_http(policy: dict[str, Any] | None, bucket: str, partition: str = "aws") -> bool:
    """Does the policy deny every S3 action on the bucket's objects to everyone when TLS is not used?"""
    if not policy:
        return False
    obj = f"arn:{partition}:s3:::{bucket}/any-key"
    for st in _as_list(policy.get("Statement")):
        if not isinstance(st, dict) or st.get("Effect") != "Deny" or not _everyone(st.get("Principal")):
            continue
        actions = [str(a).lower() for a in _as_list(st.get("Action"))]
        if not any(a in ("s3:*", "*") for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(obj, str(r)) for r in _as_list(st.get("Resource"))):
            continue
        if _insecure_condition(st.get("Condition")):
            return True
    return False


@check(
    id="s3_bucket_secure_transport_policy",
    title="S3 bucket policy denies HTTP (non-TLS) requests",
    service="s3", severity="medium", resource_type="AwsS3Bucket",
    cis={"7.0": ["3.1.1"], "5.0": ["2.1.1"], "3.0": ["2.1.1"]},
    remediation=(
        "Add a statement to the bucket policy with Effect Deny, Principal \"*\", Action \"s3:*\", the bucket and "
        "bucket/* as resources, and the condition Bool aws:SecureTransport = \"false\". Requests over plain "
        "HTTP are then refused, whatever other statements allow."
    ),
    references=["https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    def judge(arn: str, name: str, region: str, policy: Any) -> CheckResult:
        if policy is not None and not isinstance(policy, dict):
            return not_evaluated(arn, f"bucket policy is JSON but not a policy object ({type(policy).__name__})", region)
        if denies_http(policy, name, inv.partition):
            return passed(arn, "bucket policy denies requests without TLS", region)
        why = "bucket has no policy" if not policy else "no Deny statement on aws:SecureTransport=false covers s3:* for everyone"
        return failed(arn, why, region)

    yield from per_bucket(inv, "bucket_policy", judge)
