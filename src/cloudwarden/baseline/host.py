"""Host behaviour baseline: Polygraph-like behaviour graphs per machine and per group of machines.

Each `HostEvent` becomes an edge of one of the graphs (application launch parent→child, application
communication process→destination, machine communication host→host, machine servers process:port,
privilege changes user→user via exe, interactive users user:command and SSH hops, data volume out per
process and destination). Machines are clustered by their edges (`peers.cluster`); an edge is anomalous
only when no machine of the group ever had it. Deviations in one window are partitioned by the set of
machines showing them, so one new behaviour on the five web servers is one alert listing the five.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from cloudwarden.baseline import peers as peer_mod
from cloudwarden.baseline.features import DAY, hour_bucket
from cloudwarden.baseline.scoring import Incident, Signal, score, to_alert
from cloudwarden.baseline.stats import new_record, touch
from cloudwarden.models.alert import Alert
from cloudwarden.models.host_event import HostEvent

SEP = "|"
_SUSPECT_DIR = re.compile(r"^(/tmp/|/var/tmp/|/dev/shm/|/run/user/)|/\.[^/]+/")
_SERVER_EXE = re.compile(r"(nginx|apache2|httpd|python[0-9.]*|node|java|php[-\w]*|postgres|mysqld|redis-server|gunicorn|uwsgi|ruby)$")
_SHELLS = {"/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/sh", "/bin/dash", "/usr/bin/dash", "/bin/zsh"}
_SYSTEM = re.compile(r"^/(usr/)?s?bin/")
_HOST_DST = re.compile(r"host ([^:>]+):\d+$")
_COMMON_PORTS = {22, 53, 80, 123, 443, 5432, 3306, 6379, 9100}

KIND_TEXT = {
    "launch": "launched {v}",
    "comm": "talked to {v}",
    "machine": "connected to machine {v}",
    "server": "listened on {v}",
    "inbound": "accepted connections {v}",
    "priv": "changed privilege {v}",
    "interactive": "saw interactive command {v}",
    "login": "accepted an SSH login {v}",
    "file": "wrote {v}",
}
KIND_FAMILY = {"launch": "launch", "comm": "comm", "machine": "comm", "server": "server", "inbound": "comm",
               "priv": "priv", "interactive": "interactive", "login": "interactive", "file": "file"}
CLUSTER_KINDS = ("launch", "server", "comm", "machine", "inbound")


@dataclass
class HostConfig:
    learning_days: float = 7.0
    grace_hours: float = 24.0
    min_score: float = 0.3
    incident_gap: float = 3600.0
    recluster_hours: float = 24.0
    max_items_per_host: int = 4000
    max_volume_keys: int = 2000
    max_hosts: int = 100_000
    retention_days: float = 90.0
    volume_factor: float = 10.0  # an hour's bytes above this × the largest hour seen is a spike
    volume_floor: float = 100e6  # and never below this many bytes
    join_similarity: float = 0.5  # a new host joins the group it resembles this much (cosine)
    cluster_distance: float = 0.6


def _dst(e: HostEvent) -> str:
    port = e.dst_port
    if e.dns_name:
        return f"{e.dns_name}:{port}"
    try:
        addr = ipaddress.ip_address(e.dst_ip)
    except ValueError:
        return f"{e.dst_ip}:{port}"
    if addr.is_private or addr.is_loopback or addr.is_link_local:
        return f"{e.dst_ip}:{port}"
    net = ipaddress.ip_network(f"{e.dst_ip}/24", strict=False) if addr.version == 4 else ipaddress.ip_network(f"{e.dst_ip}/48", strict=False)
    return f"{net}:{port}"


def _internal(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return a.is_private or a.is_loopback


def items_of(e: HostEvent) -> list[tuple[str, str, float]]:
    """(kind, value, sensitivity) edges one host event contributes."""
    out: list[tuple[str, str, float]] = []
    if e.kind == "process" and e.action == "exec" and e.exe:
        parent = e.parent_exe or (e.ancestors[0] if e.ancestors else "?")
        if _SUSPECT_DIR.search(e.exe):
            sens = 1.0
        elif parent in _SHELLS and any(_SERVER_EXE.search(a or "") for a in e.ancestors[1:3]) and e.exe not in _SHELLS:
            sens = 0.6  # a command run by a shell a server spawned
        elif _SERVER_EXE.search(parent) and e.exe in _SHELLS:
            sens = 0.9  # a server process starting a shell
        elif parent in _SHELLS and _SYSTEM.match(e.exe):
            sens = 0.3
        else:
            sens = 0.5
        out.append(("launch", f"{parent}>{e.exe}", sens))
        if 1000 <= e.auid < 4294967295:
            out.append(("interactive", f"{e.user}:{os.path.basename(e.exe)}", 0.3))
    elif e.kind == "network":
        if e.direction == "outbound" or e.action == "connect":
            port = e.dst_port
            external = e.external if e.external is not None else not _internal(e.dst_ip)
            sens = (0.8 if port not in _COMMON_PORTS else 0.6) if external else 0.4
            out.append(("comm", f"{e.exe}>{_dst(e)}", sens))
            if not external and e.dst_ip:
                out.append(("machine", f"{e.dst_ip}:{port}", 0.5))
        elif e.direction == "listen" or e.action == "listen":
            out.append(("server", f"{e.exe}:{e.src_port or e.dst_port}", 0.6))
        elif e.direction == "inbound" or e.action == "accept":
            src = e.src_ip if _internal(e.src_ip) else "external"
            out.append(("inbound", f"{e.exe}:{e.dst_port}<{src}", 0.4))
    elif e.kind == "privilege":
        out.append(("priv", f"{e.user or e.uid}>{e.target_user or e.euid} via {e.exe}", 0.8))
    elif e.kind == "auth" and e.action == "login_success":
        src = e.src_ip if _internal(e.src_ip) else "external"
        out.append(("login", f"{e.user}<{src}", 0.7 if src != "external" else 0.5))
    elif e.kind == "file" and e.path:
        out.append(("file", f"{e.exe}>{os.path.dirname(e.path)}", 0.7))
    return out


class HostProfile:
    __slots__ = ("expected", "first", "grace_until", "group", "items", "last", "name", "volumes")

    def __init__(self, name: str, ts: float) -> None:
        self.name = name
        self.items: dict[str, list[Any]] = {}
        self.expected: set[str] = set()
        self.volumes: OrderedDict[str, list[float]] = OrderedDict()  # key -> [max bytes/hour, hour, sum this hour]
        self.first = ts
        self.last = ts
        self.grace_until = 0.0
        self.group: int | None = None

    def vector(self) -> dict[str, float]:
        return {k: float(v[3]) for k, v in self.items.items() if k.split(SEP, 1)[0] in CLUSTER_KINDS}

    def to_state(self) -> dict[str, Any]:
        return {"items": self.items, "expected": sorted(self.expected), "volumes": dict(self.volumes),
                "first": self.first, "last": self.last, "grace_until": self.grace_until, "group": self.group}

    @classmethod
    def from_state(cls, name: str, d: dict[str, Any]) -> HostProfile:
        p = cls(name, d["first"])
        p.items = {k: list(v) for k, v in d["items"].items()}
        p.expected = set(d.get("expected", []))
        p.volumes = OrderedDict((k, list(v)) for k, v in d.get("volumes", {}).items())
        p.last, p.grace_until, p.group = d["last"], d.get("grace_until", 0.0), d.get("group")
        return p


class HostBaseline:
    def __init__(self, config: HostConfig | None = None) -> None:
        self.cfg = config or HostConfig()
        self.started: float | None = None
        self.now = 0.0
        self.events = 0
        self.hosts: OrderedDict[str, HostProfile] = OrderedDict()
        self.ip_host: dict[str, str] = {}
        self.groups: dict[str, int] = {}
        self.members: dict[int, list[str]] = {}
        self.clustered_at = 0.0
        self.silhouette: float | None = None
        self.open: dict[str, Incident] = {}
        self.closed: list[tuple[Alert, Incident]] = []
        self.suppressed = 0
        self._last_hour = -1

    @property
    def learning(self) -> bool:
        return self.started is None or self.now < self.started + self.cfg.learning_days * DAY

    def learning_ends(self) -> float | None:
        return None if self.started is None else self.started + self.cfg.learning_days * DAY

    # ------------------------------------------------------------------ public
    def process(self, e: HostEvent) -> None:
        ts = float(e.time)
        if self.started is None:
            self.started = ts
        self.now = max(self.now, ts)
        self.events += 1
        hour = hour_bucket(ts)
        if hour != self._last_hour:
            self._last_hour = hour
            self._hourly(ts)
        learning = self.learning
        p = self.hosts.get(e.host_id)
        if p is None:
            p = self.hosts[e.host_id] = HostProfile(e.host_id, ts)
            if not learning:
                p.grace_until = ts + self.cfg.grace_hours * 3600
            while len(self.hosts) > self.cfg.max_hosts:
                self.hosts.popitem(last=False)
        else:
            self.hosts.move_to_end(e.host_id)
        p.last = ts
        if e.kind == "network" and e.src_ip and (e.direction == "outbound" or e.action == "connect") and _internal(e.src_ip):
            if len(self.ip_host) < self.cfg.max_hosts * 4 or e.src_ip in self.ip_host:
                self.ip_host[e.src_ip] = e.host_id  # learn the fleet's addresses from its own connections
        for kind, value, sens in items_of(e):
            if kind in ("machine", "comm") and e.dst_ip in self.ip_host:
                value = self._peer_label(kind, value, e)
            self._item(p, kind, value, sens, e, ts, learning)
        if e.kind == "transfer" and e.bytes_out > 0:
            self._volume(p, e, ts, learning)

    def flush(self) -> list[tuple[Alert, Incident]]:
        self._close_quiet(None)
        out, self.closed = self.closed, []
        return out

    def recluster(self) -> None:
        vectors = {n: p.vector() for n, p in self.hosts.items()}
        self.groups = peer_mod.cluster(vectors, self.cfg.cluster_distance)
        self.silhouette = peer_mod.quality(vectors, self.groups)
        self.members = {}
        for name, g in sorted(self.groups.items()):
            self.members.setdefault(g, []).append(name)
        for name, p in self.hosts.items():
            p.group = self.groups.get(name)
        self.clustered_at = self.now

    def group_name(self, group: int | None) -> str:
        if group is None:
            return ""
        members = self.members.get(group, [])
        prefix = os.path.commonprefix(members).rstrip("-_0123456789.") if members else ""  # noqa: RUF071  (host names, not paths)
        return prefix or f"group-{group}"

    def teach(self, entity: str, items: list[str], scope: str = "entity") -> int:
        names = [entity]
        if entity.startswith("group:"):
            gname = entity[6:]
            names = [m for g, ms in self.members.items() if self.group_name(g) == gname for m in ms]
        elif scope == "group":
            p = self.hosts.get(entity)
            if p is not None and p.group is not None:
                names = list(self.members.get(p.group, [entity]))
        n = 0
        for name in names:
            hp = self.hosts.get(name)
            if hp is None:
                continue
            n += 1
            for item in items:
                hp.expected.add(item)
                hp.items.setdefault(item, new_record(self.now or 0.0))
        return n

    def status(self) -> dict[str, Any]:
        return {
            "learning": self.learning, "learning_ends": self.learning_ends(), "events": self.events,
            "hosts": len(self.hosts), "groups": len(self.members),
            "silhouette": None if self.silhouette is None else round(self.silhouette, 3),
            "group_sizes": {self.group_name(g): len(ms) for g, ms in sorted(self.members.items())},
            "items": sum(len(p.items) for p in self.hosts.values()),
        }

    # ------------------------------------------------------------------ internals
    def _hourly(self, ts: float) -> None:
        ends = self.learning_ends()
        if ends is not None and ts >= ends and (not self.members or ts - self.clustered_at >= self.cfg.recluster_hours * 3600):
            self.recluster()
        if int(ts // 3600) % 24 == 0:
            cutoff = ts - self.cfg.retention_days * DAY
            for name in list(self.hosts):
                hp = self.hosts[name]
                if hp.last < cutoff:
                    del self.hosts[name]
                    continue
                for k in [k for k, v in hp.items.items() if v[1] < cutoff and k not in hp.expected]:
                    del hp.items[k]
        self._close_quiet(ts)

    def _peer_label(self, kind: str, value: str, e: HostEvent) -> str:
        """Destinations inside the fleet are named by host, so the edge survives reclustering."""
        host = self.ip_host[e.dst_ip]
        if kind == "machine":
            return f"host {host}:{e.dst_port}"
        return f"{e.exe}>host {host}:{e.dst_port}"

    def _equivalents(self, key: str) -> list[str]:
        """Machine communication is between groups of machines (Polygraph draws it by cluster): talking to
        web-3 when this machine or its group always talked to web-1..5 is nothing new."""
        m = _HOST_DST.search(key)
        if m is None:
            return [key]
        dst = self.hosts.get(m.group(1))
        if dst is None or dst.group is None:
            return [key]
        return [key[: m.start(1)] + other + key[m.end(1):] for other in self.members.get(dst.group, [m.group(1)])]

    def _group_of(self, p: HostProfile) -> int | None:
        if p.group is None and self.members and p.name not in self.groups:
            g, sim = peer_mod.nearest(p.vector(), {n: h.vector() for n, h in self.hosts.items() if n in self.groups}, self.groups)
            if g is not None and sim >= self.cfg.join_similarity:
                return g
        return p.group

    def _group_has(self, p: HostProfile, key: str, group: int | None, ts: float) -> tuple[int, int]:
        """How many other members know `key`. A member that picked it up within the incident window is
        itself deviating, not evidence of normality: the behaviour joins that open incident instead."""
        if group is None:
            return 0, 0
        others = [m for m in self.members.get(group, []) if m != p.name]
        n = 0
        recent = ts - self.cfg.incident_gap
        for m in others:
            hp = self.hosts.get(m)
            if hp is None:
                continue
            if key in hp.expected:
                n += 1
                continue
            rec = hp.items.get(key)
            if rec is not None and rec[0] < recent:
                n += 1
        return n, len(others)

    def _item(self, p: HostProfile, kind: str, value: str, sens: float, e: HostEvent, ts: float, learning: bool) -> None:
        key = f"{kind}{SEP}{value}"
        rec = p.items.get(key)
        if rec is not None:
            touch(rec, ts)
            return
        p.items[key] = new_record(ts)
        if len(p.items) > self.cfg.max_items_per_host:
            victims = sorted((v[1], k) for k, v in p.items.items() if k not in p.expected)
            for _, k in victims[: max(1, len(p.items) // 10)]:
                del p.items[k]
        if learning or key in p.expected:
            return
        keys = self._equivalents(key)
        if len(keys) > 1 and any(k in p.items and p.items[k][0] < ts for k in keys if k != key):
            return  # it already talks to that group of machines
        group = self._group_of(p)
        with_it, total = 0, 0
        for k in keys:
            w, total = self._group_has(p, k, group, ts)
            with_it += w
        if with_it:
            return  # known to the group: a member doing what its peers do is not news
        strength = 1.0
        if ts < p.grace_until:
            strength = 0.5
        text = KIND_TEXT[kind].format(v=value.replace(">", " → ").replace("<", " from "))
        if total:
            text += f" (new to all {total + 1} hosts of group {self.group_name(group)})"
        self._signal(p, group, Signal(KIND_FAMILY[kind], f"first-seen:host-{kind}", (kind, value), sens, strength, text, ts,
                                      e.event_id, peers=total, peers_with=0,
                                      baseline=f"{sum(1 for k in p.items if k.startswith(kind + SEP)) - 1} known {kind} edges"),
                     e)

    def _volume(self, p: HostProfile, e: HostEvent, ts: float, learning: bool) -> None:
        key = f"{e.exe}>{_dst(e)}"
        hour = float(hour_bucket(ts))
        v = p.volumes.get(key)
        if v is None:
            v = p.volumes[key] = [0.0, hour, 0.0]
            while len(p.volumes) > self.cfg.max_volume_keys:
                p.volumes.popitem(last=False)
        else:
            p.volumes.move_to_end(key)
        if v[1] != hour:
            v[0] = max(v[0], v[2])
            v[1], v[2] = hour, 0.0
        before = v[2]
        v[2] += e.bytes_out
        limit = max(self.cfg.volume_factor * v[0], self.cfg.volume_floor)
        if learning or f"volume{SEP}{key}" in p.expected or not (before <= limit < v[2]):
            return
        group = self._group_of(p)
        peer_max = max((self.hosts[m].volumes.get(key, [0.0])[0] for m in self.members.get(group, []) if m in self.hosts and m != p.name),
                       default=0.0) if group is not None else 0.0
        if v[2] <= self.cfg.volume_factor * peer_max:
            return
        usual = max(v[0], peer_max)
        self._signal(p, group, Signal("volume", "volume:host-bytes-out", ("volume", key), 0.7, 1.0,
                                      f"sent {_human(v[2])} in an hour from {key.replace('>', ' to ')} "
                                      f"(largest hour before: {_human(usual)})", ts, e.event_id,
                                      baseline=f"max {_human(usual)}/hour"), e)

    def _signal(self, p: HostProfile, group: int | None, sig: Signal, e: HostEvent) -> None:
        gkey = f"g{group}" if group is not None and len(self.members.get(group, [])) > 1 else f"h{p.name}"
        inc = self.open.get(gkey)
        if inc is not None and sig.time - inc.last > self.cfg.incident_gap:
            del self.open[gkey]
            self._close(inc)
            inc = None
        if inc is None:
            gname = self.group_name(group) if group is not None else ""
            inc = self.open[gkey] = Incident("baseline-host", p.name, f"host {p.name}", host=p.name, group=gname,
                                             group_size=len(self.members.get(group, [])) if group is not None else 1)
        inc.members.append(p.name)  # parallel to signals: which host showed it
        inc.signals.append(sig)
        if len(inc.event_ids) < 1000:
            inc.event_ids.append(e.event_id)

    def _close_quiet(self, until: float | None) -> None:
        for key in list(self.open):
            inc = self.open[key]
            if until is None or inc.last < until - self.cfg.incident_gap:
                del self.open[key]
                self._close(inc)

    def _close(self, inc: Incident) -> None:
        """Split a group's window of deviations by the set of hosts that showed each behaviour."""
        hosts_by_item: dict[tuple[str, ...], set[str]] = {}
        for host, sig in zip(inc.members, inc.signals, strict=True):
            hosts_by_item.setdefault(sig.item, set()).add(host)
        parts: dict[frozenset[str], list[int]] = {}
        for i, sig in enumerate(inc.signals):
            parts.setdefault(frozenset(hosts_by_item[sig.item]), []).append(i)
        for hosts, idx in sorted(parts.items(), key=lambda kv: sorted(kv[0])):
            sigs = [inc.signals[i] for i in idx]
            value = score(sigs)
            if value < self.cfg.min_score:
                self.suppressed += 1
                continue
            members = sorted(hosts)
            sub = Incident("baseline-host", members[0] if len(members) == 1 else f"group:{inc.group}",
                           f"host {members[0]}" if len(members) == 1 else f"group {inc.group}",
                           host=members[0] if len(members) == 1 else "", group=inc.group, group_size=inc.group_size,
                           members=members if len(members) > 1 else [], signals=sigs,
                           event_ids=[inc.signals[i].event_id for i in idx if inc.signals[i].event_id])
            self.closed.append((to_alert(sub, value, int(self.cfg.incident_gap)), sub))

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        return {"config": self.cfg.__dict__, "started": self.started, "now": self.now, "events": self.events,
                "hosts": {n: p.to_state() for n, p in self.hosts.items()}, "groups": self.groups,
                "clustered_at": self.clustered_at, "suppressed": self.suppressed, "ip_host": self.ip_host,
                "silhouette": self.silhouette}

    @classmethod
    def from_state(cls, d: dict[str, Any], config: HostConfig | None = None) -> HostBaseline:
        cfg = config or HostConfig(**{k: v for k, v in d.get("config", {}).items() if k in HostConfig.__dataclass_fields__})
        b = cls(cfg)
        b.started, b.now, b.events = d["started"], d["now"], d["events"]
        for n, hd in d["hosts"].items():
            b.hosts[n] = HostProfile.from_state(n, hd)
        b.groups = {k: int(v) for k, v in d["groups"].items()}
        for name, g in sorted(b.groups.items()):
            b.members.setdefault(g, []).append(name)
        b.clustered_at = d["clustered_at"]
        b.suppressed = d.get("suppressed", 0)
        b.ip_host = dict(d.get("ip_host", {}))
        b.silhouette = d.get("silhouette")
        b._last_hour = hour_bucket(b.now) if b.now else -1
        return b


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"
