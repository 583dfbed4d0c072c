"""Offline processing of recorded audit logs (raw audit.log or Laurel JSON lines): forensics and tests.

Event ids derive from the host, the audit timestamp and serial, so replaying the same file twice stores
nothing twice (the lake and the alert store are idempotent on them).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cloudwarden.errors import InputError
from cloudwarden.host.auditparse import HostIdentity, detect_format, iter_laurel, iter_raw_log, to_host_events
from cloudwarden.models.host_event import HostEvent


@dataclass
class ReplayResult:
    events: list[HostEvent] = field(default_factory=list)
    audit_events: int = 0
    uninterpreted: int = 0
    errors: list[str] = field(default_factory=list)
    format: str = ""


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def iter_file(path: Path, host_id: str = "", hostname: str = "", fmt: str = "auto",
              result: ReplayResult | None = None) -> Iterator[HostEvent]:
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    res = result or ReplayResult()
    with _open(path) as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
        res.format = fmt if fmt != "auto" else detect_format(first)
        if res.format not in ("raw", "laurel"):
            raise InputError(f"unknown format {fmt!r} (raw | laurel | auto)", source=str(path))
        fh.seek(0)
        ident = HostIdentity(host_id or "replay", hostname or host_id or "replay", source="replay")
        it = iter_laurel(fh, str(path), res.errors) if res.format == "laurel" else iter_raw_log(fh, str(path), res.errors)
        procs: dict[int, tuple[str, int, str]] = {}  # pid -> (exe, ppid, cmdline) from exec events seen so far
        for aev in it:
            res.audit_events += 1
            if not host_id and aev.records and aev.records[0].node:
                ident.host_id = ident.hostname = aev.records[0].node
            hevs = to_host_events(aev, ident)
            if not hevs:
                res.uninterpreted += 1
            for h in hevs:
                _link_parents(h, procs)
            yield from hevs


def _link_parents(h: HostEvent, procs: dict[int, tuple[str, int, str]]) -> None:
    """Offline there is no /proc: rebuild the parent chain from earlier exec events of the same file."""
    chain: list[str] = []
    pid, seen = h.ppid, set()
    while pid > 0 and pid in procs and pid not in seen and len(chain) < 16:
        seen.add(pid)
        exe, parent, cmd = procs[pid]
        if not chain:
            h.extra["parent_cmdline"] = cmd[:4096]
        chain.append(exe)
        pid = parent
    if chain:
        h.ancestors, h.parent_exe = chain, chain[0]
    if h.kind == "process" and h.action == "exec" and h.pid > 0:
        if len(procs) > 100_000:
            procs.pop(next(iter(procs)))
        procs[h.pid] = (h.exe, h.ppid, " ".join(h.argv))


def replay_file(path: Path, host_id: str = "", hostname: str = "", fmt: str = "auto") -> ReplayResult:
    res = ReplayResult()
    res.events = list(iter_file(path, host_id, hostname, fmt, res))
    return res
