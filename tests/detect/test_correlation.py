"""Sigma correlation rules over time windows with group-by, and the Detector's alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from cloudwarden.detect.engine import Detector, load_rules_text

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
N = 0


def base(name: str, event_name: str, *, generate_id: str | None = None) -> dict[str, Any]:
    return {"title": f"base {name}", "name": name, "id": generate_id or None,
            "logsource": {"product": "aws", "service": "cloudtrail"},
            "detection": {"sel": {"eventName": event_name}, "condition": "sel"}, "level": "low"}


def corr(ctype: str, rules: list[str], *, group_by: list[str] | None = None, timespan: str = "10m",
         condition: dict[str, Any] | None = None, generate: bool = False, aliases: dict[str, Any] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"type": ctype, "rules": rules, "timespan": timespan, "generate": generate}
    if group_by:
        c["group-by"] = group_by
    if condition:
        c["condition"] = condition
    if aliases:
        c["aliases"] = aliases
    return {"title": f"corr {ctype}", "id": "99999999-0000-4000-8000-000000000001", "correlation": c, "level": "high",
            "tags": ["attack.credential_access", "attack.t1555.006"]}


def ruleset(*docs: dict[str, Any]) -> Any:
    clean = [{k: v for k, v in d.items() if v is not None} for d in docs]
    rs = load_rules_text("\n---\n".join(yaml.safe_dump(d, sort_keys=False) for d in clean))
    assert not rs.unsupported, rs.unsupported
    return rs


def ev(name: str, user: str = "alice", **extra: Any) -> dict[str, Any]:
    global N
    N += 1
    return {"eventName": name, "eventID": f"e{N}", "userIdentity": {"arn": f"arn:aws:iam::1:user/{user}", "type": "IAMUser"},
            "recipientAccountId": "111122223333", **extra}


def fired(det: Detector, events: list[tuple[dict[str, Any], int]], rule_id: str = "99999999-0000-4000-8000-000000000001") -> list[Any]:
    out = []
    for event, minute in events:
        out.extend(a for a in det.process(event, T0 + timedelta(minutes=minute)) if a.rule_id == rule_id)
    return out


def test_event_count_with_group_by_and_window() -> None:
    rs = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 3}))
    det = Detector(rs)
    # two users interleaved: only alice reaches 3 within 10 minutes
    alerts = fired(det, [(ev("GetSecretValue"), 0), (ev("GetSecretValue", "bob"), 1), (ev("GetSecretValue"), 2),
                         (ev("GetSecretValue", "bob"), 30), (ev("GetSecretValue"), 9)])
    assert len(alerts) == 1
    a = alerts[0]
    assert a.entity == "arn:aws:iam::1:user/alice" and a.count == 3 and len(a.evidence_ids) == 3
    assert a.severity == "high" and a.attack_ids == ["T1555.006"]
    assert "3 events" in a.explanation and "10m" in a.explanation and "alice" in a.explanation
    assert a.first_seen == T0 and a.last_seen == T0 + timedelta(minutes=9)


def test_event_count_window_expires_old_events() -> None:
    rs = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 3}))
    det = Detector(rs)
    assert not fired(det, [(ev("GetSecretValue"), 0), (ev("GetSecretValue"), 8), (ev("GetSecretValue"), 19)])
    assert not fired(det, [(ev("GetSecretValue"), 20)])  # minute 8 has left the window: only 19 and 20 count
    assert fired(det, [(ev("GetSecretValue"), 21)])


def test_event_count_gt_and_refire_after_reset() -> None:
    rs = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], condition={"gt": 2}))
    det = Detector(rs)
    assert len(fired(det, [(ev("GetSecretValue"), i) for i in range(6)])) == 2  # fires at 3rd and 6th event


def test_same_event_twice_counts_once() -> None:
    rs = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], condition={"gte": 2}))
    det = Detector(rs)
    e = ev("GetSecretValue")
    assert not fired(det, [(e, 0), (e, 1)])


def test_base_rules_are_silent_unless_generate() -> None:
    rs = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], condition={"gte": 5}))
    assert Detector(rs).process(ev("GetSecretValue"), T0) == []
    assert rs.match(ev("GetSecretValue")) == [] and rs.match(ev("GetSecretValue"), include_silent=True)
    rs2 = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], condition={"gte": 5}, generate=True))
    assert [a.title for a in Detector(rs2).process(ev("GetSecretValue"), T0)] == ["base read"]


def test_value_count_distinct_values() -> None:
    rs = ruleset(base("fail", "ConsoleLogin"),
                 corr("value_count", ["fail"], group_by=["sourceIPAddress"], condition={"gte": 3, "field": "userIdentity.arn"}))
    det = Detector(rs)
    same_user = [(ev("ConsoleLogin", "alice", sourceIPAddress="203.0.113.9"), i) for i in range(5)]
    assert not fired(det, same_user)
    spray = [(ev("ConsoleLogin", u, sourceIPAddress="203.0.113.9"), i) for i, u in enumerate(["a", "b", "c"])]
    alerts = fired(det, spray)
    assert len(alerts) == 1 and "distinct values of userIdentity.arn" in alerts[0].explanation


def test_temporal_any_order() -> None:
    rs = ruleset(base("key", "CreateAccessKey"), base("stop", "StopLogging"),
                 corr("temporal", ["key", "stop"], group_by=["userIdentity.arn"], timespan="1h", condition={"gte": 2}))
    det = Detector(rs)
    assert fired(det, [(ev("StopLogging"), 0), (ev("CreateAccessKey"), 30)])
    assert not fired(det, [(ev("StopLogging", "bob"), 0), (ev("CreateAccessKey", "carol"), 5)])
    assert not fired(det, [(ev("StopLogging", "dave"), 0), (ev("CreateAccessKey", "dave"), 61)])


def test_temporal_ordered() -> None:
    rs = ruleset(base("login", "ConsoleLogin"), base("key", "CreateAccessKey"),
                 corr("temporal_ordered", ["login", "key"], group_by=["userIdentity.arn"], timespan="1h", condition={"gte": 2}))
    det = Detector(rs)
    assert not fired(det, [(ev("CreateAccessKey", "x"), 0), (ev("ConsoleLogin", "x"), 1)])
    alerts = fired(det, [(ev("ConsoleLogin", "y"), 0), (ev("CreateAccessKey", "y"), 10)])
    assert len(alerts) == 1 and "then" in alerts[0].explanation


def test_group_by_alias() -> None:
    rs = ruleset(base("a", "Alpha"), base("b", "Beta"),
                 corr("temporal", ["a", "b"], group_by=["who"], timespan="5m", condition={"gte": 2},
                      aliases={"who": {"a": "actor", "b": "userIdentity.userName"}}))
    det = Detector(rs)
    assert fired(det, [(ev("Alpha", actor="zed"), 0), (ev("Beta", userIdentity={"userName": "zed"}), 1)])
    assert not fired(det, [(ev("Alpha", actor="zed"), 10), (ev("Beta", userIdentity={"userName": "amy"}), 11)])


def test_state_is_bounded() -> None:
    rs = ruleset(base("read", "GetSecretValue"), corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 1000}))
    det = Detector(rs, max_groups=50, max_events_per_group=10)
    for i in range(500):
        det.process(ev("GetSecretValue", f"user{i % 200}"), T0 + timedelta(seconds=i))
    state = det._states[0]
    assert len(state.groups) <= 50
    assert all(len(q) <= 10 for q in state.groups.values())


def test_unsupported_correlations_are_reported() -> None:
    ordered_ext = corr("temporal_ordered", [], condition=None)
    ordered_ext["correlation"] = {"type": "temporal_ordered", "timespan": "5m", "condition": "read and not read2"}
    docs = [base("read", "GetSecretValue"), base("read2", "GetParameter"),
            {**ordered_ext, "id": "99999999-0000-4000-8000-0000000000a1"},
            {**corr("event_count", ["nope"], condition={"gte": 3}), "id": "99999999-0000-4000-8000-0000000000a2"},
            {**corr("value_percentile", ["read"], condition={"gte": 3, "field": "x", "percentile": 101}),
             "id": "99999999-0000-4000-8000-0000000000a3"}]
    rs = load_rules_text("\n---\n".join(yaml.safe_dump({k: v for k, v in d.items() if v is not None}) for d in docs))
    reasons = {rid: why for _src, rid, why in rs.unsupported}
    assert "temporal correlations, not temporal_ordered" in reasons["99999999-0000-4000-8000-0000000000a1"]
    assert "not loaded" in reasons["99999999-0000-4000-8000-0000000000a2"]
    assert "percentile between 0 and 100" in reasons["99999999-0000-4000-8000-0000000000a3"]


def test_single_rule_alert_fields() -> None:
    rs = ruleset({**base("stop", "StopLogging"), "id": "99999999-0000-4000-8000-0000000000b1",
                  "tags": ["attack.defense_evasion", "attack.t1562.008"], "level": "high"})
    e = ev("StopLogging", awsRegion="eu-west-1")
    (a,) = Detector(rs).process(e, T0)
    assert (a.rule_id, a.severity, a.attack_ids, a.account, a.region) == (
        "99999999-0000-4000-8000-0000000000b1", "high", ["T1562.008"], "111122223333", "eu-west-1")
    assert a.evidence == [e] and a.evidence_ids == [e["eventID"]] and a.source == "cloudtrail"
    assert "sel" in a.explanation and "StopLogging" in a.explanation


def test_entity_function_is_pluggable() -> None:
    rs = ruleset({**base("stop", "StopLogging"), "id": "99999999-0000-4000-8000-0000000000b2"})
    (a,) = Detector(rs, entity_fn=lambda e: "custom").process(ev("StopLogging"), T0)
    assert a.entity == "custom"


def test_correlation_alert_groups_by_its_group_values() -> None:
    rs = ruleset(base("fail", "ConsoleLogin"),
                 corr("value_count", ["fail"], group_by=["sourceIPAddress"], condition={"gte": 3, "field": "userIdentity.arn"}))
    det = Detector(rs)
    alerts = fired(det, [(ev("ConsoleLogin", u, sourceIPAddress="203.0.113.9"), i) for i, u in enumerate(["a", "b", "c"])])
    alerts += fired(det, [(ev("ConsoleLogin", u, sourceIPAddress="203.0.113.9"), 20 + i) for i, u in enumerate(["d", "e", "f"])])
    assert len(alerts) == 2 and alerts[0].key() == alerts[1].key() == "99999999-0000-4000-8000-000000000001|203.0.113.9|111122223333"
    assert alerts[0].members == ["arn:aws:iam::1:user/a", "arn:aws:iam::1:user/b", "arn:aws:iam::1:user/c"]


def test_host_correlation_alert_source() -> None:
    host_base = {**base("fail", "login_failure"), "logsource": {"product": "linux", "service": "auth"},
                 "detection": {"sel": {"EventType": "login_failure"}, "condition": "sel"}}
    rs = ruleset(host_base, corr("event_count", ["fail"], group_by=["host_id"], condition={"gte": 2}))
    det = Detector(rs)
    alerts = fired(det, [({"EventType": "login_failure", "host_id": "h1", "event_id": f"x{i}"}, i) for i in range(2)])
    assert len(alerts) == 1 and alerts[0].source == "host" and alerts[0].host == "h1" and alerts[0].entity == "h1"
