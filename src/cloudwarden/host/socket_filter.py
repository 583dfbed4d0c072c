"""A classic socket filter (cBPF, SO_ATTACH_FILTER) that keeps only DNS answers on a packet socket.

Classic BPF is the plain socket-filter machine every Linux kernel has (what tcpdump compiles to); it needs
no eBPF, no kernel module and no privilege beyond owning the socket. Filtering in the kernel means the
DNS observer is woken only for DNS answers instead of for every packet on the host.

The program reads packets as an AF_PACKET SOCK_DGRAM socket delivers them: starting at the IP header.
It keeps unfragmented UDP over IPv4 or IPv6 (no extension headers) whose source port is one of `ports`,
the same packets `host.dns.udp_payload` accepts, which stays in place as the user-space check.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from collections.abc import Iterable

# Opcodes (linux/filter.h): class | size | mode.
LD_B_ABS = 0x30
LD_H_ABS = 0x28
LD_H_IND = 0x48
LDX_B_MSH = 0xB1  # X = 4 * (packet[k] & 0x0f): the IPv4 header length
ALU_AND_K = 0x54
JEQ_K = 0x15
JSET_K = 0x45
RET_K = 0x06

SO_ATTACH_FILTER = 26
SNAP_LEN = 65535
MAX_PORTS = 32  # jump offsets are one byte; this keeps every jump in range

Instruction = tuple[int, int, int, int]  # (code, jt, jf, k)


def dns_answer_filter(ports: Iterable[int]) -> list[Instruction]:
    """The cBPF program: accept (SNAP_LEN) UDP packets from any of `ports`, drop (0) everything else."""
    plist = sorted(set(ports))
    if not plist or len(plist) > MAX_PORTS or any(not 0 < p < 65536 for p in plist):
        raise ValueError(f"between 1 and {MAX_PORTS} ports in 1..65535 are needed, got {plist}")
    # Instructions are built with symbolic targets ("accept", "drop", "v6") and resolved below.
    prog: list[tuple[int, str | int, str | int, int]] = [
        (LD_B_ABS, 0, 0, 0),  # A = version/IHL byte
        (ALU_AND_K, 0, 0, 0xF0),
        (JEQ_K, 0, "v6", 0x40),  # IPv4? else try IPv6
        (LD_B_ABS, 0, 0, 9),  # IPv4 protocol
        (JEQ_K, 0, "drop", 17),
        (LD_H_ABS, 0, 0, 6),  # flags + fragment offset
        (JSET_K, "drop", 0, 0x3FFF),  # MF set or offset > 0: a fragment
        (LDX_B_MSH, 0, 0, 0),
        (LD_H_IND, 0, 0, 0),  # UDP source port at X + 0
    ]
    prog += [(JEQ_K, "accept", 0, p) for p in plist[:-1]] + [(JEQ_K, "accept", "drop", plist[-1])]
    v6 = len(prog)
    prog += [
        (JEQ_K, 0, "drop", 0x60),  # A still holds version << 4 when jumping here
        (LD_B_ABS, 0, 0, 6),  # IPv6 next header
        (JEQ_K, 0, "drop", 17),
        (LD_H_ABS, 0, 0, 40),  # UDP source port right after the fixed header
    ]
    prog += [(JEQ_K, "accept", 0, p) for p in plist[:-1]] + [(JEQ_K, "accept", "drop", plist[-1])]
    accept = len(prog)
    prog += [(RET_K, 0, 0, SNAP_LEN), (RET_K, 0, 0, 0)]
    labels = {"v6": v6, "accept": accept, "drop": accept + 1}

    def offset(i: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        off = labels[target] - i - 1
        assert 0 <= off <= 255, "cBPF jump out of range"
        return off

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(prog)]


def attach(sock: socket.socket, program: list[Instruction]) -> None:
    """Attach `program` to `sock` (OSError if the kernel refuses it)."""
    buf = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *ins) for ins in program))
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; } with native alignment
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
