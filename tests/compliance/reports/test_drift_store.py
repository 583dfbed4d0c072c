from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.drift import ResourceRef, diff
from cloudwarden.compliance.store import ScanStore
from cloudwarden.errors import StoreError
from tests.compliance.reports.sample import ACCOUNT, bucket, make_scan, r, sg, user


def test_diff_new_fixed_changes_and_resources() -> None:
    prev = [
        r("iam_user_mfa_console", Status.FAIL, user("alice"), "no MFA"),
        r("iam_user_mfa_console", Status.PASS, user("bob"), "MFA"),
        r("iam_user_mfa_console", Status.FAIL, user("carol"), "no MFA"),  # carol is deleted later
        r("s3_bucket_public_access_block", Status.PASS, bucket("b1"), "ok"),
        r("securityhub_enabled", Status.NOT_EVALUATED, "arn:aws:securityhub:us-east-1:1:", "denied", "us-east-1"),
    ]
    cur = [
        r("iam_user_mfa_console", Status.PASS, user("alice"), "MFA now"),  # fixed
        r("iam_user_mfa_console", Status.FAIL, user("bob"), "MFA removed"),  # regression
        r("s3_bucket_public_access_block", Status.PASS, bucket("b1"), "ok"),
        r("ec2_sg_ssh_open", Status.FAIL, sg("sg-9"), "22 open", "us-east-1"),  # new resource failing
        r("securityhub_enabled", Status.FAIL, "arn:aws:securityhub:us-east-1:1:", "off", "us-east-1"),  # NE -> FAIL
    ]
    d = diff(prev, cur, previous_id="p", current_id="c")
    assert [c.resource_arn for c in d.new_failures] == [sg("sg-9"), user("bob"), "arn:aws:securityhub:us-east-1:1:"]
    bob = next(c for c in d.new_failures if c.resource_arn == user("bob"))
    assert (bob.before, bob.after, bob.reason) == (Status.PASS, Status.FAIL, "MFA removed")
    assert next(c for c in d.new_failures if c.resource_arn == sg("sg-9")).before is None
    assert [c.resource_arn for c in d.fixed] == [user("alice")]
    assert {(c.resource_arn, c.before, c.after) for c in d.status_changes} == {
        (user("alice"), Status.FAIL, Status.PASS),
        (user("bob"), Status.PASS, Status.FAIL),
        ("arn:aws:securityhub:us-east-1:1:", Status.NOT_EVALUATED, Status.FAIL),
    }
    # resources only count when evaluated (PASS/FAIL): the NOT_EVALUATED placeholder is not "added"
    assert d.resources_added == [ResourceRef(ACCOUNT, "us-east-1", sg("sg-9")), ResourceRef(ACCOUNT, "us-east-1", "arn:aws:securityhub:us-east-1:1:")]
    assert d.resources_removed == [ResourceRef(ACCOUNT, "global", user("carol"))]
    assert d.has_changes and d.summary()["fixed"] == 1


def test_diff_without_previous_reports_every_failure_as_new() -> None:
    cur = make_scan().results
    d = diff(None, cur)
    assert len(d.new_failures) == 2 and not d.fixed and not d.resources_added and not d.resources_removed


def test_diff_identical_scans_has_no_changes() -> None:
    a, b = make_scan().results, make_scan().results
    assert not diff(a, b).has_changes


def test_access_denied_does_not_look_like_removed_resources() -> None:
    prev = [r("s3_bucket_public_access_block", Status.PASS, bucket("b1"), "ok")]
    cur = [r("s3_bucket_public_access_block", Status.NOT_EVALUATED, "arn:aws:s3:::", "AccessDenied")]
    d = diff(prev, cur)
    assert d.resources_removed == []  # the only check that saw b1 could not look this time
    assert not d.new_failures and not d.fixed
    gone = diff(prev, [r("s3_bucket_public_access_block", Status.PASS, bucket("b2"), "ok")])
    assert gone.resources_removed == [ResourceRef(ACCOUNT, "global", bucket("b1"))]


def test_store_round_trip_list_previous_and_delete(state) -> None:
    store = ScanStore(state)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    first = make_scan(scan_id="1" * 32, when=t0)
    first.results[0].details = {"mfa": False, "tags": {"k": "v"}}
    store.save(first)
    other_scope = make_scan(scan_id="2" * 32, frameworks=["cis-3.0"], when=t0 + timedelta(hours=1))
    store.save(other_scope)
    second = make_scan(scan_id="3" * 32, when=t0 + timedelta(hours=2))
    second.results[0].status = Status.PASS
    store.save(second)

    listed = store.list()
    assert [s.scan_uid[0] for s in listed] == ["3", "2", "1"]
    assert listed[0].failed == 1 and listed[0].passed == 5 and listed[0].started_at.tzinfo is not None
    assert [s.scan_uid[0] for s in store.list(scope_key=first.scope_key)] == ["3", "1"]

    loaded = store.get(second.stored_id or 0)
    assert loaded.scan_id == second.scan_id and len(loaded.results) == 7
    assert loaded.checks["iam_user_mfa_console"].cis["7.0"] == ["2.10"]
    assert loaded.checks["iam_user_mfa_console"].references == second.checks["iam_user_mfa_console"].references
    prev = store.previous(loaded)
    assert prev is not None and prev.scan_id == "1" * 32
    assert prev.results[0].details == {"mfa": False, "tags": {"k": "v"}}
    assert store.previous(prev) is None
    assert store.get("333").scan_id == "3" * 32  # uid prefix
    d = diff(prev.results, loaded.results)
    assert [c.resource_arn for c in d.fixed] == [user("alice")]

    with pytest.raises(StoreError, match="already stored"):
        store.save(make_scan(scan_id="1" * 32))
    store.delete(first.stored_id or 0)
    with pytest.raises(StoreError, match="no stored scan"):
        store.get(first.stored_id or 0)


def test_prune_keeps_newest_per_scope(state) -> None:
    store = ScanStore(state)
    for i in range(4):
        store.save(make_scan(scan_id=f"{i:032d}"))
    store.save(make_scan(scan_id="9" * 32, frameworks=["cis-3.0"]))
    assert store.prune(keep=2) == 2
    assert [s.scan_uid[-1] for s in store.list()] == ["9", "3", "2"]
    assert store.prune(keep=0) == 1  # at least one per scope is kept
    assert len(store.get(store.list()[0].id).results) == 7
    from sqlalchemy import func, select

    from cloudwarden.compliance.store import ComplianceResultRow

    with state.session() as s:
        assert s.scalar(select(func.count()).select_from(ComplianceResultRow)) == 14  # no orphaned results
