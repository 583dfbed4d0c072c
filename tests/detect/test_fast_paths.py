"""The engine's fast paths give exactly what the reference paths give.

- `RuleSet.plan` / `matching_rules` (plans remembered by the tuple of index-field values, the parts of a rule
  decided by those values evaluated once per tuple) == the index alone (`matching_rules_indexed`) == every
  rule tried (`matching_rules_naive`), over streams of events that repeat values (plans reused) and carry odd
  values (numbers equal across types, lists, nulls, flat dotted keys, non-dict nodes, embedded JSON).
- `Detector.process` (inlined plan lookup, per-event entity/account computed once) == alerts assembled the
  reference way from the naive matches; `Detector.process_single` == `process` minus correlation alerts.
- the unrolled dotted getters and the generated key function == the general walk.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudwarden.detect.engine import (
    Detector,
    RuleSet,
    _account,
    _first,
    default_entity,
    default_event_id,
    load_rules,
    load_rules_text,
)
from cloudwarden.detect.fields import MISSING, _walk, compile_getter
from cloudwarden.models.alert import Alert
from tests.detect.helpers import rule_yaml

EXTRA_RULES = "\n---\n".join([
    # known (index) fields mixed with others, under NOT/OR: exercises the split into decided parts + the rest
    rule_yaml({"sel": {"eventName": ["CreateBucket", "DeleteTrail"], "sourceIPAddress|cidr": "10.0.0.0/8"},
               "f1": {"eventSource": "kms.amazonaws.com"}, "f2": {"errorCode": "AccessDenied"},
               "condition": "sel and not 1 of f*"}),
    rule_yaml({"a": {"eventName": "StopLogging"}, "b": {"eventSource": "kms.amazonaws.com"}, "condition": "a or b"}),
    rule_yaml({"a": {"eventName": "StopLogging"}, "b": {"eventName": "ListBuckets"}, "condition": "not a and not b"}),
    rule_yaml({"a": {"eventName": "GetSecretValue"}, "b": {"userIdentity.type": "Root"},
               "condition": "not (a or not b)"}),
    # a field reference reads a second field: never decided by the index fields alone
    rule_yaml({"sel": {"eventName": "CreateAccessKey", "requestParameters.userName|fieldref": "userIdentity.userName"},
               "condition": "sel"}),
    rule_yaml({"sel": {"eventName|cased": "ConsoleLogin"}, "condition": "sel"}),
    rule_yaml({"k": ["pacu"], "condition": "k"}),  # keyword search: reads every field
    rule_yaml({"sel": {"userAgent|contains": "boto", "userIdentity.sessionContext.sessionIssuer.type": "Role"},
               "condition": "sel"}),
    rule_yaml({"sel": {"userAgent": "trufflehog"}, "condition": "sel"}),  # userAgent becomes an index field
    rule_yaml({"sel": {"eventName": "1", "readOnly": True}, "condition": "sel"}),
    rule_yaml({"sel": {"userIdentity.arn|re": ".+:assumed-role/aws:.+"}, "condition": "sel"}),
    rule_yaml({"sel": {"eventName": "Other", "responseElements": None}, "condition": "sel"}),
])

CORRELATED = "\n---\n".join([
    "title: base read\nname: read\nid: 00000000-0000-4000-8000-0000000000f1\n"
    "logsource: {product: aws, service: cloudtrail}\n"
    "detection: {sel: {eventName: GetSecretValue}, condition: sel}\nlevel: low\n",
    "title: burst\nid: 00000000-0000-4000-8000-0000000000f2\nlevel: high\n"
    "correlation: {type: event_count, rules: [read], group-by: [userIdentity.arn], timespan: 10m,"
    " condition: {gte: 2}, generate: true}\n",
    "title: few reads\nid: 00000000-0000-4000-8000-0000000000f3\nlevel: medium\n"
    "correlation: {type: event_count, rules: [read], timespan: 5m, condition: {lt: 2}}\n",
])

RULESETS: list[RuleSet] = [
    load_rules([], include_builtin="cloudtrail"),
    load_rules_text(EXTRA_RULES, include_builtin="cloudtrail"),
    load_rules_text(EXTRA_RULES, include_builtin=True),  # with the Linux built-ins: basename and presence keys
    load_rules([Path(__file__).parent / "rules"]),
    load_rules_text(CORRELATED, include_builtin="cloudtrail"),
]

NAMES = ["CreateBucket", "createbucket", "PutBucketPolicy", "StopLogging", "DeleteTrail", "ConsoleLogin",
         "CreateAccessKey", "AuthorizeSecurityGroupIngress", "GetSecretValue", "ListBuckets", "DisableKey", "Other",
         "AssumeRole", "1"]
SOURCES = ["s3.amazonaws.com", "cloudtrail.amazonaws.com", "iam.amazonaws.com", "ec2.amazonaws.com",
           "signin.amazonaws.com", "kms.amazonaws.com", "secretsmanager.amazonaws.com", "sts.amazonaws.com"]
AGENTS = ["aws-cli/2.15.0", "Boto3/1.34", "Pacu/1.0", "trufflehog", "console.amazonaws.com", "x" * 300]
ODD = st.sampled_from([1, 1.0, True, False, 0, None, [], ["CreateBucket", "StopLogging"], {"a": 1}])

identity = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["IAMUser", "Root", "AssumedRole", "AWSService"]),
         "userName": st.sampled_from(["alice", "bob"])},
        optional={
            "arn": st.sampled_from(["arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc", "arn:aws:iam::1:user/alice"]),
            "accountId": st.sampled_from(["111122223333", ""]),
            "invokedBy": st.just("ec2.amazonaws.com"),
            "sessionContext": st.one_of(
                st.fixed_dictionaries({"sessionIssuer": st.fixed_dictionaries(
                    {"type": st.sampled_from(["Role", "IAMUser"]), "arn": st.sampled_from(["arn:aws:iam::1:role/r", ""])})}),
                st.just("not a dict"), st.just([{"sessionIssuer": {"type": "Role"}}])),
        }),
    st.just([{"type": "Root"}, {"type": "IAMUser"}]),  # a list: fans out
    st.just('{"type": "Root"}'),  # embedded JSON text
    ODD,
)

events = st.fixed_dictionaries(
    {},
    optional={
        "eventName": st.one_of(st.sampled_from(NAMES), ODD),
        "eventSource": st.one_of(st.sampled_from(SOURCES), ODD),
        "userIdentity": identity,
        "userIdentity.type": st.sampled_from(["Root", "IAMUser"]),  # a flat dotted key wins over the nested one
        "userAgent": st.one_of(st.sampled_from(AGENTS), ODD),
        "sourceIPAddress": st.sampled_from(["10.1.2.3", "203.0.113.9", "AWS Internal", "ec2.amazonaws.com"]),
        "errorCode": st.one_of(st.none(), st.just("AccessDenied")),
        "readOnly": st.one_of(st.booleans(), st.just("true"), st.just(1)),
        "responseElements": st.one_of(st.none(), st.just({"ConsoleLogin": "Success"})),
        "requestParameters": st.fixed_dictionaries({"userName": st.sampled_from(["alice", "bob"])}),
        "additionalEventData": st.fixed_dictionaries({"MFAUsed": st.sampled_from(["No", "Yes"])}),
        "recipientAccountId": st.sampled_from(["111122223333", "444455556666"]),
        "awsRegion": st.sampled_from(["us-east-1", "eu-west-1"]),
        "eventID": st.sampled_from(["e1", "e2", "e3"]),
        "Image": st.sampled_from(["/usr/bin/curl", "/bin/bash", "/tmp/xmrig"]),
        "CommandLine": st.sampled_from(["curl http://x | sh", "ls"]),
        "hostname": st.just("web-1"),
    },
)


def _ids(rules: list[Any]) -> list[str]:
    return [c.info.id for c in rules]


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=1, max_size=12))
def test_plans_equal_the_index_and_brute_force(stream: list[dict[str, Any]]) -> None:
    for rs in RULESETS:
        for event in [*stream, *stream]:  # the second pass meets remembered plans
            naive = _ids(rs.matching_rules_naive(event))
            assert _ids(rs.matching_rules_indexed(event)) == naive
            assert _ids(rs.matching_rules(event)) == naive, event


def test_numbers_equal_across_types_never_share_a_plan() -> None:
    rs = RULESETS[1]
    for name in ("1", 1, True, 1.0, "1", True):  # 1 == True == 1.0 in a dict key, not as Sigma text
        event = {"eventName": name, "readOnly": True}
        assert _ids(rs.matching_rules(event)) == _ids(rs.matching_rules_naive(event)), name
    assert any(c.info.title == "test rule" for c in rs.matching_rules({"eventName": "1", "readOnly": True}))


def _reference_alerts(rs: RuleSet, event: dict[str, Any], when: datetime) -> list[Alert]:
    """What Detector.process(explain=False) returned before its fast paths, for single-event rules."""
    out = []
    for c in rs.matching_rules_naive(event):
        if c.silent:
            continue
        out.append(Alert(rule_id=c.info.id, title=c.info.title, severity=c.info.level, source="cloudtrail",
                         explanation="", first_seen=when, last_seen=when, entity=default_entity(event),
                         account=_account(event), region=_first(event, "awsRegion", "region"),
                         host=_first(event, "host_id", "hostname", "Hostname"), attack_ids=list(c.info.attack_ids),
                         evidence=[event], evidence_ids=[default_event_id(event)]))
    return out


T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(st.lists(events, min_size=1, max_size=10))
def test_detector_alerts_equal_the_reference(stream: list[dict[str, Any]]) -> None:
    for rs in RULESETS[:2]:
        det = Detector(rs, source="cloudtrail", explain=False)
        for i, event in enumerate([*stream, *stream]):
            when = T0 + timedelta(seconds=i)
            got = det.process(event, when)
            assert got == _reference_alerts(rs, event, when)
            assert all(a.evidence[0] is event for a in got)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, min_size=1, max_size=10), st.booleans())
def test_process_single_is_process_without_correlations(stream: list[dict[str, Any]], explain: bool) -> None:
    rs = RULESETS[4]
    corr_ids = {info.id for info, _spec in rs.correlations}
    full = Detector(rs, source="cloudtrail", explain=explain)
    single = Detector(rs, source="cloudtrail", explain=explain)
    for i, event in enumerate([*stream, *stream]):
        event = {**event, "eventName": "GetSecretValue"} if i % 3 == 0 else event
        when = T0 + timedelta(minutes=i)
        want = [a for a in full.process(event, when) if a.rule_id not in corr_ids]
        got, feeds = single.process_single(event, when)
        assert got == want
        assert feeds == any(c.correlations for c in rs.matching_rules_naive(event))
    assert single.stats["groups"] == 0  # the windows stay the parent's business


def _get_reference(event: Any, field: str) -> Any:
    """fields.compile_getter before its unrolled paths."""
    if "." not in field:
        return event.get(field, MISSING)
    value = event.get(field, MISSING)
    if value is not MISSING:
        return value
    node: Any = event
    parts = field.split(".")
    for part in parts:
        if node.__class__ is not dict:
            return _walk(event, parts)
        node = node.get(part, MISSING)
        if node is MISSING:
            return MISSING
    return node


FIELDS = ["userIdentity.type", "userIdentity.sessionContext.sessionIssuer.type", "userIdentity.sessionContext.x",
          "requestParameters.userName", "a.b", "eventName"]


@settings(max_examples=300, deadline=None)
@given(events)
def test_unrolled_getters_and_key_function_equal_the_general_walk(event: dict[str, Any]) -> None:
    for field in FIELDS:
        assert compile_getter(field)(event) == _get_reference(event, field), field
    nested = {"a": {"b": [1, 2]}, "a.b": None, "userIdentity": '{"type": "Root"}'}
    for field in ("a.b", "userIdentity.type"):
        assert compile_getter(field)(nested) == _get_reference(nested, field)
    for rs in RULESETS:
        assert rs._plan_key(event) == rs._key_reference(event)
        for (fld, get, _classify, _memo), part in zip(rs._key_parts, rs._key_reference(event), strict=False):
            value = _get_reference(event, fld)
            assert get(event) == value
            assert part == value or (value.__class__ is str and part.__class__.__name__ == "_Hit")


@settings(max_examples=100, deadline=None)
@given(st.lists(events, min_size=1, max_size=12), st.booleans())
def test_process_many_equals_process_per_event(stream: list[dict[str, Any]], explain: bool) -> None:
    for rs in (RULESETS[1], RULESETS[4]):  # RULESETS[4]: a "fewer than" window closes on event time
        one = Detector(rs, source="cloudtrail", explain=explain)
        many = Detector(rs, source="cloudtrail", explain=explain)
        batch = [{**e, "eventName": "GetSecretValue"} if i % 3 == 0 else e for i, e in enumerate([*stream, *stream])]
        times = [T0 + timedelta(minutes=4 * i) for i in range(len(batch))]
        want = [a for e, t in zip(batch, times, strict=True) for a in one.process(e, t)]
        assert many.process_many(batch, times) == want
        assert many.flush(times[-1] + timedelta(hours=1)) == one.flush(times[-1] + timedelta(hours=1))


def test_process_many_reports_a_failing_event_and_goes_on() -> None:
    rs = RULESETS[0]
    det = Detector(rs, source="cloudtrail", explain=False)

    def broken_id(event: Any) -> str:
        if event.get("eventID") == "bad":
            raise ValueError("no id")
        return str(event.get("eventID"))

    det.event_id_fn = broken_id
    stop = {"eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com", "userIdentity": {"type": "IAMUser"}}
    batch = [{**stop, "eventID": "a"}, {**stop, "eventID": "bad"}, {**stop, "eventID": "c"}]
    errors: list[tuple[int, str]] = []
    alerts = det.process_many(batch, [T0] * 3, on_error=lambda i, exc: errors.append((i, str(exc))))
    assert errors == [(1, "no id")]
    assert {a.evidence_ids[0] for a in alerts} == {"a", "c"} and alerts
    try:
        det.process_many(batch, [T0] * 3)
    except ValueError:
        pass
    else:
        raise AssertionError("without on_error the exception propagates")


def test_unique_free_text_values_keep_the_plans_few() -> None:
    rs = load_rules_text(EXTRA_RULES, include_builtin="cloudtrail")
    for i in range(3000):
        rs.matching_rules({"eventName": "GetObject", "userAgent": f"Boto3/1.{i}", "userIdentity": {"type": "IAMUser"}})
    assert len(rs._plans) <= 2  # the user agent enters the key as "no index entry hit", not as its text
