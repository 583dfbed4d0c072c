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


def _events(rnd: random.Random) -> list[Alert]:
    """Single-event alerts of distinct events, in an order files could hold them (mostly by time, not strictly)."""
    alerts = []
    for n in range(rnd.randrange(1, 150)):
        t = T0 + timedelta(minutes=rnd.randrange(0, 600))
        alerts.append(Alert(rule_id=rnd.choice(["r1", "r2"]), title="T", severity="high", source="cloudtrail",
                            explanation=f"x{n}", first_seen=t, last_seen=t, entity=rnd.choice(["p", "q"]),
                            account="1", evidence=[{"eventID": f"e{n}"}], evidence_ids=[f"e{n}"]))
    alerts.sort(key=lambda a: a.first_seen + timedelta(minutes=rnd.randrange(-90, 90)))
    return alerts


def _shape(alerts: list[Alert], limit: int) -> list[tuple[Any, ...]]:
    for a in alerts:
        assert len(a.evidence) == min(limit, a.count)  # bodies kept up to the limit, each one of its events
        assert {e["eventID"] for e in a.evidence} <= set(a.evidence_ids)
    return sorted((a.key(), a.first_seen, a.last_seen, a.count, tuple(sorted(a.evidence_ids))) for a in alerts)


@pytest.mark.parametrize("seed", range(40))
def test_folding_per_file_then_across_files_gives_the_same_alerts(seed: int) -> None:
    """What workers do (fold each file's alerts, the parent folds the folded ones again) yields the alerts one
    process folding every event at once yields: same keys, spans, counts and event ids."""
    rnd = random.Random(seed)
    alerts = _events(rnd)
    window = timedelta(minutes=rnd.choice([10, 60]))
    limit = rnd.choice([1, 3, 20])
    cuts = sorted(rnd.sample(range(1, len(alerts)), min(len(alerts) - 1, rnd.randrange(0, 6)))) if len(alerts) > 1 else []
    files = [alerts[a:b] for a, b in zip([0, *cuts], [*cuts, len(alerts)], strict=True)]
    at_once = merge_alerts(copy.deepcopy(alerts), window, limit)
    per_file = [a for chunk in files for a in merge_alerts(copy.deepcopy(chunk), window, limit)]
    across = merge_alerts(per_file, window, limit, correlations=frozenset({"corr"}))
    assert _shape(across, limit) == _shape(at_once, limit)


def test_folded_pieces_join_only_when_told_which_alerts_are_correlations() -> None:
    def one(eid: str, minute: int) -> Alert:
        t = T0 + timedelta(minutes=minute)
        return Alert(rule_id="r1", title="T", severity="low", source="cloudtrail", explanation="x", first_seen=t,
                     last_seen=t, entity="p", evidence=[{"eventID": eid}], evidence_ids=[eid])

    pieces = merge_alerts([one("a", 0), one("b", 10)]) + merge_alerts([one("c", 20), one("d", 30)])
    assert [a.count for a in pieces] == [2, 2]
    assert [a.count for a in merge_alerts(copy.deepcopy(pieces))] == [2, 2]  # folded alerts pass through
    joined = merge_alerts(copy.deepcopy(pieces), correlations=frozenset())
    assert [(a.count, a.evidence_ids, a.first_seen, a.last_seen) for a in joined] == [
        (4, ["a", "b", "c", "d"], T0, T0 + timedelta(minutes=30))]
    corr = merge_alerts(copy.deepcopy(pieces), correlations=frozenset({"r1"}))
    assert [a.count for a in corr] == [2, 2]  # a correlation's alerts are never folded together


@pytest.mark.parametrize("seed", range(10))
def test_each_rule_folds_with_its_own_window(seed: int) -> None:
    from cloudwarden.detect.grouping import GroupWindow

    rnd = random.Random(seed)
    alerts = _stream(rnd)
    for a in alerts:
        a.group_key = ""  # keys by rule, so that each rule's alerts can be merged apart for the reference
    windows = GroupWindow(timedelta(minutes=10), {"r2": timedelta(hours=2)})
    got = merge_alerts(copy.deepcopy(alerts), windows, 20, None)
    for rule, window in (("r1", timedelta(minutes=10)), ("r2", timedelta(hours=2))):
        want = reference_merge(copy.deepcopy([a for a in alerts if a.rule_id == rule]), window, 20, None)
        assert [a.__dict__ for a in got if a.rule_id == rule] == [a.__dict__ for a in want]
    if seed == 0:  # in this stream r2's longer window folds more than the default would
        assert len([a for a in got if a.rule_id == "r2"]) < len(merge_alerts(
            [a for a in copy.deepcopy(alerts) if a.rule_id == "r2"], timedelta(minutes=10), 20, None))


def test_a_severity_window_folds_that_severity_only() -> None:
    from cloudwarden.detect.grouping import GroupWindow

    def one(eid: str, minute: int, severity: str) -> Alert:
        t = T0 + timedelta(minutes=minute)
        return Alert(rule_id=f"r-{severity}", title="T", severity=severity, source="cloudtrail", explanation="x",
                     first_seen=t, last_seen=t, entity="p", account="1", evidence=[{"eventID": eid}], evidence_ids=[eid])

    alerts = [one(f"{s}{m}", m, s) for m in (0, 60, 120) for s in ("low", "high")]
    got = merge_alerts(alerts, GroupWindow(timedelta(minutes=10), by_severity={"low": timedelta(hours=2)}))
    assert sorted((a.severity, a.count) for a in got) == [("high", 1), ("high", 1), ("high", 1), ("low", 3)]
