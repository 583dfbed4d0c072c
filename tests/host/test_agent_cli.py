"""The agent pipeline in-process (spool-only, sock_diag source) and `agent status` reading what it wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudwarden.cli.agent import app
from cloudwarden.host.agent import Agent, AgentOptions


def test_agent_runs_spools_and_status_reports(tmp_path: Path) -> None:
    home = Path(os.environ["CLOUDWARDEN_HOME"])
    opts = AgentOptions(spool_path=home / "agent-spool" / "spool.db", status_path=home / "agent-status.json",
                        sources=["sock_diag", "inotify"], imds_timeout=0, sock_diag_interval=0.2,
                        watch_paths=[str(tmp_path)])
    agent = Agent(opts)
    report = {r.name: r for r in agent.select_sources()}
    if not report["sock_diag"].active:
        pytest.skip(f"sock_diag unavailable: {report['sock_diag'].reason}")
    assert not report["audit"].active and report["audit"].reason == "not selected"
    import threading
    import time

    t = threading.Thread(target=agent.run, kwargs={"duration": 3.0, "install_signals": False})
    t.start()
    time.sleep(1.0)
    (tmp_path / "watched-file").write_text("x")
    t.join(timeout=30)
    res = CliRunner().invoke(app, ["status", "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["running"] is False and st["health"]["sources"]["sock_diag"]["active"]
    assert st["spool"]["appended"] >= 2 and st["spool"]["dropped"] == 0  # listeners at start + the file event
    plain = CliRunner().invoke(app, ["status"])
    assert "sock_diag" in plain.output and "not running" in plain.output


def test_status_without_an_agent_says_so() -> None:
    res = CliRunner().invoke(app, ["status"])
    assert res.exit_code == 2 and "no agent status" in res.output


def test_run_refuses_unknown_source_and_missing_token() -> None:
    res = CliRunner().invoke(app, ["run", "--server", "http://127.0.0.1:9", "--no-imds"])
    assert res.exit_code == 2 and "no agent token" in res.output
    res = CliRunner().invoke(app, ["run", "--sources", "ebpf", "--no-imds"])
    assert res.exit_code == 2 and "unknown sources: ebpf" in res.output
