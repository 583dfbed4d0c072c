"""Alert store: grouping, idempotency, suppressions with expiry, triage, listing — on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.errors import InputError, StoreError
from cloudwarden.models.alert import Alert
from cloudwarden.store.state import open_store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(open_store(f"sqlite:///{tmp_path / 'state.db'}"), evidence_limit=3)


def alert(eid: str, minute: float = 0, *, rule: str = "r-1", entity: str = "arn:aws:iam::1:user/alice",
          account: str = "111122223333", severity: str = "medium", **kw: Any) -> Alert:
    t = T0 + timedelta(minutes=minute)
    ev = {"eventID": eid, "eventName": "StopLogging",
          "resources": [{"ARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"}],
          "requestParameters": {"name": "main"}}
    return Alert(rule_id=rule, title="Trail stopped", severity=severity, source="cloudtrail", explanation=f"why {eid}",
                 first_seen=t, last_seen=t, entity=entity, account=account, attack_ids=["T1562.008"],
                 evidence=[ev], evidence_ids=[eid], **kw)


def test_same_key_within_window_groups_into_one_alert(store: AlertStore) -> None:
    ids = store.add([alert(f"e{i}", i * 10) for i in range(5)])
    assert len(ids) == 1
    a = store.get(ids[0])
    assert a is not None
    assert a.count == 5 and a.first_seen == T0 and a.last_seen == T0 + timedelta(minutes=40)
    assert len(a.evidence) == 3 and a.evidence_ids == ["e0", "e1", "e2", "e3", "e4"]
    assert a.explanation == "why e4"


def test_gap_longer_than_window_opens_new_alert(store: AlertStore) -> None:
    first = store.add([alert("a1", 0)])
    second = store.add([alert("a2", 61)])
    assert first != second and store.count() == 2


def test_different_entity_or_rule_is_another_alert(store: AlertStore) -> None:
    store.add([alert("a", 0), alert("b", 1, entity="arn:aws:iam::1:user/bob"), alert("c", 2, rule="r-2")])
    assert store.count() == 3


def test_reingesting_same_event_never_duplicates(store: AlertStore) -> None:
    (aid,) = store.add([alert("e1"), alert("e2", 1)])
    assert store.add([alert("e1"), alert("e2", 1)]) == [aid]
    a = store.get(aid)
    assert a is not None and a.count == 2 and len(a.evidence) == 2
    # even after resolution, a replayed event does not open a new alert
    store.resolve(aid, "sec")
    store.add([alert("e1")])
    assert store.count() == 1


def test_partially_known_correlation_alert_counts_only_new_events(store: AlertStore) -> None:
    (aid,) = store.add([alert("e1")])
    corr = alert("e1", 1)
    corr.evidence_ids = ["e1", "e2", "e3"]
    corr.evidence = [{"eventID": x} for x in corr.evidence_ids]
    corr.count = 3
    store.add([corr])
    a = store.get(aid)
    assert a is not None and a.count == 3 and a.evidence_ids == ["e1", "e2", "e3"]


def test_resolved_alert_is_not_reopened_by_new_events(store: AlertStore) -> None:
    (aid,) = store.add([alert("e1")])
    store.resolve(aid, "sec", "fixed")
    (new,) = store.add([alert("e2", 5)])
    assert new != aid


def test_severity_escalates_within_group(store: AlertStore) -> None:
    (aid,) = store.add([alert("e1"), alert("e2", 1, severity="critical")])
    a = store.get(aid)
    assert a is not None and a.severity == "critical"


def test_suppression_by_rule_entity_account_and_resource(store: AlertStore) -> None:
    store.suppress(reason="change window", created_by="ops", rule_id="r-2", ttl=timedelta(days=1), now=T0)
    store.suppress(reason="pentest", created_by="ops", entity="arn:aws:iam::1:user/pentest-*", ttl=timedelta(days=1), now=T0)
    store.suppress(reason="sandbox", created_by="ops", account="999999999999", ttl=timedelta(days=1), now=T0)
    store.suppress(reason="lab trail", created_by="ops", resource="arn:aws:cloudtrail:*:trail/lab", now=T0)
    assert store.add([alert("s1", rule="r-2")], now=T0) == []
    assert store.add([alert("s2", entity="arn:aws:iam::1:user/pentest-eve")], now=T0) == []
    assert store.add([alert("s3", account="999999999999")], now=T0) == []
    lab = alert("s4")
    lab.evidence = [{"eventID": "s4", "resources": [{"ARN": "arn:aws:cloudtrail:us-east-1:1:trail/lab"}]}]
    assert store.add([lab], now=T0) == []
    assert store.add([alert("kept")], now=T0) != []
    sups = store.suppressions(now=T0)
    assert [s.hits for s in sups] == [1, 1, 1, 1]
    assert sups[0].reason == "change window" and sups[0].created_by == "ops"


def test_combined_suppression_needs_all_criteria(store: AlertStore) -> None:
    store.suppress(reason="known", created_by="ops", rule_id="r-1", entity="arn:aws:iam::1:user/alice", now=T0)
    assert store.add([alert("x1")], now=T0) == []
    assert store.add([alert("x2", entity="arn:aws:iam::1:user/bob")], now=T0) != []


def test_suppression_expires(store: AlertStore) -> None:
    store.suppress(reason="tmp", created_by="ops", rule_id="r-1", ttl=timedelta(hours=2), now=T0)
    assert store.add([alert("e1")], now=T0 + timedelta(hours=1)) == []
    assert store.add([alert("e2")], now=T0 + timedelta(hours=3)) != []
    assert store.suppressions(now=T0 + timedelta(hours=3)) == []
    assert len(store.suppressions(include_expired=True, now=T0 + timedelta(hours=3))) == 1


def test_suppression_validation(store: AlertStore) -> None:
    with pytest.raises(InputError):
        store.suppress(reason="x", created_by="me")
    with pytest.raises(InputError):
        store.suppress(reason=" ", created_by="me", rule_id="r")
    sup = store.suppress(reason="x", created_by="me", rule_id="r")
    store.unsuppress(sup.id)
    with pytest.raises(StoreError):
        store.unsuppress(sup.id)


def test_triage_status_assignment_comments(store: AlertStore) -> None:
    (aid,) = store.add([alert("e1")])
    a = store.ack(aid, "alice", "looking")
    assert a.status == "acknowledged" and a.status_by == "alice" and a.status_at is not None
    store.assign(aid, "bob", by="alice")
    store.comment(aid, "bob", "root cause: CI role")
    a = store.resolve(aid, "bob", "fixed")
    assert a.status == "resolved" and a.assignee == "bob"
    assert [c.author for c in a.comments] == ["alice", "alice", "bob", "bob"]
    with pytest.raises(StoreError):
        store.ack(9999, "x")
    with pytest.raises(InputError):
        store.comment(aid, "x", "  ")


def test_list_filters_and_pagination(store: AlertStore) -> None:
    for i in range(12):
        store.add([alert(f"e{i}", i * 100, rule=f"r-{i % 3}", severity=["low", "medium", "high"][i % 3],
                         entity=f"arn:aws:iam::1:user/u{i}")])
    assert store.count() == 12
    page1 = store.list(limit=5)
    page2 = store.list(limit=5, offset=5)
    assert len(page1) == 5 and len(page2) == 5 and not {a.id for a in page1} & {a.id for a in page2}
    assert page1[0].last_seen >= page1[-1].last_seen
    assert {a.severity for a in store.list(min_severity="high")} == {"high"}
    assert store.count(rule_id="r-1") == 4
    assert store.count(entity="arn:aws:iam::1:user/u3") == 1
    store.ack(page1[0].id, "x")
    assert store.count(status="acknowledged") == 1 and store.count(status=["new"]) == 11
    assert store.count(since=T0 + timedelta(minutes=1000)) == 2
    assert store.count(text="u11") == 1
    assert store.counts_by_severity() == {"low": 4, "medium": 4, "high": 4}
    with pytest.raises(InputError):
        store.list(status="bogus")


def test_text_filter_matches_wildcard_characters_literally(store: AlertStore) -> None:
    store.add([alert("e1", 0, entity="arn:aws:iam::1:user/u11"), alert("e2", 0, rule="r-2", entity="arn:aws:iam::1:user/ci_deploy%"),
               alert("e3", 0, rule="r-3", entity="arn:aws:iam::1:user/back\\slash")])
    assert store.count(text="u11") == 1
    # as LIKE patterns "u_1" and "u%1" would match u11; the user means the characters
    assert store.count(text="u_1") == 0 and store.count(text="u%1") == 0
    assert [a.entity for a in store.list(text="ci_deploy%")] == ["arn:aws:iam::1:user/ci_deploy%"]
    assert store.count(text="k\\s") == 1 and store.count(text="\\_") == 0


def test_unknown_severity_is_rejected(store: AlertStore) -> None:
    with pytest.raises(InputError):
        store.add([alert("e", severity="urgent")])


def test_anomaly_and_members_are_kept(store: AlertStore) -> None:
    a = alert("b1", members=["web-1", "web-2"])
    a.anomaly = {"baseline": "never seen", "score": 0.93}
    (aid,) = store.add([a])
    got = store.get(aid)
    assert got is not None and got.members == ["web-1", "web-2"] and got.anomaly == {"baseline": "never seen", "score": 0.93}


def test_two_writers_on_one_database_never_duplicate(tmp_path: Path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    stores = [AlertStore(open_store(url)), AlertStore(open_store(url))]
    batch = [alert(f"c{i}", i * 0.1) for i in range(40)]
    errors: list[BaseException] = []

    def run(st: AlertStore) -> None:
        try:
            for i in range(0, 40, 5):
                st.add(batch[i:i + 5])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    (only,) = stores[0].list()
    got = stores[0].get(only.id)
    assert got is not None and sorted(got.evidence_ids) == sorted(f"c{i}" for i in range(40)) and got.count == 40


def _snapshot(st: AlertStore) -> list[tuple[Any, ...]]:
    out = []
    for a in st.list(limit=10_000):
        full = st.get(a.id)
        assert full is not None
        out.append((full.id, full.key, full.count, full.first_seen, full.last_seen, full.evidence, full.evidence_ids,
                    full.severity, full.members, full.anomaly, full.explanation, full.status))
    return sorted(out)


def _random_alert(rnd: Any, n: int) -> Alert:
    a = alert(f"e{rnd.randrange(40)}", rnd.randrange(0, 400), rule=rnd.choice(["r-1", "r-2"]),
              entity=rnd.choice(["arn:aws:iam::1:user/alice", "arn:aws:iam::1:user/bob"]),
              severity=rnd.choice(["low", "medium", "high", "critical"]))
    a.explanation = f"why #{n}"
    roll = rnd.random()
    if roll < 0.2:  # a correlation alert over several events, some maybe already seen
        a.evidence_ids = [f"e{rnd.randrange(40)}" for _ in range(rnd.randrange(2, 6))]
        a.evidence = [{"eventID": x} for x in a.evidence_ids]
        a.count = len(a.evidence_ids)
        a.last_seen = a.first_seen + timedelta(minutes=rnd.randrange(0, 90))
    elif roll < 0.3:  # no event ids (e.g. a compliance drift alert): never deduplicated
        a.evidence_ids, a.count = [], rnd.randrange(1, 4)
    if rnd.random() < 0.2:
        a.members = [rnd.choice(["web-1", "web-2", "web-3"])]
    if rnd.random() < 0.1:
        a.anomaly = {"score": n}
    return a


def _pg_schema_url() -> str:
    """A fresh schema in the test PostgreSQL (scripts/test-services.sh), so ids start at 1 as in SQLite."""
    import os
    import uuid

    import sqlalchemy

    url = os.environ.get("CLOUDWARDEN_TEST_PG_URL", "")
    if not url:
        pytest.skip("CLOUDWARDEN_TEST_PG_URL is not set (scripts/test-services.sh starts PostgreSQL for `make test`)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = sqlalchemy.create_engine(url)
    with eng.begin() as con:
        con.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.mark.parametrize(("backend", "seed"), [("sqlite", s) for s in range(12)] + [
    pytest.param("postgres", s, marks=pytest.mark.postgres) for s in range(3)])
def test_bulk_path_matches_one_by_one_reference(tmp_path: Path, seed: int, backend: str) -> None:
    """The batched statements must leave exactly what adding the same alerts one at a time leaves:
    grouping, counts, first/last seen, bounded evidence, idempotency, resolved rows, suppression hits."""
    import random

    rnd = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'bulk.db'}" if backend == "sqlite" else _pg_schema_url()
    bulk = AlertStore(open_store(url), evidence_limit=3)
    ref = AlertStore(open_store(f"sqlite:///{tmp_path / 'ref.db'}"), evidence_limit=3)
    for st in (bulk, ref):
        st.suppress(reason="noisy bob", created_by="ops", rule_id="r-2", entity="*bob", now=T0)
    n = 0
    for _round in range(6):
        batch = []
        for _ in range(rnd.randrange(1, 25)):
            n += 1
            batch.append(_random_alert(rnd, n))
        got = bulk.add_each(batch, now=T0)
        assert got == ref._add_one_by_one(batch, T0.replace(tzinfo=None))
        got = [x for x in dict.fromkeys(got) if x is not None]
        if got and rnd.random() < 0.5:
            victim = rnd.choice(got)
            bulk.resolve(victim, "sec")
            ref.resolve(victim, "sec")
    assert _snapshot(bulk) == _snapshot(ref)
    assert [s.hits for s in bulk.suppressions(now=T0)] == [s.hits for s in ref.suppressions(now=T0)]


def test_bulk_batch_with_many_keys_and_events_round_trips(tmp_path: Path) -> None:
    """Over the statement chunk size: every event recorded once, one alert per key."""
    st = AlertStore(open_store(f"sqlite:///{tmp_path / 'big.db'}"))
    batch = [alert(f"b{i}", (i % 50) * 0.5, entity=f"arn:aws:iam::1:user/u{i % 2500}") for i in range(6000)]
    ids = st.add(batch)
    assert len(ids) == 2500 and st.count() == 2500
    assert st.add(batch[:4500]) == ids[:2500]
    got = st.get(ids[0])
    assert got is not None and got.count == 3 and len(got.evidence_ids) == 3


def test_list_worst_first_order_is_stable_across_pages(store: AlertStore) -> None:
    for i, sev in enumerate(["low", "critical", "medium", "critical", "high", "low"]):
        store.add([alert(f"w{i}", i * 100, severity=sev, entity=f"arn:aws:iam::1:user/w{i}")])
    worst = store.list(limit=3, order="severity") + store.list(limit=3, offset=3, order="severity")
    assert [a.severity for a in worst] == ["critical", "critical", "high", "medium", "low", "low"]
    assert worst[0].last_seen > worst[1].last_seen and len({a.id for a in worst}) == 6
    assert [a.severity for a in store.list(order="severity", min_severity="high")] == ["critical", "critical", "high"]
    with pytest.raises(InputError):
        store.list(order="random")


def test_add_each_says_where_each_alert_went(store: AlertStore) -> None:
    store.suppress(reason="lab", created_by="ops", entity="arn:aws:iam::1:user/lab", now=T0)
    got = store.add_each([alert("x1"), alert("x2", entity="arn:aws:iam::1:user/lab"), alert("x3", 1),
                          alert("y1", rule="r-2")], now=T0)
    assert got[1] is None and got[0] == got[2] and got[3] not in (None, got[0])
    assert store.add_each([alert("x3", 1)], now=T0) == [got[0]]  # a replay names the alert holding the event


def test_evidence_sent_serialised_is_stored_and_suppressed_like_the_event(store: AlertStore) -> None:
    """An ingest worker sends evidence as JSON bytes (`json_bytes`): stored as the same event, and a resource
    suppression still sees its resources."""
    from cloudwarden.store.state import json_bytes

    store.suppress(reason="lab trail", created_by="ops", resource="arn:aws:cloudtrail:*:trail/lab", now=T0)
    lab = alert("w1")
    lab.evidence = [json_bytes({"eventID": "w1", "resources": [{"ARN": "arn:aws:cloudtrail:us-east-1:1:trail/lab"}]})
                    or b""]
    assert store.add([lab], now=T0) == []
    sent, plain = alert("w2"), alert("w3", minute=1)
    event = dict(sent.evidence[0])  # type: ignore[arg-type]
    sent.evidence = [json_bytes(event) or b""]
    [aid] = store.add([sent, plain], now=T0)
    stored = store.get(aid)
    assert stored is not None and stored.count == 2
    assert stored.evidence == [event, plain.evidence[0]]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_evidence_table_of_the_first_layout_is_migrated_and_stays_idempotent(tmp_path: Path, backend: str) -> None:
    """A database written before event ids were recorded under the key's hash: opened, its rows move to the
    new layout in one go, and the events it recorded are still known (re-adding them is a no-op)."""
    from sqlalchemy import inspect, text

    from cloudwarden.detect import alert_store as mod

    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else _pg_schema_url()
    first = AlertStore(open_store(url))
    [aid] = first.add([alert("e1"), alert("e2", minute=1)], now=T0)
    key = alert("e1").key()
    serial = "INTEGER PRIMARY KEY" if backend == "sqlite" else "SERIAL PRIMARY KEY"
    with first.state.engine.begin() as con:  # the table as the first layout had it
        con.execute(text("DROP TABLE alert_evidence"))
        con.execute(text(
            f"CREATE TABLE alert_evidence (id {serial}, alert_id INTEGER REFERENCES alerts(id) ON DELETE CASCADE, "
            '"key" VARCHAR(1024), event_id VARCHAR(256), CONSTRAINT uq_alert_evidence_key_event UNIQUE ("key", event_id))'))
        con.execute(text("CREATE INDEX ix_alert_evidence_alert_id ON alert_evidence (alert_id)"))
        con.execute(text('INSERT INTO alert_evidence (alert_id, "key", event_id) VALUES (:a, :k, :e)'),
                    [{"a": aid, "k": key, "e": "e1"}, {"a": aid, "k": key, "e": "e2"}])
    first.state.engine.dispose()
    mod._MIGRATED.clear()
    state = open_store(url)
    assert mod.migrate_evidence_table(state) == 2
    with state.engine.begin() as con:  # the table's own id default works right after the move (no id collides)
        con.execute(text("INSERT INTO alert_evidence (alert_id, key_hash, event_id) VALUES (:a, 1, 'x1'), (:a, 1, 'x2')"),
                    {"a": aid})
        con.execute(text("DELETE FROM alert_evidence WHERE key_hash = 1"))
    again = AlertStore(state)
    assert again.add([alert("e1"), alert("e2", minute=1)], now=T0) == [aid]  # known: nothing new
    got = again.get(aid)
    assert got is not None and got.count == 2 and got.evidence_ids == ["e1", "e2"]
    assert again.add([alert("e3", minute=2)], now=T0) == [aid]  # new ids get new rows (the id sequence works)
    cols = {c["name"] for c in inspect(state.engine).get_columns("alert_evidence")}
    assert "key" not in cols and "key_hash" in cols
    assert not inspect(state.engine).has_table("alert_evidence_v1")
    with state.engine.connect() as con:
        assert con.execute(text("SELECT count(*) FROM alert_evidence")).scalar() == 3
    mod._MIGRATED.clear()
    assert mod.migrate_evidence_table(state) == 0  # done once


def test_migration_check_on_a_database_without_tables_does_nothing(tmp_path: Path) -> None:
    from cloudwarden.detect import alert_store as mod
    from cloudwarden.store.state import StateStore

    bare = StateStore(f"sqlite:///{tmp_path / 'bare.db'}")  # no create_schema yet
    assert mod.migrate_evidence_table(bare) == 0
