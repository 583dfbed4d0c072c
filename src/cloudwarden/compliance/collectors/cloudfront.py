"""CloudFront collector (global). Inventory keys, service "cloudfront", region "global":

- `distributions`: list of ListDistributions `DistributionSummary` dicts (Id, ARN, DomainName, Enabled, ...).
- `distribution_config/<Id>`: GetDistributionConfig `DistributionConfig` (Logging {Enabled, Bucket, ...}
  lives only here, not in the summary).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cloudwarden.compliance.collectors._fetch import call_field, fetch
from cloudwarden.compliance.collectors.base import CollectContext, collector


def _distributions(client: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in client.get_paginator("list_distributions").paginate():
        out.extend(page.get("DistributionList", {}).get("Items") or [])
    return out


@collector("cloudfront", actions=["cloudfront:ListDistributions", "cloudfront:GetDistributionConfig"], regional=False,
           description="distributions and their logging configuration")
def collect_cloudfront(ctx: CollectContext) -> None:
    client = ctx.client("cloudfront")
    _, dists = fetch(ctx, "distributions", "ListDistributions", lambda: _distributions(client))
    for dist in dists or []:
        fetch(ctx, f"distribution_config/{dist['Id']}", "GetDistributionConfig",
              partial(call_field, client, "GetDistributionConfig", "DistributionConfig", Id=dist["Id"]))
