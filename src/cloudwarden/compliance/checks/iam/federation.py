"""IAM users are managed centrally: identity federation (SAML/OIDC providers or IAM Identity Center)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn
from cloudwarden.compliance.inventory import Inventory


@check(
    id="iam_check_saml_providers_sts",
    title="Users are managed centrally through identity federation",
    service="iam", severity="low", resource_type="AwsAccount",
    cis={"7.0": ["2.19"], "5.0": ["1.20"], "3.0": ["1.21"]},
    remediation=(
        "Connect your identity provider through IAM Identity Center (or an IAM SAML provider) and give people "
        "access through federated roles; then remove per-person IAM users. A person should also confirm "
        "that the remaining IAM users are service accounts with a reason to exist."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers.html", CIS],
)
def federation(inv: Inventory) -> Iterable[CheckResult]:
    saml = [p for p in inv.get("iam", "saml_providers") if isinstance(p, dict)]
    sso_roles = [r for r in (inv.data.get(("iam", "global", "roles")) or [])
                 if isinstance(r, dict) and "/aws-reserved/sso.amazonaws.com/" in str(r.get("Path", "")) + str(r.get("Arn", ""))]
    arn = account_arn(inv)
    if saml:
        yield passed(arn, f"{len(saml)} SAML identity provider(s) configured", providers=[str(p.get("Arn")) for p in saml])
    elif sso_roles:
        yield passed(arn, "IAM Identity Center roles exist in the account")
    else:
        yield failed(arn, "no SAML provider and no IAM Identity Center roles: users are not federated")
