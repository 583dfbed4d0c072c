"""CIS: CloudTrail is enabled in all regions (a multi-region trail that is logging all management events)."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import account_arn
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.logging._trails import describe_problems, load_trails, logs_all_management_events
from cloudwarden.compliance.inventory import Inventory


@check(
    id="cloudtrail_multi_region_enabled",
    title="CloudTrail is enabled in all regions with a logging multi-region trail recording all management events",
    service="cloudtrail", severity="high", resource_type="AwsCloudTrailTrail",
    cis={"7.0": ["4.1"], "5.0": ["3.1"], "3.0": ["3.1"]},
    remediation=(
        "Create (or convert an existing trail into) a multi-region trail, turn logging on, and keep its event "
        "selectors recording both read and write management events, so API activity in every region, "
        "including regions nobody uses yet, reaches your log bucket."
    ),
    references=["https://docs.aws.amazon.com/awscloudtrail/latest/userguide/receive-cloudtrail-log-files-from-multiple-regions.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    trails = load_trails(inv)
    good = [v for v in trails.views if v.multi_region and v.logging and logs_all_management_events(v)]
    if good:
        t = good[0]
        yield passed(t.arn, f"multi-region trail {t.trail.get('Name')} is logging all management events", t.home)
        return
    if trails.regions_seen == 0:
        yield from trails.skipped
        return
    unknown = [v for v in trails.views if v.multi_region and (v.logging is None or logs_all_management_events(v) is None)]
    if unknown:
        v = unknown[0]
        yield not_evaluated(v.arn, f"status or selectors of multi-region trail unknown: {'; '.join(v.unknown)}", v.home)
        return
    detail = describe_problems(trails.views) if trails.views else "no trails at all"
    yield failed(account_arn(inv, "cloudtrail"), f"no logging multi-region trail records all management events: {detail}")
