"""Alerts raised inside the server reach notification channels (signed webhook to a local receiver), and
the Prometheus metrics count what happened."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from cloudwarden.config import load_settings
from cloudwarden.models.alert import Alert
from cloudwarden.notify.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from cloudwarden.server.app import create_app
from tests.helpers.receivers import HttpSink


def test_alerts_are_notified_and_counted() -> None:
    sink = HttpSink().start()
    try:
        settings = load_settings()
        settings.notify.channels = [{"name": "soc", "kind": "webhook", "url": sink.url, "secret": "k3y", "min_severity": "high"}]
        settings.notify.group_window_s = 0.2
        settings.server.accounts = []
        app = create_app(settings)
        ctx = app.state.ctx
        ctx.auth.add_user("ops", "ops-password-1", "analyst")
        h = {"authorization": f"Bearer {ctx.auth.create_token('ops', 't')}"}
        with TestClient(app) as c:  # starts the notifier
            t = datetime(2026, 1, 1, tzinfo=UTC)
            burst = [Alert(rule_id=f"r{i}", title="Trail stopped", severity="critical" if i % 2 else "low", source="cloudtrail",
                           explanation="x", first_seen=t, last_seen=t, entity=f"e{i}", evidence_ids=[str(i)]) for i in range(10)]
            ctx.raise_alerts(burst)
            records = [{"eventVersion": "1.08", "eventID": f"m{i}", "eventTime": "2026-01-01T00:00:00Z", "eventSource": "s3.amazonaws.com",
                        "eventName": "ListBuckets", "awsRegion": "us-east-1", "recipientAccountId": "1", "sourceIPAddress": "1.2.3.4",
                        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "accountId": "1"}} for i in range(7)]
            assert c.post("/api/v1/ingest/cloudtrail", json={"Records": records}, headers=h).json()["written"] == 7
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not sink.requests:
                time.sleep(0.05)
            metrics = c.get("/metrics", headers=h).text
        assert len(sink.requests) == 1  # one digest for the burst, only the high+ alerts
        _, headers, body = sink.requests[0]
        payload = json.loads(body)
        assert payload["count"] == 5 and all(a["severity"] == "critical" for a in payload["alerts"])
        assert verify("k3y", headers[TIMESTAMP_HEADER.lower()], body, headers[SIGNATURE_HEADER.lower()])
        assert 'cloudwarden_ingested_events_total{kind="cloudtrail"} 7.0' in metrics
        assert 'cloudwarden_alerts_raised_total{severity="critical",source="cloudtrail"} 5.0' in metrics
        assert 'cloudwarden_notifications_total{channel="soc",outcome="sent"} 1.0' in metrics
        assert "cloudwarden_job_queue_depth" in metrics and "cloudwarden_scan_duration_seconds" in metrics
    finally:
        sink.stop()
