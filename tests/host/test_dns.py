"""DNS answers -> ip/name map: the pure parser on hand-built packets (good and hostile, plus hypothesis
fuzzing), the bounded cache, the agent filling `dns_name`, and a live AF_PACKET observer on loopback."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.host.dns import DnsCache, DnsFormatError, parse_response, read_name, udp_payload
from cloudwarden.host.sources.dns import DnsObserver
from cloudwarden.models.host_event import HostEvent


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def response(name: str, answers: list[bytes], rcode: int = 0, qid: int = 0x1234) -> bytes:
    hdr = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
    return hdr + qname(name) + struct.pack(">HH", 1, 1) + b"".join(answers)


PTR_Q = b"\xc0\x0c"  # the question name, right after the 12-byte header


def test_a_and_aaaa_answers_with_compression() -> None:
    msg = response("Www.Example.com", [rr(PTR_Q, 1, bytes([93, 184, 216, 34])),
                                       rr(PTR_Q, 28, socket.inet_pton(socket.AF_INET6, "2606:2800:220:1::1"), 300)])
    got = parse_response(msg)
    assert [(a.ip, a.name, a.ttl) for a in got] == [("93.184.216.34", "www.example.com", 60),
                                                    ("2606:2800:220:1::1", "www.example.com", 300)]


def test_cname_chain_maps_addresses_to_the_asked_name() -> None:
    q = "app.corp.example"
    # answer 1: question CNAME edge.cdn.net (uncompressed target); answer 2: edge.cdn.net A 10.9.8.7, owner by pointer
    target = qname("edge.cdn.net")
    ans1 = rr(PTR_Q, 5, target)
    target_off = 12 + len(qname(q)) + 4 + 2 + 10  # header + question + owner pointer + rr fixed part
    ans2 = rr(struct.pack(">H", 0xC000 | target_off), 1, bytes([10, 9, 8, 7]))
    got = parse_response(response(q, [ans1, ans2]))
    assert [(a.ip, a.name) for a in got] == [("10.9.8.7", "app.corp.example")]


def test_error_responses_and_unknown_records_give_nothing() -> None:
    assert parse_response(response("nx.example", [], rcode=3)) == []
    assert parse_response(response("t.example", [rr(PTR_Q, 16, b"\x05hello")])) == []  # TXT
    assert parse_response(response("t.example", [rr(PTR_Q, 1, b"\x01\x02\x03")])) == []  # A with 3 bytes


@pytest.mark.parametrize("msg, why", [
    (b"\x00" * 5, "shorter than a DNS header"),
    (struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + qname("a.b") + b"\0\1\0\1", "not a response"),
    (struct.pack(">HHHHHH", 1, 0x8180, 1, 1, 0, 0) + b"\xc0\x0c" + b"\0\1\0\1", "bad compression pointer"),  # self loop
    (struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\x3fabc", "label runs past the end"),
    (struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0) + b"\x80abc\0", "reserved label type"),
    (struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0) + qname("a.b") + b"\0", "truncated question"),
    (response("a.b", [PTR_Q + struct.pack(">HHIH", 1, 1, 5, 40) + b"\1\2\3\4"]), "record data runs past the end"),
    (response("a.b", [PTR_Q + b"\0\1"]), "truncated resource record"),
    (struct.pack(">HHHHHH", 1, 0x8180, 1, 0, 0, 0) + (b"\x3f" + b"a" * 63) * 5 + b"\0" + b"\0\1\0\1", "longer than 255"),
    (struct.pack(">HHHHHH", 1, 0x8180, 9, 0, 0, 0), "9 questions"),
])
def test_malformed_packets_raise_format_errors(msg: bytes, why: str) -> None:
    with pytest.raises(DnsFormatError, match=why):
        parse_response(msg)


def test_pointer_chains_are_bounded() -> None:
    # 20 pointers each pointing to the previous one: more than MAX_POINTERS jumps.
    msg = bytearray(b"\0")
    for i in range(20):
        msg += struct.pack(">H", 0xC000 | (0 if i == 0 else 1 + 2 * (i - 1)))
    with pytest.raises(DnsFormatError, match="bad compression pointer"):
        read_name(bytes(msg), len(msg) - 2)
    assert read_name(bytes(msg), 3)[0] == ""  # a short chain is fine


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    try:
        parse_response(data)
    except DnsFormatError:
        pass
    udp_payload(data, {53})


_GOOD = response("fuzz.example", [rr(PTR_Q, 5, qname("x.fuzz.example")), rr(PTR_Q, 1, b"\1\2\3\4"),
                                  rr(PTR_Q, 28, b"\0" * 15 + b"\1")])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_GOOD) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(_GOOD)))
def test_fuzz_mutated_responses_never_crash(edits: list[tuple[int, int]], cut: int) -> None:
    msg = bytearray(_GOOD)
    for pos, val in edits:
        msg[pos] = val
    try:
        out = parse_response(bytes(msg[:cut]))
    except DnsFormatError:
        return
    assert len(out) <= 64 and all(len(a.name) <= 255 for a in out)


def ipv4_udp(sport: int, payload: bytes, frag: int = 0) -> bytes:
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 1, frag, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    return ip + struct.pack(">HHHH", sport, 40000, 8 + len(payload), 0) + payload


def test_udp_payload_filters_ports_fragments_and_ipv6() -> None:
    assert udp_payload(ipv4_udp(53, b"abc"), {53}) == b"abc"
    assert udp_payload(ipv4_udp(5353, b"abc"), {53}) is None
    assert udp_payload(ipv4_udp(53, b"abc", frag=0x2000), {53}) is None  # more fragments follow
    v6 = struct.pack(">IHBB16s16s", 6 << 28, 11, 17, 64, b"\0" * 16, b"\0" * 16) + struct.pack(">HHHH", 53, 1, 11, 0) + b"xyz"
    assert udp_payload(v6, {53}) == b"xyz"
    assert udp_payload(b"\x45" + b"\0" * 10, {53}) is None


def test_cache_is_bounded_and_expires() -> None:
    c = DnsCache(max_entries=3, min_ttl=10, max_ttl=100)
    for i in range(5):
        c.put(f"10.0.0.{i}", f"h{i}.example", 1, now=0)
    assert len(c) == 3 and c.evicted == 2 and c.lookup("10.0.0.0", now=1) == "" and c.lookup("10.0.0.4", now=1) == "h4.example"
    assert c.lookup("10.0.0.4", now=11) == ""  # min_ttl 10 s, then gone
    c.put("10.0.0.9", "long.example", 10_000, now=0)
    assert c.lookup("10.0.0.9", now=99) == "long.example" and c.lookup("10.0.0.9", now=101) == ""


def test_observer_feed_counts_malformed() -> None:
    obs = DnsObserver(DnsCache(), ports=[53])
    assert obs.feed(ipv4_udp(53, response("ok.example", [rr(PTR_Q, 1, b"\x0a\0\0\x05")]))) == 1
    assert obs.cache.lookup("10.0.0.5") == "ok.example"
    assert obs.feed(ipv4_udp(53, b"\x81\x80garbage")) == 0 and obs.stats.extra["malformed"] == 1


def test_agent_fills_dns_name_of_network_events(tmp_path: Path) -> None:
    from cloudwarden.host.agent import Agent, AgentOptions

    home = Path(os.environ["CLOUDWARDEN_HOME"])
    agent = Agent(AgentOptions(spool_path=home / "s" / "spool.db", status_path=home / "st.json", imds_timeout=0))
    try:
        agent.dns.put("203.0.113.7", "pool.miner.example", 60)
        base = {"event_id": "", "host_id": "", "hostname": "", "time": 1.0, "source": "sock_diag"}
        agent.emit(HostEvent(kind="network", action="connect", direction="outbound", dst_ip="203.0.113.7", **base))  # type: ignore[arg-type]
        agent.emit(HostEvent(kind="network", action="listen", direction="listen", src_ip="203.0.113.7", **base))  # type: ignore[arg-type]
        agent.emit(HostEvent(kind="transfer", action="bytes", dst_ip="203.0.113.8", **base))  # type: ignore[arg-type]
        got = [agent.queue.get_nowait() for _ in range(3)]
        assert [e.dns_name for e in got] == ["pool.miner.example", "", ""]
        assert got[0].external is True
    finally:
        agent.spool.close()


# ---------------------------------------------------------------------------------------------- live
def _responder(sock: socket.socket, name: str, ip: str, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            q, peer = sock.recvfrom(512)
        except TimeoutError:
            continue
        qid = struct.unpack_from(">H", q, 0)[0]
        sock.sendto(response(name, [rr(PTR_Q, 1, socket.inet_aton(ip), 30)], qid=qid), peer)


@pytest.mark.live
def test_live_observer_sees_answers_on_loopback() -> None:
    if os.geteuid() != 0:
        pytest.skip("AF_PACKET needs root")
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    obs = DnsObserver(DnsCache(), ports=[port])  # only our own responder's port: other traffic is ignored
    reason = obs.probe()
    if reason:
        pytest.skip(reason)
    name = f"svc-{uuid.uuid4().hex[:8]}.cw-test.example"
    stop = threading.Event()
    rt = threading.Thread(target=_responder, args=(srv, name, "198.51.100.23", stop), daemon=True)
    rt.start()
    ot = threading.Thread(target=obs.run, args=(lambda e: None, stop), daemon=True)
    ot.start()
    try:
        assert obs.ready.wait(10)
        time.sleep(0.2)
        cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cli.settimeout(5)
        cli.sendto(struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + qname(name) + b"\0\1\0\1", ("127.0.0.1", port))
        reply, _ = cli.recvfrom(512)
        cli.close()
        assert parse_response(reply)[0].ip == "198.51.100.23"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not obs.cache.lookup("198.51.100.23"):
            time.sleep(0.05)
        assert obs.cache.lookup("198.51.100.23") == name
        assert obs.stats.extra["answers"] == 1  # seen once (our outgoing copy is skipped)
    finally:
        stop.set()
        ot.join(timeout=5)
        rt.join(timeout=5)
        srv.close()
    assert obs._sock is None  # closed by run()


@pytest.mark.live
def test_live_observer_throttles_under_a_flood() -> None:
    """Every packet costs a Python wake-up: past max_pps the observer sleeps and the kernel drops (counted)."""
    if os.geteuid() != 0:
        pytest.skip("AF_PACKET needs root")
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind(("127.0.0.1", 0))  # the flood comes from the watched port, so it passes the kernel filter
    obs = DnsObserver(DnsCache(), ports=[out.getsockname()[1]], max_pps=50)
    reason = obs.probe()
    if reason:
        out.close()
        pytest.skip(reason)
    stop = threading.Event()
    t = threading.Thread(target=obs.run, args=(lambda e: None, stop), daemon=True)
    t.start()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        assert obs.ready.wait(10)
        for _ in range(3000):
            out.sendto(b"x" * 32, sink.getsockname())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not obs.stats.extra.get("throttled"):
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=5)
        out.close()
        sink.close()
    assert obs.stats.extra.get("throttled", 0) >= 1 and obs._sock is None


@pytest.mark.live
def test_live_kernel_filter_keeps_other_traffic_out_of_python() -> None:
    """With the cBPF filter attached, a flood from other ports never wakes the observer."""
    if os.geteuid() != 0:
        pytest.skip("AF_PACKET needs root")
    watched = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    watched.bind(("127.0.0.1", 0))  # reserved so nothing else on the machine sends from it during the test
    obs = DnsObserver(DnsCache(), ports=[watched.getsockname()[1]])
    reason = obs.probe()
    if reason:
        watched.close()
        pytest.skip(reason)
    stop = threading.Event()
    t = threading.Thread(target=obs.run, args=(lambda e: None, stop), daemon=True)
    t.start()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert obs.ready.wait(10)
        assert obs.kernel_filter, obs.chosen
        for _ in range(3000):
            out.sendto(b"x" * 32, sink.getsockname())
        watched.sendto(b"not dns", sink.getsockname())  # one packet from the watched port does pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and obs.packets_read < 1:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=5)
        for s in (out, sink, watched):
            s.close()
    assert obs.packets_read == 1
    assert obs.stats.extra.get("malformed") == 1  # it reached the parser, which rejected it
