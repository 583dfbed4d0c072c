"""Logins and privilege changes from /var/log/auth.log or /var/log/secure, and wtmp/btmp records.

`parse_auth_line` is pure (sshd Accepted/Failed/Invalid user, session opened/closed, sudo, su); the
source tails the files from their end, following rotation. `parse_utmp` reads wtmp/btmp records.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import time
from datetime import datetime
from pathlib import Path

from cloudwarden.host.sources.base import Emit, Source
from cloudwarden.models.host_event import HostEvent

_SYSLOG = re.compile(
    r"^(?:(?P<iso>\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?)|(?P<bsd>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d))\s+"
    r"(?P<host>\S+)\s+(?P<prog>[\w\-./]+)(?:\[(?P<pid>\d+)\])?:\s+(?P<msg>.*)$"
)
_ACCEPTED = re.compile(r"^Accepted (?P<method>\S+) for (?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)(?: ssh2)?(?:: (?P<keytype>\S+) (?P<fp>\S+))?")
_FAILED = re.compile(r"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<user>\S*) from (?P<ip>\S+) port (?P<port>\d+)")
_INVALID = re.compile(r"^Invalid user (?P<user>\S*) from (?P<ip>\S+)(?: port (?P<port>\d+))?")
_SESSION = re.compile(r"^pam_unix\((?P<svc>[\w\-]+):session\): session (?P<what>opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?(?: by (?P<by>[^\s(]*))?")
_START = re.compile(r"^Starting session: (?P<what>\S+)(?: on (?P<tty>\S+))? for (?P<user>\S+) from (?P<ip>\S+) port (?P<port>\d+)")
_DISCONNECTED = re.compile(r"^Disconnected from user (?P<user>\S+) (?P<ip>\S+) port (?P<port>\d+)")
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?P<rest>.*)$")
_SU = re.compile(r"^(?P<failed>FAILED SU )?\(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)")
MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}


def _time(iso: str | None, bsd: str | None, now: float) -> float:
    if iso:
        try:
            return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return now
    if bsd:
        try:
            mon, day, hms = bsd.split()
            h, m, s = (int(x) for x in hms.split(":"))
            year = datetime.fromtimestamp(now).year
            t = datetime(year, MONTHS[mon], int(day), h, m, s).timestamp()
            return t - 366 * 86400 if t > now + 86400 else t  # December lines read in January
        except (KeyError, ValueError):
            return now
    return now


def parse_auth_line(line: str, host_id: str = "", hostname: str = "", now: float | None = None) -> HostEvent | None:
    """One syslog line -> an auth or privilege HostEvent, or None when it is not one we interpret."""
    now = time.time() if now is None else now
    m = _SYSLOG.match(line.rstrip("\n"))
    if m:
        prog = m.group("prog").rsplit("/", 1)[-1]
        msg = m.group("msg")
        pid = int(m.group("pid") or 0)
        when = _time(m.group("iso"), m.group("bsd"), now)
        host = hostname or m.group("host")
    else:
        # sshd -E FILE writes bare messages (no syslog header): interpret them as sshd's, timed on arrival.
        prog, msg, pid, when, host = "sshd", line.rstrip("\n").rstrip("\r"), 0, now, hostname

    def ev(kind: str, action: str) -> HostEvent:
        return HostEvent(event_id="", host_id=host_id, hostname=host, time=when, kind=kind, action=action,
                         source="authlog", pid=pid, exe=prog)

    if prog == "sshd":
        if a := _ACCEPTED.match(msg):
            e = ev("auth", "login_success")
            e.user = e.target_user = a.group("user")
            e.src_ip, e.src_port = a.group("ip"), int(a.group("port"))
            e.auth_method, e.success = a.group("method"), True
            if a.group("fp"):
                e.key_fingerprint = a.group("fp")
                e.extra["key_type"] = a.group("keytype") or ""
            return e
        if a := _FAILED.match(msg):
            e = ev("auth", "login_failure")
            e.user = e.target_user = a.group("user")
            e.src_ip, e.src_port = a.group("ip"), int(a.group("port"))
            e.auth_method, e.success = a.group("method"), False
            if a.group("invalid"):
                e.extra["invalid_user"] = "1"
            return e
        if a := _INVALID.match(msg):
            e = ev("auth", "login_failure")
            e.user = e.target_user = a.group("user")
            e.src_ip, e.src_port = a.group("ip"), int(a.group("port") or 0)
            e.success = False
            e.extra["invalid_user"] = "1"
            return e
        if a := _START.match(msg):
            e = ev("auth", "session_open")
            e.user = e.target_user = a.group("user")
            e.src_ip, e.src_port, e.success = a.group("ip"), int(a.group("port")), True
            e.extra["tty"] = a.group("tty") or ""
            return e
        if a := _DISCONNECTED.match(msg):
            e = ev("auth", "session_close")
            e.user = e.target_user = a.group("user")
            e.src_ip, e.src_port, e.success = a.group("ip"), int(a.group("port")), True
            return e
        if (a := _SESSION.match(msg)) and a.group("svc") == "sshd":
            e = ev("auth", "session_open" if a.group("what") == "opened" else "session_close")
            e.user = e.target_user = a.group("user")
            e.success = True
            return e
        return None
    if prog == "sudo" and (a := _SUDO.match(msg)):
        parts = dict(p.strip().split("=", 1) for p in a.group("rest").split(" ; ") if "=" in p)
        if "COMMAND" not in parts:
            return None
        e = ev("privilege", "sudo")
        e.user = a.group("user")
        e.target_user = parts.get("USER", "root")
        e.cwd = parts.get("PWD", "")
        e.argv = parts["COMMAND"].split(" ")
        e.argv_complete = False
        head = a.group("rest").split(" ; ")[0]
        if "TTY=" not in head:  # "command not allowed ; TTY=..." / "3 incorrect password attempts ; ..."
            e.extra["failed"] = "1"
            e.extra["reason"] = head[:200]
        e.extra["tty"] = parts.get("TTY", "")
        return e
    if prog == "su" and (a := _SU.match(msg)):
        e = ev("privilege", "su")
        e.user, e.target_user = a.group("user"), a.group("target")
        e.extra["tty"] = a.group("tty")
        if a.group("failed"):
            e.extra["failed"] = "1"
        return e
    return None


# ------------------------------------------------------------------------------------------------ utmp

_UTMP = struct.Struct("=hxxi32s4s32s256shhiii16s20s")  # 384 bytes (x86_64/aarch64 glibc layout)
USER_PROCESS = 7
DEAD_PROCESS = 8


def parse_utmp(data: bytes) -> list[dict[str, object]]:
    out = []
    for off in range(0, len(data) - _UTMP.size + 1, _UTMP.size):
        t, pid, line, _id, user, host, _e1, _e2, _sess, sec, usec, _addr, _u = _UTMP.unpack_from(data, off)
        out.append({
            "type": t, "pid": pid, "line": line.split(b"\0", 1)[0].decode("utf-8", "replace"),
            "user": user.split(b"\0", 1)[0].decode("utf-8", "replace"),
            "host": host.split(b"\0", 1)[0].decode("utf-8", "replace"), "time": sec + usec / 1e6,
        })
    return out


class AuthLogSource(Source):
    name = "authlog"
    kinds = ("auth", "privilege")

    def __init__(self, host_id: str, hostname: str, paths: list[str], *, from_start: bool = False,
                 wtmp: bool = True, wtmp_paths: tuple[str, str] = ("/var/log/wtmp", "/var/log/btmp")) -> None:
        super().__init__()
        self.host_id = host_id
        self.hostname = hostname
        self.paths = [Path(p) for p in paths]
        self.from_start = from_start
        self.wtmp = wtmp
        self.wtmp_paths = wtmp_paths
        self._files: dict[Path, tuple[int, int]] = {}  # path -> (inode, offset)
        self._utmp_off: dict[str, int] = {}

    @property
    def has_log(self) -> bool:
        return any(p.exists() for p in self.paths)

    def probe(self) -> str | None:
        if self.has_log:
            return None
        if self.wtmp and any(os.path.exists(p) for p in self.wtmp_paths):
            return None
        return f"no auth log ({', '.join(map(str, self.paths))} absent; is a syslog daemon running?) and no wtmp"

    def _open_positions(self) -> None:
        for p in self.paths:
            try:
                st = p.stat()
            except OSError:
                continue
            self._files[p] = (st.st_ino, 0 if self.from_start else st.st_size)
        for wp in self.wtmp_paths:
            try:
                self._utmp_off[wp] = 0 if self.from_start else os.path.getsize(wp)
            except OSError:
                self._utmp_off[wp] = 0

    def poll(self, emit: Emit) -> None:
        for p in self.paths:
            try:
                st = p.stat()
            except OSError:
                continue
            ino, off = self._files.get(p, (st.st_ino, 0))
            if st.st_ino != ino or st.st_size < off:  # rotated or truncated
                off = 0
            if st.st_size == off:
                self._files[p] = (st.st_ino, off)
                continue
            with open(p, "rb") as fh:
                fh.seek(off)
                data = fh.read(min(st.st_size - off, 4 << 20))
            cut = data.rfind(b"\n") + 1
            self._files[p] = (st.st_ino, off + cut)
            for line in data[:cut].decode("utf-8", "replace").splitlines():
                e = parse_auth_line(line, self.host_id, self.hostname)
                if e is not None:
                    self.stats.events += 1
                    emit(e)
        if self.wtmp:
            self._poll_utmp(emit)

    def _poll_utmp(self, emit: Emit) -> None:
        for p in self.wtmp_paths:
            try:
                size = os.path.getsize(p)
            except OSError:
                continue
            off = self._utmp_off.get(p, size)
            if size < off:
                off = 0
            if size - off < _UTMP.size:
                continue
            with open(p, "rb") as fh:
                fh.seek(off)
                data = fh.read(min(size - off, 1 << 20))
            used = len(data) - len(data) % _UTMP.size
            self._utmp_off[p] = off + used
            for r in parse_utmp(data[:used]):
                is_btmp = p.endswith("btmp")
                if is_btmp:
                    action = "login_failure"
                elif r["type"] == USER_PROCESS:
                    action = "session_open"
                elif r["type"] == DEAD_PROCESS:
                    action = "session_close"
                else:
                    continue
                e = HostEvent(event_id="", host_id=self.host_id, hostname=self.hostname, time=float(r["time"]),  # type: ignore[arg-type]
                              kind="auth", action=action, source="wtmp", pid=int(r["pid"]),  # type: ignore[call-overload]
                              user=str(r["user"]), target_user=str(r["user"]), src_ip=str(r["host"]),
                              success=not is_btmp, extra={"tty": str(r["line"])})
                self.stats.events += 1
                emit(e)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        self._open_positions()
        self.ready.set()
        while not stop.is_set():
            self.poll(emit)
            stop.wait(0.5)
        self.poll(emit)
