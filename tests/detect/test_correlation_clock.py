"""The Detector's bounded clock: event time closes and expires correlation windows, but an event stamped
far in the future (a skewed clock, a forged record) cannot move that time past now() + tolerance.
Hand-built events; the detector's `now` is injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloudwarden.detect.engine import FUTURE_TOLERANCE, Detector
from tests.detect.test_correlation import T0, base, corr, ev, ruleset

CID = "99999999-0000-4000-8000-000000000001"
FAR = datetime(2099, 1, 1, tzinfo=UTC)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def corr_alerts(alerts: list[Any]) -> list[Any]:
    return [a for a in alerts if a.rule_id == CID]


def fewer_than() -> Any:  # fewer than 3 reads per user in 10 minutes: decided when the window closes
    return ruleset(base("read", "GetSecretValue"),
                   corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"lt": 3}))


def login_without_mfa() -> Any:
    return ruleset(base("login", "ConsoleLogin"), base("mfa", "CheckMfa"),
                   {**corr("temporal", [], group_by=["userIdentity.arn"], timespan="5m"),
                    "correlation": {"type": "temporal", "group-by": ["userIdentity.arn"], "timespan": "5m",
                                    "condition": "login and not mfa"}})


def burst(n: int) -> Any:  # at least n reads per user in 10 minutes: a sliding window checked on arrival
    return ruleset(base("read", "GetSecretValue"),
                   corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": n}))


@pytest.mark.parametrize(("rules", "opener", "future"), [
    (fewer_than, "GetSecretValue", "GetSecretValue"),  # the future event feeds the rule (another user)
    (fewer_than, "GetSecretValue", "DescribeInstances"),  # or matches nothing at all
    (login_without_mfa, "ConsoleLogin", "ConsoleLogin"),
])
def test_a_far_future_event_does_not_close_open_windows(rules: Any, opener: str, future: str) -> None:
    clock = Clock(at(3))
    det = Detector(rules(), now=clock)
    assert corr_alerts(det.process(ev(opener), at(0))) == []  # alice's window: minute 0 to its timespan
    assert corr_alerts(det.process(ev(future, "mallory"), FAR)) == []  # not closed by the year 2099
    assert det.stats["future_events"] == 1
    assert corr_alerts(det.flush(at(4))) == []  # and still open at minute 4
    clock.at = at(30)
    closed = corr_alerts(det.flush(at(11)))  # the window really ends: alice's "fewer than" is decided then
    assert "arn:aws:iam::1:user/alice" in [a.entity for a in closed]


def test_without_the_bound_the_far_future_event_closes_them() -> None:
    # the failure the bound prevents (now=None: trusted replays such as a rule's own examples)
    det = Detector(fewer_than(), now=None)
    det.process(ev("GetSecretValue"), at(0))
    closed = corr_alerts(det.process(ev("DescribeInstances", "mallory"), FAR))
    assert [a.entity for a in closed] == ["arn:aws:iam::1:user/alice"]
    assert det.stats["future_events"] == 0


def test_a_far_future_event_does_not_evict_a_sliding_window() -> None:
    det = Detector(burst(4), now=Clock(at(3)))
    for minute in (0, 1):
        assert corr_alerts(det.process(ev("GetSecretValue"), at(minute))) == []
    # alice's forged third read, dated 2099: counted at the stream's time, not pushing minutes 0 and 1 out
    assert corr_alerts(det.process(ev("GetSecretValue"), FAR)) == []
    alerts = corr_alerts(det.process(ev("GetSecretValue"), at(2)))
    assert len(alerts) == 1 and alerts[0].count == 4
    assert alerts[0].first_seen == at(0) and alerts[0].last_seen == at(2)
    assert det.stats["future_events"] == 1

    old = Detector(burst(4), now=None)  # unbounded: the 2099 entry expired the window's older entries
    for when in (at(0), at(1), FAR, at(2)):
        assert corr_alerts(old.process(ev("GetSecretValue"), when)) == []


def test_a_future_event_keeps_its_own_time_for_single_event_alerts() -> None:
    rs = ruleset({**base("read", "GetSecretValue"), "id": "11111111-0000-4000-8000-000000000001"},
                 corr("event_count", ["read"], condition={"gte": 2}, generate=True))
    det = Detector(rs, now=Clock(at(0)))
    det.process(ev("GetSecretValue"), at(0))
    alerts = det.process(ev("GetSecretValue"), FAR)
    single = [a for a in alerts if a.rule_id == "11111111-0000-4000-8000-000000000001"]
    assert [a.last_seen for a in single] == [FAR]  # matched, reported with the time it claims
    (fired,) = corr_alerts(alerts)
    assert fired.last_seen == at(0)  # the correlation is placed at the stream's time


def test_events_within_the_tolerance_move_the_clock_as_before() -> None:
    clock = Clock(at(9))
    det = Detector(fewer_than(), now=clock)
    det.process(ev("GetSecretValue"), at(0))
    ahead = at(9) + FUTURE_TOLERANCE - timedelta(seconds=1)  # window ended at minute 10: this closes it
    assert [a.entity for a in corr_alerts(det.process(ev("DescribeInstances"), ahead))] == ["arn:aws:iam::1:user/alice"]
    assert det.stats["future_events"] == 0
    det.process(ev("GetSecretValue", "bob"), at(10))
    beyond = at(9) + FUTURE_TOLERANCE + timedelta(minutes=30)  # bob's window ends at 20: not by this one
    assert corr_alerts(det.process(ev("DescribeInstances"), beyond)) == []
    assert det.stats["future_events"] == 1
    clock.at = beyond  # the wall clock catches up: the same time is now plausible
    assert [a.entity for a in corr_alerts(det.process(ev("DescribeInstances"), beyond))] == ["arn:aws:iam::1:user/bob"]


def test_flush_is_capped_by_the_clock_too() -> None:
    clock = Clock(at(4))
    det = Detector(fewer_than(), now=clock)
    det.process(ev("GetSecretValue"), at(0))
    assert corr_alerts(det.flush(FAR)) == []  # the window (0-10) has not ended by now + tolerance (minute 9)
    clock.at = at(11)
    assert len(corr_alerts(det.flush(FAR))) == 1


def _stream() -> list[tuple[dict[str, Any], datetime]]:
    """Past events in order: alice reads 3 times (burst), bob once (fewer than 3), carol 3 times, 11 minutes apart."""
    out = []
    for user, minutes in (("alice", (0, 1, 2)), ("bob", (3,)), ("carol", (5, 16, 27))):
        out += [(ev("GetSecretValue", user), at(m)) for m in minutes]
    out.sort(key=lambda pair: pair[1])
    return [*out, (ev("DescribeInstances"), at(60))]


@pytest.mark.parametrize("rules", [lambda: burst(3), fewer_than])
def test_an_in_order_past_stream_fires_exactly_as_without_the_bound(rules: Any) -> None:
    stream = _stream()

    def run(det: Detector) -> list[tuple[Any, ...]]:
        alerts = [a for e, when in stream for a in det.process(e, when)] + det.flush(at(120))
        return [(a.rule_id, a.entity, a.count, a.first_seen, a.last_seen, a.evidence_ids, a.explanation)
                for a in corr_alerts(alerts)]

    bounded = Detector(rules())  # the default: the real wall clock, far after March 2026's events
    got = run(bounded)
    assert got == run(Detector(rules(), now=None))
    assert bounded.stats["future_events"] == 0
    entities = sorted(a[1].rsplit("/", 1)[1] for a in got)
    if rules is fewer_than:  # bob (1 read) and carol (1 read per 10-minute window, three windows)
        assert entities == ["bob", "carol", "carol", "carol"]
    else:  # alice's burst only: carol's reads are 11 minutes apart
        assert entities == ["alice"]


def test_process_many_holds_future_events_back_the_same_way() -> None:
    events = [ev("GetSecretValue"), ev("GetSecretValue"), ev("GetSecretValue"), ev("GetSecretValue")]
    times = [at(0), at(1), FAR, at(2)]
    one = Detector(burst(4), now=Clock(at(3)))
    many = Detector(burst(4), now=Clock(at(3)))
    expect = [a.rule_id for e, t in zip(events, times, strict=True) for a in one.process(e, t)]
    assert [a.rule_id for a in many.process_many(events, times)] == expect == [CID]
    assert many.stats["future_events"] == one.stats["future_events"] == 1


def test_after_a_restore_a_future_event_is_held_at_the_saved_windows_time() -> None:
    first = Detector(fewer_than(), now=Clock(at(3)))
    first.process(ev("GetSecretValue"), at(0))
    data = first.snapshot()  # the format is unchanged: a detector without the bound reads it too
    assert Detector(fewer_than(), now=None).restore(data).groups == 1

    clock = Clock(at(30))  # restarted later: the wall clock is past the window's end, the stream is not yet
    again = Detector(fewer_than(), now=clock)
    assert again.restore(data).groups == 1
    assert corr_alerts(again.process(ev("DescribeInstances", "mallory"), FAR)) == []
    assert again.stats["groups"] == 1 and again.stats["future_events"] == 1
    assert [a.entity for a in corr_alerts(again.flush(at(11)))] == ["arn:aws:iam::1:user/alice"]
