"""The notification worker: bounded queue, per-channel grouping window, rate limit, retries.

`submit` never blocks the caller (the alert path): when the queue is full the alert is counted as dropped.
Alerts for a channel wait up to `group_window_s` after the first one so a burst leaves as one digest; a
channel that already sent `max_per_minute` messages keeps collecting until it may send again, so a flood
still becomes a few digests. Failed sends are retried with backoff, then counted as failed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.notify import channels as channels_mod
from cloudwarden.notify.routing import ChannelConfig, route

log = logging.getLogger("cloudwarden.notify")
Sender = Callable[[ChannelConfig, Sequence[Mapping[str, Any]]], None]


@dataclass
class _Pending:
    first_at: float
    alerts: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class Stats:
    queued: int = 0
    dropped: int = 0
    sent_messages: int = 0
    sent_alerts: int = 0
    failed_messages: int = 0
    retries: int = 0


class Notifier:
    def __init__(self, channels: Callable[[], list[ChannelConfig]], *, group_window_s: float = 30.0, max_per_minute: int = 6,
                 queue_max: int = 10_000, retries: int = 3, retry_base_s: float = 1.0, sender: Sender | None = None,
                 max_digest: int = 500, on_send: Callable[[str, str], None] | None = None) -> None:
        self.channels = channels
        self.window = group_window_s
        self.max_per_minute = max_per_minute
        self.retries = retries
        self.retry_base = retry_base_s
        self.sender = sender or channels_mod.send
        self.max_digest = max_digest
        self.on_send = on_send
        self.stats = Stats()
        self._q: queue.Queue[Mapping[str, Any]] = queue.Queue(maxsize=queue_max)
        self._pending: dict[str, _Pending] = {}
        self._sent_times: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, alert: Mapping[str, Any]) -> bool:
        try:
            self._q.put_nowait(alert)
        except queue.Full:
            self.stats.dropped += 1
            return False
        self.stats.queued += 1
        return True

    def depth(self) -> int:
        return self._q.qsize() + sum(len(p.alerts) for p in self._pending.values())

    def start(self) -> Notifier:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cloudwarden-notify", daemon=True)
            self._thread.start()
        return self

    def stop(self, flush: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if flush:
            self._drain_queue()
            self._flush(force=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                alert = self._q.get(timeout=0.1)
                self._accept(alert)
                self._drain_queue()
            except queue.Empty:
                pass
            self._flush(force=False)

    def _drain_queue(self) -> None:
        while True:
            try:
                self._accept(self._q.get_nowait())
            except queue.Empty:
                return

    def _accept(self, alert: Mapping[str, Any]) -> None:
        try:
            targets = route(alert, self.channels())
        except Exception:
            log.exception("notification routing failed")
            return
        for ch in targets:
            p = self._pending.setdefault(ch.name, _Pending(time.monotonic()))
            if len(p.alerts) < self.max_digest * 20:  # bounded per channel too
                p.alerts.append(alert)
            else:
                self.stats.dropped += 1

    def _may_send(self, name: str, t: float) -> bool:
        recent = [x for x in self._sent_times.get(name, []) if x > t - 60]
        self._sent_times[name] = recent
        return len(recent) < self.max_per_minute

    def _flush(self, *, force: bool) -> None:
        t = time.monotonic()
        by_name = {c.name: c for c in self.channels()}
        for name, p in list(self._pending.items()):
            if not p.alerts:
                del self._pending[name]
                continue
            if not force and (t - p.first_at < self.window or not self._may_send(name, t)):
                continue
            ch = by_name.get(name)
            del self._pending[name]
            if ch is None:
                continue
            for start in range(0, len(p.alerts), self.max_digest):
                self._send(ch, p.alerts[start:start + self.max_digest])

    def _send(self, ch: ChannelConfig, alerts: Sequence[Mapping[str, Any]]) -> None:
        for attempt in range(self.retries + 1):
            try:
                self.sender(ch, alerts)
            except Exception as exc:  # noqa: BLE001 - network, HTTP status and SMTP errors all mean "try again"
                if attempt < self.retries:
                    self.stats.retries += 1
                    time.sleep(min(self.retry_base * 2 ** attempt, 30))
                    continue
                self.stats.failed_messages += 1
                log.warning("notification failed", extra={"fields": {"channel": ch.name, "kind": ch.kind, "error": type(exc).__name__}})
                if self.on_send:
                    self.on_send(ch.name, "failed")
                return
            self._sent_times.setdefault(ch.name, []).append(time.monotonic())
            self.stats.sent_messages += 1
            self.stats.sent_alerts += len(alerts)
            if self.on_send:
                self.on_send(ch.name, "sent")
            return
