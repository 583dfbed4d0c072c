"""Helpers shared by the service checks (storage, logging, monitoring, networking): walk the scan's
regions, turning a region whose data was not collected into one NOT_EVALUATED result for that region
instead of letting `NotCollected` void the whole check (which would discard other regions' results).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudwarden.compliance.checks.base import CheckResult, not_evaluated, passed
from cloudwarden.compliance.inventory import GLOBAL, Inventory, NotCollected

# boto3 service name -> the service namespace used in ARNs, where they differ
ARN_NAMESPACE = {"elb": "elasticloadbalancing", "elbv2": "elasticloadbalancing", "apigatewayv2": "apigateway", "efs": "elasticfilesystem"}


def account_arn(inv: Inventory, service: str = "", region: str = GLOBAL) -> str:
    """The account as a resource, for results about the account rather than one resource."""
    if not service:
        return f"arn:{inv.partition}:iam::{inv.account_id}:root"
    return inv.arn(ARN_NAMESPACE.get(service, service), region, "account")


def get_or_reason(inv: Inventory, service: str, key: str, region: str = GLOBAL) -> tuple[Any, str | None]:
    """(value, None) or (None, why it is missing)."""
    try:
        return inv.get(service, key, region), None
    except NotCollected as exc:
        return None, exc.failure.reason


class RegionWalk:
    """Iterate (region, value) of one regional key; regions that failed become NOT_EVALUATED results.

        walk = RegionWalk(inv, "rds", "db_instances")
        for region, instances in walk: ...
        yield from walk.skipped
    """

    def __init__(self, inv: Inventory, service: str, key: str) -> None:
        self.inv, self.service, self.key = inv, service, key
        self.skipped: list[CheckResult] = []
        self.seen = 0  # regions that were readable

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        for region in self.inv.regions:
            value, reason = get_or_reason(self.inv, self.service, self.key, region)
            if reason is not None:
                self.skipped.append(not_evaluated(account_arn(self.inv, self.service, region), reason, region))
                continue
            self.seen += 1
            yield region, value


def nothing_found(inv: Inventory, service: str, what: str) -> CheckResult:
    """The PASS a check gives when there was nothing of its kind to look at (never silence)."""
    return passed(account_arn(inv, service), f"no {what} found in the scanned regions")
