"""Every Sigma modifier and construct the engine supports: one positive and one negative each."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cloudwarden.detect.engine import load_rules_text
from tests.detect.helpers import hits, one_rule, rule_yaml

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # (name, detection, positive event, negative event)
    ("equality is case-insensitive", {"sel": {"eventName": "CreateBucket"}, "condition": "sel"},
     {"eventName": "createbucket"}, {"eventName": "CreateBucketX"}),
    ("list is OR", {"sel": {"eventName": ["A", "B"]}, "condition": "sel"}, {"eventName": "b"}, {"eventName": "C"}),
    ("fields are AND", {"sel": {"a": "1", "b": "2"}, "condition": "sel"}, {"a": "1", "b": "2"}, {"a": "1", "b": "3"}),
    ("contains", {"sel": {"ua|contains": "Kali"}, "condition": "sel"}, {"ua": "x kali y"}, {"ua": "ubuntu"}),
    ("startswith", {"sel": {"k|startswith": "ASIA"}, "condition": "sel"}, {"k": "asiaXYZ"}, {"k": "AKIAXYZ"}),
    ("endswith", {"sel": {"img|endswith": "/curl"}, "condition": "sel"}, {"img": "/usr/bin/curl"}, {"img": "/usr/bin/curly"}),
    ("contains|all", {"sel": {"cmd|contains|all": ["-e", "sh"]}, "condition": "sel"}, {"cmd": "nc -e /bin/sh"}, {"cmd": "nc -e x"}),
    ("cased", {"sel": {"x|cased": "AbC"}, "condition": "sel"}, {"x": "AbC"}, {"x": "abc"}),
    ("contains|cased", {"sel": {"x|contains|cased": "Ab"}, "condition": "sel"}, {"x": "zAbz"}, {"x": "zabz"}),
    ("wildcard *", {"sel": {"x": "arn:*:role/Admin*"}, "condition": "sel"}, {"x": "ARN:aws:iam::1:role/admins"}, {"x": "arn:aws:user/Admin"}),
    ("wildcard ?", {"sel": {"x": "ab?d"}, "condition": "sel"}, {"x": "abcd"}, {"x": "abd"}),
    ("escaped wildcard", {"sel": {"x": "\\*"}, "condition": "sel"}, {"x": "*"}, {"x": "anything"}),
    ("star alone means any value", {"sel": {"x": "*"}, "condition": "sel"}, {"x": ""}, {"y": "1"}),
    ("re", {"sel": {"x|re": "^i-[0-9a-f]{8}$"}, "condition": "sel"}, {"x": "i-0123abcd"}, {"x": "i-0123ABCD"}),
    ("re is unanchored search", {"sel": {"x|re": "evil"}, "condition": "sel"}, {"x": "so evil"}, {"x": "good"}),
    ("re|i", {"sel": {"x|re|i": "^kali"}, "condition": "sel"}, {"x": "KALI linux"}, {"x": "linux kali"}),
    ("re|m", {"sel": {"x|re|m": "^root$"}, "condition": "sel"}, {"x": "user\nroot\n"}, {"x": "user root"}),
    ("re|s", {"sel": {"x|re|s": "a.b"}, "condition": "sel"}, {"x": "a\nb"}, {"x": "a\n\nb"}),
    ("cidr v4", {"sel": {"ip|cidr": "10.0.0.0/8"}, "condition": "sel"}, {"ip": "10.2.3.4"}, {"ip": "11.2.3.4"}),
    ("cidr v6", {"sel": {"ip|cidr": "fd00::/8"}, "condition": "sel"}, {"ip": "fd12::1"}, {"ip": "10.0.0.1"}),
    ("cidr ignores non-ip", {"sel": {"ip|cidr": "0.0.0.0/0"}, "condition": "sel"}, {"ip": "1.1.1.1"}, {"ip": "s3.amazonaws.com"}),
    ("exists true", {"sel": {"errorCode|exists": True}, "condition": "sel"}, {"errorCode": "AccessDenied"}, {"eventName": "x"}),
    ("exists false", {"sel": {"errorCode|exists": False}, "condition": "sel"}, {"eventName": "x"}, {"errorCode": "X"}),
    ("null", {"sel": {"a": None}, "condition": "sel"}, {"a": None}, {"a": "v"}),
    ("null matches absent", {"sel": {"a": None}, "condition": "sel"}, {"b": 1}, {"a": 0}),
    ("base64", {"sel": {"x|base64": "whoami"}, "condition": "sel"},
     {"x": base64.b64encode(b"whoami").decode()}, {"x": base64.b64encode(b"whoami").decode().lower()}),
    ("base64offset|contains", {"sel": {"x|base64offset|contains": "/bin/sh"}, "condition": "sel"},
     {"x": "echo " + base64.b64encode(b"xx/bin/sh -i").decode()}, {"x": base64.b64encode(b"/bin/bash").decode()}),
    ("windash", {"sel": {"x|windash|contains": "-enc"}, "condition": "sel"}, {"x": "powershell /enc AAA"}, {"x": "powershell enc"}),
    ("wide (utf16le)", {"sel": {"x|wide|base64offset|contains": "ping"}, "condition": "sel"},
     {"x": base64.b64encode("ping".encode("utf-16-le")).decode()}, {"x": base64.b64encode(b"ping").decode()}),
    ("gt", {"sel": {"n|gt": 10}, "condition": "sel"}, {"n": 11}, {"n": 10}),
    ("gte", {"sel": {"n|gte": 10}, "condition": "sel"}, {"n": "10"}, {"n": 9.5}),
    ("lt", {"sel": {"n|lt": 10}, "condition": "sel"}, {"n": -1}, {"n": "ten"}),
    ("lte", {"sel": {"n|lte": 10}, "condition": "sel"}, {"n": 10}, {"n": 10.01}),
    ("number equality", {"sel": {"port": 22}, "condition": "sel"}, {"port": "22"}, {"port": 2222}),
    ("bool", {"sel": {"flag": False}, "condition": "sel"}, {"flag": False}, {"flag": True}),
    ("bool as text", {"sel": {"flag": True}, "condition": "sel"}, {"flag": "true"}, {"flag": 1}),
    ("neq", {"sel": {"eventName": "A", "region|neq": "us-east-1"}, "condition": "sel"},
     {"eventName": "A", "region": "eu-west-1"}, {"eventName": "A", "region": "us-east-1"}),
    ("fieldref", {"sel": {"target|fieldref": "actor"}, "condition": "sel"}, {"target": "Bob", "actor": "bob"}, {"target": "bob", "actor": "eve"}),
    ("fieldref|startswith", {"sel": {"a|fieldref|startswith": "b"}, "condition": "sel"}, {"a": "abc", "b": "ab"}, {"a": "abc", "b": "bc"}),
    ("fieldref missing field", {"sel": {"a|fieldref": "b"}, "condition": "not sel"}, {"a": "x"}, {"a": "x", "b": "x"}),
    ("keyword", {"keywords": ["mimikatz", "kerberoast"], "condition": "keywords"},
     {"a": {"b": ["x", "run MIMIKATZ now"]}}, {"a": "clean"}),
    ("keyword|all", {"keywords": {"|all": ["useradd", "-o"]}, "condition": "keywords"},
     {"cmd": "useradd -o -u 0 x"}, {"cmd": "useradd x"}),
    ("dotted path", {"sel": {"userIdentity.sessionContext.sessionIssuer.userName": "admin"}, "condition": "sel"},
     {"userIdentity": {"sessionContext": {"sessionIssuer": {"userName": "Admin"}}}}, {"userIdentity": {"userName": "admin"}}),
    ("dotted path through lists", {"sel": {"p.items.cidr": "0.0.0.0/0"}, "condition": "sel"},
     {"p": {"items": [{"cidr": "10.0.0.0/8"}, {"cidr": "0.0.0.0/0"}]}}, {"p": {"items": [{"cidr": "10.0.0.0/8"}]}}),
    ("dotted path into embedded JSON", {"sel": {"rp.policyDocument.Statement.Action": "iam:\\*"}, "condition": "sel"},
     {"rp": {"policyDocument": '{"Statement": [{"Action": "iam:*"}]}'}}, {"rp": {"policyDocument": '{"Statement": []}'}}),
    ("literal dotted key", {"sel": {"a.b": "v"}, "condition": "sel"}, {"a.b": "v"}, {"a": {"c": "v"}}),
    ("list-valued field", {"sel": {"tags": "prod"}, "condition": "sel"}, {"tags": ["dev", "PROD"]}, {"tags": ["dev"]}),
    ("dict matched as JSON text", {"sel": {"rp|contains": '"principal":"\\*"'}, "condition": "sel"},
     {"rp": {"Principal": "*"}}, {"rp": {"Principal": "arn"}}),
    ("and/or/not with parentheses",
     {"a": {"x": "1"}, "b": {"y": "2"}, "c": {"z": "3"}, "condition": "a and (b or c) and not (b and c)"},
     {"x": "1", "z": "3"}, {"x": "1", "y": "2", "z": "3"}),
    ("1 of selection_*", {"selection_a": {"x": "1"}, "selection_b": {"y": "2"}, "filter": {"z": "3"},
                          "condition": "1 of selection_* and not filter"}, {"y": "2"}, {"y": "2", "z": "3"}),
    ("all of selection_*", {"selection_a": {"x": "1"}, "selection_b": {"y": "2"}, "condition": "all of selection_*"},
     {"x": "1", "y": "2"}, {"x": "1"}),
    ("1 of them", {"a": {"x": "1"}, "b": {"y": "2"}, "condition": "1 of them"}, {"y": "2"}, {"z": "2"}),
    ("all of them", {"a": {"x": "1"}, "b": {"y": "2"}, "condition": "all of them"}, {"x": "1", "y": "2"}, {"y": "2"}),
    ("list of maps is OR", {"sel": [{"x": "1"}, {"y": "2"}], "condition": "sel"}, {"y": "2"}, {"x": "2"}),
    ("several conditions are OR", {"a": {"x": "1"}, "b": {"y": "2"}, "condition": ["a", "b"]}, {"y": "2"}, {"x": "2"}),
    ("hour timestamp part", {"sel": {"eventTime|hour": 3}, "condition": "sel"},
     {"eventTime": "2026-01-01T03:15:00Z"}, {"eventTime": "2026-01-01T13:15:00Z"}),
]


@pytest.mark.parametrize(("name", "detection", "positive", "negative"), CASES, ids=[c[0] for c in CASES])
def test_construct(name: str, detection: dict[str, Any], positive: dict[str, Any], negative: dict[str, Any]) -> None:
    rs = one_rule(detection)
    assert hits(rs, positive), f"{name}: positive did not match"
    assert not hits(rs, negative), f"{name}: negative matched"


def test_explanation_names_selection_and_fields() -> None:
    rs = one_rule({"selection": {"eventSource": "s3.amazonaws.com", "eventName": "CreateBucket"},
                   "filter": {"errorCode|exists": True}, "condition": "selection and not filter"}, title="Bucket")
    (m,) = rs.match({"eventSource": "s3.amazonaws.com", "eventName": "CreateBucket"})
    assert m.selections == ["selection"]
    assert "eventName='CreateBucket'" in m.explanation and "Bucket" in m.explanation


def test_rule_info_fields() -> None:
    rs = one_rule({"sel": {"a": "1"}, "condition": "sel"}, level="high", tags=["attack.persistence", "attack.t1098.001"])
    info = rs.rules[0]
    assert info.level == "high" and info.attack_ids == ("T1098.001",)
    assert info.logsource.product == "aws" and info.logsource.service == "cloudtrail"


@pytest.mark.parametrize(("detection", "reason"), [
    ({"sel": {"x|expand": "%admins%"}, "condition": "sel"}, "expand"),
    ({"sel": {"x|re": "(a)\\1"}, "condition": "sel"}, "regular expression"),
    ({"sel": {"x|re": "foo(?=bar)"}, "condition": "sel"}, "regular expression"),
    ({"sel": {"x": "1"}, "condition": "sel and missing"}, "missing"),
])
def test_unsupported_rules_are_reported_with_reason(detection: dict[str, Any], reason: str) -> None:
    rs = load_rules_text(rule_yaml(detection, rule_id="00000000-0000-0000-0000-00000000000a"))
    assert not rs.rules
    ((_src, rid, why),) = rs.unsupported
    assert rid == "00000000-0000-0000-0000-00000000000a" and reason in why.lower()


def test_broken_yaml_and_non_rules_are_reported() -> None:
    rs = load_rules_text("title: [unclosed", source="bad.yml")
    assert rs.unsupported and rs.unsupported[0][0] == "bad.yml" and "YAML" in rs.unsupported[0][2]
    rs = load_rules_text("- 1\n- 2\n", source="list.yml")
    assert "mapping" in rs.unsupported[0][2]
    rs = load_rules_text("title: x\nlogsource: {product: aws}\n", source="nodetect.yml")
    assert rs.unsupported and not rs.rules


def test_duplicate_rule_ids_are_reported() -> None:
    text = rule_yaml({"s": {"a": 1}, "condition": "s"}, rule_id="00000000-0000-0000-0000-0000000000bb")
    rs = load_rules_text(text + "---\n" + text)
    assert len(rs.rules) == 1 and "duplicate" in rs.unsupported[0][2]
