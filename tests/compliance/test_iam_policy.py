"""Policy-document helpers: every accepted shape, and malformed documents raise a clear error."""

from __future__ import annotations

import json

import pytest

from cloudwarden.compliance.checks.iam.iam_policy import (
    PolicyDocumentError,
    iam_policy_allows_action,
    iam_policy_allows_full_admin,
    iam_policy_statements,
)


def doc(*statements: dict[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_admin_forms() -> None:
    assert iam_policy_allows_full_admin(doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    assert iam_policy_allows_full_admin(doc({"Effect": "Allow", "Action": ["s3:Get*", "*"], "Resource": ["*"]}))
    # a single statement object, and a JSON string, and URL-encoded JSON
    single = {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}
    assert iam_policy_allows_full_admin(single)
    assert iam_policy_allows_full_admin(json.dumps(single))
    from urllib.parse import quote

    assert iam_policy_allows_full_admin(quote(json.dumps(single)))


def test_not_admin_forms() -> None:
    assert not iam_policy_allows_full_admin(doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    assert not iam_policy_allows_full_admin(doc({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}))
    assert not iam_policy_allows_full_admin(doc({"Effect": "Deny", "Action": "*", "Resource": "*"}))
    assert not iam_policy_allows_full_admin(doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
    conditional = {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
    assert not iam_policy_allows_full_admin(doc(conditional))


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        "[1, 2]",
        None,
        42,
        {"Version": "2012-10-17"},
        doc({"Effect": "Maybe", "Action": "*", "Resource": "*"}),
        doc({"Effect": "Allow", "Resource": "*"}),
        doc({"Effect": "Allow", "Action": 5, "Resource": "*"}),
        {"Statement": "oops"},
        {"Statement": ["oops"]},
    ],
)
def test_malformed_documents_raise(bad: object) -> None:
    with pytest.raises(PolicyDocumentError):
        iam_policy_statements(bad)


def test_allows_action_wildcards_and_deny() -> None:
    d = doc({"Effect": "Allow", "Action": "cloudshell:*", "Resource": "*"})
    assert iam_policy_allows_action(d, "cloudshell:PutFileUpload")
    assert not iam_policy_allows_action(d, "s3:GetObject")
    denied = doc({"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "cloudshell:Put*", "Resource": "*"})
    assert not iam_policy_allows_action(denied, "cloudshell:PutFileUpload")
    assert iam_policy_allows_action(doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}), "s3:GetObject")
