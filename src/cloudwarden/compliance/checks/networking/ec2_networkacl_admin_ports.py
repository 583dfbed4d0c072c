"""CIS: no network ACL allows ingress from the whole internet to remote server administration ports."""

from __future__ import annotations

from collections.abc import Iterator

from cloudwarden.compliance.checks._common import RegionWalk, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.networking._ports import ADMIN_PORTS, ANY_V4, ANY_V6, nacl_exposures
from cloudwarden.compliance.inventory import Inventory


@check(
    id="ec2_networkacl_no_internet_ingress_to_admin_ports",
    title="No network ACL allows ingress from 0.0.0.0/0 (or ::/0) to remote server administration ports",
    service="ec2", severity="medium", resource_type="AwsEc2NetworkAcl",
    cis={"7.0": ["6.2"], "5.0": ["5.2"], "3.0": ["5.1"]},
    remediation=(
        "Add inbound deny rules for ports 22 and 3389 (TCP and UDP) from 0.0.0.0/0 and ::/0, numbered lower than any "
        "allow rule that covers those ports (or narrow the allow rules to known address ranges). The NACL is "
        "then a second barrier if a security group is opened by mistake."
    ),
    references=["https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "network_acls")
    found = 0
    for region, acls in walk:
        for acl in acls:
            found += 1
            arn = inv.arn("ec2", region, f"network-acl/{acl['NetworkAclId']}")
            hits = nacl_exposures(acl, ADMIN_PORTS, [ANY_V4, ANY_V6])
            if hits:
                yield failed(arn, "; ".join(h.rule for h in hits), region, ports=sorted({h.port for h in hits}))
            else:
                yield passed(arn, "administration ports are not open to the internet by this ACL", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "network ACLs")
