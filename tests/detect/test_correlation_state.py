"""Detector.snapshot / restore: correlation windows as bytes, across a restart, a changed rule set and
a corrupt snapshot."""

from __future__ import annotations

import logging
import zlib
from datetime import timedelta
from typing import Any

import orjson
import pytest

from cloudwarden.detect.correlation_store import CorrelationStore
from cloudwarden.detect.engine import SNAPSHOT_EVENT_BYTES, Detector
from cloudwarden.store.state import open_store
from tests.detect.test_correlation import T0, base, corr, ev, fired, ruleset

CID = "99999999-0000-4000-8000-000000000001"
CID2 = "99999999-0000-4000-8000-000000000002"


def _rules(threshold: int = 3, second_threshold: int = 2, base_name: str = "GetSecretValue") -> Any:
    return ruleset(base("read", base_name), base("key", "CreateAccessKey"),
                   corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": threshold}),
                   {**corr("event_count", ["key"], group_by=["userIdentity.arn"], condition={"gte": second_threshold}),
                    "id": CID2})


def test_round_trip_resumes_a_window() -> None:
    first = Detector(_rules())
    e1, e2 = ev("GetSecretValue"), ev("GetSecretValue")
    assert not fired(first, [(e1, 0), (e2, 1)])
    data = first.snapshot()
    assert data.startswith(b"CWCS\x01")

    again = Detector(_rules())  # a new process: the rules loaded again
    result = again.restore(data)
    assert result.error == "" and result.restored == [CID] and result.groups == 1 and result.dropped == []
    assert not fired(again, [(e2, 2)])  # the same event id again (a re-read file) does not count twice
    alerts = fired(again, [(ev("GetSecretValue"), 3)])
    assert len(alerts) == 1
    a = alerts[0]
    assert a.count == 3 and a.evidence_ids[:2] == [e1["eventID"], e2["eventID"]] and a.evidence[:2] == [e1, e2]
    assert a.first_seen == T0


def test_round_trip_of_a_closing_window() -> None:
    rs = ruleset(base("get", "GetObject"), corr("event_count", ["get"], group_by=["userIdentity.arn"], condition={"lt": 3}))
    first = Detector(rs)
    fired(first, [(ev("GetObject"), 0)])
    again = Detector(rs)
    again.restore(first.snapshot())
    assert again.flush(T0 + timedelta(minutes=5)) == []
    alerts = again.flush(T0 + timedelta(minutes=11))
    assert [a.count for a in alerts] == [1]


def test_changed_rule_drops_only_its_state(caplog: pytest.LogCaptureFixture) -> None:
    first = Detector(_rules())
    fired(first, [(ev("GetSecretValue"), 0), (ev("GetSecretValue"), 1), (ev("CreateAccessKey"), 1)])
    data = first.snapshot()

    changed = Detector(_rules(threshold=5))  # the burst rule's threshold changed; the key rule did not
    with caplog.at_level(logging.WARNING, logger="cloudwarden.detect.engine"):
        result = changed.restore(data)
    assert result.restored == [CID2]
    assert result.dropped == [(CID, "the rule (or a rule it references) changed since the snapshot")]
    assert f"correlation state of rule {CID} dropped" in caplog.text
    assert fired(changed, [(ev("CreateAccessKey"), 2)], rule_id=CID2)  # the kept window still counts
    assert not fired(changed, [(ev("GetSecretValue"), 3)])

    # a referenced rule's detection changing also counts as a change
    assert Detector(_rules(base_name="GetParameter")).restore(data).restored == [CID2]
    # a rule no longer loaded
    only_one = ruleset(base("read", "GetSecretValue"),
                       corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 3}))
    result = Detector(only_one).restore(data)
    assert result.restored == [CID] and result.dropped == [(CID2, "the rule is no longer loaded")]


def test_title_changes_keep_the_state() -> None:
    first = Detector(_rules())
    fired(first, [(ev("GetSecretValue"), 0)])
    renamed = ruleset(base("read", "GetSecretValue"), base("key", "CreateAccessKey"),
                      {**corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 3}), "title": "renamed"},
                      {**corr("event_count", ["key"], group_by=["userIdentity.arn"], condition={"gte": 2}), "id": CID2})
    assert Detector(renamed).restore(first.snapshot()).restored == [CID]


@pytest.mark.parametrize("data", [
    b"",
    b"garbage",
    b"CWCS\x09" + zlib.compress(b"{}"),  # unknown format version
    b"CWCS\x01not zlib",
    b"CWCS\x01" + zlib.compress(b"not json"),
    b"CWCS\x01" + zlib.compress(orjson.dumps({"v": 1, "states": []})),
    b"CWCS\x01" + zlib.compress(orjson.dumps({"v": 1, "states": {CID: {"fp": "x", "groups": 5}}})),
    b"CWCS\x01" + zlib.compress(b'{"v": 1, "states": {}}')[:-4],  # truncated
])
def test_corrupt_snapshot_starts_empty_and_is_counted(data: bytes, caplog: pytest.LogCaptureFixture) -> None:
    det = Detector(_rules())
    fired(det, [(ev("GetSecretValue"), 0), (ev("GetSecretValue"), 1)])
    with caplog.at_level(logging.WARNING, logger="cloudwarden.detect.engine"):
        result = det.restore(data)
    assert result.error.startswith("correlation state snapshot unreadable") or result.dropped, result
    if result.error:
        assert det.restore_errors == 1 and "unreadable" in caplog.text
    assert det.stats["groups"] == 0  # starts empty, and keeps working
    assert not fired(det, [(ev("GetSecretValue"), 2), (ev("GetSecretValue"), 3)])
    assert fired(det, [(ev("GetSecretValue"), 4)])


def test_malformed_state_of_a_matching_rule_is_an_error() -> None:
    det = Detector(_rules())
    fp = det._states[0].spec.fingerprint
    bad = b"CWCS\x01" + zlib.compress(orjson.dumps({"v": 1, "states": {CID: {"fp": fp, "groups": [["x"]]}}}))
    assert det.restore(bad).error and det.restore_errors == 1


def test_evidence_bodies_are_bounded_but_events_still_count() -> None:
    det = Detector(_rules())
    huge = ev("GetSecretValue", blob="x" * (SNAPSHOT_EVENT_BYTES + 1))
    fired(det, [(huge, 0), (ev("GetSecretValue"), 1)])
    data = det.snapshot()
    assert len(data) < 4096 and det.evidence_dropped == 1
    again = Detector(_rules())
    again.restore(data)
    alerts = fired(again, [(ev("GetSecretValue"), 2)])
    assert len(alerts) == 1 and alerts[0].count == 3 and huge["eventID"] in alerts[0].evidence_ids
    assert huge not in alerts[0].evidence


def test_snapshot_respects_the_current_bounds() -> None:
    det = Detector(_rules(threshold=1000), max_groups=100)
    fired(det, [(ev("GetSecretValue", f"u{i}"), 0) for i in range(100)])
    small = Detector(_rules(threshold=1000), max_groups=10)
    assert small.restore(det.snapshot()).groups == 10


def test_store_round_trip(tmp_path: Any) -> None:
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    store = CorrelationStore(state)
    det = Detector(_rules())
    assert store.restore_into(det, "src") is None
    fired(det, [(ev("GetSecretValue"), 0)])
    store.save("src", det.snapshot())
    store.save("src", det.snapshot())  # an upsert, one row
    again = Detector(_rules())
    result = store.restore_into(again, "src")
    assert result is not None and result.groups == 1
    store.delete("src")
    assert store.load("src") is None
