"""The durable job queue and the scheduler's worker loop, on a real SQLite file."""

from __future__ import annotations

from typing import Any

from cloudwarden.config import load_settings
from cloudwarden.server import scheduler as sched_mod
from cloudwarden.server.context import ServerContext
from cloudwarden.server.jobs import MAX_ATTEMPTS, JobQueue
from cloudwarden.server.scheduler import Scheduler
from cloudwarden.store.state import open_store


def test_queue_survives_restart_and_requeues_interrupted(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    q = JobQueue(open_store(url))
    a = q.enqueue("scan", {"account": "prod"})
    b = q.enqueue("reports", {})
    claimed = q.claim()
    assert claimed is not None and claimed.id == a
    # "crash": a new process opens the same database
    q2 = JobQueue(open_store(url))
    assert q2.requeue_interrupted() == 1
    ids = []
    while (j := q2.claim()) is not None:
        ids.append(j.id)
        q2.finish(j.id, "ok")
    assert ids == [a, b]
    assert q2.depth() == {"done": 2}


def test_dedupe_and_retry_then_fail(tmp_path: Any) -> None:
    q = JobQueue(open_store(f"sqlite:///{tmp_path / 's.db'}"))
    assert q.enqueue("scan", {}, dedupe="scan:prod") is not None
    assert q.enqueue("scan", {}, dedupe="scan:prod") is None
    job = q.claim()
    assert job is not None
    for _ in range(MAX_ATTEMPTS):
        q.fail(job, "boom")
        with q.state.session() as s:  # make the retry due now instead of after the backoff
            from sqlalchemy import update

            from cloudwarden.server.jobs import JobRow
            s.execute(update(JobRow).values(not_before=JobRow.created_at))
        job = q.claim() or job
    assert q.depth().get("failed") == 1


def test_periodic_tasks_queue_once_per_interval(tmp_path: Any) -> None:
    settings = load_settings()
    settings.server.accounts = [{"name": "prod", "endpoint_url": "http://127.0.0.1:1"}]
    ctx = ServerContext(settings)
    s = Scheduler(ctx)
    s.tick()
    s.tick()
    kinds = sorted(j["kind"] for j in ctx.jobs.list(20))
    assert kinds == ["alert_prune", "baselines", "reports", "scan"]
    ctx.close()


def test_worker_records_unavailable_and_errors(tmp_path: Any, monkeypatch: Any) -> None:
    ctx = ServerContext(load_settings())
    calls: list[dict[str, Any]] = []

    def ok(c: Any, payload: dict[str, Any]) -> str:
        calls.append(payload)
        return "fine"

    def boom(c: Any, payload: dict[str, Any]) -> str:
        raise RuntimeError("kaput")

    monkeypatch.setitem(sched_mod.HANDLERS, "ok", ok)
    monkeypatch.setitem(sched_mod.HANDLERS, "boom", boom)
    ctx.jobs.enqueue("ok", {"n": 1})
    ctx.jobs.enqueue("boom", {})
    ctx.jobs.enqueue("no-such-kind", {})
    s = Scheduler(ctx)
    while s.run_one():
        pass
    jobs = {j["kind"]: j for j in ctx.jobs.list(10)}
    assert calls == [{"n": 1}] and jobs["ok"]["status"] == "done"
    assert jobs["boom"]["status"] == "queued" and "kaput" in jobs["boom"]["result"]  # retried later with backoff
    assert jobs["no-such-kind"]["status"] == "done" and "unavailable" in jobs["no-such-kind"]["result"]
    ctx.close()


def test_scheduler_threads_start_and_stop_gracefully() -> None:
    ctx = ServerContext(load_settings())
    s = Scheduler(ctx, workers=2, tick_s=0.05, poll_s=0.05).start()
    s.stop(timeout=5)
    assert not s._threads
    ctx.close()


def test_aws_ranges_refresh_is_opt_in_and_downloads_into_the_home(tmp_path: Any) -> None:
    import json

    from cloudwarden.aws.ip_ranges import FILE_NAME
    from tests.helpers.static_http import serving

    body = json.dumps({"prefixes": [{"ip_prefix": "54.86.0.0/15"}], "createDate": "2026-11-28-00-00-00"}).encode()
    with serving({"/ip-ranges.json": body}) as base:
        settings = load_settings()
        ctx = ServerContext(settings)
        assert "aws_ranges" not in [t[1] for t in Scheduler(ctx).periodic_tasks()]  # off by default
        settings.server.aws_ranges_interval_s = 86400
        settings.server.aws_ranges_url = f"{base}/ip-ranges.json"
        s = Scheduler(ctx)
        assert "aws_ranges" in [t[1] for t in s.periodic_tasks()]
        s.tick()
        while s.run_one():
            pass
        cached = settings.home_path / FILE_NAME
        assert cached.exists() and json.loads(cached.read_text())["createDate"] == "2026-11-28-00-00-00"
        assert ctx.aws_ranges() is not None and ctx.aws_ranges().contains("54.86.31.15")
        ctx.close()
