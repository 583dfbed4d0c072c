"""CloudTrail collector (regional). Inventory keys, service "cloudtrail", per region:

- `trails`: list of DescribeTrails `Trail` dicts with shadow trails included (a multi-region or organization
  trail appears in every region; its `HomeRegion` tells where it lives). Fields: Name, TrailARN, HomeRegion,
  IsMultiRegionTrail, IsOrganizationTrail, LogFileValidationEnabled, KmsKeyId, CloudWatchLogsLogGroupArn,
  S3BucketName, IncludeGlobalServiceEvents, HasCustomEventSelectors, HasInsightSelectors.
- `trail_status/<TrailARN>`: GetTrailStatus response (IsLogging, LatestDeliveryError, ...), fetched only in
  the trail's home region.
- `event_selectors/<TrailARN>`: GetEventSelectors response {"EventSelectors": [...]} or
  {"AdvancedEventSelectors": [...]}, fetched only in the trail's home region.
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
    for trail in trails:
        if trail.get("HomeRegion", ctx.region) != ctx.region:
            continue  # fetched once, in its home region
        arn = trail["TrailARN"]
        fetch(ctx, f"trail_status/{arn}", "GetTrailStatus", partial(call_all, client, "GetTrailStatus", Name=arn))
        fetch(ctx, f"event_selectors/{arn}", "GetEventSelectors",
              partial(_selectors, client, arn))


def _selectors(client: Any, arn: str) -> dict[str, Any]:
    response = call_all(client, "GetEventSelectors", TrailName=arn)
    return {k: v for k, v in response.items() if k in ("EventSelectors", "AdvancedEventSelectors")}
