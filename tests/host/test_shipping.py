"""Spool durability and bounds, the shipper against a real HTTP server, and the ingest router's contract."""

from __future__ import annotations

import gzip
import random
import socket
import threading
import time
from pathlib import Path

import httpx
import orjson

from cloudwarden.host.shipper import Shipper, backoff_delay, encode_batch
from cloudwarden.host.spool import Spool
from cloudwarden.models.host_event import HostEvent
from cloudwarden.store.lake import Lake
from tests.host.helpers import ADMIN, ENROLL, live, make_settings, minimal_app


def _ev(i: int, host: str = "host-a", **kw: object) -> HostEvent:
    base: dict[str, object] = {"event_id": f"boot:test:{i}", "host_id": host, "hostname": "web-a", "time": 1.7e9 + i,
                               "kind": "process", "action": "exec", "source": "audit", "pid": 1000 + i,
                               "exe": "/usr/bin/true", "argv": ["true", str(i)]}
    base.update(kw)
    return HostEvent(**base)  # type: ignore[arg-type]


def _bodies(n: int, start: int = 0, **kw: object) -> list[bytes]:
    return [orjson.dumps(_ev(i, **kw)) for i in range(start, start + n)]


def _lake_ids(lake: Lake) -> list[str]:
    if not lake.files("host_events"):
        return []
    return [r["event_id"] for r in lake.query("SELECT event_id FROM host_events ORDER BY event_id")]


def test_spool_resumes_after_restart_and_acks_delete(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "s.db")
    assert sp.append(_bodies(10)) == 10
    batch = sp.read_batch(4)
    assert [s for s, _ in batch] == [1, 2, 3, 4]
    sp.ack(batch[-1][0])
    sid = sp.spool_id
    sp.close()
    sp2 = Spool(tmp_path / "s.db")  # restart: same spool id, resumes at the first unacked event
    assert sp2.spool_id == sid
    rest = sp2.read_batch(100)
    assert [s for s, _ in rest] == list(range(5, 11))
    st = sp2.stats()
    assert (st["pending"], st["acked"], st["appended"], st["dropped"]) == (6, 4, 10, 0)


def test_spool_full_drops_oldest_and_counts(tmp_path: Path) -> None:
    one = len(_bodies(1)[0])
    sp = Spool(tmp_path / "s.db", max_bytes=one * 50)
    for k in range(10):
        sp.append(_bodies(10, start=k * 10))
    st = sp.stats()
    assert st["bytes"] <= one * 50 + one and st["dropped"] == 100 - st["pending"] and st["dropped"] > 0
    newest = orjson.loads(sp.read_batch(1000)[-1][1])
    assert newest["event_id"] == "boot:test:99"  # the newest survive


def test_backoff_has_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(a, base=0.5, cap=8, rng=rng) for a in range(12)]
    assert all(0 <= d <= 8 for d in delays) and len(set(delays)) == len(delays)


def test_enroll_ingest_idempotent_validation_list_revoke(tmp_path: Path) -> None:
    s = make_settings(tmp_path / "srv")
    app, svc = minimal_app(s)
    lake = Lake(s.lake_path)
    with live(app) as srv, httpx.Client(base_url=srv.url) as c:
        assert c.post("/api/agents/enroll", json={"enroll_secret": "wrong", "name": "a"}).status_code == 401
        r = c.post("/api/agents/enroll", json={"enroll_secret": ENROLL, "name": "web-a", "host_id": "host-a"})
        assert r.status_code == 200, r.text
        agent_id, token = r.json()["agent_id"], r.json()["token"]
        auth = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
        rows = list(enumerate(_bodies(5), start=1))
        payload = encode_batch("spool-1", rows, {"host_id": "host-a", "hostname": "web-a"}, {"sources": {"audit": {"active": True}}})
        r = c.post("/api/agents/ingest", content=payload, headers=auth)
        assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
        r = c.post("/api/agents/ingest", content=payload, headers=auth)  # resend after a lost answer
        assert r.json() == {"accepted": 0, "duplicates": 5, "written": 0, "alerts": 0}
        assert len(_lake_ids(lake)) == 5

        # One bad event rejects the whole batch, with its position and field, and nothing is written.
        bad = _bodies(3, start=10)
        bad[1] = bad[1].replace(b'"pid":1011', b'"pid":"eleven"')
        payload = encode_batch("spool-1", list(enumerate(bad, start=10)), {"host_id": "host-a"}, {})
        r = c.post("/api/agents/ingest", content=payload, headers=auth)
        assert r.status_code == 400 and "events[1].pid" in r.text, r.text
        wrong_host = encode_batch("spool-1", [(20, orjson.dumps(_ev(20, host="someone-else")))], {"host_id": "host-a"}, {})
        r = c.post("/api/agents/ingest", content=wrong_host, headers=auth)
        assert r.status_code == 400 and "events[0].host_id" in r.text
        bomb = gzip.compress(b"{" + b" " * (s.server.max_body_bytes * 9))
        assert c.post("/api/agents/ingest", content=bomb, headers=auth).status_code == 400
        assert c.post("/api/agents/ingest", content=b"{}", headers={"Authorization": "Bearer cwa_nope"}).status_code == 401
        assert len(_lake_ids(lake)) == 5

        assert c.get("/api/agents").status_code == 401
        listing = c.get("/api/agents", headers={"Authorization": f"Bearer {ADMIN}"}).json()["items"]
        [a] = listing
        assert (a["id"], a["events_received"], a["host_id"], a["sources"]["audit"]["active"]) == (agent_id, 5, "host-a", True)
        assert a["last_seen"]
        assert c.post(f"/api/agents/{agent_id}/revoke", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200
        payload = encode_batch("spool-1", [(30, _bodies(1, start=30)[0])], {"host_id": "host-a"}, {})
        r = c.post("/api/agents/ingest", content=payload, headers=auth)
        assert r.status_code == 401 and "revoked" in r.text
    assert svc.stats["rejected"] >= 3


def _free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return int(sk.getsockname()[1])


def test_shipper_survives_server_outage_without_loss_or_duplicates(tmp_path: Path) -> None:
    s = make_settings(tmp_path / "srv")
    app, _svc = minimal_app(s)
    lake = Lake(s.lake_path)
    port = _free_port()
    with live(app, port) as srv:
        token = httpx.post(srv.url + "/api/agents/enroll", json={"enroll_secret": ENROLL, "host_id": "host-a"}).json()["token"]
    spool = Spool(tmp_path / "agent" / "spool.db")
    spool.append(_bodies(1200))
    shipper = Shipper(spool, f"http://127.0.0.1:{port}", token, host_fn=lambda: {"host_id": "host-a"},
                      health_fn=lambda: {}, batch_events=500, max_backoff=0.3)
    stop = threading.Event()
    t = threading.Thread(target=shipper.run, args=(stop, 0.05), daemon=True)
    t.start()
    time.sleep(1.0)  # server down: failures with backoff, nothing acked
    assert shipper.status.failures >= 2 and spool.stats()["pending"] == 1200
    spool.append(_bodies(300, start=1200))  # the host keeps producing meanwhile
    with live(app, port):
        deadline = time.monotonic() + 20
        while spool.stats()["pending"] and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        t.join(timeout=10)
    shipper.close()
    assert spool.stats()["pending"] == 0
    ids = _lake_ids(lake)
    assert len(ids) == 1500 and len(set(ids)) == 1500
    assert shipper.status.shipped == 1500 and shipper.status.consecutive_failures == 0
