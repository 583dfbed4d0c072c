"""The pure metric filter pattern matcher: CIS-style patterns are recognised whatever their wording."""

from __future__ import annotations

import pytest

from cloudwarden.compliance.metric_filters import SPECS, PatternError, judge, matches, parse

ROOT = '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }'
TRAIL_NAMES = ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging")


def test_root_usage_pattern_accepted_with_any_spacing_and_parentheses() -> None:
    assert judge(ROOT, SPECS["root_usage"]).accepted
    squashed = '{$.userIdentity.type="Root"&&$.userIdentity.invokedBy NOT EXISTS&&$.eventType!="AwsServiceEvent"}'
    assert judge(squashed, SPECS["root_usage"]).accepted
    reordered = '{ ( $.eventType != "AwsServiceEvent" ) && ( ($.userIdentity.invokedBy NOT EXISTS) && ($.userIdentity.type = Root) ) }'
    assert judge(reordered, SPECS["root_usage"]).accepted


def test_event_name_lists_are_order_insensitive_and_may_be_wider() -> None:
    names = list(TRAIL_NAMES)
    forward = "{ " + " || ".join(f"($.eventName = {n})" for n in names) + " }"
    backward = "{ " + " || ".join(f'$.eventName="{n}"' for n in reversed(names)) + " || $.eventName = PutEventSelectors }"
    assert judge(forward, SPECS["cloudtrail_changes"]).accepted
    assert judge(backward, SPECS["cloudtrail_changes"]).accepted


def test_missing_event_name_is_rejected_with_the_name() -> None:
    partial = "{ " + " || ".join(f"($.eventName = {n})" for n in TRAIL_NAMES[:-1]) + " }"
    verdict = judge(partial, SPECS["cloudtrail_changes"])
    assert not verdict.accepted and "StopLogging" in verdict.reason


def test_match_everything_is_rejected_as_too_broad() -> None:
    verdict = judge('{ $.eventName = "*" }', SPECS["security_group_changes"])
    assert not verdict.accepted and "too broad" in verdict.reason
    assert not judge('{ $.eventName = "ConsoleLogin" }', SPECS["sign_in_without_mfa"]).accepted


def test_cis_style_unauthorized_and_mfa_patterns() -> None:
    unauthorized = ('{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") && '
                    '($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }')
    assert judge(unauthorized, SPECS["unauthorized_api_calls"]).accepted
    mfa = '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }'
    assert judge(mfa, SPECS["sign_in_without_mfa"]).accepted
    failures = '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }'
    assert judge(failures, SPECS["console_auth_failures"]).accepted


def test_regex_values_and_event_source_conditions() -> None:
    pattern = '{ ($.eventSource = kms.amazonaws.com) && ($.eventName = %^(DisableKey|ScheduleKeyDeletion)$%) }'
    assert judge(pattern, SPECS["kms_key_disable_or_deletion"]).accepted
    wrong_source = '{ ($.eventSource = ec2.amazonaws.com) && (($.eventName = DisableKey) || ($.eventName = ScheduleKeyDeletion)) }'
    assert not judge(wrong_source, SPECS["kms_key_disable_or_deletion"]).accepted


@pytest.mark.parametrize("text", ["ERROR", "", "{ $.eventName = }", "{ $.a = 1 ", "{ $.a = 1 } extra", '[ip, user] '])
def test_non_json_or_malformed_patterns_are_not_understood(text: str) -> None:
    with pytest.raises(PatternError):
        parse(text)
    assert not judge(text, SPECS["root_usage"]).accepted


def test_operators_and_tests() -> None:
    ev = {"a": {"n": 5, "b": True, "z": None, "list": [{"k": "v"}]}, "s": "hello world"}
    assert matches(parse("{ $.a.n > 4 && $.a.n <= 5 && $.a.n != 6 }"), ev)
    assert matches(parse("{ $.a.b IS TRUE && $.a.z IS NULL && $.missing NOT EXISTS && $.a.n EXISTS }"), ev)
    assert matches(parse('{ $.a.list[0].k = "v" && $.s = "hello*" }'), ev)
    assert not matches(parse('{ $.s = "world*" }'), ev)
    assert matches(parse('{ $.s = %wor% }'), ev)
    assert not matches(parse("{ $.a.n < 5 }"), ev)


def test_every_spec_accepts_a_straightforward_filter() -> None:
    """Each control's positives can be caught by a plain filter listing its event names: the specs are sane."""
    for key, spec in SPECS.items():
        names = sorted({e["eventName"] for e in spec.positives})
        if key in ("unauthorized_api_calls", "sign_in_without_mfa", "root_usage", "console_auth_failures"):
            continue  # covered by the CIS-style patterns above
        pattern = "{ " + " || ".join(f'$.eventName = "{n}"' for n in names) + " }"
        assert judge(pattern, spec).accepted, (key, judge(pattern, spec).reason)


def test_sign_in_without_mfa_filter_does_not_pass_for_authentication_failures() -> None:
    """A filter for MFA-less sign-ins also catches failed logins; it must not satisfy the failures control."""
    mfa = '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }'
    verdict = judge(mfa, SPECS["console_auth_failures"])
    assert not verdict.accepted
