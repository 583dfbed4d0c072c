"""fanotify source: the pure event decoder on hand-built buffers, and live marks on a directory of our own
(writes from a child we start carry its pid and exe; creates/deletes in dfid-name mode; the classic fd mode)."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.host.sources.fanotify import (
    FAN_CLOSE_WRITE,
    FAN_CREATE,
    FAN_DELETE,
    FAN_EVENT_INFO_TYPE_DFID_NAME,
    FAN_NOFD,
    FAN_Q_OVERFLOW,
    FanotifySource,
    action_of,
    parse_events,
)

from .conftest import collecting, require_root


def _event(mask: int, pid: int, handle: bytes = b"", name: str = "", fd: int = FAN_NOFD) -> bytes:
    info = b""
    if handle:
        body = b"\0" * 8 + struct.pack("=Ii", len(handle), 1) + handle + name.encode() + b"\0"
        body += b"\0" * (-(len(body) + 4) % 4)
        info = struct.pack("=BBH", FAN_EVENT_INFO_TYPE_DFID_NAME, 0, 4 + len(body)) + body
    return struct.pack("=IBBHQii", 24 + len(info), 3, 0, 24, mask, fd, pid) + info


def test_parse_events_decodes_dfid_name_records() -> None:
    buf = _event(FAN_CREATE, 77, b"\1\2\3\4\5\6\7\x08", "authorized_keys") + _event(FAN_Q_OVERFLOW, 0)
    got = parse_events(buf)
    assert got[0][:3] == (FAN_CREATE, FAN_NOFD, 77)
    assert got[0][3] == [(b"\0" * 8 + struct.pack("=i", 1) + b"\1\2\3\4\5\6\7\x08", "authorized_keys")]
    assert got[1][0] == FAN_Q_OVERFLOW and got[1][3] == []


def test_parse_events_stops_at_bad_lengths() -> None:
    good = _event(FAN_CLOSE_WRITE, 5, b"\1" * 8, "x")
    assert parse_events(good[:-3]) == []  # truncated event
    bad = bytearray(good)
    bad[24 + 2 : 24 + 4] = struct.pack("=H", 500)  # info record longer than the event
    assert parse_events(bytes(bad))[0][3] == []
    assert parse_events(struct.pack("=IBBHQii", 8, 3, 0, 24, 0, -1, 1)) == []  # event_len below the header
    assert parse_events(struct.pack("=IBBHQii", 24, 2, 0, 24, 0, -1, 1)) == []  # unknown metadata version


def test_action_names() -> None:
    assert action_of(FAN_CLOSE_WRITE) == "write" and action_of(FAN_CREATE) == "create"
    assert action_of(FAN_DELETE) == "delete"


def _source(tmp_path: Path, mode: str = "auto") -> tuple[FanotifySource, Path]:
    require_root()
    watched = tmp_path / "w"
    watched.mkdir()
    src = FanotifySource("h", "h", extra_paths=[str(watched)], homes_root=str(tmp_path / "homes"), sensitive=False, mode=mode)
    reason = src.probe()
    if reason:
        pytest.skip(f"fanotify unavailable here: {reason}")
    return src, watched


def _child_writes(path: Path) -> subprocess.Popen[bytes]:
    # The child stays alive until we have read its /proc entry (stdin closes it).
    return subprocess.Popen(["/bin/sh", "-c", f"echo key > '{path}'; read _"], stdin=subprocess.PIPE)


@pytest.mark.live
@pytest.mark.parametrize("mode", ["auto", "fd"])
def test_live_write_names_the_child_process(tmp_path: Path, mode: str) -> None:
    src, watched = _source(tmp_path, mode)
    target = watched / "authorized_keys"
    with collecting(src) as c:
        assert src.chosen == ("dfid-name" if mode == "auto" else "fd")
        child = _child_writes(target)
        try:
            # The kernel merges a create and the close-write that follows it into one event (action create).
            hits = c.wait_for(lambda e: e.path == str(target) and e.action in ("write", "create") and e.pid == child.pid)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=10)
        if mode == "auto":
            subprocess.run(["/bin/rm", str(target)], check=True)  # a writer that exits at once
            gone = c.wait_for(lambda e: e.path == str(target) and e.action == "delete")
    assert hits, c.snapshot()
    ev = hits[0]
    assert ev.kind == "file" and ev.source == "fanotify" and ev.exe == os.path.realpath("/bin/sh")
    assert ev.uid == 0 and ev.ppid == os.getpid() and "process_gone" not in ev.extra
    if mode == "auto":
        assert hits[0].action == "create"  # a new file, not only a write
        # rm has exited before we read /proc: the event is kept, its process marked gone (or named if we won)
        assert gone and gone[0].pid not in (0, os.getpid())
        assert gone[0].exe in ("", os.path.realpath("/bin/rm")) and (gone[0].exe or gone[0].extra["process_gone"] == "true")
    assert src._fd == -1  # the group (and with it every mark) is closed
    assert "fsid_mismatch" not in src.stats.extra


@pytest.mark.live
def test_live_new_ssh_dir_under_a_new_home_is_marked(tmp_path: Path) -> None:
    require_root()
    homes = tmp_path / "homes"
    homes.mkdir()
    src = FanotifySource("h", "h", homes_root=str(homes), sensitive=True)
    reason = src.probe()
    if reason:
        pytest.skip(f"fanotify unavailable here: {reason}")
    with collecting(src) as c:
        if src.chosen != "dfid-name":
            pytest.skip("directory events need FAN_REPORT_DFID_NAME")
        subprocess.run(["/bin/sh", "-c", f"mkdir -p '{homes}/u1/.ssh' && sleep 0.3 && echo k > '{homes}/u1/.ssh/authorized_keys'"],
                       check=True)
        keys = c.wait_for(lambda e: e.path == f"{homes}/u1/.ssh/authorized_keys")
    assert keys and keys[0].kind == "file"


@pytest.mark.live
def test_exited_writer_is_marked_not_dropped(tmp_path: Path) -> None:
    require_root()
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    ev = FanotifySource("h", "h", sensitive=False).event(p.pid, str(tmp_path / "f"), "write")
    assert ev.pid == p.pid and ev.exe == "" and ev.extra["process_gone"] == "true" and not ev.argv_complete


@pytest.mark.live
def test_agent_prefers_fanotify_over_inotify_and_reports_it(tmp_path: Path) -> None:
    """Automatic choice (probes only, nothing runs): files go to audit, else fanotify, else inotify."""
    require_root()
    from cloudwarden.host.agent import Agent, AgentOptions

    home = Path(os.environ["CLOUDWARDEN_HOME"])
    agent = Agent(AgentOptions(spool_path=home / "s" / "spool.db", status_path=home / "st.json", imds_timeout=0,
                               watch_paths=[str(tmp_path)], auth_log_paths=[]))
    try:
        report = {r.name: r for r in agent.select_sources()}
    finally:
        agent.spool.close()
    if report["audit"].active:
        assert not report["fanotify"].active and report["fanotify"].reason == "audit watches name the process"
        assert report["inotify"].active  # only for home/.ssh directories created after start
    elif report["fanotify"].active:
        assert report["fanotify"].detail in ("dfid-name", "fd")
        assert not report["inotify"].active and report["inotify"].reason == "fanotify covers watched files"
    else:
        assert report["inotify"].active
    assert report["dns"].active or "AF_PACKET" in report["dns"].reason
    # Explicitly chosen, fanotify runs even without audit being considered.
    agent2 = Agent(AgentOptions(spool_path=home / "s2" / "spool.db", status_path=home / "st2.json", imds_timeout=0,
                                sources=["fanotify"], watch_paths=[str(tmp_path)]))
    try:
        rep2 = {r.name: r for r in agent2.select_sources()}
    finally:
        agent2.spool.close()
    assert rep2["inotify"].reason == "not selected" and (rep2["fanotify"].active or rep2["fanotify"].reason)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_parse_events_never_crashes(data: bytes) -> None:
    for mask, _fd, _pid, infos in parse_events(data):
        assert mask >= 0 and all(isinstance(n, str) for _k, n in infos)
