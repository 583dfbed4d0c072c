"""CIS: VPC flow logging is enabled in every VPC."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.inventory import Inventory


@check(
    id="vpc_flow_logs_enabled",
    title="VPC flow logging is enabled in all VPCs",
    service="ec2", severity="medium", resource_type="AwsEc2Vpc",
    cis={"7.0": ["4.7"], "5.0": ["3.7"], "3.0": ["3.7"]},
    remediation=(
        "Create a flow log on the VPC (at least rejected traffic, ideally all) delivering to CloudWatch Logs "
        "or S3. Flow logs are the record of which addresses talked to which, needed to spot scanning, "
        "exfiltration and misrouted traffic."
    ),
    references=["https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "vpcs")
    found = 0
    for region, vpcs in walk:
        logs, why = get_or_reason(inv, "ec2", "flow_logs", region)
        for vpc in vpcs:
            found += 1
            vpc_id = vpc["VpcId"]
            arn = inv.arn("ec2", region, f"vpc/{vpc_id}")
            if why is not None:
                yield not_evaluated(arn, why, region)
                continue
            mine = [f for f in logs if f.get("ResourceId") == vpc_id and f.get("FlowLogStatus", "ACTIVE") == "ACTIVE"]
            if mine:
                yield passed(arn, f"flow log {mine[0].get('FlowLogId')} captures {mine[0].get('TrafficType', 'ALL')} traffic", region)
            else:
                yield failed(arn, "no active flow log on this VPC", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "VPCs")
