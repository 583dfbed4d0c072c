"""Pure DNS-answer handling: IP/UDP framing, a small DNS response parser, and a bounded ip -> name map.

Only what naming a network peer needs: the question name, and A/AAAA/CNAME answers. An address is
mapped to the name the client asked for (following CNAMEs from it), since that is the name its
connection was made to (`www.example.com`, not the CDN's `edge-12.cdn.net`). Everything read from the
wire is attacker-controlled: every offset is checked, compression pointers are bounded in number and
must point backwards, names are bounded to 255 bytes, and a malformed packet raises `DnsFormatError`
(a ValueError) and nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass

TYPE_A = 1
TYPE_CNAME = 5
TYPE_AAAA = 28
MAX_NAME = 255
MAX_POINTERS = 16
MAX_RECORDS = 64  # answers read per response; a real response rarely has more than a dozen
_HDR = struct.Struct(">HHHHHH")
_RR = struct.Struct(">HHIH")  # type class ttl rdlength


class DnsFormatError(ValueError):
    """A packet that is not a well-formed DNS response."""


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    ip: str
    name: str  # the question name (or the record owner when no question leads to it)
    ttl: int


def read_name(msg: bytes, off: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at `off`: (lower-case dotted name, offset after it)."""
    labels: list[str] = []
    total = 0
    jumps = 0
    end = -1
    pos = off
    while True:
        if pos >= len(msg):
            raise DnsFormatError(f"name runs past the end at {pos}")
        ln = msg[pos]
        if ln & 0xC0 == 0xC0:
            if pos + 1 >= len(msg):
                raise DnsFormatError("truncated compression pointer")
            target = ((ln & 0x3F) << 8) | msg[pos + 1]
            if end < 0:
                end = pos + 2
            # Pointers must go strictly backwards: loops become impossible, and the jump count bounds work.
            if target >= pos or jumps >= MAX_POINTERS:
                raise DnsFormatError(f"bad compression pointer at {pos}")
            jumps += 1
            pos = target
            continue
        if ln & 0xC0:
            raise DnsFormatError(f"reserved label type at {pos}")
        if ln == 0:
            if end < 0:
                end = pos + 1
            break
        if pos + 1 + ln > len(msg):
            raise DnsFormatError(f"label runs past the end at {pos}")
        total += ln + 1
        if total > MAX_NAME:
            raise DnsFormatError("name longer than 255 bytes")
        labels.append(msg[pos + 1 : pos + 1 + ln].decode("ascii", "replace").lower())
        pos += 1 + ln
    return ".".join(labels), end


def parse_response(msg: bytes) -> list[DnsAnswer]:
    """A/AAAA answers of a DNS response, each named by the question it answers (CNAMEs followed)."""
    if len(msg) < _HDR.size:
        raise DnsFormatError("shorter than a DNS header")
    _id, flags, qd, an, _ns, _ar = _HDR.unpack_from(msg, 0)
    if not flags & 0x8000:
        raise DnsFormatError("not a response")
    if flags & 0x000F:  # rcode != NOERROR: no answers worth keeping
        return []
    if qd > 4:
        raise DnsFormatError(f"{qd} questions")
    off = _HDR.size
    questions: list[str] = []
    for _ in range(qd):
        name, off = read_name(msg, off)
        if off + 4 > len(msg):
            raise DnsFormatError("truncated question")
        off += 4
        questions.append(name)
    cname: dict[str, str] = {}  # alias owner -> target
    addrs: list[tuple[str, str, int]] = []  # (owner, ip, ttl)
    for _ in range(min(an, MAX_RECORDS)):
        owner, off = read_name(msg, off)
        if off + _RR.size > len(msg):
            raise DnsFormatError("truncated resource record")
        rtype, rclass, ttl, rdlen = _RR.unpack_from(msg, off)
        off += _RR.size
        if off + rdlen > len(msg):
            raise DnsFormatError("record data runs past the end")
        rdata = msg[off : off + rdlen]
        if rclass == 1 and rtype == TYPE_A and rdlen == 4:
            addrs.append((owner, socket.inet_ntop(socket.AF_INET, rdata), ttl))
        elif rclass == 1 and rtype == TYPE_AAAA and rdlen == 16:
            addrs.append((owner, str(ipaddress.IPv6Address(rdata)), ttl))
        elif rclass == 1 and rtype == TYPE_CNAME:
            target, _ = read_name(msg, off)
            if len(cname) < MAX_RECORDS:
                cname[owner] = target
        off += rdlen
    # Each name reachable from a question (through at most MAX_RECORDS CNAME hops) maps back to it.
    origin: dict[str, str] = {}
    for q in questions:
        n, hops = q, 0
        while n not in origin and hops <= MAX_RECORDS:
            origin[n] = q
            if n not in cname:
                break
            n, hops = cname[n], hops + 1
    return [DnsAnswer(ip, origin.get(owner, owner), ttl) for owner, ip, ttl in addrs]


def udp_payload(packet: bytes | memoryview, ports: Container[int]) -> bytes | None:
    """The UDP payload of an IPv4/IPv6 packet (no link header) whose source port is one of `ports`."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20 or packet[9] != 17 or len(packet) < ihl + 8:
            return None
        frag = struct.unpack_from(">H", packet, 6)[0]
        if frag & 0x3FFF:  # a fragment (MF set or offset > 0): not reassembled, not parsed
            return None
        total = min(struct.unpack_from(">H", packet, 2)[0], len(packet))
        udp = ihl
    elif version == 6:
        if len(packet) < 48 or packet[6] != 17:  # extension headers are not walked
            return None
        total = min(40 + struct.unpack_from(">H", packet, 4)[0], len(packet))
        udp = 40
    else:
        return None
    sport, _dport, ulen = struct.unpack_from(">HHH", packet, udp)
    if sport not in ports or ulen < 8:
        return None
    return bytes(packet[udp + 8 : min(udp + ulen, total)])


class DnsCache:
    """ip -> name, bounded (LRU) and expiring. Entries live at least `min_ttl`: clients cache answers and
    connect later, and a short TTL must not hide the name of a connection made a minute after lookup."""

    def __init__(self, max_entries: int = 8192, min_ttl: float = 300.0, max_ttl: float = 3600.0) -> None:
        self.max_entries = max_entries
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self._d: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def put(self, ip: str, name: str, ttl: float, now: float | None = None) -> None:
        if not name:
            return
        expires = (now if now is not None else time.monotonic()) + min(max(ttl, self.min_ttl), self.max_ttl)
        with self._lock:
            self._d[ip] = (name, expires)
            self._d.move_to_end(ip)
            while len(self._d) > self.max_entries:
                self._d.popitem(last=False)
                self.evicted += 1

    def lookup(self, ip: str, now: float | None = None) -> str:
        if not ip:
            return ""
        with self._lock:
            hit = self._d.get(ip)
            if hit is None:
                return ""
            if hit[1] < (now if now is not None else time.monotonic()):
                del self._d[ip]
                return ""
            return hit[0]

    def __len__(self) -> int:
        return len(self._d)
