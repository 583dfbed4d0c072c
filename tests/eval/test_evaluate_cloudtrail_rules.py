"""eval/evaluate_cloudtrail_rules.py on a hand-built folder of the ../shared/data layout (our own events)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _event(eid: str, name: str, source: str, **extra: object) -> dict[str, object]:
    return {"eventVersion": "1.08", "eventID": eid, "eventTime": "2026-01-02T03:04:05Z", "eventSource": source,
            "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2",
            "recipientAccountId": "111111111111",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/a", "accountId": "111111111111"},
            **extra}


def test_prints_rule_loading_panther_coverage_and_otrf_alerts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rules = data / "sigma" / "rules" / "cloud" / "aws" / "cloudtrail"
    rules.mkdir(parents=True)
    shutil.copy(ROOT / "src/cloudwarden/rules/cloudtrail/cloudtrail_tampering.yml", rules / "one.yml")
    (data / "sigma" / "rules" / "linux").mkdir(parents=True)
    panther = data / "cloudtrail" / "panther"
    panther.mkdir(parents=True)
    rows = [
        {"rule_id": "AWS.CloudTrail.Stopped", "expected_result": True,
         "event": _event("p1", "StopLogging", "cloudtrail.amazonaws.com", requestParameters={"name": "t"})},
        {"rule_id": "AWS.CloudTrail.Stopped", "expected_result": False,
         "event": _event("p2", "DescribeTrails", "cloudtrail.amazonaws.com")},
    ]
    (panther / "tests.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    otrf = data / "cloudtrail" / "otrf-s3-exfiltration"
    otrf.mkdir()
    stop = _event("o1", "StopLogging", "cloudtrail.amazonaws.com", requestParameters={"name": "t"})
    stop["@timestamp"] = stop.pop("eventTime")  # the recording is a Logstash export
    (otrf / "rec.jsonl").write_text(json.dumps(stop))
    out = subprocess.run([sys.executable, str(ROOT / "eval/evaluate_cloudtrail_rules.py")], capture_output=True, text=True,
                         env={**os.environ, "CLOUDWARDEN_SHARED_DATA": str(data)}, timeout=120, check=True).stdout
    assert "SigmaHQ CloudTrail 1 / 0" in out
    assert "Panther rule tests: 2 events from 1 rules (1 positive, 1 negative)" in out
    assert "positives firing the covering built-in 1/1, negatives firing it 0/1" in out
    assert "OTRF recording, 1 events, built-ins: 1 alerts" in out


def test_says_what_is_missing_when_the_data_is_absent(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "eval/evaluate_cloudtrail_rules.py")], capture_output=True, text=True,
                         env={**os.environ, "CLOUDWARDEN_SHARED_DATA": str(tmp_path)}, timeout=120)
    assert run.returncode != 0 and "CLOUDWARDEN_SHARED_DATA" in run.stderr
