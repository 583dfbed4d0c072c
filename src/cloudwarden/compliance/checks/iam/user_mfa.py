"""Every IAM user with a console password has MFA."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn, is_true, user_arn, user_rows
from cloudwarden.compliance.inventory import Inventory


@check(
    id="iam_user_mfa_enabled_console_access",
    title="MFA is enabled for every IAM user with a console password",
    service="iam", severity="high", resource_type="AwsIamUser",
    cis={"7.0": ["2.10"], "5.0": ["1.9"], "3.0": ["1.10"]},
    remediation=(
        "Have each console user register an MFA device (IAM > Users > user > Security credentials > Assign "
        "MFA), or remove the console password of users that do not need the console. Consider an IAM policy "
        "that denies most actions when aws:MultiFactorAuthPresent is false."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_enable.html", CIS],
)
def console_users_have_mfa(inv: Inventory) -> Iterable[CheckResult]:
    console = [r for r in user_rows(inv) if is_true(r.get("password_enabled"))]
    if not console:
        yield passed(account_arn(inv), "no IAM user has a console password")
        return
    for row in console:
        if is_true(row.get("mfa_active")):
            yield passed(user_arn(inv, row), f"user {row.get('user')} has a console password and MFA")
        else:
            yield failed(user_arn(inv, row), f"user {row.get('user')} has a console password but no MFA")
