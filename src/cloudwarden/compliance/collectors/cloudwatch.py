"""CloudWatch collector (regional). Inventory keys, service "cloudwatch", per region:

- `alarms`: list of DescribeAlarms `MetricAlarm` dicts (AlarmName, MetricName, Namespace, Metrics for
  metric-math alarms, AlarmActions, ActionsEnabled, ...).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector("cloudwatch", actions=["cloudwatch:DescribeAlarms"], regional=True, description="metric alarms")
def collect_cloudwatch(ctx: CollectContext) -> None:
    fetch_list(ctx, "alarms", ctx.client("cloudwatch"), "DescribeAlarms", "MetricAlarms")
