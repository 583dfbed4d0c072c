"""Regressions found by running the built-ins on public labeled CloudTrail (OTRF's EC2-proxy S3-exfiltration
recording, Panther's rule tests), rebuilt here from hand-written events so they run without that data."""

from __future__ import annotations

from pathlib import Path

from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.engine import load_rules
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail.factory import assumed_role, event, iam_user, write_records

RULES = load_rules([], include_builtin="cloudtrail")
ATTACKER_IP = "192.0.2.200"


def _instance_session() -> dict[str, object]:
    ident = assumed_role(role="waf-proxy-role", session="i-0a1b2c3d4e5f60718")
    ident["sessionContext"]["ec2RoleDelivery"] = "1.0"  # type: ignore[index]
    return ident


def test_stolen_instance_credentials_enumerating_s3_from_outside_raise_a_high_bucket_alert(tmp_path: Path) -> None:
    # Shape of the OTRF recording: console browsing by an admin, then the instance role's keys (pulled through a
    # misconfigured proxy) used from the intruder's own address to list buckets, list objects and download.
    admin = iam_user("opsadmin")
    quiet = [event("DescribeInstances", "ec2.amazonaws.com", event_id=f"bg-{i}", identity=admin, agent="console.ec2.amazonaws.com",
                   time=f"2026-11-20T08:3{i}:00Z") for i in range(5)]
    stolen = _instance_session()
    attack = [
        event("ListBuckets", event_id="atk-1", identity=stolen, ip=ATTACKER_IP, time="2026-11-20T08:41:00Z"),
        event("ListObjects", event_id="atk-2", identity=stolen, ip=ATTACKER_IP, time="2026-11-20T08:41:30Z",
              params={"bucketName": "bank-customer-data"}),
        event("GetObject", event_id="atk-3", identity=stolen, ip=ATTACKER_IP, time="2026-11-20T08:42:00Z",
              params={"bucketName": "bank-customer-data", "key": "accounts.csv"}, managementEvent=False),
    ]
    write_records(tmp_path / "logs" / "rec.json.gz", quiet + attack)
    state = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    summary = ingest(str(tmp_path / "logs"), Lake(tmp_path / "lake"), state, IngestOptions())
    assert summary.events == 8 and summary.records_set_aside == 0
    alerts = AlertStore(state).list(limit=100)
    high = [a for a in alerts if a.severity == "high"]
    assert [a.title for a in high] == ["EC2 instance credentials listed S3 buckets from an address outside AWS"]
    stored = AlertStore(state).get(high[0].id)
    assert stored is not None and "atk-1" in stored.evidence_ids
    # the broad low rule still reports every call of the session from outside AWS
    assert any(a.title.startswith("EC2 instance credentials used from an address outside AWS") for a in alerts)


def test_instance_session_listing_buckets_from_inside_aws_stays_quiet() -> None:
    for ip in ("10.0.4.7", "s3.amazonaws.com", "AWS Internal"):
        ev = event("ListBuckets", identity=_instance_session(), ip=ip)
        assert not [m for m in RULES.match(ev) if "instance credentials" in m.rule.title.lower()], ip


def _console_login(extra: dict[str, str]) -> dict[str, object]:
    return event("ConsoleLogin", "signin.amazonaws.com", identity=iam_user("carla"), agent="Mozilla/5.0",
                 eventType="AwsConsoleSignIn", responseElements={"ConsoleLogin": "Success"},
                 additionalEventData={"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com", **extra})


def test_saml_console_login_leaves_mfa_to_the_identity_provider() -> None:
    titles = lambda ev: [m.rule.title for m in RULES.match(ev)]  # noqa: E731
    assert "Console login without MFA" in titles(_console_login({}))
    assert "Console login without MFA" not in titles(_console_login({"SamlProviderArn": "arn:aws:iam::111111111111:saml-provider/corp"}))


def test_removing_an_iam_policy_is_an_access_change() -> None:
    for name in ("DeleteGroupPolicy", "DeleteUserPolicy", "DetachRolePolicy", "RemoveUserFromGroup"):
        ev = event(name, "iam.amazonaws.com", params={"groupName": "contractors", "policyName": "deny-prod"})
        assert "IAM role, policy or group membership changed" in [m.rule.title for m in RULES.match(ev)], name
        failed = {**ev, "errorCode": "AccessDenied"}
        assert "IAM role, policy or group membership changed" not in [m.rule.title for m in RULES.match(failed)], name
