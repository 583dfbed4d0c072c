"""Built-in rules -> Detector -> AlertStore: a replayed day of CloudTrail gives few, grouped, explained alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.engine import Detector, load_rules
from cloudwarden.detect.ocsf import to_ocsf
from cloudwarden.store.state import open_store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ev(i: int, name: str, source: str, user: str = "eve", **extra: object) -> dict[str, object]:
    return {"eventID": f"id-{i}", "eventName": name, "eventSource": source, "awsRegion": "us-east-1",
            "recipientAccountId": "111122223333", "sourceIPAddress": "203.0.113.5", "userAgent": "aws-cli/2",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/{user}", "userName": user,
                             "accountId": "111122223333"}, **extra}


def test_replay_groups_alerts_and_is_idempotent(tmp_path: Path) -> None:
    rules = load_rules([], include_builtin="cloudtrail")
    store = AlertStore(open_store(f"sqlite:///{tmp_path / 'state.db'}"))
    events = [ev(i, "StopLogging", "cloudtrail.amazonaws.com") for i in range(50)]
    events += [ev(100 + i, "GetSecretValue", "secretsmanager.amazonaws.com", user="harvester") for i in range(25)]
    events += [ev(200 + i, "DescribeInstances", "ec2.amazonaws.com") for i in range(100)]

    def replay() -> list[int]:
        det = Detector(rules)
        ids: list[int] = []
        for i, e in enumerate(events):
            ids += store.add(det.process(e, T0 + timedelta(seconds=10 * i)))
        return ids

    first = replay()
    assert store.count() == 2  # 50 StopLogging calls -> one alert; 25 secret reads -> one burst alert
    by_title = {a.title: a for a in store.list()}
    stop = by_title["CloudTrail logging stopped, deleted or reconfigured"]
    assert stop.count == 50 and stop.severity == "high" and stop.attack_ids == ["T1562.008"]
    burst = by_title["Burst of secret reads by one principal"]
    assert burst.entity.endswith("user/harvester") and burst.count == 20
    assert "20 events" in burst.explanation
    assert set(replay()) <= set(first) and store.count() == 2  # re-ingest: nothing new
    assert store.get(stop.id).count == 50  # type: ignore[union-attr]
    assert to_ocsf(store.get(burst.id))["finding_info"]["attacks"][0]["technique"]["uid"] == "T1555.006"  # type: ignore[arg-type]
