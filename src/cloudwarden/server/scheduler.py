"""The scheduler: a tick thread that queues periodic work, and worker threads that run queued jobs.

Periodic tasks (per account: compliance scan, CloudTrail poll; global: baselines, reports, alert evidence
prune) are queued into the durable job table, so work survives a restart. Shutdown sets a flag; workers finish the job in
hand and stop; anything not started stays queued for the next start.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.server.change_map import ChangeTarget
from cloudwarden.server.sources import Unavailable, load

log = logging.getLogger("cloudwarden.server.scheduler")
Handler = Callable[[Any, dict[str, Any]], Any]


def run_scan(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    from cloudwarden.compliance.runner import ScanOptions, scan
    from cloudwarden.server.posture_store import result_from

    acct = next((a for a in ctx.accounts if a.name == payload.get("account")), None)
    if acct is None:
        return {"skipped": f"account {payload.get('account')!r} is no longer configured"}
    t0 = time.perf_counter()
    run = scan(ScanOptions(profile=acct.profile or None, endpoint_url=acct.endpoint_url or None, regions=list(acct.regions),
                           org_role=acct.org_role or None, framework=acct.framework or None))
    ctx.metrics.scan_seconds.labels(account=acct.name).observe(time.perf_counter() - t0)
    return record_scan(ctx, run, result_from)


def record_scan(ctx: Any, run: Any, result_from: Any = None, *, store: bool = True) -> dict[str, Any]:
    """Apply a ScanRun's (or stored ScanRecord's) results to the posture, per account, and store the scan
    with the compliance store unless `store` is False (the caller already stored it)."""
    from cloudwarden.server.live import compliance_alert
    from cloudwarden.server.posture_store import result_from as rf

    conv = result_from or rf
    by_account: dict[str, list[Any]] = {}
    for r in run.results:
        by_account.setdefault(r.account_id, []).append(conv(r, run.checks.get(r.check_id)))
    total_changes, new_failures = 0, 0
    for account, results in by_account.items():
        changes = ctx.posture.apply(results, account=account, checks=list(run.checks), cause=f"scan {run.scan_id[:8]}", kind="scan")
        total_changes += len(changes)
        fails = [c for c in changes if c.new_failure and c.old_status]  # a first scan's failures are the baseline, not news
        new_failures += len(fails)
        ctx.raise_alerts([compliance_alert(c, None) for c in fails])
    if not store:
        return {"scan_id": run.scan_id, "results": len(run.results), "changes": total_changes, "new_failures": new_failures}
    try:
        store_cls = load("cloudwarden.compliance.store", "ScanStore")
        record = run
        if not hasattr(run, "scope_key"):  # a runner ScanRun: adapt it to the stored record shape
            from_run = load("cloudwarden.compliance.results", "from_run")
            record = from_run(run, [run.framework] if getattr(run, "framework", None) else ["cis-7.0"])
        store_cls(ctx.state).save(record)
    except Unavailable as exc:
        log.info("compliance store unavailable; posture updated only", extra={"fields": {"reason": str(exc)}})
    except Exception as exc:  # noqa: BLE001 - posture is already updated; report the store problem
        log.warning("could not store scan", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
    return {"scan_id": run.scan_id, "results": len(run.results), "changes": total_changes, "new_failures": new_failures}


def run_live(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    from cloudwarden.server.live import recheck

    return recheck(ctx, ChangeTarget(**payload))


def run_trail_poll(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Ingest new CloudTrail objects from the account's bucket (checkpointed: only new objects are read),
    then queue live compliance re-checks for the resource-changing calls among them."""
    acct = next((a for a in ctx.accounts if a.name == payload.get("account")), None)
    if acct is None or not acct.trail_bucket:
        return {"skipped": "no trail_bucket configured"}
    ingest = load("cloudwarden.cloudtrail.ingest", "ingest")
    options_cls = load("cloudwarden.cloudtrail.ingest", "IngestOptions")
    lake_cls = load("cloudwarden.store.lake", "Lake")
    from cloudwarden.server.change_map import CHANGE_EVENTS

    started = datetime.now(UTC)
    spec = f"s3://{acct.trail_bucket}/{acct.trail_prefix.lstrip('/')}"
    summary = ingest(spec, lake_cls(ctx.settings.lake_path), ctx.state,
                     options_cls(endpoint_url=acct.endpoint_url, region_name=(acct.regions or ("us-east-1",))[0],
                                 group_window=ctx.settings.alerts.group_window(),
                                 aws_ranges_path=str(ctx.settings.home_path / load("cloudwarden.aws.ip_ranges", "FILE_NAME"))))
    d = summary.to_dict()
    ctx.metrics.ingested.labels(kind="cloudtrail").inc(int(d.get("events", 0)))
    queued = 0
    if d.get("events"):
        apis = sorted({api for _, names in CHANGE_EVENTS.values() for api in names})
        marks = ", ".join("?" for _ in apis)
        # events written by this poll: the lake has no ingest time, so look at event times of the last day
        rows = ctx.reader.rows(f"SELECT raw FROM api_activity WHERE api IN ({marks}) AND time >= ?",  # noqa: S608 - placeholders only
                               [*apis, started - timedelta(days=1)])
        import orjson

        queued = ctx.queue_changes([orjson.loads(r["raw"]) for r in rows if r.get("raw")])
    return {"events": d.get("events", 0), "alerts": d.get("alerts_stored", 0), "rechecks_queued": queued}


def run_baselines(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Learn from what the lake holds past the saved watermarks (restartable); alerts go to the alert store."""
    baseline_cls = load("cloudwarden.baseline.engine", "Baseline")
    lake_cls = load("cloudwarden.store.lake", "Lake")
    r = baseline_cls.open(ctx.state, alert_window=ctx.settings.alerts.group_window()).update_from_lake(
        lake_cls(ctx.settings.lake_path))
    for a in r.alerts:
        ctx.metrics.alerts.labels(source=a.source, severity=a.severity).inc()
        ctx.notifier.submit({f.name: getattr(a, f.name) for f in dataclasses.fields(a)})
    return {"api_events": r.api_events, "host_events": r.host_events, "alerts": len(r.alerts), "seconds": round(r.seconds, 2)}


def run_reports(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Write every report format of the latest stored scan to <home>/reports."""
    store = load("cloudwarden.compliance.store", "ScanStore")(ctx.state)
    rec = store.latest()
    if rec is None:
        return {"skipped": "no stored scan yet"}
    report = importlib.import_module("cloudwarden.compliance.report")
    data = report.build_report(rec, store.previous(rec))
    out = ctx.settings.home_path / "reports"
    out.mkdir(parents=True, exist_ok=True)
    paths = report.output_paths(list(report.FILE_FORMATS), None, out, f"compliance-{rec.scan_id[:12]}")
    written = report.write_reports(data, paths)
    return {"written": sorted(str(p) for p in written.values())}


def run_alert_prune(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Bound alert_evidence: drop the evidence ids of alerts idle past alerts.evidence_retention_days."""
    prune = load("cloudwarden.detect.alert_store", "prune_for_retention")
    a = ctx.settings.alerts
    result = prune(ctx.state, a.evidence_retention_days, delete_resolved=a.prune_resolved)
    return {"skipped": "evidence retention is off"} if result is None else result.to_dict()


def run_aws_ranges(ctx: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Refresh the cached AWS IP ranges the CloudTrail rules use (server.aws_ranges_interval_s)."""
    download = load("cloudwarden.aws.ip_ranges", "download")
    file_name = load("cloudwarden.aws.ip_ranges", "FILE_NAME")
    ranges = download(ctx.settings.home_path / file_name, ctx.settings.server.aws_ranges_url)
    return {"prefixes": ranges.prefixes, "created": ranges.created}


HANDLERS: dict[str, Handler] = {
    "scan": run_scan, "live_recheck": run_live, "trail_poll": run_trail_poll, "baselines": run_baselines, "reports": run_reports,
    "alert_prune": run_alert_prune, "aws_ranges": run_aws_ranges,
}


class Scheduler:
    def __init__(self, ctx: Any, *, workers: int = 2, tick_s: float = 1.0, poll_s: float = 0.2) -> None:
        self.ctx = ctx
        self.workers = max(1, workers)
        self.tick_s = tick_s
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.periodic = True

    def periodic_tasks(self) -> list[tuple[str, str, dict[str, Any], int]]:
        """(schedule name, job kind, payload, interval seconds)."""
        s = self.ctx.settings.server
        out: list[tuple[str, str, dict[str, Any], int]] = []
        for a in self.ctx.accounts:
            out.append((f"scan:{a.name}", "scan", {"account": a.name}, s.scan_interval_s))
            if a.trail_bucket:
                out.append((f"trail:{a.name}", "trail_poll", {"account": a.name}, s.trail_poll_interval_s))
        out.append(("baselines", "baselines", {}, s.baseline_interval_s))
        if s.aws_ranges_interval_s > 0:
            out.append(("aws_ranges", "aws_ranges", {}, s.aws_ranges_interval_s))
        out.append(("reports", "reports", {}, s.report_interval_s))
        retention = self.ctx.settings.alerts
        if retention.evidence_retention_days > 0 and retention.prune_interval_s > 0:
            out.append(("alert_prune", "alert_prune", {}, retention.prune_interval_s))
        return out

    def start(self) -> Scheduler:
        n = self.ctx.jobs.requeue_interrupted()
        if n:
            log.info("requeued interrupted jobs", extra={"fields": {"jobs": n}})
        self._stop.clear()
        if self.periodic:
            self._threads.append(threading.Thread(target=self._tick_loop, name="cloudwarden-tick", daemon=True))
        for i in range(self.workers):
            self._threads.append(threading.Thread(target=self._work_loop, name=f"cloudwarden-worker-{i}", daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        self._threads = []

    def tick(self) -> None:
        for name, kind, payload, interval in self.periodic_tasks():
            if kind in ("baselines", "reports") and not self.ctx.accounts:
                continue
            if self.ctx.jobs.due(name, interval):
                self.ctx.jobs.enqueue(kind, payload, dedupe=name)
        depth = self.ctx.jobs.depth()
        for status in ("queued", "running", "done", "failed"):
            self.ctx.metrics.queue_depth.labels(status=status).set(depth.get(status, 0))
        self.ctx.metrics.notify_queue.set(self.ctx.notifier.depth())

    def _tick_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_s)

    def run_one(self) -> bool:
        """Claim and run one job; False when the queue had nothing due."""
        job = self.ctx.jobs.claim()
        if job is None:
            return False
        handler = HANDLERS.get(job.kind)
        started = datetime.now(UTC)
        try:
            if handler is None:
                raise Unavailable(f"no handler for job kind {job.kind!r}")
            result = handler(self.ctx, job.payload)
        except Unavailable as exc:
            # a missing subsystem will not appear by retrying: record why and move on
            self.ctx.jobs.finish(job.id, f"unavailable: {exc}")
            self.ctx.metrics.jobs_done.labels(kind=job.kind, outcome="unavailable").inc()
            return True
        except Exception as exc:  # noqa: BLE001 - a failing job is retried, then marked failed with its error
            tb = traceback.format_exc(limit=3)
            self.ctx.jobs.fail(job, f"{type(exc).__name__}: {exc}\n{tb}")
            self.ctx.metrics.jobs_done.labels(kind=job.kind, outcome="error").inc()
            log.warning("job failed", extra={"fields": {"job": job.id, "kind": job.kind, "error": f"{type(exc).__name__}: {exc}"}})
            return True
        self.ctx.jobs.finish(job.id, str(result))
        self.ctx.metrics.jobs_done.labels(kind=job.kind, outcome="ok").inc()
        log.info("job done", extra={"fields": {"job": job.id, "kind": job.kind,
                                                "s": round((datetime.now(UTC) - started).total_seconds(), 3)}})
        return True

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_one()
            except Exception:
                log.exception("worker loop error")
                busy = False
            if not busy:
                self._stop.wait(self.poll_s)
