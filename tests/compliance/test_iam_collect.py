"""The IAM, account, organizations, Security Hub and Macie collectors through boto3 -> moto_server,
and the IAM checks over what they collected."""

from __future__ import annotations

import boto3

from cloudwarden.compliance.checks.base import Status, all_checks
from cloudwarden.compliance.collectors.iam import parse_credential_report
from tests.compliance.core_support import ACCOUNT, collect, moto_iam, moto_iam_server, seed_iam  # noqa: F401
from tests.helpers.moto_server import MotoServer


def _by_resource(check_id: str, inv: object) -> dict[str, Status]:
    return {r.resource_arn: r.status for r in all_checks()[check_id].evaluate(inv)}  # type: ignore[arg-type]


def test_iam_inventory_and_checks(moto_iam: MotoServer) -> None:  # noqa: F811 - the fixture imported above
    seed_iam(moto_iam.url)
    inv = collect(moto_iam.url, {"iam"})
    report = {r["user"]: r for r in inv.get("iam", "credential_report")}
    assert set(report) == {"good", "mallory", "shell"}
    assert report["mallory"]["password_enabled"] == "true" and report["mallory"]["access_key_2_active"] == "true"
    users = {u["UserName"]: u for u in inv.get("iam", "users")}
    assert users["good"]["GroupList"] == ["engineers"]
    assert {p["PolicyName"] for p in inv.get("iam", "aws_policies")} >= {"AdministratorAccess", "AWSSupportAccess"}
    assert all(p["Document"] for p in inv.get("iam", "aws_policies"))
    assert inv.get("iam", "password_policy")["MinimumPasswordLength"] == 8
    assert {p["Arn"].rsplit("/", 1)[-1] for p in inv.get("iam", "local_policies")} == {"custom-admin", "custom-read"}

    u = f"arn:aws:iam::{ACCOUNT}:user"
    assert _by_resource("iam_user_mfa_enabled_console_access", inv) == {f"{u}/mallory": Status.FAIL}
    assert _by_resource("iam_user_two_active_access_key", inv) == {f"{u}/mallory": Status.FAIL}
    assert _by_resource("iam_user_no_setup_initial_access_key", inv) == {f"{u}/mallory": Status.FAIL}
    assert _by_resource("iam_policy_attached_only_to_group_or_roles", inv) == {
        f"{u}/good": Status.PASS, f"{u}/mallory": Status.FAIL, f"{u}/shell": Status.FAIL}
    assert _by_resource("iam_aws_attached_policy_no_administrative_privileges", inv)[
        "arn:aws:iam::aws:policy/AdministratorAccess"] is Status.FAIL
    customer = _by_resource("iam_customer_attached_policy_no_administrative_privileges", inv)
    assert customer == {f"arn:aws:iam::{ACCOUNT}:policy/custom-admin": Status.FAIL,
                        f"arn:aws:iam::{ACCOUNT}:policy/custom-read": Status.PASS}
    inline = _by_resource("iam_inline_policy_no_administrative_privileges", inv)
    assert inline == {f"arn:aws:iam::{ACCOUNT}:group/ops/inline-policy/everything": Status.FAIL,
                      f"arn:aws:iam::{ACCOUNT}:group/engineers/inline-policy/read": Status.PASS}
    assert list(_by_resource("iam_support_role_created", inv).values()) == [Status.PASS]
    assert _by_resource("iam_policy_cloudshell_admin_not_attached", inv) == {f"{u}/shell": Status.FAIL}
    assert list(_by_resource("iam_password_policy_minimum_length_14", inv).values()) == [Status.FAIL]
    assert list(_by_resource("iam_password_policy_reuse_24", inv).values()) == [Status.FAIL]
    assert list(_by_resource("iam_rotate_access_key_90_days", inv).values()) == [Status.PASS]  # keys are new
    assert list(_by_resource("iam_root_mfa_enabled", inv).values()) == [Status.FAIL]  # from the account summary


def test_iam_compliant_side(moto: MotoServer) -> None:
    iam = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1")
    iam.update_account_password_policy(MinimumPasswordLength=16, PasswordReusePrevention=24)
    iam.create_saml_provider(Name="okta", SAMLMetadataDocument="<md:EntityDescriptor xmlns:md='urn:oasis:names:tc:SAML:2.0:metadata' entityID='x'/>" * 1 + "x" * 1000)
    inv = collect(moto.url, {"iam"})
    assert list(_by_resource("iam_password_policy_minimum_length_14", inv).values()) == [Status.PASS]
    assert list(_by_resource("iam_password_policy_reuse_24", inv).values()) == [Status.PASS]
    assert list(_by_resource("iam_check_saml_providers_sts", inv).values()) == [Status.PASS]
    assert list(_by_resource("iam_support_role_created", inv).values()) == [Status.FAIL]
    assert list(_by_resource("iam_user_mfa_enabled_console_access", inv).values()) == [Status.PASS]  # no console users


def test_password_policy_absent_is_data_not_failure(moto: MotoServer) -> None:
    inv = collect(moto.url, {"iam"})
    assert inv.get("iam", "password_policy") is None
    assert list(_by_resource("iam_password_policy_minimum_length_14", inv).values()) == [Status.FAIL]


def test_account_organizations_securityhub_macie(moto: MotoServer) -> None:
    url = moto.url
    boto3.client("account", endpoint_url=url, region_name="us-east-1").put_alternate_contact(
        AlternateContactType="SECURITY", EmailAddress="sec@example.com", Name="Sec", PhoneNumber="+15550100", Title="SecOps")
    org = boto3.client("organizations", endpoint_url=url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    member = org.create_account(AccountName="audit", Email="audit@example.com")["CreateAccountStatus"]["AccountId"]
    org.register_delegated_administrator(AccountId=member, ServicePrincipal="guardduty.amazonaws.com")
    boto3.client("securityhub", endpoint_url=url, region_name="us-east-1").enable_security_hub()
    inv = collect(url, {"account", "organizations", "securityhub", "macie2"}, ["us-east-1", "eu-west-1"])

    assert inv.get("account", "security_contact")["EmailAddress"] == "sec@example.com"
    assert inv.get("organizations", "organization")["MasterAccountId"] == ACCOUNT
    assert [a["Id"] for a in inv.get("organizations", "delegated_administrators")] == [member]
    assert inv.get("organizations", "delegated_services")[member][0]["ServicePrincipal"] == "guardduty.amazonaws.com"
    assert list(_by_resource("account_security_contact_information_is_registered", inv).values()) == [Status.PASS]
    assert list(_by_resource("organizations_delegated_administrators", inv).values()) == [Status.PASS]
    assert list(_by_resource("organizations_scp_guardrails_attached", inv).values()) == [Status.FAIL]
    hub = {r.region: r.status for r in all_checks()["securityhub_enabled"].evaluate(inv)}
    assert hub == {"us-east-1": Status.PASS, "eu-west-1": Status.FAIL}
    assert {r.region for r in all_checks()["macie_is_enabled"].evaluate(inv)} == {"us-east-1", "eu-west-1"}
    # moto has no GetContactInformation: recorded as a failure, so the check is NOT_EVALUATED, not a pass
    contact = all_checks()["account_maintain_current_contact_details"].evaluate(inv)
    assert [r.status for r in contact] == [Status.NOT_EVALUATED]


def test_parse_credential_report() -> None:
    rows = parse_credential_report(b"user,arn,mfa_active\n<root_account>,arn:aws:iam::1:root,true\nbob,arn:aws:iam::1:user/bob,false\n")
    assert rows == [{"user": "<root_account>", "arn": "arn:aws:iam::1:root", "mfa_active": "true"},
                    {"user": "bob", "arn": "arn:aws:iam::1:user/bob", "mfa_active": "false"}]


def test_resource_policies_collected_and_judged(moto: MotoServer) -> None:
    import json

    url = moto.url
    public = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                                      "Resource": "*"}]}
    sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1")
    sqs.create_queue(QueueName="open", Attributes={"Policy": json.dumps(public)})
    sqs.create_queue(QueueName="private")
    boto3.client("sns", endpoint_url=url, region_name="us-east-1").create_topic(Name="alerts")  # default policy: owner-only
    sm = boto3.client("secretsmanager", endpoint_url=url, region_name="us-east-1")
    arn = sm.create_secret(Name="db", SecretString="x")["ARN"]
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "secretsmanager:GetSecretValue",
                                                 "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}]}))
    inv = collect(url, {"resource_policies", "s3"})
    queues = {q["name"]: q for q in inv.get("resource_policies", "sqs_queues", "us-east-1")}
    assert set(queues) == {"open", "private"} and queues["private"]["policy"] is None
    results = {r.resource_arn.rsplit(":", 1)[-1]: r.status for r in all_checks()["iam_resource_policy_no_public_principal"].evaluate(inv)}
    assert results["open"] is Status.FAIL
    assert results["alerts"] is Status.PASS
    assert [s for k, s in results.items() if k.startswith("db-")] == [Status.PASS]  # restricted to an org
    assert "private" not in results  # no policy: nothing shared, nothing to judge
