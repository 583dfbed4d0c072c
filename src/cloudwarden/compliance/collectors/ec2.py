"""EC2 / VPC collector (regional). Inventory keys, service "ec2", one set per region:

- `security_groups`: list of DescribeSecurityGroups `SecurityGroup` dicts (IpPermissions, IpPermissionsEgress,
  GroupId, GroupName, VpcId, ...).
- `network_acls`: list of DescribeNetworkAcls `NetworkAcl` dicts (Entries with RuleNumber, Protocol,
  RuleAction, Egress, CidrBlock / Ipv6CidrBlock, PortRange).
- `vpcs`: list of DescribeVpcs `Vpc` dicts (VpcId, CidrBlock, CidrBlockAssociationSet, IsDefault).
- `flow_logs`: list of DescribeFlowLogs `FlowLog` dicts (ResourceId, TrafficType, FlowLogStatus, ...).
- `ebs_encryption_by_default`: GetEbsEncryptionByDefault response: {"EbsEncryptionByDefault": bool, ...}.
- `instances`: list of DescribeInstances `Instance` dicts, flattened out of their reservations
  (MetadataOptions, IamInstanceProfile, State, VpcId, SecurityGroups, ...).
- `route_tables`: list of DescribeRouteTables `RouteTable` dicts (Routes with VpcPeeringConnectionId).
- `vpc_peering_connections`: list of DescribeVpcPeeringConnections `VpcPeeringConnection` dicts
  (AccepterVpcInfo / RequesterVpcInfo with CidrBlock, CidrBlockSet, Ipv6CidrBlockSet, OwnerId, VpcId).
- `vpc_endpoints`: list of DescribeVpcEndpoints `VpcEndpoint` dicts (VpcId, ServiceName, VpcEndpointType).
- `prefix_lists`: the managed prefix lists the security groups' ingress rules reference, id -> list of CIDR strings
  (GetManagedPrefixListEntries), or the error code text when that list could not be read. A customer-managed
  list can hold 0.0.0.0/0, so a rule "from pl-..." may open a port to the internet.
"""

from __future__ import annotations

from typing import Any

from cloudwarden.compliance.collectors._fetch import AWS_ERRORS, call_all, error_code, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector

_LISTS = (
    ("security_groups", "DescribeSecurityGroups", "SecurityGroups"),
    ("network_acls", "DescribeNetworkAcls", "NetworkAcls"),
    ("vpcs", "DescribeVpcs", "Vpcs"),
    ("flow_logs", "DescribeFlowLogs", "FlowLogs"),
    ("route_tables", "DescribeRouteTables", "RouteTables"),
    ("vpc_peering_connections", "DescribeVpcPeeringConnections", "VpcPeeringConnections"),
    ("vpc_endpoints", "DescribeVpcEndpoints", "VpcEndpoints"),
)


def referenced_prefix_lists(groups: list[dict[str, Any]]) -> list[str]:
    """The prefix list ids that the groups' ingress rules name (what the checks judge), each once, sorted."""
    found = {ref.get("PrefixListId") for g in groups for perm in g.get("IpPermissions") or []
             for ref in perm.get("PrefixListIds") or []}
    return sorted(str(p) for p in found if p)


def _prefix_lists(client: Any, groups: list[dict[str, Any]]) -> dict[str, list[str] | str]:
    """Entries of each referenced list; one unreadable list (another account's, access denied) does not hide the rest."""
    out: dict[str, list[str] | str] = {}
    for pid in referenced_prefix_lists(groups):
        try:
            entries = call_all(client, "GetManagedPrefixListEntries", "Entries", PrefixListId=pid)
        except AWS_ERRORS as exc:
            out[pid] = error_code(exc) or type(exc).__name__
            continue
        out[pid] = [str(e["Cidr"]) for e in entries if e.get("Cidr")]
    return out


def _instances(client: Any) -> list[dict[str, Any]]:
    return [i for r in call_all(client, "DescribeInstances", "Reservations") for i in r.get("Instances", [])]


@collector(
    "ec2",
    actions=[
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeVpcs",
        "ec2:DescribeFlowLogs",
        "ec2:DescribeRouteTables",
        "ec2:DescribeVpcPeeringConnections",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeInstances",
        "ec2:GetEbsEncryptionByDefault",
        "ec2:GetManagedPrefixListEntries",
    ],
    regional=True,
    description="security groups (and the prefix lists their rules name), NACLs, VPCs, flow logs, EBS default "
                "encryption, instances, routes, peering",
)
def collect_ec2(ctx: CollectContext) -> None:
    client = ctx.client("ec2")
    groups: list[dict[str, Any]] | None = None
    for key, operation, result_key in _LISTS:
        got = fetch_list(ctx, key, client, operation, result_key)
        if key == "security_groups":
            groups = got
    if groups is not None:
        fetch(ctx, "prefix_lists", "GetManagedPrefixListEntries", lambda: _prefix_lists(client, groups or []))
    fetch(ctx, "instances", "DescribeInstances", lambda: _instances(client))
    fetch(ctx, "ebs_encryption_by_default", "GetEbsEncryptionByDefault", lambda: call_all(client, "GetEbsEncryptionByDefault"))
