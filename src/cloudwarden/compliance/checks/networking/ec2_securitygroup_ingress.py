"""CIS: no security group allows ingress from 0.0.0.0/0 or ::/0 to remote administration ports (22, 3389,
also when opened as a port range or "all traffic"), nor to CIFS (445)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.networking._ports import (
    ADMIN_PORTS,
    ANY_V4,
    ANY_V6,
    CIFS_PORTS,
    sg_exposures,
    unresolved_prefix_lists,
)
from cloudwarden.compliance.inventory import Inventory


def _prefix_lists(inv: Inventory, region: str) -> tuple[Mapping[str, list[str] | str] | None, str]:
    """The region's prefix-list entries, or None and why they are missing."""
    value, reason = get_or_reason(inv, "ec2", "prefix_lists", region)
    if reason is not None:
        return None, f"prefix lists were not read: {reason}"
    return value, ""


def _judge(arn: str, region: str, group: dict[str, Any], ports: tuple[int, ...], sources: list[str], what: str,
           lists: Mapping[str, list[str] | str] | None, missing: str) -> CheckResult:
    name = group.get("GroupName")
    hits = sg_exposures(group, ports, sources, lists)
    if hits:
        return failed(arn, f"{name} opens {what} to {' or '.join(sources)}: " + "; ".join(sorted({h.rule for h in hits})),
                      region, ports=sorted({h.port for h in hits}))
    unknown = unresolved_prefix_lists(group, ports, lists, missing)
    if unknown:  # a rule from a list we could not read may open the port to anyone: neither pass nor fail
        return not_evaluated(arn, f"{name} allows {what} from prefix list(s) whose entries are unknown: "
                             + "; ".join(f"{pid} ({why})" for pid, why in sorted(unknown.items())), region)
    return passed(arn, f"{name} does not open {what} to {' or '.join(sources)}", region)


def _evaluate(inv: Inventory, ports: Iterable[int], sources: list[str], what: str) -> Iterator[CheckResult]:
    ports = tuple(ports)
    walk = RegionWalk(inv, "ec2", "security_groups")
    found = 0
    for region, groups in walk:
        lists, missing = _prefix_lists(inv, region)
        for g in groups:
            found += 1
            arn = inv.arn("ec2", region, f"security-group/{g['GroupId']}")
            yield _judge(arn, region, g, ports, sources, what, lists, missing)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "security groups")


_REMEDIATION = (
    "Remove the inbound rule that allows {ports} from {src}. Reach instances through AWS Systems Manager "
    "Session Manager, a VPN or a bastion, and if direct access is needed allow only the specific "
    "addresses or security groups that need it."
)
_REFS = ["https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html"]


@check(
    id="ec2_securitygroup_no_ipv4_ingress_to_admin_ports",
    title="No security group allows ingress from 0.0.0.0/0 to remote server administration ports",
    service="ec2", severity="high", resource_type="AwsEc2SecurityGroup",
    cis={"7.0": ["6.3"], "5.0": ["5.3"], "3.0": ["5.2"]},
    remediation=_REMEDIATION.format(ports="SSH (22) or RDP (3389)", src="0.0.0.0/0"),
    references=_REFS,
)
def admin_ipv4(inv: Inventory) -> Iterator[CheckResult]:
    yield from _evaluate(inv, ADMIN_PORTS, [ANY_V4], "administration ports (22/3389)")


@check(
    id="ec2_securitygroup_no_ipv6_ingress_to_admin_ports",
    title="No security group allows ingress from ::/0 to remote server administration ports",
    service="ec2", severity="high", resource_type="AwsEc2SecurityGroup",
    cis={"7.0": ["6.4"], "5.0": ["5.4"], "3.0": ["5.3"]},
    remediation=_REMEDIATION.format(ports="SSH (22) or RDP (3389)", src="::/0"),
    references=_REFS,
)
def admin_ipv6(inv: Inventory) -> Iterator[CheckResult]:
    yield from _evaluate(inv, ADMIN_PORTS, [ANY_V6], "administration ports (22/3389)")


@check(
    id="ec2_securitygroup_no_internet_ingress_to_cifs",
    title="CIFS (SMB, port 445) is not reachable from the internet through security groups",
    service="ec2", severity="high", resource_type="AwsEc2SecurityGroup",
    cis={"7.0": ["6.1.2"], "5.0": ["5.1.2"]},
    remediation=_REMEDIATION.format(ports="CIFS/SMB (445)", src="0.0.0.0/0 or ::/0"),
    references=_REFS,
)
def cifs(inv: Inventory) -> Iterator[CheckResult]:
    yield from _evaluate(inv, CIFS_PORTS, [ANY_V4, ANY_V6], "CIFS (445)")


@check(
    id="ec2_securitygroup_default_restrict_traffic",
    title="The default security group of every VPC restricts all traffic",
    service="ec2", severity="medium", resource_type="AwsEc2SecurityGroup",
    cis={"7.0": ["6.5"], "5.0": ["5.5"], "3.0": ["5.4"]},
    remediation=(
        "Delete every inbound and outbound rule of each VPC's default security group (it cannot be deleted "
        "itself) and give resources purpose-made groups instead. Anything launched without an explicit "
        "group then gets no network access rather than the default's."
    ),
    references=["https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html"],
)
def default_group(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "security_groups")
    found = 0
    for region, groups in walk:
        for g in groups:
            if g.get("GroupName") != "default":
                continue
            found += 1
            arn = inv.arn("ec2", region, f"security-group/{g['GroupId']}")
            inbound, outbound = len(g.get("IpPermissions") or []), len(g.get("IpPermissionsEgress") or [])
            if inbound or outbound:
                yield failed(arn, f"default group of {g.get('VpcId')} has {inbound} inbound and {outbound} outbound rule(s)",
                             region)
            else:
                yield passed(arn, f"default group of {g.get('VpcId')} has no rules", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "default security groups")
