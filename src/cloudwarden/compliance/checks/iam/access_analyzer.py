"""IAM Access Analyzer (external access) is enabled in every scanned region."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks._common import RegionWalk
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS
from cloudwarden.compliance.inventory import Inventory

EXTERNAL_ACCESS_TYPES = ("ACCOUNT", "ORGANIZATION")  # the *_UNUSED_ACCESS analyzers do not cover 2.18


@check(
    id="accessanalyzer_enabled",
    title="IAM Access Analyzer for external access is enabled in all regions",
    service="accessanalyzer", severity="low", resource_type="AwsAccessAnalyzer",
    cis={"7.0": ["2.18"], "5.0": ["1.19"], "3.0": ["1.20"]},
    remediation=(
        "In every enabled region create an external access analyzer with the account (or, from the "
        "delegated administrator, the organization) as its zone of trust: aws accessanalyzer create-analyzer "
        "--analyzer-name external --type ACCOUNT --region REGION. Review its findings regularly."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/what-is-access-analyzer.html", CIS],
)
def analyzer_enabled(inv: Inventory) -> Iterable[CheckResult]:
    walk = RegionWalk(inv, "accessanalyzer", "analyzers")
    for region, analyzers in walk:
        active = [a for a in analyzers or [] if isinstance(a, dict) and a.get("status") == "ACTIVE"
                  and a.get("type", "ACCOUNT") in EXTERNAL_ACCESS_TYPES]
        if active:
            yield passed(str(active[0].get("arn", "")), f"analyzer {active[0].get('name')} is active in {region}", region)
        else:
            yield failed(inv.arn("access-analyzer", region, "analyzer"),
                         f"no active external access analyzer in {region}", region)
    yield from walk.skipped
