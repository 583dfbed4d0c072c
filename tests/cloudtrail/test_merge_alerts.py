"""`merge_alerts` (alerts grouped by key, each key sorted by time) against the plain reference it replaced:
one stable sort of all single-event alerts by (key, first_seen), then one fold pass. Same alerts, same
order, same explanations; the input alerts are never changed."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloudwarden.cloudtrail.ingest import merge_alerts
from cloudwarden.models.alert import Alert

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def reference_merge(alerts: list[Alert], window: timedelta, evidence_limit: int,
                    explain: Callable[[Alert, Mapping[str, Any]], str] | None) -> list[Alert]:
    out: list[Alert] = []
    singles: list[Alert] = []
    for alert in alerts:
        (singles if alert.count == 1 and len(alert.evidence_ids) == 1 else out).append(alert)
    singles.sort(key=lambda a: (a.key(), a.first_seen))
    current: Alert | None = None
    current_key = ""
    ids: set[str] = set()
    newest: dict[int, Alert] = {}
    for alert in singles:
        key = alert.key()
        if current is not None and key == current_key and alert.first_seen - current.last_seen <= window:
            eid = alert.evidence_ids[0]
            if eid in ids:
                continue
            ids.add(eid)
            current.evidence_ids.append(eid)
            if len(current.evidence) < evidence_limit:
                current.evidence.extend(alert.evidence)
            current.count = len(current.evidence_ids)
            if alert.last_seen >= current.last_seen:
                current.last_seen = alert.last_seen
                current.explanation = alert.explanation
                newest[id(current)] = alert
            continue
        current = Alert(**{**alert.__dict__, "evidence": list(alert.evidence), "evidence_ids": list(alert.evidence_ids)})
        current_key = key
        ids = set(alert.evidence_ids)
        newest[id(current)] = alert
        out.append(current)
    if explain is not None:
        for folded in out:
            if not folded.explanation:
                source = newest.get(id(folded), folded)
                if source.evidence:
                    folded.explanation = explain(source, source.evidence[0])
    return out


def _stream(rnd: random.Random) -> list[Alert]:
    alerts = []
    for n in range(rnd.randrange(0, 120)):
        eid = f"e{rnd.randrange(80)}"
        t = T0 + timedelta(minutes=rnd.choice([0, 0, 5, rnd.randrange(0, 400)]))  # ties in time are common
        a = Alert(rule_id=rnd.choice(["r1", "r2"]), title="T", severity="high", source="cloudtrail",
                  explanation=rnd.choice(["", f"x{n}"]), first_seen=t, last_seen=t, entity=rnd.choice(["p", "q", "r"]),
                  account=rnd.choice(["1", "2"]), evidence=[{"eventID": eid, "n": n}], evidence_ids=[eid],
                  group_key=rnd.choice(["", "", "custom"]))
        if rnd.random() < 0.1:  # a correlation alert: passes through
            a.evidence_ids = [eid, f"e{rnd.randrange(80)}"]
            a.count = 2
        elif rnd.random() < 0.05:
            a.last_seen = t + timedelta(minutes=rnd.randrange(0, 120))
        alerts.append(a)
    return alerts


def _explain(alert: Alert, event: Mapping[str, Any]) -> str:
    return f"{alert.rule_id} on {event['eventID']}#{event['n']}"


@pytest.mark.parametrize("seed", range(40))
def test_merge_alerts_matches_the_sort_and_fold_reference(seed: int) -> None:
    rnd = random.Random(seed)
    alerts = _stream(rnd)
    window = timedelta(minutes=rnd.choice([10, 60]))
    limit = rnd.choice([1, 2, 20])
    explain = rnd.choice([None, _explain])
    untouched = copy.deepcopy(alerts)
    got = merge_alerts(alerts, window, limit, explain)
    assert [a.__dict__ for a in alerts if a.count == 1 and len(a.evidence_ids) == 1] == [
        a.__dict__ for a in untouched if a.count == 1 and len(a.evidence_ids) == 1]  # inputs not changed
    want = reference_merge(copy.deepcopy(untouched), window, limit, explain)
    assert [a.__dict__ for a in got] == [a.__dict__ for a in want]
