"""CIS: AWS Security Hub is enabled (in every scanned region)."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, account_arn
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.inventory import Inventory


@check(
    id="securityhub_enabled",
    title="AWS Security Hub is enabled",
    service="securityhub", severity="medium", resource_type="AwsSecurityHubHub",
    cis={"7.0": ["5.16"], "5.0": ["4.16"], "3.0": ["4.16"]},
    remediation=(
        "Enable Security Hub in every enabled region (with AWS Config recording, which it needs), ideally "
        "from a delegated administrator account for the whole Organization, and turn on the standards you "
        "report against, so findings from AWS services land in one place."
    ),
    references=["https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-settingup.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "securityhub", "hub")
    for region, hub in walk:
        if hub:
            yield passed(str(hub.get("HubArn") or account_arn(inv, "securityhub", region)), "Security Hub is enabled", region)
        else:
            yield failed(account_arn(inv, "securityhub", region), "Security Hub is not enabled in this region", region)
    yield from walk.skipped
