"""No attached policy (AWS-managed, customer-managed, or inline) allows "*" on "*".

A malformed document yields NOT_EVALUATED for that policy with the reason, never a pass or a crash."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.iam.common import (
    CIS,
    account_arn,
    default_version_document,
    entities,
    inline_policies,
)
from cloudwarden.compliance.checks.iam.iam_policy import PolicyDocumentError, iam_policy_allows_full_admin
from cloudwarden.compliance.inventory import Inventory

CIS_IDS = {"7.0": ["2.14"], "5.0": ["1.15"], "3.0": ["1.16"]}
REFS = ["https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege", CIS]
REMEDIATION = (
    "Replace the \"*\" on \"*\" grant with the actions and resources the holders actually need (IAM Access "
    "Analyzer can generate a policy from CloudTrail activity), then detach the broad policy. Keep full "
    "administration on a few break-glass roles that require MFA."
)


def _judge(arn: str, label: str, document: object, attached: bool) -> CheckResult:
    try:
        admin = iam_policy_allows_full_admin(document)
    except PolicyDocumentError as exc:
        return not_evaluated(arn, f"{label}: policy document cannot be evaluated: {exc}")
    if admin and attached:
        return failed(arn, f"{label} allows \"*\" on \"*\" and is attached")
    if admin:
        return passed(arn, f"{label} allows \"*\" on \"*\" but is not attached to any user, group or role")
    return passed(arn, f"{label} does not allow \"*\" on \"*\"")


@check(
    id="iam_aws_attached_policy_no_administrative_privileges",
    title="No attached AWS-managed policy grants full \"*:*\" administrative privileges",
    service="iam", severity="high", resource_type="AwsIamPolicy",
    cis=CIS_IDS, remediation=REMEDIATION, references=REFS,
)
def aws_attached(inv: Inventory) -> Iterable[CheckResult]:
    policies = [p for p in inv.get("iam", "aws_policies") if isinstance(p, dict)]
    if not policies:
        yield passed(account_arn(inv), "no AWS-managed policy is attached")
        return
    for p in policies:
        arn = str(p.get("Arn", ""))
        if p.get("Document") is None and p.get("DocumentError"):
            yield not_evaluated(arn, f"AWS-managed policy {p.get('PolicyName')}: {p['DocumentError']}")
            continue
        yield _judge(arn, f"AWS-managed policy {p.get('PolicyName')}", p.get("Document"),
                     int(p.get("AttachmentCount") or 0) > 0)


@check(
    id="iam_customer_attached_policy_no_administrative_privileges",
    title="No attached customer-managed policy grants full \"*:*\" administrative privileges",
    service="iam", severity="high", resource_type="AwsIamPolicy",
    cis=CIS_IDS, remediation=REMEDIATION, references=REFS,
)
def customer_attached(inv: Inventory) -> Iterable[CheckResult]:
    policies = [p for p in inv.get("iam", "local_policies") if isinstance(p, dict)]
    if not policies:
        yield passed(account_arn(inv), "no customer-managed policies")
        return
    for p in policies:
        arn = str(p.get("Arn", ""))
        name = p.get("PolicyName") or arn.rsplit("/", 1)[-1]
        yield _judge(arn, f"customer-managed policy {name}",
                     default_version_document(p), int(p.get("AttachmentCount") or 0) > 0)


@check(
    id="iam_inline_policy_no_administrative_privileges",
    title="No inline policy of a user, group or role grants full \"*:*\" administrative privileges",
    service="iam", severity="high", resource_type="AwsIamPolicy",
    cis=CIS_IDS, remediation=REMEDIATION, references=REFS,
)
def inline(inv: Inventory) -> Iterable[CheckResult]:
    found = False
    for e in entities(inv):
        for p in inline_policies(e):
            found = True
            name = str(p.get("PolicyName", ""))
            yield _judge(f"{e.arn}/inline-policy/{name}", f"inline policy {name} of {e.kind} {e.name}",
                         p.get("PolicyDocument"), True)
    if not found:
        yield passed(account_arn(inv), "no inline policies")
