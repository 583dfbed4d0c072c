"""Auth log and wtmp parsing (pure, hand-written lines in the formats sshd, sudo and su write)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from cloudwarden.host.sources.authlog import parse_auth_line, parse_utmp


def test_sshd_accepted_publickey_with_fingerprint() -> None:
    e = parse_auth_line("Nov 28 03:30:46 web-1 sshd[812]: Accepted publickey for alice from 198.51.100.7 port 50022 ssh2: ED25519 SHA256:AbCdEf0123", "h1")
    assert e is not None and (e.kind, e.action, e.user, e.src_ip, e.src_port, e.auth_method) == (
        "auth", "login_success", "alice", "198.51.100.7", 50022, "publickey")
    assert e.key_fingerprint == "SHA256:AbCdEf0123" and e.extra["key_type"] == "ED25519" and e.pid == 812


def test_sshd_failures_and_invalid_user() -> None:
    f = parse_auth_line("2026-11-28T03:30:46.123456+00:00 web-1 sshd[9]: Failed password for invalid user oracle from 203.0.113.4 port 4242 ssh2")
    assert f is not None and (f.action, f.user, f.success, f.extra["invalid_user"]) == ("login_failure", "oracle", False, "1")
    assert abs(f.time - datetime(2026, 11, 28, 3, 30, 46, 123456, tzinfo=UTC).timestamp()) < 1e-3
    i = parse_auth_line("Nov  2 01:02:03 web-1 sshd[9]: Invalid user test from 203.0.113.4 port 4243")
    assert i is not None and i.action == "login_failure" and i.src_port == 4243


def test_bare_sshd_log_lines_from_dash_E() -> None:
    e = parse_auth_line("Accepted password for bob from 127.0.0.1 port 42816 ssh2", "h1", "web-1", now=100.0)
    assert e is not None and (e.action, e.user, e.time, e.hostname) == ("login_success", "bob", 100.0, "web-1")
    s = parse_auth_line("Starting session: command for bob from 127.0.0.1 port 42816 id 0", now=1.0)
    assert s is not None and s.action == "session_open"
    assert parse_auth_line("Server listening on 127.0.0.1 port 42222.") is None


def test_sudo_and_su_lines() -> None:
    s = parse_auth_line("Nov 28 03:31:00 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow")
    assert s is not None and (s.kind, s.action, s.user, s.target_user, s.cwd, s.argv) == (
        "privilege", "sudo", "alice", "root", "/home/alice", ["/usr/bin/cat", "/etc/shadow"])
    assert "failed" not in s.extra
    d = parse_auth_line("Nov 28 03:31:00 web-1 sudo:    alice : command not allowed ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/sh")
    assert d is not None and d.extra["failed"] == "1"
    su = parse_auth_line("Nov 28 03:32:00 web-1 su[77]: (to root) alice on pts/1")
    assert su is not None and (su.action, su.user, su.target_user) == ("su", "alice", "root")
    bad = parse_auth_line("Nov 28 03:32:00 web-1 su[77]: FAILED SU (to root) alice on pts/1")
    assert bad is not None and bad.extra["failed"] == "1"
    assert parse_auth_line("Nov 28 03:32:00 web-1 CRON[5]: pam_unix(cron:session): session opened for user root") is None


def test_utmp_records() -> None:
    rec = struct.pack("=hxxi32s4s32s256shhiii16s20s", 7, 4242, b"pts/3", b"ts/3", b"alice", b"198.51.100.7", 0, 0, 0,
                      1700000000, 500000, b"\0" * 16, b"\0" * 20)
    [r] = parse_utmp(rec)
    assert (r["type"], r["pid"], r["line"], r["user"], r["host"], r["time"]) == (7, 4242, "pts/3", "alice", "198.51.100.7", 1700000000.5)
