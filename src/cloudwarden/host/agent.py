"""The agent: picks its sources, funnels their events through a bounded queue into the spool, ships.

    sources (threads) --emit--> bounded queue --writer--> Spool (SQLite WAL) --Shipper--> server

Source choice, best first (reported at start and in every batch's health):
  audit (netlink or auditd log) covers process, network, privilege, file (and auth when no auth log);
  proc_connector replaces audit for process and privilege when audit is unavailable;
  sock_diag always (listening sockets, byte counters; connections too when audit is unavailable);
  authlog (auth.log/secure, with wtmp/btmp when audit cannot see logins);
  fanotify replaces audit watches for sensitive files when audit is unavailable (it names the writing
  process), inotify when fanotify is not permitted either;
  dns (AF_PACKET) fills dns_name of network/transfer events from the DNS answers it sees.
Nothing here blocks the host: sources never wait on the queue (a full queue drops and counts), audit is
configured never to make syscalls wait, and no fanotify permission events are used.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cloudwarden.config import Settings
from cloudwarden.host import metadata
from cloudwarden.host.auditparse import HostIdentity
from cloudwarden.host.dns import DnsCache
from cloudwarden.host.procfs import ProcessCache
from cloudwarden.host.shipper import Shipper
from cloudwarden.host.sources.base import Source
from cloudwarden.host.sources.sockdiag import CidrSet
from cloudwarden.host.spool import Spool
from cloudwarden.models.host_event import HostEvent

log = logging.getLogger(__name__)
ALL_SOURCES = ("audit", "proc_connector", "sock_diag", "authlog", "fanotify", "inotify", "dns")


@dataclass
class AgentOptions:
    server_url: str = ""
    token: str = ""
    spool_path: Path = Path("agent-spool/spool.db")
    status_path: Path = Path("agent-status.json")
    spool_max_bytes: int = 256 * 1024 * 1024
    sources: list[str] = field(default_factory=list)  # empty: automatic
    audit_auid: int | None = None
    audit_mode: str = "auto"
    watch_paths: list[str] = field(default_factory=list)
    auth_log_paths: list[str] = field(default_factory=lambda: ["/var/log/auth.log", "/var/log/secure"])
    internal_cidrs: list[str] = field(default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8"])
    sock_diag_interval: float = 5.0
    transfer_window: float = 60.0
    queue_max: int = 20000
    imds_timeout: float = 0.3
    verify: bool | str = True
    audit_record: Path | None = None  # also write the raw audit records to this file (audit.log format)
    track_auid_writes: bool = False
    dns_ports: list[int] = field(default_factory=lambda: [53])  # UDP source ports of DNS answers to observe

    @classmethod
    def from_settings(cls, s: Settings) -> AgentOptions:
        a = s.agent
        spool_dir = Path(a.spool_path) if a.spool_path else s.home_path / "agent-spool"
        verify: bool | str = True
        if a.tls_verify.lower() in ("false", "0", "no"):
            verify = False
        elif a.tls_verify.lower() not in ("true", "1", "yes", ""):
            verify = a.tls_verify
        return cls(
            server_url=a.server_url, spool_path=spool_dir / "spool.db", status_path=s.home_path / "agent-status.json",
            spool_max_bytes=a.spool_max_bytes, sources=list(a.sources),
            audit_auid=a.audit_auid if a.audit_auid >= 0 else None, watch_paths=list(a.watch_paths),
            auth_log_paths=list(a.auth_log_paths), internal_cidrs=list(a.internal_cidrs),
            sock_diag_interval=a.sock_diag_interval_s, transfer_window=a.transfer_window_s, queue_max=a.queue_max,
            verify=verify,
        )


@dataclass
class SourceReport:
    name: str
    active: bool
    reason: str = ""
    detail: str = ""


class Agent:
    def __init__(self, opts: AgentOptions) -> None:
        self.opts = opts
        self.meta = metadata.collect(opts.imds_timeout)
        self.host_id = str(self.meta["host_id"])
        self.hostname = str(self.meta["hostname"])
        self.run_id = f"{int(time.time() * 1000):x}"
        self._seq = itertools.count(1)
        self.queue: queue.Queue[HostEvent] = queue.Queue(maxsize=opts.queue_max)
        self.dropped_queue = 0
        self.spool = Spool(opts.spool_path, opts.spool_max_bytes)
        self.cache = ProcessCache()
        self.cidrs = CidrSet(opts.internal_cidrs)
        self.dns = DnsCache()
        self.sources: list[Source] = []
        self.report: list[SourceReport] = []
        self.shipper: Shipper | None = None
        self.stop = threading.Event()
        self._writer_stop = threading.Event()  # set only after every source has stopped and flushed
        self._stopped = False
        self.started = time.time()
        self._pid = os.getpid()

    # ------------------------------------------------------------------ source selection
    def select_sources(self) -> list[SourceReport]:
        from cloudwarden.host.sources.audit import AuditSource
        from cloudwarden.host.sources.authlog import AuthLogSource
        from cloudwarden.host.sources.dns import DnsObserver
        from cloudwarden.host.sources.fanotify import FanotifySource
        from cloudwarden.host.sources.inotify import InotifySource
        from cloudwarden.host.sources.proc_connector import ProcConnectorSource
        from cloudwarden.host.sources.sockdiag import SockDiagSource

        wanted = set(self.opts.sources or ALL_SOURCES)
        unknown = wanted - set(ALL_SOURCES)
        if unknown:
            raise ValueError(f"unknown sources: {', '.join(sorted(unknown))} (known: {', '.join(ALL_SOURCES)})")
        explicit = bool(self.opts.sources)
        report: list[SourceReport] = []

        def consider(src: Source, needed: bool, why_not_needed: str) -> bool:
            if src.name not in wanted:
                report.append(SourceReport(src.name, False, "not selected"))
                return False
            if not needed and not explicit:
                report.append(SourceReport(src.name, False, why_not_needed))
                return False
            reason = src.probe()
            if reason:
                report.append(SourceReport(src.name, False, reason))
                return False
            self.sources.append(src)
            report.append(SourceReport(src.name, True, detail=getattr(src, "chosen", "")))
            return True

        ident = HostIdentity(self.host_id, self.hostname)
        audit = AuditSource(ident, auid=self.opts.audit_auid, extra_paths=self.opts.watch_paths, cache=self.cache,
                            mode=self.opts.audit_mode, record_path=self.opts.audit_record,
                            track_auid_writes=self.opts.track_auid_writes)
        audit_on = consider(audit, True, "")
        consider(ProcConnectorSource(self.host_id, self.hostname, cache=self.cache), not audit_on,
                 "audit covers process launches")
        consider(SockDiagSource(self.host_id, self.hostname, internal_cidrs=self.opts.internal_cidrs,
                                interval=self.opts.sock_diag_interval, window=self.opts.transfer_window,
                                report_connections=not audit_on), True, "")
        authlog = AuthLogSource(self.host_id, self.hostname, self.opts.auth_log_paths, wtmp=not audit_on)
        if consider(authlog, True, "") and authlog.has_log:
            audit.auth_from_audit = False  # the auth log has method and key fingerprint; avoid duplicates
        # fanotify names the writing process, inotify does not: prefer it whenever audit is off.
        fan_on = consider(FanotifySource(self.host_id, self.hostname, self.opts.watch_paths), not audit_on,
                          "audit watches name the process")
        # With audit on, inotify only covers home/.ssh directories created after start.
        consider(InotifySource(self.host_id, self.hostname, self.opts.watch_paths, dynamic_only=audit_on), not fan_on,
                 "fanotify covers watched files")
        consider(DnsObserver(self.dns, ports=self.opts.dns_ports), True, "")
        self.report = report
        return report

    # ------------------------------------------------------------------ pipeline
    def emit(self, ev: HostEvent) -> None:
        if ev.pid == self._pid:
            return  # our own shipping connections and /proc reads are not host activity
        if not ev.event_id:
            ev.event_id = f"{self.meta['boot_id']}:{ev.source}:{self.run_id}.{next(self._seq)}"
        if not ev.host_id:
            ev.host_id, ev.hostname = self.host_id, self.hostname
        if ev.kind in ("network", "transfer") and ev.direction != "listen":
            remote = ev.dst_ip if ev.direction != "inbound" else ev.src_ip
            if remote and ev.external is None:
                ev.external = not self.cidrs.internal(remote)
            if remote and not ev.dns_name:
                ev.dns_name = self.dns.lookup(remote)  # answers seen by the dns source, for audit and sock_diag alike
        try:
            self.queue.put_nowait(ev)
        except queue.Full:
            self.dropped_queue += 1

    def _writer(self) -> None:
        while not (self._writer_stop.is_set() and self.queue.empty()):
            batch: list[bytes] = []
            try:
                batch.append(orjson.dumps(self.queue.get(timeout=0.2)))
            except queue.Empty:
                continue
            # Gather for up to 250 ms (or 2000 events): one SQLite transaction per batch keeps the cost per
            # event low at any rate, and blocking on the queue (not polling) keeps an idle agent idle.
            deadline = time.monotonic() + 0.25
            while len(batch) < 2000:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(orjson.dumps(self.queue.get(timeout=left)))
                except queue.Empty:
                    break
            try:
                self.spool.append(batch)
            except Exception as exc:  # noqa: BLE001 - a disk error must not kill the agent; count and go on
                self.dropped_queue += len(batch)
                log.error("spool append failed: %s", exc)

    def health(self) -> dict[str, Any]:
        srcs = {}
        for r in self.report:
            d: dict[str, Any] = {"active": r.active, "reason": r.reason, "detail": r.detail}
            for s in self.sources:
                if s.name == r.name:
                    d.update(asdict(s.stats))
            srcs[r.name] = d
        sp = self.spool.stats()
        return {"sources": srcs, "queue_dropped": self.dropped_queue, "spool_dropped": sp["dropped"],
                "spool_pending": sp["pending"], "spool_rejected": sp["rejected"], "uptime_s": round(time.time() - self.started, 1)}

    def status(self) -> dict[str, Any]:
        return {
            "pid": self._pid, "started": self.started, "server_url": self.opts.server_url, "host": self.meta,
            "health": self.health(), "spool": self.spool.stats(),
            "shipper": asdict(self.shipper.status) if self.shipper else None, "updated": time.time(),
            "stopped": self._stopped,
        }

    def _write_status(self) -> None:
        tmp = self.opts.status_path.with_suffix(".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(orjson.dumps(self.status(), default=str))
        os.replace(tmp, self.opts.status_path)

    def run(self, duration: float | None = None, install_signals: bool = True) -> None:
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
            signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        if not self.report:
            self.select_sources()
        threads: list[threading.Thread] = []
        writer = threading.Thread(target=self._writer, name="cw-spool-writer", daemon=True)
        writer.start()
        source_stop = threading.Event()
        for src in self.sources:
            t = threading.Thread(target=self._run_source, args=(src, source_stop), name=f"cw-src-{src.name}", daemon=True)
            t.start()
            threads.append(t)
        ship_thread = None
        if self.opts.server_url and self.opts.token:
            self.shipper = Shipper(self.spool, self.opts.server_url, self.opts.token, host_fn=lambda: self.meta,
                                   health_fn=self.health, verify=self.opts.verify)
            ship_thread = threading.Thread(target=self.shipper.run, args=(self.stop,), name="cw-shipper", daemon=True)
            ship_thread.start()
        deadline = time.monotonic() + duration if duration else None
        try:
            while not self.stop.is_set():
                self._write_status()
                if deadline and time.monotonic() >= deadline:
                    break
                self.stop.wait(1.0)
        finally:
            source_stop.set()
            for t in threads:
                t.join(timeout=5)
            for src in self.sources:
                try:
                    src.close()
                except Exception as exc:  # noqa: BLE001 - cleanup of one source must not skip the others
                    log.error("closing %s: %s", src.name, exc)
            self.stop.set()
            self._writer_stop.set()
            writer.join(timeout=30)
            if ship_thread is not None and self.shipper is not None:
                ship_thread.join(timeout=30)
                self.shipper.drain(timeout=10)
                self.shipper.close()
            self._stopped = True
            self._write_status()
            self.spool.close()

    def _run_source(self, src: Source, stop: threading.Event) -> None:
        try:
            src.run(self.emit, stop)
        except Exception as exc:  # noqa: BLE001 - a failing source degrades the agent, it does not stop it
            src.stats.errors += 1
            src.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.error("source %s stopped: %s", src.name, exc)
            for r in self.report:
                if r.name == src.name:
                    r.active, r.reason = False, f"failed: {exc}"
