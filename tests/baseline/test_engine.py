"""The facade with a real SQLite state store, the shared alert store and a real Parquet lake."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudwarden.baseline.cloud import CloudConfig
from cloudwarden.baseline.engine import Baseline
from cloudwarden.baseline.host import HostConfig
from cloudwarden.errors import InputError
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import StateStore, open_store
from tests.baseline.build import GEO, act, day, user
from tests.baseline.test_cloud import DEV_APIS, DEVS

CFG = CloudConfig(learning_days=3.0)


def history() -> list:  # type: ignore[type-arg]
    out = []
    for d in range(4):
        for i, name in enumerate(DEVS):
            for j, (svc, api) in enumerate(DEV_APIS):
                out.append(act(user(name), api, day(d, 9 + i * 0.1 + j * 0.001), svc))
    return out


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    return open_store(f"sqlite:///{tmp_path / 'state.db'}")


def opened(state: StateStore) -> Baseline:
    return Baseline.open(state, cloud_config=CFG, host_config=HostConfig(learning_days=3.0), geo=GEO)


def test_alerts_are_stored_explained_and_persisted(state: StateStore) -> None:
    b = opened(state)
    assert b.update(history()) == []
    alerts = b.update([act(user("dev4"), "CreateAccessKey", day(5), "iam.amazonaws.com", read_only=False)])
    assert len(alerts) == 1
    alert_id = b.last_alerts[0][2]
    assert alert_id is not None
    from cloudwarden.detect.alert_store import AlertStore

    stored = AlertStore(state).get(alert_id)
    assert stored is not None and stored.source == "baseline-cloud" and stored.anomaly is not None
    (ex,) = b.explain(alert_id)
    assert ex["entity"] == user("dev4") and ex["evidence"][0]["detector"] == "first-seen:principal-api"
    b.save()
    again = opened(state)
    assert again.status()["cloud"]["principals"] == 6 and again.status()["cloud"]["stored_bytes"] > 0
    # the reopened baseline remembers: the same behaviour is not new any more
    assert again.update([act(user("dev4"), "CreateAccessKey", day(5, 12), "iam.amazonaws.com", read_only=False)]) == []


def test_feedback_for_the_group_teaches_every_peer(tmp_path: Path) -> None:
    def run(store: StateStore, teach: bool) -> int:
        b = opened(store)
        b.update(history())
        b.update([act(user("dev4"), "PutBucketPolicy", day(5), "s3.amazonaws.com", read_only=False)])
        alert_id = b.last_alerts[0][2]
        assert alert_id is not None
        if teach:
            assert b.feedback(alert_id, scope="group", by="analyst") == 6
        # a peer doing it next: only one of its five peers has, so without feedback it still alerts
        return len(b.update([act(user("dev2"), "PutBucketPolicy", day(6), "s3.amazonaws.com", read_only=False)]))

    assert run(open_store(f"sqlite:///{tmp_path / 'a.db'}"), teach=False) == 1
    assert run(open_store(f"sqlite:///{tmp_path / 'b.db'}"), teach=True) == 0


def test_feedback_for_the_entity_silences_rarity(state: StateStore) -> None:
    b = Baseline.open(state, cloud_config=CloudConfig(learning_days=3.0, min_score=0.1), geo=GEO)
    admin = user("admin")
    b.update([act(admin, "ListUsers", day(d), "iam.amazonaws.com") for d in range(12)]
             + [act(admin, "PutBucketPolicy", day(1, 11), "s3.amazonaws.com", read_only=False)])
    alerts = b.update([act(admin, "PutBucketPolicy", day(12, 11), "s3.amazonaws.com", read_only=False)])
    assert len(alerts) == 1 and "active days" in alerts[0].explanation
    b.feedback(b.last_alerts[0][2] or 0, scope="entity")
    assert b.update([act(admin, "PutBucketPolicy", day(14, 11), "s3.amazonaws.com", read_only=False)]) == []


def test_feedback_errors(state: StateStore) -> None:
    b = opened(state)
    with pytest.raises(InputError):
        b.feedback(999)
    with pytest.raises(InputError):
        b.feedback(1, scope="everyone")


def test_update_from_lake_is_incremental(state: StateStore, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    b = opened(state)
    assert b.update_from_lake(lake).api_events == 0  # empty lake
    lake.write_api_activity(history())
    r = b.update_from_lake(lake)
    assert r.api_events == 6 * 5 * 4 and r.alerts == []
    assert b.update_from_lake(lake).api_events == 0  # nothing read twice
    lake.write_api_activity([act(user("dev4"), "CreateAccessKey", day(5), "iam.amazonaws.com", read_only=False)])
    again = opened(state)  # a new process resumes from the saved watermark
    r = again.update_from_lake(lake)
    assert r.api_events == 1 and len(r.alerts) == 1 and r.alert_ids


def test_update_takes_one_mixed_stream_in_any_order(state: StateStore) -> None:
    from tests.baseline.build import exec_

    b = opened(state)
    events = [*history(), exec_("web-1", day(0).timestamp() + 60, "/usr/bin/convert", "/usr/bin/python3.11")]
    events.reverse()
    assert b.update(events) == []
    assert b.status()["cloud"]["events"] == 120 and b.status()["host"]["events"] == 1
    with pytest.raises(InputError):
        b.update(["not a record"])  # type: ignore[list-item]
