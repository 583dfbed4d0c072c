"""ASGI middleware: request body size limit, security headers, structured request logs."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cloudwarden.server.http")

# htmx is loaded from /static and configured by a meta tag, so no inline script is needed anywhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Rejects bodies over `max_bytes` with 413: by Content-Length up front, or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max
                except ValueError:
                    too_big = True
                if too_big:
                    await _plain(send, 413, b"request body too large")
                    return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max:
                    raise BodyTooLarge()
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _plain(send, 413, b"request body too large")


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, docs_csp: bytes | None = None) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 0

        async def with_headers(msg: Message) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
                headers = [h for h in msg.get("headers", []) if h[0] not in {k for k, _ in SECURITY_HEADERS}]
                headers.extend(SECURITY_HEADERS)
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                msg = {**msg, "headers": headers}
            await send(msg)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            metrics: Any = getattr(scope.get("app"), "state", None)
            ctx = getattr(metrics, "ctx", None) if metrics is not None else None
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            if ctx is not None:
                ctx.metrics.http_requests.labels(path=path, status=str(status)).inc()
            log.info("request", extra={"fields": {"method": scope.get("method"), "path": path, "status": status,
                                                   "ms": round((time.perf_counter() - t0) * 1000, 1)}})
