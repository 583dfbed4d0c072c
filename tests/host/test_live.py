"""Live tests on this machine (root): each source against real activity that the test itself creates,
filtered by what the test owns (its own login uid, its own pids, its own throwaway users and ports)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from cloudwarden.host.auditparse import HostIdentity
from cloudwarden.host.procfs import read_proc
from cloudwarden.host.sources.audit import AuditSource, _auditctl
from cloudwarden.host.sources.authlog import AuthLogSource
from cloudwarden.host.sources.inotify import InotifySource
from cloudwarden.host.sources.proc_connector import ProcConnectorSource
from cloudwarden.host.sources.sockdiag import SockDiagSource
from tests.host.conftest import as_auid, collecting, require_root, run_sshd, throwaway_user

pytestmark = pytest.mark.live
IDENT = HostIdentity("live-host", "live-host")


def _listener() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    return srv, srv.getsockname()[1]


def test_audit_exec_network_privilege_file_and_recorded_replay(audit_free: None, own_auid: int, tmp_path: Path) -> None:
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    watched = tmp_path / "watched"
    watched.mkdir()
    record = tmp_path / "recorded-audit.log"
    srv, port = _listener()
    src = AuditSource(IDENT, auid=own_auid, extra_paths=[str(watched)], mode="netlink", record_path=record)
    with collecting(src) as c:
        script = (f"/bin/echo 'hello world' {marker}; "
                  f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}; echo x >&3' ; "
                  f"echo data > {watched}/target; "
                  "su nobody -s /bin/sh -c 'id -u'")
        subprocess.run(as_auid(own_auid, "sh", "-c", script), check=True, capture_output=True, timeout=30)
        execs = c.wait_for(lambda e: e.kind == "process" and marker in e.argv)
        conns = c.wait_for(lambda e: e.kind == "network" and e.dst_port == port)
        files = c.wait_for(lambda e: e.kind == "file" and e.path == f"{watched}/target")
        privs = c.wait_for(lambda e: e.kind == "privilege" and e.target_user == "nobody" and e.auid == own_auid)
    srv.close()
    assert execs and execs[0].argv == ["/bin/echo", "hello world", marker] and execs[0].argv_complete
    e = execs[0]
    assert e.auid == own_auid and e.session_id > 0 and e.exe == "/usr/bin/echo" and e.parent_exe.endswith("dash")
    assert e.extra["parent_cmdline"].startswith("sh -c /bin/echo 'hello world'")
    assert conns and conns[0].exe.endswith("bash") and conns[0].direction == "outbound" and conns[0].dst_ip == "127.0.0.1"
    assert files and files[0].action in ("create", "write") and files[0].exe.endswith(("dash", "sh"))
    assert privs and {p.action for p in privs} & {"setuid", "setgid"}
    # Nothing of other users leaked through our filter, and every rule we added is gone.
    assert all(ev.auid == own_auid for ev in c.snapshot() if ev.kind in ("process", "network", "file"))
    assert f"cw{os.getpid()}_" not in _auditctl("-l", check=False)

    # The raw records we recorded replay offline into the same exec (tested through the CLI).
    out = subprocess.run([sys.executable, "-m", "cloudwarden", "agent", "replay", str(record), "--json", "--events"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode in (0, 3), out.stderr
    replayed = [json.loads(line)["event"] for line in out.stdout.splitlines() if line.startswith('{"event"')]
    hits = [r for r in replayed if marker in r["argv"]]
    assert hits and hits[0]["argv"] == ["/bin/echo", "hello world", marker] and hits[0]["auid"] == own_auid
    alerts = [json.loads(line)["alert"] for line in out.stdout.splitlines() if line.startswith('{"alert"')]
    assert any(a["title"] == "Shell process opened an outbound network connection" for a in alerts)


def test_proc_connector_exec_of_own_subtree(tmp_path: Path) -> None:
    require_root()
    marker = uuid.uuid4().hex[:8]
    me = os.getpid()

    def mine(pid: int) -> bool:  # our own process subtree
        seen = 0
        while pid > 1 and seen < 32:
            if pid == me:
                return True
            pid = read_proc(pid).ppid
            seen += 1
        return False

    src = ProcConnectorSource("h", "h", pid_filter=mine)
    reason = src.probe()
    if reason:
        pytest.skip(reason)
    with collecting(src) as c:
        for i in range(20):
            subprocess.run(["/bin/sh", "-c", "/bin/sleep 0.05", f"{marker}-{i}"], check=True)
        subprocess.run(["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done"], check=True)
        time.sleep(0.5)
    got = [e for e in c.snapshot() if any(marker in a for a in e.argv)]
    assert len(got) >= 18, f"only {len(got)} of 20 shells seen"
    assert all(e.exe.endswith(("dash", "sh")) and e.argv_complete and e.ppid == me for e in got)
    sleeps = [e for e in c.snapshot() if e.exe == "/usr/bin/sleep" and e.argv == ["/bin/sleep", "0.05"]]
    assert len(sleeps) >= 18 and all(e.ancestors[:1] == ["/usr/bin/dash"] for e in sleeps)
    # /bin/true exits at once: some are read in time, the others are kept with argv_complete=False, never dropped.
    trues = [e for e in c.snapshot() if e.exe == "/usr/bin/true" or e.extra.get("comm") == "true" or e.argv == ["true"]]
    assert all(e.argv_complete or e.extra.get("comm") in ("true", "sh") or not e.argv for e in trues)


def test_su_and_sudo_privilege_changes(audit_free: None, own_auid: int) -> None:
    import shutil

    if not shutil.which("sudo"):
        pytest.skip("sudo is not installed (scripts/system-deps.sh installs it)")
    with throwaway_user() as u:
        src = AuditSource(IDENT, auid=own_auid, mode="netlink")
        with collecting(src) as c:
            subprocess.run(as_auid(own_auid, "su", "-s", "/bin/sh", u.name, "-c", "id -u"), check=True, capture_output=True, timeout=30)
            subprocess.run(as_auid(own_auid, "sudo", "-n", "-u", u.name, "id", "-u"), check=True, capture_output=True, timeout=30)
            su = c.wait_for(lambda e: e.kind == "privilege" and e.action == "su" and e.target_user == u.name)
            sudo = c.wait_for(lambda e: e.kind == "privilege" and e.action == "sudo" and e.auid == own_auid)
            setuid = c.wait_for(lambda e: e.kind == "privilege" and e.action == "setuid" and e.extra.get("target_id") == str(u.uid))
        assert su and su[0].auid == own_auid
        assert sudo and sudo[0].argv[:2] == ["id", "-u"]
        assert setuid and setuid[0].auid == own_auid


def test_ssh_login_linked_to_its_processes(audit_free: None, tmp_path: Path) -> None:
    with throwaway_user() as u, run_sshd(tmp_path / "sshd") as sshd:
        audit = AuditSource(IDENT, auid=u.uid, mode="netlink")
        auth = AuthLogSource("h", "h", [str(sshd.log)], wtmp=False)
        with collecting(audit) as ca, collecting(auth) as cl:
            bad = sshd.ssh(u, "true", password="wrong-password")
            assert bad.returncode != 0
            ok = sshd.ssh(u, "cat /proc/self/sessionid; echo; /bin/echo ssh-session-marker")
            assert ok.returncode == 0, ok.stderr
            ses = int(ok.stdout.split()[0])
            failed = cl.wait_for(lambda e: e.action == "login_failure" and e.user == u.name)
            accepted = cl.wait_for(lambda e: e.action == "login_success" and e.user == u.name)
            marker = ca.wait_for(lambda e: e.kind == "process" and "ssh-session-marker" in e.argv)
            audit_login = ca.wait_for(lambda e: e.kind == "auth" and e.action == "login_success" and e.auid == u.uid)
            audit_fail = ca.wait_for(lambda e: e.kind == "auth" and e.action == "login_failure" and e.user == u.name)
        assert failed and failed[0].src_ip == "127.0.0.1" and failed[0].auth_method == "password"
        assert accepted and accepted[0].auth_method == "password"
        # The processes of the session carry the login's uid and audit session id.
        assert marker and marker[0].auid == u.uid and marker[0].session_id == ses
        assert any("sshd" in a for a in marker[0].ancestors)
        assert audit_login and audit_login[0].session_id == ses and audit_login[0].src_ip == "127.0.0.1"
        assert len(audit_fail) == 1 and audit_fail[0].src_ip == "127.0.0.1"


def test_sockdiag_listen_connect_and_bytes_on_loopback() -> None:
    require_root()
    srv, port = _listener()
    src = SockDiagSource("h", "h", internal_cidrs=["10.0.0.0/8"], interval=0.2, window=3600)
    assert src.probe() is None
    with collecting(src) as c:
        cli = socket.create_connection(("127.0.0.1", port))
        conn, _ = srv.accept()
        time.sleep(0.5)
        cli.sendall(b"x" * 300_000)
        got = 0
        while got < 300_000:
            got += len(conn.recv(65536))
        conn.sendall(b"y" * 5000)
        n = 0
        while n < 5000:
            n += len(cli.recv(65536))
        time.sleep(0.6)
        connects = c.wait_for(lambda e: e.kind == "network" and e.action == "connect" and e.dst_port == port)
        listens = c.wait_for(lambda e: e.action == "listen" and e.src_port == port)
        c.stop.set()
        c.thread.join(timeout=10)  # the last poll and the window flush happen on stop
        cli.close()
        conn.close()
        srv.close()
    me = os.getpid()
    assert connects and connects[0].pid == me and connects[0].external is False
    assert listens and listens[0].pid == me
    out = [e for e in c.snapshot() if e.kind == "transfer" and e.pid == me and e.dst_port == port]
    inn = [e for e in c.snapshot() if e.kind == "transfer" and e.pid == me and e.dst_port == 0]
    assert out and sum(e.bytes_out for e in out) >= 300_000 and sum(e.bytes_in for e in out) >= 5000
    assert inn and sum(e.bytes_in for e in inn) >= 300_000


def test_inotify_watched_file_changes(tmp_path: Path) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    src = InotifySource("h", "h", extra_paths=[str(watched)], homes_root=str(tmp_path / "homes"))
    (tmp_path / "homes").mkdir()
    with collecting(src) as c:
        (watched / "file").write_text("1")
        (watched / "file").chmod(0o600)
        (watched / "file").unlink()
        home = tmp_path / "homes" / "newuser"
        home.mkdir()
        time.sleep(0.3)
        (home / ".ssh").mkdir()
        time.sleep(0.3)
        (home / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAA test")
        keys = c.wait_for(lambda e: e.path.endswith("/newuser/.ssh/authorized_keys"))
        time.sleep(0.3)
    actions = [e.action for e in c.snapshot() if e.path == str(watched / "file")]
    assert actions[:1] == ["create"] and "write" in actions and "chmod" in actions and actions[-1] == "delete"
    assert keys and keys[0].kind == "file"


def test_audit_rules_are_removed_when_the_agent_dies(audit_free: None, own_auid: int, tmp_path: Path) -> None:
    # An agent killed with SIGKILL cannot remove its rules; the next agent removes rules of dead agents.
    code = (
        "import sys, threading, time\n"
        "from cloudwarden.host.auditparse import HostIdentity\n"
        "from cloudwarden.host.sources.audit import AuditSource\n"
        f"s = AuditSource(HostIdentity('x','x'), auid={own_auid}, mode='netlink')\n"
        "assert s.probe() is None, s.probe()\n"
        "t = threading.Thread(target=s.run, args=(lambda e: None, threading.Event()), daemon=True); t.start()\n"
        "s.ready.wait(20); print('ready', flush=True); time.sleep(60)\n"
    )
    from cloudwarden.host.sources.audit import AUDIT_STATUS_ENABLED, AuditNetlink

    nl = AuditNetlink()
    before = nl.get_status()
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        assert f"cw{p.pid}_exec" in _auditctl("-l", check=False)
    finally:
        p.kill()
        p.wait(timeout=10)
    time.sleep(0.5)
    src = AuditSource(IDENT, auid=own_auid, mode="netlink")
    stop = threading.Event()
    t = threading.Thread(target=src.run, args=(lambda e: None, stop), daemon=True)
    t.start()
    assert src.ready.wait(20)
    stop.set()
    t.join(timeout=10)
    src.close()
    assert f"cw{p.pid}_" not in _auditctl("-l", check=False)
    # ...and the audit status the killed agent changed is back to what it was before it.
    after = nl.get_status()
    nl.set_status(mask=AUDIT_STATUS_ENABLED, enabled=before.enabled)  # whatever happened, leave it as we found it
    nl.close()
    assert after.enabled == before.enabled and after.pid == 0


def test_auditd_log_follower_when_auditd_owns_audit(audit_free: None, own_auid: int, tmp_path: Path) -> None:
    """auditd started by the test (own config, log in tmp), the source follows its log; auditd is stopped after."""
    from cloudwarden.host.sources.audit import AUDIT_STATUS_ENABLED, AuditNetlink

    nl = AuditNetlink()
    before = nl.get_status()
    conf = tmp_path / "auditd"
    (conf / "plugins").mkdir(parents=True)
    text = Path("/etc/audit/auditd.conf").read_text() if Path("/etc/audit/auditd.conf").exists() else ""
    lines = [ln for ln in text.splitlines() if not ln.startswith(("log_file", "plugin_dir"))]
    lines += [f"log_file = {conf / 'audit.log'}", f"plugin_dir = {conf / 'plugins'}"]
    (conf / "auditd.conf").write_text("\n".join(lines) + "\n")
    auditd = subprocess.Popen(["/usr/sbin/auditd", "-n", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (conf / "audit.log").exists():
            time.sleep(0.05)
        time.sleep(0.3)
        src = AuditSource(IDENT, auid=own_auid, log_path=conf / "audit.log")
        assert src.probe() is None and src.chosen == "auditd-log"
        marker = f"auditd-{uuid.uuid4().hex[:8]}"
        with collecting(src) as c:
            subprocess.run(as_auid(own_auid, "/bin/echo", "via auditd", marker), check=True, capture_output=True)
            hits = c.wait_for(lambda e: e.kind == "process" and marker in e.argv)
        assert hits and hits[0].argv == ["/bin/echo", "via auditd", marker] and hits[0].auid == own_auid
        assert hits[0].user == "root"  # from the ENRICHED log's translated UID field or the local passwd
    finally:
        auditd.terminate()
        auditd.wait(timeout=15)
        nl.set_status(mask=AUDIT_STATUS_ENABLED, enabled=before.enabled)
        nl.close()
