"""Every CIS IAM-section check (plus Security Hub / Macie) on hand-built inventories: >=1 PASS and
>=1 FAIL each. Hand-built because moto cannot show these cases: its credential report has no root
row, it cannot backdate key/password ages, it has no Access Analyzer, no GetContactInformation and no
ListOrganizationsFeatures, and it cannot store an expired server certificate. The moto path is covered
in test_iam_collect.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloudwarden.compliance.checks.base import Status, all_checks
from cloudwarden.compliance.inventory import CollectionFailure
from tests.compliance.core_support import ACCOUNT, ago, inventory, report_row, run_check, statuses

ROOT = "<root_account>"
A = f"arn:aws:iam::{ACCOUNT}"


def user(name: str, attached: list[str] | None = None, inline: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"UserName": name, "Arn": f"{A}:user/{name}", "UserPolicyList": inline or [],
            "AttachedManagedPolicies": [{"PolicyArn": a, "PolicyName": a.rsplit("/", 1)[-1]} for a in attached or []]}


def role(name: str, attached: list[str] | None = None) -> dict[str, Any]:
    return {"RoleName": name, "Arn": f"{A}:role/{name}", "Path": "/", "RolePolicyList": [],
            "AttachedManagedPolicies": [{"PolicyArn": a, "PolicyName": a.rsplit("/", 1)[-1]} for a in attached or []]}


def iam_entities(users: list[dict[str, Any]] | None = None, roles: list[dict[str, Any]] | None = None,
                 groups: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"iam__users": users or [], "iam__roles": roles or [], "iam__groups": groups or []}


ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
AWS_SUPPORT = "arn:aws:iam::aws:policy/AWSSupportAccess"
AWS_SHELL = "arn:aws:iam::aws:policy/AWSCloudShellFullAccess"
ORG = {"Id": "o-abc", "Arn": "arn:aws:organizations::123456789012:organization/o-abc", "MasterAccountId": ACCOUNT}
SUMMARY_GOOD = {"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 0}
SUMMARY_BAD = {"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 1}
FUTURE = datetime.now(UTC) + timedelta(days=100)
PAST = datetime.now(UTC) - timedelta(days=3)


def local_policy(name: str, document: Any, attachments: int) -> dict[str, Any]:
    return {"PolicyName": name, "Arn": f"{A}:policy/{name}", "AttachmentCount": attachments,
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True, "Document": document}]}


# check id -> (inventory that passes, inventory that fails)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "iam_no_root_access_key": (
        {"iam__credential_report": [report_row(ROOT)]},
        {"iam__credential_report": [report_row(ROOT, access_key_1_active="true")]},
    ),
    "iam_root_mfa_enabled": (
        {"iam__credential_report": [report_row(ROOT, mfa_active="true")]},
        {"iam__credential_report": [report_row(ROOT)]},
    ),
    "iam_root_hardware_mfa_enabled": (
        {"iam__credential_report": [report_row(ROOT, mfa_active="true")], "iam__virtual_mfa_devices": []},
        {"iam__credential_report": [report_row(ROOT, mfa_active="true")],
         "iam__virtual_mfa_devices": [{"SerialNumber": f"{A}:mfa/root-account-mfa-device", "User": {"Arn": f"{A}:root"}}]},
    ),
    "iam_avoid_root_usage": (
        {"iam__credential_report": [report_row(ROOT, password_last_used=ago(200))]},
        {"iam__credential_report": [report_row(ROOT, password_last_used=ago(2))]},
    ),
    "iam_password_policy_minimum_length_14": (
        {"iam__password_policy": {"MinimumPasswordLength": 14}},
        {"iam__password_policy": {"MinimumPasswordLength": 10}},
    ),
    "iam_password_policy_reuse_24": (
        {"iam__password_policy": {"PasswordReusePrevention": 24}},
        {"iam__password_policy": None},
    ),
    "iam_user_mfa_enabled_console_access": (
        {"iam__credential_report": [report_row("a", password_enabled="true", mfa_active="true"), report_row("svc")]},
        {"iam__credential_report": [report_row("a", password_enabled="true")]},
    ),
    "iam_rotate_access_key_90_days": (
        {"iam__credential_report": [report_row("a", access_key_1_active="true", access_key_1_last_rotated=ago(10))]},
        {"iam__credential_report": [report_row("a", access_key_1_active="true", access_key_1_last_rotated=ago(120))]},
    ),
    "iam_user_two_active_access_key": (
        {"iam__credential_report": [report_row("a", access_key_1_active="true", access_key_2_active="false")]},
        {"iam__credential_report": [report_row("a", access_key_1_active="true", access_key_2_active="true")]},
    ),
    "iam_user_no_setup_initial_access_key": (
        {"iam__credential_report": [report_row("a", password_enabled="true", access_key_1_active="true",
                                               access_key_1_last_used_date=ago(1))]},
        {"iam__credential_report": [report_row("a", password_enabled="true", access_key_1_active="true",
                                               access_key_1_last_used_date="N/A")]},
    ),
    "iam_user_accesskey_unused": (
        {"iam__credential_report": [report_row("a", access_key_1_active="true", access_key_1_last_rotated=ago(300),
                                               access_key_1_last_used_date=ago(3))]},
        {"iam__credential_report": [report_row("a", access_key_1_active="true", access_key_1_last_rotated=ago(300),
                                               access_key_1_last_used_date=ago(60))]},
    ),
    "iam_user_console_access_unused": (
        {"iam__credential_report": [report_row("a", password_enabled="true", password_last_used=ago(5))]},
        {"iam__credential_report": [report_row("a", password_enabled="true", password_last_used=ago(46))]},
    ),
    "iam_policy_attached_only_to_group_or_roles": (
        iam_entities(users=[user("a")]),
        iam_entities(users=[user("a", attached=["arn:aws:iam::aws:policy/ReadOnlyAccess"])]),
    ),
    "iam_aws_attached_policy_no_administrative_privileges": (
        {"iam__aws_policies": [{"PolicyName": "ReadOnlyAccess", "Arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                                "AttachmentCount": 2, "Document": READ_DOC}]},
        {"iam__aws_policies": [{"PolicyName": "AdministratorAccess", "Arn": "arn:aws:iam::aws:policy/AdministratorAccess",
                                "AttachmentCount": 1, "Document": ADMIN_DOC}]},
    ),
    "iam_customer_attached_policy_no_administrative_privileges": (
        {"iam__local_policies": [local_policy("unused-admin", ADMIN_DOC, 0), local_policy("read", READ_DOC, 3)]},
        {"iam__local_policies": [local_policy("admin", ADMIN_DOC, 1)]},
    ),
    "iam_inline_policy_no_administrative_privileges": (
        iam_entities(users=[user("a", inline=[{"PolicyName": "r", "PolicyDocument": READ_DOC}])]),
        iam_entities(users=[user("a", inline=[{"PolicyName": "x", "PolicyDocument": ADMIN_DOC}])]),
    ),
    "iam_support_role_created": (
        iam_entities(roles=[role("support", attached=[AWS_SUPPORT])]),
        iam_entities(roles=[role("other")]),
    ),
    "iam_policy_cloudshell_admin_not_attached": (
        iam_entities(users=[user("a")], roles=[role("r")]),
        iam_entities(roles=[role("r", attached=[AWS_SHELL])]),
    ),
    "iam_no_expired_server_certificates_stored": (
        {"iam__server_certificates": [{"ServerCertificateName": "ok", "Arn": f"{A}:server-certificate/ok", "Expiration": FUTURE}]},
        {"iam__server_certificates": [{"ServerCertificateName": "old", "Arn": f"{A}:server-certificate/old", "Expiration": PAST}]},
    ),
    "iam_check_saml_providers_sts": (
        {"iam__saml_providers": [{"Arn": f"{A}:saml-provider/okta"}]},
        {"iam__saml_providers": [], "iam__roles": []},
    ),
    "accessanalyzer_enabled": (
        {"accessanalyzer__us_east_1__analyzers": [{"arn": "arn:aws:access-analyzer:us-east-1:1:analyzer/a", "name": "a",
                                                    "type": "ACCOUNT", "status": "ACTIVE"}]},
        {"accessanalyzer__us_east_1__analyzers": [{"arn": "x", "name": "u", "type": "ACCOUNT_UNUSED_ACCESS", "status": "ACTIVE"}]},
    ),
    "account_maintain_current_contact_details": (
        {"account__contact_information": {"FullName": "Acme", "PhoneNumber": "+1", "AddressLine1": "1 St",
                                          "City": "X", "CountryCode": "US"}},
        {"account__contact_information": {"FullName": "Acme"}},
    ),
    "account_security_contact_information_is_registered": (
        {"account__security_contact": {"Name": "Sec", "EmailAddress": "sec@example.com", "PhoneNumber": "+1"}},
        {"account__security_contact": None},
    ),
    "iam_root_credentials_management_enabled": (
        {"organizations__organization": ORG, "iam__organizations_features": {"EnabledFeatures": ["RootCredentialsManagement"]}},
        {"organizations__organization": ORG, "iam__organizations_features": None},
    ),
    "organizations_delegated_administrators": (
        {"organizations__organization": ORG, "organizations__delegated_administrators": [{"Id": "210987654321"}]},
        {"organizations__organization": ORG, "organizations__delegated_administrators": []},
    ),
    "organizations_scp_guardrails_attached": (
        {"organizations__organization": ORG, "organizations__service_control_policies": [
            {"Name": "deny-leave", "AwsManaged": False, "Targets": [{"TargetId": "r-1"}]}]},
        {"organizations__organization": ORG, "organizations__service_control_policies": [
            {"Name": "FullAWSAccess", "AwsManaged": True, "Targets": [{"TargetId": "r-1"}]}]},
    ),
    "ec2_instance_profile_attached": (
        {"ec2__us_east_1__instances": [{"InstanceId": "i-1", "State": {"Name": "running"},
                                        "IamInstanceProfile": {"Arn": f"{A}:instance-profile/web"}}]},
        {"ec2__us_east_1__instances": [{"InstanceId": "i-2", "State": {"Name": "running"}}]},
    ),
    "securityhub_enabled": (
        {"securityhub__us_east_1__hub": {"HubArn": "arn:aws:securityhub:us-east-1:1:hub/default"}},
        {"securityhub__us_east_1__hub": None},
    ),
    "iam_resource_policy_no_public_principal": (
        {"s3__buckets": [{"Name": "b"}], "s3__bucket_policy/b": {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}]},
         **{f"resource_policies__us_east_1__{k}": [] for k in ("sqs_queues", "sns_topics", "lambda_functions", "kms_keys", "secrets", "event_buses")}},
        {"s3__buckets": [], **{f"resource_policies__us_east_1__{k}": [] for k in ("sns_topics", "lambda_functions", "kms_keys", "secrets", "event_buses")},
         "resource_policies__us_east_1__sqs_queues": [{"arn": "arn:aws:sqs:us-east-1:1:q", "name": "q", "policy": {
             "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "sqs:SendMessage", "Resource": "*"}]}}]},
    ),
    "macie_is_enabled": (
        {"macie2__us_east_1__session": {"status": "ENABLED"}},
        {"macie2__us_east_1__session": {"status": "DISABLED"}},
    ),
}


@pytest.mark.parametrize("check_id", sorted(CASES))
def test_pass_and_fail(check_id: str) -> None:
    good, bad = CASES[check_id]
    passed = run_check(check_id, inventory(**good))
    assert passed and all(s is Status.PASS for s in statuses(passed)), [r.reason for r in passed]
    failed = run_check(check_id, inventory(**bad))
    assert Status.FAIL in statuses(failed), [r.reason for r in failed]
    assert all(r.reason and r.resource_arn for r in passed + failed)
    assert all(r.check_id == check_id and r.account_id == ACCOUNT for r in passed + failed)


def test_every_core_check_is_covered_and_mapped_to_cis() -> None:
    checks = all_checks()
    for check_id in CASES:
        meta = checks[check_id].meta
        assert meta.cis, check_id
        assert meta.remediation and len(meta.remediation) > 40


CIS_IAM = {
    # every evaluable control of the IAM section, per version, is claimed by some check
    "7.0": {"2.1.1", "2.1.2", "2.1.5", "2.1.6"} | {f"2.{n}" for n in range(2, 22)},
    "5.0": {f"1.{n}" for n in range(1, 22)},
    "3.0": {f"1.{n}" for n in range(1, 23)} - {"1.3"},  # 1.3 security questions: no API
}


@pytest.mark.parametrize("version", sorted(CIS_IAM))
def test_cis_iam_section_is_claimed(version: str) -> None:
    claimed = {cid for c in all_checks().values() for cid in c.meta.cis.get(version, [])}
    assert CIS_IAM[version] <= claimed, sorted(CIS_IAM[version] - claimed)


def test_missing_root_row_uses_account_summary() -> None:
    """moto's report has no root row; the account summary still answers root MFA and root keys."""
    good = inventory(iam__credential_report=[report_row("a")], iam__account_summary=SUMMARY_GOOD)
    bad = inventory(iam__credential_report=[report_row("a")], iam__account_summary=SUMMARY_BAD)
    assert statuses(run_check("iam_root_mfa_enabled", good)) == [Status.PASS]
    assert statuses(run_check("iam_root_mfa_enabled", bad)) == [Status.FAIL]
    assert statuses(run_check("iam_no_root_access_key", bad)) == [Status.FAIL]
    assert statuses(run_check("iam_avoid_root_usage", good)) == [Status.NOT_EVALUATED]


def test_malformed_policy_document_is_not_evaluated() -> None:
    inv = inventory(iam__local_policies=[local_policy("broken", "{not json", 1), local_policy("bad-effect",
                    {"Statement": [{"Effect": "Perhaps", "Action": "*", "Resource": "*"}]}, 1),
                    local_policy("admin", ADMIN_DOC, 1)])
    results = run_check("iam_customer_attached_policy_no_administrative_privileges", inv)
    assert statuses(results) == [Status.NOT_EVALUATED, Status.NOT_EVALUATED, Status.FAIL]
    assert "not valid JSON" in results[0].reason and "Effect" in results[1].reason


def test_failed_fetch_is_not_evaluated_never_pass() -> None:
    inv = inventory()
    inv.fail("iam", "credential_report", CollectionFailure("iam", "global", "GetCredentialReport", "AccessDenied", "no"))
    results = run_check("iam_user_mfa_enabled_console_access", inv)
    assert statuses(results) == [Status.NOT_EVALUATED]
    assert "AccessDenied" in results[0].reason


def test_regional_check_keeps_good_regions_when_one_fails() -> None:
    inv = inventory(accessanalyzer__us_east_1__analyzers=[{"arn": "a", "name": "a", "type": "ACCOUNT", "status": "ACTIVE"}])
    inv.regions = ["us-east-1", "eu-west-1"]
    inv.fail("accessanalyzer", "analyzers", CollectionFailure("accessanalyzer", "eu-west-1", "ListAnalyzers", "AccessDenied", "no"), "eu-west-1")
    results = run_check("accessanalyzer_enabled", inv)
    assert sorted((r.region, r.status.value) for r in results) == [("eu-west-1", "NOT_EVALUATED"), ("us-east-1", "PASS")]


def test_organization_controls_are_judged_in_the_management_account() -> None:
    member_org = {**ORG, "MasterAccountId": "999999999999"}
    inv = inventory(organizations__organization=member_org)  # members collect no admin/SCP data
    for check_id in ("organizations_delegated_administrators", "organizations_scp_guardrails_attached",
                     "iam_root_credentials_management_enabled"):
        results = run_check(check_id, inv)
        assert statuses(results) == [Status.PASS] and "999999999999" in results[0].reason
