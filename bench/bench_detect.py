"""Matcher throughput on synthetic CloudTrail events: the indexed engine vs trying every rule on every event.

    .venv/bin/python bench/bench_detect.py [--events 50000] [--repeats 3] [--sigma DIR] [--corpus DIR]

Prints events/s (median of the repeats) for: the matcher with plans (the default path: candidates and the
rule parts decided by the index values remembered per tuple of those values), the index alone (every
candidate's whole detection tried), the naive loop over every compiled rule (same closures, no index: the
cost of "try every rule"), and the full Detector (plans + alerts + correlation state, explain=False as the
ingest runs it), plus ratios — for the built-in CloudTrail rules, all built-in rules, and (with --sigma) the
built-ins plus a folder of Sigma rules such as SigmaHQ's rules/cloud/aws/cloudtrail. With --corpus, the events
are read from 20 CloudTrail .json.gz files spread over that folder instead of being synthesised.
One core, same run, same events.
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

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


def corpus_events(root: Path, files: int = 20) -> list[dict[str, Any]]:
    paths = sorted(root.rglob("*.json.gz"))
    step = max(1, len(paths) // files)
    out: list[dict[str, Any]] = []
    for path in paths[::step][:files]:
        out.extend(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return out


def run(label: str, include: bool | str, events: list[dict[str, Any]], repeats: int,
        extra: list[str] | None = None) -> None:
    t = time.perf_counter()
    ruleset = load_rules(extra or [], include_builtin=include)
    load_s = time.perf_counter() - t
    single = len(ruleset.compiled())
    print(f"== {label}: {len(ruleset.rules)} rules ({single} single-event, {len(ruleset.correlations)} correlation), "
          f"{len(ruleset.unsupported)} unsupported; loaded+compiled in {load_s:.2f}s")
    print(f"   index: {', '.join(ruleset.index_fields)}; rules always tried: {len(ruleset._always)}")

    def planned() -> int:
        m = ruleset.matching_rules
        return sum(len(m(e)) for e in events)

    def indexed() -> int:
        m = ruleset.matching_rules_indexed
        return sum(len(m(e)) for e in events)

    def naive() -> int:
        m = ruleset.matching_rules_naive
        return sum(len(m(e)) for e in events)

    times = [datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) for e in events]

    def detector() -> int:
        det = Detector(ruleset, explain=False)
        return sum(len(det.process(e, ts)) for e, ts in zip(events, times, strict=True))

    r_plan, hits_plan = rate(planned, len(events), repeats)
    r_idx, hits_idx = rate(indexed, len(events), repeats)
    r_naive, hits_naive = rate(naive, len(events), repeats)
    r_det, alerts = rate(detector, len(events), repeats)
    assert hits_plan == hits_idx == hits_naive, "planned, indexed and naive matchers disagree"
    print(f"   planned matcher : {r_plan:12,.0f} events/s  ({hits_plan} rule matches; {len(ruleset._plans)} plans)")
    print(f"   index only      : {r_idx:12,.0f} events/s  ({hits_idx} rule matches)")
    print(f"   naive every-rule: {r_naive:12,.0f} events/s  ({hits_naive} rule matches)")
    print(f"   ratio planned/index: {r_plan / r_idx:.2f}x, planned/naive: {r_plan / r_naive:.1f}x")
    print(f"   Detector.process (plans + alerts + correlations, explain=False): {r_det:12,.0f} events/s "
          f"= {1e6 / r_det:.2f} us/event  ({alerts} alerts)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sigma", help="also run with this folder of Sigma rules added to the CloudTrail built-ins")
    ap.add_argument("--corpus", help="read events from 20 .json.gz CloudTrail files under this folder")
    args = ap.parse_args()
    if args.corpus:
        events = corpus_events(Path(args.corpus))
        print(f"events: {len(events)} CloudTrail events from 20 files of {args.corpus}, median of {args.repeats} runs, one core")
    else:
        events = make_events(args.events)
        print(f"events: {len(events)} synthetic CloudTrail events (~1% high-value), median of {args.repeats} runs, one core")
    run("built-in CloudTrail rules (what trail ingest runs)", "cloudtrail", events, args.repeats)
    if args.sigma:
        run(f"built-in CloudTrail rules + {args.sigma}", "cloudtrail", events, args.repeats, [args.sigma])
    run("all built-in rules (CloudTrail + Linux host)", True, events, args.repeats)


if __name__ == "__main__":
    main()
