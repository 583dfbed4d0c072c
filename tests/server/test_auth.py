"""Authentication and authorisation: every route requires a user (except /healthz and /login), viewers
cannot change anything, CSRF is enforced for sessions, tokens and passwords are hashed at rest."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from cloudwarden.server.auth_store import ApiTokenRow, UserRow
from tests.server.conftest import Server

PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/login")}
# agent routes authenticate agents (their own token or the enrolment secret), not users
AGENT_AUTH = {("POST", "/api/agents/enroll"), ("POST", "/api/agents/ingest")}


def _walk(routes: list[Any]) -> list[APIRoute]:
    out: list[APIRoute] = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif hasattr(r, "original_router"):  # FastAPI's included-router wrapper
            out.extend(_walk(r.original_router.routes))
    return out


def _routes(server: Server) -> list[tuple[str, str]]:
    return sorted({(m, r.path) for r in _walk(server.app.routes) for m in r.methods - {"HEAD"}})


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path).replace("latest.1", "latest.csv")


def test_every_route_requires_authentication(server: Server) -> None:
    c = server.client()
    routes = _routes(server)
    assert len(routes) > 40
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        r = c.request(method, _fill(path), json={} if method != "GET" else None)
        assert r.status_code in (401, 403), f"{method} {path} answered {r.status_code} without credentials"
        checked += 1
    assert c.get("/healthz").status_code == 200
    # pages send browsers to the login form instead of a bare 401
    r = c.get("/posture", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert checked >= 40


def test_viewer_cannot_mutate_anything(server: Server) -> None:
    c = server.client()
    headers = server.token("viewer")
    # a viewer may only manage their own API tokens
    own = {("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/{token_id}"), ("POST", "/ui/tokens"),
           ("POST", "/ui/tokens/{token_id}/revoke"), ("POST", "/logout")}
    for method, path in _routes(server):
        if method == "GET" or (method, path) in PUBLIC | AGENT_AUTH | own:
            continue
        r = c.request(method, _fill(path), json={}, headers=headers)
        assert r.status_code == 403, f"viewer could {method} {path}: {r.status_code}"


def test_analyst_cannot_administer(server: Server) -> None:
    c = server.client()
    h = server.token("analyst")
    assert c.get("/api/v1/users", headers=h).status_code == 403
    assert c.post("/api/v1/users", json={"username": "x", "password": "y" * 12, "role": "admin"}, headers=h).status_code == 403
    assert c.get("/api/v1/audit", headers=h).status_code == 403
    assert c.get("/api/agents", headers=h).status_code == 403
    admin = server.token("admin")
    assert c.get("/api/v1/users", headers=admin).status_code == 200


def test_session_requires_csrf_for_changes(server: Server) -> None:
    c, csrf = server.login("admin")
    body = {"username": "newbie", "password": "long-enough-pw", "role": "viewer"}
    assert c.post("/api/v1/users", json=body).status_code == 403  # no token
    assert c.post("/api/v1/users", json=body, headers={"x-csrf-token": "wrong"}).status_code == 403
    assert c.post("/api/v1/users", json=body, headers={"x-csrf-token": csrf}).status_code == 201
    # forms carry it as a field
    r = c.post("/ui/users", data={"username": "formuser", "password": "long-enough-pw", "role": "viewer", "csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    assert c.post("/ui/users", data={"username": "nocsrf", "password": "long-enough-pw", "role": "viewer"}).status_code == 403


def test_login_cookie_flags_and_logout(server: Server) -> None:
    c = server.client()
    page = c.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": "viewer", "password": PASSWORD("viewer"), "csrf": token}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "cw_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http here; "auto" sets Secure on https
    assert c.get("/api/v1/me").json()["user"] == "viewer"
    csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', c.get("/posture", headers={"accept": "text/html"}).text).group(1)  # type: ignore[union-attr]
    assert c.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert c.get("/api/v1/me").status_code == 401
    # login without the login-form CSRF cookie is refused
    fresh = server.client()
    assert fresh.post("/login", data={"username": "viewer", "password": PASSWORD("viewer"), "csrf": "x"}).status_code == 403


def PASSWORD(role: str) -> str:
    from tests.server.conftest import PASSWORDS

    return PASSWORDS[role]


def test_https_sets_secure_cookie(sqlite_server: Server) -> None:
    from fastapi.testclient import TestClient

    c = TestClient(sqlite_server.app, base_url="https://testserver")
    page = c.get("/login", headers={"accept": "text/html"})
    assert "Secure" in page.headers["set-cookie"]
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": "viewer", "password": PASSWORD("viewer"), "csrf": token}, follow_redirects=False)
    assert "Secure" in r.headers["set-cookie"]
    assert "strict-transport-security" in r.headers


def test_login_rate_limited(sqlite_server: Server) -> None:
    c = sqlite_server.client()
    page = c.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    codes = [c.post("/login", data={"username": "admin", "password": "wrong-password", "csrf": token}).status_code for _ in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429
    # even the right password is refused while blocked
    r = c.post("/login", data={"username": "admin", "password": PASSWORD("admin"), "csrf": token}, follow_redirects=False)
    assert r.status_code == 429
    actions = [e["action"] for e in sqlite_server.ctx.auth.audit_log(20)]
    assert "login.failed" in actions and "login.blocked" in actions


def test_secrets_hashed_at_rest(sqlite_server: Server) -> None:
    ctx = sqlite_server.ctx
    token = ctx.auth.create_token("analyst", "ci")
    with ctx.state.session() as s:
        user = s.scalar(select(UserRow).where(UserRow.username == "analyst"))
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert PASSWORD("analyst") not in user.password_hash
        rows = list(s.scalars(select(ApiTokenRow)))
        assert all(token not in (r.token_hash + r.prefix) and len(r.token_hash) == 64 for r in rows)
    c = sqlite_server.client()
    assert c.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).json()["role"] == "analyst"
    tid = ctx.auth.list_tokens("analyst")[0]["id"]
    assert c.delete(f"/api/v1/tokens/{tid}", headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert c.get("/api/v1/me", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_security_headers_and_body_limit(sqlite_server: Server) -> None:
    c = sqlite_server.client()
    r = c.get("/healthz")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    big = b"{" + b" " * (sqlite_server.settings.server.max_body_bytes + 10) + b"}"
    r = c.post("/api/v1/ingest/cloudtrail", content=big, headers={**sqlite_server.token("analyst"), "content-type": "application/json"})
    assert r.status_code == 413


def test_metrics_need_auth_or_scrape_token(sqlite_server: Server) -> None:
    c = sqlite_server.client()
    assert c.get("/metrics").status_code == 401
    r = c.get("/metrics", headers=sqlite_server.token("viewer"))
    assert r.status_code == 200 and "cloudwarden_job_queue_depth" in r.text
    sqlite_server.ctx.settings.server.metrics_token = "scrape-secret-123"
    assert c.get("/metrics", headers={"authorization": "Bearer scrape-secret-123"}).status_code == 200
    assert c.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401


def test_audit_log_records_actions(sqlite_server: Server) -> None:
    c = sqlite_server.client()
    h = sqlite_server.token("admin")
    c.post("/api/v1/users", json={"username": "auditee", "password": "long-enough-pw", "role": "analyst"}, headers=h)
    log = c.get("/api/v1/audit", headers=h).json()["items"]
    assert any(e["action"] == "user.add" and e["target"] == "auditee" and e["user"] == "admin" for e in log)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_login_never_redirects_off_site(sqlite_server: Server, target: str) -> None:
    c = sqlite_server.client()
    page = c.get("/login", headers={"accept": "text/html"})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"username": "viewer", "password": PASSWORD("viewer"), "csrf": token, "next": target},
               follow_redirects=False)
    assert r.headers["location"] == "/posture"
