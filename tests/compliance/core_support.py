"""Shared helpers for the compliance-core tests: hand-built inventories, a moto_server that has AWS
managed policies loaded, and a seeded IAM account."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from cloudwarden.aws.session import AwsSession
from cloudwarden.compliance.checks.base import CheckResult, Status, all_checks
from cloudwarden.compliance.collectors.base import all_collectors
from cloudwarden.compliance.inventory import Inventory
from cloudwarden.compliance.runner import collect_inventory
from tests.helpers.moto_server import MotoServer, aws_test_env

ACCOUNT = "123456789012"
HEADER = ("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
          "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_2_active,"
          "access_key_2_last_rotated,access_key_2_last_used_date").split(",")


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def report_row(user: str, **fields: str) -> dict[str, str]:
    row = dict.fromkeys(HEADER, "N/A")
    row.update(user=user, arn=f"arn:aws:iam::{ACCOUNT}:{'root' if user == '<root_account>' else 'user/' + user}",
               user_creation_time=ago(400), password_enabled="false", mfa_active="false",
               access_key_1_active="false", access_key_2_active="false", password_last_used="no_information")
    row.update(fields)
    return row


def inventory(**data: Any) -> Inventory:
    """An inventory with (service, region, key) entries given as "service__key" or "service__region__key"."""
    inv = Inventory(ACCOUNT, regions=["us-east-1"])
    for name, value in data.items():
        parts = name.split("__")
        service, region, key = (parts[0], "global", parts[1]) if len(parts) == 2 else (parts[0], parts[1].replace("_", "-"), parts[2])
        inv.put(service, key, value, region)
    return inv


def run_check(check_id: str, inv: Inventory) -> list[CheckResult]:
    return all_checks()[check_id].evaluate(inv)


def statuses(results: list[CheckResult]) -> list[Status]:
    return [r.status for r in results]


def collect(url: str, services: set[str], regions: list[str] | None = None) -> Inventory:
    session = AwsSession(endpoint_url=url)
    specs = [s for n, s in all_collectors().items() if n in services]
    with ThreadPoolExecutor(8) as pool:
        return collect_inventory(session, ACCOUNT, regions or ["us-east-1"], collectors=specs, pool=pool)


@pytest.fixture(scope="module")
def moto_iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto_server with AWS managed policies (AdministratorAccess, AWSSupportAccess, ...) loaded."""
    os.environ.update(aws_test_env())
    old = os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES")
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    try:
        server = MotoServer().start(tmp_path_factory.mktemp("moto-iam") / "moto.log")
    finally:
        if old is None:
            os.environ.pop("MOTO_IAM_LOAD_MANAGED_POLICIES", None)
        else:
            os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = old
    yield server
    server.stop()


@pytest.fixture
def moto_iam(moto_iam_server: MotoServer) -> Iterator[MotoServer]:
    moto_iam_server.reset()
    yield moto_iam_server


ADMIN = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
READ = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}]})


def seed_iam(url: str) -> None:
    """A small account through boto3: a compliant group-based user, a console user without MFA with a
    direct admin policy and two keys, an inline admin group policy, a support role, a CloudShell user,
    a customer admin policy, a password policy that is too weak."""
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
    iam.create_group(GroupName="engineers")
    iam.put_group_policy(GroupName="engineers", PolicyName="read", PolicyDocument=READ)
    iam.create_user(UserName="good")
    iam.add_user_to_group(GroupName="engineers", UserName="good")
    iam.create_user(UserName="mallory")
    iam.create_login_profile(UserName="mallory", Password="Sup3r-Secret-Passw0rd!")
    iam.attach_user_policy(UserName="mallory", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.create_access_key(UserName="mallory")
    iam.create_access_key(UserName="mallory")
    iam.create_group(GroupName="ops")
    iam.put_group_policy(GroupName="ops", PolicyName="everything", PolicyDocument=ADMIN)
    iam.create_policy(PolicyName="custom-admin", PolicyDocument=ADMIN)
    iam.create_policy(PolicyName="custom-read", PolicyDocument=READ)
    iam.attach_group_policy(GroupName="ops", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/custom-admin")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
    iam.create_role(RoleName="support", AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName="support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")
    iam.create_user(UserName="shell")
    iam.attach_user_policy(UserName="shell", PolicyArn="arn:aws:iam::aws:policy/AWSCloudShellFullAccess")
    iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=5)
