"""The services' collectors and checks through the real scan runner against moto_server: no collector
fails, no check crashes, every check of our sections yields results, regional results carry regions."""

from __future__ import annotations

from cloudwarden.compliance.checks.base import Status, all_checks
from cloudwarden.compliance.runner import ScanOptions, scan
from tests.compliance.services.helpers import boto
from tests.compliance.services.test_checks_logging import seed_trails

SERVICES = {"s3", "cloudtrail", "config", "kms", "logs", "cloudwatch", "sns", "ec2", "rds", "efs", "cloudfront", "elb",
            "elbv2", "apigateway", "apigatewayv2", "macie2", "securityhub"}
OUR_CHECK_SERVICES = SERVICES - {"logs", "sns"}


def test_scan_of_seeded_account_evaluates_every_services_check(moto) -> None:
    seed_trails(moto.url)
    ec2 = boto(moto.url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.create_security_group(GroupName="open", Description="x", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)

    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1", "eu-west-1"], framework="cis-7.0",
                           services=SERVICES, max_workers=8))
    ours = {cid for cid, c in all_checks().items() if c.meta.service in OUR_CHECK_SERVICES and "7.0" in c.meta.cis}
    by_check: dict[str, list] = {}
    for r in run.results:
        by_check.setdefault(r.check_id, []).append(r)
    assert sorted(ours - set(by_check)) == []
    crashed = [r for r in run.results if "could not evaluate" in r.reason]
    assert crashed == []
    assert [f.reason for f in run.failures if f.failure.service in SERVICES] == []
    ne = [(r.check_id, r.reason) for r in run.results if r.status is Status.NOT_EVALUATED and r.check_id in ours]
    # the only expected NOT_EVALUATED: none — every service is collected by moto
    assert ne == []
    sg_results = [r for r in by_check["ec2_securitygroup_no_ipv4_ingress_to_admin_ports"] if r.resource_arn.endswith(sg)]
    assert [(str(r.status), r.region) for r in sg_results] == [("FAIL", "us-east-1")]
    assert {r.region for r in by_check["ec2_ebs_default_encryption"]} == {"us-east-1", "eu-west-1"}
    assert run.api_requests > 0
