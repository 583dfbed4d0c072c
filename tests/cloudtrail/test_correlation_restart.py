"""Correlation windows survive a restart of the ingest: a burst split across two files, with the ingest
SIGKILLed between them (a real subprocess, a real kill), fires exactly once after the restart."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudwarden.cloudtrail.ingest import Ingest, IngestOptions
from cloudwarden.cloudtrail.sources import LocalSource
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.correlation_store import CorrelationStore
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f

BURST = "d853e6db-a3af-5a99-b199-10759da33cc0"  # built-in "secrets retrieval burst": >= 20 reads in 10 min per principal
DAY = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/03/02"

# the first run: commit after every file, then hang after the first commit so the test can kill it there
FIRST_RUN = """
import sys, time
from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
home, logs = sys.argv[1], sys.argv[2]
def hang(summary):
    time.sleep(120)
ingest(logs, Lake(home + "/lake"), open_store(f"sqlite:///{home}/state.db"), IngestOptions(batch_files=1), progress=hang)
"""


def _reads(start: int, n: int, minute: int) -> list[dict[str, object]]:
    return [f.event("GetSecretValue", "secretsmanager.amazonaws.com", event_id=f"burst-{i:04d}",
                    time=f"2026-03-02T10:{minute:02d}:{i % 60:02d}Z", params={"secretId": f"prod/{i}"},
                    identity=f.iam_user("intruder"))
            for i in range(start, start + n)]


def _write_burst(logs: Path) -> None:
    # 12 reads in the first file, 12 in the second: neither alone reaches 20, together they do (once)
    f.write_records(logs / DAY / "111111111111_CloudTrail_us-east-1_20260302T1000Z_a.json.gz", _reads(0, 12, 0))
    f.write_records(logs / DAY / "111111111111_CloudTrail_us-east-1_20260302T1005Z_b.json.gz", _reads(12, 12, 4))


def _rows(db: Path, sql: str) -> int:
    try:
        con = sqlite3.connect(db, timeout=0.2)
        try:
            return int(con.execute(sql).fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def _burst_alerts(home: Path) -> list[object]:
    state = open_store(f"sqlite:///{home / 'state.db'}")
    try:
        return [a for a in AlertStore(state).list(limit=1000) if a.rule_id == BURST]
    finally:
        state.dispose()


def _restart(home: Path, logs: Path) -> None:
    env = dict(os.environ, CLOUDWARDEN_HOME=str(home))
    done = subprocess.run([sys.executable, "-m", "cloudwarden", "trail", "ingest", str(logs), "--json"],
                          env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode in (0, 3), done.stderr.decode()  # 3: alerts at or above the threshold


@pytest.mark.slow
def test_burst_across_a_sigkill_fires_exactly_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _write_burst(logs)
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", FIRST_RUN, str(home), str(logs)],
                            env=dict(os.environ, CLOUDWARDEN_HOME=str(home)), stderr=subprocess.PIPE)
    db = home / "state.db"
    deadline = time.monotonic() + 60
    while _rows(db, "SELECT count(*) FROM ct_objects") < 1:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the first file was never committed"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # after file a's commit, before file b is read
    proc.wait()
    assert _rows(db, "SELECT count(*) FROM ct_objects") == 1
    assert _rows(db, "SELECT count(*) FROM correlation_state") == 1  # saved with a's checkpoint
    assert _burst_alerts(home) == []

    control = tmp_path / "control"  # the same crash, but the saved windows thrown away: the burst is missed
    shutil.copytree(home, control)
    con = sqlite3.connect(control / "state.db")
    con.execute("DELETE FROM correlation_state")
    con.commit()
    con.close()

    _restart(home, logs)
    alerts = _burst_alerts(home)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert.count == 20 and alert.entity == "arn:aws:iam::111111111111:user/intruder"  # type: ignore[attr-defined]
    _restart(home, logs)  # a second restart with nothing new: still one alert, same count
    assert [(a.count) for a in _burst_alerts(home)] == [20]  # type: ignore[attr-defined]

    _restart(control, logs)
    assert _burst_alerts(control) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_windows_carry_over_between_runs_in_process(tmp_path: Path, workers: int) -> None:
    """The same without a kill: run 1 sees file a, run 2 (a fresh Ingest and Detector) sees files b and c;
    with 2 workers the parent's restored Detector runs the correlation on what the workers send it."""
    logs = tmp_path / "logs"
    f.write_records(logs / DAY / "111111111111_CloudTrail_us-east-1_20260302T1000Z_a.json.gz", _reads(0, 12, 0))
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    lake = Lake(tmp_path / "lake")
    Ingest(LocalSource(logs), lake, state, IngestOptions(workers=workers)).run()
    assert CorrelationStore(state).load(LocalSource(logs).id) is not None
    f.write_records(logs / DAY / "111111111111_CloudTrail_us-east-1_20260302T1005Z_b.json.gz", _reads(12, 6, 4))
    f.write_records(logs / DAY / "111111111111_CloudTrail_us-east-1_20260302T1010Z_c.json.gz", _reads(18, 6, 5))
    Ingest(LocalSource(logs), lake, state, IngestOptions(workers=workers)).run()
    alerts = [a for a in AlertStore(state).list(limit=100) if a.rule_id == BURST]
    assert len(alerts) == 1 and alerts[0].count == 20


def test_corrupt_saved_windows_are_reported_not_fatal(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _write_burst(logs)
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    CorrelationStore(state).save(LocalSource(logs).id, b"CWCS\x01not zlib at all")
    runner = Ingest(LocalSource(logs), Lake(tmp_path / "lake"), state, IngestOptions())
    assert runner.detect.detector.restore_errors == 1
    summary = runner.run()
    assert any(loc == "correlation state" and "unreadable" in why for _k, loc, why in summary.problems)
    assert [a.count for a in AlertStore(state).list(limit=100) if a.rule_id == BURST] == [20]
    # the broken row was replaced by a good snapshot
    data = CorrelationStore(state).load(LocalSource(logs).id)
    assert data is not None and runner.detect.detector.restore(data).error == ""


def test_crash_after_alerts_before_checkpoint_does_not_duplicate(tmp_path: Path) -> None:
    """A crash after a batch's alerts are stored but before its checkpoint (and saved windows): the restart
    re-reads the file from the older windows, the correlation fires again with the same evidence ids, and
    the alert store keeps one alert."""
    logs = tmp_path / "logs"
    _write_burst(logs)
    second = logs / DAY / "111111111111_CloudTrail_us-east-1_20260302T1005Z_b.json.gz"
    held = tmp_path / "b.json.gz"
    second.rename(held)
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    lake = Lake(tmp_path / "lake")
    Ingest(LocalSource(logs), lake, state, IngestOptions()).run()
    held.rename(second)

    crashing = Ingest(LocalSource(logs), lake, state, IngestOptions())

    def crash(*_a: object, **_k: object) -> None:
        raise RuntimeError("killed between the alert store and the checkpoint")

    crashing.checkpoint.mark_many = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        crashing.run()
    assert [a.count for a in AlertStore(state).list(limit=100) if a.rule_id == BURST] == [20]  # stored, not checkpointed

    Ingest(LocalSource(logs), lake, state, IngestOptions()).run()
    alerts = [a for a in AlertStore(state).list(limit=100) if a.rule_id == BURST]
    assert [a.count for a in alerts] == [20]
