"""Dashboard and API render times with 1,000,000 CloudTrail events in the lake and 10,000 findings stored.

Builds the data synthetically (Arrow columns written straight into the lake's partition layout; findings
through the posture store), serves the real app with uvicorn on a loopback port, and times each page over
real HTTP with a logged-in session. The same-run reference is the /healthz round trip. Prints p50/p95 per
page and the ratio to the reference. Target: p95 < 300 ms per page.

    .venv/bin/python bench/bench_dashboard.py [--events 1000000] [--findings 10000] [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_lake(root: Path, n_events: int, days: int = 30, accounts: int = 2) -> float:
    from cloudwarden.store.lake import API_SCHEMA, API_TABLE, Lake

    t0 = time.perf_counter()
    lake = Lake(root)
    apis = ["GetObject", "PutObject", "ListBuckets", "AssumeRole", "DescribeInstances", "CreateUser", "PutBucketPolicy",
            "ConsoleLogin", "GetCallerIdentity", "StopLogging", "AuthorizeSecurityGroupIngress", "Decrypt"]
    services = ["s3", "s3", "s3", "sts", "ec2", "iam", "s3", "signin", "sts", "cloudtrail", "ec2", "kms"]
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
    per_part = n_events // (days * accounts)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    written = 0
    for d in range(days):
        day = (start + timedelta(days=d)).date()
        for a in range(accounts):
            acct = f"{111111111111 * (a + 1):012d}"
            n = per_part if (d, a) != (days - 1, accounts - 1) else n_events - written
            base = d * 86400
            idx = range(written, written + n)
            cols = {
                "event_id": [f"ev-{i:08d}" for i in idx],
                "time": [start + timedelta(seconds=base + (i - written) * 86400 / n) for i in idx],
                "account": [acct] * n,
                "region": [regions[i % 4] for i in idx],
                "service": [f"{services[i % 12]}.amazonaws.com" for i in idx],
                "api": [apis[i % 12] for i in idx],
                "principal": [f"arn:aws:iam::{acct}:user/user{i % 500}" for i in idx],
                "principal_type": ["IAMUser"] * n,
                "source_ip": [f"198.51.{(i // 250) % 250}.{i % 250}" for i in idx],
                "user_agent": [("aws-cli/2.15 Python/3.11" if i % 3 else "Boto3/1.34") for i in idx],
                "raw": ["{}"] * n,
            }
            arrays = []
            for field in API_SCHEMA:
                if field.name in cols:
                    arrays.append(pa.array(cols[field.name], type=field.type))
                elif field.name == "event_date":
                    arrays.append(pa.array([day] * n, type=pa.date32()))
                elif pa.types.is_list(field.type):
                    arrays.append(pa.array([[] for _ in range(n)], type=field.type))
                elif pa.types.is_string(field.type):
                    arrays.append(pa.array([""] * n, type=field.type))
                else:
                    arrays.append(pa.nulls(n, type=field.type))
            lake.write_table(API_TABLE, day, acct, pa.Table.from_arrays(arrays, schema=API_SCHEMA), f"bench-{day}-{a}")
            written += n
    return time.perf_counter() - t0


def build_findings(ctx: object, n: int) -> float:
    from cloudwarden.server.posture_store import Result

    t0 = time.perf_counter()
    sev = ["critical", "high", "medium", "low"]
    results = [Result("111111111111", f"check_{i % 150:03d}", f"arn:aws:s3:::bucket-{i:06d}", ["global", "us-east-1"][i % 2],
                      "FAIL" if i % 5 == 0 else "PASS", "synthetic", severity=sev[i % 4], service="s3", title=f"Control {i % 150}",
                      remediation="Do the right thing.", controls=f"cis-7.0:{1 + i % 5}.{i % 30} soc2:CC{i % 9} pci-4.0:{1 + i % 12}.1")
               for i in range(n)]
    ctx.posture.apply(results, account="111111111111", checks=[], cause="bench scan")  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def build_alerts(ctx: object, n: int) -> None:
    from cloudwarden.models.alert import Alert

    t = datetime(2026, 1, 15, tzinfo=UTC)
    alerts = [Alert(rule_id=f"rule-{i % 40}", title=f"Rule {i % 40}", severity=["critical", "high", "medium", "low"][i % 4],
                    source="cloudtrail", explanation="synthetic", first_seen=t, last_seen=t + timedelta(minutes=i),
                    entity=f"arn:aws:iam::111111111111:user/user{i}", account="111111111111", evidence=[{"i": i}], evidence_ids=[f"a{i}"])
              for i in range(n)]
    ctx.raise_alerts(alerts)  # type: ignore[attr-defined]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--findings", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-dash-"))
    os.environ["CLOUDWARDEN_HOME"] = str(tmp / "home")
    import uvicorn

    from cloudwarden.config import load_settings
    from cloudwarden.demo.moto import free_port
    from cloudwarden.server.app import create_app

    settings = load_settings()
    settings.server.scheduler_enabled = False
    app = create_app(settings)
    ctx = app.state.ctx
    lake_s = build_lake(settings.lake_path, args.events)
    find_s = build_findings(ctx, args.findings)
    build_alerts(ctx, 500)
    ctx.auth.add_user("bench", "bench-password-1", "admin")
    print(f"data: {args.events:,} events in the lake ({lake_s:.1f} s to write), {args.findings:,} findings ({find_s:.1f} s), 500 alerts")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as c:
        for _ in range(100):
            try:
                c.get("/healthz")
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        page = c.get("/login", headers={"accept": "text/html"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        r = c.post("/login", data={"username": "bench", "password": "bench-password-1", "csrf": csrf})
        assert r.status_code in (200, 303), r.status_code
        targets = [
            ("reference /healthz", "/healthz"),
            ("page /posture", "/posture"),
            ("page /alerts", "/alerts"),
            ("page /events (latest)", "/events"),
            ("page /events?api=StopLogging", "/events?api=StopLogging"),
            ("page /events?principal=user42&region", "/events?principal=user42&region=eu-west-1"),
            ("page /events (time range)", "/events?since=2026-01-10T00:00&until=2026-01-11T00:00"),
            ("page /events (offset 5000)", "/events?offset=5000"),
            ("page /events (page 100 by cursor)", "/events?cursor=2026-01-27T12:00:00%2B00:00|ev-00000000&page=100"),
            ("page /hosts", "/hosts"),
            ("page /settings", "/settings"),
            ("api /api/v1/findings?status=FAIL", "/api/v1/findings?status=FAIL&limit=100"),
            ("api /api/v1/events?source_ip", "/api/v1/events?source_ip=198.51.7.7"),
            ("api /api/v1/frameworks", "/api/v1/frameworks"),
        ]
        print(f"{'target':<42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p95/ref':>8}  bytes")
        ref_p50 = None
        for label, path in targets:
            first = c.get(path, headers={"accept": "text/html"})
            assert first.status_code == 200, (path, first.status_code, first.text[:200])
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                resp = c.get(path, headers={"accept": "text/html"})
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200
            p50, p95 = statistics.median(times), pct(times, 0.95)
            ref_p50 = ref_p50 or p50
            flag = "" if p95 < 300 else "  (over 300 ms target)"
            print(f"{label:<42} {p50:8.1f} {p95:8.1f} {max(times):8.1f} {p95 / ref_p50:8.1f}x  {len(first.content)}{flag}")
    server.should_exit = True
    th.join(10)
    ctx.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
