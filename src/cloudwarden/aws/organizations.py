"""AWS Organizations scope: list the member accounts and assume a named role in each.

A failure for one account (role missing, AccessDenied, suspended account) is reported on that account
and never stops the others."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import botocore.exceptions

from cloudwarden.aws.session import AwsSession


@dataclass(frozen=True)
class OrgAccount:
    account_id: str
    name: str
    status: str  # ACTIVE | SUSPENDED | PENDING_CLOSURE ...


@dataclass
class AccountAccess:
    account: OrgAccount
    session: AwsSession | None
    error: str = ""  # why this account could not be scanned


def list_accounts(session: AwsSession) -> list[OrgAccount]:
    """organizations:ListAccounts, every page."""
    client = session.client("organizations")
    out: list[OrgAccount] = []
    for page in client.get_paginator("list_accounts").paginate():
        for a in page.get("Accounts", []):
            out.append(OrgAccount(str(a["Id"]), str(a.get("Name", "")), str(a.get("Status", "ACTIVE"))))
    return out


def role_arn(account_id: str, role_name: str, partition: str = "aws") -> str:
    if role_name.startswith("arn:"):
        # A full ARN template is accepted with {account_id} in it.
        return role_name.replace("{account_id}", account_id)
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def assume_into(session: AwsSession, account: OrgAccount, role_name: str, *, own_account: str = "",
                partition: str = "aws") -> AccountAccess:
    """Open a session in `account`; the caller's own account is scanned with the caller's session."""
    if account.status not in ("ACTIVE", ""):
        return AccountAccess(account, None, f"account status is {account.status}")
    if own_account and account.account_id == own_account:
        return AccountAccess(account, session)
    try:
        return AccountAccess(account, session.assume_role(role_arn(account.account_id, role_name, partition)))
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        return AccountAccess(account, None, f"sts:AssumeRole {role_name}: {err.get('Code')}: {err.get('Message', '')}")
    except botocore.exceptions.BotoCoreError as exc:
        return AccountAccess(account, None, f"sts:AssumeRole {role_name}: {exc}")


def iter_access(session: AwsSession, accounts: list[OrgAccount], role_name: str, own_account: str) -> Iterator[AccountAccess]:
    for a in accounts:
        yield assume_into(session, a, role_name, own_account=own_account)
