"""Matcher throughput on synthetic CloudTrail events: the indexed engine vs trying every rule on every event.

    .venv/bin/python bench/bench_detect.py [--events 50000] [--repeats 3]

Prints events/s (median of the repeats) for: the indexed matcher, the naive loop over every compiled rule
(same closures, no index: the cost of "try every rule"), and the full Detector (index + alerts +
correlation state), plus the indexed/naive ratio — for the built-in CloudTrail rules and for all built-in
rules. One core, same run, same events.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.detect.engine import Detector, load_rules

ACCT = "111122223333"
COMMON = [  # (eventSource, eventName, weight): a read-heavy estate, as real trails are
    ("ec2.amazonaws.com", "DescribeInstances", 20), ("s3.amazonaws.com", "GetObject", 15),
    ("s3.amazonaws.com", "PutObject", 8), ("sts.amazonaws.com", "AssumeRole", 10),
    ("kms.amazonaws.com", "Decrypt", 12), ("kms.amazonaws.com", "GenerateDataKey", 6),
    ("logs.amazonaws.com", "PutLogEvents", 5), ("iam.amazonaws.com", "ListRoles", 3),
    ("lambda.amazonaws.com", "Invoke", 5), ("dynamodb.amazonaws.com", "GetItem", 5),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", 3), ("s3.amazonaws.com", "ListBuckets", 2),
    ("secretsmanager.amazonaws.com", "GetSecretValue", 2), ("ssm.amazonaws.com", "GetParameter", 2),
    ("ec2.amazonaws.com", "CreateNetworkInterface", 1), ("signin.amazonaws.com", "ConsoleLogin", 0.3),
]
RARE = [  # high-value events, ~1% of the stream
    ("s3.amazonaws.com", "CreateBucket"), ("s3.amazonaws.com", "PutBucketPolicy"), ("cloudtrail.amazonaws.com", "StopLogging"),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"), ("iam.amazonaws.com", "CreateAccessKey"),
    ("iam.amazonaws.com", "AttachUserPolicy"), ("kms.amazonaws.com", "ScheduleKeyDeletion"), ("ec2.amazonaws.com", "CreateRoute"),
]
AGENTS = ["aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64", "Boto3/1.34.0 Python/3.11 Linux/6.1 Botocore/1.34.0",
          "console.amazonaws.com", "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21", "Terraform/1.7.0"]


def make_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names = [(s, e) for s, e, _w in COMMON]
    weights = [w for _s, _e, w in COMMON]
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    out = []
    for i in range(n):
        source, name = rng.choice(RARE) if rng.random() < 0.01 else rng.choices(names, weights)[0]
        user = f"user{rng.randrange(200)}"
        if rng.random() < 0.6:
            ident: dict[str, Any] = {
                "type": "AssumedRole", "principalId": f"AROA:{user}", "arn": f"arn:aws:sts::{ACCT}:assumed-role/app{rng.randrange(20)}/{user}",
                "accountId": ACCT, "accessKeyId": f"ASIA{i:016d}",
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCT}:role/app", "userName": "app"},
                                   "attributes": {"mfaAuthenticated": "false"}}}
        else:
            ident = {"type": "IAMUser", "principalId": f"AIDA{user}", "arn": f"arn:aws:iam::{ACCT}:user/{user}",
                     "accountId": ACCT, "accessKeyId": f"AKIA{i:016d}", "userName": user}
        out.append({
            "eventVersion": "1.09", "userIdentity": ident,
            "eventTime": (t0 + timedelta(milliseconds=i * 50)).isoformat().replace("+00:00", "Z"),
            "eventSource": source, "eventName": name, "awsRegion": rng.choice(["us-east-1", "eu-west-1", "ap-south-1"]),
            "sourceIPAddress": f"203.0.113.{rng.randrange(255)}", "userAgent": rng.choice(AGENTS),
            "requestParameters": {"bucketName": f"bucket-{rng.randrange(50)}", "key": f"k/{i}"} if source == "s3.amazonaws.com" else {"x": i},
            "responseElements": None, "requestID": f"r{i}", "eventID": f"ev-{i}", "readOnly": name.startswith(("Get", "List", "Describe")),
            "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCT,
        })
    return out


def rate(fn: Callable[[], int], n: int, repeats: int) -> tuple[float, int]:
    rates = []
    hits = 0
    for _ in range(repeats):
        start = time.perf_counter()
        hits = fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), hits


def run(label: str, include: bool | str, events: list[dict[str, Any]], repeats: int) -> None:
    t = time.perf_counter()
    ruleset = load_rules([], include_builtin=include)
    load_s = time.perf_counter() - t
    single = len(ruleset.compiled())
    print(f"== {label}: {len(ruleset.rules)} rules ({single} single-event, {len(ruleset.correlations)} correlation), "
          f"{len(ruleset.unsupported)} unsupported; loaded+compiled in {load_s:.2f}s")
    print(f"   index: {', '.join(ruleset.index_fields)}; rules always tried: {len(ruleset._always)}")

    def indexed() -> int:
        m = ruleset.matching_rules
        return sum(len(m(e)) for e in events)

    def naive() -> int:
        m = ruleset.matching_rules_naive
        return sum(len(m(e)) for e in events)

    times = [datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) for e in events]

    def detector() -> int:
        det = Detector(ruleset)
        return sum(len(det.process(e, ts)) for e, ts in zip(events, times, strict=True))

    r_idx, hits_idx = rate(indexed, len(events), repeats)
    r_naive, hits_naive = rate(naive, len(events), repeats)
    r_det, alerts = rate(detector, len(events), repeats)
    assert hits_idx == hits_naive, "indexed and naive matchers disagree"
    print(f"   indexed matcher : {r_idx:12,.0f} events/s  ({hits_idx} rule matches)")
    print(f"   naive every-rule: {r_naive:12,.0f} events/s  ({hits_naive} rule matches)")
    print(f"   ratio indexed/naive: {r_idx / r_naive:.1f}x")
    print(f"   Detector.process (index + alerts + correlations): {r_det:12,.0f} events/s  ({alerts} alerts)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    events = make_events(args.events)
    print(f"events: {len(events)} synthetic CloudTrail events (~1% high-value), median of {args.repeats} runs, one core")
    run("built-in CloudTrail rules (what trail ingest runs)", "cloudtrail", events, args.repeats)
    run("all built-in rules (CloudTrail + Linux host)", True, events, args.repeats)


if __name__ == "__main__":
    main()
