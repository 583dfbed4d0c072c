"""sock_diag (NETLINK_SOCK_DIAG / inet_diag): listening sockets, connections, per-connection byte counters.

Polled every few seconds. Each poll dumps TCP sockets (IPv4 and IPv6) with INET_DIAG_INFO, whose
tcp_info carries tcpi_bytes_acked (sent) and tcpi_bytes_received; sockets are tied to processes through
a socket inode -> pid map built from /proc/*/fd. Emits:
- `network/listen` the first time a listening socket is seen (and for all at start);
- `network/connect|accept` for new established connections when audit does not already report them;
- `transfer/bytes` per process and remote address at the end of each window, with internal/external
  decided by the configured CIDRs.
Connections that open and close between two polls are not seen here (audit sees them).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from cloudwarden.host.auditparse import uid_name
from cloudwarden.host.procfs import read_proc
from cloudwarden.host.sources.base import Emit, Source
from cloudwarden.models.host_event import HostEvent

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLM_F_DUMP = 0x300
NLMSG_DONE = 3
NLMSG_ERROR = 2
INET_DIAG_INFO = 2
TCP_ESTABLISHED = 1
TCP_LISTEN = 10
_NLH = struct.Struct("=IHHII")
_REQ = struct.Struct("=BBBxI")  # family protocol ext pad states
_SOCKID = struct.Struct(">HH16s16sI8s")  # sport dport src dst if cookie (ports/addrs big-endian)
_MSG = struct.Struct("=BBBB")
_TAIL = struct.Struct("=IIIII")  # expires rqueue wqueue uid inode
TCPI_BYTES_ACKED = 120
TCPI_BYTES_RECEIVED = 128


@dataclass(slots=True)
class SockRow:
    family: int
    state: int
    src: str
    sport: int
    dst: str
    dport: int
    uid: int
    inode: int
    cookie: bytes
    bytes_acked: int = 0
    bytes_received: int = 0


def _addr(family: int, raw: bytes) -> str:
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    ip = ipaddress.IPv6Address(raw)
    return str(ip.ipv4_mapped) if ip.ipv4_mapped else str(ip)


def dump_tcp(family: int, states: int = 0xFFFFFFFF) -> list[SockRow]:
    """One inet_diag dump of TCP sockets of a family, with tcp_info byte counters."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    try:
        s.settimeout(2.0)
        req = _REQ.pack(family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), states) + b"\0" * _SOCKID.size
        s.send(_NLH.pack(_NLH.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req)
        out: list[SockRow] = []
        while True:
            data = s.recv(1 << 20)
            off = 0
            while off + _NLH.size <= len(data):
                ln, mtype, _f, _seq, _pid = _NLH.unpack_from(data, off)
                if ln < _NLH.size:
                    return out
                if mtype == NLMSG_DONE:
                    return out
                if mtype == NLMSG_ERROR:
                    err = struct.unpack_from("=i", data, off + _NLH.size)[0]
                    raise OSError(-err, os.strerror(-err))
                body = data[off + _NLH.size : off + ln]
                off += (ln + 3) & ~3
                fam, state, _t, _r = _MSG.unpack_from(body, 0)
                sport, dport, src, dst, _if, cookie = _SOCKID.unpack_from(body, 4)
                _exp, _rq, _wq, uid, inode = _TAIL.unpack_from(body, 4 + _SOCKID.size)
                row = SockRow(fam, state, _addr(fam, src[:4] if fam == socket.AF_INET else src), sport,
                              _addr(fam, dst[:4] if fam == socket.AF_INET else dst), dport, uid, inode, cookie)
                aoff = 4 + _SOCKID.size + _TAIL.size
                while aoff + 4 <= len(body):
                    alen, atype = struct.unpack_from("=HH", body, aoff)
                    if alen < 4:
                        break
                    if atype == INET_DIAG_INFO and alen - 4 >= TCPI_BYTES_RECEIVED + 8:
                        row.bytes_acked, row.bytes_received = struct.unpack_from("=QQ", body, aoff + 4 + TCPI_BYTES_ACKED)
                    aoff += (alen + 3) & ~3
                out.append(row)
    finally:
        s.close()


def inode_pid_map(wanted: set[int] | None = None) -> dict[int, int]:
    """socket inode -> pid, from /proc/*/fd symlinks ("socket:[12345]")."""
    out: dict[int, int] = {}
    for pid_s in os.listdir("/proc"):
        if not pid_s.isdigit():
            continue
        fd_dir = f"/proc/{pid_s}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                ino = int(target[8:-1])
                if wanted is None or ino in wanted:
                    out.setdefault(ino, int(pid_s))
        if wanted is not None and len(out) >= len(wanted):
            break
    return out


class CidrSet:
    def __init__(self, cidrs: Iterable[str]) -> None:
        self.nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]

    def internal(self, ip: str) -> bool:
        try:
            a = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if a.is_loopback or a.is_link_local:
            return True
        return any(a in n for n in self.nets if n.version == a.version)


class SockDiagSource(Source):
    name = "sock_diag"
    kinds = ("network", "transfer")

    def __init__(self, host_id: str, hostname: str, *, internal_cidrs: Iterable[str], interval: float = 5.0,
                 window: float = 60.0, report_connections: bool = True, uid_filter: int | None = None) -> None:
        super().__init__()
        self.host_id = host_id
        self.hostname = hostname
        self.cidrs = CidrSet(internal_cidrs)
        self.interval = interval
        self.window = window
        self.report_connections = report_connections
        self.uid_filter = uid_filter
        self._listening: set[tuple[str, int]] = set()
        self._conns: dict[bytes, tuple[int, int]] = {}  # cookie -> (acked, received) at last poll
        self._pid_of: dict[int, int] = {}
        self._agg: dict[tuple[int, str, int], list[int]] = {}  # (pid, remote ip, remote port) -> [in, out]
        self._window_start = time.time()
        self._first = True

    def probe(self) -> str | None:
        try:
            dump_tcp(socket.AF_INET, 1 << TCP_LISTEN)
        except OSError as exc:
            return f"sock_diag unavailable: {exc}"
        return None

    def _event(self, kind: str, action: str, row: SockRow, pid: int) -> HostEvent:
        info = read_proc(pid) if pid else None
        return HostEvent(
            event_id="", host_id=self.host_id, hostname=self.hostname, time=time.time(), kind=kind, action=action,
            source=self.name, pid=pid, ppid=info.ppid if info else 0, uid=row.uid, euid=info.euid if info else -1,
            auid=info.auid if info else -1, session_id=info.session_id if info else -1, user=uid_name(row.uid),
            exe=info.exe if info else "", argv=info.argv if info else [], argv_complete=bool(info and info.complete),
            container_id=info.container_id if info else "", protocol="tcp",
        )

    def poll(self, emit: Emit) -> None:
        rows: list[SockRow] = []
        for fam in (socket.AF_INET, socket.AF_INET6):
            try:
                rows.extend(dump_tcp(fam))
            except OSError as exc:
                self.stats.errors += 1
                self.stats.last_error = str(exc)
        if self.uid_filter is not None:
            rows = [r for r in rows if r.uid == self.uid_filter]
        unknown = {r.inode for r in rows if r.inode and r.inode not in self._pid_of}
        if unknown:
            self._pid_of.update(inode_pid_map(unknown))
        live_inodes = {r.inode for r in rows}
        for ino in [i for i in self._pid_of if i not in live_inodes]:
            del self._pid_of[ino]
        listen_ports = {r.sport for r in rows if r.state == TCP_LISTEN}
        # Bounded: forget listeners that are gone (a later re-listen is reported again).
        self._listening &= {(r.src, r.sport) for r in rows if r.state == TCP_LISTEN}
        seen: set[bytes] = set()
        for r in rows:
            pid = self._pid_of.get(r.inode, 0)
            if r.state == TCP_LISTEN:
                key = (r.src, r.sport)
                if key not in self._listening:
                    self._listening.add(key)
                    ev = self._event("network", "listen", r, pid)
                    ev.direction, ev.src_ip, ev.src_port = "listen", r.src, r.sport
                    ev.external = not self.cidrs.internal(r.src) if r.src not in ("0.0.0.0", "::") else None  # noqa: S104
                    self.stats.events += 1
                    emit(ev)
                continue
            if r.state != TCP_ESTABLISHED:
                continue
            seen.add(r.cookie)
            prev = self._conns.get(r.cookie)
            inbound = r.sport in listen_ports
            remote_ip, remote_port = r.dst, r.dport
            if prev is None:
                prev = (0, 0) if not self._first else (r.bytes_acked, r.bytes_received)
                if self.report_connections and not self._first:
                    ev = self._event("network", "accept" if inbound else "connect", r, pid)
                    ev.direction = "inbound" if inbound else "outbound"
                    ev.src_ip, ev.src_port, ev.dst_ip, ev.dst_port = r.src, r.sport, r.dst, r.dport
                    if inbound:
                        ev.src_ip, ev.src_port, ev.dst_ip, ev.dst_port = r.dst, r.dport, r.src, r.sport
                    ev.external = not self.cidrs.internal(remote_ip)
                    self.stats.events += 1
                    emit(ev)
            d_out = max(0, r.bytes_acked - prev[0])
            d_in = max(0, r.bytes_received - prev[1])
            self._conns[r.cookie] = (r.bytes_acked, r.bytes_received)
            if d_in or d_out:
                agg = self._agg.setdefault((pid, remote_ip, 0 if inbound else remote_port), [0, 0])
                agg[0] += d_in
                agg[1] += d_out
        for c in [c for c in self._conns if c not in seen]:
            del self._conns[c]
        self._first = False
        if len(self._agg) > 50000:  # bounded: flush early rather than grow
            self.flush_window(emit)

    def flush_window(self, emit: Emit) -> None:
        now = time.time()
        for (pid, ip, port), (b_in, b_out) in self._agg.items():
            info = read_proc(pid) if pid else None
            ev = HostEvent(
                event_id="", host_id=self.host_id, hostname=self.hostname, time=now, kind="transfer", action="bytes",
                source=self.name, pid=pid, ppid=info.ppid if info else 0, uid=info.uid if info else -1,
                auid=info.auid if info else -1, session_id=info.session_id if info else -1,
                user=uid_name(info.uid) if info else "", exe=info.exe if info else "",
                argv=info.argv if info else [], argv_complete=bool(info and info.complete),
                dst_ip=ip, dst_port=port, protocol="tcp", bytes_in=b_in, bytes_out=b_out,
                external=not self.cidrs.internal(ip),
                extra={"window_start": f"{self._window_start:.3f}", "window_s": f"{now - self._window_start:.1f}"},
            )
            self.stats.events += 1
            emit(ev)
        self._agg.clear()
        self._window_start = now

    def run(self, emit: Emit, stop: threading.Event) -> None:
        next_flush = time.monotonic() + self.window
        while not stop.is_set():
            self.poll(emit)
            self.ready.set()
            if time.monotonic() >= next_flush:
                self.flush_window(emit)
                next_flush = time.monotonic() + self.window
            stop.wait(self.interval)
        self.poll(emit)
        self.flush_window(emit)
