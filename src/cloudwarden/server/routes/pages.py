"""The dashboard: server-rendered pages (Jinja2, autoescaped) with htmx for in-place actions.

Every attacker-controlled string reaches the browser only through Jinja2's autoescaping or through
`textContent` in our own scripts; no template marks anything `|safe`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cloudwarden.errors import AuthError, CloudwardenError
from cloudwarden.server.auth import SESSION_COOKIE, Principal, client_of, require, sign
from cloudwarden.server.queries import EventFilter, cursor_of
from cloudwarden.server.sources import Unavailable, alert_filters, jsonable

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
VIEWER = require("viewer")
ANALYST = require("analyst")
ADMIN = require("admin")
LOGIN_CSRF_COOKIE = "cw_login_csrf"
PICK = Query(default_factory=list)


def _epoch(value: Any) -> str:
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError):
        return str(value)


templates.env.filters["epoch"] = _epoch
SEV_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}


def ctx_of(request: Request) -> Any:
    return request.app.state.ctx


def render(request: Request, template: str, p: Principal | None, status_code: int = 200, **data: Any) -> HTMLResponse:
    data.update({"me": p, "csrf": p.csrf if p else "", "path": request.url.path})
    return templates.TemplateResponse(request, template, data, status_code=status_code)


def secure_cookie(request: Request) -> bool:
    mode = ctx_of(request).settings.server.cookie_secure.lower()
    return request.url.scheme == "https" if mode == "auto" else mode in ("1", "true", "yes", "on")


def safe_next(target: str) -> str:
    """Only same-site relative paths: never let a login link redirect to another site."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/posture"


def sparkline(points: list[float], width: int = 320, height: int = 60, lo: float = 0, hi: float = 100) -> str:
    """SVG polyline points for a series on a fixed 0..100 scale."""
    if not points:
        return ""
    if len(points) == 1:
        points = points * 2
    step = width / (len(points) - 1)
    span = (hi - lo) or 1
    return " ".join(f"{i * step:.1f},{height - (min(max(v, lo), hi) - lo) / span * height:.1f}" for i, v in enumerate(points))


# login ------------------------------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/posture", error: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", None, next=safe_next(next), login_csrf=token, error=error[:200])
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="lax", secure=secure_cookie(request), max_age=3600)
    return resp


@router.post("/login")
def login(request: Request, username: str = Form(max_length=128), password: str = Form(max_length=1024),
          csrf: str = Form(max_length=128), next: str = Form(default="/posture", max_length=2000)) -> Response:
    ctx = ctx_of(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf):
        raise HTTPException(403, "missing or invalid CSRF token")
    client = client_of(request)
    if ctx.limiter.blocked(client, username):
        ctx.auth.audit(username, "login.blocked", client=client)
        return render(request, "login.html", None, status_code=429, next=safe_next(next), login_csrf=cookie,
                      error="Too many failed attempts. Wait a few minutes and try again.")
    try:
        user = ctx.auth.verify_password(username, password)
    except AuthError:
        ctx.limiter.failure(client, username)
        ctx.auth.audit(username, "login.failed", client=client)
        return render(request, "login.html", None, status_code=401, next=safe_next(next), login_csrf=cookie, error="Invalid user name or password.")
    ctx.limiter.success(client, username)
    sid, _csrf = ctx.auth.create_session(user, ctx.settings.server.session_hours)
    ctx.auth.audit(user.username, "login", client=client)
    resp = RedirectResponse(safe_next(next), status_code=303)
    resp.set_cookie(SESSION_COOKIE, sign(sid, ctx.secret), httponly=True, samesite="lax", secure=secure_cookie(request),
                    max_age=ctx.settings.server.session_hours * 3600)
    resp.delete_cookie(LOGIN_CSRF_COOKIE)
    return resp


@router.post("/logout")
def logout(request: Request, p: Principal = VIEWER) -> Response:
    from cloudwarden.server.auth import unsign

    ctx = ctx_of(request)
    sid = unsign(request.cookies.get(SESSION_COOKIE, ""), ctx.secret)
    if sid:
        ctx.auth.end_session(sid)
    ctx.auth.audit(p.name, "logout", client=client_of(request))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE)
    return resp


# pages ------------------------------------------------------------------------------------------------
@router.get("/")
def home(request: Request, p: Principal = VIEWER) -> Response:
    return RedirectResponse("/posture", status_code=303)


def _section_names(framework_id: str) -> dict[str, str]:
    from cloudwarden.compliance.frameworks import FRAMEWORK_FILES, load_framework

    if framework_id not in FRAMEWORK_FILES:
        return {}
    return {sec.id: sec.name for sec in load_framework(framework_id).sections}


@router.get("/posture")
def posture(request: Request, p: Principal = VIEWER, framework: str = "") -> Response:
    ctx = ctx_of(request)
    scores = ctx.posture.scores()
    frameworks = sorted({s["framework"] for s in scores})
    fw = framework if framework in frameworks else (next((f for f in frameworks if f.startswith("cis-7")), frameworks[0] if frameworks else ""))
    overall = [s for s in scores if s["section"] == ""]
    sections = sorted((s for s in scores if s["framework"] == fw and s["section"]), key=lambda s: _section_key(s["section"]))
    section_names = _section_names(fw)
    for s in sections:
        s["name"] = section_names.get(s["section"], "")
    history = ctx.posture.score_history(fw, "", 120) if fw else []
    failing = ctx.posture.failing_controls(40)
    for f in failing[:15]:
        f["failing"] = ctx.posture.failing_resources(f["check_id"], 5)
    return render(request, "posture.html", p, overall=overall, sections=sections, framework=fw, frameworks=frameworks,
                  history=history, spark=sparkline([h["score"] for h in history]), failing=failing,
                  changes=ctx.posture.changes(25), counts=ctx.posture.counts())


def _section_key(section: str) -> tuple[int, str]:
    return (int(section), "") if section.isdigit() else (999, section)


def _alert_sort_key(a: dict[str, Any]) -> tuple[int, str]:
    return (SEV_ORDER.get(str(a.get("severity", "")), 5), str(a.get("last_seen", "")))


@router.get("/alerts")
def alerts_page(request: Request, p: Principal = VIEWER, status: str = "new", severity: str = "", source: str = "",
                q: str = Query(default="", max_length=200), offset: int = Query(default=0, ge=0)) -> Response:
    ctx = ctx_of(request)
    error = ""
    items: list[dict[str, Any]] = []
    total: int | None = 0
    try:
        items, total = ctx.alerts.list(limit=100, offset=offset, status=status if status != "all" else None, severity=severity or None,
                                   source=source or None, q=q or None)
    except Unavailable as exc:
        error = str(exc)
    # the store's own order is stable; the queue shows the worst first, newest first within a severity
    items = sorted(sorted(items, key=lambda a: str(a.get("last_seen", "")), reverse=True),
                   key=lambda a: SEV_ORDER.get(str(a.get("severity", "")), 5))
    query = "&".join(f"{k}={quote(v)}" for k, v in {"status": status, "severity": severity, "source": source, "q": q}.items() if v)
    return render(request, "alerts.html", p, alerts=items, error=error, status=status, severity=severity, source=source, q=q,
                  offset=offset, total=total or 0, query=query)


@router.get("/ui/alerts/by-rule")
def alerts_by_rule(request: Request, p: Principal = VIEWER, status: str = Query(default="new", max_length=16),
                   severity: str = Query(default="", max_length=16), source: str = Query(default="", max_length=64),
                   q: str = Query(default="", max_length=200)) -> Response:
    """The rules behind the alerts page's filtered alerts, loaded when the section is opened: a GROUP BY over
    every alert is too slow to run on each page view of a large store (0.45 s at 114k alerts)."""
    by_rule = ctx_of(request).alerts.summary("rule", limit=10, status=status if status != "all" else None,
                                             severity=severity or None, source=source or None, q=q or None)
    return render(request, "_alert_by_rule.html", p, by_rule=by_rule, status=status, severity=severity, source=source, q=q)


_BULK_STATUS = {"ack": "acknowledged", "resolve": "resolved"}


def _bulk_filters(rule_id: str, status: str, severity: str, source: str, q: str) -> dict[str, Any]:
    """The alerts page's filters narrowed to one rule, as the alert store takes them."""
    return alert_filters(status if status != "all" else None, severity, source, q, rule_id=rule_id)


@router.get("/ui/alerts/bulk")
def alerts_bulk_confirm(request: Request, p: Principal = ANALYST, rule_id: str = Query(min_length=1, max_length=256),
                        action: str = Query(pattern="^(ack|resolve)$"), status: str = Query(default="", max_length=16),
                        severity: str = Query(default="", max_length=16), source: str = Query(default="", max_length=64),
                        q: str = Query(default="", max_length=200)) -> Response:
    """Step one of bulk triage from the alerts page: how many alerts of the rule would change, and a confirm
    button (a second request, not a script dialog: the page runs no inline script)."""
    f = _bulk_filters(rule_id, status, severity, source, q)
    n = ctx_of(request).alerts.count_changing(_BULK_STATUS[action], **f)
    return render(request, "_alert_bulk.html", p, n=n, done=None, action=action, rule_id=rule_id, status=status,
                  severity=severity, source=source, q=q)


@router.post("/ui/alerts/bulk")
def alerts_bulk(request: Request, p: Principal = ANALYST, rule_id: str = Form(min_length=1, max_length=256),
                action: str = Form(pattern="^(ack|resolve)$"), status: str = Form(default="", max_length=16),
                severity: str = Form(default="", max_length=16), source: str = Form(default="", max_length=64),
                q: str = Form(default="", max_length=200)) -> Response:
    f = _bulk_filters(rule_id, status, severity, source, q)
    changed = ctx_of(request).alerts.set_status_matching(_BULK_STATUS[action], user=p.name,
                                                         comment="bulk triage from the dashboard", **f)
    ctx_of(request).auth.audit(p.name, f"alert.bulk_{_BULK_STATUS[action]}", f"rule_id={rule_id}"[:500],
                               f"{changed} alerts; filters {f}"[:500], client_of(request))
    return render(request, "_alert_bulk.html", p, n=changed, done=changed, action=action, rule_id=rule_id)


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: int, p: Principal = VIEWER) -> Response:
    ctx = ctx_of(request)
    try:
        a = ctx.alerts.get(alert_id)
    except Unavailable as exc:
        return render(request, "alerts.html", p, alerts=[], error=str(exc), status="new", severity="", source="", q="", offset=0,
                      total=0, query="")
    if a is None:
        raise HTTPException(404, "no such alert")
    related: list[dict[str, Any]] = []
    try:
        seen = {alert_id}
        for key in ("entity", "rule_id"):
            if a.get(key):
                page, _ = ctx.alerts.list(limit=10, offset=0, **{key: a[key]})
                related += [r for r in page if r["id"] not in seen]
                seen |= {r["id"] for r in page}
        related = related[:10]
    except CloudwardenError:
        pass
    return render(request, "alert.html", p, a=a, related=related)


@router.post("/ui/alerts/{alert_id}/{action}")
def alert_ui_action(request: Request, alert_id: int, action: str, p: Principal = ANALYST, reason: str = Form(default="", max_length=1000),
                    days: int = Form(default=7, ge=1, le=365), text: str = Form(default="", max_length=4000),
                    assignee: str = Form(default="", max_length=128)) -> Response:
    from datetime import timedelta

    ctx = ctx_of(request)
    if action not in ("ack", "resolve", "suppress", "comment", "assign"):
        raise HTTPException(404, "unknown action")
    if ctx.alerts.get(alert_id) is None:
        raise HTTPException(404, "no such alert")
    kwargs: dict[str, Any] = {}
    if action == "suppress":
        kwargs = {"reason": reason or "suppressed from the dashboard", "until": datetime.now(UTC) + timedelta(days=days)}
    elif action == "comment":
        if not text.strip():
            raise HTTPException(422, "empty comment")
        kwargs = {"text": text}
    elif action == "assign":
        kwargs = {"assignee": assignee or p.name}
    ctx.alerts.action(action, alert_id, user=p.name, **kwargs)
    ctx.auth.audit(p.name, f"alert.{action}", str(alert_id), reason or text or assignee, client_of(request))
    a = ctx.alerts.get(alert_id) or {}
    if request.headers.get("hx-request") and request.headers.get("hx-target", "").startswith("alert-row"):
        return render(request, "_alert_row.html", p, a=a)
    if request.headers.get("hx-request"):
        return render(request, "_alert_actions.html", p, a=a, done=action)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.get("/events")
def events_page(request: Request, p: Principal = VIEWER, principal: str = Query(default="", max_length=512),
                api: str = Query(default="", max_length=128), account: str = Query(default="", max_length=32),
                region: str = Query(default="", max_length=32), source_ip: str = Query(default="", max_length=64),
                since: str = Query(default="", max_length=32), until: str = Query(default="", max_length=32),
                offset: int = Query(default=0, ge=0, le=1_000_000), cursor: str = Query(default="", max_length=300),
                page_no: int = Query(default=1, ge=1, le=1_000_000, alias="page")) -> Response:
    ctx = ctx_of(request)
    error = ""
    rows: list[dict[str, Any]] = []
    more = False
    try:
        f = EventFilter(principal.strip(), api.strip(), account.strip(), region.strip(), source_ip.strip(), "",
                        _parse_time(since), _parse_time(until), False, 50, offset, cursor)
        f.cursor_parts()
        rows, more = ctx.reader.events(f)
    except ValueError as exc:
        error = f"bad time: {exc}"
    total = ctx.reader.count("api_activity")
    params: dict[str, Any] = {"principal": principal, "api": api, "account": account, "region": region, "source_ip": source_ip, "since": since, "until": until}
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items() if v)
    tpl = "_events_table.html" if request.headers.get("hx-request") else "events.html"
    next_cursor = quote(cursor_of(rows[-1])) if more and rows else ""
    return render(request, tpl, p, rows=[jsonable(r) for r in rows], more=more, offset=offset, error=error, total=total,
                  query=query, next_cursor=next_cursor, page_no=page_no, first=offset + (page_no - 1) * 50, **params)


def _parse_time(value: str) -> datetime | None:
    return datetime.fromisoformat(value.strip()) if value.strip() else None


@router.get("/hosts")
def hosts_page(request: Request, p: Principal = VIEWER) -> Response:
    ctx = ctx_of(request)
    hosts = [jsonable(h) for h in ctx.reader.hosts()]
    agents: list[dict[str, Any]] = []
    agents_error = ""
    try:
        from cloudwarden.server.sources import load, to_dict

        store = load("cloudwarden.server.agent_store", "AgentStore")(ctx.state)
        agents = [to_dict(a) for a in store.list()]
    except Exception as exc:  # noqa: BLE001 - the agent registry is the host helper's; show why it is missing
        agents_error = str(exc)
    return render(request, "hosts.html", p, hosts=hosts, agents=agents, agents_error=agents_error, clusters=_clusters(ctx))


def _clusters(ctx: Any) -> list[dict[str, Any]]:
    """Machine groups learned by the host baseline (the behaviour graph can draw a whole group)."""
    try:
        from cloudwarden.baseline.host import HostBaseline
        from cloudwarden.baseline.store import BaselineStore

        saved = BaselineStore(ctx.state).load("host")
        if not saved:
            return []
        hb = HostBaseline.from_state(saved.state)
        return [{"name": hb.group_name(g), "hosts": sorted(members)} for g, members in sorted(hb.members.items())]
    except Exception:  # noqa: BLE001 - no baseline yet, or its state is unreadable: the page shows hosts only
        return []


@router.get("/hosts/graph")
def host_graph_page(request: Request, p: Principal = VIEWER, hosts: str = Query(default="", max_length=4000),
                    pick: list[str] = PICK) -> Response:
    ids = ([h for h in hosts.split(",") if h] + [h for h in pick if h])[:200]
    ctx = ctx_of(request)
    events = [jsonable(e) for e in ctx.reader.host_events(ids[0], 50)] if len(ids) == 1 else []
    return render(request, "graph.html", p, hosts=",".join(ids), host_ids=ids, events=events)


@router.get("/settings")
def settings_page(request: Request, p: Principal = VIEWER, new_token: str = "") -> Response:
    ctx = ctx_of(request)
    is_admin = p.user.role == "admin"
    s = ctx.settings.server
    schedules = {"compliance scan": s.scan_interval_s, "CloudTrail poll": s.trail_poll_interval_s,
                 "baseline update": s.baseline_interval_s, "report generation": s.report_interval_s}
    return render(request, "settings.html", p, accounts=ctx.accounts, schedules=schedules, schedule_runs=ctx.jobs.schedule(),
                  jobs=ctx.jobs.list(15), depth=ctx.jobs.depth(),
                  channels=[c.public() for c in ctx.channels()] if is_admin else [],
                  users=ctx.auth.list_users() if is_admin else [], tokens=ctx.auth.list_tokens(None if is_admin else p.name),
                  audit=ctx.auth.audit_log(20) if is_admin else [], is_admin=is_admin)


@router.post("/ui/tokens")
def ui_create_token(request: Request, p: Principal = VIEWER, name: str = Form(default="automation", max_length=128)) -> Response:
    ctx = ctx_of(request)
    token = ctx.auth.create_token(p.name, name)
    ctx.auth.audit(p.name, "token.create", name, client=client_of(request))
    return render(request, "_token_created.html", p, token=token, name=name)


@router.post("/ui/tokens/{token_id}/revoke")
def ui_revoke_token(request: Request, token_id: int, p: Principal = VIEWER) -> Response:
    ctx = ctx_of(request)
    mine = {t["id"] for t in ctx.auth.list_tokens(None if p.user.role == "admin" else p.name)}
    if token_id not in mine:
        raise HTTPException(404, "no such token")
    ctx.auth.revoke_token(token_id)
    ctx.auth.audit(p.name, "token.revoke", str(token_id), client=client_of(request))
    return RedirectResponse("/settings", status_code=303)


@router.post("/ui/users")
def ui_add_user(request: Request, p: Principal = ADMIN, username: str = Form(max_length=128), password: str = Form(max_length=1024),
                role: str = Form(default="viewer", max_length=16)) -> Response:
    ctx = ctx_of(request)
    try:
        ctx.auth.add_user(username, password, role)
    except CloudwardenError as exc:
        raise HTTPException(422, str(exc)) from exc
    ctx.auth.audit(p.name, "user.add", username, f"role={role}", client_of(request))
    return RedirectResponse("/settings", status_code=303)


@router.post("/ui/channels")
def ui_add_channel(request: Request, p: Principal = ADMIN, name: str = Form(max_length=128), kind: str = Form(max_length=16),
                   url: str = Form(default="", max_length=2000), secret: str = Form(default="", max_length=512),
                   mail_to: str = Form(default="", max_length=2000), smtp_host: str = Form(default="127.0.0.1", max_length=255),
                   smtp_port: int = Form(default=25), min_severity: str = Form(default="high", max_length=16),
                   sources: str = Form(default="", max_length=500)) -> Response:
    ctx = ctx_of(request)
    try:
        ctx.channel_store.add({"name": name, "kind": kind, "url": url, "secret": secret, "mail_to": mail_to, "smtp_host": smtp_host,
                               "smtp_port": smtp_port, "min_severity": min_severity, "sources": sources})
    except CloudwardenError as exc:
        raise HTTPException(422, str(exc)) from exc
    ctx.auth.audit(p.name, "channel.add", name, kind, client_of(request))
    return RedirectResponse("/settings", status_code=303)


@router.post("/ui/agents/{agent_id}/revoke")
def ui_revoke_agent(request: Request, agent_id: str, p: Principal = ADMIN) -> Response:
    from cloudwarden.server.sources import load

    ctx = ctx_of(request)
    store = load("cloudwarden.server.agent_store", "AgentStore")(ctx.state)
    if store.revoke(agent_id) is None:
        raise HTTPException(404, "no such agent")
    ctx.auth.audit(p.name, "agent.revoke", agent_id, client=client_of(request))
    return RedirectResponse("/hosts", status_code=303)


@router.post("/ui/scan")
def ui_scan(request: Request, p: Principal = ANALYST, account: str = Form(max_length=128)) -> Response:
    ctx = ctx_of(request)
    if any(a.name == account for a in ctx.accounts):
        ctx.jobs.enqueue("scan", {"account": account}, dedupe=f"scan:{account}")
        ctx.auth.audit(p.name, "scan.request", account, client=client_of(request))
    return RedirectResponse("/settings", status_code=303)
