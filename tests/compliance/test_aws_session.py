"""aws/: credentials checked up front, every client on the endpoint with adaptive retries, region
discovery, Organizations accounts and assumed roles, operation -> IAM action mapping."""

from __future__ import annotations

import boto3
import pytest

from cloudwarden.aws.actions import iam_action, undeclared_calls
from cloudwarden.aws.organizations import OrgAccount, assume_into, list_accounts, role_arn
from cloudwarden.aws.regions import discover_regions, pick_regions
from cloudwarden.aws.session import AwsSession
from cloudwarden.compliance.collectors.base import RequestCounter, failure_from_exception
from cloudwarden.errors import CredentialsError
from tests.helpers.fault_proxy import Fault, FaultProxy
from tests.helpers.moto_server import MotoServer


def test_missing_credentials_clear_error(monkeypatch: pytest.MonkeyPatch, moto: MotoServer) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CredentialsError, match="no AWS credentials found"):
        AwsSession(endpoint_url=moto.url).caller_identity()


@pytest.mark.parametrize(("code", "word"), [("ExpiredToken", "expired"), ("InvalidClientTokenId", "invalid"),
                                            ("SignatureDoesNotMatch", "invalid")])
def test_bad_credentials_clear_error(moto: MotoServer, code: str, word: str) -> None:
    with FaultProxy(moto.url, [Fault("GetCallerIdentity", code, 403)]) as proxy:
        with pytest.raises(CredentialsError, match=f"AWS credentials are {word}") as info:
            AwsSession(endpoint_url=proxy.url).caller_identity()
    assert "sts:GetCallerIdentity" in str(info.value)


def test_unknown_profile() -> None:
    with pytest.raises(CredentialsError, match="profile 'nope' not found"):
        AwsSession(profile="nope")


def test_every_client_uses_endpoint_and_retry_config(moto: MotoServer) -> None:
    session = AwsSession(endpoint_url=moto.url, max_workers=40)
    for service in ("iam", "s3", "ec2", "sts", "organizations", "accessanalyzer", "securityhub", "logs"):
        client = session.client(service, "eu-west-1")
        assert client.meta.endpoint_url == moto.url
        cfg = client.meta.config
        assert cfg.retries["mode"] == "adaptive" and cfg.retries["total_max_attempts"] == 11  # 10 retries
        assert cfg.max_pool_connections == 40
        assert cfg.connect_timeout and cfg.read_timeout
    assert session.client("iam", "eu-west-1") is session.client("iam", "eu-west-1")  # cached
    ident = session.caller_identity()
    assert ident.account_id == "123456789012"


def test_throttling_is_retried_then_succeeds(moto: MotoServer) -> None:
    counter = RequestCounter()
    with FaultProxy(moto.url, [Fault("GetAccountSummary", "Throttling", 400, times=1)]) as proxy:
        summary = AwsSession(endpoint_url=proxy.url, counter=counter).client("iam").get_account_summary()
    assert "SummaryMap" in summary
    assert counter.calls == {"iam:GetAccountSummary": 1}  # one API call, retried underneath


def test_failure_classification(moto: MotoServer) -> None:
    with FaultProxy(moto.url, [Fault("ListUsers", "AccessDenied", 403), Fault("DescribeVpcs", "UnauthorizedOperation", 403),
                               Fault("DescribeSubnets", "OptInRequired", 401)]) as proxy:
        s = AwsSession(endpoint_url=proxy.url)
        for service, call, region, code in (("iam", "list_users", "global", "AccessDenied"),
                                            ("ec2", "describe_vpcs", "eu-west-1", "AccessDenied"),
                                            ("ec2", "describe_subnets", "ap-east-1", "RegionDisabled")):
            with pytest.raises(Exception) as info:
                getattr(s.client(service, "us-east-1"), call)()
            assert failure_from_exception(service, region, call, info.value).code == code


def test_pick_regions() -> None:
    described = [{"RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
                 {"RegionName": "ap-east-1", "OptInStatus": "not-opted-in"},
                 {"RegionName": "me-south-1", "OptInStatus": "opted-in"}]
    assert pick_regions(described).enabled == ["me-south-1", "us-east-1"]
    chosen = pick_regions(described, ["us-east-1", "ap-east-1", "xx-nowhere-1", "us-east-1"])
    assert chosen.enabled == ["us-east-1"]
    assert chosen.disabled_requested == ["ap-east-1", "xx-nowhere-1"]


def test_discover_regions_through_moto(moto: MotoServer) -> None:
    ec2 = AwsSession(endpoint_url=moto.url).client("ec2")
    everything = discover_regions(ec2)
    assert "us-east-1" in everything.enabled and "ap-east-1" not in everything.enabled  # opt-in region
    narrowed = discover_regions(ec2, ["eu-west-1", "ap-east-1"])
    assert narrowed.enabled == ["eu-west-1"] and narrowed.disabled_requested == ["ap-east-1"]


def test_organization_accounts_and_assume_role(moto: MotoServer) -> None:
    org = boto3.client("organizations", endpoint_url=moto.url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    a = org.create_account(AccountName="prod", Email="p@example.com")["CreateAccountStatus"]["AccountId"]
    b = org.create_account(AccountName="dev", Email="d@example.com")["CreateAccountStatus"]["AccountId"]
    with FaultProxy(moto.url, [Fault("AssumeRole", "AccessDenied", 403, body_contains=f"{b}:role")]) as proxy:
        root = AwsSession(endpoint_url=proxy.url)
        accounts = {x.account_id: x for x in list_accounts(root)}
        assert {a, b, "123456789012"} <= set(accounts)
        ok = assume_into(root, accounts[a], "OrganizationAccountAccessRole", own_account="123456789012")
        assert ok.session is not None and not ok.error
        assert ok.session.caller_identity().account_id == a
        assert ok.session.endpoint_url == proxy.url
        denied = assume_into(root, accounts[b], "OrganizationAccountAccessRole", own_account="123456789012")
        assert denied.session is None and "AccessDenied" in denied.error
        own = assume_into(root, accounts["123456789012"], "OrganizationAccountAccessRole", own_account="123456789012")
        assert own.session is root
    suspended = assume_into(root, OrgAccount("111111111111", "old", "SUSPENDED"), "R")
    assert suspended.session is None and "SUSPENDED" in suspended.error
    assert role_arn("1", "arn:aws:iam::{account_id}:role/x") == "arn:aws:iam::1:role/x"


def test_iam_action_mapping() -> None:
    assert iam_action("iam", "GetAccountAuthorizationDetails") == "iam:GetAccountAuthorizationDetails"
    assert iam_action("s3", "ListBuckets") == "s3:ListAllMyBuckets"
    assert iam_action("s3control", "GetPublicAccessBlock") == "s3:GetAccountPublicAccessBlock"
    assert iam_action("cloudwatch", "DescribeAlarms") == "cloudwatch:DescribeAlarms"
    assert iam_action("accessanalyzer", "ListAnalyzers") == "access-analyzer:ListAnalyzers"
    assert iam_action("elbv2", "DescribeLoadBalancers") == "elasticloadbalancing:DescribeLoadBalancers"
    assert iam_action("efs", "DescribeFileSystems") == "elasticfilesystem:DescribeFileSystems"
    assert iam_action("apigateway", "GetRestApis") == "apigateway:GET"
    assert undeclared_calls(["iam:ListUsers", "s3:ListBuckets"], ["s3:ListAllMyBuckets"]) == ["iam:ListUsers -> iam:ListUsers"]


def test_throttling_and_emulator_gaps_classified() -> None:
    from botocore.exceptions import ClientError

    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "ListAnalyzers")
    assert failure_from_exception("accessanalyzer", "us-east-1", "ListAnalyzers", throttled).code == "Throttled"
    html = ClientError({"Error": {"Code": "500", "Message": "<!doctype html><title>500</title>"}}, "ListAnalyzers")
    f = failure_from_exception("accessanalyzer", "us-east-1", "ListAnalyzers", html)
    assert f.code == "ApiUnavailable" and "HTML error page" in f.message


def test_emulator_html_500_is_not_retried(moto: MotoServer) -> None:
    """moto has no Access Analyzer: its HTML 500 page must fail at once, not after 10 backed-off retries."""
    client = AwsSession(endpoint_url=moto.url).client("accessanalyzer")
    with pytest.raises(Exception) as info:
        client.list_analyzers()
    assert "reached max retries" not in str(info.value)  # botocore names the retries it made


def test_cli_scan_with_expired_credentials_exits_2(moto: MotoServer) -> None:
    """Through the real `cloudwarden scan` command: one clear line, exit code 2, no traceback."""
    from typer.testing import CliRunner

    from cloudwarden.cli.main import app

    with FaultProxy(moto.url, [Fault("GetCallerIdentity", "ExpiredToken", 403)]) as proxy:
        result = CliRunner().invoke(app, ["scan", "--endpoint-url", proxy.url, "--regions", "us-east-1"])
    assert result.exit_code == 2, result.output
    assert "expired" in result.output and "Traceback" not in result.output
