"""Prometheus metrics. One registry per app so tests can build several apps in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter("cloudwarden_http_requests", "HTTP requests by route and status", ["path", "status"], registry=r)
        self.ingested = Counter("cloudwarden_ingested_events", "Events written to the lake", ["kind"], registry=r)
        self.alerts = Counter("cloudwarden_alerts_raised", "Alerts raised", ["source", "severity"], registry=r)
        self.scan_seconds = Histogram("cloudwarden_scan_duration_seconds", "Compliance scan wall time", ["account"], registry=r,
                                      buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))
        self.live_seconds = Histogram("cloudwarden_live_reevaluation_seconds", "Re-collect and re-check after a CloudTrail change",
                                      registry=r, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
        self.jobs_done = Counter("cloudwarden_jobs", "Jobs finished", ["kind", "outcome"], registry=r)
        self.queue_depth = Gauge("cloudwarden_job_queue_depth", "Jobs by status", ["status"], registry=r)
        self.notify_queue = Gauge("cloudwarden_notify_queue_depth", "Alerts waiting for notification", registry=r)
        self.notify_sent = Counter("cloudwarden_notifications", "Notification messages", ["channel", "outcome"], registry=r)
        self.posture = Gauge("cloudwarden_posture_results", "Current compliance results by status", ["status"], registry=r)
