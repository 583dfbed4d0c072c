"""`create_app(settings) -> FastAPI`: the API, the dashboard and (when started) the scheduler, in one process.

Only /healthz, /login and the static assets answer without authentication; OpenAPI (/openapi.json and
the /docs page) and /metrics require a user (or, for /metrics, the configured scrape token).
"""

from __future__ import annotations

import hmac
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cloudwarden.config import Settings, load_settings
from cloudwarden.errors import CloudwardenError, InputError
from cloudwarden.server.auth import LoginRequired, Principal, authenticate, require
from cloudwarden.server.context import ServerContext
from cloudwarden.server.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from cloudwarden.server.openapi import build_openapi
from cloudwarden.server.routes import api, pages
from cloudwarden.server.scheduler import Scheduler
from cloudwarden.server.sources import Unavailable
from cloudwarden.store.state import StateStore

log = logging.getLogger("cloudwarden.server")
STATIC = Path(__file__).resolve().parent / "static"
INGEST_MODULE = "cloudwarden.server.ingest"  # the host helper's agent enroll + ingest router


def include_ingest(app: FastAPI, ctx: ServerContext) -> str:
    """Include the agent enroll + ingest router when it exists; say why not otherwise."""
    try:
        mod = importlib.import_module(INGEST_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != INGEST_MODULE:
            return f"agent ingest unavailable: {exc}"
        return "agent ingest not installed (cloudwarden.server.ingest missing)"
    except Exception as exc:  # noqa: BLE001 - a broken ingest module must not stop the dashboard
        log.warning("agent ingest failed to load", extra={"fields": {"error": f"{type(exc).__name__}: {exc}"}})
        return f"agent ingest failed to load: {type(exc).__name__}: {exc}"
    build = getattr(mod, "build_router", None)
    if build is None:
        return "cloudwarden.server.ingest has no build_router"

    async def admin_check(request: Request) -> Principal:
        # the agent router's admin actions (list, revoke, enroll without secret) use our users and roles
        dep = require("admin").dependency
        return await dep(request)  # type: ignore[no-any-return]

    from cloudwarden.store.lake import Lake

    router = build(ctx.settings, state=ctx.state, lake=Lake(ctx.settings.lake_path), admin_check=admin_check,
                   alert_sink=ctx.raise_alerts)
    app.include_router(router)
    ctx.host_ingest = getattr(router, "host_ingest", None)
    return ""


def create_app(settings: Settings | None = None, *, state: StateStore | None = None, background: bool = True) -> FastAPI:
    """Build the app. `background=False` (tests) skips the scheduler and notifier threads."""
    settings = settings or load_settings()
    ctx = ServerContext(settings, state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:
            ctx.notifier.start()
            if settings.server.scheduler_enabled:
                ctx.scheduler = Scheduler(ctx, workers=settings.server.workers).start()
        try:
            yield
        finally:
            # graceful: workers finish the job in hand, queued jobs stay queued for the next start
            if ctx.scheduler is not None:
                ctx.scheduler.stop()
            ctx.notifier.stop(flush=True)

    app = FastAPI(title="cloudwarden", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                  description="Continuous security for an AWS estate. Authenticate with `Authorization: Bearer <API token>` "
                              "(automation), or with the dashboard session cookie plus the `X-CSRF-Token` header on "
                              "state-changing calls (the /docs page adds it).")
    app.state.ctx = ctx

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
        if wants_html and request.method == "GET" and not request.headers.get("hx-request"):
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return JSONResponse({"detail": "authentication required"}, status_code=401, headers={"www-authenticate": "Bearer"})

    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(CloudwardenError)
    async def _cw_error(request: Request, exc: CloudwardenError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=500)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    viewer = require("viewer")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(p: Principal = viewer) -> dict[str, Any]:
        return build_openapi(app.title, app.version, app.description, app.routes)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request, p: Principal = viewer) -> HTMLResponse:
        # Swagger UI (vendored under /static/swagger) renders /openapi.json; the plain list is the no-script fallback
        spec = build_openapi(app.title, app.version, app.description, app.routes)
        endpoints = [{"method": m.upper(), "path": path, "summary": op.get("summary", "")}
                     for path, ops in sorted(spec.get("paths", {}).items()) for m, op in ops.items()]
        return pages.render(request, "docs.html", p, endpoints=endpoints)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        token = ctx.settings.server.metrics_token
        header = request.headers.get("authorization", "")
        ok = bool(token) and hmac.compare_digest(header, f"Bearer {token}")
        if not ok:
            principal = await authenticate(request)
            if principal is None:
                raise LoginRequired()
        ctx.metrics.posture.clear()
        for status, n in ctx.posture.counts().items():
            ctx.metrics.posture.labels(status=status).set(n)
        depth = ctx.jobs.depth()
        for status in ("queued", "running", "done", "failed"):
            ctx.metrics.queue_depth.labels(status=status).set(depth.get(status, 0))
        ctx.metrics.notify_queue.set(ctx.notifier.depth())
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    metrics.required_role = "viewer|metrics-token"  # type: ignore[attr-defined]

    app.include_router(api.router)
    app.include_router(pages.router)
    app.state.ingest_status = include_ingest(app, ctx)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.server.max_body_bytes)
    return app
