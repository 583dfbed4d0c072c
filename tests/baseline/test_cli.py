"""`cloudwarden baseline ...` through Typer's runner, on a real state DB and lake under CLOUDWARDEN_HOME."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.store.lake import Lake
from tests.baseline.build import act, day, user
from tests.baseline.test_engine import history


def test_status_update_explain_feedback(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CLOUDWARDEN_BASELINE_LEARNING_DAYS": "3", "CLOUDWARDEN_BASELINE_OFFLINE_GEO": "false"}
    r = runner.invoke(app, ["baseline", "status"], env=env)
    assert r.exit_code == 0, r.output
    assert "no data" in r.output
    lake = Lake(Path(os.environ["CLOUDWARDEN_HOME"]) / "lake")
    lake.write_api_activity([*history(), act(user("dev4"), "CreateAccessKey", day(5), "iam.amazonaws.com", read_only=False)])
    r = runner.invoke(app, ["baseline", "update", "--regroup"], env=env)
    assert r.exit_code == 0, r.output
    assert "read 121 API events" in r.output and "1 alert(s)" in r.output and "[high]" in r.output
    assert "peer groups recomputed from the lake: 1" in r.output
    alert_id = r.output.split("#", 1)[1].split()[0]
    r = runner.invoke(app, ["baseline", "explain", alert_id], env=env)
    assert r.exit_code == 0 and "first-seen:principal-api" in r.output.replace("\n", "")
    r = runner.invoke(app, ["baseline", "feedback", alert_id, "--scope", "group"], env=env)
    assert r.exit_code == 0 and "6 entities learned" in r.output
    r = runner.invoke(app, ["baseline", "status", "--json"], env=env)
    assert r.exit_code == 0 and '"taught": 1' in r.output
    r = runner.invoke(app, ["baseline", "rarity", "--min-sensitivity", "0"], env=env)
    assert r.exit_code == 0 and "Rare sensitive APIs" in r.output
    r = runner.invoke(app, ["baseline", "update", "--every", "soon"], env=env)
    assert r.exit_code == 2 and "not a duration" in r.output
    r = runner.invoke(app, ["baseline", "explain", "999"], env=env)
    assert r.exit_code == 1
    r = runner.invoke(app, ["baseline", "feedback", alert_id, "--scope", "planet"], env=env)
    assert r.exit_code == 2


def test_update_every_stops_cleanly_on_ctrl_c() -> None:
    import os
    import subprocess
    import sys

    from tests.helpers.interrupt import interrupt_when

    early: list[bytes] = []

    def printed(proc: subprocess.Popen[bytes]) -> bool:  # the first pass's report (read without blocking)
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        early.append(proc.stdout.read() or b"")
        return bool(early[-1])

    run = interrupt_when([sys.executable, "-m", "cloudwarden", "baseline", "update", "--every", "1s"], printed,
                         wait=60, hang_guard=60)
    assert run.returncode == 0, run.err.decode()[-2000:]
    assert b"Traceback" not in run.err and b"read " in b"".join(early) + run.out
