"""CIS: S3 data is discovered and classified — evaluated as "Amazon Macie is enabled in each region"."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, account_arn
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.inventory import Inventory


@check(
    id="macie_is_enabled",
    title="Amazon Macie is enabled to discover and classify sensitive data in S3",
    service="macie2", severity="low", resource_type="AwsMacieSession",
    cis={"7.0": ["3.1.3"], "5.0": ["2.1.3"], "3.0": ["2.1.3"]},
    remediation=(
        "Enable Amazon Macie in each region that holds S3 data (delegating administration to a security "
        "account in an Organization) and schedule sensitive-data discovery jobs; then act on what it finds. "
        "Macie being on is what we can verify; whether findings are handled needs a person."
    ),
    references=["https://docs.aws.amazon.com/macie/latest/user/getting-started.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "macie2", "session")
    for region, session in walk:
        status = str((session or {}).get("status", "DISABLED")).upper()
        where = account_arn(inv, "macie2", region)
        if status == "ENABLED":
            yield passed(where, "Macie is enabled", region)
        else:
            yield failed(where, f"Macie is {status.lower()} in this region", region)
    yield from walk.skipped
