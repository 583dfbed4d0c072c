"""Organization-level IAM controls of CIS v7.0 (2.1.x): centralized root access, delegated
administrators, authorization guardrails (SCPs beyond the default FullAWSAccess)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn
from cloudwarden.compliance.inventory import Inventory

ORG_REFS = ["https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html", CIS]


def _org_arn(inv: Inventory, org: dict[str, object]) -> str:
    return str(org.get("Arn") or account_arn(inv))


def _member_result(inv: Inventory, org: dict[str, object]) -> CheckResult | None:
    """Organization-wide controls are judged in the management account's scan, not once per member."""
    management = str(org.get("MasterAccountId", ""))
    if management and management != inv.account_id:
        return passed(account_arn(inv), f"member account: this Organization-wide control is evaluated in the "
                                        f"management account {management}'s scan")
    return None


@check(
    id="iam_root_credentials_management_enabled",
    title="Root access is managed centrally in AWS Organizations",
    service="iam", severity="high", resource_type="AwsAccount",
    cis={"7.0": ["2.1.1"]},
    remediation=(
        "From the management account enable centralized root access: aws iam enable-organizations-root-"
        "credentials-management and aws iam enable-organizations-root-sessions, then delete member accounts' "
        "root credentials."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html#id_root-user-access-management", CIS],
)
def root_credentials_management(inv: Inventory) -> Iterable[CheckResult]:
    org = inv.get("organizations", "organization")
    arn = account_arn(inv)
    if org is None:
        yield failed(arn, "the account is not in an AWS Organization, so root access cannot be managed centrally")
        return
    member = _member_result(inv, org)
    if member is not None:
        yield member
        return
    features = inv.get("iam", "organizations_features")
    enabled = list((features or {}).get("EnabledFeatures") or [])
    if "RootCredentialsManagement" in enabled:
        yield passed(_org_arn(inv, org), "centralized root credentials management is enabled", features=enabled)
    else:
        yield failed(_org_arn(inv, org), "centralized root credentials management is not enabled", features=enabled)


@check(
    id="organizations_delegated_administrators",
    title="Delegated administrators manage Organizations policies and integrated services",
    service="organizations", severity="medium", resource_type="AwsOrganizationsOrganization",
    cis={"7.0": ["2.1.5", "2.1.6"]},
    remediation=(
        "Register a dedicated security or operations account as delegated administrator for Organizations "
        "policies and for each integrated service (Security Hub, GuardDuty, Config, Access Analyzer...), so "
        "the management account is not used for daily administration. Review the list for unexpected accounts."
    ),
    references=["https://docs.aws.amazon.com/organizations/latest/userguide/orgs_integrate_delegated_admin.html", CIS],
)
def delegated_admins(inv: Inventory) -> Iterable[CheckResult]:
    org = inv.get("organizations", "organization")
    if org is None:
        yield passed(account_arn(inv), "not applicable: the account is not in an AWS Organization")
        return
    member = _member_result(inv, org)
    if member is not None:
        yield member
        return
    admins = [a for a in inv.get("organizations", "delegated_administrators") if isinstance(a, dict)]
    if admins:
        services = inv.data.get(("organizations", "global", "delegated_services")) or {}
        yield passed(_org_arn(inv, org), f"{len(admins)} delegated administrator account(s) registered",
                     accounts={str(a.get("Id")): [s.get("ServicePrincipal") for s in services.get(str(a.get("Id")), [])]
                               for a in admins})
    else:
        yield failed(_org_arn(inv, org), "no delegated administrator is registered; the management account administers everything")


@check(
    id="organizations_scp_guardrails_attached",
    title="Service control policies other than FullAWSAccess guard the Organization's accounts",
    service="organizations", severity="medium", resource_type="AwsOrganizationsOrganization",
    cis={"7.0": ["2.1.2"]},
    remediation=(
        "Write service control policies that deny what no account should do (leaving the Organization, "
        "disabling CloudTrail or GuardDuty, using unapproved regions, root actions) and attach them to the "
        "root or to OUs. Test them on a sandbox OU first."
    ),
    references=ORG_REFS,
)
def scp_guardrails(inv: Inventory) -> Iterable[CheckResult]:
    org = inv.get("organizations", "organization")
    if org is None:
        yield failed(account_arn(inv), "the account is not in an AWS Organization, so no guardrails apply to it")
        return
    member = _member_result(inv, org)
    if member is not None:
        yield member
        return
    scps = [p for p in inv.get("organizations", "service_control_policies") if isinstance(p, dict)]
    custom = [p for p in scps if not p.get("AwsManaged") and p.get("Targets")]
    if custom:
        yield passed(_org_arn(inv, org), f"{len(custom)} custom SCP(s) attached", policies=[str(p.get("Name")) for p in custom])
    else:
        yield failed(_org_arn(inv, org), "only the default FullAWSAccess SCP is in use: no authorization guardrails")
