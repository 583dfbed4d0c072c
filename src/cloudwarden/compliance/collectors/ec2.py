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
"""

from __future__ import annotations

from typing import Any

from cloudwarden.compliance.collectors._fetch import call_all, fetch, fetch_list
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
    ],
    regional=True,
    description="security groups, NACLs, VPCs, flow logs, EBS default encryption, instances, routes, peering",
)
def collect_ec2(ctx: CollectContext) -> None:
    client = ctx.client("ec2")
    for key, operation, result_key in _LISTS:
        fetch_list(ctx, key, client, operation, result_key)
    fetch(ctx, "instances", "DescribeInstances", lambda: _instances(client))
    fetch(ctx, "ebs_encryption_by_default", "GetEbsEncryptionByDefault", lambda: call_all(client, "GetEbsEncryptionByDefault"))
