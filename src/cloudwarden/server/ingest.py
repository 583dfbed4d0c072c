"""Agent enrollment and host-event ingest: an APIRouter the server app includes.

    app.include_router(build_router(settings, state=state, lake=lake, admin_check=..., alert_sink=...))

POST /api/agents/enroll        enrollment secret (body `enroll_secret`) or admin -> {agent_id, token}
POST /api/agents/ingest        bearer agent token; gzip JSON batch (see host/shipper.py)
GET  /api/agents               admin: enrolled agents with last-seen, health and sources
POST /api/agents/{id}/revoke   admin: the token stops working immediately

A batch is decoded and validated completely before anything is written: one bad event rejects the batch
with 400 and a message naming `events[i].field`. Accepted batches are written to the lake (idempotent by
event_id), mapped to Sigma's Linux fields and run through the host rules; alerts go to the alert store.
Events whose spool sequence the server already stored (a resend after a lost answer) are skipped.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import orjson
from fastapi import APIRouter, HTTPException, Request

from cloudwarden.config import Settings
from cloudwarden.detect.grouping import WindowSpec
from cloudwarden.errors import AuthError, CloudwardenError
from cloudwarden.host.sigma_fields import AuthContext, to_sigma, view_matches_logsource
from cloudwarden.models.alert import Alert
from cloudwarden.models.host_event import HostEvent
from cloudwarden.server.agent_store import AgentInfo, AgentStore
from cloudwarden.store.state import StateStore, open_store

log = logging.getLogger(__name__)
HOST_WINDOWS_KEY = "host"  # the correlation_state row of the host pipeline's Detector
HOST_CLOSE_LAG = timedelta(minutes=5)  # agents ship within seconds; spooled (offline) events may come later
KINDS = {"process", "privilege", "auth", "network", "transfer", "file"}
MAX_STR = 65536
MAX_LIST = 4096
AdminCheck = Callable[[Request], Awaitable[Any] | Any]
AlertSink = Callable[[list[Alert]], Any]


class BatchError(ValueError):
    pass


class _Batch(msgspec.Struct, forbid_unknown_fields=False):
    spool_id: str
    seqs: list[int]
    events: list[HostEvent]
    host: dict[str, Any] = {}
    health: dict[str, Any] = {}


def decode_body(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    """Gunzip with a hard output limit (a gzip bomb is rejected, not inflated)."""
    if encoding.lower() not in ("gzip", "x-gzip"):
        if len(raw) > max_bytes:
            raise BatchError(f"body larger than {max_bytes} bytes")
        return raw
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, max_bytes + 1)
    except zlib.error as exc:
        raise BatchError(f"body is not valid gzip: {exc}") from exc
    if len(out) > max_bytes or d.unconsumed_tail:
        raise BatchError(f"decompressed body larger than {max_bytes} bytes")
    return out


def _check_event(i: int, ev: HostEvent, host_id: str) -> None:
    where = f"events[{i}]"
    if not ev.event_id:
        raise BatchError(f"{where}.event_id: must not be empty")
    if ev.kind not in KINDS:
        raise BatchError(f"{where}.kind: {ev.kind[:40]!r} is not one of {', '.join(sorted(KINDS))}")
    if not (0 < ev.time < 4102444800):
        raise BatchError(f"{where}.time: {ev.time} is not an epoch time in seconds")
    if host_id and ev.host_id != host_id:
        raise BatchError(f"{where}.host_id: {ev.host_id[:64]!r} is not this agent's host ({host_id})")
    for f in fields(ev):
        v = getattr(ev, f.name)
        if isinstance(v, str) and len(v) > MAX_STR:
            raise BatchError(f"{where}.{f.name}: longer than {MAX_STR} characters")
        if isinstance(v, (list, dict)) and len(v) > MAX_LIST:
            raise BatchError(f"{where}.{f.name}: more than {MAX_LIST} items")


def parse_batch(body: bytes, max_events: int, host_id: str = "") -> _Batch:
    """Decode and validate a whole batch; raises BatchError naming the first bad field."""
    try:
        batch = msgspec.json.decode(body, type=_Batch)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        # msgspec says "... - at `$.events[3].pid`"; keep that path, readable
        raise BatchError(msg.replace("`$.", "`")) from exc
    except msgspec.DecodeError as exc:
        raise BatchError(f"body is not valid JSON: {exc}") from exc
    if len(batch.events) > max_events:
        raise BatchError(f"events: {len(batch.events)} events exceed the limit of {max_events} per batch")
    if len(batch.seqs) != len(batch.events):
        raise BatchError(f"seqs: {len(batch.seqs)} sequence numbers for {len(batch.events)} events")
    if any(b <= a for a, b in zip(batch.seqs, batch.seqs[1:], strict=False)):
        raise BatchError("seqs: must be strictly increasing")
    if not batch.spool_id or len(batch.spool_id) > 64:
        raise BatchError("spool_id: must be 1-64 characters")
    host = host_id or (str(batch.host.get("host_id", "")) if isinstance(batch.host, dict) else "")
    for i, ev in enumerate(batch.events):
        _check_event(i, ev, host)
    return batch


class HostIngest:
    """Everything behind the ingest endpoint, usable without HTTP (tests, benchmarks, replay to a store)."""

    def __init__(self, state: StateStore, lake: Any | None, *, detector: Any | None = None,
                 alert_sink: AlertSink | None = None, load_detector: bool = True,
                 alert_window: WindowSpec | None = None) -> None:
        self.state = state
        self.alert_window = alert_window  # the alert grouping window (None: the store's default)
        self.agents = AgentStore(state)
        self.lake = lake
        self._lock = threading.Lock()
        self.detector = detector
        self.detector_error = ""
        if detector is None and load_detector:
            try:
                from cloudwarden.detect.engine import Detector, builtin_rules_path, load_rules

                self.detector = Detector(load_rules([builtin_rules_path("linux")]), source="host")
            except (ImportError, CloudwardenError) as exc:
                self.detector_error = f"{type(exc).__name__}: {exc}"
                log.warning("host detection unavailable: %s", self.detector_error)
        self._alert_sink = alert_sink
        self.auth_ctx = AuthContext()
        self._windows: Any = None  # SavedWindows once restored
        self._restore_windows()
        self.stats = {"batches": 0, "events": 0, "duplicates": 0, "alerts": 0, "rejected": 0}

    def _sink(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        if self._alert_sink is not None:
            self._alert_sink(alerts)
            return
        from cloudwarden.detect.alert_store import AlertStore

        AlertStore(self.state, window=self.alert_window).add(alerts)

    # -- correlation windows across a server restart (cloudwarden.detect.correlation_store) ----------------
    def _persisted(self) -> bool:
        corrs = getattr(getattr(self.detector, "ruleset", None), "correlations", None)
        return bool(corrs) and hasattr(self.detector, "snapshot")

    def _restore_windows(self) -> None:
        if not self._persisted():
            return
        from cloudwarden.detect.correlation_store import SavedWindows

        self._windows = SavedWindows(self.state, HOST_WINDOWS_KEY, "host")
        self._windows.restore(self.detector)

    def save_windows(self) -> None:
        """Save the correlation windows if they changed. Called before a batch's spool mark is advanced:
        a crash in between makes the agent resend the batch, whose events count once (event ids)."""
        if self._windows is not None and self._persisted():
            self._windows.save(self.detector)

    def close_windows(self) -> list[Alert]:
        """"Fewer than" windows that ended before now less the agents' usual delivery delay."""
        if not self._persisted():
            return []
        det: Any = self.detector
        alerts: list[Alert] = det.flush(datetime.now(UTC) - HOST_CLOSE_LAG)
        for alert in alerts:
            alert.source = "host"
        return alerts

    def detect(self, events: list[HostEvent]) -> list[Alert]:
        if self.detector is None:
            return []
        out: list[Alert] = []
        ruleset = self.detector.ruleset
        for ev in events:
            when = datetime.fromtimestamp(ev.time, UTC)
            for view in to_sigma(ev, self.auth_ctx):
                for alert in self.detector.process(view, when):
                    info = ruleset.get(alert.rule_id)
                    ls = info.logsource if info is not None else None
                    if ls is not None and info is not None and info.kind == "single" and not view_matches_logsource(
                        view, ls.product, ls.category, ls.service):
                        continue
                    alert.source = "host"
                    alert.host = ev.hostname or ev.host_id
                    alert.entity = alert.entity or ev.host_id
                    out.append(alert)
        return out

    def ingest(self, agent: AgentInfo, batch: _Batch) -> dict[str, Any]:
        with self._lock:
            high = self.agents.high_seq(agent.id, batch.spool_id)
            new = [ev for seq, ev in zip(batch.seqs, batch.events, strict=True) if seq > high]
            dup = len(batch.events) - len(new)
            written = 0
            if new and self.lake is not None:
                written = int(self.lake.write_host_events(new))
            alerts = self.detect(new) + self.close_windows()
            self._sink(alerts)
            self.save_windows()
            health = dict(batch.health) if isinstance(batch.health, dict) else {}
            self.agents.record_ingest(agent.id, batch.spool_id, batch.seqs[-1] if batch.seqs else high, len(new),
                                      health, dict(batch.host) if isinstance(batch.host, dict) else {})
            self.stats["batches"] += 1
            self.stats["events"] += len(new)
            self.stats["duplicates"] += dup
            self.stats["alerts"] += len(alerts)
        return {"accepted": len(new), "duplicates": dup, "written": written, "alerts": len(alerts)}


def _bearer(request: Request) -> str:
    h = request.headers.get("authorization", "")
    return h[7:].strip() if h.lower().startswith("bearer ") else ""


def default_admin_check(settings: Settings) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        token = settings.server.admin_token
        if not token:
            raise HTTPException(403, "no admin token configured (server.admin_token) and no user auth wired in")
        if not hmac.compare_digest(_bearer(request).encode(), token.encode()):
            raise HTTPException(401, "admin token required")

    return check


async def _run_check(check: AdminCheck, request: Request) -> None:
    res = check(request)
    if inspect.isawaitable(res):
        await res


async def _read_limited(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _agent_dict(a: AgentInfo) -> dict[str, Any]:
    d = asdict(a)
    for k in ("created", "last_seen"):
        if d[k] is not None:
            d[k] = d[k].isoformat()
    d["sources"] = a.health.get("sources", {})
    return d


def build_router(settings: Settings, *, state: StateStore | None = None, lake: Any | None = None,
                 service: HostIngest | None = None, admin_check: AdminCheck | None = None,
                 alert_sink: AlertSink | None = None, max_body_bytes: int | None = None) -> APIRouter:
    """The agent router. `admin_check(request)` raises HTTPException for non-admins (the server wires its
    user auth here); by default it compares a bearer token to `server.admin_token`."""
    if service is None:
        st = state or open_store(settings.state_url)
        if lake is None:
            from cloudwarden.store.lake import Lake

            lake = Lake(settings.lake_path)
        service = HostIngest(st, lake, alert_sink=alert_sink, alert_window=settings.alerts.group_window())
    svc = service
    check = admin_check or default_admin_check(settings)
    limit = max_body_bytes or settings.server.max_body_bytes
    router = APIRouter(prefix="/api/agents", tags=["agents"])
    router.host_ingest = svc  # type: ignore[attr-defined]  # lets the app and tests reach the service

    @router.post("/enroll")
    async def enroll(request: Request) -> dict[str, Any]:
        raw = await _read_limited(request, 65536)
        try:
            body = orjson.loads(raw or b"{}")
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise HTTPException(400, "body must be a JSON object")
        secret = str(body.get("enroll_secret", ""))
        expected = settings.server.agent_enroll_secret
        if not (expected and secret and hmac.compare_digest(secret.encode(), expected.encode())):
            await _run_check(check, request)  # no valid secret: only an admin may enroll
        name = str(body.get("name") or body.get("hostname") or "agent")
        info, token = svc.agents.enroll(name, str(body.get("hostname", "")), str(body.get("host_id", "")))
        return {"agent_id": info.id, "token": token, "name": info.name}

    @router.post("/ingest")
    async def ingest(request: Request) -> dict[str, Any]:
        token = _bearer(request)
        try:
            agent = svc.agents.authenticate(token)
        except AuthError as exc:
            raise HTTPException(401, str(exc)) from exc
        raw = await _read_limited(request, limit)
        try:
            body = decode_body(raw, request.headers.get("content-encoding", ""), limit * 8)
            batch = parse_batch(body, settings.server.agent_max_batch_events, agent.host_id)
        except BatchError as exc:
            svc.stats["rejected"] += 1
            raise HTTPException(400, f"batch rejected, nothing stored: {exc}") from exc
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(svc.ingest, agent, batch)

    @router.get("")
    async def list_agents(request: Request) -> dict[str, Any]:
        await _run_check(check, request)
        return {"items": [_agent_dict(a) for a in svc.agents.list()]}

    @router.post("/{agent_id}/revoke")
    async def revoke(agent_id: str, request: Request) -> dict[str, Any]:
        await _run_check(check, request)
        info = svc.agents.revoke(agent_id)
        if info is None:
            raise HTTPException(404, f"no agent {agent_id}")
        return {"agent_id": agent_id, "revoked": True}

    return router
