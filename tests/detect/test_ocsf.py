"""OCSF Detection Finding (2004) shape."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.ocsf import to_ocsf
from cloudwarden.models.alert import Alert
from cloudwarden.store.state import open_store

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _alert(**kw: object) -> Alert:
    base = dict(rule_id="rule-1", title="CloudTrail logging stopped", severity="high", source="cloudtrail",
                explanation="Rule matched on selection (eventName='StopLogging').", first_seen=T0, last_seen=T0,
                entity="arn:aws:iam::1:user/eve", account="111122223333", region="us-east-1",
                attack_ids=["T1562.008", "T9999"], evidence=[{"eventID": "e1", "eventName": "StopLogging"}], evidence_ids=["e1"])
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_detection_finding_shape_from_stored_alert(tmp_path: Path) -> None:
    store = AlertStore(open_store(f"sqlite:///{tmp_path / 's.db'}"))
    (aid,) = store.add([_alert()])
    stored = store.get(aid)
    assert stored is not None
    rec = to_ocsf(stored)
    assert rec["class_uid"] == 2004 and rec["category_uid"] == 2 and rec["type_uid"] == 200401
    assert rec["severity_id"] == 4 and rec["severity"] == "High"
    assert rec["status_id"] == 1 and rec["count"] == 1
    fi = rec["finding_info"]
    assert fi["uid"] == f"cloudwarden:{aid}" and fi["title"] == "CloudTrail logging stopped"
    assert fi["desc"].startswith("Rule matched") and fi["types"] == ["cloudtrail", "rule-1"]
    assert fi["analytic"] == {"uid": "rule-1", "name": "CloudTrail logging stopped", "type_id": 1, "type": "Rule"}
    assert fi["attacks"][0]["technique"] == {"uid": "T1562.008", "name": "Impair Defenses: Disable or Modify Cloud Logs"}
    assert fi["attacks"][0]["tactic"] == {"uid": "TA0005", "name": "Defense Evasion"}
    assert fi["attacks"][1]["technique"]["uid"] == "T9999" and "tactic" not in fi["attacks"][1]
    assert fi["first_seen_time"] == int(T0.timestamp() * 1000)
    assert rec["evidences"] == [{"data": {"eventID": "e1", "eventName": "StopLogging"}}]
    assert rec["cloud"] == {"provider": "AWS", "account": {"uid": "111122223333"}, "region": "us-east-1"}
    assert "anomaly_analyses" not in rec
    store.resolve(aid, "x")
    resolved = store.get(aid)
    assert resolved is not None
    rec = to_ocsf(resolved)
    assert rec["status_id"] == 4 and rec["activity_id"] == 3


def test_anomaly_analyses_for_baseline_alerts() -> None:
    rec = to_ocsf(_alert(source="baseline-cloud", anomaly={"analysis_targets": ["principal"], "anomalies": [{"x": 1}]}, host="web-1"))
    assert rec["anomaly_analyses"] == [{"analysis_targets": ["principal"], "anomalies": [{"x": 1}]}]
    assert rec["finding_info"]["analytic"]["type"] == "Behavioral"
    assert rec["device"]["hostname"] == "web-1"
