"""EC2 instances use IAM instance roles (an instance profile) rather than stored credentials.

Reads the EC2 collector's `instances` key (service "ec2", per region; DescribeInstances Instance dicts
with `IamInstanceProfile`)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks._common import RegionWalk, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS
from cloudwarden.compliance.inventory import Inventory

SKIP_STATES = ("terminated", "shutting-down")


@check(
    id="ec2_instance_profile_attached",
    title="EC2 instances use an IAM instance role for AWS access",
    service="ec2", severity="medium", resource_type="AwsEc2Instance",
    cis={"7.0": ["2.16"], "5.0": ["1.17"], "3.0": ["1.18"]},
    remediation=(
        "Create a role with only the permissions the workload needs, wrap it in an instance profile and "
        "attach it (aws ec2 associate-iam-instance-profile). Then remove any access keys stored on the instance."
    ),
    references=["https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html", CIS],
)
def instance_profile(inv: Inventory) -> Iterable[CheckResult]:
    walk = RegionWalk(inv, "ec2", "instances")
    count = 0
    for region, instances in walk:
        for i in instances or []:
            if not isinstance(i, dict) or (i.get("State") or {}).get("Name") in SKIP_STATES:
                continue
            count += 1
            iid = str(i.get("InstanceId", ""))
            arn = inv.arn("ec2", region, f"instance/{iid}")
            profile = (i.get("IamInstanceProfile") or {}).get("Arn")
            if profile:
                yield passed(arn, f"instance {iid} uses instance profile {profile}", region)
            else:
                yield failed(arn, f"instance {iid} has no IAM instance profile", region)
    if count == 0 and walk.seen:
        yield nothing_found(inv, "ec2", "running EC2 instances")
    yield from walk.skipped
