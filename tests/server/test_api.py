"""The JSON API over real stores: posture/findings, alerts triage, CloudTrail ingest and event search,
jobs, users, channels, rules. Runs on SQLite and (marked postgres) on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.models.alert import Alert
from cloudwarden.server.posture_store import Result
from tests.server.conftest import Server


def _results(n: int, failing: set[int], account: str = "111111111111") -> list[Result]:
    return [Result(account, f"check_{i % 7}", f"arn:aws:s3:::bucket-{i:04d}", "global", "FAIL" if i in failing else "PASS",
                   "reason", severity=["low", "medium", "high", "critical"][i % 4], service="s3", title=f"Check {i % 7}",
                   remediation="fix it", controls=f"cis-7.0:{1 + i % 3}.{i % 7}") for i in range(n)]


def _alert(title: str, severity: str = "high", entity: str = "arn:aws:iam::1:user/eve", rule: str = "r1", eid: str = "e1") -> Alert:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return Alert(rule_id=rule, title=title, severity=severity, source="cloudtrail", explanation="because",
                 first_seen=t, last_seen=t, entity=entity, account="111111111111", evidence=[{"eventName": "X"}], evidence_ids=[eid])


def test_findings_paginated_filtered_stable(server: Server) -> None:
    ctx = server.ctx
    ctx.posture.apply(_results(120, set(range(0, 120, 3))), account="111111111111", checks=[], cause="scan 1")
    c = server.client()
    h = server.token("viewer")
    r = c.get("/api/v1/findings", params={"status": "FAIL", "limit": 25}, headers=h).json()
    assert r["total"] == 40 and len(r["items"]) == 25 and r["more"] is True
    r2 = c.get("/api/v1/findings", params={"status": "FAIL", "limit": 25, "offset": 25}, headers=h).json()
    assert len(r2["items"]) == 15 and r2["more"] is False
    seen = [(i["check_id"], i["resource_arn"]) for i in r["items"] + r2["items"]]
    assert len(set(seen)) == 40  # no overlap, nothing lost
    sev = [i["severity"] for i in r["items"]]
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    assert sev == sorted(sev, key=order.__getitem__)  # worst first
    assert c.get("/api/v1/findings", params={"severity": "critical", "status": "FAIL"}, headers=h).json()["total"] == 10
    assert c.get("/api/v1/findings", params={"limit": 501}, headers=h).status_code == 422
    # q is a substring matched literally: check_1 names one check; as a LIKE pattern "check_" would be any check
    assert c.get("/api/v1/findings", params={"q": "check_1"}, headers=h).json()["total"] == 17
    assert c.get("/api/v1/findings", params={"q": "bucket-00_1"}, headers=h).json()["total"] == 0
    assert c.get("/api/v1/findings", params={"q": "%"}, headers=h).json()["total"] == 0
    fw = c.get("/api/v1/frameworks", headers=h).json()["items"]
    cis = next(f for f in fw if f["framework"] == "cis-7.0")
    assert cis["passed"] == 80 and cis["failed"] == 40 and len(cis["sections"]) == 3


def test_posture_changes_and_history(server: Server) -> None:
    ctx = server.ctx
    ctx.posture.apply(_results(10, set()), account="1", checks=[], cause="scan 1")
    changes = ctx.posture.apply(_results(10, {3}), account="1", checks=[], cause="PutBucketPolicy by eve", kind="live")
    assert [(c.resource_arn, c.old_status, c.new_status) for c in changes] == [("arn:aws:s3:::bucket-0003", "PASS", "FAIL")]
    c = server.client()
    h = server.token("viewer")
    ch = c.get("/api/v1/posture/changes", headers=h).json()["items"]
    assert ch[0]["cause"] == "PutBucketPolicy by eve" and ch[0]["kind"] == "live"
    hist = c.get("/api/v1/posture/history", params={"framework": "cis-7.0"}, headers=h).json()["items"]
    assert [p["score"] for p in hist] == [100.0, 90.0]


def test_alert_triage_flow(server: Server) -> None:
    ctx = server.ctx
    ids = ctx.raise_alerts([_alert("Trail stopped", "critical", rule="a", eid="1"), _alert("Odd login", "low", rule="b", eid="2")])
    c = server.client()
    h = server.token("analyst")
    listing = c.get("/api/v1/alerts", headers=h).json()
    assert listing["total"] == 2
    assert c.get("/api/v1/alerts", params={"severity": "high"}, headers=h).json()["total"] == 1
    a = ids[0]
    assert c.post(f"/api/v1/alerts/{a}/ack", headers=h).json()["status"] == "acknowledged"
    assert c.post(f"/api/v1/alerts/{a}/assign", json={"assignee": "bob"}, headers=h).json()["assignee"] == "bob"
    got = c.post(f"/api/v1/alerts/{a}/comment", json={"text": "looking"}, headers=h).json()
    assert any(cm["text"] == "looking" for cm in got["comments"])
    assert c.post(f"/api/v1/alerts/{a}/resolve", json={"text": "fixed"}, headers=h).json()["status"] == "resolved"
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = c.post(f"/api/v1/alerts/{ids[1]}/suppress", json={"reason": "known scanner", "until": until}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    sup = ctx.alerts.suppressions()
    assert sup and sup[0]["reason"] == "known scanner" and sup[0]["expires_at"]
    # the suppression stops the same alert coming back
    assert ctx.raise_alerts([_alert("Odd login", "low", rule="b", eid="3")]) in ([], [None])
    assert c.post(f"/api/v1/alerts/{a}/suppress", json={"reason": ""}, headers=h).status_code == 422
    assert c.post("/api/v1/alerts/9999/ack", headers=h).status_code == 404
    audit = [e["action"] for e in ctx.auth.audit_log(50)]
    assert {"alert.ack", "alert.assign", "alert.comment", "alert.resolve", "alert.suppress"} <= set(audit)


def test_raise_alerts_notifies_each_kept_alert_under_its_own_id(server: Server, monkeypatch: Any) -> None:
    ctx = server.ctx
    ctx.alerts.store.suppress(reason="lab account noise", created_by="ops", rule_id="lab")
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(ctx.notifier, "submit", sent.append)  # what would be handed to the notifier
    ids = ctx.raise_alerts([_alert("Lab", rule="lab", eid="1"), _alert("Trail stopped", rule="a", eid="2"),
                            _alert("Trail stopped", rule="a", eid="3"), _alert("Odd login", rule="b", eid="4")])
    assert len(ids) == 2
    assert [(d["title"], d["id"]) for d in sent] == [("Trail stopped", ids[0]), ("Trail stopped", ids[0]), ("Odd login", ids[1])]


def _ct(event_id: str, name: str, user: str = "alice", ip: str = "198.51.100.7", **extra: Any) -> dict[str, Any]:
    rec = {
        "eventVersion": "1.08", "eventID": event_id, "eventTime": "2026-01-02T03:04:05Z", "eventSource": "iam.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": "aws-cli/2.0",
        "recipientAccountId": "111111111111", "eventType": "AwsApiCall", "readOnly": False,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111111111111:user/{user}", "accountId": "111111111111",
                         "accessKeyId": "AKIAEXAMPLE", "userName": user},
        "requestParameters": {"userName": user},
    }
    rec.update(extra)
    return rec


def test_cloudtrail_ingest_and_event_search(server: Server) -> None:
    c = server.client()
    h = server.token("analyst")
    records = [_ct(f"ev-{i}", "ListUsers" if i % 2 else "CreateUser", user=f"u{i % 3}") for i in range(30)]
    records.append({"eventID": "broken"})
    r = c.post("/api/v1/ingest/cloudtrail", json={"Records": records}, headers=h).json()
    assert r["written"] == 30 and r["skipped"] == 1 and "Records[30]" in r["errors"][0]
    # idempotent: the same batch again writes nothing new
    assert c.post("/api/v1/ingest/cloudtrail", json={"Records": records[:5]}, headers=h).json()["written"] == 0
    v = server.token("viewer")
    page = c.get("/api/v1/events", params={"api": "CreateUser", "limit": 10}, headers=v).json()
    assert len(page["items"]) == 10 and page["more"] is True
    assert all(e["api"] == "CreateUser" for e in page["items"])
    assert len(c.get("/api/v1/events", params={"principal": "user/u1"}, headers=v).json()["items"]) == 10
    # keyset paging walks every CreateUser event exactly once
    seen, cursor = [], ""
    while True:
        pg = c.get("/api/v1/events", params={"api": "CreateUser", "limit": 4, "cursor": cursor}, headers=v).json()
        seen += [e["event_id"] for e in pg["items"]]
        if not pg["next_cursor"]:
            break
        cursor = pg["next_cursor"]
    assert len(seen) == len(set(seen)) == 15
    assert c.get("/api/v1/events", params={"cursor": "not-a-time|x"}, headers=v).status_code == 422
    # a hostile filter value is data, not SQL
    assert c.get("/api/v1/events", params={"principal": "x' OR '1'='1"}, headers=v).json()["items"] == []
    # ... and its "_" and "%" are characters, not LIKE wildcards ("user_u1" would match user/u1 as a pattern)
    assert c.get("/api/v1/events", params={"principal": "user_u1"}, headers=v).json()["items"] == []
    assert c.get("/api/v1/events", params={"principal": "%"}, headers=v).json()["items"] == []
    one = c.get("/api/v1/events/ev-3", headers=v).json()
    assert one["event_id"] == "ev-3" and json.loads(one["raw"])["eventName"] == "ListUsers"
    assert c.post("/api/v1/ingest/cloudtrail", json={"nope": 1}, headers=h).status_code == 422


def test_jobs_users_channels(server: Server) -> None:
    c = server.client()
    admin = server.token("admin")
    assert c.post("/api/v1/scans", json={"account": "nope"}, headers=admin).status_code == 404
    jobs = c.get("/api/v1/jobs", headers=admin).json()
    assert "depth" in jobs and "schedule" in jobs
    r = c.post("/api/v1/users", json={"username": "carol", "password": "carol-password", "role": "analyst"}, headers=admin)
    assert r.status_code == 201
    assert c.post("/api/v1/users", json={"username": "carol", "password": "carol-password", "role": "analyst"}, headers=admin).status_code == 422
    assert c.post("/api/v1/users/carol/role", json={"role": "viewer"}, headers=admin).status_code == 200
    assert {u["username"]: u["role"] for u in c.get("/api/v1/users", headers=admin).json()["items"]}["carol"] == "viewer"
    ch = {"name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/hook", "secret": "s3cret", "min_severity": "high"}
    assert c.post("/api/v1/channels", json=ch, headers=admin).status_code == 201
    listed = c.get("/api/v1/channels", headers=admin).json()["items"]
    assert listed[0]["name"] == "ops" and "s3cret" not in json.dumps(listed)
    assert c.post("/api/v1/channels", json={"name": "bad", "kind": "pager"}, headers=admin).status_code == 422


def test_rules_list_and_upload_validation(server: Server) -> None:
    c = server.client()
    h = server.token("analyst")
    rules = c.get("/api/v1/rules", headers=h)
    assert rules.status_code == 200
    before = rules.json()["total"]
    good = """title: Test rule from the API
id: 5f0c2b7e-1111-4c1e-9d1e-0123456789ab
status: experimental
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventName: DeleteBucket
  condition: selection
level: high
"""
    r = c.post("/api/v1/rules", content=good, headers={**h, "content-type": "application/yaml"})
    assert r.status_code == 201, r.text
    assert c.get("/api/v1/rules", headers=h).json()["total"] == before + 1
    bad = "title: broken\ndetection: [\n"
    assert c.post("/api/v1/rules", content=bad, headers={**h, "content-type": "application/yaml"}).status_code == 422
    rid = "5f0c2b7e-1111-4c1e-9d1e-0123456789ab"
    assert c.post(f"/api/v1/rules/{rid}/disable", headers=h).json()["enabled"] is False
    listed = {x["id"]: x["enabled"] for x in c.get("/api/v1/rules", params={"limit": 500}, headers=h).json()["items"]}
    assert listed[rid] is False
    assert c.post(f"/api/v1/rules/{rid}/enable", headers=h).json()["enabled"] is True


def test_alerts_worst_first_across_pages(server: Server) -> None:
    sev = ["low", "critical", "medium", "high", "low", "critical"]
    server.ctx.raise_alerts([_alert(f"A{i}", s, entity=f"e{i}", rule=f"r{i}", eid=str(i)) for i, s in enumerate(sev)])
    c = server.client()
    h = server.token("viewer")
    got = []
    for offset in (0, 2, 4):
        got += [a["severity"] for a in c.get("/api/v1/alerts", params={"limit": 2, "offset": offset}, headers=h).json()["items"]]
    assert got == ["critical", "critical", "high", "medium", "low", "low"]


def test_posture_page_names_each_cis_section(server: Server) -> None:
    """Section rows show the framework's own section names, not bare numbers."""
    server.ctx.posture.apply(
        [Result("1", "check_a", "arn:aws:s3:::b", "global", "FAIL", "reason", severity="high", service="s3",
                title="A", remediation="fix", controls="cis-7.0:3.1.1")],
        account="1", checks=[], cause="scan 1")
    c, _ = server.login("viewer")
    page = c.get("/posture", params={"framework": "cis-7.0"}).text
    assert '<td>3 <span class="muted">Storage</span></td>' in page
    assert "Identity and Access Management" not in page  # only sections with results are listed


def test_alert_summary_and_bulk_triage(server: Server) -> None:
    ctx = server.ctx
    ctx.raise_alerts([_alert("Noisy", "low", rule="noisy", entity=f"arn:aws:iam::1:user/u{i}", eid=f"n{i}") for i in range(4)]
                     + [_alert("Trail stopped", "critical", rule="trail", eid="t1")])
    c = server.client()
    viewer, analyst = server.token("viewer"), server.token("analyst")
    summary = c.get("/api/v1/alerts/summary", params={"by": "rule"}, headers=viewer).json()
    assert [(r["rule_id"], r["alerts"], r["open"]) for r in summary["items"]] == [("noisy", 4, 4), ("trail", 1, 1)]
    assert c.get("/api/v1/alerts/summary", params={"by": "colour"}, headers=viewer).status_code == 422
    body = {"status": "resolved", "rule_id": "noisy", "comment": "hunting rule"}
    assert c.post("/api/v1/alerts/triage", json=body, headers=viewer).status_code == 403  # viewers cannot triage
    assert c.post("/api/v1/alerts/triage", json={"status": "resolved"}, headers=analyst).status_code == 422  # no filter
    assert c.post("/api/v1/alerts/triage", json={**body, "status": "deleted"}, headers=analyst).status_code == 422
    done = c.post("/api/v1/alerts/triage", json=body, headers=analyst).json()
    assert done == {"changed": 4, "status": "resolved"}
    left = c.get("/api/v1/alerts", params={"status": "new"}, headers=viewer).json()
    assert [a["title"] for a in left["items"]] == ["Trail stopped"]
    log = c.get("/api/v1/audit", headers=server.token("admin")).json()["items"]
    assert any(e["action"] == "alert.bulk_resolved" and "rule_id=noisy" in e["target"] for e in log)


def test_cloudtrail_push_uses_the_cached_aws_ranges(server: Server) -> None:
    from cloudwarden.aws.ip_ranges import FILE_NAME
    from tests.cloudtrail import factory as f

    rule = "EC2 instance credentials used from an address outside AWS"
    ranges = server.ctx.settings.home_path / FILE_NAME
    ranges.parent.mkdir(parents=True, exist_ok=True)
    ranges.write_text(json.dumps({"prefixes": [{"ip_prefix": "54.86.0.0/15"}], "createDate": "test"}))
    ident = f.assumed_role(role="web-instance-role", session="i-0e3f3862c4515219")
    records = [f.event("PutLogEvents", "logs.amazonaws.com", event_id="own", identity=ident, ip="54.86.31.15"),
               f.event("PutLogEvents", "logs.amazonaws.com", event_id="away", identity=ident, ip="198.51.100.7",
                       time="2026-01-01T15:00:00Z")]
    c = server.client()
    h = server.token("analyst")
    assert c.post("/api/v1/ingest/cloudtrail", json={"Records": records}, headers=h).json()["written"] == 2
    fired = [a for a in c.get("/api/v1/alerts", params={"q": "outside AWS"}, headers=h).json()["items"] if a["title"] == rule]
    assert len(fired) == 1 and fired[0]["count"] == 1
    ranges.write_text("{broken")  # a bad file is ignored (logged), never fatal: the rules run without it
    more = [f.event("PutLogEvents", "logs.amazonaws.com", event_id="own2", identity=ident, ip="54.86.31.16",
                    time="2026-01-02T15:00:00Z")]
    assert c.post("/api/v1/ingest/cloudtrail", json={"Records": more}, headers=h).status_code == 200
