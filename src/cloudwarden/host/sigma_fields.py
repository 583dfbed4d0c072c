"""HostEvent -> Sigma's Linux field names. Pure.

One HostEvent becomes one or more Sigma "views", each tagged with the logsource it belongs to:

- process exec      -> category process_creation (Image, CommandLine, ParentImage, User, LogonId ...)
                       + service auditd (type=EXECVE with a0.., and type=SYSCALL with exe/comm/key) when
                         the event came from the audit subsystem, so SigmaHQ auditd rules can run;
- network           -> category network_connection (Image, DestinationIp, DestinationPort, Initiated ...)
                       + service auditd (type=SYSCALL, SOCKADDR fields) for audit events;
- file              -> category file_event (TargetFilename, Image) + service auditd (type=PATH, name);
- auth / privilege  -> category authentication / privilege_change, our own categories for built-in rules
                       (fields EventType, User, TargetUser, SourceIp, AuthMethod, Outcome ...).

Every view also carries the identifying fields (event_id, host_id, Hostname, time) so the detection
engine's default entity and evidence id functions work, plus `logsource_*` keys naming the view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudwarden.models.host_event import HostEvent

LOGSOURCE_KEYS = ("logsource_product", "logsource_category", "logsource_service")


def _cmdline(argv: list[str]) -> str:
    return " ".join(argv)


def _common(ev: HostEvent, category: str = "", service: str = "") -> dict[str, Any]:
    d: dict[str, Any] = {
        "event_id": ev.event_id,
        "host_id": ev.host_id,
        "Hostname": ev.hostname,
        "time": ev.time,
        "kind": ev.kind,
        "action": ev.action,
        "source": ev.source,
        "logsource_product": "linux",
        "logsource_category": category,
        "logsource_service": service,
        "ProcessId": ev.pid,
        "ParentProcessId": ev.ppid,
        "User": ev.user,
        "UserId": ev.uid,
        "EffectiveUserId": ev.euid,
        "LogonId": ev.session_id,
        "LoginUserId": ev.auid,
        "ContainerId": ev.container_id,
    }
    return d


def _process(ev: HostEvent) -> dict[str, Any]:
    d = _common(ev, category="process_creation")
    d.update({
        "Image": ev.exe,
        "CommandLine": _cmdline(ev.argv),
        "CurrentDirectory": ev.cwd,
        "ParentImage": ev.parent_exe,
        "ParentCommandLine": ev.extra.get("parent_cmdline", ""),
        "Ancestors": list(ev.ancestors),
        "ArgvComplete": ev.argv_complete,
    })
    return d


def _auditd_syscall(ev: HostEvent, rtype: str = "SYSCALL") -> dict[str, Any]:
    d = _common(ev, service="auditd")
    x = ev.extra
    d.update({
        "type": rtype,
        # the name, as ausearch -i / ENRICHED logs show it (numbers differ between architectures)
        "syscall": x.get("syscall_name") or x.get("syscall", ""),
        "syscall_nr": x.get("syscall", ""),
        "key": x.get("key", ""),
        "exe": ev.exe,
        "comm": x.get("comm", ev.exe.rsplit("/", 1)[-1]),
        "pid": str(ev.pid),
        "ppid": str(ev.ppid),
        "uid": str(ev.uid),
        "euid": str(ev.euid),
        "auid": str(ev.auid),
        "ses": str(ev.session_id),
        "success": x.get("success", ""),
        "cwd": ev.cwd,
    })
    return d


def _auditd_execve(ev: HostEvent) -> dict[str, Any]:
    d = _common(ev, service="auditd")
    d["type"] = "EXECVE"
    d["argc"] = str(len(ev.argv))
    for i, a in enumerate(ev.argv[:64]):
        d[f"a{i}"] = a
    # SigmaHQ auditd rules match EXECVE together with SYSCALL fields (exe, comm, key) in one event.
    d["exe"] = ev.exe
    d["comm"] = ev.extra.get("comm", ev.exe.rsplit("/", 1)[-1])
    d["key"] = ev.extra.get("key", "")
    return d


def _network(ev: HostEvent) -> dict[str, Any]:
    d = _common(ev, category="network_connection")
    outbound = ev.direction == "outbound"
    d.update({
        "Image": ev.exe,
        "CommandLine": _cmdline(ev.argv),
        "ParentImage": ev.parent_exe,
        "Initiated": "true" if outbound else "false",
        "Direction": ev.direction,
        "Protocol": ev.protocol,
        "DestinationIp": ev.dst_ip if outbound else ev.src_ip,
        "DestinationPort": ev.dst_port if outbound else ev.src_port,
        "DestinationHostname": ev.dns_name,
        "SourceIp": ev.src_ip,
        "SourcePort": ev.src_port,
        "External": ev.external,
        "BytesIn": ev.bytes_in,
        "BytesOut": ev.bytes_out,
    })
    if ev.direction == "inbound":
        d["SourceIp"], d["SourcePort"] = ev.src_ip, ev.src_port
    return d


def _file(ev: HostEvent) -> dict[str, Any]:
    d = _common(ev, category="file_event")
    d.update({
        "TargetFilename": ev.path,
        "Image": ev.exe,
        "CommandLine": _cmdline(ev.argv),
        "FileAction": ev.action,
    })
    return d


def _auditd_path(ev: HostEvent) -> dict[str, Any]:
    d = _auditd_syscall(ev, "PATH")
    d["name"] = ev.path
    d["nametype"] = ev.extra.get("nametype") or {"create": "CREATE", "delete": "DELETE"}.get(ev.action, "NORMAL")
    return d


def _auth(ev: HostEvent) -> dict[str, Any]:
    d = _common(ev, category="authentication")
    d.update({
        "EventType": ev.action,
        "User": ev.user or ev.target_user,
        "TargetUser": ev.target_user,
        "SourceIp": ev.src_ip,
        "SourcePort": ev.src_port,
        "AuthMethod": ev.auth_method,
        "KeyFingerprint": ev.key_fingerprint,
        "Outcome": "success" if ev.success else ("failure" if ev.success is False else ""),
        "Image": ev.exe,
        "RecentFailures": 0,
    })
    return d


def _privilege(ev: HostEvent) -> dict[str, Any]:
    d = _common(ev, category="privilege_change")
    d.update({
        "EventType": ev.action,
        "TargetUser": ev.target_user,
        "Image": ev.exe,
        "CommandLine": _cmdline(ev.argv),
        "ParentImage": ev.parent_exe,
        "Outcome": "failure" if ev.extra.get("failed") else "success",
    })
    return d


def _transfer(ev: HostEvent) -> dict[str, Any]:
    d = _network(ev)
    d["logsource_category"] = "network_transfer"
    return d


class AuthContext:
    """Recent SSH login failures per (host, source address) and per (host, user), so a successful login
    view can carry `RecentFailures` (failures from that address or for that user within `window` seconds).
    A single-event rule then expresses "brute force followed by a success". Bounded LRU."""

    def __init__(self, window: float = 600.0, max_keys: int = 50_000) -> None:
        from collections import OrderedDict, deque

        self.window = window
        self.max_keys = max_keys
        self._deque = deque
        self._fail: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def _times(self, key: tuple[str, str], now: float) -> Any:
        q = self._fail.get(key)
        if q is None:
            q = self._deque(maxlen=1000)
            self._fail[key] = q
            while len(self._fail) > self.max_keys:
                self._fail.popitem(last=False)
        self._fail.move_to_end(key)
        while q and now - q[0] > self.window:
            q.popleft()
        return q

    def annotate(self, ev: HostEvent, view: dict[str, Any]) -> None:
        if ev.kind != "auth" or ev.action not in ("login_failure", "login_success"):
            return
        keys = []
        if ev.src_ip:
            keys.append((ev.host_id, "ip:" + ev.src_ip))
        user = ev.user or ev.target_user
        if user:
            keys.append((ev.host_id, "user:" + user))
        if ev.action == "login_failure":
            for k in keys:
                self._times(k, ev.time).append(ev.time)
            return
        view["RecentFailures"] = max((len(self._times(k, ev.time)) for k in keys), default=0)
        for k in keys:  # a success ends the streak
            self._fail.pop(k, None)


def to_sigma(ev: HostEvent, auth_ctx: AuthContext | None = None) -> list[dict[str, Any]]:
    """All Sigma views of one host event (see module docstring)."""
    views = _views(ev)
    if auth_ctx is not None and ev.kind == "auth":
        for v in views:
            auth_ctx.annotate(ev, v)
    return views


def _views(ev: HostEvent) -> list[dict[str, Any]]:
    from_audit = ev.source in ("audit", "replay") and "audit_serial" in ev.extra
    if ev.kind == "process":
        if ev.action != "exec":
            return []
        views = [_process(ev)]
        if from_audit:
            views += [_auditd_execve(ev), _auditd_syscall(ev)]
        return views
    if ev.kind == "network":
        views = [_network(ev)]
        if from_audit:
            views.append(_auditd_syscall(ev))
        return views
    if ev.kind == "file":
        views = [_file(ev)]
        if from_audit:
            views.append(_auditd_path(ev))
        return views
    if ev.kind == "auth":
        return [_auth(ev)]
    if ev.kind == "privilege":
        return [_privilege(ev)]
    if ev.kind == "transfer":
        return [_transfer(ev)]
    return []


def view_matches_logsource(view: Mapping[str, Any], product: str | None, category: str | None, service: str | None) -> bool:
    """Does a rule with this logsource apply to the view? The engine matches on fields only, so the
    ingest path uses this to keep, e.g., a process_creation rule from firing on a network view that
    happens to share the Image field."""
    if product and product.lower() != "linux":
        return False
    if category:
        return bool(view.get("logsource_category") == category.lower())
    if service:
        return bool(view.get("logsource_service") == service.lower())
    return True
