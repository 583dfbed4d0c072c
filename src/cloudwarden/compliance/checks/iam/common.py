"""Pure helpers shared by the IAM checks: credential report rows, dates, ARNs, policy attachments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudwarden.compliance.inventory import Inventory

ROOT_USER = "<root_account>"
IAM_REFS = ("https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html",)
CIS = "https://www.cisecurity.org/benchmark/amazon_web_services"


def now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: Any) -> datetime | None:
    """A credential-report or API time, or None for N/A, no_information, not_supported, empty."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value or value[0] not in "0123456789":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def days_since(value: Any, at: datetime | None = None) -> float | None:
    t = parse_time(value)
    if t is None:
        return None
    return ((at or now()) - t).total_seconds() / 86400


def is_true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def account_arn(inv: Inventory) -> str:
    return f"arn:{inv.partition}:iam::{inv.account_id}:root"


def credential_rows(inv: Inventory) -> list[dict[str, str]]:
    rows = inv.get("iam", "credential_report")
    return [r for r in rows if isinstance(r, dict)]


def root_row(inv: Inventory) -> dict[str, str] | None:
    for r in credential_rows(inv):
        if r.get("user") == ROOT_USER:
            return r
    return None


def user_rows(inv: Inventory) -> list[dict[str, str]]:
    return [r for r in credential_rows(inv) if r.get("user") != ROOT_USER]


def user_arn(inv: Inventory, row: dict[str, str]) -> str:
    return row.get("arn") or f"arn:{inv.partition}:iam::{inv.account_id}:user/{row.get('user', '')}"


@dataclass(frozen=True)
class ActiveKey:
    slot: int  # 1 or 2, as the credential report numbers them
    last_rotated: str
    last_used: str


def active_keys(row: dict[str, str]) -> list[ActiveKey]:
    return [
        ActiveKey(n, row.get(f"access_key_{n}_last_rotated", "N/A"), row.get(f"access_key_{n}_last_used_date", "N/A"))
        for n in (1, 2)
        if is_true(row.get(f"access_key_{n}_active"))
    ]


@dataclass(frozen=True)
class Entity:
    kind: str  # user | group | role
    name: str
    arn: str
    detail: dict[str, Any]


def entities(inv: Inventory) -> Iterator[Entity]:
    """Users, groups and roles from GetAccountAuthorizationDetails."""
    for kind, key, name_key in (("user", "users", "UserName"), ("group", "groups", "GroupName"), ("role", "roles", "RoleName")):
        for d in inv.get("iam", key):
            if isinstance(d, dict):
                yield Entity(kind, str(d.get(name_key, "")), str(d.get("Arn", "")), d)


def attached_policy_arns(entity: Entity) -> list[str]:
    return [str(p.get("PolicyArn", "")) for p in entity.detail.get("AttachedManagedPolicies") or [] if isinstance(p, dict)]


def inline_policies(entity: Entity) -> list[dict[str, Any]]:
    key = {"user": "UserPolicyList", "group": "GroupPolicyList", "role": "RolePolicyList"}[entity.kind]
    return [p for p in entity.detail.get(key) or [] if isinstance(p, dict)]


def entities_with_policy(inv: Inventory, policy_name: str) -> list[Entity]:
    """Entities that have the AWS-managed policy `policy_name` attached."""
    suffix = f":policy/{policy_name}"
    return [e for e in entities(inv) if any(a.endswith(suffix) and ":aws:policy/" in a for a in attached_policy_arns(e))]


def default_version_document(policy: dict[str, Any]) -> Any:
    """The default version's document of a GetAccountAuthorizationDetails `Policies` entry."""
    for v in policy.get("PolicyVersionList") or []:
        if isinstance(v, dict) and v.get("IsDefaultVersion"):
            return v.get("Document")
    return None
