"""SIGKILL at any moment, restart: no event lost, no alert duplicated (a real subprocess, a real kill)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.engine import load_rules
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f

FILES = 48
PER_FILE = 250


def _cli(home: Path, logs: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CLOUDWARDEN_HOME=str(home))
    return subprocess.Popen(
        [sys.executable, "-m", "cloudwarden", "trail", "ingest", str(logs), "--json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _processed(home: Path) -> int:
    db = home / "state.db"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=0.2)
        try:
            return int(con.execute("SELECT count(*) FROM ct_objects").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _kill_when(proc: subprocess.Popen[bytes], ready: object, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():  # type: ignore[operator]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    raise AssertionError("ingest never reached the kill point")


def _single_event_totals(home: Path, correlation_ids: set[str]) -> Counter[tuple[str, str]]:
    state = open_store(f"sqlite:///{home / 'state.db'}")
    totals: Counter[tuple[str, str]] = Counter()
    for a in AlertStore(state).list(limit=10_000):
        if a.rule_id not in correlation_ids:
            totals[(a.rule_id, a.entity)] += a.count
    state.dispose()
    return totals


@pytest.mark.slow
def test_sigkill_and_restart_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for i in range(FILES):
        f.write_records(logs / f"AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/01/f{i:03d}.json.gz",
                        f.many(PER_FILE, start=i * PER_FILE))
    # also a few events repeated across files (CloudTrail does deliver duplicates)
    f.write_records(logs / "dupes.json.gz", f.many(50, start=0))

    crashed = tmp_path / "crashed"
    lake_dir = crashed / "lake"
    kills = 0
    # 1: killed as soon as the first lake file exists (nothing committed yet)
    kills += _kill_when(_cli(crashed, logs), lambda: any(lake_dir.rglob("*.parquet")))
    # 2: killed while checkpoints are being committed (some files done, not all)
    kills += _kill_when(_cli(crashed, logs), lambda: 0 < _processed(crashed) < FILES)
    # 3: killed again, later
    kills += _kill_when(_cli(crashed, logs), lambda: _processed(crashed) >= FILES // 2)
    assert kills >= 2, "the ingest finished before it could be killed: make the corpus bigger"
    final = _cli(crashed, logs)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert _processed(crashed) == FILES + 1

    clean = tmp_path / "clean"  # the reference: the same ingest, never interrupted (in-process, same pipeline)
    ingest(str(logs), Lake(clean / "lake"), open_store(f"sqlite:///{clean / 'state.db'}"), IngestOptions())

    unique = FILES * PER_FILE
    assert Lake(lake_dir).count() == unique == Lake(clean / "lake").count()
    ids = Lake(lake_dir).query("SELECT count(DISTINCT event_id) AS n, count(*) AS c FROM api_activity")[0]
    assert ids == {"n": unique, "c": unique}

    con = sqlite3.connect(crashed / "state.db")
    dup = con.execute("SELECT count(*) - count(DISTINCT key_hash || '|' || event_id) FROM alert_evidence").fetchone()[0]
    con.close()
    assert dup == 0
    correlations = {info.id for info, _spec in load_rules([], include_builtin="cloudtrail").correlations}
    crashed_totals = _single_event_totals(crashed, correlations)
    assert crashed_totals and crashed_totals == _single_event_totals(clean, correlations)
