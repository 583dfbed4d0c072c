"""The OpenAPI document served at /openapi.json (and rendered by the vendored Swagger UI at /docs).

Operations are tagged by area (from the first path segment after the API prefix) so Swagger UI groups
them; the two ways to authenticate (the dashboard's session cookie, API tokens) are declared as security
schemes. Mutating calls made with the session cookie also need the X-CSRF-Token header, which the /docs
page adds itself (static/swagger-init.js).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.openapi.utils import get_openapi
from starlette.routing import BaseRoute

from cloudwarden.server.auth import SESSION_COOKIE

# first path segment under /api/v1 -> tag; a segment not listed becomes its own tag
AREA = {
    "me": "identity", "users": "identity", "tokens": "identity", "audit": "identity",
    "findings": "compliance", "frameworks": "compliance", "posture": "compliance", "scans": "compliance",
    "reports": "compliance", "jobs": "compliance",
    "alerts": "alerts", "rules": "rules",
    "events": "cloudtrail", "ingest": "cloudtrail",
    "hosts": "hosts", "graph": "hosts", "agents": "agents",
    "channels": "notifications",
}
TAGS = [
    {"name": "identity", "description": "Who you are, users, API tokens and the audit log (admin)."},
    {"name": "compliance", "description": "Posture, findings, scans, framework scores and reports."},
    {"name": "alerts", "description": "Detection alerts and their triage (ack, resolve, suppress, comment, assign)."},
    {"name": "rules", "description": "Sigma rules: list, upload, enable and disable."},
    {"name": "cloudtrail", "description": "Stored CloudTrail events and CloudTrail ingest over HTTP."},
    {"name": "hosts", "description": "Hosts reporting through agents, their events and the process/network graph."},
    {"name": "agents", "description": "Host agent enrolment and event ingest (agent credentials), agent admin."},
    {"name": "notifications", "description": "Alert notification channels."},
]
SECURITY_SCHEMES = {
    "apiToken": {"type": "http", "scheme": "bearer",
                 "description": "An API token (`cwt_...`) from Settings or `cloudwarden users token`. Needs no CSRF header."},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "The dashboard login. State-changing calls also need the `X-CSRF-Token` header "
                               "(the /docs page adds it)."},
}


def area_of(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        parts = parts[2:]
    elif parts[:1] == ["api"]:
        parts = parts[1:]
    if not parts:
        return "other"
    head = parts[0].split(".", 1)[0]
    return AREA.get(head, head)


def build_openapi(title: str, version: str, description: str, routes: Sequence[BaseRoute]) -> dict[str, Any]:
    spec = get_openapi(title=title, version=version, description=description, routes=routes, tags=TAGS)
    used: set[str] = set()
    for path, ops in spec.get("paths", {}).items():
        tag = area_of(path)
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            op["tags"] = [tag]
            used.add(tag)
            if not op.get("summary"):
                op["summary"] = op.get("operationId", path)
            # agent enrol/ingest use agent credentials; everything else a user (cookie or API token)
            if tag != "agents" or path.endswith("/agents") or "revoke" in path:
                op.setdefault("security", [{"apiToken": []}, {"session": []}])
    spec["tags"] = [t for t in TAGS if t["name"] in used] + [{"name": t} for t in sorted(used - {t["name"] for t in TAGS})]
    spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    return spec
