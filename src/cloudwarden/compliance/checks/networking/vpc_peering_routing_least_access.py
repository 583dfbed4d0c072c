"""CIS: routing tables for VPC peering are "least access" — routes through a peering connection target
only the peer subnets or hosts that need to be reached, not the peer's whole VPC (or everything)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from cloudwarden.compliance.checks._common import RegionWalk, get_or_reason, nothing_found
from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.inventory import Inventory

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_cidrs(pcx: dict[str, Any], own_vpc: str) -> list[Network]:
    """CIDR blocks of the other side of a peering connection, seen from `own_vpc`."""
    req, acc = pcx.get("RequesterVpcInfo") or {}, pcx.get("AccepterVpcInfo") or {}
    peer = acc if req.get("VpcId") == own_vpc else req
    blocks = {peer.get("CidrBlock")} | {c.get("CidrBlock") for c in peer.get("CidrBlockSet") or []}
    blocks |= {c.get("Ipv6CidrBlock") for c in peer.get("Ipv6CidrBlockSet") or []}
    return [ipaddress.ip_network(b, strict=False) for b in blocks if b]


def judge_route(dest: str, peers: list[Network]) -> str | None:
    """Why a peering route is too broad, or None when it targets less than a whole peer VPC."""
    net = ipaddress.ip_network(dest, strict=False)
    if net.prefixlen == 0:
        return f"{dest} sends all traffic through the peering connection"
    for p in peers:
        if p.version == net.version and p.subnet_of(net):  # type: ignore[arg-type]
            return f"{dest} covers the peer's whole VPC block {p}"
    return None


@check(
    id="vpc_peering_routing_tables_with_least_privilege",
    title='Routing tables for VPC peering are "least access"',
    service="ec2", severity="medium", resource_type="AwsEc2RouteTable",
    cis={"7.0": ["6.6"], "5.0": ["5.6"], "3.0": ["5.5"]},
    remediation=(
        "Replace routes that send a peer's whole VPC range (or 0.0.0.0/0) through the peering connection with "
        "routes to only the peer subnets or hosts that this subnet needs, and keep such routes only in the "
        "route tables of subnets that need them."
    ),
    references=["https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-partial-access.html"],
)
def evaluate(inv: Inventory) -> Iterator[CheckResult]:
    walk = RegionWalk(inv, "ec2", "route_tables")
    found = 0
    for region, tables in walk:
        conns, why = get_or_reason(inv, "ec2", "vpc_peering_connections", region)
        by_id = {c.get("VpcPeeringConnectionId"): c for c in conns or []}
        for table in tables:
            routes = [r for r in table.get("Routes") or [] if r.get("VpcPeeringConnectionId")]
            if not routes:
                continue
            found += 1
            arn = inv.arn("ec2", region, f"route-table/{table['RouteTableId']}")
            problems, unknown = [], []
            for r in routes:
                dest = r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock")
                pcx = by_id.get(r["VpcPeeringConnectionId"])
                if not dest:
                    unknown.append(f"route to prefix list {r.get('DestinationPrefixListId')}")
                    continue
                if pcx is None:
                    broad = judge_route(dest, [])
                    if broad:
                        problems.append(broad)
                    else:
                        unknown.append(f"{dest}: peering {r['VpcPeeringConnectionId']} not visible ({why or 'not listed'})")
                    continue
                broad = judge_route(dest, peer_cidrs(pcx, table.get("VpcId", "")))
                if broad:
                    problems.append(f"{broad} via {r['VpcPeeringConnectionId']}")
            if problems:
                yield failed(arn, "; ".join(problems), region)
            elif unknown:
                yield not_evaluated(arn, "; ".join(unknown), region)
            else:
                yield passed(arn, f"{len(routes)} peering route(s) target only parts of the peer VPCs", region)
    yield from walk.skipped
    if not found and not walk.skipped:
        yield nothing_found(inv, "ec2", "route tables with VPC peering routes")
