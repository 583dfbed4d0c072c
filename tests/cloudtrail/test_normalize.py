from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import pytest

from cloudwarden.cloudtrail.normalize import (
    VALUE_COLUMNS,
    RecordError,
    credential_kind,
    error_kind,
    normalize,
    normalize_values,
    offensive_tool,
    source_kind,
    ua_family,
)
from cloudwarden.models.api_activity import LAKE_COLUMNS, ApiActivity
from tests.cloudtrail import factory as f


def test_value_tuple_matches_the_model_and_lake_columns() -> None:
    names = tuple(x.name for x in fields(ApiActivity))
    assert names[: len(VALUE_COLUMNS)] == VALUE_COLUMNS
    assert LAKE_COLUMNS[: len(VALUE_COLUMNS)] == VALUE_COLUMNS
    assert len(normalize_values(f.event())) == len(VALUE_COLUMNS)


def test_iam_user() -> None:
    a = normalize(f.event("CreateUser", "iam.amazonaws.com", params={"userName": "bob"}), raw="{}")
    assert a.principal == "arn:aws:iam::111111111111:user/alice"
    assert a.principal_type == "IAMUser" and a.session_name == ""
    assert a.credential_kind == "long-term" and a.access_key_id.startswith("AKIA")
    assert a.time == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert a.account == "111111111111" and not a.cross_account
    assert a.service == "iam.amazonaws.com" and a.api == "CreateUser"
    assert a.read_only is False and a.resources == ["bob"] and a.raw == "{}"
    assert a.source_kind == "ip" and a.source_ip == "203.0.113.10"


def test_iam_user_without_arn_gets_one_built() -> None:
    ident = f.iam_user()
    del ident["arn"]
    assert normalize(f.event(identity=ident)).principal == "arn:aws:iam::111111111111:user/alice"


def test_assumed_role_uses_issuer_and_keeps_session() -> None:
    a = normalize(f.event(identity=f.assumed_role("deploy", "ci-run-7", mfa=True)))
    assert a.principal == "arn:aws:iam::111111111111:role/deploy"
    assert a.principal_type == "AssumedRole" and a.session_name == "ci-run-7"
    assert a.credential_kind == "temporary" and a.mfa is True


def test_root_and_service_and_federated_and_account() -> None:
    root = normalize(f.event(identity=f.root()))
    assert (root.principal, root.principal_type, root.credential_kind) == ("root:111111111111", "Root", "none")
    svc = normalize(f.event(identity=f.service("ec2.amazonaws.com"), ip="ec2.amazonaws.com", agent="ec2.amazonaws.com"))
    assert svc.principal == "service:ec2.amazonaws.com" and svc.principal_type == "AWSService"
    assert svc.source_kind == "aws-service" and svc.ua_family == "aws-internal" and svc.invoked_by == "ec2.amazonaws.com"
    fed = normalize(
        f.event(identity={"type": "FederatedUser", "arn": "arn:aws:sts::111111111111:federated-user/bob", "accountId": f.ACCOUNT})
    )
    assert fed.principal == "arn:aws:sts::111111111111:federated-user/bob" and fed.session_name == "bob"
    acct = normalize(f.event(identity={"type": "AWSAccount", "accountId": f.OTHER_ACCOUNT, "principalId": "AIDAX"}))
    assert acct.principal == f"account:{f.OTHER_ACCOUNT}" and acct.cross_account


def test_missing_identity_is_unknown_not_an_error() -> None:
    rec = f.event()
    del rec["userIdentity"]
    a = normalize(rec)
    assert a.principal == "" and a.principal_type == "Unknown" and a.credential_kind == "none"


def test_cross_account() -> None:
    a = normalize(f.event(identity=f.assumed_role(account=f.OTHER_ACCOUNT)))
    assert a.cross_account and a.principal_account == f.OTHER_ACCOUNT and a.account == f.ACCOUNT
    rec = f.event()
    del rec["recipientAccountId"]
    assert normalize(rec).account == f.ACCOUNT  # falls back to the caller's account


def test_errors_are_kept_and_bucketed() -> None:
    a = normalize(f.event("DeleteTrail", errorCode="AccessDenied", errorMessage="not authorized"))
    assert (a.error_code, a.error_message, a.error_kind) == ("AccessDenied", "not authorized", "access-denied")
    assert error_kind("Client.UnauthorizedOperation") == "access-denied"
    assert error_kind("ThrottlingException") == "throttling"
    assert error_kind("NoSuchEntityException") == "not-found"
    assert error_kind("ExpiredToken") == "auth"
    assert error_kind("SomethingElse") == "other" and error_kind("") == ""


def test_mfa_from_console_login_and_session() -> None:
    login = next(e for e in f.pool() if e["eventName"] == "ConsoleLogin")
    assert normalize(login).mfa is False
    assert normalize(f.event(identity=f.assumed_role(mfa=False))).mfa is False
    assert normalize(f.event()).mfa is None


def test_read_only_inferred_when_absent() -> None:
    rec = f.event("DescribeInstances", "ec2.amazonaws.com")
    del rec["readOnly"]
    assert normalize(rec).read_only is True
    rec = f.event("TerminateInstances", "ec2.amazonaws.com")
    del rec["readOnly"]
    assert normalize(rec).read_only is False
    assert normalize(f.event(readOnly="true")).read_only is True


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        ("aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian", "aws-cli"),
        ("Boto3/1.34.10 md/Botocore#1.34.10 ua/2.0 os/linux#6.1", "sdk-python"),
        ("Botocore/1.31.0 Python/3.10", "sdk-python"),
        ("aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5", "sdk-other"),
        ("aws-sdk-java/1.12.500 Linux/5.10 OpenJDK_64-Bit_Server_VM", "sdk-other"),
        ("console.amazonaws.com", "console"),
        ("signin.amazonaws.com", "console"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "console"),
        ("APN/1.0 HashiCorp/1.0 Terraform/1.7.0 (+https://www.terraform.io)", "terraform"),
        ("cloudformation.amazonaws.com", "cloudformation"),
        ("AWS Internal", "aws-internal"),
        ("lambda.amazonaws.com", "aws-internal"),
        ("aws-cli/1.18.69 Python/3.8.5 Linux/5.7.0-kali1-amd64 botocore/1.17.0", "offensive"),
        ("Boto3/1.9.1 Python/3.7 Linux/4.19.0-parrot-amd64", "offensive"),
        ("Linux/5.4.0-pentoo aws-cli/1.0", "offensive"),
        ("pacu/1.0 Boto3/1.26", "offensive"),
        ("stratus-red-team_2b1c3d", "offensive"),
        ("TruffleHog", "offensive"),
        ("cloudfox/1.12", "offensive"),
        ("curl/8.4.0", "other"),
        ("", ""),
    ],
)
def test_user_agent_families(agent: str, family: str) -> None:
    assert ua_family(agent) == family
    assert normalize(f.event(agent=agent)).ua_family == family


def test_offensive_tool_name() -> None:
    assert offensive_tool("aws-cli/1.18 Linux/5.7.0-kali1-amd64") == "kali"
    assert offensive_tool("aws-cli/2.0") == ""


def test_helpers() -> None:
    assert credential_kind("AKIAX") == "long-term" and credential_kind("ASIAX") == "temporary"
    assert credential_kind("") == "none" and credential_kind("XYZ") == "other"
    assert source_kind("2001:db8::1") == "ip" and source_kind("s3.amazonaws.com") == "aws-service"
    assert source_kind("AWS Internal") == "aws-service" and source_kind("") == ""


def test_resources_from_list_and_parameters() -> None:
    rec = f.event(
        "PutObject",
        params={"bucketName": "b", "key": "k"},
        resources=[{"ARN": "arn:aws:s3:::b/k"}, {"ARN": "arn:aws:s3:::b"}, {"type": "x"}, "junk"],
    )
    assert normalize(rec).resources == ["arn:aws:s3:::b/k", "arn:aws:s3:::b", "b"]


@pytest.mark.parametrize("missing", ["eventID", "eventTime", "eventSource", "eventName"])
def test_missing_required_field_names_the_field(missing: str) -> None:
    rec = f.event()
    del rec[missing]
    with pytest.raises(RecordError) as err:
        normalize(rec)
    assert err.value.field == missing and err.value.reason == "missing"


def test_bad_values_raise_or_coerce() -> None:
    with pytest.raises(RecordError) as err:
        normalize(f.event(eventTime="yesterday"))
    assert err.value.field == "eventTime"
    with pytest.raises(RecordError):
        normalize(f.event(eventName=42))
    with pytest.raises(RecordError):
        normalize(["not", "a", "record"])
    odd = normalize(f.event(awsRegion=123, userAgent={"x": 1}, errorCode=5, recipientAccountId=None))
    assert odd.region == "123" and odd.error_code == "5" and isinstance(odd.user_agent, str)
    long_agent = normalize(f.event(agent="a" * 100_000))
    assert len(long_agent.user_agent) == 4096


def test_hostile_records_never_crash_normalisation_or_the_lake(tmp_path_factory: pytest.TempPathFactory) -> None:
    from datetime import date

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from cloudwarden.cloudtrail.ingest import _table
    from cloudwarden.store.lake import API_SCHEMA

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )
    keys = st.sampled_from([
        "eventID", "eventTime", "eventSource", "eventName", "userIdentity", "recipientAccountId", "awsRegion",
        "userAgent", "errorCode", "errorMessage", "sourceIPAddress", "readOnly", "resources", "requestParameters",
        "additionalEventData", "eventType",
    ])
    identity = st.fixed_dictionaries({}, optional={
        "type": st.sampled_from(["IAMUser", "AssumedRole", "Root", "AWSService", "FederatedUser", "AWSAccount", "X"]) | json_values,
        "arn": st.text(max_size=40) | json_values, "accountId": json_values, "accessKeyId": json_values,
        "invokedBy": json_values, "userName": json_values,
        "sessionContext": st.fixed_dictionaries({}, optional={"sessionIssuer": st.dictionaries(st.just("arn"), json_values),
                                                              "attributes": st.dictionaries(st.just("mfaAuthenticated"), json_values)}),
    })

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(keys, json_values, max_size=10), identity, st.booleans())
    def check(fields: dict[str, object], ident: dict[str, object], complete: bool) -> None:
        record = dict(fields)
        record["userIdentity"] = ident
        if complete:
            record.update(eventID="e", eventTime="2026-01-01T00:00:00Z", eventSource="s3.amazonaws.com", eventName="X")
        try:
            values = normalize_values(record)
        except RecordError:
            assert not complete
            return
        assert len(values) == len(VALUE_COLUMNS)
        table = _table([values], [b"{}"], date(2026, 1, 1))
        assert table.schema == API_SCHEMA and table.num_rows == 1

    check()
