"""Reading /proc: process details, parent chain up to the session leader, container id, login uid.

Everything here races with process exit; every reader returns what it could get and never raises for a
vanished process. `ProcessCache` remembers exe/argv of recently seen pids (bounded LRU) so the parent
chain of a short-lived child still names parents that already exited.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
_CONTAINER_ID = re.compile(r"([0-9a-f]{64})")
MAX_CHAIN = 16


@dataclass(slots=True)
class ProcInfo:
    pid: int
    ppid: int = 0
    sid: int = 0
    comm: str = ""
    exe: str = ""
    argv: list[str] = field(default_factory=list)
    cwd: str = ""
    uid: int = -1
    euid: int = -1
    gid: int = -1
    auid: int = -1
    session_id: int = -1
    container_id: str = ""
    complete: bool = False  # argv and exe were read


def _read(path: Path, limit: int = 65536) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _int(b: bytes | None) -> int:
    if not b:
        return -1
    try:
        n = int(b.strip() or b"-1")
    except ValueError:
        return -1
    return -1 if n == 4294967295 else n


def container_id_from_cgroup(text: str) -> str:
    """Docker/containerd/CRI-O/podman put the 64-hex container id in the cgroup path."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        m = _CONTAINER_ID.search(path)
        if m:
            return m.group(1)
    return ""


def parse_stat(data: bytes) -> tuple[str, int, int]:
    """(comm, ppid, session id) from /proc/<pid>/stat; comm may contain spaces and parentheses."""
    s = data.decode("utf-8", "replace")
    lp, rp = s.find("("), s.rfind(")")
    comm = s[lp + 1 : rp]
    rest = s[rp + 2 :].split()
    # rest: state ppid pgrp session ...
    return comm, int(rest[1]), int(rest[3])


def read_proc(pid: int, root: Path = PROC) -> ProcInfo:
    info = ProcInfo(pid)
    base = root / str(pid)
    # argv and exe first: a short-lived process is racing us, and they are what matters most.
    cmd = _read(base / "cmdline")
    if cmd:
        info.argv = [a.decode("utf-8", "backslashreplace") for a in cmd.rstrip(b"\0").split(b"\0")][:256]
    try:
        info.exe = os.readlink(base / "exe").removesuffix(" (deleted)")
    except OSError:
        pass
    stat = _read(base / "stat")
    if stat:
        try:
            info.comm, info.ppid, info.sid = parse_stat(stat)
        except (ValueError, IndexError):
            pass
    try:
        info.cwd = os.readlink(base / "cwd")
    except OSError:
        pass
    status = _read(base / "status", 8192)
    if status:
        for line in status.split(b"\n"):
            if line.startswith(b"Uid:"):
                parts = line.split()
                info.uid, info.euid = int(parts[1]), int(parts[2])
            elif line.startswith(b"Gid:"):
                info.gid = int(line.split()[1])
                break
    info.auid = _int(_read(base / "loginuid", 64))
    info.session_id = _int(_read(base / "sessionid", 64))
    cg = _read(base / "cgroup", 16384)
    if cg:
        info.container_id = container_id_from_cgroup(cg.decode("utf-8", "replace"))
    info.complete = bool(info.argv) and bool(info.exe)
    return info


def read_container_id(pid: int, root: Path = PROC) -> str:
    """Only the container id (one small read): what audit events lack that /proc has."""
    cg = _read(root / str(pid) / "cgroup", 16384)
    return container_id_from_cgroup(cg.decode("utf-8", "replace")) if cg else ""


def read_cmdline(pid: int, root: Path = PROC) -> str:
    cmd = _read(root / str(pid) / "cmdline")
    if not cmd:
        return ""
    return " ".join(a.decode("utf-8", "backslashreplace") for a in cmd.rstrip(b"\0").split(b"\0"))


class ProcessCache:
    """pid -> (exe, argv0 summary, ppid, sid) of recently seen processes. Bounded LRU."""

    def __init__(self, max_entries: int = 8192, root: Path = PROC) -> None:
        self.max_entries = max_entries
        self.root = root
        self._d: OrderedDict[int, tuple[str, int, int]] = OrderedDict()
        self._cmd: OrderedDict[int, str] = OrderedDict()

    def remember(self, pid: int, exe: str, ppid: int, sid: int = 0) -> None:
        if pid <= 0:
            return
        self._d[pid] = (exe, ppid, sid)
        self._d.move_to_end(pid)
        while len(self._d) > self.max_entries:
            self._d.popitem(last=False)

    def lookup(self, pid: int) -> tuple[str, int, int] | None:
        hit = self._d.get(pid)
        if hit is not None and hit[0]:
            return hit
        info = read_proc(pid, self.root)
        if info.exe or info.ppid:
            self.remember(pid, info.exe or info.comm, info.ppid, info.sid)
            return self._d.get(pid)
        return hit

    def remember_cmdline(self, pid: int, cmdline: str) -> None:
        if pid <= 0:
            return
        self._cmd[pid] = cmdline[:4096]
        self._cmd.move_to_end(pid)
        while len(self._cmd) > self.max_entries:
            self._cmd.popitem(last=False)

    def cmdline(self, pid: int) -> str:
        """Command line of a (parent) process: remembered from its exec, else read from /proc."""
        hit = self._cmd.get(pid)
        if hit is not None:
            return hit
        cmd = read_cmdline(pid, self.root)
        if cmd:
            self.remember_cmdline(pid, cmd)
        return cmd[:4096]

    def forget(self, pid: int) -> None:
        self._d.pop(pid, None)
        self._cmd.pop(pid, None)

    def chain(self, ppid: int) -> list[str]:
        """exe of parent, grandparent, ... stopping after the session leader or pid 1."""
        out: list[str] = []
        pid = ppid
        seen: set[int] = set()
        while pid > 0 and pid not in seen and len(out) < MAX_CHAIN:
            seen.add(pid)
            hit = self.lookup(pid)
            if hit is None:
                break
            exe, parent, sid = hit
            out.append(exe)
            if pid == 1 or (sid and sid == pid):
                break
            pid = parent
        return out

    def __len__(self) -> int:
        return len(self._d)
