"""Real processes: `scan --every` stopped with Ctrl-C, and `cloudwarden demo` (its own moto_server)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from cloudwarden.demo.aws_account import seed_company
from tests.helpers.interrupt import interrupt_when

CLI = [str(Path(sys.executable).with_name("cloudwarden"))]


@pytest.mark.slow
def test_scan_every_loops_until_ctrl_c(moto, tmp_path) -> None:
    seed_company(moto.url)
    out = tmp_path / "out"
    run = interrupt_when(
        [*CLI, "scan", "--endpoint-url", moto.url, "--regions", "us-east-1", "--every", "1s", "--format", "json", "--out", str(out)],
        lambda _proc: len(list(out.glob("*.json"))) >= 2, wait=90, hang_guard=180)  # Ctrl-C lets the scan in hand finish
    assert run.ready  # two scans written before the interrupt
    text = run.err.decode()
    assert "Traceback" not in text and "stopped" in text
    assert run.returncode == 3  # the last scan's verdict
    docs = [orjson.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    assert docs[-1]["drift"] is not None  # the second scan compared itself with the first


@pytest.mark.slow
def test_demo_command_writes_every_report_and_stops_moto(tmp_path) -> None:
    env = {**os.environ, "CLOUDWARDEN_HOME": str(tmp_path / "home"), "COLUMNS": "160"}
    res = subprocess.run([*CLI, "demo"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    demo = tmp_path / "home" / "demo"
    for ext in ("ocsf.jsonl", "csv", "html", "asff.json", "json"):
        path = demo / f"compliance-report.{ext}"
        assert path.exists() and path.stat().st_size > 1000, path
        assert str(path) in res.stdout.replace("\n", "")
    report = orjson.loads((demo / "compliance-report.json").read_text())
    assert [f["id"] for f in report["frameworks"]] == ["cis-7.0", "soc2", "pci-4.0", "hipaa"]
    html = (demo / "compliance-report.html").read_text()
    assert "acme-web-assets" in html and 'id="f-severity"' in html
    # moto_server was ours and is gone
    port = int(re.search(r"at http://127\.0\.0\.1:(\d+)", res.stdout).group(1))
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_ctrl_c_during_scan_every_finishes_the_scan_and_a_second_one_aborts() -> None:
    from cloudwarden.stopping import TwoStepStop

    stop = TwoStepStop()
    started = time.monotonic()
    stop(signal.SIGINT, None)  # the first Ctrl-C only asks
    assert stop.requested
    stop.sleep(30)  # the wait before the next scan ends at once
    assert time.monotonic() - started < 5
    with pytest.raises(KeyboardInterrupt):
        stop(signal.SIGINT, None)  # the second one aborts
