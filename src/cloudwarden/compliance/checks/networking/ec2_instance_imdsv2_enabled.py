"""CIS: EC2 instances only allow IMDSv2 (session tokens required) or have the metadata service off."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.inventory import Inventory

_GONE = ("terminated", "shutting-down")


@check(
    id="ec2_instance_imdsv2_enabled",
    title="The EC2 metadata service only allows IMDSv2",
    service="ec2", severity="high", resource_type="AwsEc2Instance",
    cis={"7.0": ["6.7"], "5.0": ["5.7"], "3.0": ["5.6"]},
    remediation=(
        "Require session tokens on the instance (`aws ec2 modify-instance-metadata-options --http-tokens "
        "required`), and set the account default for new instances. IMDSv2 blocks the request-forgery and "
        "open-proxy tricks that steal instance role credentials through IMDSv1."
    ),
    references=["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "instances")
    found = 0
    for region, instances in walk:
        for i in instances:
            if (i.get("State") or {}).get("Name") in _GONE:
                continue
            found += 1
            arn = inv.arn("ec2", region, f"instance/{i['InstanceId']}")
            md = i.get("MetadataOptions") or {}
            if md.get("HttpEndpoint") == "disabled":
                yield passed(arn, "instance metadata service is disabled", region)
            elif md.get("HttpTokens") == "required":
                yield passed(arn, "IMDSv2 session tokens are required", region)
            else:
                yield failed(arn, f"IMDSv1 is allowed (HttpTokens={md.get('HttpTokens', 'optional')})", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "running or stopped EC2 instances")
