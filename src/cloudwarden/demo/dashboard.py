"""The demo's last act: fill the dashboard and serve it (server helper's part of `cloudwarden demo`).

Stages: the simulated account's scan becomes the live posture; a month of the simulated estate's
CloudTrail history (with attacks) goes through the CloudTrail ingest pipeline (lake + Sigma rules); its
host events go to the lake and the host rules; baselines learn from both. Each stage that cannot run (a
subsystem missing or broken) prints why and the rest go on. Then the server runs on 127.0.0.1 with the
simulated account configured, so a change made against moto_server flips the posture live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Say = Callable[[str], None]


def stage(name: str, say: Say, fn: Callable[[], str]) -> bool:
    t0 = time.perf_counter()
    try:
        msg = fn()
    except Exception as exc:  # noqa: BLE001 - a missing or broken subsystem skips its stage, never the demo
        say(f"  [yellow]{name}: skipped[/yellow] ({type(exc).__name__}: {exc})")
        return False
    say(f"  {name}: {msg} [dim]({time.perf_counter() - t0:.1f} s)[/dim]")
    return True


def build_app(settings: Any, endpoint_url: str, region: str) -> Any:
    from cloudwarden.server.app import create_app

    settings.server.accounts = [{"name": "acme-demo", "endpoint_url": endpoint_url, "regions": [region]}]
    # the demo account was just scanned; the scheduler re-scans it hourly and reacts to live changes at once
    app = create_app(settings)
    app.state.ctx.jobs.due("scan:acme-demo", settings.server.scan_interval_s)  # records "scanned now"
    return app


def populate(ctx: Any, scan_record: Any, workdir: Path, say: Say, *, days: int = 28) -> None:
    from cloudwarden.server.scheduler import record_scan

    stage("posture from the scan", say, lambda: _posture(ctx, scan_record, record_scan))
    holder: dict[str, Any] = {}

    def gen() -> str:
        from cloudwarden.demo.estate import generate_estate

        est = generate_estate(days=days)
        holder["estate"] = est
        return (f"{len(est.cloudtrail_events):,} CloudTrail events and {len(est.host_events):,} host events over {days} days, "
                f"{len(est.scenarios)} attack scenarios")

    if not stage("simulated estate", say, gen):
        return
    est = holder["estate"]
    stage("CloudTrail history -> lake + rules", say, lambda: _cloudtrail(ctx, est, workdir))
    stage("host events -> lake + host rules", say, lambda: _hosts(ctx, est))
    stage("baselines (cloud and host)", say, lambda: _baselines(ctx, est))


def _posture(ctx: Any, record: Any, record_scan: Any) -> str:
    out = record_scan(ctx, record, store=False)
    return f"{out['results']:,} results"


def _cloudtrail(ctx: Any, est: Any, workdir: Path) -> str:
    import json

    from cloudwarden.aws.ip_ranges import FILE_NAME
    from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
    from cloudwarden.demo.estate import simulated_aws_ranges
    from cloudwarden.store.lake import Lake

    root = workdir / "cloudtrail"
    est.write_cloudtrail(root)
    # the simulated world's own AWS addresses (instances, Lambda): its rules tell them from the attackers'
    ranges = ctx.settings.home_path / FILE_NAME
    ranges.parent.mkdir(parents=True, exist_ok=True)
    ranges.write_text(json.dumps(simulated_aws_ranges()))
    summary = ingest(str(root), Lake(ctx.settings.lake_path), ctx.state,
                     IngestOptions(workers=1, group_window=ctx.settings.alerts.group_window(),
                                   aws_ranges_path=str(ranges)))
    d = summary.to_dict()
    return f"{d['events']:,} events stored, {d['alerts_stored']} alerts"


def _hosts(ctx: Any, est: Any) -> str:
    from cloudwarden.store.lake import Lake

    written = Lake(ctx.settings.lake_path).write_host_events(est.host_events)
    svc = ctx.host_ingest
    if svc is None:
        from cloudwarden.server.ingest import HostIngest

        svc = HostIngest(ctx.state, None, alert_window=ctx.settings.alerts.group_window())
    alerts = svc.detect(list(est.host_events))
    ids = ctx.raise_alerts(alerts) if alerts else []
    return f"{written:,} events stored, {len(set(ids))} alerts"


def _baselines(ctx: Any, est: Any) -> str:
    from cloudwarden.server.scheduler import run_baselines

    r = run_baselines(ctx, {})
    return f"learned from {r['api_events']:,} API and {r['host_events']:,} host events, {r['alerts']} behaviour alerts"


def live_change_later(ctx: Any, endpoint_url: str, region: str, say: Say, delay_s: float = 20.0) -> None:
    """Show compliance staying current: after `delay_s`, make a real change on the simulated account (a
    bucket policy that drops the TLS-only statement, as an intruder might) and hand the server the
    CloudTrail record of that call. The control flips and an alert appears on the dashboard."""
    import threading

    def run() -> None:
        time.sleep(delay_s)
        try:
            msg = _live_change(ctx, endpoint_url, region)
        except Exception as exc:  # noqa: BLE001 - the demo goes on without the live example
            msg = f"live change example skipped ({type(exc).__name__}: {exc})"
        say(msg)

    threading.Thread(target=run, name="demo-live-change", daemon=True).start()


def _live_change(ctx: Any, endpoint_url: str, region: str) -> str:
    import json
    import uuid
    from datetime import UTC, datetime

    import boto3

    check = "s3_bucket_secure_transport_policy"
    rows, _ = ctx.posture.findings(check_id=check, status="PASS", limit=1)
    if not rows:
        return "live change example skipped (no bucket passes the TLS-only policy check)"
    bucket = rows[0]["resource_arn"].rsplit(":", 1)[-1]
    account = rows[0]["account"]
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                                                      "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    boto3.client("s3", endpoint_url=endpoint_url, region_name=region).put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    record = {
        "eventVersion": "1.09", "eventID": str(uuid.uuid4()), "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "awsRegion": region, "sourceIPAddress": "203.0.113.77",
        "userAgent": "aws-cli/2.15.0", "recipientAccountId": account, "eventType": "AwsApiCall", "readOnly": False,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{account}:user/intruder", "accountId": account,
                         "accessKeyId": "AKIADEMOINTRUDER0001", "userName": "intruder"},
        "requestParameters": {"bucketName": bucket, "bucketPolicy": policy},
    }
    out = ctx.ingest_cloudtrail([record])
    return (f"[bold]Live change:[/bold] PutBucketPolicy made {bucket} readable by anyone (no TLS-only statement); "
            f"{out['rechecks_queued']} re-check queued. Posture → Changes and Alerts (source compliance) show it within seconds.")


def serve(app: Any, host: str, port: int, say: Say) -> None:
    from cloudwarden.cli.serve import ensure_admin, run_server

    password = ensure_admin(app.state.ctx)
    say(f"[bold]Dashboard: http://{host}:{port}[/bold]")
    if password:
        say(f"[bold]Log in as admin with password: {password}[/bold]  (shown once; `cloudwarden users passwd admin` changes it)")
    else:
        say("Log in with an existing user (`cloudwarden users list`; `cloudwarden users passwd admin` resets a password).")
    say("Ctrl-C stops the dashboard and the simulated account.")
    try:
        run_server(app, host, port, "warning")
    except KeyboardInterrupt:
        pass
    say("Dashboard stopped.")
