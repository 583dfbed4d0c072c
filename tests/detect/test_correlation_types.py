"""The numeric correlation types, ranges, "fewer than" conditions (window close on event time) and
extended boolean temporal conditions — each with positive and negative hand-built events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cloudwarden.detect.engine import Detector
from tests.detect.test_correlation import T0, base, corr, ev, fired, ruleset

CID = "99999999-0000-4000-8000-000000000001"


def _flush(det: Detector, minute: int) -> list[Any]:
    return [a for a in det.flush(T0 + timedelta(minutes=minute)) if a.rule_id == CID]


def _get(n: Any, user: str = "alice") -> dict[str, Any]:
    return ev("GetObject", user, bytesOut=n)


def test_value_sum_fires_when_the_sum_passes_the_threshold() -> None:
    rs = ruleset(base("get", "GetObject"),
                 corr("value_sum", ["get"], group_by=["userIdentity.arn"], condition={"gt": 1000, "field": "bytesOut"}))
    det = Detector(rs)
    assert not fired(det, [(_get(300, "bob"), 0), (_get(300, "bob"), 1), (_get(400, "bob"), 2)])  # 1000 is not > 1000
    alerts = fired(det, [(_get(600), 0), (_get("500"), 1)])  # numeric text counts
    assert len(alerts) == 1
    assert "sum of bytesOut = 1100 over 2 events" in alerts[0].explanation and "> 1000" in alerts[0].explanation


def test_value_sum_skips_and_counts_non_numeric_values() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_sum", ["get"], condition={"gte": 10, "field": "bytesOut"}))
    det = Detector(rs)
    assert not fired(det, [(_get("lots"), 0), (_get(True), 1), (_get({"n": 50}), 2), (_get(float("nan")), 3),
                           (ev("GetObject"), 4)])  # the last has no field: does not count, not "non-numeric"
    assert det.stats["non_numeric_values"] == 4
    assert fired(det, [(_get(4), 5), (_get(6), 6)])


def test_value_sum_window_drops_old_values() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_sum", ["get"], timespan="10m", condition={"gte": 100, "field": "bytesOut"}))
    det = Detector(rs)
    assert not fired(det, [(_get(60), 0), (_get(60), 11)])  # 11 minutes apart: never together in the window
    assert fired(det, [(_get(40), 12)])


def test_value_avg() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_avg", ["get"], group_by=["userIdentity.arn"],
                                                condition={"gte": 100, "field": "bytesOut"}))
    det = Detector(rs)
    assert not fired(det, [(_get(10, "bob"), 0), (_get(150, "bob"), 1)])  # average 80
    alerts = fired(det, [(_get(90), 0), (_get(110), 1)])  # average 100
    assert len(alerts) == 1 and "average of bytesOut = 100" in alerts[0].explanation


def test_value_median_is_robust_to_one_outlier() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_median", ["get"], group_by=["userIdentity.arn"],
                                                condition={"gte": 500, "field": "bytesOut"}))
    det = Detector(rs)
    # median of [10] < 500, of [10, 20] = 15, of [10, 20, 100000] = 20: the outlier alone never fires it
    assert not fired(det, [(_get(10, "bob"), 0), (_get(20, "bob"), 1), (_get(100000, "bob"), 2)])
    alerts = fired(det, [(_get(400), 0), (_get(600), 1)])  # median of two: 500
    assert len(alerts) == 1 and "median of bytesOut = 500" in alerts[0].explanation


def test_value_percentile() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_percentile", ["get"], group_by=["userIdentity.arn"],
                                                condition={"gt": 90, "field": "bytesOut", "percentile": 90}))
    det = Detector(rs)
    # bob: 1..10 -> 90th percentile 9.1, never > 90
    assert not fired(det, [(_get(i, "bob"), i) for i in range(1, 11)])
    # alice: [1, 100] -> 90th percentile 1 + 0.9 * 99 = 90.1
    alerts = fired(det, [(_get(1), 0), (_get(100), 1)])
    assert len(alerts) == 1 and "90th percentile of bytesOut = 90.1" in alerts[0].explanation


def test_value_types_keep_a_bounded_number_of_values() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_sum", ["get"], condition={"gte": 10**9, "field": "bytesOut"}))
    det = Detector(rs, max_events_per_group=5)
    fired(det, [(_get(1), i) for i in range(20)])
    assert all(len(g) <= 5 for g in det._states[0].groups.values())


def test_fewer_than_fires_when_the_window_closes_on_event_time() -> None:
    # "a principal that called GetObject fewer than 3 times in its 10-minute window"
    rs = ruleset(base("get", "GetObject"), corr("event_count", ["get"], group_by=["userIdentity.arn"], condition={"lt": 3}))
    det = Detector(rs)
    assert not fired(det, [(_get(1), 0), (_get(1), 2)])  # the window (minutes 0-10) is still open
    assert not fired(det, [(_get(1, "bob"), 5), (_get(1, "bob"), 6), (_get(1, "bob"), 7)])  # bob: 3, not < 3
    assert not fired(det, [(ev("ListBuckets"), 10)])  # minute 10 is still inside alice's window (end inclusive)
    # an unrelated event later than minute 10 closes alice's window (event time, not the wall clock)
    alerts = fired(det, [(ev("ListBuckets", "carol"), 11)])
    assert len(alerts) == 1
    a = alerts[0]
    assert a.count == 2 and a.entity == "arn:aws:iam::1:user/alice" and len(a.evidence_ids) == 2
    assert "< 3" in a.explanation and "when the window closed" in a.explanation
    assert a.first_seen == T0 and a.last_seen == T0 + timedelta(minutes=2)
    assert _flush(det, 60) == []  # bob's window closes without firing; nothing is left
    assert det.stats["groups"] == 0


def test_fewer_than_at_flush_and_not_before_the_window_ends() -> None:
    rs = ruleset(base("get", "GetObject"), corr("event_count", ["get"], condition={"lte": 1}))
    det = Detector(rs)
    assert not fired(det, [(_get(1), 0)])
    assert _flush(det, 9) == []  # window 0-10 still open
    assert len(_flush(det, 11)) == 1
    assert _flush(det, 30) == []  # fired once; the group is gone
    # after the close, the next event opens a new window
    assert not fired(det, [(_get(1), 40), (_get(1), 41)])
    assert _flush(det, 60) == []  # two events: not <= 1


def test_neq_fires_for_any_other_count() -> None:
    rs = ruleset(base("get", "GetObject"), corr("event_count", ["get"], group_by=["userIdentity.arn"], condition={"neq": 2}))
    det = Detector(rs)
    fired(det, [(_get(1, "bob"), 0), (_get(1, "bob"), 1), (_get(1), 0), (_get(1), 1), (_get(1), 2)])
    alerts = _flush(det, 20)
    assert [a.entity for a in alerts] == ["arn:aws:iam::1:user/alice"]


def test_range_of_two_operators() -> None:
    rs = ruleset(base("get", "GetObject"), corr("event_count", ["get"], group_by=["userIdentity.arn"],
                                                condition={"gte": 3, "lte": 5}))
    assert rs.correlations[0][1].conds == [("gte", 3.0), ("lte", 5.0)]
    det = Detector(rs)
    fired(det, [(_get(1, "two"), 0), (_get(1, "two"), 1)])
    fired(det, [(_get(1, "four"), i) for i in range(4)])
    fired(det, [(_get(1, "seven"), i) for i in range(7)])
    alerts = _flush(det, 20)
    assert [a.entity for a in alerts] == ["arn:aws:iam::1:user/four"]
    assert "≥ 3 and ≤ 5" in alerts[0].explanation


def test_value_count_fewer_than_with_overflow_bound() -> None:
    # fewer than 3 distinct buckets: keeps at most 4 entries per group however many distinct values arrive
    rs = ruleset(base("get", "GetObject"), corr("value_count", ["get"], group_by=["userIdentity.arn"],
                                                condition={"lt": 3, "field": "bucket"}))
    det = Detector(rs)
    fired(det, [(ev("GetObject", "many", bucket=f"b{i}"), i % 5) for i in range(50)])
    fired(det, [(ev("GetObject", "few", bucket="b1"), 0), (ev("GetObject", "few", bucket="B1"), 1),
                (ev("GetObject", "few", bucket="b2"), 2)])
    assert max(len(g) for g in det._states[0].groups.values()) <= 4
    alerts = _flush(det, 30)
    assert [a.entity for a in alerts] == ["arn:aws:iam::1:user/few"]


def test_value_median_fewer_than_at_close() -> None:
    rs = ruleset(base("get", "GetObject"), corr("value_median", ["get"], group_by=["userIdentity.arn"],
                                                condition={"lt": 10, "field": "bytesOut"}))
    det = Detector(rs)
    fired(det, [(_get(1), 0), (_get(2), 1), (_get(500), 2)])  # median 2
    fired(det, [(_get(50, "bob"), 0), (_get(60, "bob"), 1)])  # median 55
    assert [a.entity for a in _flush(det, 30)] == ["arn:aws:iam::1:user/alice"]


def test_extended_condition_and_not_waits_for_the_window() -> None:
    # a console login with no MFA check within 5 minutes
    rs = ruleset(base("login", "ConsoleLogin"), base("mfa", "CheckMfa"),
                 {**corr("temporal", [], group_by=["userIdentity.arn"], timespan="5m"),
                  "correlation": {"type": "temporal", "group-by": ["userIdentity.arn"], "timespan": "5m",
                                  "condition": "login and not mfa"}})
    det = Detector(rs)
    fired(det, [(ev("ConsoleLogin", "bob"), 0), (ev("CheckMfa", "bob"), 2)])  # bob checked MFA
    fired(det, [(ev("CheckMfa", "carol"), 0)])  # carol: no login at all
    assert not fired(det, [(ev("ConsoleLogin"), 1)])  # alice: login, window open until minute 6
    alerts = _flush(det, 7)
    assert [a.entity for a in alerts] == ["arn:aws:iam::1:user/alice"]
    assert "'login and not mfa'" in alerts[0].explanation


def test_extended_condition_without_not_fires_on_arrival() -> None:
    rs = ruleset(base("a", "Alpha"), base("b", "Beta"), base("c", "Gamma"),
                 {**corr("temporal", []), "correlation": {"type": "temporal", "timespan": "5m", "group-by": ["userIdentity.arn"],
                                                          "condition": "a and (b or c)"}})
    det = Detector(rs)
    assert not fired(det, [(ev("Alpha", "bob"), 0), (ev("Alpha", "bob"), 1)])
    assert not fired(det, [(ev("Beta", "carol"), 0), (ev("Gamma", "carol"), 1)])
    assert len(fired(det, [(ev("Gamma"), 0), (ev("Alpha"), 1)])) == 1
    assert not rs.correlations[0][1].closing


def test_rule_examples_of_a_fewer_than_correlation_are_decided() -> None:
    from cloudwarden.detect.examples import run_examples

    one = {"eventName": "GetObject", "userIdentity": {"arn": "arn:aws:iam::1:user/a"}}
    rule = {**corr("event_count", ["get"], group_by=["userIdentity.arn"], condition={"lt": 2}),
            "x-examples": {"positive": [[one]], "negative": [[one, one]]}}
    rs = ruleset(base("get", "GetObject"), rule)
    results = [r for r in run_examples(rs) if r.rule.id == CID]
    assert [(r.kind, r.ok) for r in results] == [("positive", True), ("negative", True)]
