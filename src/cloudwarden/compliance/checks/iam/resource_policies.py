"""Resource-based policies do not grant access to everyone ("Principal": "*") without a restricting
condition (CIS v7.0 2.21): S3 buckets (the s3 collector's `bucket_policy/<name>`), and SQS, SNS, Lambda,
KMS, Secrets Manager and EventBridge (the resource_policies collector). Other resource types with
policies (Glacier, ECR, OpenSearch...) are not examined: the result says which types were."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn
from cloudwarden.compliance.checks.iam.iam_policy import PolicyDocumentError, iam_policy_public_statements
from cloudwarden.compliance.inventory import GLOBAL, Inventory

KINDS = (
    ("sqs_queues", "SQS queue"), ("sns_topics", "SNS topic"), ("lambda_functions", "Lambda function"),
    ("kms_keys", "KMS key"), ("secrets", "secret"), ("event_buses", "event bus"),
)


def _judge(arn: str, label: str, policy: Any, region: str) -> CheckResult | None:
    if policy is None:
        return None  # no resource policy: nothing is shared
    try:
        public = iam_policy_public_statements(policy)
    except PolicyDocumentError as exc:
        return not_evaluated(arn, f"{label} policy cannot be evaluated: {exc}", region)
    if public:
        return failed(arn, f"{label} policy allows everyone (\"Principal\": \"*\") in statement(s) {public} "
                           "without an account/organization/network condition", region)
    return passed(arn, f"{label} policy does not grant access to everyone", region)


@check(
    id="iam_resource_policy_no_public_principal",
    title="Resource policies do not allow unrestricted access with \"Principal\": \"*\"",
    service="iam", severity="high", resource_type="AwsResource",
    cis={"7.0": ["2.21"]},
    remediation=(
        "Replace \"Principal\": \"*\" with the accounts, roles or services that need access, or add a "
        "condition such as aws:PrincipalOrgID, aws:SourceAccount or aws:SourceVpce. For S3 also keep Block "
        "Public Access on. Review Glacier, ECR and other resource policies by hand."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_identity-vs-resource.html", CIS],
)
def no_public_principal(inv: Inventory) -> Iterable[CheckResult]:
    examined = 0
    buckets, reason = get_or_reason(inv, "s3", "buckets")
    if reason is not None:
        yield not_evaluated(account_arn(inv), f"S3 bucket policies: {reason}")
    else:
        for b in buckets or []:
            name = str(b.get("Name", ""))
            policy, why = get_or_reason(inv, "s3", f"bucket_policy/{name}")
            arn = f"arn:{inv.partition}:s3:::{name}"
            if why is not None:
                yield not_evaluated(arn, why)
                continue
            result = _judge(arn, f"S3 bucket {name}", policy, GLOBAL)
            if result is not None:
                examined += 1
                yield result
    for key, label in KINDS:
        walk = RegionWalk(inv, "resource_policies", key)
        for region, entries in walk:
            for e in entries or []:
                result = _judge(str(e.get("arn", "")), f"{label} {e.get('name', '')}", e.get("policy"), region)
                if result is not None:
                    examined += 1
                    yield result
        yield from walk.skipped
    if examined == 0:
        yield passed(account_arn(inv), "no resource policies found on S3, SQS, SNS, Lambda, KMS, Secrets Manager or "
                                       "EventBridge resources in the scanned regions")
