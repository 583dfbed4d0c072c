"""DNS answers seen on the wire name the addresses of later connections (`HostEvent.dns_name`).

An AF_PACKET socket (root, no kernel module) with a classic socket filter (`host.socket_filter`, cBPF,
not eBPF) receives only UDP from source port 53 (which also covers systemd-resolved answering on
127.0.0.53) or the configured ports; where the kernel refuses the filter, every packet is read and the
same test runs in user space (`host.dns.udp_payload` runs in both cases). `host.dns` parses the answers into a bounded, expiring
ip -> name map that the agent consults for every network and transfer event (audit and sock_diag alike).
Bounded: the socket's receive buffer is fixed (the kernel drops what does not fit, and says how many
through PACKET_STATISTICS), one read buffer, a bounded map, and a packet-rate budget (`max_pps`): every
packet costs a wake-up in Python, so under a flood the observer sleeps out the rest of its time slice and
lets the kernel drop (counted in `lost`, slices in `extra.throttled`) rather than take a core. Outgoing
packets are not delivered at all where the kernel has PACKET_IGNORE_OUTGOING (4.20+), else skipped after
reading: each answer is seen once, when it arrives. This source emits no events of its own.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Iterable

from cloudwarden.host.dns import DnsCache, DnsFormatError, parse_response, udp_payload
from cloudwarden.host.socket_filter import attach, dns_answer_filter
from cloudwarden.host.sources.base import Emit, Source

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
SLICE = 0.1  # seconds per packet budget slice
RCVBUF = 1 << 20
READ_BUF = 65536


class DnsObserver(Source):
    name = "dns"
    kinds: tuple[str, ...] = ()

    def __init__(self, cache: DnsCache | None = None, ports: Iterable[int] = (53,), interface: str = "",
                 max_pps: int = 20000) -> None:
        super().__init__()
        self.cache = cache or DnsCache()
        self.ports = frozenset(ports)
        self.interface = interface  # "" = every interface
        self.max_pps = max_pps
        self._described = f"AF_PACKET, UDP source ports {','.join(map(str, sorted(self.ports)))}"
        self.chosen = self._described
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.kernel_filter = False  # whether the cBPF filter is attached to the open socket
        self.packets_read = 0  # wake-ups paid in Python: with the kernel filter, only DNS answers

    def _open(self) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            try:
                s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:
                pass  # older kernel: outgoing copies are skipped after reading
            if self.interface:
                s.bind((self.interface, ETH_P_ALL))
        except OSError:
            s.close()
            raise
        try:
            attach(s, dns_answer_filter(self.ports))
            self.kernel_filter = True
            self.chosen = f"{self._described}, kernel socket filter"
        except (OSError, ValueError) as exc:
            self.kernel_filter = False
            self.stats.extra["kernel_filter_error"] = 1
            self.chosen = f"{self._described} (filtering in user space: {exc})"
        else:
            # Packets queued between socket() and the attach bypassed the filter; the user-space check
            # still applies to them, so they are harmless, but drain them to start clean. Bounded: under a
            # flood of DNS answers the queue never empties, and the observer must start anyway.
            for _ in range(RCVBUF // 64):
                try:
                    s.recv(READ_BUF, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
        return s

    def probe(self) -> str | None:
        try:
            self._open().close()
        except OSError as exc:
            return f"AF_PACKET not permitted: {exc.strerror or exc}; network events will carry no DNS name"
        return None

    def feed(self, packet: bytes | memoryview) -> int:
        """One IP packet: how many addresses it named. Malformed answers are counted, never raised."""
        payload = udp_payload(packet, self.ports)
        if payload is None:
            return 0
        try:
            answers = parse_response(payload)
        except DnsFormatError:
            self.stats.errors += 1
            self.stats.extra["malformed"] = self.stats.extra.get("malformed", 0) + 1
            return 0
        for a in answers:
            self.cache.put(a.ip, a.name, a.ttl)
        self.stats.extra["answers"] = self.stats.extra.get("answers", 0) + len(answers)
        return len(answers)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        with self._lock:
            self._sock = self._open()
            sock = self._sock
        self.ready.set()
        buf = bytearray(READ_BUF)
        view = memoryview(buf)
        budget = max(1, int(self.max_pps * SLICE))
        slice_end, used = time.monotonic() + SLICE, 0
        try:
            while not stop.is_set():
                r, _, _ = select.select([sock], [], [], 0.5)
                if not r:
                    continue
                for _ in range(256):  # drain a burst, then look at `stop` again
                    try:
                        n, addr = sock.recvfrom_into(buf, READ_BUF, socket.MSG_DONTWAIT)
                    except BlockingIOError:
                        break
                    used += 1
                    self.packets_read += 1
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    self.feed(view[:n])  # copied only when it is a DNS answer
                now = time.monotonic()
                if now >= slice_end:
                    slice_end, used = now + SLICE, 0
                elif used >= budget:
                    self.stats.extra["throttled"] = self.stats.extra.get("throttled", 0) + 1
                    stop.wait(slice_end - now)
                    slice_end, used = time.monotonic() + SLICE, 0
                self._kernel_drops(sock)
        finally:
            self.close()

    def _kernel_drops(self, sock: socket.socket) -> None:
        try:
            _packets, drops = struct.unpack("=II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            return
        self.stats.lost += drops  # reading the statistics resets them

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
