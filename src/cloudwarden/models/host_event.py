"""Host events produced by the agent and stored by the server (OCSF Process 1007, Network 4001,
Authentication 3002, File System 1001 shapes in the lake).

One flat record type with a `kind` keeps the spool, the wire format and the lake simple; fields that do
not apply to a kind stay empty. `host/sigma_fields.py` maps these onto Sigma's Linux field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

HostEventKind = Literal[
    "process",  # exec: argv, exe, cwd, ids, parent chain
    "privilege",  # setuid/setgid/capset, sudo, su: target user and command
    "auth",  # ssh login accepted/failed, session start/end
    "network",  # connect/accept/listen with owning process
    "transfer",  # bytes in/out per connection or per process over a window
    "file",  # change on a watched sensitive path
]


@dataclass(slots=True)
class HostEvent:
    event_id: str  # unique per host: "<boot_id>:<source>:<sequence>"; idempotency key of ingest
    host_id: str  # machine id
    hostname: str
    time: float  # epoch seconds, UTC
    kind: str  # one of HostEventKind
    action: str  # exec | exit | setuid | sudo | su | login_success | login_failure | session_open | session_close | connect | accept | listen | bytes | write | create | delete | rename | chmod
    source: str  # audit | proc_connector | procfs | sock_diag | authlog | wtmp | fanotify | inotify | replay
    pid: int = 0
    ppid: int = 0
    uid: int = -1
    euid: int = -1
    gid: int = -1
    auid: int = -1  # login uid: ties everything to the login that started it
    session_id: int = -1  # audit session id
    user: str = ""
    exe: str = ""
    argv: list[str] = field(default_factory=list)
    argv_complete: bool = True  # False when the process exited before argv could be read
    cwd: str = ""
    parent_exe: str = ""
    ancestors: list[str] = field(default_factory=list)  # exe of parent, grandparent, ... up to the session leader
    container_id: str = ""
    target_user: str = ""  # privilege changes and logins
    src_ip: str = ""
    src_port: int = 0
    dst_ip: str = ""
    dst_port: int = 0
    protocol: str = ""  # tcp | udp
    direction: str = ""  # outbound | inbound | listen
    dns_name: str = ""
    bytes_in: int = 0
    bytes_out: int = 0
    external: bool | None = None  # remote address outside the configured internal CIDRs
    path: str = ""  # file events
    auth_method: str = ""  # password | publickey | keyboard-interactive
    key_fingerprint: str = ""
    success: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)
