"""The cBPF program that keeps only DNS answers, run on a small interpreter of the opcodes it uses and
compared with the user-space test `udp_payload` on hand-built and random packets."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.host import socket_filter as sf
from cloudwarden.host.dns import udp_payload


def run(prog: list[sf.Instruction], pkt: bytes) -> int:
    """Interpret the classic-BPF subset the filter uses; out-of-bounds loads drop, as in the kernel."""
    a = x = pc = 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == sf.LD_B_ABS:
            if k >= len(pkt):
                return 0
            a = pkt[k]
        elif code == sf.LD_H_ABS:
            if k + 2 > len(pkt):
                return 0
            a = struct.unpack_from(">H", pkt, k)[0]
        elif code == sf.LD_H_IND:
            if x + k + 2 > len(pkt):
                return 0
            a = struct.unpack_from(">H", pkt, x + k)[0]
        elif code == sf.LDX_B_MSH:
            if k >= len(pkt):
                return 0
            x = 4 * (pkt[k] & 0x0F)
        elif code == sf.ALU_AND_K:
            a &= k
        elif code == sf.JEQ_K:
            pc += jt if a == k else jf
        elif code == sf.JSET_K:
            pc += jt if a & k else jf
        elif code == sf.RET_K:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


def ipv4_udp(sport: int, payload: bytes = b"answer", proto: int = 17, frag: int = 0, ihl: int = 5) -> bytes:
    opts = b"\0" * (4 * (ihl - 5))
    hdr = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + 8 + len(payload), 1, frag, 64, proto, 0,
                      b"\x7f\0\0\x01", b"\x7f\0\0\x01") + opts
    return hdr + struct.pack(">HHHH", sport, 40000, 8 + len(payload), 0) + payload


def ipv6_udp(sport: int, payload: bytes = b"answer", nxt: int = 17) -> bytes:
    hdr = struct.pack(">IHBB16s16s", 6 << 28, 8 + len(payload), nxt, 64, b"\0" * 16, b"\0" * 16)
    return hdr + struct.pack(">HHHH", sport, 40000, 8 + len(payload), 0) + payload


PROG = sf.dns_answer_filter([53, 5353])


@pytest.mark.parametrize(
    ("pkt", "kept"),
    [
        (ipv4_udp(53), True),
        (ipv4_udp(5353), True),
        (ipv4_udp(53, ihl=7), True),  # IPv4 options move the UDP header
        (ipv6_udp(53), True),
        (ipv4_udp(443), False),
        (ipv4_udp(53, proto=6), False),  # TCP from port 53
        (ipv4_udp(53, frag=0x2000), False),  # more fragments follow
        (ipv4_udp(53, frag=0x0010), False),  # a later fragment
        (ipv6_udp(53, nxt=0), False),  # extension header: not walked
        (ipv6_udp(80), False),
        (b"\x45\0", False),  # truncated
        (b"", False),
    ],
)
def test_filter_keeps_exactly_dns_answers(pkt: bytes, kept: bool) -> None:
    assert (run(PROG, pkt) > 0) is kept
    assert (run(PROG, pkt) > 0) == (udp_payload(pkt, {53, 5353}) is not None)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([4, 6]), st.integers(0, 65535), st.integers(0, 255), st.integers(0, 0xFFFF),
       st.binary(max_size=40))
def test_filter_agrees_with_the_user_space_test(version: int, sport: int, proto: int, frag: int, payload: bytes) -> None:
    pkt = ipv4_udp(sport, payload, proto=proto, frag=frag) if version == 4 else ipv6_udp(sport, payload, nxt=proto)
    assert (run(PROG, pkt) > 0) == (udp_payload(pkt, {53, 5353}) is not None)


def test_port_list_is_validated() -> None:
    with pytest.raises(ValueError):
        sf.dns_answer_filter([])
    with pytest.raises(ValueError):
        sf.dns_answer_filter([0])
    with pytest.raises(ValueError):
        sf.dns_answer_filter(range(1, sf.MAX_PORTS + 2))
    assert len(sf.dns_answer_filter(range(1, sf.MAX_PORTS + 1))) > sf.MAX_PORTS
