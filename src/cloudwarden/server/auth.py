"""Who is calling and what they may do: session cookies, API tokens, roles, CSRF, login rate limiting.

Every route declares `Depends(require("viewer" | "analyst" | "admin"))`; a test walks the route table
and proves it. Browser sessions are a random id in a signed HttpOnly cookie (SameSite=Lax, Secure on
https) whose hash is looked up in the state database; every state-changing request made with a session
must carry that session's CSRF token (X-CSRF-Token header from htmx, or a `csrf` form field). API tokens
(`Authorization: Bearer cwt_...`) are for automation and need no CSRF token because browsers never send
them on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Request

from cloudwarden.server.auth_store import User, role_at_least

SESSION_COOKIE = "cw_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    user: User
    via: str  # session | token
    csrf: str = ""
    client: str = ""

    @property
    def name(self) -> str:
        return self.user.username


class LoginRequired(Exception):
    """Raised for unauthenticated requests; the app answers 401 (API) or a redirect to /login (pages)."""


def sign(value: str, key: bytes) -> str:
    mac = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{value}.{mac}"


def unsign(signed: str, key: bytes) -> str | None:
    value, _, _mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(sign(value, key), signed):
        return None
    return value


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


async def authenticate(request: Request) -> Principal | None:
    ctx = request.app.state.ctx
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = ctx.auth.token_user(header[7:].strip())
        return Principal(user, "token", client=client_of(request)) if user else None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        sid = unsign(raw, ctx.secret)
        if sid:
            info = ctx.auth.session_user(sid)
            if info:
                return Principal(info.user, "session", info.csrf, client_of(request))
    return None


async def _check_csrf(request: Request, principal: Principal) -> None:
    token = request.headers.get("x-csrf-token", "")
    if not token and "form" in request.headers.get("content-type", ""):
        form = await request.form()  # starlette caches the parsed form, so the endpoint can read it again
        value = form.get("csrf")
        token = value if isinstance(value, str) else ""
    if not token or not hmac.compare_digest(token, principal.csrf):
        raise HTTPException(403, "missing or invalid CSRF token")


def require(role: str) -> Any:
    """A dependency that authenticates the caller and requires at least `role`."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal is None:
            raise LoginRequired()
        if not role_at_least(principal.user.role, role):
            raise HTTPException(403, f"requires role {role}")
        if request.method not in SAFE_METHODS and principal.via == "session":
            await _check_csrf(request, principal)
        request.state.principal = principal
        return principal

    dependency.required_role = role  # type: ignore[attr-defined]  # read by the route-table test
    return Depends(dependency)


class LoginLimiter:
    """At most `max_failures` failed logins per client address and per user name within `window_s`."""

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max = max_failures
        self.window = window_s
        self.clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        q = self._fails.setdefault(key, deque(maxlen=self.max * 2))
        cutoff = self.clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def blocked(self, client: str, username: str) -> bool:
        with self._lock:
            return any(len(self._recent(k)) >= self.max for k in (f"c:{client}", f"u:{username.lower()}"))

    def failure(self, client: str, username: str) -> None:
        with self._lock:
            if len(self._fails) > 50_000:  # bounded: forget the oldest keys under a spray
                for k in list(self._fails)[:10_000]:
                    del self._fails[k]
            for k in (f"c:{client}", f"u:{username.lower()}"):
                self._recent(k).append(self.clock())

    def success(self, client: str, username: str) -> None:
        with self._lock:
            self._fails.pop(f"u:{username.lower()}", None)


Handler = Callable[[Request], Awaitable[Any]]
