"""`cloudwarden permissions` and the guarantee behind it: a full scan of a seeded account (plus an
Organization scan) makes no API call whose IAM action the collectors did not declare."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from cloudwarden.aws.actions import ORG_ACTIONS, RUNNER_ACTIONS, required_actions, undeclared_calls
from cloudwarden.cli.main import app
from cloudwarden.compliance.runner import ScanOptions, scan
from cloudwarden.demo.aws_account import seed_company
from tests.helpers.moto_server import MotoServer


@pytest.mark.slow
def test_every_call_of_a_full_scan_is_declared(moto: MotoServer) -> None:
    seed_company(moto.url, "us-east-1")
    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1", "eu-west-1"]))
    assert run.api_requests > 40
    assert undeclared_calls(run.api_calls, required_actions()) == []
    # and the declared list is not padded with services no collector calls
    called_prefixes = {c.split(":")[0] for c in run.api_calls}
    assert {"iam", "s3", "ec2", "cloudtrail", "kms", "logs"} <= called_prefixes


def test_org_scan_calls_are_declared(moto: MotoServer) -> None:
    org = boto3.client("organizations", endpoint_url=moto.url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    org.create_account(AccountName="a", Email="a@example.com")
    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1"], org_role="Audit", services={"iam", "organizations"}))
    assert "organizations:ListAccounts" in run.api_calls and "sts:AssumeRole" in run.api_calls
    assert undeclared_calls(run.api_calls, required_actions(organization=True)) == []
    assert undeclared_calls(run.api_calls, required_actions()) != []  # the org actions are really needed


def test_permissions_command_prints_policy() -> None:
    result = CliRunner().invoke(app, ["permissions"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.output)
    actions = policy["Statement"][0]["Action"]
    assert policy["Statement"][0]["Effect"] == "Allow" and policy["Statement"][0]["Resource"] == "*"
    assert set(RUNNER_ACTIONS) <= set(actions) and "iam:GenerateCredentialReport" in actions
    assert not set(ORG_ACTIONS) & set(actions)
    # read-only: nothing that creates, changes or deletes (GenerateCredentialReport only builds a report)
    verbs = ("Create", "Put", "Delete", "Update", "Attach", "Detach", "Set", "Modify", "Enable", "Disable")
    assert not [a for a in actions if a.split(":")[1].startswith(verbs)]
    org = json.loads(CliRunner().invoke(app, ["permissions", "--org"]).output)
    assert set(ORG_ACTIONS) <= set(org["Statement"][0]["Action"])
