"""Account password policy: minimum length 14 and reuse prevention of 24."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn
from cloudwarden.compliance.inventory import Inventory

REFS = ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_passwords_account-policy.html", CIS]


@check(
    id="iam_password_policy_minimum_length_14",
    title="The IAM password policy requires at least 14 characters",
    service="iam", severity="medium", resource_type="AwsAccount",
    cis={"7.0": ["2.8"], "5.0": ["1.7"], "3.0": ["1.8"]},
    remediation=(
        "In IAM > Account settings, edit the password policy and set the minimum length to 14 or more "
        "(aws iam update-account-password-policy --minimum-password-length 14, keeping your other settings)."
    ),
    references=REFS,
)
def minimum_length(inv: Inventory) -> Iterable[CheckResult]:
    policy = inv.get("iam", "password_policy")
    arn = account_arn(inv)
    if policy is None:
        yield failed(arn, "no account password policy is set (AWS default allows 8 characters)")
        return
    length = int(policy.get("MinimumPasswordLength") or 0)
    if length >= 14:
        yield passed(arn, f"minimum password length is {length}")
    else:
        yield failed(arn, f"minimum password length is {length}, below 14", minimum_length=length)


@check(
    id="iam_password_policy_reuse_24",
    title="The IAM password policy prevents reuse of the last 24 passwords",
    service="iam", severity="medium", resource_type="AwsAccount",
    cis={"7.0": ["2.9"], "5.0": ["1.8"], "3.0": ["1.9"]},
    remediation=(
        "In IAM > Account settings, edit the password policy, enable 'Prevent password reuse' and remember "
        "24 passwords (aws iam update-account-password-policy --password-reuse-prevention 24)."
    ),
    references=REFS,
)
def reuse_prevention(inv: Inventory) -> Iterable[CheckResult]:
    policy = inv.get("iam", "password_policy")
    arn = account_arn(inv)
    if policy is None:
        yield failed(arn, "no account password policy is set, so passwords may be reused")
        return
    reuse = int(policy.get("PasswordReusePrevention") or 0)
    if reuse >= 24:
        yield passed(arn, f"password reuse prevention remembers {reuse} passwords")
    else:
        yield failed(arn, f"password reuse prevention remembers {reuse} passwords, fewer than 24", reuse_prevention=reuse)
