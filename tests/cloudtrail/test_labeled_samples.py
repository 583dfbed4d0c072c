"""Labeled CloudTrail from ../shared/data/cloudtrail (read in place, never copied into the repo).

Layout (as make_cloudtrail_corpus.py reads it): `<set>/*.jsonl`, one record per line, either the CloudTrail
event itself or a row with the event under "event". The OTRF S3-exfiltration recording is the set whose
folder or file name mentions otrf / exfil; its attack part must raise alerts.
"""

from __future__ import annotations

import json
from pathlib import Path

from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.models.alert import SEVERITY_ORDER
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.conftest import shared_data


def _otrf_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.jsonl") if any(w in str(p.relative_to(root)).lower() for w in ("otrf", "exfil")))


def test_otrf_s3_exfiltration_recording_alerts_on_its_attack(tmp_path: Path) -> None:
    root = shared_data("cloudtrail")
    files = _otrf_files(root)
    if not files:
        import pytest

        pytest.skip(f"no OTRF S3-exfiltration recording (otrf/exfil in the name) under {root}")
    logs = tmp_path / "logs"
    logs.mkdir()
    ids: set[str] = set()
    for i, path in enumerate(files):
        records = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            event = row.get("event", row) if isinstance(row, dict) else row
            if isinstance(event, dict) and event.get("eventID"):
                # OTRF's recording is a Logstash export (eventTime moved to @timestamp): ingest reads it as it is
                ids.add(event["eventID"])
                records.append(event)
        (logs / f"otrf-{i}.json").write_text(json.dumps({"Records": records}))
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    summary = ingest(str(logs), Lake(tmp_path / "lake"), state, IngestOptions())
    assert summary.events == len(ids) and summary.records_set_aside == 0
    alerts = [a for a in AlertStore(state).list(limit=1000) if SEVERITY_ORDER[a.severity] >= SEVERITY_ORDER["medium"]]
    assert alerts, "the recording's attack part raised no medium-or-higher alert"
    titles = " ".join(a.title.lower() for a in alerts)
    assert any(word in titles for word in ("bucket", "s3", "public", "exfil")), titles
