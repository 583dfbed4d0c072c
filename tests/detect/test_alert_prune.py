"""Alert evidence retention: `AlertStore.prune`, `alerts prune`, the prune after `trail ingest`, the server job."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.config import load_settings
from cloudwarden.detect.alert_store import AlertCommentRow, AlertEvidenceRow, AlertRow, AlertStore, prune_for_retention
from cloudwarden.models.alert import Alert
from cloudwarden.store.state import open_store
from tests.detect.test_alert_store import _pg_schema_url

runner = CliRunner(env={"COLUMNS": "300"})
OLD = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # ingested then, events of then
RECENT = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
CUT = datetime(2026, 4, 1, tzinfo=UTC)  # the horizon between them


def alert(eid: str, when: datetime, *, entity: str = "arn:aws:iam::1:user/alice", rule: str = "r-1") -> Alert:
    return Alert(rule_id=rule, title="Trail stopped", severity="high", source="cloudtrail", explanation=f"why {eid}",
                 first_seen=when, last_seen=when, entity=entity, account="111122223333",
                 evidence=[{"eventID": eid, "eventName": "StopLogging"}], evidence_ids=[eid])


def burst(prefix: str, when: datetime, n: int, **kw: Any) -> list[Alert]:
    return [alert(f"{prefix}{i}", when + timedelta(seconds=i), **kw) for i in range(n)]


def snapshot(store: AlertStore) -> list[tuple[Any, ...]]:
    out = []
    for a in store.list(limit=1000):
        full = store.get(a.id)
        assert full is not None
        out.append((a.id, a.status, a.count, a.last_seen, tuple(full.evidence_ids), len(full.comments)))
    return out


def evidence_rows(store: AlertStore) -> int:
    with store.state.session() as s:
        return int(s.scalar(select(func.count()).select_from(AlertEvidenceRow)) or 0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AlertStore:
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else _pg_schema_url()
    return AlertStore(open_store(url))


def test_old_evidence_is_pruned_recent_kept(store: AlertStore) -> None:
    (old_id,) = store.add(burst("o", OLD, 5), now=OLD)
    (new_id,) = store.add(burst("n", RECENT, 3), now=RECENT)
    result = store.prune(CUT)
    assert (result.alerts_examined, result.evidence_deleted, result.alerts_deleted) == (1, 5, 0)
    assert not result.dry_run and result.batches == 1
    old, new = store.get(old_id), store.get(new_id)
    assert old is not None and new is not None
    assert old.evidence_ids == [] and old.count == 5 and len(old.evidence) == 5  # the alert itself stays
    assert new.evidence_ids == ["n0", "n1", "n2"]
    assert store.prune(CUT).evidence_deleted == 0  # nothing left to do: a re-run is a no-op


def test_idempotency_within_the_horizon_still_holds_and_old_replays_count_again(store: AlertStore) -> None:
    (old_id,) = store.add(burst("o", OLD, 2), now=OLD)
    (new_id,) = store.add(burst("n", RECENT, 3), now=RECENT)
    store.prune(CUT)
    # within the horizon: replaying the same events changes nothing
    assert store.add(burst("n", RECENT, 3), now=RECENT) == [new_id]
    got = store.get(new_id)
    assert got is not None and got.count == 3
    # past it (documented): the pruned events count again, into their still-open alert
    assert store.add(burst("o", OLD, 2), now=RECENT) == [old_id]
    old = store.get(old_id)
    assert old is not None and old.count == 4 and old.evidence_ids == ["o0", "o1"]
    # ... and once recorded again, they are idempotent again
    store.add(burst("o", OLD, 2), now=RECENT)
    old = store.get(old_id)
    assert old is not None and old.count == 4


def test_a_resolved_old_alert_replayed_after_prune_opens_a_new_alert(store: AlertStore) -> None:
    (old_id,) = store.add(burst("o", OLD, 2), now=OLD)
    store.resolve(old_id, "sec")
    assert store.add(burst("o", OLD, 2)) == [old_id]  # before the prune: a replay is a no-op even when resolved
    store.prune(datetime.now(UTC) + timedelta(minutes=1))  # everything is past this horizon
    (again,) = store.add(burst("o", OLD, 2))
    assert again != old_id and store.count() == 2


def test_dry_run_counts_and_changes_nothing(store: AlertStore) -> None:
    (old_id,) = store.add(burst("o", OLD, 4), now=OLD)
    store.add(burst("x", OLD + timedelta(hours=3), 2, entity="bob"), now=OLD)
    store.add(burst("n", RECENT, 3), now=RECENT)
    store.resolve(old_id, "sec", comment="fixed")
    before = snapshot(store)
    horizon = datetime.now(UTC) + timedelta(minutes=1)
    dry = store.prune(horizon, delete_resolved=True, dry_run=True)
    assert snapshot(store) == before
    assert dry.dry_run and (dry.alerts_examined, dry.evidence_deleted, dry.alerts_deleted) == (3, 9, 1)
    real = store.prune(horizon, delete_resolved=True)
    assert (real.evidence_deleted, real.alerts_deleted) == (dry.evidence_deleted, dry.alerts_deleted)


def test_a_fresh_ingest_of_an_old_archive_is_not_pruned_by_its_own_run(store: AlertStore) -> None:
    """last_seen is old but the store wrote the alert just now: both clocks must be past the horizon."""
    (aid,) = store.add(burst("h", OLD, 3))  # written now
    assert store.prune(CUT).evidence_deleted == 0
    got = store.get(aid)
    assert got is not None and len(got.evidence_ids) == 3


def test_delete_resolved_removes_old_resolved_alerts_only_and_never_the_highest_id(store: AlertStore) -> None:
    (resolved,) = store.add(burst("r", OLD, 2), now=OLD)
    (open_old,) = store.add(burst("k", OLD, 2, entity="bob"), now=OLD)
    (top,) = store.add(burst("t", OLD, 1, entity="carol"), now=OLD)
    store.resolve(resolved, "sec", comment="false positive")
    store.resolve(top, "sec")
    result = store.prune(datetime.now(UTC) + timedelta(minutes=1), delete_resolved=True)
    assert result.alerts_deleted == 1 and result.evidence_deleted == 5
    assert store.get(resolved) is None
    assert store.get(open_old) is not None  # open: kept, evidence ids dropped
    kept_top = store.get(top)
    assert kept_top is not None and kept_top.status == "resolved"  # SQLite would reuse its id
    with store.state.session() as s:
        assert s.scalar(select(func.count()).select_from(AlertCommentRow).where(AlertCommentRow.alert_id == resolved)) == 0
    (fresh,) = store.add(burst("z", RECENT, 1, entity="dave"), now=RECENT)
    assert fresh > top


def test_deletes_are_bounded_batches(store: AlertStore) -> None:
    store.add(burst("o", OLD, 25), now=OLD)
    store.add(burst("p", OLD + timedelta(days=1), 7, entity="bob"), now=OLD)
    result = store.prune(CUT, batch_size=10)
    assert result.evidence_deleted == 32 and evidence_rows(store) == 0
    assert result.batches == 4  # 10 + 10 + 10 + 2 rows: no transaction deleted more than 10


def test_prune_for_retention_uses_the_days_and_zero_disables(store: AlertStore) -> None:
    store.add(burst("o", OLD, 2), now=OLD)
    assert prune_for_retention(store.state, 0) is None
    assert evidence_rows(store) == 2
    result = prune_for_retention(store.state, 90, now=OLD + timedelta(days=89))
    assert result is not None and result.evidence_deleted == 0
    result = prune_for_retention(store.state, 90, now=OLD + timedelta(days=91))
    assert result is not None and result.evidence_deleted == 2
    assert result.cutoff == OLD + timedelta(days=1)


# --- the CLI and the hooks --------------------------------------------------------------------------------


def _home_store() -> AlertStore:
    return AlertStore(open_store(load_settings().state_url))


def test_alerts_prune_cli_dry_run_then_prune() -> None:
    st = _home_store()
    st.add(burst("o", OLD, 3))  # old events, written now
    st.add(burst("n", datetime.now(UTC) - timedelta(days=1), 2, entity="bob"))
    dry = runner.invoke(app, ["alerts", "prune", "--dry-run", "--format", "json"])
    assert dry.exit_code == 0, dry.output
    d = json.loads(dry.stdout)
    assert d["dry_run"] and d["evidence_deleted"] == 0  # OLD was ingested now -> not idle for 90 days
    with st.state.session() as s:  # make the old alert idle on the store's clock too
        s.execute(AlertRow.__table__.update().values(updated_at=OLD.replace(tzinfo=None)))
    dry = runner.invoke(app, ["alerts", "prune", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 3 evidence id(s)" in dry.output
    assert evidence_rows(st) == 5
    real = runner.invoke(app, ["alerts", "prune", "--older-than", "30d"])
    assert real.exit_code == 0 and "deleted 3 evidence id(s)" in real.output
    assert evidence_rows(st) == 2
    assert runner.invoke(app, ["alerts", "prune", "--older-than", "soon"]).exit_code == 2
    old_id = min(a.id for a in st.list())
    shown = runner.invoke(app, ["alerts", "show", str(old_id)])
    assert shown.exit_code == 0 and "3 kept of event ids pruned by retention" in shown.output


def test_alerts_prune_cli_needs_a_horizon_when_retention_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_EVIDENCE_RETENTION_DAYS", "0")
    out = runner.invoke(app, ["alerts", "prune"])
    assert out.exit_code == 2 and "--older-than" in out.output


def test_trail_ingest_prunes_idle_evidence_afterwards(tmp_path: Path) -> None:
    from tests.cloudtrail import factory as f

    st = _home_store()
    st.add(burst("stale", OLD, 2, rule="r-stale"), now=OLD)
    logs = tmp_path / "logs"
    f.write_records(logs / "a.json.gz", f.many(14))
    out = runner.invoke(app, ["trail", "ingest", str(logs), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["alerts_stored"] > 0 and summary["evidence_pruned"] == 2
    # the alerts of this ingest keep their evidence (their events are old, but they were written now)
    assert evidence_rows(st) > 0
    again = tmp_path / "again"
    f.write_records(again / "b.json.gz", f.many(14))  # the same events under another file name
    before = [(a.id, a.count) for a in st.list(limit=1000)]
    assert runner.invoke(app, ["trail", "ingest", str(again), "--json"]).exit_code == 0
    assert [(a.id, a.count) for a in st.list(limit=1000)] == before  # within the horizon: no double count


def test_server_scheduler_runs_the_prune_job() -> None:
    from cloudwarden.server.context import ServerContext
    from cloudwarden.server.scheduler import Scheduler, run_alert_prune

    settings = load_settings()
    ctx = ServerContext(settings)
    try:
        st = AlertStore(ctx.state)
        st.add(burst("o", OLD, 3), now=OLD)
        assert ("alert_prune", "alert_prune", {}, 86400) in Scheduler(ctx).periodic_tasks()
        assert run_alert_prune(ctx, {})["evidence_deleted"] == 3
        settings.alerts.evidence_retention_days = 0
        assert run_alert_prune(ctx, {}) == {"skipped": "evidence retention is off"}
        assert all(t[1] != "alert_prune" for t in Scheduler(ctx).periodic_tasks())
    finally:
        ctx.close()
