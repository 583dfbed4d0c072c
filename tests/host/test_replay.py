"""Offline replay: the CLI on a hand-recorded raw log and Laurel file, idempotent storing, and the OTRF
Linux auditd samples when ../shared/data is present."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import orjson

from cloudwarden.host.replay import replay_file
from cloudwarden.store.lake import Lake
from tests.conftest import shared_data
from tests.host.test_auditparse import EXEC_LINES


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cloudwarden", "agent", "replay", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


def test_replay_cli_prints_events_and_alerts_and_stores_idempotently(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text("\n".join([*EXEC_LINES, "this line is not audit", ""]))
    r = _cli(str(log), "--json", "--events", "--host", "web-1")
    assert r.returncode == 3, r.stderr  # alerts found
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    events = [x["event"] for x in lines if "event" in x]
    alerts = [x["alert"] for x in lines if "alert" in x]
    assert len(events) == 1 and events[0]["host_id"] == "web-1"
    assert [a["title"] for a in alerts] == ["Reverse shell through bash /dev/tcp"]
    assert "1 bad lines" in r.stderr and f"{log}:{len(EXEC_LINES) + 1}" in r.stderr
    from typer.testing import CliRunner

    from cloudwarden.cli.agent import app

    for _ in range(2):  # storing twice stores once (in-process: the CLI subprocess above already proved the entry point)
        res = CliRunner().invoke(app, ["replay", str(log), "--store", "--host", "web-1"])
        assert res.exit_code == 3, res.output
    lake = Lake(Path(os.environ["CLOUDWARDEN_HOME"]) / "lake")
    assert [x["event_id"] for x in lake.query("SELECT event_id FROM host_events")] == [events[0]["event_id"]]


def test_replay_links_parents_offline_and_reads_laurel(tmp_path: Path) -> None:
    parent = [ln.replace("pid=200", "pid=100").replace("ppid=100", "ppid=1").replace(":501)", ":500)") for ln in EXEC_LINES]
    parent[1] = 'type=EXECVE msg=audit(1700000000.100:500): argc=1 a0="sshd:"'
    log = tmp_path / "a.log"
    log.write_text("\n".join(parent + EXEC_LINES) + "\n")
    res = replay_file(log)
    assert [e.pid for e in res.events] == [100, 200]
    assert res.events[1].parent_exe == "/usr/bin/bash" and res.events[1].extra["parent_cmdline"] == "sshd:"
    laurel = tmp_path / "l.json"
    laurel.write_text(orjson.dumps({"ID": "1700000000.100:9", "SYSCALL": {"arch": "0xc000003e", "syscall": 59, "success": "yes",
                      "pid": 5, "ppid": 1, "auid": 0, "exe": "/usr/bin/id"}, "EXECVE": {"argc": 1, "ARGV": ["id"]}}).decode() + "\n")
    res = replay_file(laurel)
    assert res.format == "laurel" and [e.argv for e in res.events] == [["id"]]


def _otrf_audit_files(hids: Path, unpack: Path) -> list[Path]:
    """Audit samples under hids/ in any folder named for OTRF/auditd (the folder name is not fixed); OTRF ships
    its datasets as zips, which are unpacked under `unpack` (never next to the data)."""
    roots = sorted(p for p in hids.iterdir() if p.is_dir() and any(w in p.name.lower() for w in ("otrf", "auditd", "mordor")))
    files: list[Path] = []
    for root in roots:
        for f in sorted(root.rglob("*")):
            if f.is_file() and f.suffix == ".zip":
                with zipfile.ZipFile(f) as z:
                    z.extractall(unpack / f.stem)
                files += sorted(p for p in (unpack / f.stem).rglob("*") if p.is_file())
            elif f.is_file() and f.suffix in (".log", ".json", ".gz", ".txt", ""):
                files.append(f)
    return files


def test_otrf_linux_auditd_samples_replay(tmp_path: Path) -> None:
    hids = shared_data("hids")
    files = _otrf_audit_files(hids, tmp_path)
    assert files, f"no OTRF audit samples in a folder named otrf/auditd under {hids}"
    total_events = total_audit = 0
    for f in files:
        res = replay_file(f)
        total_audit += res.audit_events
        total_events += len(res.events)
        print(f"{f.name}: {res.format} {res.audit_events} audit events -> {len(res.events)} host events, {len(res.errors)} bad lines")
        assert len(res.errors) <= max(10, res.audit_events // 100), res.errors[:5]
    assert total_audit > 0 and total_events > 0
