"""AWS Config collector (regional). Inventory keys, service "config", per region:

- `recorders`: list of DescribeConfigurationRecorders `ConfigurationRecorder` dicts (name, roleARN,
  recordingGroup {allSupported, includeGlobalResourceTypes, recordingStrategy, ...}).
- `recorder_statuses`: list of DescribeConfigurationRecorderStatus dicts (name, recording, lastStatus, ...).
- `delivery_channels`: list of DescribeDeliveryChannels `DeliveryChannel` dicts (name, s3BucketName, ...).
"""

from __future__ import annotations

from cloudwarden.compliance.collectors._fetch import fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector


@collector(
    "config",
    actions=["config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus",
             "config:DescribeDeliveryChannels"],
    regional=True,
    description="configuration recorders, their status, delivery channels",
)
def collect_config(ctx: CollectContext) -> None:
    client = ctx.client("config")
    fetch_list(ctx, "recorders", client, "DescribeConfigurationRecorders", "ConfigurationRecorders")
    fetch_list(ctx, "recorder_statuses", client, "DescribeConfigurationRecorderStatus", "ConfigurationRecordersStatus")
    fetch_list(ctx, "delivery_channels", client, "DescribeDeliveryChannels", "DeliveryChannels")
