"""The JSON API under /api/v1. Every route requires a role; lists are paginated (limit/offset) with a
stable order and return {"items": [...], "limit", "offset", "total" or "more"}."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from cloudwarden.errors import CloudwardenError, InputError
from cloudwarden.server.auth import Principal, client_of, require
from cloudwarden.server.queries import EventFilter, cursor_of
from cloudwarden.server.sources import Unavailable, alert_filters, jsonable, load, to_dict

router = APIRouter(prefix="/api/v1", tags=["api"])
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
VIEWER = require("viewer")
ANALYST = require("analyst")
ADMIN = require("admin")


def ctx_of(request: Request) -> Any:
    return request.app.state.ctx


def page(items: list[Any], limit: int, offset: int, *, total: int | None = None, more: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"items": items, "limit": limit, "offset": offset}
    if total is not None:
        out["total"] = total
        out["more"] = offset + len(items) < total
    elif more is not None:
        out["more"] = more
    return out


def audit(request: Request, p: Principal, action: str, target: str = "", detail: str = "") -> None:
    ctx_of(request).auth.audit(p.name, action, target, detail, client_of(request))


# identity ---------------------------------------------------------------------------------------------
@router.get("/me")
def me(p: Principal = VIEWER) -> dict[str, Any]:
    return {"user": p.name, "role": p.user.role, "via": p.via}


# posture and findings ---------------------------------------------------------------------------------
@router.get("/findings")
def findings(request: Request, p: Principal = VIEWER, status: str | None = None, severity: str | None = None,
             account: str | None = None, check_id: str | None = None, service: str | None = None, region: str | None = None,
             q: str | None = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    items, total = ctx_of(request).posture.findings(status=status, severity=severity, account=account, check_id=check_id,
                                                    service=service, region=region, q=q, limit=limit, offset=offset)
    return page(items, limit, offset, total=total)


@router.get("/frameworks")
def frameworks(request: Request, p: Principal = VIEWER) -> dict[str, Any]:
    scores = ctx_of(request).posture.scores()
    out: dict[str, Any] = {}
    for s in scores:
        fw = out.setdefault(s["framework"], {"framework": s["framework"], "sections": []})
        if s["section"] == "":
            fw.update({k: s[k] for k in ("passed", "failed", "score")})
        else:
            fw["sections"].append(s)
    return {"items": list(out.values())}


@router.get("/posture/history")
def posture_history(request: Request, framework: str, section: str = "", p: Principal = VIEWER,
                    limit: Limit = 200) -> dict[str, Any]:
    return {"items": ctx_of(request).posture.score_history(framework, section, limit)}


@router.get("/posture/changes")
def posture_changes(request: Request, p: Principal = VIEWER, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    return page(ctx_of(request).posture.changes(limit, offset), limit, offset)


def _scan_store(request: Request) -> Any:
    return load("cloudwarden.compliance.store", "ScanStore")(ctx_of(request).state)


@router.get("/scans")
def scans(request: Request, p: Principal = VIEWER, limit: Limit = 50) -> dict[str, Any]:
    return {"items": [to_dict(s) for s in _scan_store(request).list(limit=limit)]}


@router.get("/scans/{ref}")
def scan_detail(request: Request, ref: str, p: Principal = VIEWER, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    store = _scan_store(request)
    try:
        rec = store.get(int(ref) if ref.isdigit() else ref)
    except CloudwardenError as exc:
        raise HTTPException(404, str(exc)) from exc
    results = sorted(rec.results, key=lambda r: (r.check_id, r.resource_arn))
    return {"scan_id": rec.scan_id, "accounts": rec.accounts, "regions": rec.regions, "frameworks": rec.frameworks,
            "started_at": jsonable(rec.started_at), "finished_at": jsonable(rec.finished_at),
            "counts": {str(getattr(k, "value", k)): v for k, v in rec.counts().items()},
            "results": page([to_dict(r) for r in results[offset:offset + limit]], limit, offset, total=len(results))}


@router.get("/scans/{ref}/diff")
def scan_diff(request: Request, ref: str, p: Principal = VIEWER) -> dict[str, Any]:
    store = _scan_store(request)
    diff = load("cloudwarden.compliance.drift", "diff")
    try:
        cur = store.get(int(ref) if ref.isdigit() else ref)
    except CloudwardenError as exc:
        raise HTTPException(404, str(exc)) from exc
    prev = store.previous(cur)
    d = diff(prev.results if prev else None, cur.results, previous_id=prev.scan_id if prev else None, current_id=cur.scan_id)
    return {"previous": d.previous_id, "current": d.current_id, "summary": d.summary(), **{
        k: [to_dict(c) for c in getattr(d, k)] for k in ("new_failures", "fixed", "status_changes", "resources_added", "resources_removed")}}


class ScanRequest(BaseModel):
    account: str = Field(max_length=128)


@router.post("/scans", status_code=202)
def request_scan(request: Request, body: ScanRequest, p: Principal = ANALYST) -> dict[str, Any]:
    ctx = ctx_of(request)
    if not any(a.name == body.account for a in ctx.accounts):
        raise HTTPException(404, f"no configured account {body.account!r}")
    job = ctx.jobs.enqueue("scan", {"account": body.account}, dedupe=f"scan:{body.account}")
    audit(request, p, "scan.request", body.account)
    return {"job": job, "queued": job is not None}


# alerts -----------------------------------------------------------------------------------------------
@router.get("/alerts")
def alerts(request: Request, p: Principal = VIEWER, status: str | None = None, severity: str | None = None,
           source: str | None = None, q: str | None = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    items, total = ctx_of(request).alerts.list(limit=limit, offset=offset, status=status, severity=severity, source=source, q=q)
    return page(items, limit, offset, total=total) if total is not None else page(items, limit, offset, more=len(items) == limit)


@router.get("/alerts/summary")
def alerts_summary(request: Request, p: Principal = VIEWER, by: str = "rule", status: str | None = None,
                   severity: str | None = None, source: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    """Alerts grouped by rule, entity, account, severity, source, status or rule-entity, most alerts first."""
    return {"by": by, "items": ctx_of(request).alerts.summary(by, limit=limit, status=status, severity=severity, source=source)}


class Triage(BaseModel):
    """Bulk triage: every alert the filters select gets `status`. At least one filter is required."""
    status: str = Field(pattern="^(acknowledged|resolved)$")
    comment: str = Field(default="", max_length=4000)
    rule_id: str = Field(default="", max_length=256)
    entity: str = Field(default="", max_length=1024)
    account: str = Field(default="", max_length=64)
    severity: str = Field(default="", max_length=32)
    source: str = Field(default="", max_length=64)


@router.post("/alerts/triage")
def alerts_triage(request: Request, body: Triage, p: Principal = ANALYST) -> dict[str, Any]:
    chosen = alert_filters(None, body.severity, body.source, None, entity=body.entity, rule_id=body.rule_id,
                           account=body.account)
    changed = ctx_of(request).alerts.set_status_matching(body.status, user=p.name, comment=body.comment, **chosen)
    audit(request, p, f"alert.bulk_{body.status}", " ".join(f"{k}={v}" for k, v in chosen.items())[:500],
          f"{changed} alerts; {body.comment}"[:500])
    return {"changed": changed, "status": body.status}


@router.get("/alerts/{alert_id}")
def alert(request: Request, alert_id: int, p: Principal = VIEWER) -> dict[str, Any]:
    a = ctx_of(request).alerts.get(alert_id)
    if a is None:
        raise HTTPException(404, "no such alert")
    return dict(a)


class Note(BaseModel):
    text: str = Field(default="", max_length=4000)


class Suppress(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)
    until: datetime | None = None  # expiry; None = until lifted


class Assign(BaseModel):
    assignee: str = Field(max_length=128)


def alert_action(request: Request, p: Principal, alert_id: int, action: str, **kwargs: Any) -> dict[str, Any]:
    ctx = ctx_of(request)
    if ctx.alerts.get(alert_id) is None:
        raise HTTPException(404, "no such alert")
    ctx.alerts.action(action, alert_id, user=p.name, **kwargs)
    audit(request, p, f"alert.{action}", str(alert_id), " ".join(f"{k}={v}" for k, v in kwargs.items())[:500])
    return ctx.alerts.get(alert_id) or {}


@router.post("/alerts/{alert_id}/ack")
def alert_ack(request: Request, alert_id: int, body: Note | None = None, p: Principal = ANALYST) -> dict[str, Any]:
    return alert_action(request, p, alert_id, "ack", text=body.text if body else "")


@router.post("/alerts/{alert_id}/resolve")
def alert_resolve(request: Request, alert_id: int, body: Note | None = None, p: Principal = ANALYST) -> dict[str, Any]:
    return alert_action(request, p, alert_id, "resolve", text=body.text if body else "")


@router.post("/alerts/{alert_id}/suppress")
def alert_suppress(request: Request, alert_id: int, body: Suppress, p: Principal = ANALYST) -> dict[str, Any]:
    return alert_action(request, p, alert_id, "suppress", reason=body.reason, until=body.until)


@router.post("/alerts/{alert_id}/comment")
def alert_comment(request: Request, alert_id: int, body: Note, p: Principal = ANALYST) -> dict[str, Any]:
    if not body.text.strip():
        raise HTTPException(422, "empty comment")
    return alert_action(request, p, alert_id, "comment", text=body.text)


@router.post("/alerts/{alert_id}/assign")
def alert_assign(request: Request, alert_id: int, body: Assign, p: Principal = ANALYST) -> dict[str, Any]:
    return alert_action(request, p, alert_id, "assign", assignee=body.assignee)


# events -----------------------------------------------------------------------------------------------
@router.get("/events")
def events(request: Request, p: Principal = VIEWER, principal: str = "", api: str = "", account: str = "", region: str = "",
           source_ip: str = "", service: str = "", since: datetime | None = None, until: datetime | None = None,
           errors_only: bool = False, limit: Limit = 50, offset: Offset = 0,
           cursor: str = Query(default="", max_length=300)) -> dict[str, Any]:
    """Newest first. For deep paging pass `cursor` = the previous page's `next_cursor`."""
    try:
        f = EventFilter(principal, api, account, region, source_ip, service, since, until, errors_only, limit, offset, cursor)
        f.cursor_parts()
    except ValueError as exc:
        raise HTTPException(422, f"bad cursor: {exc}") from exc
    items, more = ctx_of(request).reader.events(f)
    out = page([jsonable(i) for i in items], limit, offset, more=more)
    out["next_cursor"] = cursor_of(items[-1]) if more and items else None
    return out


@router.get("/events/{event_id}")
def event(request: Request, event_id: str, p: Principal = VIEWER) -> dict[str, Any]:
    e = ctx_of(request).reader.event(event_id)
    if e is None:
        raise HTTPException(404, "no such event")
    return {k: jsonable(v) for k, v in e.items()}


@router.post("/ingest/cloudtrail")
def ingest_cloudtrail(request: Request, body: Annotated[dict[str, Any], Body()], p: Principal = ANALYST) -> dict[str, Any]:
    """CloudTrail records ({"Records": [...]}, the shape of a CloudTrail log file): stored, detected, and
    compliance-relevant changes re-checked live."""
    records = body.get("Records")
    if not isinstance(records, list):
        raise HTTPException(422, "body must be an object with a Records list")
    return dict(ctx_of(request).ingest_cloudtrail(records))


# hosts ------------------------------------------------------------------------------------------------
@router.get("/hosts")
def hosts(request: Request, p: Principal = VIEWER) -> dict[str, Any]:
    return {"items": [jsonable(h) for h in ctx_of(request).reader.hosts()]}


@router.get("/hosts/{host_id}/events")
def host_events(request: Request, host_id: str, p: Principal = VIEWER, kind: str = "", limit: Limit = 100,
                offset: Offset = 0) -> dict[str, Any]:
    rows = ctx_of(request).reader.host_events(host_id, limit, offset, kind)
    return page([jsonable(r) for r in rows], limit, offset, more=len(rows) == limit)


@router.get("/graph")
def graph(request: Request, p: Principal = VIEWER, hosts: str = Query(default="", max_length=4000)) -> dict[str, Any]:
    ids = [h for h in hosts.split(",") if h][:200]
    return dict(ctx_of(request).reader.graph(ids))


# rules ------------------------------------------------------------------------------------------------
def _rules_dir(request: Request) -> Path:
    return Path(ctx_of(request).settings.home_path) / "rules" / "custom"


def _disabled(request: Request) -> set[str]:
    # the same list `cloudwarden trail ingest` honours (cloudwarden.detect.toggles)
    return load("cloudwarden.detect.toggles", "read_disabled")(ctx_of(request).settings.home_path)  # type: ignore[no-any-return]


def _set_disabled(request: Request, ids: set[str]) -> None:
    load("cloudwarden.detect.toggles", "write_disabled")(ctx_of(request).settings.home_path, ids)


def _load_rules(paths: list[Path]) -> Any:
    return load("cloudwarden.detect.engine", "load_rules")(paths)


@router.get("/rules")
def rules(request: Request, p: Principal = VIEWER, limit: Limit = 200, offset: Offset = 0) -> dict[str, Any]:
    builtin = load("cloudwarden.detect.engine", "builtin_rules_path")
    paths = [builtin("cloudtrail"), builtin("linux")]
    if _rules_dir(request).exists():
        paths.append(_rules_dir(request))
    rs = _load_rules([x for x in paths if Path(x).exists()])
    disabled = _disabled(request)
    items = []
    for r in rs.rules:
        d = to_dict(r)
        rid = str(d.get("id") or "")
        items.append({"id": rid, "title": d.get("title", ""), "level": d.get("level", ""), "attack_ids": d.get("attack_ids", []),
                      "source": str(d.get("source", d.get("path", ""))), "enabled": rid not in disabled})
    items.sort(key=lambda i: (i["title"], i["id"]))
    unsupported = [{"source": str(u[0]), "id": str(u[1]), "reason": str(u[2])} for u in rs.unsupported]
    return {**page(items[offset:offset + limit], limit, offset, total=len(items)), "unsupported": unsupported}


@router.post("/rules/{rule_id}/enable")
def rule_enable(request: Request, rule_id: str, p: Principal = ANALYST) -> dict[str, Any]:
    _set_disabled(request, _disabled(request) - {rule_id})
    ctx_of(request).reload_rules()
    audit(request, p, "rule.enable", rule_id)
    return {"id": rule_id, "enabled": True}


@router.post("/rules/{rule_id}/disable")
def rule_disable(request: Request, rule_id: str, p: Principal = ANALYST) -> dict[str, Any]:
    if not rule_id.replace("-", "").replace("_", "").isalnum():
        raise HTTPException(422, "rule id must be alphanumeric with - and _")
    _set_disabled(request, _disabled(request) | {rule_id})
    audit(request, p, "rule.disable", rule_id)
    return {"id": rule_id, "enabled": False}


@router.post("/rules", status_code=201)
def rule_upload(request: Request, yaml_text: Annotated[str, Body(media_type="application/yaml", max_length=200_000)],
                p: Principal = ANALYST) -> dict[str, Any]:
    """Upload one Sigma rule (YAML body). It is validated by the detection engine before it is kept."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.yml"
        path.write_text(yaml_text, encoding="utf-8")
        try:
            rs = _load_rules([Path(tmp)])
        except CloudwardenError as exc:
            raise HTTPException(422, f"invalid rule: {exc}") from exc
        except Exception as exc:
            raise HTTPException(422, f"invalid rule: {type(exc).__name__}: {exc}") from exc
        if rs.unsupported:
            raise HTTPException(422, f"rule not supported: {rs.unsupported[0][2]}")
        if len(rs.rules) != 1:
            raise HTTPException(422, "upload exactly one Sigma rule")
        rule = to_dict(rs.rules[0])
    rid = str(rule.get("id") or "")
    if not rid.replace("-", "").isalnum():
        raise HTTPException(422, "rule id must be a UUID or alphanumeric")
    dest = _rules_dir(request)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / f"{rid}.yml").write_text(yaml_text, encoding="utf-8")
    ctx_of(request).reload_rules()
    audit(request, p, "rule.upload", rid, str(rule.get("title", ""))[:200])
    return {"id": rid, "title": rule.get("title", "")}


# reports ----------------------------------------------------------------------------------------------
REPORT_TYPES = {"html": "text/html", "csv": "text/csv", "ocsf": "application/x-ndjson", "asff": "application/json"}


@router.get("/reports/latest.{fmt}")
def report(request: Request, fmt: str, p: Principal = VIEWER) -> Response:
    if fmt not in REPORT_TYPES:
        raise HTTPException(404, f"format must be one of {', '.join(REPORT_TYPES)}")
    rec = _scan_store(request).latest()
    if rec is None:
        raise HTTPException(404, "no stored scan yet")
    store = _scan_store(request)
    build = load("cloudwarden.compliance.report", "build_report")
    render = load("cloudwarden.compliance.report", "render")
    body = render(build(rec, store.previous(rec)), fmt)
    headers = {"content-disposition": f'attachment; filename="cloudwarden-{rec.scan_id[:12]}.{"jsonl" if fmt == "ocsf" else fmt}"'}
    # an HTML report downloaded from here is a document, never rendered inline in the dashboard's origin
    return Response(body if isinstance(body, bytes) else str(body).encode(), media_type=REPORT_TYPES[fmt], headers=headers)


# jobs, users, tokens, channels, audit -----------------------------------------------------------------
@router.get("/jobs")
def jobs(request: Request, p: Principal = VIEWER, status: str | None = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    ctx = ctx_of(request)
    return {**page(ctx.jobs.list(limit, offset, status), limit, offset), "depth": ctx.jobs.depth(), "schedule": ctx.jobs.schedule()}


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=10, max_length=1024)
    role: str = "viewer"


@router.get("/users")
def users(request: Request, p: Principal = ADMIN) -> dict[str, Any]:
    return {"items": [to_dict(u) for u in ctx_of(request).auth.list_users()]}


@router.post("/users", status_code=201)
def add_user(request: Request, body: NewUser, p: Principal = ADMIN) -> dict[str, Any]:
    try:
        u = ctx_of(request).auth.add_user(body.username, body.password, body.role)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from exc
    audit(request, p, "user.add", body.username, f"role={body.role}")
    return to_dict(u)


class RoleChange(BaseModel):
    role: str


@router.post("/users/{username}/role")
def set_role(request: Request, username: str, body: RoleChange, p: Principal = ADMIN) -> dict[str, Any]:
    try:
        ctx_of(request).auth.set_role(username, body.role)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from exc
    audit(request, p, "user.role", username, f"role={body.role}")
    return {"username": username, "role": body.role}


@router.post("/users/{username}/disable")
def disable_user(request: Request, username: str, p: Principal = ADMIN) -> dict[str, Any]:
    try:
        ctx_of(request).auth.set_disabled(username, True)
    except InputError as exc:
        raise HTTPException(404, str(exc)) from exc
    audit(request, p, "user.disable", username)
    return {"username": username, "disabled": True}


class NewToken(BaseModel):
    name: str = Field(default="automation", max_length=128)


@router.get("/tokens")
def tokens(request: Request, p: Principal = VIEWER) -> dict[str, Any]:
    ctx = ctx_of(request)
    return {"items": ctx.auth.list_tokens(None if p.user.role == "admin" else p.name)}


@router.post("/tokens", status_code=201)
def create_token(request: Request, body: NewToken, p: Principal = VIEWER) -> dict[str, Any]:
    """A token acting as the calling user (with that user's role). Shown once."""
    token = ctx_of(request).auth.create_token(p.name, body.name)
    audit(request, p, "token.create", body.name)
    return {"token": token, "name": body.name}


@router.delete("/tokens/{token_id}")
def revoke_token(request: Request, token_id: int, p: Principal = VIEWER) -> dict[str, Any]:
    ctx = ctx_of(request)
    mine = {t["id"] for t in ctx.auth.list_tokens(None if p.user.role == "admin" else p.name)}
    if token_id not in mine:
        raise HTTPException(404, "no such token")
    ctx.auth.revoke_token(token_id)
    audit(request, p, "token.revoke", str(token_id))
    return {"id": token_id, "revoked": True}


@router.get("/audit")
def audit_log(request: Request, p: Principal = ADMIN, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return page(ctx_of(request).auth.audit_log(limit, offset), limit, offset)


@router.get("/channels")
def channels(request: Request, p: Principal = ADMIN) -> dict[str, Any]:
    return {"items": [c.public() for c in ctx_of(request).channels()]}


@router.post("/channels", status_code=201)
def add_channel(request: Request, body: Annotated[dict[str, Any], Body()], p: Principal = ADMIN) -> dict[str, Any]:
    try:
        ch = ctx_of(request).channel_store.add(body)
    except CloudwardenError as exc:
        raise HTTPException(422, str(exc)) from exc
    audit(request, p, "channel.add", ch.name, ch.kind)
    return dict(ch.public())


@router.delete("/channels/{name}")
def remove_channel(request: Request, name: str, p: Principal = ADMIN) -> dict[str, Any]:
    ctx_of(request).channel_store.remove(name)
    audit(request, p, "channel.remove", name)
    return {"name": name, "removed": True}


@router.get("/agents")
def agents(request: Request, p: Principal = VIEWER) -> dict[str, Any]:
    store = load("cloudwarden.server.agent_store", "AgentStore")(ctx_of(request).state)
    return {"items": [to_dict(a) for a in store.list()]}


__all__ = ["PlainTextResponse", "Unavailable", "router"]
