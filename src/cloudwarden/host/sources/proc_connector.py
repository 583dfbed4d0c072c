"""The netlink process connector: kernel FORK/EXEC/UID/GID/EXIT notifications, enriched from /proc.

Events carry only pids, so argv/exe are read from /proc after the fact; a process that already exited
yields an exec event with what could be read (often only the comm) and `argv_complete=False` — marked,
never dropped.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable

from cloudwarden.host.auditparse import uid_name
from cloudwarden.host.procfs import ProcessCache, read_proc
from cloudwarden.host.sources.base import Emit, Source
from cloudwarden.models.host_event import HostEvent

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2
NLMSG_DONE = 3
PROC_EVENT_FORK = 0x1
PROC_EVENT_EXEC = 0x2
PROC_EVENT_UID = 0x4
PROC_EVENT_GID = 0x40
PROC_EVENT_COMM = 0x200
PROC_EVENT_EXIT = 0x80000000
_NLH = struct.Struct("=IHHII")
_CN = struct.Struct("=IIIIHH")
_EV = struct.Struct("=IIQ")


class ProcConnectorSource(Source):
    name = "proc_connector"
    kinds = ("process", "privilege")

    def __init__(self, host_id: str, hostname: str, *, cache: ProcessCache | None = None,
                 pid_filter: Callable[[int], bool] | None = None, privilege: bool = True) -> None:
        super().__init__()
        self.host_id = host_id
        self.hostname = hostname
        self.cache = cache or ProcessCache()
        self.pid_filter = pid_filter
        self.privilege = privilege
        self._sock: socket.socket | None = None
        self._comm: dict[int, str] = {}

    def probe(self) -> str | None:
        if os.geteuid() != 0:
            return "needs root (CAP_NET_ADMIN)"
        try:
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
            s.bind((0, CN_IDX_PROC))
            s.close()
        except OSError as exc:
            return f"netlink connector unavailable: {exc}"
        return None

    def _listen(self, sock: socket.socket, op: int) -> None:
        payload = struct.pack("=I", op)
        cn = _CN.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
        sock.send(_NLH.pack(_NLH.size + len(cn), NLMSG_DONE, 0, 0, os.getpid()) + cn)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        try:
            sock.setsockopt(socket.SOL_SOCKET, 33, 8 * 1024 * 1024)  # SO_RCVBUFFORCE
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        sock.bind((0, CN_IDX_PROC))
        self._sock = sock
        self._listen(sock, PROC_CN_MCAST_LISTEN)
        sock.settimeout(0.5)
        self.ready.set()
        try:
            while not stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError as exc:  # ENOBUFS: we fell behind and the kernel dropped notifications
                    self.stats.lost += 1
                    self.stats.last_error = str(exc)
                    continue
                self._handle(data, emit)
        finally:
            try:
                self._listen(sock, PROC_CN_MCAST_IGNORE)
            except OSError:
                pass
            sock.close()
            self._sock = None

    def _handle(self, data: bytes, emit: Emit) -> None:
        off = 0
        while off + _NLH.size <= len(data):
            ln = _NLH.unpack_from(data, off)[0]
            if ln < _NLH.size:
                return
            body = data[off + _NLH.size : off + ln]
            off += (ln + 3) & ~3
            if len(body) < _CN.size + _EV.size:
                continue
            what, _cpu, _ts = _EV.unpack_from(body, _CN.size)
            d = body[_CN.size + _EV.size :]
            if what == PROC_EVENT_EXEC:
                _pid, tgid = struct.unpack_from("=II", d, 0)
                self._exec(tgid, emit)
            elif what == PROC_EVENT_UID and self.privilege:
                _pid, tgid, ruid, euid = struct.unpack_from("=IIII", d, 0)
                self._uid(tgid, ruid, euid, emit)
            elif what == PROC_EVENT_FORK:
                ppid, _ptgid, _cpid, ctgid = struct.unpack_from("=IIII", d, 0)
                if ctgid != _cpid:
                    continue  # a thread, not a process
                hit = self.cache.lookup(ppid)
                if hit is not None:
                    self.cache.remember(ctgid, hit[0], ppid, hit[2])
                    self.cache.remember_cmdline(ctgid, self.cache.cmdline(ppid))
            elif what == PROC_EVENT_COMM:
                _pid, tgid = struct.unpack_from("=II", d, 0)
                self._comm[tgid] = d[8:24].split(b"\0", 1)[0].decode("utf-8", "replace")
                if len(self._comm) > 4096:
                    self._comm.pop(next(iter(self._comm)))
            elif what == PROC_EVENT_EXIT:
                _pid, tgid = struct.unpack_from("=II", d, 0)
                self._comm.pop(tgid, None)

    def _exec(self, pid: int, emit: Emit) -> None:
        if self.pid_filter is not None and not self.pid_filter(pid):
            return
        info = read_proc(pid)
        if not info.exe and not info.argv:
            comm = info.comm or self._comm.get(pid, "")
            info.argv = [comm] if comm else []
        self.cache.remember(pid, info.exe or info.comm, info.ppid, info.sid)
        parent_cmd = self.cache.cmdline(info.ppid) if info.ppid else ""
        if info.argv:
            self.cache.remember_cmdline(pid, " ".join(info.argv))
        chain = self.cache.chain(info.ppid) if info.ppid else []
        ev = HostEvent(
            event_id="", host_id=self.host_id, hostname=self.hostname, time=time.time(), kind="process",
            action="exec", source=self.name, pid=pid, ppid=info.ppid, uid=info.uid, euid=info.euid, gid=info.gid,
            auid=info.auid, session_id=info.session_id, user=uid_name(info.uid), exe=info.exe, argv=info.argv,
            argv_complete=info.complete, cwd=info.cwd, parent_exe=chain[0] if chain else "", ancestors=chain,
            container_id=info.container_id, extra={"parent_cmdline": parent_cmd} if parent_cmd else {},
        )
        if not info.complete:
            self.stats.incomplete += 1
            ev.extra["comm"] = info.comm or self._comm.get(pid, "")
        self.stats.events += 1
        emit(ev)

    def _uid(self, pid: int, ruid: int, euid: int, emit: Emit) -> None:
        if self.pid_filter is not None and not self.pid_filter(pid):
            return
        info = read_proc(pid)
        hit = self.cache.lookup(pid)
        ev = HostEvent(
            event_id="", host_id=self.host_id, hostname=self.hostname, time=time.time(), kind="privilege",
            action="setuid", source=self.name, pid=pid, ppid=info.ppid, uid=ruid, euid=euid, auid=info.auid,
            session_id=info.session_id, user=uid_name(info.auid) if info.auid >= 0 else "",
            exe=info.exe or (hit[0] if hit else ""), argv=info.argv, argv_complete=info.complete,
            target_user=uid_name(euid) or str(euid), container_id=info.container_id,
        )
        self.stats.events += 1
        emit(ev)
