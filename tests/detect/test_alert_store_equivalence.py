"""The bulk alert path against the one-by-one reference on randomised streams that reach the bulk path's
shortcuts: rows loaded from an earlier batch (evidence read back only when a fold needs it, JSON columns
rewritten only when changed), evidence the stdlib had to write (NaN, integers past 64 bits), duplicate
members, more evidence than event ids, full evidence, repeated parameter values."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.models.alert import Alert
from cloudwarden.store.state import open_store
from tests.detect.test_alert_store import _pg_schema_url, _snapshot

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
# no NaN/Infinity: `json_text` writes them as null through orjson but as NaN through its stdlib fallback (taken
# when the same list holds an integer past 64 bits), so the two paths, which serialise different lists, may differ
ODD_VALUES: list[Any] = [2**70, -(2**65), 1e300, "\u00e9\u4e2d", 12345678901234567890123, 0.1, -0.0]


def _event(rnd: random.Random, eid: str) -> dict[str, Any]:
    ev: dict[str, Any] = {"eventID": eid, "eventName": rnd.choice(["AssumeRole", "StopLogging"])}
    if rnd.random() < 0.15:
        ev["requestParameters"] = {"odd": rnd.choice(ODD_VALUES)}
    return ev


def _alert(rnd: random.Random, n: int) -> Alert:
    eid = f"e{rnd.randrange(60)}"
    t = T0 + timedelta(minutes=rnd.randrange(0, 600))
    a = Alert(rule_id=rnd.choice(["r-1", "r-2", "r-3"]), title="T", severity=rnd.choice(["low", "medium", "high"]),
              source="cloudtrail", explanation=f"why #{n}", first_seen=t, last_seen=t,
              entity=rnd.choice(["arn:aws:iam::1:user/alice", "arn:aws:iam::1:user/bob"]), account="111122223333",
              attack_ids=rnd.choice([["T1078"], ["T1078", "T1098"], []]), evidence=[_event(rnd, eid)], evidence_ids=[eid])
    roll = rnd.random()
    if roll < 0.2:  # a correlation or folded alert over several events, some maybe already recorded
        a.evidence_ids = [f"e{rnd.randrange(60)}" for _ in range(rnd.randrange(2, 7))]
        a.evidence = [_event(rnd, x) for x in a.evidence_ids]
        a.count = len(a.evidence_ids)
        a.last_seen = a.first_seen + timedelta(minutes=rnd.randrange(0, 90))
    elif roll < 0.27:  # more evidence than event ids: only the evidence paired with an id is kept
        a.evidence.append(_event(rnd, "extra"))
    elif roll < 0.32:  # no event ids: never deduplicated
        a.evidence_ids, a.count = [], rnd.randrange(1, 4)
    elif roll < 0.35:  # an empty event id is ignored
        a.evidence_ids = ["", eid]
        a.evidence = [_event(rnd, ""), _event(rnd, eid)]
        a.count = 2
    if rnd.random() < 0.25:
        a.members = [rnd.choice(["web-1", "web-2", "web-3"]) for _ in range(rnd.randrange(1, 4))]  # duplicates too
    if rnd.random() < 0.1:
        a.anomaly = {"score": n, "odd": rnd.choice(ODD_VALUES)}
    return a


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN (stored evidence may hold one)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


@pytest.mark.parametrize(("backend", "seed"), [("sqlite", s) for s in range(16)] + [
    pytest.param("postgres", s, marks=pytest.mark.postgres) for s in range(4)])
def test_bulk_matches_reference_on_odd_streams(tmp_path: Path, seed: int, backend: str) -> None:
    rnd = random.Random(1000 + seed)
    url = f"sqlite:///{tmp_path / 'bulk.db'}" if backend == "sqlite" else _pg_schema_url()
    limit = rnd.choice([1, 3, 20])
    bulk = AlertStore(open_store(url), evidence_limit=limit)
    ref = AlertStore(open_store(f"sqlite:///{tmp_path / 'ref.db'}"), evidence_limit=limit)
    if rnd.random() < 0.5:
        for st in (bulk, ref):
            st.suppress(reason="noisy", created_by="ops", rule_id="r-3", entity="*bob", now=T0)
    n = 0
    for _round in range(8):
        batch = []
        for _ in range(rnd.randrange(1, 40)):
            n += 1
            batch.append(_alert(rnd, n))
        got = bulk.add_each(batch, now=T0)
        assert got == ref._add_one_by_one(batch, T0.replace(tzinfo=None))
        stored = [x for x in dict.fromkeys(got) if x is not None]
        if stored and rnd.random() < 0.3:
            victim = rnd.choice(stored)
            bulk.resolve(victim, "sec")
            ref.resolve(victim, "sec")
    assert _same(_snapshot(bulk), _snapshot(ref))
    assert [s.hits for s in bulk.suppressions(now=T0)] == [s.hits for s in ref.suppressions(now=T0)]


def test_a_join_that_adds_no_evidence_leaves_the_stored_evidence_text_alone(tmp_path: Path) -> None:
    """Only changed JSON columns are written: the stdlib-written evidence of a full row keeps its exact text."""
    st = AlertStore(open_store(f"sqlite:///{tmp_path / 's.db'}"), evidence_limit=1)
    first = Alert(rule_id="r", title="T", severity="low", source="cloudtrail", explanation="a", first_seen=T0,
                  last_seen=T0, entity="p", evidence=[{"eventID": "a", "n": 2**70, "x": float("nan")}], evidence_ids=["a"])
    (rid,) = st.add([first])
    with st.state.engine.connect() as c:
        before = c.execute(text("SELECT evidence FROM alerts WHERE id = :i"), {"i": rid}).scalar_one()
    later = Alert(rule_id="r", title="T", severity="high", source="cloudtrail", explanation="b",
                  first_seen=T0 + timedelta(minutes=5), last_seen=T0 + timedelta(minutes=5), entity="p",
                  evidence=[{"eventID": "b"}], evidence_ids=["b"], members=["m", "m"])
    assert st.add([later]) == [rid]
    with st.state.engine.connect() as c:
        after = c.execute(text("SELECT evidence FROM alerts WHERE id = :i"), {"i": rid}).scalar_one()
    got = st.get(rid)
    assert got is not None
    assert after == before and got.count == 2 and got.severity == "high" and got.explanation == "b"
    assert got.members == ["m"] and got.evidence_ids == ["a", "b"] and got.evidence[0]["n"] == 2**70


@pytest.mark.parametrize("value", [
    [], {"a": [1, 2.5, None, True]}, [2**64, -(2**63) - 1, 2**63 - 1], [float("nan"), float("inf"), -float("inf")],
    ["\ud800 lone surrogate"], 2**70, -(2**64), {"a": {"b": [0, 2**64]}}, {"id": "1234567890123456789012 in a string"}, [1e300, 5e-324, -0.0], "\u00e9",
])
def test_json_column_text_reads_as_the_stdlib_reads_it(value: Any) -> None:
    from cloudwarden.detect.alert_store import _json_value

    for dumped in (json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value, indent=2)):
        assert _same(_json_value(dumped), json.loads(dumped))
    assert _json_value(None) is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_bulk_writers_on_shared_rows_store_every_event_once(tmp_path: Path, backend: str) -> None:
    """Two writers adding overlapping events of the same keys (both update the same rows): no error (rows are
    updated in id order), every event recorded once, counts add up."""
    import threading

    url = f"sqlite:///{tmp_path / 'shared.db'}" if backend == "sqlite" else _pg_schema_url()
    stores = [AlertStore(open_store(url)), AlertStore(open_store(url))]
    events = [(f"w{i}", f"arn:aws:iam::1:user/u{i % 5}", i * 0.2) for i in range(300)]

    def alert(eid: str, entity: str, minute: float) -> Alert:
        t = T0 + timedelta(minutes=minute)
        return Alert(rule_id="r", title="T", severity="low", source="cloudtrail", explanation=eid, first_seen=t,
                     last_seen=t, entity=entity, evidence=[{"eventID": eid}], evidence_ids=[eid], members=[entity[-2:]])

    errors: list[BaseException] = []

    def run(st: AlertStore, order: list[tuple[str, str, float]]) -> None:
        try:
            for i in range(0, len(order), 30):
                st.add([alert(*e) for e in order[i:i + 30]])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    rnd = random.Random(5)
    orders = [events[:200], rnd.sample(events[100:], 200)]
    threads = [threading.Thread(target=run, args=(st, o)) for st, o in zip(stores, orders, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    listed = stores[0].list(limit=100)
    assert sum(a.count for a in listed) == 300 and len(listed) == 5
    ids = [eid for a in listed for eid in (stores[0].get(a.id) or a).evidence_ids]
    assert sorted(ids) == sorted(e[0] for e in events)


@pytest.mark.parametrize("seed", range(6))
def test_a_key_with_many_windows_in_one_batch_joins_as_the_reference_does(tmp_path: Path, seed: int) -> None:
    """Past 16 rows of one key in a batch the store finds the newest joinable row through an index by
    last_seen instead of a scan; spans out of order, overlapping and tied must join the same rows."""
    rnd = random.Random(2000 + seed)
    bulk = AlertStore(open_store(f"sqlite:///{tmp_path / 'bulk.db'}"))
    ref = AlertStore(open_store(f"sqlite:///{tmp_path / 'ref.db'}"))
    n = 0
    for _round in range(3):
        batch = []
        for _ in range(rnd.randrange(60, 160)):
            n += 1
            t = T0 + timedelta(minutes=rnd.choice([rnd.randrange(0, 40000), 90 * rnd.randrange(0, 400)]))
            span = timedelta(minutes=rnd.choice([0, 0, 30, 200]))
            batch.append(Alert(rule_id="r-1", title="T", severity="low", source="cloudtrail", explanation=f"#{n}",
                               first_seen=t, last_seen=t + span, entity="arn:aws:iam::1:user/alice",
                               account="111122223333", evidence=[{"eventID": f"e{n}"}], evidence_ids=[f"e{n}"]))
        got = bulk.add_each(batch, now=T0)
        assert got == ref._add_one_by_one(batch, T0.replace(tzinfo=None))
    assert len(set(got)) > 16  # the index path was taken
    assert _same(_snapshot(bulk), _snapshot(ref))


def test_fast_sqlite_datetime_binding_writes_what_sqlalchemy_writes() -> None:
    """New alert rows bind their times through `_sqlite_datetime` (isoformat) instead of SQLAlchemy's SQLite
    DATETIME processor: the stored text must be identical, or range queries on first/last seen would break."""
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from cloudwarden.detect.alert_store import _sqlite_datetime

    dialect = sqlite.dialect()
    original = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert original is not None
    fast = _sqlite_datetime(original)
    rnd = random.Random(7)
    samples = [datetime(1, 1, 1), datetime(999, 12, 31, 23, 59, 59), datetime(2026, 3, 2, 10, 0), None]
    samples += [datetime(1, 1, 1) + timedelta(seconds=rnd.randrange(0, 315537897599),
                                              microseconds=rnd.choice([0, rnd.randrange(1_000_000)])) for _ in range(5000)]
    for value in samples:
        assert fast(value) == original(value)
    aware = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert fast(aware) == original(aware)  # not naive: the original's own handling
