"""CloudTrail collector (regional). Inventory keys, service "cloudtrail", per region:

- `trails`: list of DescribeTrails `Trail` dicts with shadow trails included (a multi-region or organization
  trail appears in every region; its `HomeRegion` tells where it lives). Fields: Name, TrailARN, HomeRegion,
  IsMultiRegionTrail, IsOrganizationTrail, LogFileValidationEnabled, KmsKeyId, CloudWatchLogsLogGroupArn,
  S3BucketName, IncludeGlobalServiceEvents, HasCustomEventSelectors, HasInsightSelectors.
- `trail_status/<TrailARN>`: GetTrailStatus response (IsLogging, LatestDeliveryError, ...), stored under the
  trail's home region (fetched there, or by the first scanned region when the scan skips the home region).
- `event_selectors/<TrailARN>`: GetEventSelectors response {"EventSelectors": [...]} or
  {"AdvancedEventSelectors": [...]}, stored like `trail_status`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cloudwarden.compliance.collectors._fetch import call_all, fetch
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "cloudtrail",
    actions=["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"],
    regional=True,
    description="trails (incl. shadow and organization trails), status, event selectors",
)
def collect_cloudtrail(ctx: CollectContext) -> None:
    client = ctx.client("cloudtrail")
    ok, trails = fetch(ctx, "trails", "DescribeTrails",
                       lambda: call_all(client, "DescribeTrails", "trailList", includeShadowTrails=True))
    if not ok:
        return
    scanned = ctx.inventory.regions
    for trail in trails:
        home = trail.get("HomeRegion", ctx.region)
        # Fetched once: in its home region, or, when the scan does not cover that region (--regions),
        # by the first scanned region through a client of the home region, stored under the home region.
        if home != ctx.region and (home in scanned or not scanned or ctx.region != scanned[0]):
            continue
        arn = trail["TrailARN"]
        sub = CollectContext(ctx.inventory, home, ctx.client_factory, ctx.service)
        home_client = sub.client("cloudtrail")
        fetch(sub, f"trail_status/{arn}", "GetTrailStatus", partial(call_all, home_client, "GetTrailStatus", Name=arn))
        fetch(sub, f"event_selectors/{arn}", "GetEventSelectors", partial(_selectors, home_client, arn))


def _selectors(client: Any, arn: str) -> dict[str, Any]:
    response = call_all(client, "GetEventSelectors", TrailName=arn)
    return {k: v for k, v in response.items() if k in ("EventSelectors", "AdvancedEventSelectors")}
