"""Field lookup in events: dotted paths into nested mappings and lists, and text views of values.

Sigma field names such as `userIdentity.sessionContext.sessionIssuer.userName` address nested CloudTrail
objects; a literal key containing dots (flat host events) wins over the nested walk. Lists along the path
fan out, so `requestParameters.bucketPolicy.Statement.Principal` yields the principal of every statement.
A JSON object kept as a string (IAM `policyDocument`) is decoded when the path needs to go inside it.

Derived fields: a few values rules need that CloudTrail does not write as a field of their own are computed
from the record when the path is absent (a real value at that path always wins). They live under the record
key they derive from, so presence checks on the first path element still hold, and have three or more
parts, so no caller inlines them as plain dict lookups:
- `userIdentity.sessionContext.sessionName`: the session name of an `AssumedRole` or `FederatedUser`
  identity (the last `/` part of its ARN, else the part after `:` of its principalId), as normalisation's
  `session_name`. Lets a rule compare it with another field (`|fieldref`), e.g. a role session named
  after the IAM user whose password it changes.
- `sourceIPAddress.cloudwarden.awsRange`: true when the source address is one of AWS's published ranges,
  false when it is an address outside them; absent when no ranges are loaded (`cloudwarden.aws.ip_ranges`,
  which an ingest activates from the cached `ip-ranges.json`) or the source is a service name. Lets a rule
  tell an instance's own public or NAT address from somewhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from cloudwarden.aws import ip_ranges

MISSING: Any = object()  # a field that is not in the event (distinct from a null value)
MAX_JSON_STRING = 1 << 20  # never decode embedded JSON larger than this while walking a path

Getter = Callable[[Mapping[str, Any]], Any]


def _decode_embedded(value: str) -> Any:
    if len(value) > MAX_JSON_STRING or value[:1] not in ("{", "["):
        return MISSING
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return MISSING


def _walk(event: Mapping[str, Any], parts: list[str]) -> Any:
    current: list[Any] = [event]
    for part in parts:
        following: list[Any] = []
        for node in current:
            if isinstance(node, str):
                node = _decode_embedded(node)
            if isinstance(node, Mapping):
                value = node.get(part, MISSING)
                if value is MISSING:
                    continue
                if isinstance(value, list):
                    following.extend(value)
                else:
                    following.append(value)
            elif isinstance(node, list):
                # nested lists: look inside each element
                for item in node:
                    if isinstance(item, Mapping) and part in item:
                        value = item[part]
                        following.extend(value if isinstance(value, list) else [value])
        if not following:
            return MISSING
        current = following
    return current[0] if len(current) == 1 else current


SESSION_NAME = "userIdentity.sessionContext.sessionName"
_SESSION_KINDS = ("AssumedRole", "FederatedUser")


def session_name(event: Mapping[str, Any]) -> Any:
    """The session name of the event's role or federated session, or MISSING (IAM users, root, services)."""
    identity = event.get("userIdentity")
    if not isinstance(identity, Mapping) or identity.get("type") not in _SESSION_KINDS:
        return MISSING
    arn = identity.get("arn")
    if isinstance(arn, str) and "/" in arn:  # assumed-role/<role>/<session>, federated-user/<name>
        name = arn.rsplit("/", 1)[1]
    else:
        principal = identity.get("principalId")  # <role id>:<session>, <account>:<name>
        name = principal.split(":", 1)[1] if isinstance(principal, str) and ":" in principal else ""
    return name or MISSING


AWS_RANGE = "sourceIPAddress.cloudwarden.awsRange"


def source_in_aws_ranges(event: Mapping[str, Any]) -> Any:
    """Whether the event's source address is AWS's own (see the module text), or MISSING."""
    ranges = ip_ranges.active()
    address = event.get("sourceIPAddress")
    if ranges is None or not isinstance(address, str):
        return MISSING
    found = ranges.contains(address)
    return MISSING if found is None else found


DERIVED: dict[str, Getter] = {SESSION_NAME: session_name, AWS_RANGE: source_in_aws_ranges}


def compile_getter(field: str) -> Getter:
    """A function returning the field's value (a list when the path fans out) or MISSING."""
    derive = DERIVED.get(field)
    if derive is not None:
        get_path = _compile_path(field)

        def get_derived(event: Mapping[str, Any]) -> Any:
            value = get_path(event)
            return derive(event) if value is MISSING else value

        return get_derived
    return _compile_path(field)


def _compile_path(field: str) -> Getter:
    if "." not in field:

        def get_plain(event: Mapping[str, Any]) -> Any:
            return event.get(field, MISSING)

        get_plain.__dict__["plain_field"] = field  # lets a caller inline `event.get(field, MISSING)`
        return get_plain
    parts = field.split(".")
    # unrolled for the usual depths (`userIdentity.type`, `...sessionIssuer.type`): the same steps as the loop
    # below — a flat key with dots wins, then plain nested dicts, else the general walk
    if len(parts) == 2:
        p0, p1 = parts

        def get_dotted2(event: Mapping[str, Any]) -> Any:
            value = event.get(field, MISSING)
            if value is not MISSING:
                return value
            if event.__class__ is not dict:
                return _walk(event, parts)
            node = event.get(p0, MISSING)
            if node.__class__ is not dict:
                return MISSING if node is MISSING else _walk(event, parts)
            return node.get(p1, MISSING)

        return get_dotted2
    if len(parts) == 4:
        q0, q1, q2, q3 = parts

        def get_dotted4(event: Mapping[str, Any]) -> Any:
            value = event.get(field, MISSING)
            if value is not MISSING:
                return value
            if event.__class__ is not dict:
                return _walk(event, parts)
            node = event.get(q0, MISSING)
            if node.__class__ is not dict:
                return MISSING if node is MISSING else _walk(event, parts)
            node = node.get(q1, MISSING)
            if node.__class__ is not dict:
                return MISSING if node is MISSING else _walk(event, parts)
            node = node.get(q2, MISSING)
            if node.__class__ is not dict:
                return MISSING if node is MISSING else _walk(event, parts)
            return node.get(q3, MISSING)

        return get_dotted4

    def get_dotted(event: Mapping[str, Any]) -> Any:
        value = event.get(field, MISSING)  # a flat key with dots wins
        if value is not MISSING:
            return value
        node: Any = event
        for part in parts:  # fast path: plain nested dicts
            if node.__class__ is not dict:
                return _walk(event, parts)  # lists to fan out or embedded JSON along the way
            node = node.get(part, MISSING)
            if node is MISSING:
                return MISSING
        return node

    return get_dotted


def iter_leaves(value: Any) -> Iterator[Any]:
    """Scalars of a value, flattening lists (a dict stays one leaf: it is matched as JSON text)."""
    if isinstance(value, list):
        for item in value:
            yield from iter_leaves(item)
    else:
        yield value


def iter_all_leaves(event: Any) -> Iterator[Any]:
    """Every scalar anywhere in the event: what a Sigma keyword search looks at."""
    if isinstance(event, Mapping):
        for value in event.values():
            yield from iter_all_leaves(value)
    elif isinstance(event, list):
        for item in event:
            yield from iter_all_leaves(item)
    else:
        yield event


def as_text(value: Any) -> str | None:
    """The text a string matcher compares with; None for null values."""
    if value.__class__ is str:
        return value
    if value is None or value is MISSING:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            return str(value)
    return str(value)


def text_values(event: Mapping[str, Any], getter: Getter) -> list[str]:
    """Text of every leaf of a field (for explanations and correlation keys)."""
    value = getter(event)
    if value is MISSING:
        return []
    out = []
    for leaf in iter_leaves(value):
        text = as_text(leaf)
        if text is not None:
            out.append(text)
    return out
