"""CIS v7 6.8 (manual): VPC endpoints are used for access to AWS services.

What APIs can show: whether a VPC that runs instances has any VPC endpoint at all. Which services those
workloads call, and whether every one of them has an endpoint, needs a person (see the remediation)."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.inventory import Inventory


@check(
    id="vpc_endpoints_used_for_aws_services",
    title="VPC endpoints are used for access to AWS services",
    service="ec2", severity="low", resource_type="AwsEc2Vpc",
    cis={"7.0": ["6.8"]},
    remediation=(
        "Create gateway endpoints for S3 and DynamoDB and interface endpoints for the other AWS services the "
        "VPC's workloads call (STS, KMS, Secrets Manager, SSM, ECR, CloudWatch Logs...), with endpoint "
        "policies limited to your resources, so that traffic stays on the AWS network. A person should "
        "confirm that every service the workloads use has one."
    ),
    references=["https://docs.aws.amazon.com/vpc/latest/privatelink/what-is-privatelink.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "vpcs")
    found = 0
    for region, vpcs in walk:
        instances, why_i = get_or_reason(inv, "ec2", "instances", region)
        endpoints, why_e = get_or_reason(inv, "ec2", "vpc_endpoints", region)
        busy = {i.get("VpcId") for i in instances or [] if (i.get("State") or {}).get("Name") != "terminated"}
        for vpc in vpcs:
            arn = inv.arn("ec2", region, f"vpc/{vpc['VpcId']}")
            if why_i or why_e:
                found += 1
                yield not_evaluated(arn, str(why_i or why_e), region)
                continue
            if vpc["VpcId"] not in busy:
                continue  # no workload in the VPC: nothing calls AWS services from it
            found += 1
            services = sorted({str(e.get("ServiceName", "")).rsplit(".", 1)[-1] for e in endpoints
                               if e.get("VpcId") == vpc["VpcId"] and e.get("State", "available").lower() == "available"})
            if services:
                yield passed(arn, "VPC has endpoints for: " + ", ".join(services), region, services=services)
            else:
                yield failed(arn, "VPC runs instances but has no VPC endpoint: AWS API traffic leaves through the internet",
                             region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "VPCs running instances")
