"""Access to AWSCloudShellFullAccess is restricted (no user, group or role holds it)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn, entities_with_policy
from cloudwarden.compliance.inventory import Inventory


@check(
    id="iam_policy_cloudshell_admin_not_attached",
    title="AWSCloudShellFullAccess is not attached to any user, group or role",
    service="iam", severity="medium", resource_type="AwsIamPolicy",
    cis={"7.0": ["2.20"], "5.0": ["1.21"], "3.0": ["1.22"]},
    remediation=(
        "Detach AWSCloudShellFullAccess from every user, group and role. Grant CloudShell through a custom "
        "policy that denies file upload/download (cloudshell:PutFileUpload, cloudshell:GetFileDownloadUrls) "
        "where data exfiltration matters."
    ),
    references=["https://docs.aws.amazon.com/cloudshell/latest/userguide/sec-auth-with-identities.html", CIS],
)
def cloudshell_full_access(inv: Inventory) -> Iterable[CheckResult]:
    holders = entities_with_policy(inv, "AWSCloudShellFullAccess")
    if not holders:
        yield passed(account_arn(inv), "AWSCloudShellFullAccess is attached to nobody")
        return
    for e in holders:
        yield failed(e.arn, f"{e.kind} {e.name} has AWSCloudShellFullAccess attached")
