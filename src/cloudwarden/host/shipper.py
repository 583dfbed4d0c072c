"""Ships spooled events to the server: batches, gzip, bearer token, retries with backoff and jitter.

Wire format (POST /api/agents/ingest, Content-Encoding: gzip, JSON):
    {"spool_id": str, "seqs": [int...], "events": [HostEvent as JSON...], "host": {...}, "health": {...}}
The server skips events whose (spool_id, seq) it has already stored, so a batch resent after a lost
response is harmless. A 400 (the server says the batch is invalid) cannot be fixed by retrying: the batch
is counted as rejected and acked so one poisoned batch never blocks the spool. 401/403 (revoked token)
stops shipping but keeps spooling, within the spool bound.
"""

from __future__ import annotations

import gzip
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from cloudwarden.host.spool import Spool

log = logging.getLogger(__name__)
INGEST_PATH = "/api/agents/ingest"


@dataclass
class ShipperStatus:
    shipped: int = 0
    batches: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    rejected_batches: int = 0
    last_success: float = 0.0
    last_error: str = ""
    unauthorized: bool = False
    next_attempt_in: float = 0.0


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 60.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    r = rng or random
    return r.uniform(0, min(cap, base * (2 ** min(attempt, 30))))


def encode_batch(spool_id: str, rows: list[tuple[int, bytes]], host: dict[str, Any], health: dict[str, Any]) -> bytes:
    body = b"".join([
        b'{"spool_id":', orjson.dumps(spool_id),
        b',"seqs":', orjson.dumps([s for s, _ in rows]),
        b',"host":', orjson.dumps(host),
        b',"health":', orjson.dumps(health),
        b',"events":[', b",".join(b for _, b in rows), b"]}",
    ])
    return gzip.compress(body, compresslevel=5)


class Shipper:
    def __init__(self, spool: Spool, server_url: str, token: str, *, host_fn: Callable[[], dict[str, Any]],
                 health_fn: Callable[[], dict[str, Any]], batch_events: int = 1000, timeout: float = 15.0,
                 verify: bool | str = True, max_backoff: float = 60.0) -> None:
        self.spool = spool
        self.url = server_url.rstrip("/") + INGEST_PATH
        self.token = token
        self.host_fn = host_fn
        self.health_fn = health_fn
        self.batch_events = batch_events
        self.max_backoff = max_backoff
        self.status = ShipperStatus()
        self._client = httpx.Client(timeout=timeout, verify=verify)

    def ship_once(self) -> int:
        """Ship one batch. Returns events acked (0 when the spool is empty). Raises on transient failure."""
        rows = self.spool.read_batch(self.batch_events)
        if not rows:
            return 0
        payload = encode_batch(self.spool.spool_id, rows, self.host_fn(), self.health_fn())
        resp = self._client.post(self.url, content=payload, headers={
            "Authorization": f"Bearer {self.token}", "Content-Encoding": "gzip", "Content-Type": "application/json",
        })
        if resp.status_code in (401, 403):
            self.status.unauthorized = True
            raise PermissionError(f"server refused the agent token ({resp.status_code}): {resp.text[:200]}")
        self.status.unauthorized = False
        if resp.status_code == 400 or resp.status_code == 413:
            # Retrying cannot fix it; count and move on so the spool does not wedge.
            log.error("server rejected a batch of %d events: %s", len(rows), resp.text[:500])
            self.status.rejected_batches += 1
            self.spool.count_rejected(len(rows))
            self.spool.ack(rows[-1][0])
            return len(rows)
        if resp.status_code >= 300:
            raise ConnectionError(f"server answered {resp.status_code}: {resp.text[:200]}")
        self.spool.ack(rows[-1][0])
        self.status.shipped += len(rows)
        self.status.batches += 1
        self.status.last_success = time.time()
        return len(rows)

    def run(self, stop: threading.Event, idle_wait: float = 1.0) -> None:
        attempt = 0
        while not stop.is_set():
            try:
                n = self.ship_once()
            except (httpx.HTTPError, ConnectionError, PermissionError, OSError) as exc:
                self.status.failures += 1
                self.status.consecutive_failures += 1
                self.status.last_error = str(exc)[:300]
                delay = backoff_delay(attempt, cap=self.max_backoff)
                attempt += 1
                self.status.next_attempt_in = delay
                log.warning("shipping failed (%s); retry in %.1fs", exc, delay)
                stop.wait(delay)
                continue
            attempt = 0
            self.status.consecutive_failures = 0
            self.status.next_attempt_in = 0.0
            if n == 0:
                stop.wait(idle_wait)

    def drain(self, timeout: float = 10.0) -> None:
        """Best effort: ship what is spooled before exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ship_once() == 0:
                    return
            except (httpx.HTTPError, ConnectionError, PermissionError, OSError):
                return

    def close(self) -> None:
        self._client.close()
