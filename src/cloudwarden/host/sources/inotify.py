"""inotify on sensitive paths: authorized_keys, sudoers(.d), passwd/shadow/group, cron, systemd units,
ld.so.preload, shell profiles, plus configured extra paths.

Used when the audit source is not available (audit watches also name the process). inotify never
blocks the writer and needs no permission events. Watches are on directories, filtered by name, so a
file created later (a new authorized_keys, a new user's .ssh) is seen; new .ssh dirs under watched
homes get their own watch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading
import time
from pathlib import Path

from cloudwarden.host.sources.base import Emit, Source
from cloudwarden.models.host_event import HostEvent

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ISDIR = 0x40000000
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
MASK = IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
_EV = struct.Struct("=iIII")

ETC_NAMES = {"passwd", "shadow", "group", "gshadow", "sudoers", "ld.so.preload", "profile", "bash.bashrc", "crontab", "environment", "rc.local"}
WHOLE_DIRS = ["/etc/sudoers.d", "/etc/cron.d", "/etc/cron.daily", "/etc/cron.hourly", "/etc/cron.weekly",
              "/etc/cron.monthly", "/var/spool/cron/crontabs", "/etc/systemd/system", "/lib/systemd/system",
              "/usr/lib/systemd/system", "/etc/profile.d", "/etc/init.d"]
HOME_NAMES = {".bashrc", ".profile", ".bash_profile", ".bash_login", ".bash_logout", ".zshrc"}
SSH_NAMES = {"authorized_keys", "authorized_keys2"}


class InotifySource(Source):
    name = "inotify"
    kinds = ("file",)

    def __init__(self, host_id: str, hostname: str, extra_paths: list[str] | None = None,
                 homes_root: str = "/home", dynamic_only: bool = False) -> None:
        super().__init__()
        # dynamic_only: audit already watches everything that existed at start; cover only home and .ssh
        # directories created later (audit path rules cannot name directories that do not exist yet).
        self.dynamic_only = dynamic_only
        self._discover_only: set[int] = set()
        self.host_id = host_id
        self.hostname = hostname
        self.extra_paths = extra_paths or []
        self.homes_root = homes_root
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._fd = -1
        self._wd: dict[int, tuple[str, set[str] | None]] = {}  # wd -> (dir, names of interest or None=all)

    def probe(self) -> str | None:
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return f"inotify_init1 failed: {os.strerror(ctypes.get_errno())}"
        os.close(fd)
        return None

    def _watch(self, directory: str, names: set[str] | None) -> int | None:
        if not os.path.isdir(directory):
            return None
        wd = self._libc.inotify_add_watch(self._fd, directory.encode(), MASK)
        if wd < 0:
            self.stats.errors += 1
            self.stats.last_error = f"{directory}: {os.strerror(ctypes.get_errno())}"
            return None
        old = self._wd.get(wd)
        if old is not None and old[1] is not None and names is not None:
            names = old[1] | names
        elif old is not None and (old[1] is None or names is None):
            names = None
        self._wd[wd] = (directory, names)
        return int(wd)

    def setup(self) -> None:
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.dynamic_only:
            homes = ["/root"] + ([str(p) for p in Path(self.homes_root).iterdir() if p.is_dir()] if os.path.isdir(self.homes_root) else [])
            for h in [self.homes_root, *homes]:
                if h == self.homes_root or not os.path.isdir(os.path.join(h, ".ssh")):
                    wd = self._watch(h, set())
                    if wd is not None:
                        self._discover_only.add(wd)
            return
        self._watch("/etc", set(ETC_NAMES))
        for d in WHOLE_DIRS:
            self._watch(d, None)
        homes = ["/root"] + ([str(p) for p in Path(self.homes_root).iterdir() if p.is_dir()] if os.path.isdir(self.homes_root) else [])
        self._watch(self.homes_root, None)  # new home dirs
        for h in homes:
            self._watch_home(h)
        for p in self.extra_paths:
            if os.path.isdir(p):
                self._watch(p, None)
            else:
                self._watch(os.path.dirname(p) or "/", {os.path.basename(p)})

    def _watch_home(self, home: str) -> None:
        self._watch(home, set(HOME_NAMES) | {".ssh"})
        self._watch(os.path.join(home, ".ssh"), set(SSH_NAMES))

    def _action(self, mask: int) -> str:
        if mask & IN_DELETE or mask & IN_MOVED_FROM:
            return "delete"
        if mask & IN_CREATE:
            return "create"
        if mask & IN_MOVED_TO:
            return "rename"
        if mask & IN_ATTRIB:
            return "chmod"
        return "write"

    def _handle(self, data: bytes, emit: Emit) -> None:
        off = 0
        while off + _EV.size <= len(data):
            wd, mask, _cookie, ln = _EV.unpack_from(data, off)
            name = data[off + _EV.size : off + _EV.size + ln].split(b"\0", 1)[0].decode("utf-8", "replace")
            off += _EV.size + ln
            if mask & IN_Q_OVERFLOW:
                self.stats.lost += 1
                continue
            entry = self._wd.get(wd)
            if entry is None or not name:
                continue
            directory, names = entry
            path = os.path.join(directory, name)
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO) and directory == self.homes_root:
                    if self.dynamic_only:
                        wd2 = self._watch(path, set())
                        if wd2 is not None:
                            self._discover_only.add(wd2)
                        self._watch(os.path.join(path, ".ssh"), set(SSH_NAMES))
                    else:
                        self._watch_home(path)
                elif mask & (IN_CREATE | IN_MOVED_TO) and name == ".ssh":
                    self._watch(path, set(SSH_NAMES))
                    self._scan_new_dir(path, emit)
                continue
            if wd in self._discover_only:
                continue
            if names is not None and name not in names:
                continue
            if mask & IN_CREATE and not mask & IN_ISDIR:
                pass  # a create is followed by CLOSE_WRITE when written; report the create too (new file)
            ev = HostEvent(event_id="", host_id=self.host_id, hostname=self.hostname, time=time.time(), kind="file",
                           action=self._action(mask), source=self.name, path=path)
            self.stats.events += 1
            emit(ev)

    def _scan_new_dir(self, path: str, emit: Emit) -> None:
        """A key written right after `mkdir .ssh` can beat our new watch: report what is already there."""
        try:
            names = [n for n in os.listdir(path) if n in SSH_NAMES]
        except OSError:
            return
        for n in names:
            self.stats.events += 1
            emit(HostEvent(event_id="", host_id=self.host_id, hostname=self.hostname, time=time.time(), kind="file",
                           action="create", source=self.name, path=os.path.join(path, n)))

    def run(self, emit: Emit, stop: threading.Event) -> None:
        self.setup()
        self.ready.set()
        try:
            while not stop.is_set():
                r, _, _ = select.select([self._fd], [], [], 0.5)
                if not r:
                    continue
                try:
                    data = os.read(self._fd, 65536)
                except BlockingIOError:
                    continue
                self._handle(data, emit)
        finally:
            os.close(self._fd)
            self._fd = -1
