"""CloudWatch Logs collector (regional). Inventory keys, service "logs", per region:

- `metric_filters`: list of DescribeMetricFilters `MetricFilter` dicts for every log group of the region
  (filterName, filterPattern, logGroupName, metricTransformations [{metricName, metricNamespace, ...}]).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("logs", actions=["logs:DescribeMetricFilters"], regional=True, description="metric filters of all log groups")
def collect_logs(ctx: CollectContext) -> None:
    fetch_list(ctx, "metric_filters", ctx.client("logs"), "DescribeMetricFilters", "metricFilters")
