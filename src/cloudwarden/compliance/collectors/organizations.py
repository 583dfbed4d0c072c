"""AWS Organizations collector (global). Inventory keys, service "organizations", region "global":

- `organization`: DescribeOrganization `Organization` dict (Id, MasterAccountId, FeatureSet, ...), or
  None when the account is not a member of an Organization.
- `delegated_administrators`: ListDelegatedAdministrators `DelegatedAdministrators` list (only the
  management account or a delegated admin may call it; others get a recorded AccessDenied).
- `delegated_services`: dict account id -> ListDelegatedServicesForAccount `DelegatedServices` list.
- `service_control_policies`: list of ListPolicies(SERVICE_CONTROL_POLICY) `PolicySummary` dicts, each
  plus `Targets` (ListTargetsForPolicy `Targets`: TargetId, Type ROOT/ORGANIZATIONAL_UNIT/ACCOUNT).
Keys other than `organization` are written only for the Organization's management account: member
accounts cannot call those APIs, and the Organization-wide controls are judged once, in the management
account's scan (the checks say so for members).
"""

from __future__ import annotations

from typing import Any

from cloudwarden.compliance.collectors._fetch import call_all, fetch, fetch_list
from cloudwarden.compliance.collectors.base import CollectContext, collector

_NOT_IN_ORG = ("AWSOrganizationsNotInUseException",)


def _scps(client: Any) -> list[dict[str, Any]]:
    policies: list[dict[str, Any]] = call_all(client, "ListPolicies", "Policies", Filter="SERVICE_CONTROL_POLICY")
    for p in policies:
        p["Targets"] = call_all(client, "ListTargetsForPolicy", "Targets", PolicyId=p["Id"])
    return policies


@collector(
    "organizations",
    actions=[
        "organizations:DescribeOrganization",
        "organizations:ListDelegatedAdministrators",
        "organizations:ListDelegatedServicesForAccount",
        "organizations:ListPolicies",
        "organizations:ListTargetsForPolicy",
    ],
    regional=False,
    description="organization, delegated administrators, service control policies",
)
def collect_organizations(ctx: CollectContext) -> None:
    client = ctx.client("organizations")
    ok, org = fetch(ctx, "organization", "DescribeOrganization",
                    lambda: client.describe_organization()["Organization"], absent=_NOT_IN_ORG)
    if not ok or org is None or str(org.get("MasterAccountId", "")) != ctx.inventory.account_id:
        return
    admins = fetch_list(ctx, "delegated_administrators", client, "ListDelegatedAdministrators", "DelegatedAdministrators")
    if admins is not None:
        fetch(ctx, "delegated_services", "ListDelegatedServicesForAccount", lambda: {
            str(a["Id"]): call_all(client, "ListDelegatedServicesForAccount", "DelegatedServices", AccountId=a["Id"])
            for a in admins
        })
    fetch(ctx, "service_control_policies", "ListPolicies", lambda: _scps(client))
