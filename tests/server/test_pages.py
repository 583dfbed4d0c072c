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
    html = c.get("/docs", headers={"accept": "text/html"}).text
    assert "/api/v1/alerts" in html  # the no-script fallback list
    assert '<script src="/static/swagger/swagger-ui-bundle.js"' in html and '<script src="/static/swagger-init.js"' in html
    assert "<script>" not in html  # the CSP has no unsafe-inline
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css", "/static/swagger-init.js"):
        assert c.get(asset).status_code == 200
    assert sqlite_server.client().get("/openapi.json").status_code == 401
    assert sqlite_server.client().get("/docs", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303


def test_openapi_lists_every_api_route_with_tags_and_summaries(sqlite_server: Server) -> None:
    from fastapi.routing import APIRoute

    from tests.server.test_auth import _walk

    c, _ = sqlite_server.login("viewer")
    spec = c.get("/openapi.json").json()
    listed = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    api_routes = {(m, r.path) for r in _walk(sqlite_server.app.routes) if isinstance(r, APIRoute) and r.path.startswith("/api/")
                  for m in r.methods - {"HEAD"}}
    assert len(api_routes) >= 40 and api_routes <= listed, api_routes - listed
    declared = {t["name"] for t in spec["tags"]}
    for path, ops in spec["paths"].items():
        for m, op in ops.items():
            assert op["summary"] and len(op["tags"]) == 1 and op["tags"][0] in declared, (m, path)
    assert spec["paths"]["/api/v1/alerts"]["get"]["tags"] == ["alerts"]
    assert set(spec["components"]["securitySchemes"]) == {"apiToken", "session"}


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
