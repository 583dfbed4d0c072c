"""Each cloud detector on hand-built records: one positive and one negative case at least."""

from __future__ import annotations

from datetime import timedelta

import orjson

from cloudwarden.baseline.cloud import CloudBaseline, principal_label
from cloudwarden.baseline.scoring import Signal
from tests.baseline.build import GEO, act, baseline, day, learn_devs, role, user

DEV_APIS = [("ec2.amazonaws.com", "DescribeInstances"), ("logs.amazonaws.com", "FilterLogEvents"),
            ("s3.amazonaws.com", "ListBuckets"), ("lambda.amazonaws.com", "GetFunction"),
            ("sts.amazonaws.com", "GetCallerIdentity")]
DEVS = [f"dev{i}" for i in range(6)]


def detectors(b: CloudBaseline) -> dict[str, list[Signal]]:
    out: dict[str, list[Signal]] = {}
    for _, inc in b.flush():
        for s in inc.signals:
            out.setdefault(s.detector, []).append(s)
    return out


def learned(min_score: float = 0.3, **cfg: float) -> CloudBaseline:
    b = baseline(min_score=min_score, **cfg)
    learn_devs(b, DEVS, DEV_APIS, extra={d: [("lambda.amazonaws.com", "UpdateFunctionCode")] for d in DEVS[:4]})
    b.flush()
    return b


def test_principal_label() -> None:
    assert principal_label(role("deploy-ci")) == "role deploy-ci"
    assert principal_label(user("alice")) == "user alice"
    assert principal_label("root:1234") == "root of account 1234"


def test_sensitive_first_call_alerts_after_learning_only() -> None:
    early = baseline()
    early.process(act(user("dev5"), "DescribeInstances", day(0, 9)))
    early.process(act(user("dev5"), "ScheduleKeyDeletion", day(1, 11), "kms.amazonaws.com"))  # during learning
    assert early.learning and early.flush() == []
    b = learned()
    b.process(act(user("dev4"), "PutKeyPolicy", day(5, 11), "kms.amazonaws.com"))
    alerts = b.flush()
    assert len(alerts) == 1
    alert, _ = alerts[0]
    assert alert.source == "baseline-cloud" and alert.entity == user("dev4")
    assert "user dev4 called kms:PutKeyPolicy for the first time; none of its 5 peers ever has" in alert.explanation
    assert alert.anomaly is not None and alert.anomaly["analysis_targets"][0]["name"] == user("dev4")
    assert alert.severity in ("medium", "high")


def test_describe_novelty_is_learned_silently() -> None:
    b = learned()
    b.process(act(user("dev4"), "DescribeImages", day(5, 11)))
    assert b.flush() == []
    assert "api|ec2:DescribeImages" in b.profiles[user("dev4")].items


def test_peer_group_suppresses_what_peers_do() -> None:
    b = learned()
    assert len({b.groups[user(d)] for d in DEVS}) == 1  # one peer group of six
    b.process(act(user("dev5"), "UpdateFunctionCode", day(5, 11), "lambda.amazonaws.com"))  # 4 of 5 peers do it
    assert b.flush() == []
    b.process(act(user("dev5"), "CreateAccessKey", day(5, 12), "iam.amazonaws.com"))  # none do
    alerts = b.flush()
    assert len(alerts) == 1 and "none of its 5 peers" in alerts[0][0].explanation


def test_new_asn_and_country_with_sensitive_call_raise_severity() -> None:
    b = learned()
    b.process(act(user("dev4"), "DescribeInstances", day(5, 3), ip="5.188.10.9"))
    b.process(act(user("dev4"), "GetSecretValue", day(5, 3.01), "secretsmanager.amazonaws.com", ip="5.188.10.9"))
    alerts = b.flush()
    assert len(alerts) == 1
    alert, inc = alerts[0]
    fams = {s.family for s in inc.signals}
    assert {"source", "api"} <= fams
    assert "RU" in alert.explanation and alert.severity in ("high", "critical")
    # negative: the usual network
    b.process(act(user("dev4"), "DescribeInstances", day(6, 10)))
    assert b.flush() == []


def test_instance_credentials_used_elsewhere() -> None:
    b = baseline()
    inst = role("web-instance-role")
    for d in range(4):
        b.process(act(inst, "GetObject", day(d), "s3.amazonaws.com", ip="54.86.31.11", ptype="AssumedRole",
                      key=f"ASIAKEY{d}", session="i-0123456789abcdef0"))
    b.flush()
    k = "ASIAKEY9"
    b.process(act(inst, "GetObject", day(5), "s3.amazonaws.com", ip="54.86.31.11", ptype="AssumedRole", key=k,
                  session="i-0123456789abcdef0"))
    b.process(act(inst, "GetObject", day(5, 10.1), "s3.amazonaws.com", ip="54.86.31.11", ptype="AssumedRole", key=k,
                  session="i-0123456789abcdef0"))
    assert "credential:instance-key-new-ip" not in detectors(b)  # same address: fine
    b.process(act(inst, "ListBuckets", day(5, 11), "s3.amazonaws.com", ip="185.220.101.5", ptype="AssumedRole", key=k,
                  session="i-0123456789abcdef0"))
    found = detectors(b)
    assert "credential:instance-key-new-ip" in found
    assert "outside AWS" in found["credential:instance-key-new-ip"][0].text
    # a private address (VPC endpoint) is not a new place
    b.process(act(inst, "GetObject", day(5, 12), "s3.amazonaws.com", ip="10.0.1.7", ptype="AssumedRole", key=k,
                  session="i-0123456789abcdef0"))
    assert "credential:instance-key-new-ip" not in detectors(b)


def test_role_assumed_by_someone_new() -> None:
    b = baseline(min_score=0.0)
    target = role("prod-admin")
    for d in range(4):
        b.process(act(user("grace"), "AssumeRole", day(d), "sts.amazonaws.com", resources=[target]))
    b.flush()
    b.process(act(user("grace"), "AssumeRole", day(5), "sts.amazonaws.com", resources=[target]))
    assert "first-seen:principal-assumed_by" not in detectors(b)
    b.process(act(user("mallory"), "AssumeRole", day(5, 11), "sts.amazonaws.com", resources=[target]))
    found = detectors(b)
    assert any("was assumed by" in s.text for s in found["first-seen:principal-assumed_by"])


def test_new_error_kind() -> None:
    b = learned(min_score=0.0)
    b.process(act(user("dev4"), "DescribeInstances", day(5), error="AccessDenied"))
    assert "first-seen:principal-err" in detectors(b)
    b.process(act(user("dev4"), "DescribeInstances", day(5, 11), error="AccessDenied"))
    assert "first-seen:principal-err" not in detectors(b)


def test_new_region_for_account_and_principal() -> None:
    b = learned()
    b.process(act(user("dev4"), "RunInstances", day(5, 22), region="ap-southeast-1", read_only=False))
    found = detectors(b)
    assert "first-seen:estate-region" in found and "first-seen:principal-region" in found


def test_rarity_of_sensitive_api_by_active_days() -> None:
    b = baseline(min_score=0.0, learning_days=3.0)
    admin = user("admin")
    for d in range(12):
        b.process(act(admin, "ListUsers", day(d), "iam.amazonaws.com"))
    b.process(act(admin, "PutBucketPolicy", day(1), "s3.amazonaws.com", read_only=False))
    b.flush()
    b.process(act(admin, "PutBucketPolicy", day(12, 11), "s3.amazonaws.com", read_only=False))
    found = detectors(b)
    assert "rarity:principal-api" in found
    assert "only 1 of its 13 active days" in found["rarity:principal-api"][0].text
    b.process(act(admin, "PutBucketPolicy", day(12, 12), "s3.amazonaws.com", read_only=False))  # same day again
    assert "rarity:principal-api" not in detectors(b)


def test_call_rate_against_own_history() -> None:
    b = baseline(min_score=0.0, learning_days=2.0)
    svc = role("orders-fn")
    for h in range(60):
        for i in range(10):
            b.process(act(svc, "GetItem", day(0, 0) + timedelta(hours=h, minutes=i), "dynamodb.amazonaws.com",
                          ptype="AssumedRole"))
    b.flush()
    for i in range(12):  # a normal hour
        b.process(act(svc, "GetItem", day(3, 1) + timedelta(minutes=i), "dynamodb.amazonaws.com", ptype="AssumedRole"))
    assert "rate:principal-calls" not in detectors(b)
    for i in range(300):
        b.process(act(svc, "GetItem", day(3, 5) + timedelta(seconds=i), "dynamodb.amazonaws.com", ptype="AssumedRole"))
    assert "rate:principal-calls" in detectors(b)


def test_access_denied_burst_is_recon() -> None:
    b = learned(min_score=0.0)
    apis = ["ListSecrets", "ListKeys", "ListTrails", "ListDetectors", "ListUsers", "GetAccountSummary"]
    for i, api in enumerate(apis[:3]):
        b.process(act(user("dev4"), api, day(5, 2) + timedelta(seconds=i), error="AccessDenied", key="AKIA1"))
    assert "session:recon" not in detectors(b)
    for i, api in enumerate(apis):
        b.process(act(user("dev3"), api, day(5, 3) + timedelta(seconds=i), error="AccessDenied", key="AKIA2"))
    assert "session:recon" in detectors(b)


def test_enumeration_then_sensitive_write() -> None:
    b = learned(min_score=0.0)
    b.process(act(user("dev4"), "PutBucketPolicy", day(5, 2), "s3.amazonaws.com", key="AKIA4", read_only=False))
    assert "session:seq" not in detectors(b)  # a write alone is not the sequence
    for i in range(14):
        b.process(act(user("dev3"), f"DescribeThing{i}", day(5, 3) + timedelta(seconds=i), key="AKIA3"))
    b.process(act(user("dev3"), "PutBucketPolicy", day(5, 3) + timedelta(seconds=30), "s3.amazonaws.com",
                  key="AKIA3", read_only=False))
    assert "session:seq" in detectors(b)


def test_console_logins_concurrent_and_impossible_travel() -> None:
    b = learned()
    login = dict(service="signin.amazonaws.com", event_type="AwsConsoleSignIn", read_only=False)
    b.process(act(user("dev4"), "ConsoleLogin", day(5, 9), ip="73.162.1.1", **login))  # type: ignore[arg-type]
    b.process(act(user("dev4"), "ConsoleLogin", day(5, 9.3), ip="73.162.1.2", **login))  # type: ignore[arg-type]
    assert "geo:concurrent-logins" not in detectors(b)  # same country
    b.process(act(user("dev4"), "ConsoleLogin", day(5, 9.5), ip="5.188.10.1", **login))  # type: ignore[arg-type]
    assert "geo:concurrent-logins" in detectors(b)
    b.process(act(user("dev3"), "ConsoleLogin", day(6, 9), ip="73.162.1.1", **login))  # type: ignore[arg-type]
    b.process(act(user("dev3"), "ConsoleLogin", day(6, 12), ip="86.153.4.4", **login))  # type: ignore[arg-type]
    found = detectors(b)
    assert "geo:impossible-travel" in found and "km/h" in found["geo:impossible-travel"][0].text


def test_aws_service_principals_are_not_profiled() -> None:
    b = learned()
    b.process(act("service:ec2.amazonaws.com", "AssumeRole", day(5), "sts.amazonaws.com", ptype="AWSService",
                  ip="ec2.amazonaws.com"))
    assert b.flush() == []


def test_memory_caps() -> None:
    b = baseline(max_items_per_entity=50, max_entities=10, max_sessions=5, max_keys=3)
    for i in range(200):
        b.process(act(user("busy"), f"DescribeThing{i}", day(0) + timedelta(seconds=i), key=f"AKIA{i % 7}"))
    for i in range(30):
        b.process(act(user(f"u{i}"), "DescribeInstances", day(0, 11) + timedelta(seconds=i), key=f"K{i}"))
    for i in range(10):
        b.process(act(role("r"), "GetObject", day(0, 12), "s3.amazonaws.com", ptype="AssumedRole", key=f"ASIA{i}",
                      session="i-0123456789abcdef0", ip="54.86.1.1"))
    assert len(b.profiles) <= 10
    assert all(len(p.items) <= 50 for p in b.profiles.values())
    assert len(b.sessions) <= 5 and len(b.keys) <= 3


def test_state_round_trip_keeps_behaviour() -> None:
    b = learned()
    b.process(act(user("dev4"), "DescribeImages", day(5, 9)))
    b.flush()
    blob = orjson.dumps(b.to_state(), option=orjson.OPT_NON_STR_KEYS)
    c = CloudBaseline.from_state(orjson.loads(blob), GEO)
    sessions_are_ephemeral = {"sessions"}
    assert {k: v for k, v in c.status().items() if k not in sessions_are_ephemeral} == {
        k: v for k, v in b.status().items() if k not in sessions_are_ephemeral}
    for x in (b, c):
        x.process(act(user("dev4"), "PutKeyPolicy", day(5, 11), "kms.amazonaws.com"))
        x.process(act(user("dev4"), "DescribeImages", day(5, 11.1)))
    ab, ac = b.flush(), c.flush()
    assert [a.explanation for a, _ in ab] == [a.explanation for a, _ in ac] and len(ab) == 1
