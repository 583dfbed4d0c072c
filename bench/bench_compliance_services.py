#!/usr/bin/env python3
"""Storage/Logging/Monitoring/Networking compliance: collection and evaluation cost. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_compliance_services.py [--regions 17] [--scale 1.0] [--repeat 3]

1. Evaluation (pure): every check of our four sections over a synthetic Organization-member-sized
   inventory (N regions x security groups, NACLs, VPCs, instances, route tables, KMS keys, load balancers;
   plus buckets, a trail with CloudWatch metric filters). Same-run baseline: a bare pass that touches every
   value once and builds as many bare result records as the checks emit (the floor any evaluator pays).
   Prints results, median wall, results/s, ratio to the floor, and the peak Python heap (tracemalloc).
2. Metric filter judging: CIS-style patterns parsed and run against each control's sample events, per second.
3. Collection through the real runner against moto_server: our services on a seeded account in two regions,
   one API call in flight (baseline) versus 16, median wall, API requests, ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from cloudwarden.compliance.checks.base import CheckResult, Status, all_checks  # noqa: E402
from cloudwarden.compliance.inventory import GLOBAL, Inventory  # noqa: E402
from cloudwarden.compliance.metric_filters import SPECS, judge  # noqa: E402

OUR_SERVICES = {"s3", "rds", "efs", "macie2", "cloudtrail", "config", "kms", "ec2", "cloudfront", "elb", "elbv2",
                "apigateway", "apigatewayv2", "cloudwatch", "securityhub"}
COLLECT = ["s3", "cloudtrail", "config", "kms", "logs", "cloudwatch", "sns", "ec2", "rds", "efs", "cloudfront", "elb",
           "elbv2", "apigateway", "apigatewayv2", "macie2", "securityhub"]
REGIONS17 = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
             "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
             "ap-southeast-1", "ap-southeast-2", "sa-east-1"]
ROOT_PATTERN = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'


def synthetic_inventory(regions: list[str], scale: float) -> Inventory:
    n = lambda k: max(1, int(k * scale))  # noqa: E731
    inv = Inventory("111122223333", regions=regions)
    acct = inv.account_id
    for r in regions:
        vpcs = [{"VpcId": f"vpc-{r}-{i}", "CidrBlock": f"10.{i % 250}.0.0/16"} for i in range(n(10))]
        inv.put("ec2", "vpcs", vpcs, r)
        inv.put("ec2", "flow_logs", [{"ResourceId": v["VpcId"], "FlowLogId": "fl", "TrafficType": "ALL"} for v in vpcs[::2]], r)
        inv.put("ec2", "security_groups", [{
            "GroupId": f"sg-{r}-{i}", "GroupName": "default" if i < len(vpcs) else f"g{i}", "VpcId": vpcs[i % len(vpcs)]["VpcId"],
            "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 20 + i % 500, "ToPort": 30 + i % 4000,
                               "IpRanges": [{"CidrIp": "0.0.0.0/0" if i % 7 == 0 else "10.0.0.0/8"}],
                               "Ipv6Ranges": [{"CidrIpv6": "::/0"}] if i % 11 == 0 else []}],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]} for i in range(n(300))], r)
        inv.put("ec2", "network_acls", [{"NetworkAclId": f"acl-{r}-{i}", "Entries": [
            {"RuleNumber": 100 + j, "Protocol": "6", "RuleAction": "allow" if j % 3 else "deny", "Egress": False,
             "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 1000 * j, "To": 1000 * j + 999}} for j in range(8)]
            + [{"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": False, "CidrBlock": "0.0.0.0/0"}]}
            for i in range(n(60))], r)
        inv.put("ec2", "instances", [{"InstanceId": f"i-{r}-{i}", "VpcId": vpcs[i % len(vpcs)]["VpcId"],
                                      "State": {"Name": "running"},
                                      "MetadataOptions": {"HttpTokens": "required" if i % 2 else "optional"}}
                                     for i in range(n(200))], r)
        inv.put("ec2", "route_tables", [{"RouteTableId": f"rtb-{r}-{i}", "VpcId": vpcs[0]["VpcId"], "Routes": [
            {"DestinationCidrBlock": "10.1.0.0/16" if i % 2 else "10.1.3.0/24", "VpcPeeringConnectionId": "pcx-1"}]}
            for i in range(n(40))], r)
        inv.put("ec2", "vpc_peering_connections", [{"VpcPeeringConnectionId": "pcx-1",
                                                    "RequesterVpcInfo": {"VpcId": vpcs[0]["VpcId"], "CidrBlock": "10.0.0.0/16"},
                                                    "AccepterVpcInfo": {"VpcId": "vpc-peer", "CidrBlock": "10.1.0.0/16"}}], r)
        inv.put("ec2", "vpc_endpoints", [{"VpcId": vpcs[0]["VpcId"], "ServiceName": f"com.amazonaws.{r}.s3"}], r)
        inv.put("ec2", "ebs_encryption_by_default", {"EbsEncryptionByDefault": r.startswith("eu")}, r)
        keys = [{"KeyId": f"k{i}", "KeyArn": f"arn:aws:kms:{r}:{acct}:key/k{i}"} for i in range(n(20))]
        inv.put("kms", "keys", keys, r)
        for i, k in enumerate(keys):
            inv.put("kms", f"key_metadata/{k['KeyId']}", {"KeyManager": "CUSTOMER", "KeySpec": "SYMMETRIC_DEFAULT",
                                                          "KeyState": "Enabled", "Origin": "AWS_KMS"}, r)
            inv.put("kms", f"key_rotation/{k['KeyId']}", {"KeyRotationEnabled": bool(i % 2)}, r)
        inv.put("rds", "db_instances", [{"DBInstanceArn": f"arn:aws:rds:{r}:{acct}:db:d{i}", "StorageEncrypted": bool(i % 2),
                                         "PubliclyAccessible": False, "AutoMinorVersionUpgrade": True, "MultiAZ": False}
                                        for i in range(n(20))], r)
        inv.put("rds", "db_clusters", [], r)
        inv.put("efs", "file_systems", [{"FileSystemId": f"fs-{i}", "Encrypted": bool(i % 2)} for i in range(n(10))], r)
        lbs = [{"LoadBalancerArn": f"arn:aws:elasticloadbalancing:{r}:{acct}:loadbalancer/app/lb{i}/x", "Type": "application"}
               for i in range(n(10))]
        inv.put("elbv2", "load_balancers", lbs, r)
        for lb in lbs:
            inv.put("elbv2", f"load_balancer_attributes/{lb['LoadBalancerArn']}", [{"Key": "access_logs.s3.enabled", "Value": "false"}], r)
        inv.put("elb", "load_balancers", [], r)
        inv.put("apigateway", "rest_apis", [], r)
        inv.put("apigatewayv2", "apis", [], r)
        inv.put("config", "recorders", [{"name": "default", "recordingGroup": {"allSupported": True}}], r)
        inv.put("config", "recorder_statuses", [{"name": "default", "recording": True, "lastStatus": "SUCCESS"}], r)
        inv.put("config", "delivery_channels", [{"name": "default"}], r)
        inv.put("securityhub", "hub", {"HubArn": f"arn:aws:securityhub:{r}:{acct}:hub/default"}, r)
        inv.put("macie2", "session", {"status": "ENABLED"}, r)
        trail = {"TrailARN": f"arn:aws:cloudtrail:us-east-1:{acct}:trail/main", "Name": "main", "HomeRegion": regions[0],
                 "IsMultiRegionTrail": True, "LogFileValidationEnabled": True, "S3BucketName": "b0",
                 "CloudWatchLogsLogGroupArn": f"arn:aws:logs:{regions[0]}:{acct}:log-group:ct:*"}
        inv.put("cloudtrail", "trails", [trail], r)
        inv.put("logs", "metric_filters", [{"filterName": f"f{i}", "logGroupName": "ct", "filterPattern": ROOT_PATTERN,
                                            "metricTransformations": [{"metricName": f"m{i}", "metricNamespace": "CIS"}]}
                                           for i in range(n(15))], r)
        inv.put("cloudwatch", "alarms", [{"AlarmName": "a0", "MetricName": "m0", "Namespace": "CIS",
                                          "AlarmActions": [f"arn:aws:sns:{r}:{acct}:t"]}], r)
        inv.put("sns", "subscriptions", [{"TopicArn": f"arn:aws:sns:{r}:{acct}:t", "SubscriptionArn": f"arn:aws:sns:{r}:{acct}:t:1"}], r)
    arn = f"arn:aws:cloudtrail:us-east-1:{acct}:trail/main"
    inv.put("cloudtrail", f"trail_status/{arn}", {"IsLogging": True}, regions[0])
    inv.put("cloudtrail", f"event_selectors/{arn}", {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, regions[0])
    buckets = [{"Name": f"b{i}", "Region": regions[i % len(regions)]} for i in range(n(500))]
    inv.put("s3", "buckets", buckets)
    inv.put("s3", "account_public_access_block", None)
    for b in buckets:
        name = b["Name"]
        inv.put("s3", f"bucket_policy/{name}", None)
        inv.put("s3", f"bucket_public_access_block/{name}", None)
        inv.put("s3", f"bucket_versioning/{name}", {"Status": "Enabled"})
        inv.put("s3", f"bucket_logging/{name}", None)
    inv.put("cloudfront", "distributions", [], GLOBAL)
    return inv


def floor_pass(inv: Inventory, n_results: int) -> int:
    """What any evaluator must at least pay: touch every collected value once and build as many result
    records (with an ARN string each) as the checks produce."""
    count = 0
    for value in inv.data.values():
        if isinstance(value, list):
            for item in value:
                count += len(item) if isinstance(item, dict) else 1
        else:
            count += 1
    out = [CheckResult(Status.PASS, f"arn:aws:ec2:r:{inv.account_id}:x/{i}", "reason", "r") for i in range(n_results)]
    return count + len(out)


def bench_evaluation(regions: list[str], scale: float, repeat: int) -> None:
    checks = [c for c in all_checks().values() if c.meta.service in OUR_SERVICES]
    inv = synthetic_inventory(regions, scale)
    resources = sum(len(v) if isinstance(v, list) else 1 for v in inv.data.values())
    floors, walls, n_results = [], [], 0
    for _ in range(repeat):  # timed without tracemalloc, which slows allocation-heavy code several-fold
        t = time.perf_counter()
        results = [r for c in checks for r in c.evaluate(inv)]
        walls.append(time.perf_counter() - t)
        n_results = len(results)
        del results
        t = time.perf_counter()
        floor_pass(inv, n_results)
        floors.append(time.perf_counter() - t)
    del inv
    tracemalloc.start()  # separate pass for memory: inventory, then inventory + results
    inv = synthetic_inventory(regions, scale)
    inv_bytes = tracemalloc.get_traced_memory()[0]
    results = [r for c in checks for r in c.evaluate(inv)]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del results
    wall, floor = statistics.median(walls), statistics.median(floors)
    print("== evaluation (pure) ==")
    print(f"inventory: {len(regions)} regions, {resources} resources/values, {inv_bytes / 1e6:.1f} MB Python heap")
    print(f"checks: {len(checks)}  results: {n_results}")
    print(f"floor (touch every value once + build {n_results} bare results): median {floor * 1000:.1f} ms over {repeat}")
    print(f"all checks: median {wall * 1000:.1f} ms over {repeat}  ({n_results / wall:,.0f} results/s)  "
          f"ratio to floor {wall / floor:.1f}x")
    print(f"peak Python heap (inventory + results): {peak / 1e6:.1f} MB")


def bench_judge(repeat: int) -> None:
    spec = SPECS["root_usage"]
    n = 2000
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            judge(ROOT_PATTERN, spec)
        walls.append(time.perf_counter() - t)
    wall = statistics.median(walls)
    print("== metric filter judging ==")
    print(f"{n} root-usage patterns parsed and judged: median {wall * 1000:.1f} ms ({n / wall:,.0f} patterns/s)")


def seed_account(url: str) -> None:
    from tests.compliance.services.helpers import boto

    for region in ("us-east-1", "eu-west-1"):
        ec2 = boto(url, "ec2", region)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        for i in range(15):
            g = ec2.create_security_group(GroupName=f"g{i}", Description="x", VpcId=vpc)["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 22 + i, "ToPort": 22 + i, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=5, MaxCount=5)
        kms = boto(url, "kms", region)
        for _ in range(5):
            kms.create_key()
    s3 = boto(url, "s3")
    for i in range(20):
        s3.create_bucket(Bucket=f"bench-bucket-{i}")
    s3.create_bucket(Bucket="trail")
    ct = boto(url, "cloudtrail")
    ct.create_trail(Name="main", S3BucketName="trail", IsMultiRegionTrail=True)
    ct.start_logging(Name="main")


def bench_collection(repeat: int) -> None:
    from tests.helpers.moto_server import MotoServer, aws_test_env

    from cloudwarden.compliance.runner import ScanOptions, scan

    os.environ.update(aws_test_env())
    server = MotoServer().start()
    try:
        seed_account(server.url)
        opts = {"endpoint_url": server.url, "regions": ["us-east-1", "eu-west-1"], "framework": "cis-7.0",
                "services": set(COLLECT)}
        scan(ScanOptions(max_workers=4, **opts))  # warm moto's lazily built backends
        figures: dict[int, tuple[float, int, int]] = {}
        for workers in (1, 16):
            walls, requests, results = [], 0, 0
            for _ in range(repeat):
                t = time.perf_counter()
                run = scan(ScanOptions(max_workers=workers, **opts))
                walls.append(time.perf_counter() - t)
                requests, results = run.api_requests, len(run.results)
            figures[workers] = (statistics.median(walls), requests, results)
    finally:
        server.stop()
    print("== collection + evaluation through the runner, moto_server, 2 regions ==")
    for workers, (wall, requests, results) in figures.items():
        print(f"max_workers={workers:<2}: median {wall:.2f} s over {repeat}, {requests} API requests, {results} results")
    print(f"speed-up 16 vs 1 worker: {figures[1][0] / figures[16][0]:.1f}x")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=17)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-moto", action="store_true")
    args = ap.parse_args()
    bench_evaluation(REGIONS17[: args.regions], args.scale, args.repeat)
    bench_judge(args.repeat)
    if not args.skip_moto:
        bench_collection(args.repeat)


if __name__ == "__main__":
    main()
