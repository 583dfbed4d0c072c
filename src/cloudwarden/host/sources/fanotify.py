"""fanotify on the sensitive paths (same set as `inotify.py`), notification class only.

Why fanotify before inotify: fanotify events carry the pid of the writer, so a file change names the
process (exe, uid, login uid) even when the audit source is off. Only FAN_CLASS_NOTIF is ever requested:
permission events would make the host wait on us, which the agent must never do.

Two modes, best first (the chosen one is reported at start):
- `dfid-name` (FAN_REPORT_DFID_NAME): per-directory marks with FAN_EVENT_ON_CHILD; events carry the
  directory's file handle and the entry name, so creates, deletes, renames and attribute changes are seen
  as well as writes, and new home/.ssh directories get their own mark. Directory handles are mapped back
  to paths from `name_to_handle_at` taken when each mark is placed (no open_by_handle_at needed).
- `fd`: classic events with an open fd per event (resolved through /proc/self/fd/N, then closed); only
  FAN_CLOSE_WRITE, reported as `write`.
The kernel queue is bounded (no FAN_UNLIMITED_QUEUE): on overflow it says so and we count it in `lost`.
Process details are read from /proc after the fact: a writer that already exited is marked
(`extra.process_gone`), not dropped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
import threading
import time
from pathlib import Path

from cloudwarden.host.auditparse import uid_name
from cloudwarden.host.procfs import read_proc
from cloudwarden.host.sources.base import Emit, Source
from cloudwarden.host.sources.inotify import ETC_NAMES, HOME_NAMES, SSH_NAMES, WHOLE_DIRS
from cloudwarden.models.host_event import HostEvent

FAN_CLOEXEC = 0x1
FAN_NONBLOCK = 0x2
FAN_CLASS_NOTIF = 0x0
FAN_REPORT_DIR_FID = 0x400
FAN_REPORT_NAME = 0x800
FAN_REPORT_DFID_NAME = FAN_REPORT_DIR_FID | FAN_REPORT_NAME
FAN_MARK_ADD = 0x1
FAN_ATTRIB = 0x4
FAN_CLOSE_WRITE = 0x8
FAN_MOVED_FROM = 0x40
FAN_MOVED_TO = 0x80
FAN_CREATE = 0x100
FAN_DELETE = 0x200
FAN_Q_OVERFLOW = 0x4000
FAN_EVENT_ON_CHILD = 0x08000000
FAN_ONDIR = 0x40000000
FAN_NOFD = -1
FAN_EVENT_INFO_TYPE_DFID_NAME = 2
FANOTIFY_METADATA_VERSION = 3
O_LARGEFILE = 0o100000
AT_FDCWD = -100
MAX_HANDLE_SZ = 128
READ_BUF = 65536  # one read() at most; the rest waits in the kernel's bounded queue

MASK_DFID = FAN_CLOSE_WRITE | FAN_ATTRIB | FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR | FAN_EVENT_ON_CHILD
MASK_FD = FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD
MAX_MARKS = 4096  # homes can be many; beyond this new directories are counted, not marked

_META = struct.Struct("=IBBHQii")  # event_len vers reserved metadata_len mask fd pid
_INFO_HDR = struct.Struct("=BBH")  # info_type pad len
_FSID = 8
_HANDLE_HDR = struct.Struct("=Ii")  # handle_bytes handle_type


class _FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint32), ("handle_type", ctypes.c_int32),
                ("f_handle", ctypes.c_ubyte * MAX_HANDLE_SZ)]


def _libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    lib.fanotify_init.argtypes = [ctypes.c_uint, ctypes.c_uint]
    lib.fanotify_init.restype = ctypes.c_int
    lib.fanotify_mark.argtypes = [ctypes.c_int, ctypes.c_uint, ctypes.c_uint64, ctypes.c_int, ctypes.c_char_p]
    lib.fanotify_mark.restype = ctypes.c_int
    lib.name_to_handle_at.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_FileHandle),
                                      ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    lib.name_to_handle_at.restype = ctypes.c_int
    return lib


def action_of(mask: int) -> str:
    if mask & (FAN_DELETE | FAN_MOVED_FROM):
        return "delete"
    if mask & FAN_CREATE:
        return "create"
    if mask & FAN_MOVED_TO:
        return "rename"
    if mask & FAN_ATTRIB and not mask & FAN_CLOSE_WRITE:
        return "chmod"
    return "write"


def parse_events(data: bytes) -> list[tuple[int, int, int, list[tuple[bytes, str]]]]:
    """(mask, fd, pid, [(fsid + directory handle, name)]) per event of one read. Pure; stops at a bad length."""
    out: list[tuple[int, int, int, list[tuple[bytes, str]]]] = []
    off = 0
    while off + _META.size <= len(data):
        ev_len, vers, _r, meta_len, mask, fd, pid = _META.unpack_from(data, off)
        if ev_len < _META.size or off + ev_len > len(data) or meta_len < _META.size or vers != FANOTIFY_METADATA_VERSION:
            break
        infos: list[tuple[bytes, str]] = []
        ioff, end = off + meta_len, off + ev_len
        while ioff + _INFO_HDR.size <= end:
            itype, _pad, ilen = _INFO_HDR.unpack_from(data, ioff)
            if ilen < _INFO_HDR.size or ioff + ilen > end:
                break
            if itype == FAN_EVENT_INFO_TYPE_DFID_NAME and ilen >= _INFO_HDR.size + _FSID + _HANDLE_HDR.size:
                hoff = ioff + _INFO_HDR.size + _FSID
                hbytes, htype = _HANDLE_HDR.unpack_from(data, hoff)
                hend = hoff + _HANDLE_HDR.size + hbytes
                if hend <= ioff + ilen:
                    fsid = data[ioff + _INFO_HDR.size : hoff]
                    key = fsid + struct.pack("=i", htype) + data[hoff + _HANDLE_HDR.size : hend]
                    name = data[hend : ioff + ilen].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                    infos.append((key, name))
            ioff += ilen
        out.append((mask, fd, pid, infos))
        off += ev_len
    return out


class FanotifySource(Source):
    name = "fanotify"
    kinds = ("file",)

    def __init__(self, host_id: str, hostname: str, extra_paths: list[str] | None = None,
                 homes_root: str = "/home", sensitive: bool = True, mode: str = "auto") -> None:
        super().__init__()
        self.host_id = host_id
        self.hostname = hostname
        self.extra_paths = extra_paths or []
        self.homes_root = homes_root
        self.sensitive = sensitive  # False: only extra_paths (tests)
        self.mode = mode  # auto | fd (force the classic mode, e.g. to test it)
        self._lib = _libc()
        self._fd = -1
        self.chosen = ""
        self._dirs: dict[str, set[str] | None] = {}  # marked dir -> names of interest (None: all)
        self._by_handle: dict[bytes, str] = {}  # fsid + directory handle -> marked dir
        self._by_handle_only: dict[bytes, str] = {}  # directory handle -> marked dir (fallback)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ setup
    def _init(self, flags: int) -> int:
        return int(self._lib.fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | flags, os.O_RDONLY | O_LARGEFILE))

    def _open(self) -> tuple[int, str]:
        fd = self._init(FAN_REPORT_DFID_NAME) if self.mode == "auto" else -1
        if fd >= 0:
            return fd, "dfid-name"
        err = ctypes.get_errno() if self.mode == "auto" else errno.EINVAL
        if err != errno.EINVAL:  # EPERM (no CAP_SYS_ADMIN) or ENOSYS: the classic mode will not work either
            raise OSError(err, f"fanotify_init: {os.strerror(err)}")
        fd = self._init(0)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"fanotify_init: {os.strerror(err)}")
        return fd, "fd"

    def probe(self) -> str | None:
        try:
            fd, mode = self._open()
        except OSError as exc:
            return str(exc.strerror or exc)
        try:
            mask = MASK_DFID if mode == "dfid-name" else MASK_FD
            if self._lib.fanotify_mark(fd, FAN_MARK_ADD, mask, AT_FDCWD, b"/etc") < 0:
                return f"fanotify_mark: {os.strerror(ctypes.get_errno())}"
        finally:
            os.close(fd)
        self.chosen = mode  # reported at start
        return None

    def _handle_key(self, directory: str) -> bytes | None:
        fh = _FileHandle()
        fh.handle_bytes = MAX_HANDLE_SZ
        mount_id = ctypes.c_int()
        if self._lib.name_to_handle_at(AT_FDCWD, os.fsencode(directory), ctypes.byref(fh), ctypes.byref(mount_id), 0) < 0:
            return None
        # fsid as the kernel reports it (two 32-bit words); glibc's statvfs folds them into one 64-bit value.
        fsid = os.statvfs(directory).f_fsid
        return struct.pack("=II", fsid & 0xFFFFFFFF, fsid >> 32) + struct.pack("=i", fh.handle_type) + bytes(fh.f_handle[: fh.handle_bytes])

    def _mark(self, directory: str, names: set[str] | None) -> bool:
        directory = os.path.realpath(directory)
        if not os.path.isdir(directory):
            return False
        if directory in self._dirs:
            old = self._dirs[directory]
            self._dirs[directory] = None if old is None or names is None else old | names
            return True
        if len(self._dirs) >= MAX_MARKS:
            self.stats.extra["marks_refused"] = self.stats.extra.get("marks_refused", 0) + 1
            return False
        key = None
        if self.chosen == "dfid-name":
            key = self._handle_key(directory)
            if key is None:
                self.stats.errors += 1
                self.stats.last_error = f"{directory}: name_to_handle_at: {os.strerror(ctypes.get_errno())}"
                return False
        mask = MASK_DFID if self.chosen == "dfid-name" else MASK_FD
        if self._lib.fanotify_mark(self._fd, FAN_MARK_ADD, mask, AT_FDCWD, os.fsencode(directory)) < 0:
            self.stats.errors += 1
            self.stats.last_error = f"{directory}: fanotify_mark: {os.strerror(ctypes.get_errno())}"
            return False
        self._dirs[directory] = names
        if key is not None:
            self._by_handle[key] = directory
            self._by_handle_only[key[_FSID:]] = directory
        return True

    def _homes(self) -> list[str]:
        root = Path(self.homes_root)
        return ["/root"] + ([str(p) for p in root.iterdir() if p.is_dir()] if root.is_dir() else [])

    def _mark_home(self, home: str) -> None:
        self._mark(home, set(HOME_NAMES) | {".ssh"})
        self._mark(os.path.join(home, ".ssh"), set(SSH_NAMES))

    def setup(self) -> None:
        self._fd, self.chosen = self._open()
        if self.sensitive:
            self._mark("/etc", set(ETC_NAMES))
            for d in WHOLE_DIRS:
                self._mark(d, None)
            self._mark(self.homes_root, set())  # only to see new home directories
            for h in self._homes():
                self._mark_home(h)
        for p in self.extra_paths:
            if os.path.isdir(p):
                self._mark(p, None)
            else:
                self._mark(os.path.dirname(p) or "/", {os.path.basename(p)})

    # ------------------------------------------------------------------ events
    def _wanted(self, path: str) -> bool:
        directory, name = os.path.split(path)
        if directory not in self._dirs:
            return False
        names = self._dirs[directory]
        return names is None or name in names

    def event(self, pid: int, path: str, action: str) -> HostEvent:
        """A file event with what /proc still knows about the writer (it may have exited already)."""
        info = read_proc(pid) if pid > 0 else None
        ev = HostEvent(event_id="", host_id=self.host_id, hostname=self.hostname, time=time.time(), kind="file",
                       action=action, source=self.name, path=path, pid=pid)
        if info is not None:
            ev.ppid, ev.exe, ev.argv, ev.argv_complete = info.ppid, info.exe, info.argv, info.complete
            ev.uid, ev.euid, ev.gid, ev.auid, ev.session_id = info.uid, info.euid, info.gid, info.auid, info.session_id
            ev.cwd, ev.container_id, ev.user = info.cwd, info.container_id, uid_name(info.uid) if info.uid >= 0 else ""
        if info is None or not info.exe:  # exited (or a zombie) before we looked: keep the event, say so
            ev.argv_complete = False
            ev.extra["process_gone"] = "true"
            self.stats.incomplete += 1
        return ev

    def handle(self, data: bytes, emit: Emit) -> None:
        me = os.getpid()
        for mask, fd, pid, infos in parse_events(data):
            path = ""
            if fd >= 0:
                try:
                    path = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    path = ""
                finally:
                    os.close(fd)
            if mask & FAN_Q_OVERFLOW:
                self.stats.lost += 1
                continue
            if pid == me:
                continue
            if self.chosen == "dfid-name":
                for key, name in infos:
                    directory = self._by_handle.get(key)
                    if directory is None:
                        # A libc that keeps only half of the fsid: the handle alone (unique per filesystem) decides.
                        directory = self._by_handle_only.get(key[_FSID:])
                        if directory is not None:
                            self.stats.extra["fsid_mismatch"] = self.stats.extra.get("fsid_mismatch", 0) + 1
                    if directory is None or not name:
                        continue
                    self._one(os.path.join(directory, name), mask, pid, emit)
            elif path:
                self._one(path.removesuffix(" (deleted)"), mask, pid, emit)

    def _one(self, path: str, mask: int, pid: int, emit: Emit) -> None:
        directory, name = os.path.split(path)
        if mask & FAN_ONDIR:
            if mask & (FAN_CREATE | FAN_MOVED_TO):
                if directory == os.path.realpath(self.homes_root) and self.sensitive:
                    self._mark_home(path)
                elif name == ".ssh" and self.sensitive:
                    self._mark(path, set(SSH_NAMES))
                    self._scan_new_dir(path, pid, emit)
            return
        if not self._wanted(path):
            return
        self.stats.events += 1
        emit(self.event(pid, path, action_of(mask)))

    def _scan_new_dir(self, path: str, pid: int, emit: Emit) -> None:
        """A key written right after `mkdir .ssh` can beat our new mark: report what is already there."""
        try:
            names = [n for n in os.listdir(path) if n in SSH_NAMES]
        except OSError:
            return
        for n in names:
            self.stats.events += 1
            emit(self.event(pid, os.path.join(path, n), "create"))

    def run(self, emit: Emit, stop: threading.Event) -> None:
        with self._lock:
            self.setup()
        self.ready.set()
        try:
            while not stop.is_set():
                r, _, _ = select.select([self._fd], [], [], 0.5)
                if not r:
                    continue
                try:
                    data = os.read(self._fd, READ_BUF)
                except BlockingIOError:
                    continue
                self.handle(data, emit)
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)  # closing the group removes every mark
                self._fd = -1
