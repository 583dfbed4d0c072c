"""Server-rendered pages: escaping of hostile strings, agent listing and revocation, docs, htmx partials."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudwarden.models.alert import Alert
from cloudwarden.server.agent_store import AgentStore
from tests.server.conftest import Server

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_strings_are_escaped_in_pages(sqlite_server: Server) -> None:
    ctx = sqlite_server.ctx
    t = datetime(2026, 1, 1, tzinfo=UTC)
    [aid] = ctx.raise_alerts([Alert(rule_id="r", title=f"T {PAYLOAD}", severity="high", source="host", explanation=PAYLOAD,
                                    first_seen=t, last_seen=t, entity=PAYLOAD, evidence=[{"cmd": PAYLOAD}], evidence_ids=["1"])])
    c, _ = sqlite_server.login("analyst")
    for path in ("/alerts", f"/alerts/{aid}"):
        html = c.get(path, headers={"accept": "text/html"}).text
        assert PAYLOAD not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html or "\\u003cscript\\u003e" in html


def test_agents_listed_and_revoked_by_admin_only(sqlite_server: Server) -> None:
    info, _token = AgentStore(sqlite_server.ctx.state).enroll("web-1 agent", "web-1", "host-1")
    viewer, vcsrf = sqlite_server.login("viewer")
    page = viewer.get("/hosts", headers={"accept": "text/html"}).text
    assert "web-1 agent" in page and "Revoke" not in page
    assert viewer.post(f"/ui/agents/{info.id}/revoke", data={"csrf": vcsrf}).status_code == 403
    admin, csrf = sqlite_server.login("admin")
    r = admin.post(f"/ui/agents/{info.id}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert AgentStore(sqlite_server.ctx.state).get(info.id).revoked  # type: ignore[union-attr]
    listed = admin.get("/api/agents").json()
    assert any(a.get("revoked") for a in (listed if isinstance(listed, list) else listed.get("agents", listed.get("items", []))))


def test_docs_and_openapi_need_login(sqlite_server: Server) -> None:
    c, _ = sqlite_server.login("viewer")
    spec = c.get("/openapi.json").json()
    assert "/api/v1/alerts" in spec["paths"] and "/api/v1/findings" in spec["paths"]
    assert "/api/v1/alerts" in c.get("/docs", headers={"accept": "text/html"}).text
    assert sqlite_server.client().get("/openapi.json").status_code == 401


def test_htmx_partials(sqlite_server: Server) -> None:
    ctx = sqlite_server.ctx
    t = datetime(2026, 1, 1, tzinfo=UTC)
    [aid] = ctx.raise_alerts([Alert(rule_id="r", title="T", severity="high", source="cloudtrail", explanation="e",
                                    first_seen=t, last_seen=t, entity="x", evidence_ids=["1"])])
    c, csrf = sqlite_server.login("analyst")
    r = c.post(f"/ui/alerts/{aid}/ack", headers={"hx-request": "true", "hx-target": f"alert-row-{aid}", "x-csrf-token": csrf})
    assert r.status_code == 200 and r.text.lstrip().startswith(f'<tr id="alert-row-{aid}"') and "acknowledged" in r.text
    r = c.post(f"/ui/alerts/{aid}/comment", data={"text": "on it"}, headers={"hx-request": "true", "x-csrf-token": csrf})
    assert 'id="alert-actions"' in r.text
    assert c.get("/events", headers={"hx-request": "true"}).text.lstrip().startswith('<div id="events-results">')
