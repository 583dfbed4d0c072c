"""Security Hub collector (regional). Inventory keys, service "securityhub", per region:

- `hub`: DescribeHub response minus metadata (HubArn, SubscribedAt, AutoEnableControls), or None when
  Security Hub is not enabled in the region (InvalidAccessException / ResourceNotFoundException).
- `enabled_standards`: GetEnabledStandards `StandardsSubscriptions` list (StandardsArn,
  StandardsStatus); written only when the hub is enabled.
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import call_all, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector

_NOT_ENABLED = ("InvalidAccessException", "ResourceNotFoundException")


@collector(
    "securityhub",
    actions=["securityhub:DescribeHub", "securityhub:GetEnabledStandards"],
    regional=True,
    description="Security Hub status and enabled standards per region",
)
def collect_securityhub(ctx: CollectContext) -> None:
    client = ctx.client("securityhub")
    ok, hub = fetch(ctx, "hub", "DescribeHub", lambda: call_all(client, "DescribeHub"), absent=_NOT_ENABLED)
    if ok and hub is not None:
        fetch_list(ctx, "enabled_standards", client, "GetEnabledStandards", "StandardsSubscriptions")
