"""End to end against moto_server: a bucket policy change made through boto3 reaches the server as a
CloudTrail event; the server re-collects S3, the control flips to FAIL within seconds, the posture view
shows the change with its cause, and a compliance alert is raised."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import boto3
from fastapi.testclient import TestClient

from cloudwarden.compliance.runner import ScanOptions, scan
from cloudwarden.config import load_settings
from cloudwarden.server.app import create_app
from cloudwarden.server.scheduler import record_scan

CHECK = "s3_bucket_secure_transport_policy"
ACCOUNT = "123456789012"  # moto's account


def _tls_only(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyHttp", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})


def _public_read(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def _put_policy_event(bucket: str, policy: str) -> dict[str, Any]:
    return {
        "eventVersion": "1.09", "eventID": "8d5e2f7c-put-policy-0001", "eventTime": "2026-03-01T10:00:00Z",
        "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15", "recipientAccountId": ACCOUNT, "eventType": "AwsApiCall",
        "readOnly": False, "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory", "accountId": ACCOUNT,
                                            "accessKeyId": "AKIAEXAMPLE", "userName": "mallory"},
        "requestParameters": {"bucketName": bucket, "bucketPolicy": json.loads(policy), "Host": f"{bucket}.s3.amazonaws.com"},
        "responseElements": None,
    }


def test_bucket_policy_change_flips_control_and_alerts(moto: Any) -> None:
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    s3.create_bucket(Bucket="payroll")
    s3.put_bucket_policy(Bucket="payroll", Policy=_tls_only("payroll"))

    settings = load_settings()
    settings.server.accounts = [{"name": "demo", "endpoint_url": moto.url, "regions": ["us-east-1"]}]
    settings.server.scan_interval_s = 0  # only the live path runs in this test
    settings.server.baseline_interval_s = 0
    settings.server.report_interval_s = 0
    app = create_app(settings)
    ctx = app.state.ctx
    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1"], services={"s3"}))
    record_scan(ctx, run)
    arn = "arn:aws:s3:::payroll"
    assert ctx.posture.get(ACCOUNT, CHECK, arn)["status"] == "PASS"
    ctx.auth.add_user("ana", "analyst-password", "analyst")
    token = ctx.auth.create_token("ana", "test")

    # the scan is stored too: scans, diffs and report downloads come from the compliance store
    with TestClient(create_app(settings, state=ctx.state, background=False)) as api:
        h0 = {"authorization": f"Bearer {token}"}
        scans = api.get("/api/v1/scans", headers=h0).json()["items"]
        assert len(scans) == 1
        detail = api.get(f"/api/v1/scans/{scans[0]['id']}", params={"limit": 5}, headers=h0).json()
        assert detail["results"]["total"] >= 1 and len(detail["results"]["items"]) <= 5
        assert "summary" in api.get(f"/api/v1/scans/{scans[0]['id']}/diff", headers=h0).json()
        for fmt, needle in (("csv", "payroll"), ("html", "payroll"), ("ocsf", "class_uid"), ("asff", "SchemaVersion")):
            r = api.get(f"/api/v1/reports/latest.{fmt}", headers=h0)
            assert r.status_code == 200 and needle in r.text and "attachment" in r.headers["content-disposition"], fmt
        assert api.get("/api/v1/reports/latest.exe", headers=h0).status_code == 404

    with TestClient(app) as client:  # the lifespan starts the scheduler's workers
        # the change, made the way an attacker would
        s3.put_bucket_policy(Bucket="payroll", Policy=_public_read("payroll"))
        t0 = time.monotonic()
        r = client.post("/api/v1/ingest/cloudtrail", json={"Records": [_put_policy_event("payroll", _public_read("payroll"))]},
                        headers={"authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["rechecks_queued"] == 1
        deadline = t0 + 20
        while time.monotonic() < deadline and ctx.posture.get(ACCOUNT, CHECK, arn)["status"] != "FAIL":
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        row = ctx.posture.get(ACCOUNT, CHECK, arn)
        assert row["status"] == "FAIL", f"control did not flip ({ctx.jobs.list(5)})"
        assert elapsed < 10
        assert "PutBucketPolicy on payroll by arn:aws:iam::123456789012:user/mallory" in row["cause"]

        h = {"authorization": f"Bearer {token}"}
        changes = client.get("/api/v1/posture/changes", headers=h).json()["items"]
        flip = next(c for c in changes if c["check_id"] == CHECK)
        assert (flip["old_status"], flip["new_status"], flip["kind"]) == ("PASS", "FAIL", "live")
        alerts = client.get("/api/v1/alerts", params={"source": "compliance"}, headers=h).json()["items"]
        assert len(alerts) == 1
        a = alerts[0]
        assert a["rule_id"] == CHECK and a["entity"] == arn and "PutBucketPolicy" in a["explanation"]
        # the same event delivered twice does not raise a second alert
        client.post("/api/v1/ingest/cloudtrail", json={"Records": [_put_policy_event("payroll", _public_read("payroll"))]}, headers=h)
        time.sleep(0.5)
        assert client.get("/api/v1/alerts", params={"source": "compliance"}, headers=h).json()["total"] == 1

        # the posture page shows it, with when and why
        page = client.get("/login", headers={"accept": "text/html"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"username": "ana", "password": "analyst-password", "csrf": csrf})
        html = client.get("/posture", headers={"accept": "text/html"}).text
        assert "mallory" in html and "arn:aws:s3:::payroll" in html

        # fixing it flips back, and that is a change too
        s3.put_bucket_policy(Bucket="payroll", Policy=_tls_only("payroll"))
        ev = _put_policy_event("payroll", _tls_only("payroll"))
        ev["eventID"] = "8d5e2f7c-put-policy-0002"
        client.post("/api/v1/ingest/cloudtrail", json={"Records": [ev]}, headers=h)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ctx.posture.get(ACCOUNT, CHECK, arn)["status"] != "PASS":
            time.sleep(0.05)
        assert ctx.posture.get(ACCOUNT, CHECK, arn)["status"] == "PASS"


def test_trail_poll_ingests_new_objects_and_queues_rechecks(moto: Any) -> None:
    import gzip

    from cloudwarden.server.context import ServerContext
    from cloudwarden.server.scheduler import run_trail_poll

    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    s3.create_bucket(Bucket="trail-logs")
    ev = _put_policy_event("payroll", _public_read("payroll"))
    ev["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    other = {**ev, "eventID": "read-1", "eventName": "GetBucketPolicy", "readOnly": True}
    key = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{ev['eventTime'][:10].replace('-', '/')}/{ACCOUNT}_CloudTrail_us-east-1_x.json.gz"
    s3.put_object(Bucket="trail-logs", Key=key, Body=gzip.compress(json.dumps({"Records": [ev, other]}).encode()))
    settings = load_settings()
    settings.server.accounts = [{"name": "demo", "endpoint_url": moto.url, "regions": ["us-east-1"], "trail_bucket": "trail-logs"}]
    ctx = ServerContext(settings)
    first = run_trail_poll(ctx, {"account": "demo"})
    assert first["events"] == 2 and first["rechecks_queued"] == 1
    jobs = [j for j in ctx.jobs.list(10) if j["kind"] == "live_recheck"]
    assert jobs and jobs[0]["payload"]["service"] == "s3" and jobs[0]["payload"]["resource"] == "payroll"
    # checkpointed: polling again reads nothing new
    assert run_trail_poll(ctx, {"account": "demo"})["events"] == 0
    ctx.close()


def test_event_for_an_unconfigured_account_is_not_rechecked(moto: Any) -> None:
    from cloudwarden.server.change_map import change_target
    from cloudwarden.server.context import ServerContext
    from cloudwarden.server.live import recheck

    settings = load_settings()
    settings.server.accounts = [{"name": "demo", "endpoint_url": moto.url, "regions": ["us-east-1"]}]
    ctx = ServerContext(settings)
    ev = _put_policy_event("payroll", _public_read("payroll"))
    ev["recipientAccountId"] = "999999999999"
    target = change_target(ev)
    assert target is not None
    out = recheck(ctx, target)
    assert "999999999999 is not configured" in out["skipped"] and ctx.posture.counts() == {}
    ctx.close()
