"""Host behaviour graphs: group baselines, one alert for one behaviour across a group, feedback-free cores."""

from __future__ import annotations

import orjson

from cloudwarden.baseline.host import HostBaseline, HostConfig, items_of
from tests.baseline.build import connect, exec_, hev

H = 3600.0
T = 1_772_409_600.0  # 2026-03-02 00:00 UTC
WEBS = [f"web-{i}" for i in range(1, 6)]
IPS = {**{w: f"10.0.1.{10 + i}" for i, w in enumerate(WEBS, 1)}, "db-1": "10.0.2.10", "web-6": "10.0.1.16"}


def web_day(b: HostBaseline, host: str, d: int, extra: bool = False) -> None:
    t = T + d * 86400 + 9 * H
    b.process(hev(host, t, "network", "listen", exe="/usr/sbin/nginx", src_port=80, direction="listen"))
    b.process(hev(host, t + 1, "network", "listen", exe="/usr/bin/python3.11", src_port=8000, direction="listen"))
    for h in range(0, 8):
        b.process(connect(host, t + h * H, "/usr/bin/python3.11", "10.0.2.10", 5432, src_ip=IPS[host]))
        b.process(exec_(host, t + h * H + 5, "/usr/bin/convert", "/usr/bin/python3.11", "www-data"))
        b.process(hev(host, t + h * H + 60, "transfer", "bytes", exe="/usr/bin/python3.11", dst_ip="52.216.8.34",
                      dst_port=443, dns_name="assets.s3.amazonaws.com", bytes_out=1_000_000, external=True))
    if extra:
        b.process(exec_(host, t + 100, "/usr/bin/gzip", "/usr/bin/python3.11", "www-data"))


def db_day(b: HostBaseline, d: int) -> None:
    t = T + d * 86400 + 9 * H
    b.process(hev("db-1", t, "network", "listen", exe="/usr/lib/postgresql/15/bin/postgres", src_port=5432,
                  direction="listen"))
    b.process(exec_("db-1", t + 5, "/usr/bin/pg_dump", "/bin/sh"))


def learned() -> HostBaseline:
    b = HostBaseline(HostConfig(learning_days=2.0))
    for d in range(3):
        for w in WEBS:
            web_day(b, w, d, extra=(w == "web-1"))
        db_day(b, d)
    b.flush()
    return b


def test_items_of_each_graph() -> None:
    kinds = {k for e in [
        exec_("h", T, "/bin/sh", "/usr/bin/python3.11", "www-data"),
        connect("h", T, "/usr/bin/curl", "91.240.118.50", 80, external=True),
        hev("h", T, "network", "listen", exe="/usr/sbin/sshd", src_port=22, direction="listen"),
        hev("h", T, "network", "accept", exe="/usr/sbin/sshd", dst_port=22, src_ip="10.0.0.5", direction="inbound"),
        hev("h", T, "privilege", "sudo", user="ops", target_user="root", exe="/usr/bin/sudo"),
        hev("h", T, "auth", "login_success", user="bob", src_ip="10.0.0.5"),
        exec_("h", T, "/usr/bin/ls", "/bin/bash", "ops", auid=1001),
        hev("h", T, "file", "write", path="/var/spool/cron/crontabs/www-data", exe="/usr/bin/crontab"),
    ] for k, _, _ in items_of(e)}
    assert kinds == {"launch", "comm", "server", "inbound", "priv", "login", "interactive", "file"}
    (_, value, sens), = items_of(exec_("h", T, "/bin/sh", "/usr/bin/python3.11"))
    assert value == "/usr/bin/python3.11>/bin/sh" and sens >= 0.9  # a server spawning a shell
    assert items_of(exec_("h", T, "/tmp/.x/kd", "/bin/bash"))[0][2] == 1.0


def test_machines_cluster_by_behaviour() -> None:
    b = learned()
    b.process(exec_("web-1", T + 3 * 86400 + 10 * H, "/usr/bin/convert", "/usr/bin/python3.11", "www-data"))
    groups = b.status()["group_sizes"]
    assert groups == {"db": 1, "web": 5}


def test_same_new_behaviour_on_five_servers_is_one_alert() -> None:
    b = learned()
    t = T + 4 * 86400 + 15 * H
    for i, w in enumerate(WEBS):
        b.process(exec_(w, t + i * 60, "/usr/bin/wkhtmltopdf", "/usr/bin/python3.11", "www-data"))
    alerts = b.flush()
    assert len(alerts) == 1
    alert, _ = alerts[0]
    assert alert.members == WEBS and alert.entity == "group:web" and alert.source == "baseline-host"
    assert "5 hosts of group web" in alert.explanation and "wkhtmltopdf" in alert.explanation


def test_attack_on_one_server_names_that_server() -> None:
    b = learned()
    t = T + 4 * 86400 + 15 * H
    b.process(exec_("web-3", t, "/bin/sh", "/usr/bin/python3.11", "www-data"))
    b.process(connect("web-3", t + 1, "/bin/bash", "45.155.205.99", 4444, external=True, src_ip=IPS["web-3"]))
    alerts = b.flush()
    assert len(alerts) == 1
    alert, inc = alerts[0]
    assert alert.entity == "web-3" and alert.members == [] and alert.severity in ("high", "critical")
    assert {s.family for s in inc.signals} == {"launch", "comm"}


def test_behaviour_known_to_a_peer_is_not_news() -> None:
    b = learned()
    b.process(exec_("web-2", T + 4 * 86400 + 10 * H, "/usr/bin/gzip", "/usr/bin/python3.11", "www-data"))
    assert b.flush() == []  # web-1 always did it
    b.process(exec_("db-1", T + 4 * 86400 + 10 * H, "/usr/bin/gzip", "/usr/bin/python3.11"))
    assert len(b.flush()) == 1  # but no database ever did


def test_data_volume_spike() -> None:
    b = learned()
    t = T + 4 * 86400 + 10 * H
    b.process(hev("web-4", t, "transfer", "bytes", exe="/usr/bin/python3.11", dst_ip="52.216.8.34", dst_port=443,
                  dns_name="assets.s3.amazonaws.com", bytes_out=2_000_000, external=True))
    assert b.flush() == []
    b.process(hev("web-4", t + 3 * H, "transfer", "bytes", exe="/usr/bin/python3.11", dst_ip="52.216.8.34", dst_port=443,
                  dns_name="assets.s3.amazonaws.com", bytes_out=900_000_000, external=True))
    alerts = b.flush()
    assert len(alerts) == 1 and "900.0 MB" in alerts[0][0].explanation


def test_new_host_joins_the_group_it_resembles() -> None:
    b = learned()
    web_day(b, "web-6", 4)
    assert b.flush() == []
    t = T + 4 * 86400 + 20 * H
    b.process(exec_("web-6", t, "/tmp/.x/nc", "/bin/sh"))
    b.process(connect("web-6", t + 1, "/tmp/.x/nc", "45.155.205.99", 4444, external=True))
    assert len(b.flush()) == 1  # judged against the web group, even in its first day


def test_memory_cap_and_round_trip() -> None:
    b = HostBaseline(HostConfig(learning_days=1.0, max_items_per_host=40, max_volume_keys=5))
    for i in range(100):
        b.process(exec_("busy", T + i, f"/usr/bin/tool{i}", "/bin/sh"))
        b.process(hev("busy", T + i, "transfer", "bytes", exe="/x", dst_ip=f"8.8.{i}.1", dst_port=443, bytes_out=10))
    assert len(b.hosts["busy"].items) <= 40 and len(b.hosts["busy"].volumes) <= 5
    c = HostBaseline.from_state(orjson.loads(orjson.dumps(learned().to_state())))
    assert c.status()["group_sizes"] == {"db": 1, "web": 5}
    c.process(exec_("web-2", T + 4 * 86400 + 10 * H, "/usr/bin/gzip", "/usr/bin/python3.11", "www-data"))
    assert c.flush() == []
