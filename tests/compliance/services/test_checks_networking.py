"""Networking section checks over moto-seeded VPCs, plus the pure port/route reasoning."""

from __future__ import annotations

from cloudwarden.compliance.checks.networking._ports import ADMIN_PORTS, ANY_V4, ANY_V6, nacl_exposures, sg_exposures
from cloudwarden.compliance.checks.networking.vpc_peering_routing_least_access import judge_route
from tests.compliance.services.helpers import boto, collect, run_check, statuses

R, EU = "us-east-1", "eu-west-1"
AMI = "ami-12c6146b"


def perm(proto: str, lo: int | None, hi: int | None, v4: str | None = None, v6: str | None = None) -> dict:
    p: dict = {"IpProtocol": proto}
    if lo is not None:
        p.update(FromPort=lo, ToPort=hi)
    if v4:
        p["IpRanges"] = [{"CidrIp": v4}]
    if v6:
        p["Ipv6Ranges"] = [{"CidrIpv6": v6}]
    return p


def test_security_group_checks(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    groups = {}
    for name, perms in (
        ("ssh4", [perm("tcp", 22, 22, v4=ANY_V4)]),
        ("all6", [perm("-1", None, None, v6=ANY_V6)]),
        ("range", [perm("tcp", 1000, 4000, v4=ANY_V4)]),  # includes 3389
        ("smb", [perm("tcp", 445, 445, v4=ANY_V4)]),
        ("web", [perm("tcp", 443, 443, v4=ANY_V4, v6=ANY_V6), perm("tcp", 22, 22, v4="10.0.0.0/8")]),
    ):
        gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
        groups[gid] = name
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    inv = collect(moto.url, ["ec2"]).inventory

    def by_name(check_id: str) -> dict[str, str]:
        return {groups[k]: v for k, v in statuses(run_check(inv, check_id)).items() if k in groups}

    assert by_name("ec2_securitygroup_no_ipv4_ingress_to_admin_ports") == {
        "ssh4": "FAIL", "all6": "PASS", "range": "FAIL", "smb": "PASS", "web": "PASS"}
    assert by_name("ec2_securitygroup_no_ipv6_ingress_to_admin_ports") == {
        "ssh4": "PASS", "all6": "FAIL", "range": "PASS", "smb": "PASS", "web": "PASS"}
    assert by_name("ec2_securitygroup_no_internet_ingress_to_cifs") == {
        "ssh4": "PASS", "all6": "FAIL", "range": "PASS", "smb": "FAIL", "web": "PASS"}
    # moto gives a new VPC's default group an allow-all egress rule, like AWS does
    assert statuses(run_check(inv, "ec2_securitygroup_default_restrict_traffic"))[default["GroupId"]] == "FAIL"
    ec2.revoke_security_group_egress(GroupId=default["GroupId"], IpPermissions=default["IpPermissionsEgress"])
    if default["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=default["GroupId"], IpPermissions=default["IpPermissions"])
    inv = collect(moto.url, ["ec2"]).inventory
    assert statuses(run_check(inv, "ec2_securitygroup_default_restrict_traffic"))[default["GroupId"]] == "PASS"


def test_network_acl_rule_order(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    leaky = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=leaky, RuleNumber=100, Protocol="6", RuleAction="deny", Egress=False,
                                 CidrBlock=ANY_V4, PortRange={"From": 22, "To": 22})
    ec2.create_network_acl_entry(NetworkAclId=leaky, RuleNumber=200, Protocol="-1", RuleAction="allow", Egress=False,
                                 CidrBlock=ANY_V4)
    tight = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=tight, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
                                 CidrBlock=ANY_V4, PortRange={"From": 443, "To": 443})
    ec2.create_network_acl_entry(NetworkAclId=tight, RuleNumber=110, Protocol="6", RuleAction="allow", Egress=False,
                                 CidrBlock="192.0.2.0/24", PortRange={"From": 22, "To": 22})
    inv = collect(moto.url, ["ec2"]).inventory
    res = {r.resource_arn.rsplit("/", 1)[-1]: r for r in run_check(inv, "ec2_networkacl_no_internet_ingress_to_admin_ports")}
    assert str(res[leaky].status) == "FAIL" and res[leaky].details["ports"] == [3389]
    assert str(res[tight].status) == "PASS"


def test_port_reasoning_edge_cases() -> None:
    g = {"IpPermissions": [perm("6", 0, 65535, v4=ANY_V4), perm("udp", 3389, 3389, v4=ANY_V4)]}
    assert {e.port for e in sg_exposures(g, ADMIN_PORTS, [ANY_V4])} == {22, 3389}
    assert {e.port for e in sg_exposures({"IpPermissions": [perm("17", 3000, 4000, v4=ANY_V4)]}, ADMIN_PORTS, [ANY_V4])} == {3389}
    assert sg_exposures({"IpPermissions": [perm("icmp", -1, -1, v4=ANY_V4)]}, ADMIN_PORTS, [ANY_V4]) == []
    acl6 = {"Entries": [{"RuleNumber": 1, "Protocol": "-1", "RuleAction": "allow", "Egress": False, "Ipv6CidrBlock": ANY_V6},
                        {"RuleNumber": 2, "Protocol": "-1", "RuleAction": "allow", "Egress": True, "CidrBlock": ANY_V4}]}
    assert {(e.port, e.source) for e in nacl_exposures(acl6, ADMIN_PORTS, [ANY_V4, ANY_V6])} == {(22, ANY_V6), (3389, ANY_V6)}


def test_ebs_default_encryption_per_region(moto) -> None:
    boto(moto.url, "ec2", EU).enable_ebs_encryption_by_default()
    inv = collect(moto.url, ["ec2"], regions=[R, EU]).inventory
    assert {r.region: str(r.status) for r in run_check(inv, "ec2_ebs_default_encryption")} == {R: "FAIL", EU: "PASS"}


def test_imdsv2(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    v2 = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                           MetadataOptions={"HttpTokens": "required"})["Instances"][0]["InstanceId"]
    v1 = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                           MetadataOptions={"HttpTokens": "optional"})["Instances"][0]["InstanceId"]
    off = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1,
                            MetadataOptions={"HttpEndpoint": "disabled"})["Instances"][0]["InstanceId"]
    gone = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[gone])
    inv = collect(moto.url, ["ec2"]).inventory
    assert statuses(run_check(inv, "ec2_instance_imdsv2_enabled")) == {v2: "PASS", v1: "FAIL", off: "PASS"}


def test_vpc_peering_routes(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    a = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    b = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    pcx = ec2.create_vpc_peering_connection(VpcId=a, PeerVpcId=b)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx)
    wide = ec2.create_route_table(VpcId=a)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=wide, DestinationCidrBlock="10.1.0.0/16", VpcPeeringConnectionId=pcx)
    narrow = ec2.create_route_table(VpcId=a)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=narrow, DestinationCidrBlock="10.1.5.0/24", VpcPeeringConnectionId=pcx)
    back = ec2.create_route_table(VpcId=b)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=back, DestinationCidrBlock="10.0.7.10/32", VpcPeeringConnectionId=pcx)
    inv = collect(moto.url, ["ec2"]).inventory
    res = {r.resource_arn.rsplit("/", 1)[-1]: r for r in run_check(inv, "vpc_peering_routing_tables_with_least_privilege")}
    assert str(res[wide].status) == "FAIL" and "whole VPC block 10.1.0.0/16" in res[wide].reason
    assert str(res[narrow].status) == "PASS" and str(res[back].status) == "PASS"
    assert judge_route("0.0.0.0/0", []) is not None
    assert judge_route("10.0.0.0/8", []) is None


def test_vpc_endpoints(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    with_ep = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    without = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    idle = ec2.create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    for vpc, cidr in ((with_ep, "10.0.1.0/24"), (without, "10.1.1.0/24")):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet)
    rt = ec2.create_route_table(VpcId=with_ep)["RouteTable"]["RouteTableId"]
    ec2.create_vpc_endpoint(VpcId=with_ep, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rt])
    inv = collect(moto.url, ["ec2"]).inventory
    res = statuses(run_check(inv, "vpc_endpoints_used_for_aws_services"))
    assert res[with_ep] == "PASS" and res[without] == "FAIL" and idle not in res


def test_a_rule_from_a_prefix_list_holding_the_internet_fails_like_the_range_itself(moto) -> None:
    ec2 = boto(moto.url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    open_list = ec2.create_managed_prefix_list(PrefixListName="open", MaxEntries=5, AddressFamily="IPv4",
                                               Entries=[{"Cidr": "10.0.0.0/8"}, {"Cidr": ANY_V4}])["PrefixList"]["PrefixListId"]
    office = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=5, AddressFamily="IPv4",
                                            Entries=[{"Cidr": "198.51.100.0/24"}])["PrefixList"]["PrefixListId"]
    groups = {}
    for name, pid, port in (("via-open", open_list, 22), ("via-office", office, 22), ("open-web", open_list, 443),
                            ("open-smb", open_list, 445)):
        gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "PrefixListIds": [{"PrefixListId": pid}]}])
        groups[gid] = name
    inv = collect(moto.url, ["ec2"]).inventory
    assert inv.get("ec2", "prefix_lists", R) == {open_list: ["10.0.0.0/8", ANY_V4], office: ["198.51.100.0/24"]}

    def by_name(check_id: str) -> dict[str, str]:
        return {groups[k]: v for k, v in statuses(run_check(inv, check_id)).items() if k in groups}

    assert by_name("ec2_securitygroup_no_ipv4_ingress_to_admin_ports") == {
        "via-open": "FAIL", "via-office": "PASS", "open-web": "PASS", "open-smb": "PASS"}
    assert by_name("ec2_securitygroup_no_internet_ingress_to_cifs") == {
        "via-open": "PASS", "via-office": "PASS", "open-web": "PASS", "open-smb": "FAIL"}
    failing = next(r for r in run_check(inv, "ec2_securitygroup_no_ipv4_ingress_to_admin_ports")
                   if r.resource_arn.endswith(next(k for k, v in groups.items() if v == "via-open")))
    assert f"from prefix list {open_list} holding 0.0.0.0/0" in failing.reason


def test_prefix_lists_that_could_not_be_read_leave_the_group_not_evaluated() -> None:
    from cloudwarden.compliance.checks.networking._ports import unresolved_prefix_lists

    g = {"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": "pl-1"}]},
                           {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "PrefixListIds": [{"PrefixListId": "pl-2"}]}]}
    assert sg_exposures(g, ADMIN_PORTS, [ANY_V4], {"pl-1": [ANY_V4]})[0].rule == "tcp 22-22 from prefix list pl-1 holding 0.0.0.0/0"
    assert sg_exposures(g, ADMIN_PORTS, [ANY_V4], {"pl-1": ["10.0.0.0/8"]}) == []
    assert unresolved_prefix_lists(g, ADMIN_PORTS, {"pl-1": ["10.0.0.0/8"]}) == {}
    assert unresolved_prefix_lists(g, ADMIN_PORTS, {"pl-1": "AccessDenied"}) == {"pl-1": "reading it failed: AccessDenied"}
    assert unresolved_prefix_lists(g, ADMIN_PORTS, {}) == {"pl-1": "its entries were not collected"}  # pl-2: port 443 only
    assert unresolved_prefix_lists(g, ADMIN_PORTS, None, "prefix lists were not read: x") == {"pl-1": "prefix lists were not read: x"}


def test_a_group_whose_prefix_list_is_unreadable_is_not_evaluated_not_passed() -> None:
    from cloudwarden.compliance.inventory import Inventory

    inv = Inventory("111122223333", regions=[R])
    rule = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": "pl-9"}]}
    inv.put("ec2", "security_groups", [{"GroupId": "sg-1", "GroupName": "shared", "IpPermissions": [rule]},
                                       {"GroupId": "sg-2", "GroupName": "plain", "IpPermissions": []}], R)
    inv.put("ec2", "prefix_lists", {"pl-9": "AccessDenied"}, R)
    got = {r.resource_arn.rsplit("/", 1)[-1]: r for r in run_check(inv, "ec2_securitygroup_no_ipv4_ingress_to_admin_ports")}
    assert str(got["sg-1"].status) == "NOT_EVALUATED" and "pl-9 (reading it failed: AccessDenied)" in got["sg-1"].reason
    assert str(got["sg-2"].status) == "PASS"
    older = Inventory("111122223333", regions=[R])  # a scan from before prefix lists were collected
    older.put("ec2", "security_groups", [{"GroupId": "sg-1", "GroupName": "shared", "IpPermissions": [rule]}], R)
    (only,) = run_check(older, "ec2_securitygroup_no_ipv4_ingress_to_admin_ports")
    assert str(only.status) == "NOT_EVALUATED" and "prefix lists were not read" in only.reason
