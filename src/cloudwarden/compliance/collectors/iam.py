"""IAM collector (global). Inventory keys, service "iam", region "global":

- `credential_report`: list of dicts, one per CSV row of the credential report (GenerateCredentialReport
  then GetCredentialReport), keys as the CSV header: user, arn, user_creation_time, password_enabled,
  password_last_used, password_last_changed, mfa_active, access_key_1_active, access_key_1_last_rotated,
  access_key_1_last_used_date, access_key_2_..., cert_1_active, ... All values are strings as AWS writes
  them ("true"/"false", ISO-8601 times, "N/A", "no_information", "not_supported"). The root user is
  the row whose user is "<root_account>" (moto does not write one).
- `password_policy`: GetAccountPasswordPolicy `PasswordPolicy` dict, or None when none is set.
- `account_summary`: GetAccountSummary `SummaryMap` dict (AccountMFAEnabled, AccountAccessKeysPresent, ...).
- `users`, `groups`, `roles`: GetAccountAuthorizationDetails UserDetailList / GroupDetailList /
  RoleDetailList (each with inline policies `UserPolicyList`/`GroupPolicyList`/`RolePolicyList` incl.
  documents, `AttachedManagedPolicies`, users' `GroupList`, roles' `InstanceProfileList`).
- `local_policies`: GetAccountAuthorizationDetails `Policies` (customer-managed) with PolicyVersionList.
- `aws_policies`: attached AWS-managed policies: ListPolicies(Scope=AWS, OnlyAttached) entries, each
  plus `Document` (the default version's document from GetPolicyVersion, or None if that call failed).
- `virtual_mfa_devices`: ListVirtualMFADevices (every assignment status) `VirtualMFADevices`.
- `server_certificates`: ListServerCertificates `ServerCertificateMetadataList`.
- `saml_providers`: ListSAMLProviders `SAMLProviderList`.
- `oidc_providers`: ListOpenIDConnectProviders `OpenIDConnectProviderList`.
- `organizations_features`: ListOrganizationsFeatures response minus metadata ({"OrganizationId",
  "EnabledFeatures": [...]}), or None when the account is not in an Organization / features are off.

Per-user MFA devices, access keys and their last use are read from the credential report (mfa_active,
access_key_N_active/last_rotated/last_used_date) instead of 2-3 calls per user: that is the same data in
one request, which is what keeps a scan of a large account fast.
"""

from __future__ import annotations

import csv
import io
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cloudwarden.compliance.collectors._fetch import AWS_ERRORS, call_all, error_code, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector

REPORT_WAIT_SECONDS = 60.0
_AUTH_FILTER = ["User", "Role", "Group", "LocalManagedPolicy"]


def parse_credential_report(content: bytes | str) -> list[dict[str, str]]:
    """Pure: the credential report CSV into one dict per row."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    return [dict(row) for row in csv.DictReader(io.StringIO(text))]


def _credential_report(client: Any) -> list[dict[str, str]]:
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    delay = 0.1
    while True:
        state = client.generate_credential_report().get("State")
        if state == "COMPLETE":
            break
        if time.monotonic() > deadline:
            break  # try to read whatever report exists; GetCredentialReport says why if none
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
    for _ in range(5):
        try:
            return parse_credential_report(client.get_credential_report()["Content"])
        except AWS_ERRORS as exc:
            if error_code(exc) not in ("ReportInProgress", "ReportNotPresent") or time.monotonic() > deadline:
                raise
            time.sleep(delay)
    return parse_credential_report(client.get_credential_report()["Content"])


def _authorization_details(client: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"users": [], "groups": [], "roles": [], "local_policies": []}
    for page in client.get_paginator("get_account_authorization_details").paginate(Filter=_AUTH_FILTER):
        out["users"].extend(page.get("UserDetailList", []))
        out["groups"].extend(page.get("GroupDetailList", []))
        out["roles"].extend(page.get("RoleDetailList", []))
        out["local_policies"].extend(page.get("Policies", []))
    return out


def _aws_policies(client: Any) -> list[dict[str, Any]]:
    policies: list[dict[str, Any]] = call_all(client, "ListPolicies", "Policies", Scope="AWS", OnlyAttached=True)
    for p in policies:
        try:
            version = client.get_policy_version(PolicyArn=p["Arn"], VersionId=p["DefaultVersionId"])
            p["Document"] = version["PolicyVersion"].get("Document")
        except AWS_ERRORS as exc:
            p["Document"] = None
            p["DocumentError"] = f"GetPolicyVersion: {error_code(exc) or exc}"
    return policies


def _details(ctx: CollectContext, client: Any) -> None:
    ok, value = fetch(ctx, "users", "GetAccountAuthorizationDetails", lambda: _authorization_details(client))
    if ok:
        for key in ("groups", "roles", "local_policies"):
            ctx.put(key, value[key])
        ctx.put("users", value["users"])
    else:
        failure = ctx.inventory.failures[(ctx.service, ctx.region, "users")]
        for key in ("groups", "roles", "local_policies"):
            ctx.inventory.fail(ctx.service, key, failure, ctx.region)


@collector(
    "iam",
    actions=[
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:GetAccountPasswordPolicy",
        "iam:GetAccountSummary",
        "iam:GetAccountAuthorizationDetails",
        "iam:ListPolicies",
        "iam:GetPolicyVersion",
        "iam:ListVirtualMFADevices",
        "iam:ListServerCertificates",
        "iam:ListSAMLProviders",
        "iam:ListOpenIDConnectProviders",
        "iam:ListOrganizationsFeatures",
    ],
    regional=False,
    description="credential report, password policy, users/groups/roles/policies, MFA, certificates, federation",
)
def collect_iam(ctx: CollectContext) -> None:
    client = ctx.client("iam")
    # The credential report may take seconds to generate: fetch everything else meanwhile.
    jobs = [
        lambda: fetch(ctx, "credential_report", "GetCredentialReport", lambda: _credential_report(client)),
        lambda: _details(ctx, client),
        lambda: fetch(ctx, "aws_policies", "ListPolicies", lambda: _aws_policies(client)),
        lambda: fetch(
            ctx, "password_policy", "GetAccountPasswordPolicy",
            lambda: client.get_account_password_policy()["PasswordPolicy"], absent=("NoSuchEntity",),
        ),
        lambda: fetch(ctx, "account_summary", "GetAccountSummary", lambda: client.get_account_summary()["SummaryMap"]),
        lambda: fetch_list(ctx, "virtual_mfa_devices", client, "ListVirtualMFADevices", "VirtualMFADevices",
                           AssignmentStatus="Any"),
        lambda: fetch_list(ctx, "server_certificates", client, "ListServerCertificates", "ServerCertificateMetadataList"),
        lambda: fetch_list(ctx, "saml_providers", client, "ListSAMLProviders", "SAMLProviderList"),
        lambda: fetch_list(ctx, "oidc_providers", client, "ListOpenIDConnectProviders", "OpenIDConnectProviderList"),
        lambda: fetch(
            ctx, "organizations_features", "ListOrganizationsFeatures", lambda: call_all(client, "ListOrganizationsFeatures"),
            absent=("AWSOrganizationsNotInUseException", "OrganizationNotFoundException",
                    "ServiceAccessNotEnabledException", "OrganizationNotInAllFeaturesModeException"),
        ),
    ]
    keys = [("credential_report", "GetCredentialReport"), ("users", "GetAccountAuthorizationDetails"),
            ("aws_policies", "ListPolicies"), ("password_policy", "GetAccountPasswordPolicy"),
            ("account_summary", "GetAccountSummary"), ("virtual_mfa_devices", "ListVirtualMFADevices"),
            ("server_certificates", "ListServerCertificates"), ("saml_providers", "ListSAMLProviders"),
            ("oidc_providers", "ListOpenIDConnectProviders"), ("organizations_features", "ListOrganizationsFeatures")]
    # A small fixed pool: bounded, and IAM is one global endpoint, so more threads only invite throttling.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="cw-iam") as pool:
        futures = [pool.submit(job) for job in jobs]
        for (key, operation), fut in zip(keys, futures, strict=True):
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. an unparsable response: that key only, not all of IAM
                ctx.fail(key, operation, exc)
