"""Linux audit records -> assembled events -> HostEvents. Pure: no I/O.

The kernel writes one logical event as several records sharing a serial number (SYSCALL, EXECVE, CWD,
PATH, SOCKADDR, PROCTITLE, then EOE over netlink). `Assembler` groups records by serial with a bounded
number of pending events, and `to_host_events` turns an assembled event into zero or more HostEvents.
The same code serves the live netlink source, the auditd log follower and offline replay (raw
audit.log or Laurel JSON lines).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from cloudwarden.errors import InputError
from cloudwarden.models.host_event import HostEvent

# Record type numbers (linux/audit.h) for the netlink source, which gets numbers instead of names.
RECORD_TYPES: dict[int, str] = {
    1006: "LOGIN", 1100: "USER_AUTH", 1101: "USER_ACCT", 1102: "USER_MGMT", 1103: "CRED_ACQ",
    1104: "CRED_DISP", 1105: "USER_START", 1106: "USER_END", 1109: "USER_ERR", 1110: "CRED_REFR",
    1112: "USER_LOGIN", 1113: "USER_LOGOUT", 1114: "ADD_USER", 1115: "DEL_USER", 1116: "ADD_GROUP",
    1117: "DEL_GROUP", 1123: "USER_CMD", 1125: "CHUSER_ID", 1300: "SYSCALL", 1302: "PATH",
    1305: "CONFIG_CHANGE", 1306: "SOCKADDR", 1307: "CWD", 1309: "EXECVE", 1320: "EOE",
    1321: "BPRM_FCAPS", 1322: "CAPSET", 1327: "PROCTITLE", 1330: "KERN_MODULE",
}

# Syscall numbers we interpret, per audit arch. x86_64 = c000003e, aarch64 = c00000b7.
_X86_64 = {
    59: "execve", 322: "execveat", 42: "connect", 43: "accept", 288: "accept4", 49: "bind", 50: "listen",
    105: "setuid", 106: "setgid", 113: "setreuid", 114: "setregid", 117: "setresuid", 119: "setresgid",
    122: "setfsuid", 123: "setfsgid", 126: "capset", 2: "open", 257: "openat", 437: "openat2", 85: "creat",
    82: "rename", 264: "renameat", 316: "renameat2", 87: "unlink", 263: "unlinkat", 90: "chmod",
    91: "fchmod", 268: "fchmodat", 452: "fchmodat2", 76: "truncate", 77: "ftruncate", 86: "link",
    265: "linkat", 88: "symlink", 266: "symlinkat", 83: "mkdir", 258: "mkdirat", 84: "rmdir",
    92: "chown", 93: "fchown", 94: "lchown", 260: "fchownat", 165: "mount", 308: "setns", 272: "unshare",
    101: "ptrace", 175: "init_module", 313: "finit_module",
}
_AARCH64 = {
    221: "execve", 281: "execveat", 203: "connect", 202: "accept", 242: "accept4", 200: "bind", 201: "listen",
    146: "setuid", 144: "setgid", 145: "setreuid", 143: "setregid", 147: "setresuid", 149: "setresgid",
    151: "setfsuid", 152: "setfsgid", 91: "capset", 56: "openat", 437: "openat2", 38: "renameat",
    276: "renameat2", 35: "unlinkat", 53: "fchmodat", 452: "fchmodat2", 52: "fchmod", 45: "truncate",
    46: "ftruncate", 37: "linkat", 36: "symlinkat", 34: "mkdirat", 54: "fchownat", 55: "fchown",
    40: "mount", 268: "setns", 97: "unshare", 117: "ptrace", 105: "init_module", 273: "finit_module",
}
SYSCALLS_BY_ARCH = {"c000003e": _X86_64, "c00000b7": _AARCH64}

EXEC_CALLS = {"execve", "execveat"}
NET_CALLS = {"connect": "connect", "accept": "accept", "accept4": "accept", "bind": "listen", "listen": "listen"}
PRIV_CALLS = {
    "setuid": "setuid", "setreuid": "setuid", "setresuid": "setuid", "setfsuid": "setuid",
    "setgid": "setgid", "setregid": "setgid", "setresgid": "setgid", "setfsgid": "setgid", "capset": "capset",
}
FILE_CALLS = {
    "open": "write", "openat": "write", "openat2": "write", "creat": "create", "truncate": "write",
    "ftruncate": "write", "rename": "rename", "renameat": "rename", "renameat2": "rename", "unlink": "delete",
    "unlinkat": "delete", "rmdir": "delete", "chmod": "chmod", "fchmod": "chmod", "fchmodat": "chmod",
    "fchmodat2": "chmod", "link": "create", "linkat": "create", "symlink": "create", "symlinkat": "create",
    "mkdir": "create", "mkdirat": "create", "chown": "chmod", "fchown": "chmod", "lchown": "chmod",
    "fchownat": "chmod",
}

_HEADER = re.compile(r"^(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):\s?(.*)$", re.S)
_NL_HEADER = re.compile(r"^audit\((\d+)\.(\d+):(\d+)\):\s?(.*)$", re.S)
_FIELD = re.compile(r"([A-Za-z_][\w\-\[\]]*)=(\"[^\"]*\"|'[^']*'|\S*)")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
MAX_RECORDS_PER_EVENT = 512  # a huge EXECVE is split across records; beyond this we truncate
MAX_ARGV = 256
MAX_ARG_CHARS = 4096


@dataclass(slots=True)
class Record:
    type: str
    time: float
    serial: int
    fields: dict[str, str]
    node: str = ""


@dataclass(slots=True)
class AuditEvent:
    """All records of one serial, in arrival order."""

    serial: int
    time: float
    records: list[Record] = field(default_factory=list)

    def first(self, rtype: str) -> Record | None:
        for r in self.records:
            if r.type == rtype:
                return r
        return None

    def all(self, rtype: str) -> list[Record]:
        return [r for r in self.records if r.type == rtype]


_UNTRUSTED = {"comm", "exe", "name", "cwd", "proctitle", "cmd", "acct", "path", "old", "new", "ocomm", "data", "hostname", "terminal"}
_ARG = re.compile(r"^a\d+$")


def _unhex(value: str) -> str:
    if value == "(null)":
        return ""
    if len(value) % 2 == 0 and _HEX.match(value):
        return bytes.fromhex(value).decode("utf-8", "backslashreplace")
    return value


def parse_fields(body: str) -> dict[str, str]:
    """key=value pairs, values final: quotes stripped, hex-encoded untrusted strings decoded.

    The kernel quotes an untrusted string (comm, exe, path names, argv) when it is safe and hex-encodes
    it otherwise; numbers such as SYSCALL's a0..a3 are plain hex and must stay as they are. Long EXECVE
    arguments arrive as a<N>[i] hex chunks and are left for `execve_argv` to join and decode.
    User-space records nest their own key=values in msg='...'; those are flattened in.
    """
    out: dict[str, str] = {}
    body = body.replace("\x1d", " ")  # ENRICHED log format appends translated fields after GS
    pairs = _FIELD.findall(body)
    is_execve = any(k == "argc" for k, _ in pairs)
    for key, raw in pairs:
        if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
            for k2, v2 in parse_fields(raw[1:-1]).items():
                out.setdefault(k2, v2)
            continue
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            out[key] = raw[1:-1]
        elif key in _UNTRUSTED or (is_execve and _ARG.match(key)):
            out[key] = _unhex(raw)
        else:
            out[key] = raw
    return out


def parse_log_line(line: str) -> Record | None:
    """One raw audit.log line; None for blank lines. Raises InputError on a malformed line."""
    line = line.rstrip("\n")
    if not line.strip():
        return None
    m = _HEADER.match(line)
    if not m:
        raise InputError("not an audit record (expected 'type=... msg=audit(...)')")
    node, rtype, sec, frac, serial, body = m.groups()
    return Record(rtype, float(f"{sec}.{frac}"), int(serial), parse_fields(body), node or "")


def parse_netlink(msg_type: int, payload: str) -> Record | None:
    m = _NL_HEADER.match(payload)
    if not m:
        return None
    sec, frac, serial, body = m.groups()
    rtype = RECORD_TYPES.get(msg_type, f"UNKNOWN[{msg_type}]")
    return Record(rtype, float(f"{sec}.{frac}"), int(serial), parse_fields(body))


def decode_hex_or_plain(value: str) -> str:
    """Values from `parse_fields` are already decoded; this only maps the '(null)' marker to ''."""
    return "" if value == "(null)" else value


class Assembler:
    """Groups records into events by serial. Bounded: at most `max_pending` open events.

    An event completes on EOE (netlink), when a later PROCTITLE arrives for it (last record written for
    syscall events), when it is a stand-alone user-space record, or when `max_pending`/age pushes it out.
    """

    STANDALONE_PREFIXES = ("USER_", "CRED_", "LOGIN", "ADD_", "DEL_", "CHUSER_ID", "CONFIG_CHANGE", "DAEMON_")

    def __init__(self, max_pending: int = 512, max_age: float = 2.0) -> None:
        self.max_pending = max_pending
        self.max_age = max_age
        self._pending: OrderedDict[tuple[str, int], AuditEvent] = OrderedDict()
        self._arrived: dict[tuple[str, int], float] = {}

    def add(self, rec: Record, now: float | None = None) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        key = (rec.node, rec.serial)
        if rec.type == "EOE":
            ev = self._pending.pop(key, None)
            self._arrived.pop(key, None)
            return [ev] if ev else []
        ev = self._pending.get(key)
        if ev is None:
            if rec.type.startswith(self.STANDALONE_PREFIXES):
                return [AuditEvent(rec.serial, rec.time, [rec])]
            ev = AuditEvent(rec.serial, rec.time)
            self._pending[key] = ev
            self._arrived[key] = now if now is not None else rec.time
        if len(ev.records) < MAX_RECORDS_PER_EVENT:
            ev.records.append(rec)
        if rec.type == "PROCTITLE" and now is None:
            # In a log file nothing follows PROCTITLE for the same serial (EOE is not written by auditd).
            self._pending.pop(key, None)
            self._arrived.pop(key, None)
            done.append(ev)
        while len(self._pending) > self.max_pending:
            k, old = self._pending.popitem(last=False)
            self._arrived.pop(k, None)
            done.append(old)
        return done

    def expire(self, now: float) -> list[AuditEvent]:
        done: list[AuditEvent] = []
        for k in list(self._pending):
            if now - self._arrived.get(k, now) >= self.max_age:
                done.append(self._pending.pop(k))
                self._arrived.pop(k, None)
            else:
                break
        return done

    def flush(self) -> list[AuditEvent]:
        done = list(self._pending.values())
        self._pending.clear()
        self._arrived.clear()
        return done


def _int(v: str | None, default: int = -1) -> int:
    if v is None or v == "":
        return default
    try:
        n = int(v, 0) if v.startswith("0x") else int(v)
    except ValueError:
        return default
    return -1 if n == 4294967295 else n


def _hexarg(v: str | None) -> int:
    """SYSCALL a0..a3 are hex without 0x; -1 (ffffffff) means 'unchanged' for set*id calls."""
    try:
        n = int(v or "", 16)
    except ValueError:
        return -1
    return -1 if n in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF) else n


def execve_argv(rec: Record) -> tuple[list[str], bool]:
    """argv from an EXECVE record: a0.., with a<N>_len/a<N>[i] chunks for long arguments."""
    f = rec.fields
    argc = _int(f.get("argc"), 0)
    argv: list[str] = []
    for i in range(min(argc, MAX_ARGV)):
        key = f"a{i}"
        if key in f:
            argv.append(decode_hex_or_plain(f[key])[:MAX_ARG_CHARS])
        elif f"{key}_len" in f:
            chunks = []
            j = 0
            while f"{key}[{j}]" in f:
                chunks.append(f[f"{key}[{j}]"])
                j += 1
            argv.append(_unhex("".join(chunks))[:MAX_ARG_CHARS])
        else:
            break
    return argv, len(argv) == argc


def parse_sockaddr(hexstr: str) -> dict[str, Any]:
    """SOCKADDR saddr (hex of struct sockaddr) -> family, ip, port or path."""
    try:
        raw = bytes.fromhex(hexstr)
    except ValueError:
        return {}
    if len(raw) < 2:
        return {}
    fam = struct.unpack_from("<H", raw, 0)[0]
    if fam == socket.AF_INET and len(raw) >= 8:
        return {"family": "inet", "port": struct.unpack_from(">H", raw, 2)[0], "ip": socket.inet_ntop(socket.AF_INET, raw[4:8])}
    if fam == socket.AF_INET6 and len(raw) >= 24:
        ip = ipaddress.IPv6Address(raw[8:24])
        ip_s = str(ip.ipv4_mapped) if ip.ipv4_mapped else str(ip)
        return {"family": "inet6", "port": struct.unpack_from(">H", raw, 2)[0], "ip": ip_s}
    if fam == socket.AF_UNIX:
        return {"family": "unix", "path": raw[2:].split(b"\0", 1)[0].decode("utf-8", "backslashreplace")}
    return {"family": str(fam)}


@dataclass
class HostIdentity:
    host_id: str = ""
    hostname: str = ""
    source: str = "audit"
    next_id: Callable[[], str] | None = None  # event id factory; default derives from the audit serial

    def event_id(self, ev: AuditEvent, idx: int) -> str:
        if self.next_id is not None:
            return self.next_id()
        return f"{self.host_id}:audit:{ev.time:.3f}:{ev.serial}:{idx}"


_USER_CACHE: dict[int, tuple[str, float]] = {}
_USER_TTL = 10.0  # uids are reused when accounts come and go; do not trust a name for long


def uid_name(uid: int) -> str:
    """Name for a uid from the local passwd database (cached briefly; empty when unknown)."""
    if uid < 0:
        return ""
    import time

    now = time.monotonic()
    hit = _USER_CACHE.get(uid)
    if hit is not None and now - hit[1] < _USER_TTL:
        return hit[0]
    if len(_USER_CACHE) > 4096:
        _USER_CACHE.clear()
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        name = ""
    _USER_CACHE[uid] = (name, now)
    return name


_AUDIT_EXTRA_KEYS = ("syscall", "key", "comm", "tty", "success", "exit", "a0", "a1", "a2", "a3", "suid", "fsuid", "egid", "res", "terminal", "addr", "hostname", "op", "acct")


def _base(ev: AuditEvent, ident: HostIdentity, idx: int, kind: str, action: str, f: dict[str, str]) -> HostEvent:
    uid = _int(f.get("uid"))
    user = f.get("UID") or uid_name(uid)
    extra = {k: f[k] for k in _AUDIT_EXTRA_KEYS if k in f and f[k] != ""}
    extra["audit_serial"] = str(ev.serial)
    extra["audit_types"] = ",".join(dict.fromkeys(r.type for r in ev.records))[:200]
    return HostEvent(
        event_id=ident.event_id(ev, idx), host_id=ident.host_id or (ev.records[0].node if ev.records else ""),
        hostname=ident.hostname or (ev.records[0].node if ev.records else ""), time=ev.time, kind=kind,
        action=action, source=ident.source, pid=_int(f.get("pid"), 0), ppid=_int(f.get("ppid"), 0), uid=uid,
        euid=_int(f.get("euid")), gid=_int(f.get("gid")), auid=_int(f.get("auid")), session_id=_int(f.get("ses")),
        user=user, exe=f.get("exe", ""), extra=extra,
    )


def _paths(ev: AuditEvent, cwd: str) -> list[tuple[str, str]]:
    """(absolute path, nametype) of PATH records. A relative CREATE/DELETE name is relative to the PARENT
    item's directory when that is known (mkdirat/openat with a dir fd), else to the cwd."""
    recs = ev.all("PATH")
    parent = next((decode_hex_or_plain(r.fields.get("name", "")) for r in recs
                   if r.fields.get("nametype") == "PARENT" and r.fields.get("name", "").startswith("/")), "")
    out: list[tuple[str, str]] = []
    for r in recs:
        name = decode_hex_or_plain(r.fields.get("name", ""))
        if not name:
            continue
        ntype = r.fields.get("nametype", "")
        if not name.startswith("/"):
            base = parent if (parent and ntype in ("CREATE", "DELETE")) else cwd
            if base:
                name = base.rstrip("/") + "/" + name
        out.append((name, ntype))
    return out


def to_host_events(ev: AuditEvent, ident: HostIdentity) -> list[HostEvent]:
    """Interpret one assembled audit event. Unknown shapes yield nothing (counted by the caller)."""
    sysc = ev.first("SYSCALL")
    if sysc is not None:
        return _syscall_event(ev, sysc, ident)
    return _user_event(ev, ident)


def _syscall_event(ev: AuditEvent, sysc: Record, ident: HostIdentity) -> list[HostEvent]:
    f = sysc.fields
    arch = f.get("arch", "c000003e").lower()
    nr = _int(f.get("syscall"), -1)
    name = f.get("SYSCALL") or SYSCALLS_BY_ARCH.get(arch, _X86_64).get(nr, str(nr))
    cwd_rec = ev.first("CWD")
    cwd = decode_hex_or_plain(cwd_rec.fields.get("cwd", "")) if cwd_rec else ""
    key = f.get("key", "")
    if key in ("(null)",):
        key = ""
    h = _base(ev, ident, 0, "process", "exec", f)
    h.cwd = cwd
    h.extra["syscall_name"] = name
    if key:
        h.extra["key"] = key
    if name in EXEC_CALLS:
        ex = ev.first("EXECVE")
        if ex is not None:
            h.argv, h.argv_complete = execve_argv(ex)
        else:
            pt = ev.first("PROCTITLE")
            h.argv = decode_hex_or_plain(pt.fields.get("proctitle", "")).split("\x00") if pt else []
            h.argv_complete = False
        paths = _paths(ev, cwd)
        if paths and not h.exe:
            h.exe = paths[0][0]
        if f.get("success") == "no":
            return []  # execvp() probing PATH: the process did not change
        return [h]
    if name in NET_CALLS:
        h.kind, h.action = "network", NET_CALLS[name]
        sa_rec = ev.first("SOCKADDR")
        sa = parse_sockaddr(sa_rec.fields.get("saddr", "")) if sa_rec else {}
        if sa.get("family") not in ("inet", "inet6"):
            return []  # unix sockets and netlink are not network activity
        h.protocol = "tcp"
        exit_code = _int(f.get("exit"), 0)
        if name == "connect":
            h.direction = "outbound"
            h.dst_ip, h.dst_port = sa["ip"], sa["port"]
            if f.get("success") == "no" and exit_code != -115:  # EINPROGRESS is a normal non-blocking connect
                h.extra["failed"] = "1"
        elif name in ("accept", "accept4"):
            h.direction = "inbound"
            h.src_ip, h.src_port = sa["ip"], sa["port"]
        else:
            h.direction = "listen"
            h.src_ip, h.src_port = sa["ip"], sa["port"]
        pt = ev.first("PROCTITLE")
        if pt is not None:
            h.argv = decode_hex_or_plain(pt.fields.get("proctitle", "")).split("\x00")[:MAX_ARGV]
            h.argv_complete = False
        return [h]
    if name in PRIV_CALLS:
        if f.get("success") == "no":
            return []
        h.kind, h.action = "privilege", PRIV_CALLS[name]
        if h.action != "capset":
            target = _hexarg(f.get("a0"))
            if name in ("setresuid", "setreuid", "setresgid", "setregid") and target < 0:
                target = _hexarg(f.get("a1"))
            if target >= 0 and h.action == "setuid":
                h.target_user = uid_name(target) or str(target)
            elif target >= 0:
                h.target_user = str(target)
            h.extra["target_id"] = str(target)
        pt = ev.first("PROCTITLE")
        if pt is not None:
            h.argv = decode_hex_or_plain(pt.fields.get("proctitle", "")).split("\x00")[:MAX_ARGV]
            h.argv_complete = False
        return [h]
    if name in FILE_CALLS or key.startswith("cw_file"):
        paths = [(p, t) for p, t in _paths(ev, cwd) if t != "PARENT"] or _paths(ev, cwd)
        if not paths:
            return []
        h.kind, h.action = "file", FILE_CALLS.get(name, "write")
        types = {t for _, t in paths}
        if "DELETE" in types and h.action == "rename":
            pass
        elif "CREATE" in types and h.action == "write":
            h.action = "create"
        elif "DELETE" in types:
            h.action = "delete"
        # For renames the destination (CREATE) is the interesting path.
        chosen = next((p for p, t in paths if t == "CREATE"), paths[-1][0])
        h.path = chosen
        h.extra["nametype"] = next((t for p, t in paths if p == chosen), "")
        h.extra["paths"] = ";".join(p for p, _ in paths)[:1000]
        pt = ev.first("PROCTITLE")
        if pt is not None:
            h.argv = decode_hex_or_plain(pt.fields.get("proctitle", "")).split("\x00")[:MAX_ARGV]
            h.argv_complete = False
        return [h]
    return []


def _user_event(ev: AuditEvent, ident: HostIdentity) -> list[HostEvent]:
    rec = ev.records[0]
    f = rec.fields
    res_ok = f.get("res", "") in ("success", "1", "yes")
    acct = f.get("acct", "") or f.get("ID", "")
    if not acct and f.get("id"):
        acct = uid_name(_int(f.get("id")))
    acct = "" if acct in ("?", "(unknown)") else acct
    exe = f.get("exe", "")
    prog = exe.rsplit("/", 1)[-1]
    addr = f.get("addr", "")
    addr = "" if addr in ("?", "") else addr
    h = _base(ev, ident, 0, "auth", "", f)
    h.success = res_ok
    h.target_user = acct
    h.src_ip = addr
    h.extra["audit_type"] = rec.type
    if rec.type == "USER_LOGIN" and prog == "sshd":
        # sshd writes USER_LOGIN res=failed for every failed attempt (bad password, key, invalid user); a
        # successful one only for tty sessions, so success is taken from USER_START below instead.
        if res_ok:
            return []
        h.action = "login_failure"
        h.user = acct or h.user
        return [h]
    if rec.type in ("USER_START", "USER_END") and prog == "sshd":
        h.user = acct or h.user
        if rec.type == "USER_END":
            h.action = "session_close"
            return [h]
        # The PAM session start is the first record that carries the new login uid and session id:
        # it is the successful login and the start of the session at once.
        h.action = "login_success"
        opened = _base(ev, ident, 1, "auth", "session_open", f)
        opened.user, opened.target_user, opened.src_ip, opened.success = h.user, acct, addr, True
        opened.extra["audit_type"] = rec.type
        return [h, opened]
    if rec.type == "USER_CMD":
        h.kind, h.action = "privilege", "sudo"
        cmd = decode_hex_or_plain(f.get("cmd", ""))
        h.argv = cmd.split(" ") if cmd else []
        h.argv_complete = False
        h.cwd = decode_hex_or_plain(f.get("cwd", "")) if f.get("cwd") else ""
        h.target_user = "root"  # sudo's USER_CMD does not name the runas user; refined by the auth log
        return [h]
    if rec.type == "USER_START" and prog in ("su", "sudo"):
        h.kind, h.action = "privilege", prog
        return [h]
    if rec.type == "USER_AUTH" and prog in ("su", "sudo") and not res_ok:
        h.kind, h.action = "privilege", prog
        h.extra["failed"] = "1"
        return [h]
    if rec.type in ("ADD_USER", "DEL_USER", "ADD_GROUP", "DEL_GROUP", "USER_MGMT"):
        h.kind, h.action = "privilege", rec.type.lower()
        return [h]
    return []


# ---------------------------------------------------------------- offline input (raw log / Laurel JSON)


def iter_raw_log(lines: Iterable[str], source_name: str = "<input>", errors: list[str] | None = None) -> Iterator[AuditEvent]:
    asm = Assembler(max_pending=4096)
    for lineno, line in enumerate(lines, 1):
        try:
            rec = parse_log_line(line)
        except InputError as exc:
            if errors is not None and len(errors) < 1000:
                errors.append(f"{source_name}:{lineno}: {exc.message}")
            continue
        if rec is not None:
            yield from asm.add(rec)
    yield from sorted(asm.flush(), key=lambda e: e.serial)


def _laurel_fields(obj: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in obj.items():
        if isinstance(v, (dict, list)):
            continue
        if v is None:
            out[k] = ""
        elif isinstance(v, bool):
            out[k] = "yes" if v else "no"
        else:
            out[k] = str(v)
    return out


def laurel_event(obj: dict[str, Any]) -> AuditEvent:
    """One Laurel JSON object -> AuditEvent in the same shape as raw records."""
    ident = str(obj.get("ID", ""))
    m = re.match(r"^(\d+)\.(\d+):(\d+)$", ident)
    if not m:
        raise InputError(f"Laurel record without a valid ID ({ident[:40]!r})")
    t, serial = float(f"{m.group(1)}.{m.group(2)}"), int(m.group(3))
    ev = AuditEvent(serial, t)
    node = str(obj.get("NODE", ""))
    for rtype, content in obj.items():
        if rtype in ("ID", "NODE") or not rtype.isupper():
            continue
        items = content if isinstance(content, list) else [content]
        for item in items:
            if not isinstance(item, dict):
                continue
            f = _laurel_fields(item)
            if rtype == "SYSCALL":
                # Laurel may translate syscall/arch; keep numbers where present, names in upper-case keys.
                if not f.get("syscall", "").isdigit() and f.get("syscall"):
                    f["SYSCALL"] = f.pop("syscall")
                f["arch"] = f.get("arch", "0xc000003e").lower().removeprefix("0x")
            if rtype in ("EXECVE", "PROCTITLE") and isinstance(item.get("ARGV"), list):
                args = [str(a) for a in item["ARGV"]]
                if rtype == "EXECVE":
                    f["argc"] = str(item.get("argc", len(args)))
                    for i, a in enumerate(args):
                        f[f"a{i}"] = a
                else:
                    f["proctitle"] = "\x00".join(args)
            if rtype == "SOCKADDR" and isinstance(item.get("saddr"), dict):
                sa = item["saddr"]
                f["saddr"] = _encode_sockaddr(sa)
            ev.records.append(Record(rtype, t, serial, f, node))
    return ev


def _encode_sockaddr(sa: dict[str, Any]) -> str:
    fam = str(sa.get("family", ""))
    try:
        if fam == "inet":
            addr = socket.inet_pton(socket.AF_INET, str(sa.get("addr") or "127.0.0.1"))
            return (struct.pack("<H", socket.AF_INET) + struct.pack(">H", int(sa.get("port", 0))) + addr).hex()
        if fam == "inet6":
            return (struct.pack("<H", socket.AF_INET6) + struct.pack(">H", int(sa.get("port", 0))) + b"\0" * 4 + socket.inet_pton(socket.AF_INET6, str(sa.get("addr", "::")))).hex()
        if fam in ("local", "unix"):
            return (struct.pack("<H", socket.AF_UNIX) + str(sa.get("path", "")).encode()).hex()
    except (OSError, ValueError):
        return ""
    return ""


def iter_laurel(lines: Iterable[str], source_name: str = "<input>", errors: list[str] | None = None) -> Iterator[AuditEvent]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            if not isinstance(obj, dict):
                raise InputError("not a JSON object")
            yield laurel_event(obj)
        except (orjson.JSONDecodeError, InputError) as exc:
            if errors is not None and len(errors) < 1000:
                errors.append(f"{source_name}:{lineno}: {getattr(exc, 'message', str(exc))}")


def detect_format(first_line: str) -> str:
    s = first_line.lstrip()
    if s.startswith("{"):
        return "laurel"
    return "raw"


# Re-exported for sources that need the mapping of an int type.
__all__ = [
    "Assembler", "AuditEvent", "HostIdentity", "Record", "detect_format", "execve_argv", "iter_laurel",
    "iter_raw_log", "parse_fields", "parse_log_line", "parse_netlink", "parse_sockaddr", "to_host_events",
]
