"""The Linux audit subsystem: our own rules, records read from the netlink socket or auditd's log.

Mode selection: when auditd owns the audit pid we follow its log (/var/log/audit/audit.log); when
nobody does we become the audit daemon ourselves (AUDIT_SET pid on a NETLINK_AUDIT socket); when some
other process owns it we cannot read records and say so. Rules are loaded with `auditctl` under keys
that carry our pid (`cw<pid>_exec` ...) so several agents and stale rules of a dead agent can be told
apart; `close()` removes every rule we added and restores the audit status we changed.

Never blocking the host: as the audit daemon we set backlog_wait_time to 0, so when we fall behind the
kernel drops records (counted in `lost`) instead of making syscalls wait.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cloudwarden.errors import InputError
from cloudwarden.host.auditparse import Assembler, HostIdentity, parse_log_line, parse_netlink, to_host_events
from cloudwarden.host.procfs import ProcessCache, read_container_id
from cloudwarden.host.sources.base import Emit, Source

log = logging.getLogger(__name__)

NETLINK_AUDIT = 9
AUDIT_GET = 1000
AUDIT_SET = 1001
NLMSG_ERROR = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
AUDIT_STATUS_ENABLED = 0x1
AUDIT_STATUS_PID = 0x4
AUDIT_STATUS_BACKLOG_LIMIT = 0x10
AUDIT_STATUS_BACKLOG_WAIT_TIME = 0x20
_STATUS = struct.Struct("=10I")  # mask enabled failure pid rate_limit backlog_limit lost backlog feature wait_time
_NLH = struct.Struct("=IHHII")
AUDITD_LOG = Path("/var/log/audit/audit.log")
STATE_DIR = Path("/run/cloudwarden")  # tmpfs: a note about the audit status we changed, for the next agent

SENSITIVE_FILES = [
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/ld.so.preload",
    "/etc/profile", "/etc/bash.bashrc", "/etc/crontab", "/etc/environment", "/root/.bashrc", "/root/.profile",
]
SENSITIVE_DIRS = [
    "/etc/sudoers.d", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly", "/etc/cron.weekly",
    "/etc/cron.monthly", "/var/spool/cron", "/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
    "/etc/profile.d", "/root/.ssh", "/etc/init.d", "/etc/rc.local",
]


@dataclass
class AuditStatus:
    mask: int
    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    lost: int
    backlog: int
    feature: int
    wait_time: int


def _home_ssh_dirs() -> list[str]:
    out = []
    try:
        import pwd

        for pw in pwd.getpwall():
            if pw.pw_dir and pw.pw_dir not in ("/", "/nonexistent") and os.path.isdir(pw.pw_dir):
                out.append(os.path.join(pw.pw_dir, ".ssh"))
    except ImportError:
        pass
    return sorted(set(out))


def build_rules(key_prefix: str, auid: int | None = None, extra_paths: list[str] | None = None,
                network: bool = True, files: bool = True) -> list[str]:
    """auditctl rule lines (without the leading `auditctl`). `auid` limits every rule to one login uid."""
    filt = f" -F auid={auid}" if auid is not None else ""
    rules = [
        f"-a always,exit -F arch=b64 -S execve,execveat{filt} -k {key_prefix}_exec",
        f"-a always,exit -F arch=b32 -S execve{filt} -k {key_prefix}_exec",
        f"-a always,exit -F arch=b64 -S setuid,setgid,setreuid,setregid,setresuid,setresgid,capset -F success=1{filt} -k {key_prefix}_priv",
    ]
    if network:
        # a2 is the address length: 16 = sockaddr_in, 28 = sockaddr_in6; this keeps unix-socket noise out in the kernel.
        rules += [
            f"-a always,exit -F arch=b64 -S connect -F a2=16{filt} -k {key_prefix}_net",
            f"-a always,exit -F arch=b64 -S connect -F a2=28{filt} -k {key_prefix}_net",
            f"-a always,exit -F arch=b64 -S bind -F a2=16 -F success=1{filt} -k {key_prefix}_net",
            f"-a always,exit -F arch=b64 -S bind -F a2=28 -F success=1{filt} -k {key_prefix}_net",
            f"-a always,exit -F arch=b64 -S accept,accept4 -F success=1{filt} -k {key_prefix}_net",
        ]
    if files:
        paths = [p for p in SENSITIVE_FILES if os.path.exists(os.path.dirname(p))]
        dirs = [d for d in [*SENSITIVE_DIRS, *_home_ssh_dirs()] if os.path.isdir(d)]
        for p in extra_paths or []:
            (dirs if os.path.isdir(p) else paths).append(p)
        for p in paths:
            if os.path.exists(p) or os.path.isdir(os.path.dirname(p)):
                rules.append(f"-a always,exit -F arch=b64 -F path={p} -F perm=wa{filt} -k {key_prefix}_file")
        for d in dirs:
            rules.append(f"-a always,exit -F arch=b64 -F dir={d} -F perm=wa{filt} -k {key_prefix}_file")
    return list(dict.fromkeys(rules))


def _auditctl(*args: str, check: bool = True) -> str:
    exe = shutil.which("auditctl") or "/usr/sbin/auditctl"
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise OSError(f"auditctl {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def remove_rules(key_prefix: str) -> None:
    for suffix in ("exec", "priv", "net", "file"):
        _auditctl("-D", "-k", f"{key_prefix}_{suffix}", check=False)


def remove_stale_rules() -> None:
    """Rules left by agents that died (their pid is gone)."""
    try:
        listing = _auditctl("-l", check=False)
    except (OSError, subprocess.SubprocessError):
        return
    for pid in {int(m) for m in re.findall(r"key=cw(\d+)_", listing)}:
        if not Path(f"/proc/{pid}").exists():
            remove_rules(f"cw{pid}")


class AuditNetlink:
    """A NETLINK_AUDIT socket: status get/set and record reception."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
        self.sock.bind((0, 0))
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 * 1024 * 1024)  # SO_RCVBUFFORCE
        self.seq = 0

    def _request(self, mtype: int, payload: bytes) -> None:
        self.seq += 1
        self.sock.send(_NLH.pack(_NLH.size + len(payload), mtype, NLM_F_REQUEST | NLM_F_ACK, self.seq, 0) + payload)

    def _reply(self, want: int) -> bytes:
        deadline = time.monotonic() + 2.0
        self.sock.settimeout(2.0)
        try:
            while time.monotonic() < deadline:
                data = self.sock.recv(65536)
                off = 0
                while off + _NLH.size <= len(data):
                    ln, mtype, _flags, _seq, _pid = _NLH.unpack_from(data, off)
                    body = data[off + _NLH.size : off + ln]
                    off += (ln + 3) & ~3
                    if mtype == NLMSG_ERROR:
                        err = struct.unpack_from("=i", body, 0)[0]
                        if err != 0:
                            raise OSError(-err, os.strerror(-err))
                        if want == NLMSG_ERROR:
                            return b""
                    elif mtype == want:
                        return body
                    if ln == 0:
                        break
        finally:
            self.sock.settimeout(None)
        raise TimeoutError("no reply from the audit subsystem")

    def get_status(self) -> AuditStatus:
        self._request(AUDIT_GET, b"")
        body = self._reply(AUDIT_GET)
        body = body.ljust(_STATUS.size, b"\0")[: _STATUS.size]
        return AuditStatus(*_STATUS.unpack(body))

    def set_status(self, *, mask: int, enabled: int = 0, pid: int = 0, backlog_limit: int = 0, wait_time: int = 0) -> None:
        payload = _STATUS.pack(mask, enabled, 0, pid, 0, backlog_limit, 0, 0, 0, wait_time)
        self._request(AUDIT_SET, payload)
        self._reply(NLMSG_ERROR)

    def close(self) -> None:
        self.sock.close()


def audit_owner() -> tuple[int, str]:
    """(pid owning audit, its comm) — (0, '') when nobody."""
    nl = AuditNetlink()
    try:
        st = nl.get_status()
    finally:
        nl.close()
    if st.pid <= 0:
        return 0, ""
    comm = (Path(f"/proc/{st.pid}/comm").read_text().strip() if Path(f"/proc/{st.pid}/comm").exists() else "")
    return st.pid, comm


class AuditSource(Source):
    name = "audit"
    kinds = ("process", "network", "privilege", "file", "auth")

    def __init__(self, ident: HostIdentity, *, auid: int | None = None, extra_paths: list[str] | None = None,
                 cache: ProcessCache | None = None, log_path: Path = AUDITD_LOG, network: bool = True,
                 mode: str = "auto", record_path: Path | None = None, record_max_bytes: int = 512 * 1024 * 1024,
                 track_auid_writes: bool = False) -> None:
        super().__init__()
        self.record_path = record_path  # also write every record, in audit.log format, to this file
        self.record_max_bytes = record_max_bytes
        self.track_auid_writes = track_auid_writes  # with auid: every file write of that login, not only watched paths
        self._rec_fh: Any = None
        self._rec_bytes = 0
        self.max_queued = 200_000  # records between the socket drainer and the parser (~60 MB at most)
        self._overflow = 0
        self.ident = ident
        self.auid = auid
        self.extra_paths = extra_paths or []
        self.cache = cache or ProcessCache()
        self.log_path = log_path
        self.network = network
        self.mode = mode  # auto | netlink | auditd
        self.key_prefix = f"cw{os.getpid()}"
        self._nl: AuditNetlink | None = None
        self._prev: AuditStatus | None = None
        self._rules_loaded = False
        self._closed = False
        self._lock = threading.Lock()
        self.chosen = ""
        self.auth_from_audit = True  # the agent turns this off when an auth log source is active

    def probe(self) -> str | None:
        if os.geteuid() != 0:
            return "needs root"
        if not (shutil.which("auditctl") or Path("/usr/sbin/auditctl").exists()):
            return "auditctl not installed (package auditd)"
        try:
            pid, comm = audit_owner()
        except OSError as exc:
            return f"audit netlink unavailable: {exc}"
        if pid and comm == "auditd" and self.mode in ("auto", "auditd"):
            if not self.log_path.exists():
                return f"auditd runs but {self.log_path} does not exist"
            self.chosen = "auditd-log"
            return None
        if pid and pid != os.getpid():
            return f"audit is owned by another process (pid {pid}, {comm or '?'})"
        if self.mode == "auditd":
            return "auditd is not running"
        self.chosen = "netlink"
        return None

    def _load_rules(self) -> None:
        remove_stale_rules()
        rules = build_rules(self.key_prefix, self.auid, self.extra_paths, network=self.network)
        if self.track_auid_writes and self.auid is not None:
            k, a = f"{self.key_prefix}_file", self.auid
            rules += [
                f"-a always,exit -F arch=b64 -S openat -F a2&0x3 -F auid={a} -k {k}",
                f"-a always,exit -F arch=b64 -S open,creat,truncate -F auid={a} -k {k}",
                f"-a always,exit -F arch=b64 -S rename,renameat,renameat2,unlink,unlinkat,chmod,fchmodat,link,linkat,symlink,symlinkat -F success=1 -F auid={a} -k {k}",
            ]
        with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as fh:
            fh.write("\n".join(rules) + "\n")
            name = fh.name
        try:
            self._rules_loaded = True
            try:
                _auditctl("-R", name)
            except OSError as exc:
                # One bad line (a path that vanished) must not cost us all the others: load one by one.
                log.warning("audit rules as a batch failed (%s); loading one by one", exc)
                for r in rules:
                    try:
                        _auditctl(*r.split())
                    except OSError as exc2:
                        self.stats.errors += 1
                        self.stats.last_error = str(exc2)
        finally:
            os.unlink(name)

    def _emit_records(self, asm_events: list, emit: Emit) -> None:  # type: ignore[type-arg]
        for aev in asm_events:
            try:
                hevs = to_host_events(aev, self.ident)
            except (ValueError, KeyError, IndexError) as exc:
                self.stats.errors += 1
                self.stats.last_error = f"serial {aev.serial}: {exc}"
                continue
            for h in hevs:
                if h.kind == "auth" and not self.auth_from_audit:
                    continue
                self._enrich(h)
                self.stats.events += 1
                if not h.argv_complete and h.kind == "process":
                    self.stats.incomplete += 1
                emit(h)

    def _enrich(self, h: object) -> None:
        from cloudwarden.models.host_event import HostEvent

        assert isinstance(h, HostEvent)
        if h.kind == "process":
            self.cache.remember(h.pid, h.exe, h.ppid)
            self.cache.remember_cmdline(h.pid, " ".join(h.argv))
        if h.ppid > 0:
            chain = self.cache.chain(h.ppid)
            h.ancestors = chain
            h.parent_exe = chain[0] if chain else ""
            if h.kind == "process":
                h.extra["parent_cmdline"] = self.cache.cmdline(h.ppid)
        if h.pid > 0 and h.kind in ("process", "network"):
            h.container_id = read_container_id(h.pid)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        if self.chosen == "auditd-log":
            self._load_rules()
            self._follow_log(emit, stop)
        else:
            self._run_netlink(emit, stop)

    def _run_netlink(self, emit: Emit, stop: threading.Event) -> None:
        nl = AuditNetlink()
        self._nl = nl
        self._prev = self._previous_status(nl.get_status())
        nl.set_status(
            mask=AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID | AUDIT_STATUS_BACKLOG_LIMIT | AUDIT_STATUS_BACKLOG_WAIT_TIME,
            enabled=1, pid=os.getpid(), backlog_limit=max(self._prev.backlog_limit, 8192), wait_time=0,
        )
        self._load_rules()  # after we own the audit pid, so no record of ours goes to the kernel log
        self.ready.set()
        lost0 = self._prev.lost
        # A dedicated thread only drains the socket into a compact in-memory queue (a record's payload is a
        # few hundred bytes; in the socket each one costs a multi-KB skb). When the socket fills, kauditd
        # retries and then drops silently on hosts booted without audit=1, so draining fast matters more
        # than parsing fast. The queue is bounded; overflow is counted in `lost`.
        raw: queue.SimpleQueue[tuple[int, bytes] | None] = queue.SimpleQueue()
        reader = threading.Thread(target=self._drain, args=(nl, raw, stop), name="cw-audit-recv", daemon=True)
        reader.start()
        # Over netlink every syscall event ends with EOE, so time-based expiry is only a safety net: a parser
        # stalled for a moment (GIL, I/O) must not split an event whose last records are still queued.
        asm = Assembler(max_pending=4096, max_age=10.0)
        last_status = time.monotonic()
        reader_done = False
        while not reader_done:
            try:
                item = raw.get(timeout=0.5)
            except queue.Empty:
                item = (0, b"")
            else:
                if item is not None and raw.qsize() < 64:
                    # Let the rest of this event (and its neighbours) arrive: one wake-up per burst, not per record.
                    time.sleep(0.02)
            done = []
            now = time.monotonic()
            batch = 0
            while True:
                if item is None:
                    reader_done = True
                    break
                mtype, payload = item
                if payload:
                    text = payload.rstrip(b"\0").decode("utf-8", "replace")
                    rec = parse_netlink(mtype, text)
                    if rec is not None:
                        if self.record_path is not None:
                            self._record(f"type={rec.type} msg={text}\n")
                        done.extend(asm.add(rec, now))
                batch += 1
                if batch >= 2000:
                    break
                try:
                    item = raw.get_nowait()
                except queue.Empty:
                    break
            done.extend(asm.expire(now))
            if done:
                self._emit_records(done, emit)
            if now - last_status > 5:
                last_status = now
                with contextlib.suppress(OSError, TimeoutError):
                    st_nl = AuditNetlink()  # its own socket: replies must not mix with the record stream
                    try:
                        self.stats.lost = st_nl.get_status().lost - lost0 + self._overflow
                    finally:
                        st_nl.close()
        reader.join(timeout=5)
        self._emit_records(asm.flush(), emit)

    def _previous_status(self, current: AuditStatus) -> AuditStatus:
        """The status to restore on exit. A note of what we changed is kept on disk while we run, so when an
        agent was killed (it could not restore), the next one restores the status from before that agent."""
        note = STATE_DIR / "audit-before.json"
        prev = current
        try:
            data = json.loads(note.read_text())
            if not Path(f"/proc/{int(data['pid'])}").exists():
                prev = AuditStatus(**{**asdict(current), **{k: int(v) for k, v in data["status"].items()}})
        except (OSError, ValueError, KeyError, TypeError):
            pass
        try:
            STATE_DIR.mkdir(parents=True, exist_ok=True)
            note.write_text(json.dumps({"pid": os.getpid(), "status": {k: getattr(prev, k) for k in ("enabled", "backlog_limit", "wait_time")}}))
        except OSError:
            pass
        return prev

    def _drain(self, nl: AuditNetlink, raw: queue.SimpleQueue[tuple[int, bytes] | None], stop: threading.Event) -> None:
        sock = nl.sock
        sock.settimeout(0.5)
        try:
            while not stop.is_set():
                try:
                    data = sock.recv(1 << 20)
                except TimeoutError:
                    continue
                except OSError as exc:  # ENOBUFS: the socket overflowed
                    self.stats.errors += 1
                    self.stats.last_error = str(exc)
                    continue
                off = 0
                while off + _NLH.size <= len(data):
                    ln, mtype, _f, _s, _p = _NLH.unpack_from(data, off)
                    if 1100 <= mtype < 2000 or mtype == 1006:
                        # kauditd sets nlmsg_len to the payload length only (a historical quirk libaudit also
                        # works around); accept both conventions.
                        plen = ln - _NLH.size if ln >= _NLH.size and off + ln == len(data) else ln
                        if raw.qsize() < self.max_queued:
                            raw.put((mtype, data[off + _NLH.size : off + _NLH.size + plen]))
                        else:
                            self._overflow += 1
                        off += (_NLH.size + plen + 3) & ~3
                        continue
                    if ln < _NLH.size:
                        break
                    off += (ln + 3) & ~3
        finally:
            raw.put(None)

    def _follow_log(self, emit: Emit, stop: threading.Event) -> None:
        asm = Assembler(max_pending=1024, max_age=1.0)
        fh = open(self.log_path, encoding="utf-8", errors="replace")
        fh.seek(0, os.SEEK_END)
        inode = os.fstat(fh.fileno()).st_ino
        self.ready.set()
        buf = ""
        try:
            while not stop.is_set():
                chunk = fh.read(1 << 20)
                now = time.monotonic()
                if chunk:
                    buf += chunk
                    lines = buf.split("\n")
                    buf = lines.pop()
                    done = []
                    for line in lines:
                        if self.record_path is not None:
                            self._record(line + "\n")
                        try:
                            rec = parse_log_line(line)
                        except InputError:
                            self.stats.errors += 1
                            continue
                        if rec is not None:
                            done.extend(asm.add(rec, now))
                    done.extend(asm.expire(now))
                    self._emit_records(done, emit)
                    continue
                self._emit_records(asm.expire(now), emit)
                try:
                    st = os.stat(self.log_path)
                except OSError:
                    st = None
                if st is not None and st.st_ino != inode:  # rotated: finish the old file, open the new one
                    fh.close()
                    fh = open(self.log_path, encoding="utf-8", errors="replace")
                    inode = os.fstat(fh.fileno()).st_ino
                    continue
                stop.wait(0.2)
        finally:
            fh.close()
        self._emit_records(asm.flush(), emit)

    def _record(self, line: str) -> None:
        if self._rec_fh is None:
            if self._rec_bytes >= self.record_max_bytes or self.record_path is None:
                return
            self._rec_fh = open(self.record_path, "a", encoding="utf-8")
        self._rec_fh.write(line)
        self._rec_bytes += len(line)
        if self._rec_bytes >= self.record_max_bytes:
            self._rec_fh.close()
            self._rec_fh = None

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._rec_fh is not None:
            self._rec_fh.close()
            self._rec_fh = None
        if self._rules_loaded:
            remove_rules(self.key_prefix)
        if self._nl is not None:
            prev = self._prev
            with contextlib.suppress(OSError, TimeoutError):
                self._nl.set_status(
                    mask=AUDIT_STATUS_ENABLED | AUDIT_STATUS_PID | AUDIT_STATUS_BACKLOG_LIMIT | AUDIT_STATUS_BACKLOG_WAIT_TIME,
                    enabled=prev.enabled if prev else 0, pid=0,
                    backlog_limit=prev.backlog_limit if prev else 64,
                    wait_time=prev.wait_time if prev else 15000,
                )
            self._nl.close()
            self._nl = None
            with contextlib.suppress(OSError):
                (STATE_DIR / "audit-before.json").unlink()
