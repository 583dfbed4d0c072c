"""Fixtures for live host tests: root, a free audit subsystem, a login uid of our own, throwaway users, an sshd
of our own on a loopback port. Everything created is removed afterwards; processes are stopped by pid."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudwarden.host.auditparse import HostIdentity
from cloudwarden.models.host_event import HostEvent


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("live host tests need root")


@pytest.fixture
def audit_free() -> None:
    """Skip (with the reason) when audit cannot be used by us: not root, no auditctl, owned by someone else."""
    require_root()
    from cloudwarden.host.sources.audit import AuditSource

    reason = AuditSource(HostIdentity("probe", "probe"), mode="netlink").probe()
    if reason:
        pytest.skip(f"audit source unavailable here: {reason}")


@pytest.fixture
def own_auid() -> int:
    """A login uid nobody else uses: every audit rule of the test is filtered on it."""
    return random.randint(4_100_000, 4_199_999)


def as_auid(auid: int, *cmd: str) -> list[str]:
    """Run cmd in a child whose login uid (and so audit session) is ours."""
    return ["sh", "-c", f'echo {auid} > /proc/self/loginuid && exec "$@"', "sh", *cmd]


@dataclass
class User:
    name: str
    uid: int
    password: str
    home: Path


@contextmanager
def throwaway_user(prefix: str = "cwt") -> Iterator[User]:
    require_root()
    name = f"{prefix}{secrets.token_hex(3)}"
    password = "Pw-" + secrets.token_hex(8)
    subprocess.run(["useradd", "-m", "-s", "/bin/bash", name], check=True, capture_output=True)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True, capture_output=True)
        import pwd

        pw = pwd.getpwnam(name)
        yield User(name, pw.pw_uid, password, Path(pw.pw_dir))
    finally:
        for _ in range(20):  # sessions of the user may still be closing
            if subprocess.run(["userdel", "-r", name], capture_output=True).returncode in (0, 6):
                break
            time.sleep(0.25)


@pytest.fixture
def user() -> Iterator[User]:
    with throwaway_user() as u:
        yield u


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sshd:
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def ssh(self, user: User, command: str, password: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sshpass", "-p", password or user.password, "ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no", "-o", "LogLevel=ERROR",
             "-p", str(self.port), f"{user.name}@127.0.0.1", command],
            capture_output=True, text=True, timeout=timeout,
        )


@contextmanager
def run_sshd(tmp: Path) -> Iterator[Sshd]:
    require_root()
    if not (shutil.which("sshd") or Path("/usr/sbin/sshd").exists()) or not shutil.which("sshpass"):
        pytest.skip("openssh-server and sshpass are needed (scripts/system-deps.sh)")
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-f", str(tmp / "hostkey"), "-N", ""], check=True)
    port = free_port()
    cfg = tmp / "sshd_config"
    cfg.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'hostkey'}\nPidFile {tmp / 'sshd.pid'}\nUsePAM yes\n"
        "PasswordAuthentication yes\nKbdInteractiveAuthentication no\nLogLevel VERBOSE\nMaxAuthTries 20\n"
        "PermitRootLogin no\nX11Forwarding no\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    log = tmp / "sshd.log"
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(cfg), "-E", str(log)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield Sshd(port, log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


class Collector:
    """Runs one source in a thread and collects what it emits."""

    def __init__(self, source: object) -> None:
        self.source = source
        self.events: list[HostEvent] = []
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=source.run, args=(self._emit, self.stop), daemon=True)  # type: ignore[attr-defined]

    def _emit(self, ev: HostEvent) -> None:
        with self._lock:
            self.events.append(ev)

    def snapshot(self) -> list[HostEvent]:
        with self._lock:
            return list(self.events)

    def wait_for(self, pred: object, timeout: float = 15.0) -> list[HostEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [e for e in self.snapshot() if pred(e)]  # type: ignore[operator]
            if hits:
                return hits
            time.sleep(0.1)
        return []


@contextmanager
def collecting(source: object, settle: float = 0.2) -> Iterator[Collector]:
    c = Collector(source)
    c.thread.start()
    assert source.ready.wait(20), f"{source.name} did not become ready: {source.stats}"  # type: ignore[attr-defined]
    time.sleep(settle)
    try:
        yield c
    finally:
        c.stop.set()
        c.thread.join(timeout=15)
        source.close()  # type: ignore[attr-defined]
