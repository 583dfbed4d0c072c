"""Derived fields (detect/fields.py): the session name of role and federated sessions, which CloudTrail writes
only inside the ARN, computed when a rule reads `userIdentity.sessionContext.sessionName`."""

from __future__ import annotations

from typing import Any

import pytest

from cloudwarden.cloudtrail.normalize import principal_of
from cloudwarden.detect.fields import MISSING, SESSION_NAME, compile_getter, session_name
from tests.detect.helpers import hits, one_rule


def role(session: str, *, kind: str = "AssumedRole", arn: str | None = None) -> dict[str, Any]:
    identity: dict[str, Any] = {
        "type": kind,
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::111122223333:assumed-role/ops/{session}" if arn is None else arn,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/ops"}},
    }
    return {"eventSource": "iam.amazonaws.com", "eventName": "UpdateLoginProfile", "userIdentity": identity,
            "requestParameters": {"userName": "alice"}}


IDENTITIES = [
    ({"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0a1b/alice@example.com",
      "principalId": "AROAX:alice@example.com"}, "alice@example.com"),
    ({"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/carol",
      "principalId": "111122223333:carol"}, "carol"),
    ({"type": "AssumedRole", "principalId": "AROAX:i-0a1b2c3d"}, "i-0a1b2c3d"),  # no ARN: from principalId
    ({"type": "IAMUser", "arn": "arn:aws:iam::1:user/alice", "userName": "alice"}, MISSING),
    ({"type": "Root", "arn": "arn:aws:iam::111122223333:root"}, MISSING),
    ({"type": "AssumedRole", "arn": "not-an-arn", "principalId": "AROAX"}, MISSING),
]


@pytest.mark.parametrize(("identity", "expected"), IDENTITIES)
def test_session_name(identity: dict[str, Any], expected: Any) -> None:
    event = {"userIdentity": identity}
    for got in (session_name(event), compile_getter(SESSION_NAME)(event)):
        assert got is MISSING if expected is MISSING else got == expected


@pytest.mark.parametrize(("identity", "expected"), [i for i in IDENTITIES if "arn" in i[0]])
def test_session_name_agrees_with_normalisation(identity: dict[str, Any], expected: Any) -> None:
    _principal, _kind, normalised = principal_of(identity, "111122223333")
    assert normalised == ("" if expected is MISSING else expected)


def test_a_real_value_at_the_path_wins() -> None:
    event = role("alice")
    event["userIdentity"]["sessionContext"]["sessionName"] = "bob"
    assert compile_getter(SESSION_NAME)(event) == "bob"
    assert compile_getter(SESSION_NAME)({"userIdentity.sessionContext.sessionName": "flat"}) == "flat"
    assert compile_getter(SESSION_NAME)({}) is MISSING
    assert compile_getter(SESSION_NAME)({"userIdentity": "text"}) is MISSING


def test_fieldref_to_the_session_name() -> None:
    rs = one_rule({"sel": {"eventName": "UpdateLoginProfile"},
                   "self": {"requestParameters.userName|fieldref": SESSION_NAME},
                   "condition": "sel and not self"})
    assert not hits(rs, role("alice"))  # the session named after the user: a self-change
    assert not hits(rs, role("Alice"))  # IAM user names are case-insensitive
    assert hits(rs, role("malice"))  # a name that only ends with the user's is someone else
    assert hits(rs, role("alice-admin"))
    assert hits(rs, role("alice", kind="IAMUser"))  # IAM users have no session name


def test_index_key_on_the_derived_field() -> None:
    # an equality on the derived field becomes the rule's index key: index, plans and brute force agree
    rs = one_rule({"sel": {SESSION_NAME: "break-glass"}, "condition": "sel"})
    for _ in range(3):  # repeated: remembered plans are used
        assert hits(rs, role("break-glass"))
        assert not hits(rs, role("alice"))
        assert not hits(rs, {"eventName": "X"})
