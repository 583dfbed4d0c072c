"""CloudWatch Logs metric filter patterns, understood semantically (pure; no AWS calls).

The CIS Monitoring controls ask for a metric filter on the CloudTrail log group that catches a class of
events (root usage, IAM policy changes, ...). People write those filters in many equivalent ways:
different spacing, quoting, order of terms, extra parentheses, more event names than required. Comparing
text would fail them; so instead we parse the JSON filter pattern language into an expression tree and
*run* it against synthetic CloudTrail events:

- every event in `positives` (the events the control is about) must match, and
- no event in `negatives` (routine activity a useful filter must ignore) may match.

A filter that passes both is accepted for the control, whatever its wording. The event sets below are
our own definitions of each control's intent (event names are AWS API names).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------------------------------------------
# Pattern language: { $.a.b = "x*" && ($.c != 1 || $.d NOT EXISTS) }


class PatternError(ValueError):
    """The text is not a JSON metric filter pattern we understand."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lbrace>\{) | (?P<rbrace>\}) | (?P<lparen>\() | (?P<rparen>\)) |
      (?P<and>&&) | (?P<or>\|\|) |
      (?P<op>!=|<=|>=|=|<|>) |
      (?P<string>"(?:[^"\\]|\\.)*") |
      (?P<regex>%(?:[^%\\]|\\.)*%) |
      (?P<selector>\$(?:\.[A-Za-z0-9_\-@:]+|\[\d+\]|\.\*|\[\*\])*) |
      (?P<word>[^\s(){}&|=!<>"]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PatternError(f"unexpected text at offset {pos}: {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


@dataclass(frozen=True)
class Compare:
    path: tuple[str | int, ...]
    op: str  # = != < > <= >= | IS NULL | IS TRUE | IS FALSE | EXISTS | NOT EXISTS
    value: Any = None
    regex: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Expr, ...]


Expr = Compare | BoolOp


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else ("eof", "")

    def take(self, kind: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if kind is not None and tok[0] != kind:
            raise PatternError(f"expected {kind}, found {tok[1] or 'end of pattern'!r}")
        self.i += 1
        return tok

    def pattern(self) -> Expr:
        self.take("lbrace")
        expr = self.expr()
        self.take("rbrace")
        if self.peek()[0] != "eof":
            raise PatternError(f"text after the closing brace: {self.peek()[1]!r}")
        return expr

    def expr(self) -> Expr:  # || binds looser than &&
        items = [self.conj()]
        while self.peek()[0] == "or":
            self.take()
            items.append(self.conj())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def conj(self) -> Expr:
        items = [self.atom()]
        while self.peek()[0] == "and":
            self.take()
            items.append(self.atom())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def atom(self) -> Expr:
        if self.peek()[0] == "lparen":
            self.take()
            inner = self.expr()
            self.take("rparen")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        path = _path(self.take("selector")[1])
        kind, text = self.peek()
        if kind == "word" and text.upper() in ("IS", "NOT", "EXISTS"):
            words = [self.take()[1].upper()]
            while words[-1] in ("IS", "NOT") and self.peek()[0] == "word":
                words.append(self.take()[1].upper())
            phrase = " ".join(words)
            if phrase not in ("IS NULL", "IS TRUE", "IS FALSE", "EXISTS", "NOT EXISTS"):
                raise PatternError(f"unknown test {phrase!r}")
            return Compare(path, phrase)
        op = self.take("op")[1]
        kind, text = self.take()
        if kind == "string":
            return Compare(path, op, re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "regex":
            return Compare(path, op, text[1:-1], regex=True)
        if kind == "word":
            try:
                return Compare(path, op, float(text))
            except ValueError:
                return Compare(path, op, text)
        raise PatternError(f"expected a value after {op!r}, found {text!r}")


def _path(selector: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for m in re.finditer(r"\.([^.\[]+)|\[(\d+|\*)\]", selector[1:]):
        if m.group(1) is not None:
            parts.append(m.group(1))
        else:
            parts.append(int(m.group(2)) if m.group(2) != "*" else "*")
    return tuple(parts)


def parse(pattern: str) -> Expr:
    """Parse a JSON metric filter pattern; PatternError when it is not one (e.g. a plain-text filter)."""
    if not pattern or not pattern.strip().startswith("{"):
        raise PatternError("not a JSON filter pattern (plain-text and space-delimited filters are not understood)")
    return _Parser(_tokens(pattern)).pattern()


_MISSING = object()


def _resolve(event: Any, path: tuple[str | int, ...]) -> Any:
    cur = event
    for part in path:
        if isinstance(part, int) and isinstance(cur, list) and part < len(cur):
            cur = cur[part]
        elif isinstance(part, str) and isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _eq(actual: Any, expected: Any, regex: bool) -> bool:
    if actual is _MISSING or isinstance(actual, Mapping | list):
        return False
    if regex:
        return re.search(str(expected), str(actual)) is not None
    if isinstance(expected, float):
        try:
            return float(actual) == expected
        except (TypeError, ValueError):
            return False
    text = "true" if actual is True else "false" if actual is False else str(actual)
    # CloudWatch Logs treats * as "any characters"; no other glob meta characters
    if "*" in str(expected):
        parts = [re.escape(p) for p in str(expected).split("*")]
        return re.fullmatch(".*".join(parts), text, re.DOTALL) is not None
    return text == str(expected)


def _order(actual: Any, op: str, expected: Any) -> bool:
    try:
        a, b = float(actual), float(expected)
    except (TypeError, ValueError):
        return False
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def matches(expr: Expr, event: Mapping[str, Any]) -> bool:
    """Does the parsed filter select this (JSON) log event?"""
    if isinstance(expr, BoolOp):
        results = (matches(e, event) for e in expr.items)
        return all(results) if expr.op == "and" else any(results)
    actual = _resolve(event, expr.path)
    if expr.op == "=":
        return _eq(actual, expr.value, expr.regex)
    if expr.op == "!=":
        # an absent field is "not equal": filters such as MFAUsed != "Yes" rely on that
        return actual is _MISSING or not _eq(actual, expr.value, expr.regex)
    if expr.op in ("<", ">", "<=", ">="):
        return actual is not _MISSING and _order(actual, expr.op, expr.value)
    if expr.op == "IS NULL":
        return actual is None
    if expr.op == "IS TRUE":
        return actual is True
    if expr.op == "IS FALSE":
        return actual is False
    if expr.op == "EXISTS":
        return actual is not _MISSING
    return actual is _MISSING  # NOT EXISTS


# ---------------------------------------------------------------------------------------------------
# What each Monitoring control must catch


def _event(name: str, source: str, **fields: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventSource": source,
        "eventName": name,
        "eventType": "AwsApiCall",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "arn": "arn:aws:iam::111122223333:user/alice"},
        "readOnly": False,
    }
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(ev.get(key), dict):
            ev[key] = {**ev[key], **value}
        else:
            ev[key] = value
    return ev


def _api(source: str, names: str) -> tuple[dict[str, Any], ...]:
    return tuple(_event(n, source) for n in names.split())


_ROUTINE = (
    _event("DescribeInstances", "ec2.amazonaws.com", readOnly=True),
    _event("GetObject", "s3.amazonaws.com", readOnly=True, eventCategory="Data"),
)


def _login(**fields: Any) -> dict[str, Any]:
    return _event("ConsoleLogin", "signin.amazonaws.com", eventType="AwsConsoleSignIn", **fields)


@dataclass(frozen=True)
class FilterSpec:
    key: str
    what: str  # "unauthorized API calls", for messages
    positives: tuple[dict[str, Any], ...]
    negatives: tuple[dict[str, Any], ...] = _ROUTINE


SPECS: dict[str, FilterSpec] = {
    s.key: s
    for s in (
        FilterSpec("unauthorized_api_calls", "unauthorized API calls", (
            _event("RunInstances", "ec2.amazonaws.com", errorCode="Client.UnauthorizedOperation"),
            _event("GetSecretValue", "secretsmanager.amazonaws.com", errorCode="AccessDenied"),
            _event("Decrypt", "kms.amazonaws.com", errorCode="AccessDeniedException"),
        )),
        FilterSpec("sign_in_without_mfa", "console sign-in without MFA", (
            _login(additionalEventData={"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"},
                   responseElements={"ConsoleLogin": "Success"}),
        ), negatives=(*_ROUTINE, _login(additionalEventData={"MFAUsed": "Yes"},
                                        responseElements={"ConsoleLogin": "Success"}))),
        FilterSpec("root_usage", "use of the root user", (
            _event("CreateAccessKey", "iam.amazonaws.com",
                   userIdentity={"type": "Root", "arn": "arn:aws:iam::111122223333:root", "userName": None}),
            _login(userIdentity={"type": "Root", "arn": "arn:aws:iam::111122223333:root"},
                   additionalEventData={"MFAUsed": "Yes"}, responseElements={"ConsoleLogin": "Success"}),
        )),
        FilterSpec("iam_policy_changes", "IAM policy changes", _api("iam.amazonaws.com", (
            "DeleteGroupPolicy DeleteRolePolicy DeleteUserPolicy PutGroupPolicy PutRolePolicy PutUserPolicy "
            "CreatePolicy DeletePolicy CreatePolicyVersion DeletePolicyVersion AttachRolePolicy DetachRolePolicy "
            "AttachUserPolicy DetachUserPolicy AttachGroupPolicy DetachGroupPolicy")),
            negatives=(*_ROUTINE, _event("ListPolicies", "iam.amazonaws.com", readOnly=True))),
        FilterSpec("cloudtrail_changes", "CloudTrail configuration changes",
                   _api("cloudtrail.amazonaws.com", "CreateTrail UpdateTrail DeleteTrail StartLogging StopLogging"),
                   negatives=(*_ROUTINE, _event("DescribeTrails", "cloudtrail.amazonaws.com", readOnly=True))),
        FilterSpec("console_auth_failures", "console authentication failures", (
            _login(errorMessage="Failed authentication", responseElements={"ConsoleLogin": "Failure"},
                   additionalEventData={"MFAUsed": "No"}),
        # A successful login without MFA is the negative that tells this filter apart from a sign-in-without-MFA
        # filter, which would otherwise also catch these failures.
        ), negatives=(*_ROUTINE, _login(additionalEventData={"MFAUsed": "Yes"},
                                        responseElements={"ConsoleLogin": "Success"}),
                      _login(additionalEventData={"MFAUsed": "No"}, responseElements={"ConsoleLogin": "Success"}))),
        FilterSpec("kms_key_disable_or_deletion", "disabling or scheduled deletion of customer keys",
                   _api("kms.amazonaws.com", "DisableKey ScheduleKeyDeletion"),
                   negatives=(*_ROUTINE, _event("Decrypt", "kms.amazonaws.com", readOnly=True))),
        FilterSpec("s3_bucket_policy_changes", "S3 bucket policy changes", _api("s3.amazonaws.com", (
            "PutBucketAcl PutBucketPolicy PutBucketCors PutBucketLifecycle PutBucketReplication "
            "DeleteBucketPolicy DeleteBucketCors DeleteBucketLifecycle DeleteBucketReplication")),
            negatives=(*_ROUTINE, _event("GetBucketPolicy", "s3.amazonaws.com", readOnly=True))),
        FilterSpec("config_changes", "AWS Config configuration changes", _api("config.amazonaws.com", (
            "StopConfigurationRecorder DeleteDeliveryChannel PutDeliveryChannel PutConfigurationRecorder")),
            negatives=(*_ROUTINE, _event("DescribeConfigurationRecorders", "config.amazonaws.com", readOnly=True))),
        FilterSpec("security_group_changes", "security group changes", _api("ec2.amazonaws.com", (
            "AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress RevokeSecurityGroupIngress "
            "RevokeSecurityGroupEgress CreateSecurityGroup DeleteSecurityGroup"))),
        FilterSpec("nacl_changes", "network ACL changes", _api("ec2.amazonaws.com", (
            "CreateNetworkAcl CreateNetworkAclEntry DeleteNetworkAcl DeleteNetworkAclEntry "
            "ReplaceNetworkAclEntry ReplaceNetworkAclAssociation"))),
        FilterSpec("network_gateway_changes", "network gateway changes", _api("ec2.amazonaws.com", (
            "CreateCustomerGateway DeleteCustomerGateway AttachInternetGateway CreateInternetGateway "
            "DeleteInternetGateway DetachInternetGateway"))),
        FilterSpec("route_table_changes", "route table changes", _api("ec2.amazonaws.com", (
            "CreateRoute CreateRouteTable ReplaceRoute ReplaceRouteTableAssociation DeleteRouteTable "
            "DeleteRoute DisassociateRouteTable"))),
        # ClassicLink calls are retired by AWS, so a filter need not list them
        FilterSpec("vpc_changes", "VPC changes", _api("ec2.amazonaws.com", (
            "CreateVpc DeleteVpc ModifyVpcAttribute AcceptVpcPeeringConnection CreateVpcPeeringConnection "
            "DeleteVpcPeeringConnection RejectVpcPeeringConnection"))),
        FilterSpec("organizations_changes", "AWS Organizations changes", _api("organizations.amazonaws.com", (
            "AcceptHandshake AttachPolicy CreateAccount CreateOrganizationalUnit CreatePolicy DeclineHandshake "
            "DeleteOrganization DeleteOrganizationalUnit DeletePolicy DetachPolicy DisablePolicyType "
            "EnablePolicyType InviteAccountToOrganization LeaveOrganization MoveAccount "
            "RemoveAccountFromOrganization UpdatePolicy UpdateOrganizationalUnit")),
            negatives=(*_ROUTINE, _event("ListAccounts", "organizations.amazonaws.com", readOnly=True))),
    )
}


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


def judge(pattern: str, spec: FilterSpec) -> Verdict:
    """Is this filter pattern an adequate monitor for the control? With the first reason it is not."""
    try:
        expr = parse(pattern)
    except PatternError as exc:
        return Verdict(False, f"pattern not understood: {exc}")
    for ev in spec.positives:
        if not matches(expr, ev):
            return Verdict(False, f"does not match {ev['eventName']} ({ev['eventSource']})")
    for ev in spec.negatives:
        if matches(expr, ev):
            return Verdict(False, f"also matches routine {ev['eventName']} events (too broad)")
    return Verdict(True, f"catches {spec.what} and ignores routine activity")


__all__ = ["SPECS", "FilterSpec", "PatternError", "Verdict", "judge", "matches", "parse"]
