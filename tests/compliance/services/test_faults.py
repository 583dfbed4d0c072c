"""Faults moto cannot produce, injected on the real HTTP path by tests/helpers/fault_proxy.py: AccessDenied on
one region's security groups or one bucket's policy gives NOT_EVALUATED for exactly that part, the rest of the
scan is judged; throttling is retried away."""

from __future__ import annotations

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.runner import ScanOptions, scan
from tests.compliance.services.helpers import boto, collect, run_check, statuses
from tests.helpers.fault_proxy import Fault, FaultProxy

R, EU = "us-east-1", "eu-west-1"


def test_access_denied_in_one_region_leaves_other_regions_judged(moto) -> None:
    for region in (R, EU):
        ec2 = boto(moto.url, "ec2", region)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.create_security_group(GroupName="g", Description="x", VpcId=vpc)
    # the collect helper walks regions in order: the first DescribeSecurityGroups is us-east-1's
    with FaultProxy(moto.url, [Fault("DescribeSecurityGroups", "UnauthorizedOperation", times=1)]) as proxy:
        inv = collect(proxy.url, ["ec2"], regions=[R, EU]).inventory
    assert inv.failures[("ec2", R, "security_groups")].code == "AccessDenied"
    assert inv.has("ec2", "vpcs", R)  # the rest of the region's EC2 data was still fetched
    res = run_check(inv, "ec2_securitygroup_no_ipv4_ingress_to_admin_ports")
    by_region: dict[str, set[str]] = {}
    for r in res:
        by_region.setdefault(r.region, set()).add(str(r.status))
    assert by_region == {R: {"NOT_EVALUATED"}, EU: {"PASS"}}
    denied = next(r for r in res if r.region == R)
    assert "DescribeSecurityGroups" in denied.reason and "AccessDenied" in denied.reason


def test_access_denied_on_one_bucket_policy(moto) -> None:
    s3 = boto(moto.url, "s3")
    for name in ("open-bucket", "locked-bucket"):
        s3.create_bucket(Bucket=name)
    with FaultProxy(moto.url, [Fault("", "AccessDenied", path_contains="locked-bucket?policy")]) as proxy:
        inv = collect(proxy.url, ["s3"]).inventory
    assert statuses(run_check(inv, "s3_bucket_secure_transport_policy")) == {
        "open-bucket": "FAIL", "locked-bucket": "NOT_EVALUATED"}
    assert inv.has("s3", "bucket_versioning/locked-bucket")  # other settings of that bucket still read


def test_throttling_is_retried_by_the_runner(moto) -> None:
    boto(moto.url, "kms").create_key()
    with FaultProxy(moto.url, [Fault("ListKeys", "ThrottlingException", 400, times=2)]) as proxy:
        run = scan(ScanOptions(endpoint_url=proxy.url, regions=[R], services={"kms"}, check_ids={"kms_cmk_rotation_enabled"}))
    assert [r.status for r in run.results] == [Status.FAIL]
    assert run.failures == []
