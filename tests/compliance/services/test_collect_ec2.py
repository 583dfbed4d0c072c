from __future__ import annotations

import boto3

from tests.compliance.services.helpers import collect, undeclared_calls


def test_ec2_collector_writes_documented_keys(moto) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto.url)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="ssh-open", Description="x", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet,
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
    )
    ec2.enable_ebs_encryption_by_default()

    got = collect(moto.url, ["ec2"], regions=["us-east-1", "eu-west-1"])
    inv = got.inventory
    groups = {g["GroupId"]: g for g in inv.get("ec2", "security_groups", "us-east-1")}
    assert groups[sg]["IpPermissions"][0]["FromPort"] == 22
    assert any(v["VpcId"] == vpc for v in inv.get("ec2", "vpcs", "us-east-1"))
    instances = inv.get("ec2", "instances", "us-east-1")
    assert len(instances) == 1 and instances[0]["MetadataOptions"]["HttpTokens"] == "required"
    assert inv.get("ec2", "ebs_encryption_by_default", "us-east-1")["EbsEncryptionByDefault"] is True
    assert inv.get("ec2", "ebs_encryption_by_default", "eu-west-1")["EbsEncryptionByDefault"] is False
    for key in ("network_acls", "flow_logs", "route_tables", "vpc_peering_connections", "vpc_endpoints"):
        assert isinstance(inv.get("ec2", key, "eu-west-1"), list)
    assert not inv.failures
    assert undeclared_calls(["ec2"], got.counter) == set()
