"""Access key hygiene from the credential report: rotation (90 days), one active key per user, no key
created together with a console password and never used, unused keys (45 days)."""

from __future__ import annotations

from collections.abc import Iterable

from cloudwarden.compliance.checks.base import CheckResult, check, failed, passed
from cloudwarden.compliance.checks.iam.common import (
    CIS,
    account_arn,
    active_keys,
    days_since,
    is_true,
    parse_time,
    user_arn,
    user_rows,
)
from cloudwarden.compliance.inventory import Inventory

ROTATION_DAYS = 90
UNUSED_DAYS = 45
KEY_REFS = ["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html", CIS]


def _rows_with_keys(inv: Inventory) -> list[dict[str, str]]:
    return [r for r in user_rows(inv) if active_keys(r)]


@check(
    id="iam_rotate_access_key_90_days",
    title="Active access keys are rotated every 90 days or less",
    service="iam", severity="medium", resource_type="AwsIamUser",
    cis={"7.0": ["2.12"], "5.0": ["1.13"], "3.0": ["1.14"]},
    remediation=(
        "Create a second access key for the user, switch every application to it, confirm the old key is no "
        "longer used (its last-used date stops moving), then deactivate and delete the old key. Prefer IAM "
        "roles with temporary credentials so there is nothing to rotate."
    ),
    references=KEY_REFS,
)
def rotate_90(inv: Inventory) -> Iterable[CheckResult]:
    rows = _rows_with_keys(inv)
    if not rows:
        yield passed(account_arn(inv), "no IAM user has an active access key")
        return
    for row in rows:
        stale = [(k.slot, age) for k in active_keys(row) if (age := days_since(k.last_rotated)) is not None and age > ROTATION_DAYS]
        name = row.get("user")
        if stale:
            slot, age = max(stale, key=lambda s: s[1])
            yield failed(user_arn(inv, row), f"user {name} access key {slot} was last rotated {age:.0f} days ago", key=slot)
        else:
            yield passed(user_arn(inv, row), f"user {name} active keys are younger than {ROTATION_DAYS} days")


@check(
    id="iam_user_two_active_access_key",
    title="No IAM user has more than one active access key",
    service="iam", severity="medium", resource_type="AwsIamUser",
    cis={"5.0": ["1.12"], "3.0": ["1.13"]},
    remediation=(
        "Keep a second key only for the minutes of a rotation: find which key is still in use (last-used "
        "date), move everything to it, then deactivate and delete the other."
    ),
    references=KEY_REFS,
)
def one_active_key(inv: Inventory) -> Iterable[CheckResult]:
    rows = _rows_with_keys(inv)
    if not rows:
        yield passed(account_arn(inv), "no IAM user has an active access key")
        return
    for row in rows:
        n = len(active_keys(row))
        if n > 1:
            yield failed(user_arn(inv, row), f"user {row.get('user')} has {n} active access keys")
        else:
            yield passed(user_arn(inv, row), f"user {row.get('user')} has one active access key")


@check(
    id="iam_user_no_setup_initial_access_key",
    title="No access key was created at user setup for console users and left unused",
    service="iam", severity="medium", resource_type="AwsIamUser",
    cis={"5.0": ["1.10"], "3.0": ["1.11"]},
    remediation=(
        "Delete access keys that console users have never used, and stop creating keys by default when "
        "users are set up; issue a key only when a person shows a need for programmatic access."
    ),
    references=KEY_REFS,
)
def no_initial_key(inv: Inventory) -> Iterable[CheckResult]:
    console = [r for r in user_rows(inv) if is_true(r.get("password_enabled"))]
    if not console:
        yield passed(account_arn(inv), "no IAM user has a console password")
        return
    for row in console:
        unused = [k.slot for k in active_keys(row) if parse_time(k.last_used) is None]
        if unused:
            yield failed(user_arn(inv, row),
                         f"console user {row.get('user')} has active access key(s) {unused} that were never used")
        else:
            yield passed(user_arn(inv, row), f"console user {row.get('user')} has no never-used active access key")


@check(
    id="iam_user_accesskey_unused",
    title="Access keys unused for 45 days or more are disabled",
    service="iam", severity="medium", resource_type="AwsIamUser",
    cis={"7.0": ["2.11"], "5.0": ["1.11"], "3.0": ["1.12"]},
    remediation=(
        "Deactivate access keys whose last use (or creation, if never used) is 45 days or more ago, and "
        "delete them after confirming nothing breaks."
    ),
    references=KEY_REFS,
)
def accesskey_unused(inv: Inventory) -> Iterable[CheckResult]:
    rows = _rows_with_keys(inv)
    if not rows:
        yield passed(account_arn(inv), "no IAM user has an active access key")
        return
    for row in rows:
        idle: list[tuple[int, float]] = []
        for k in active_keys(row):
            # A never-used key has been idle since it was created (last rotated).
            age = days_since(k.last_used) if parse_time(k.last_used) else days_since(k.last_rotated)
            if age is not None and age >= UNUSED_DAYS:
                idle.append((k.slot, age))
        if idle:
            slot, age = max(idle, key=lambda s: s[1])
            yield failed(user_arn(inv, row), f"user {row.get('user')} access key {slot} unused for {age:.0f} days", key=slot)
        else:
            yield passed(user_arn(inv, row), f"user {row.get('user')} active keys were used within {UNUSED_DAYS} days")


@check(
    id="iam_user_console_access_unused",
    title="Console passwords unused for 45 days or more are disabled",
    service="iam", severity="medium", resource_type="AwsIamUser",
    cis={"7.0": ["2.11"], "5.0": ["1.11"], "3.0": ["1.12"]},
    remediation=(
        "Remove the console password (login profile) of users who have not signed in for 45 days or more; "
        "re-enable it when the person needs the console again."
    ),
    references=["https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_finding-unused.html", CIS],
)
def console_unused(inv: Inventory) -> Iterable[CheckResult]:
    console = [r for r in user_rows(inv) if is_true(r.get("password_enabled"))]
    if not console:
        yield passed(account_arn(inv), "no IAM user has a console password")
        return
    for row in console:
        used = row.get("password_last_used")
        # Never signed in: idle since the password was set (or the user created).
        since = used if parse_time(used) else (row.get("password_last_changed") or row.get("user_creation_time"))
        age = days_since(since)
        if age is not None and age >= UNUSED_DAYS:
            yield failed(user_arn(inv, row), f"user {row.get('user')} has not used the console password for {age:.0f} days")
        else:
            yield passed(user_arn(inv, row), f"user {row.get('user')} console password used or set within {UNUSED_DAYS} days")
