"""Pure helpers over IAM policy documents (identity policies as GetAccountAuthorizationDetails and
GetPolicyVersion return them).

AWS accepts several shapes for the same meaning: `Statement` as one object or a list; `Action`,
`NotAction`, `Resource` as a string or a list; a document as a dict or (when an API did not decode it)
a JSON string, possibly URL-encoded. `iam_policy_statements` normalises all of them and raises
`PolicyDocumentError` with the reason when the document cannot be understood, so a check can report
NOT_EVALUATED for that one policy instead of crashing or guessing.
"""

from __future__ import annotations

import fnmatch
import json
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class PolicyDocumentError(ValueError):
    """The document is not a policy we can evaluate (bad JSON, wrong types, missing Effect)."""


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]  # lower-cased; empty when the statement uses NotAction
    not_actions: tuple[str, ...]  # lower-cased
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    has_condition: bool


def _as_str_tuple(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyDocumentError(f"{field} must be a string or a list of strings, got {type(value).__name__}")


def iam_policy_load(document: Any) -> dict[str, Any]:
    """A policy document as a dict, decoding JSON strings (also URL-encoded ones)."""
    if isinstance(document, dict):
        return document
    if isinstance(document, bytes):
        document = document.decode("utf-8", errors="replace")
    if isinstance(document, str):
        text = document.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = urllib.parse.unquote(text)
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise PolicyDocumentError(f"document is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise PolicyDocumentError("document is not a JSON object")
        return loaded
    if document is None:
        raise PolicyDocumentError("document is missing")
    raise PolicyDocumentError(f"document has unexpected type {type(document).__name__}")


def iam_policy_statements(document: Any) -> list[Statement]:
    doc = iam_policy_load(document)
    raw = doc.get("Statement")
    if raw is None:
        raise PolicyDocumentError("document has no Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise PolicyDocumentError("Statement must be an object or a list of objects")
    out: list[Statement] = []
    for i, st in enumerate(items):
        if not isinstance(st, dict):
            raise PolicyDocumentError(f"Statement[{i}] is not an object")
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyDocumentError(f"Statement[{i}].Effect must be Allow or Deny, got {effect!r}")
        actions = _as_str_tuple(st.get("Action"), f"Statement[{i}].Action")
        not_actions = _as_str_tuple(st.get("NotAction"), f"Statement[{i}].NotAction")
        if not actions and not not_actions:
            raise PolicyDocumentError(f"Statement[{i}] has neither Action nor NotAction")
        out.append(
            Statement(
                effect=effect,
                actions=tuple(a.lower() for a in actions),
                not_actions=tuple(a.lower() for a in not_actions),
                resources=_as_str_tuple(st.get("Resource"), f"Statement[{i}].Resource"),
                not_resources=_as_str_tuple(st.get("NotResource"), f"Statement[{i}].NotResource"),
                has_condition=bool(st.get("Condition")),
            )
        )
    return out


def _matches(patterns: Iterable[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action, p) for p in patterns)


def iam_policy_allows_full_admin(document: Any) -> bool:
    """True when an unconditional Allow statement grants Action "*" on Resource "*" (the CIS "*:*" test).

    `NotAction` with an Allow on "*" is not counted: it allows everything except some actions, which CIS
    does not describe as "*:*"; a Condition narrows the grant, so conditional statements do not count.
    """
    for st in iam_policy_statements(document):
        if st.effect == "Allow" and not st.has_condition and "*" in st.actions and "*" in st.resources:
            return True
    return False


def iam_policy_allows_action(document: Any, action: str) -> bool:
    """True when some Allow statement covers `action` (wildcards honoured) and no unconditional Deny
    statement on "*" removes it. A coarse test for "does this grant X", not a full policy evaluator."""
    action = action.lower()
    statements = iam_policy_statements(document)
    allowed = False
    for st in statements:
        covers = _matches(st.actions, action) if st.actions else not _matches(st.not_actions, action)
        if not covers:
            continue
        if st.effect == "Deny" and not st.has_condition and "*" in st.resources:
            return False
        if st.effect == "Allow":
            allowed = True
    return allowed


# Condition keys that tie a "Principal": "*" grant to known accounts, organizations or networks.
RESTRICTING_CONDITION_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:SourceAccount", "aws:SourceOwner", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths",
        "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn",
        "aws:SourceVpc", "aws:SourceVpce", "aws:SourceIp", "kms:CallerAccount", "lambda:FunctionUrlAuthType",
    )
)


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        values = [aws] if isinstance(aws, str) else aws if isinstance(aws, list) else []
        return "*" in values
    return False


def _restricted(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator_block in condition.values():
        if not isinstance(operator_block, dict):
            continue
        for key, value in operator_block.items():
            values = value if isinstance(value, list) else [value]
            if str(key).lower() in RESTRICTING_CONDITION_KEYS and all(v not in ("*", "") for v in values):
                return True
    return False


def iam_policy_public_statements(document: Any) -> list[int]:
    """Indexes of Allow statements of a resource policy that grant to everyone ("Principal": "*" or
    {"AWS": "*"}) without a condition tying them to an account, organization or network."""
    doc = iam_policy_load(document)
    raw = doc.get("Statement")
    if raw is None:
        raise PolicyDocumentError("document has no Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise PolicyDocumentError("Statement must be an object or a list of objects")
    out = []
    for i, st in enumerate(items):
        if not isinstance(st, dict):
            raise PolicyDocumentError(f"Statement[{i}] is not an object")
        if st.get("Effect") not in ("Allow", "Deny"):
            raise PolicyDocumentError(f"Statement[{i}].Effect must be Allow or Deny, got {st.get('Effect')!r}")
        if st["Effect"] == "Allow" and _is_everyone(st.get("Principal")) and not _restricted(st.get("Condition")):
            out.append(i)
    return out
