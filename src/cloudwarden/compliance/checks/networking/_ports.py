"""Pure reasoning over security group permissions and network ACL entries: which ports are open to the
whole internet (0.0.0.0/0 or ::/0)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ANY_V4 = "0.0.0.0/0"
ANY_V6 = "::/0"
ADMIN_PORTS = (22, 3389)  # SSH, RDP: the remote server administration ports CIS names
CIFS_PORTS = (445,)  # SMB/CIFS

# CIS counts TCP (6), UDP (17) and all-protocols (-1) rules: RDP also listens on UDP 3389.
_PORTED = ("tcp", "6", "udp", "17")
_ALL = ("-1", "all")


def _covers(protocol: str, from_port: Any, to_port: Any, port: int) -> bool:
    protocol = str(protocol).lower()
    if protocol in _ALL:
        return True
    if protocol not in _PORTED:
        return False  # ICMP and other protocols have no ports
    if from_port is None or to_port is None:
        return True  # a TCP/UDP rule without ports means every port
    lo, hi = int(from_port), int(to_port)
    if lo == -1 and hi == -1:
        return True
    return lo <= port <= hi


@dataclass(frozen=True)
class Exposure:
    port: int
    source: str  # 0.0.0.0/0 or ::/0
    rule: str  # human-readable rule


def sg_exposures(group: dict[str, Any], ports: Iterable[int], sources: Iterable[str],
                 prefix_lists: Mapping[str, list[str] | str] | None = None) -> list[Exposure]:
    """Ingress rules of a security group that open any of `ports` to any of the `sources` ranges, directly or
    through a managed prefix list holding that range (`prefix_lists`: id -> CIDRs, as the ec2 collector
    stores them; a list not readable there is `unresolved_prefix_lists`' business)."""
    wanted = set(sources)
    ports = tuple(ports)
    out: list[Exposure] = []
    for perm in group.get("IpPermissions") or []:
        ranges: list[tuple[Any, str]] = [(r.get("CidrIp"), "") for r in perm.get("IpRanges") or []]
        ranges += [(r.get("CidrIpv6"), "") for r in perm.get("Ipv6Ranges") or []]
        for ref in perm.get("PrefixListIds") or []:
            pid = str(ref.get("PrefixListId"))
            cidrs = (prefix_lists or {}).get(pid)
            if isinstance(cidrs, list):
                ranges += [(c, f"prefix list {pid} holding ") for c in cidrs]
        for src, via in ranges:
            if src not in wanted:
                continue
            for port in ports:
                if _covers(perm.get("IpProtocol", ""), perm.get("FromPort"), perm.get("ToPort"), port):
                    proto = perm.get("IpProtocol")
                    span = "all ports" if str(proto) in _ALL else f"{perm.get('FromPort')}-{perm.get('ToPort')}"
                    out.append(Exposure(port, str(src), f"{proto} {span} from {via}{src}"))
    return out


def unresolved_prefix_lists(group: dict[str, Any], ports: Iterable[int],
                            prefix_lists: Mapping[str, list[str] | str] | None,
                            missing: str = "") -> dict[str, str]:
    """Prefix lists named by ingress rules covering any of `ports` whose entries are unknown: id -> why (the
    read failed, or the lists were not collected: `missing` says why, when known). Such a rule may open the
    port to anyone."""
    ports = tuple(ports)
    out: dict[str, str] = {}
    for perm in group.get("IpPermissions") or []:
        if not any(_covers(perm.get("IpProtocol", ""), perm.get("FromPort"), perm.get("ToPort"), p) for p in ports):
            continue
        for ref in perm.get("PrefixListIds") or []:
            pid = str(ref.get("PrefixListId"))
            got = None if prefix_lists is None else prefix_lists.get(pid)
            if not isinstance(got, list):
                out[pid] = f"reading it failed: {got}" if isinstance(got, str) else missing or "its entries were not collected"
    return out


def nacl_exposures(acl: dict[str, Any], ports: Iterable[int], sources: Iterable[str]) -> list[Exposure]:
    """Ports that the NACL's inbound rules, evaluated in rule-number order, let in from the whole internet.

    Only rules whose source is the whole internet decide here: the first such rule covering the port wins
    (a lower-numbered deny shields a later allow)."""
    inbound = sorted((e for e in acl.get("Entries") or [] if not e.get("Egress")), key=lambda e: int(e.get("RuleNumber", 0)))
    out: list[Exposure] = []
    for src in sources:
        for port in ports:
            for e in inbound:
                if (e.get("CidrBlock") if src == ANY_V4 else e.get("Ipv6CidrBlock")) != src:
                    continue
                rng = e.get("PortRange") or {}
                if not _covers(e.get("Protocol", ""), rng.get("From"), rng.get("To"), port):
                    continue
                if e.get("RuleAction") == "allow":
                    out.append(Exposure(port, src, f"rule {e.get('RuleNumber')} allows port {port} from {src}"))
                break
    return out
