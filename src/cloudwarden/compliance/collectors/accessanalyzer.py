"""IAM Access Analyzer collector (regional). Inventory keys, service "accessanalyzer", per region:

- `analyzers`: ListAnalyzers `analyzers` list (arn, name, type ACCOUNT/ORGANIZATION/..._UNUSED_ACCESS,
  status ACTIVE/CREATING/DISABLED/FAILED).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "accessanalyzer",
    actions=["access-analyzer:ListAnalyzers"],
    regional=True,
    description="IAM Access Analyzer analyzers per region",
)
def collect_accessanalyzer(ctx: CollectContext) -> None:
    fetch_list(ctx, "analyzers", ctx.client("accessanalyzer"), "ListAnalyzers", "analyzers")
