"""Root user checks: no access keys, MFA on, hardware (not virtual) MFA, root not used day to day.

The credential report's `<root_account>` row is the primary source; the account summary
(AccountMFAEnabled, AccountAccessKeysPresent) answers the first two when the report has no root row.
"""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, not_evaluated, passed
from cloudwarden.compliance.checks.iam.common import CIS, account_arn, active_keys, days_since, is_true, root_row
from cloudwarden.compliance.inventory import Inventory

ROOT_USAGE_DAYS = 30  # root used within this many days counts as "used for daily tasks"
ROOT_REFS = ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html", CIS]


@check(
    id="iam_no_root_access_key",
    title="The root user has no access keys",
    service="iam", severity="critical", resource_type="AwsIamUser",
    cis={"7.0": ["2.4"], "5.0": ["1.3"], "3.0": ["1.4"]},
    remediation=(
        "Sign in as the root user, open Security credentials, and delete every access key listed there. "
        "Give automation its own IAM role or user with only the permissions it needs."
    ),
    references=ROOT_REFS,
)
def no_root_access_key(inv: Inventory) -> Iterable[CheckResult]:
    arn = account_arn(inv)
    row = root_row(inv)
    if row is not None:
        keys = [k.slot for k in active_keys(row)]
        if keys:
            yield failed(arn, f"root user has {len(keys)} active access key(s)", active_keys=keys)
        else:
            yield passed(arn, "root user has no active access keys")
        return
    summary = inv.get("iam", "account_summary")
    present = summary.get("AccountAccessKeysPresent")
    if present is None:
        yield not_evaluated(arn, "neither a root row in the credential report nor AccountAccessKeysPresent is available")
    elif int(present) > 0:
        yield failed(arn, "account summary reports root access keys present")
    else:
        yield passed(arn, "account summary reports no root access keys")


@check(
    id="iam_root_mfa_enabled",
    title="MFA is enabled for the root user",
    service="iam", severity="critical", resource_type="AwsIamUser",
    cis={"7.0": ["2.5"], "5.0": ["1.4"], "3.0": ["1.5"]},
    remediation=(
        "Sign in as the root user, open Security credentials, and assign an MFA device (a hardware key or "
        "passkey is preferred). Keep the device somewhere safe and documented."
    ),
    references=ROOT_REFS,
)
def root_mfa(inv: Inventory) -> Iterable[CheckResult]:
    arn = account_arn(inv)
    row = root_row(inv)
    if row is not None:
        if is_true(row.get("mfa_active")):
            yield passed(arn, "root user has MFA enabled")
        else:
            yield failed(arn, "root user has no MFA device")
        return
    summary = inv.get("iam", "account_summary")
    enabled = summary.get("AccountMFAEnabled")
    if enabled is None:
        yield not_evaluated(arn, "neither a root row in the credential report nor AccountMFAEnabled is available")
    elif int(enabled) == 1:
        yield passed(arn, "account summary reports MFA enabled for the root user")
    else:
        yield failed(arn, "account summary reports no MFA for the root user")


def _root_mfa_on(inv: Inventory) -> bool | None:
    row = root_row(inv)
    if row is not None:
        return is_true(row.get("mfa_active"))
    enabled = inv.get("iam", "account_summary").get("AccountMFAEnabled")
    return None if enabled is None else int(enabled) == 1


@check(
    id="iam_root_hardware_mfa_enabled",
    title="The root user's MFA is a hardware device, not a virtual one",
    service="iam", severity="critical", resource_type="AwsIamUser",
    cis={"7.0": ["2.6"], "5.0": ["1.5"], "3.0": ["1.6"]},
    remediation=(
        "Replace the root user's virtual (app-based) MFA with a hardware security key or hardware TOTP "
        "token: add the hardware device under Security credentials, then remove the virtual one."
    ),
    references=ROOT_REFS,
)
def root_hardware_mfa(inv: Inventory) -> Iterable[CheckResult]:
    arn = account_arn(inv)
    on = _root_mfa_on(inv)
    if on is None:
        yield not_evaluated(arn, "cannot tell whether the root user has MFA")
        return
    if not on:
        yield failed(arn, "root user has no MFA device at all")
        return
    virtual = [
        d for d in inv.get("iam", "virtual_mfa_devices")
        if isinstance(d, dict)
        and (str((d.get("User") or {}).get("Arn", "")).endswith(":root")
             or str(d.get("SerialNumber", "")).endswith(":mfa/root-account-mfa-device"))
    ]
    if virtual:
        yield failed(arn, "root user's MFA is a virtual MFA device", serial=str(virtual[0].get("SerialNumber", "")))
    else:
        yield passed(arn, "root user has MFA and no virtual MFA device is assigned to it")


@check(
    id="iam_avoid_root_usage",
    title="The root user is not used for everyday tasks",
    service="iam", severity="high", resource_type="AwsIamUser",
    cis={"7.0": ["2.7"], "5.0": ["1.6"], "3.0": ["1.7"]},
    remediation=(
        "Do daily and administrative work through IAM Identity Center or IAM roles. Keep root for the few "
        "tasks only it can do, protect it with MFA, and alert on its use (see the root usage metric filter)."
    ),
    references=ROOT_REFS,
    description=f"Fails when the root password or a root access key was used within the last {ROOT_USAGE_DAYS} days.",
)
def avoid_root_usage(inv: Inventory) -> Iterable[CheckResult]:
    arn = account_arn(inv)
    row = root_row(inv)
    if row is None:
        yield not_evaluated(arn, "the credential report has no root user row, so root usage cannot be read")
        return
    uses = {
        "password": row.get("password_last_used"),
        "access key 1": row.get("access_key_1_last_used_date"),
        "access key 2": row.get("access_key_2_last_used_date"),
    }
    recent = {k: d for k, v in uses.items() if (d := days_since(v)) is not None and d < ROOT_USAGE_DAYS}
    if recent:
        which, days = min(recent.items(), key=lambda kv: kv[1])
        yield failed(arn, f"root {which} was used {days:.0f} day(s) ago", last_used=uses[which])
    else:
        yield passed(arn, f"root user not used in the last {ROOT_USAGE_DAYS} days")
