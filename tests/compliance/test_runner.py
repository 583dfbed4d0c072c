"""The scan runner end to end through boto3 -> moto_server (and the fault proxy): every collector and
check runs, faults become NOT_EVALUATED while the rest completes, Organizations are scanned account by
account with per-account failures, and results can be streamed instead of kept."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from cloudwarden.aws.regions import RegionSet
from cloudwarden.aws.session import AwsSession
from cloudwarden.compliance.checks.base import Check, CheckMeta, CheckResult, Status, all_checks
from cloudwarden.compliance.collectors.base import CollectorSpec, all_collectors
from cloudwarden.compliance.inventory import Inventory
from cloudwarden.compliance.runner import (
    AccountSummary,
    ProgressEvent,
    ScanOptions,
    _evaluate,
    _run_collector,
    scan,
    scan_account,
    select_checks,
)
from tests.compliance.core_support import ACCOUNT
from tests.helpers.fault_proxy import Fault, FaultProxy
from tests.helpers.moto_server import MotoServer


def _seed_small(url: str) -> None:
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Sup3r-Secret-Passw0rd!")
    iam.update_account_password_policy(MinimumPasswordLength=14, PasswordReusePrevention=24)


def test_full_scan_single_account(moto: MotoServer) -> None:
    _seed_small(moto.url)
    events: list[ProgressEvent] = []
    lock = threading.Lock()

    def progress(e: ProgressEvent) -> None:
        with lock:
            events.append(e)

    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1"], max_workers=8), progress=progress)
    assert run.scope == "account" and run.scope_id == ACCOUNT and run.finished_at and run.scan_id
    assert [a.account_id for a in run.accounts] == [ACCOUNT] and run.accounts[0].status == "scanned"
    assert run.regions == ["us-east-1"]
    # every registered check produced at least one result: nothing is silently skipped
    assert {r.check_id for r in run.results} == set(all_checks())
    assert set(run.checks) == set(all_checks())
    assert all(r.account_id == ACCOUNT and r.reason for r in run.results)
    by_check = {r.check_id: r.status for r in run.results if r.region in ("global",)}
    assert by_check["iam_user_mfa_enabled_console_access"] is Status.FAIL
    assert by_check["iam_password_policy_minimum_length_14"] is Status.PASS
    # moto lacks Access Analyzer: NOT_EVALUATED with the reason, never a pass
    aa = [r for r in run.results if r.check_id == "accessanalyzer_enabled"]
    assert [r.status for r in aa] == [Status.NOT_EVALUATED] and "ApiUnavailable" in aa[0].reason
    assert run.api_requests == sum(run.api_calls.values()) > 20
    assert run.api_calls["sts:GetCallerIdentity"] == 1 and run.api_calls["iam:GetAccountAuthorizationDetails"] >= 1
    kinds = Counter(e.kind for e in events)
    assert kinds["accounts"] == 1 and kinds["account_start"] == 1 and kinds["account_done"] == 1
    collect = [e for e in events if e.kind == "collect"]
    assert collect[-1].done == collect[-1].total == len(all_collectors())  # one region: one task per collector
    assert run.counts()["FAIL"] > 0 and run.has_failures


def test_access_denied_and_throttling_are_contained(moto: MotoServer) -> None:
    """AccessDenied on IAM's big call and on S3 listing, throttling on the password policy: the affected
    checks are NOT_EVALUATED with the reason, everything else completes."""
    _seed_small(moto.url)
    faults = [
        Fault("GetAccountAuthorizationDetails", "AccessDenied", 403),
        Fault("GetAccountPasswordPolicy", "Throttling", 400, times=1),
        Fault("DescribeTrails", "AccessDeniedException", 400),
    ]
    with FaultProxy(moto.url, faults) as proxy:
        run = scan(ScanOptions(endpoint_url=proxy.url, regions=["us-east-1"], framework="cis-7.0"))
    status = {(r.check_id, r.status) for r in run.results}
    assert ("iam_policy_attached_only_to_group_or_roles", Status.NOT_EVALUATED) in status
    denied = [r for r in run.results if r.check_id == "iam_policy_attached_only_to_group_or_roles"]
    assert "AccessDenied" in denied[0].reason and "GetAccountAuthorizationDetails" in denied[0].reason
    assert ("iam_password_policy_minimum_length_14", Status.PASS) in status  # retried past the throttle
    assert ("iam_user_mfa_enabled_console_access", Status.FAIL) in status  # credential report unaffected
    codes = {(f.failure.operation, f.failure.code) for f in run.failures}
    assert ("GetAccountAuthorizationDetails", "AccessDenied") in codes
    assert ("DescribeTrails", "AccessDenied") in codes


def test_disabled_region_is_not_evaluated(moto: MotoServer) -> None:
    run = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1", "ap-east-1"], framework="cis-7.0"))
    assert run.regions == ["us-east-1"]
    off = [r for r in run.results if r.region == "ap-east-1"]
    assert off and all(r.status is Status.NOT_EVALUATED and "disabled" in r.reason for r in off)
    assert {r.check_id for r in off} >= {"accessanalyzer_enabled", "securityhub_enabled"}
    assert any(f.failure.code == "RegionDisabled" and f.failure.region == "ap-east-1" for f in run.failures)


def test_collector_crash_becomes_reason() -> None:
    def broken(ctx: object) -> None:
        raise KeyError("Users")

    inv = Inventory(ACCOUNT, regions=["us-east-1"])
    _run_collector(CollectorSpec("iam", broken, (), False), "global", inv, AwsSession(endpoint_url="http://127.0.0.1:9"))
    results = all_checks()["iam_user_mfa_enabled_console_access"].evaluate(inv)
    assert [r.status for r in results] == [Status.NOT_EVALUATED]
    assert "KeyError" in results[0].reason and "test_runner.py" in results[0].reason


def test_check_crash_is_not_evaluated() -> None:
    def bad(inv: Inventory) -> list[CheckResult]:
        return [1 / 0]  # type: ignore[list-item]

    chk = Check(CheckMeta("x_bad", "t", "iam", "low", "AwsAccount", "r"), bad)
    results = _evaluate(chk, Inventory(ACCOUNT))
    assert [r.status for r in results] == [Status.NOT_EVALUATED] and "ZeroDivisionError" in results[0].reason


def test_select_checks_by_framework() -> None:
    checks = all_checks()
    v7 = {c.meta.id for c in select_checks(checks, "cis-7.0")}
    v5 = {c.meta.id for c in select_checks(checks, "CIS-5.0.0")}
    assert "iam_root_credentials_management_enabled" in v7 and "iam_root_credentials_management_enabled" not in v5
    assert "iam_user_two_active_access_key" in v5 and "iam_user_two_active_access_key" not in v7
    assert {c.meta.id for c in select_checks(checks, "soc2")} == set(checks)
    assert [c.meta.id for c in select_checks(checks, None, {"iam_root_mfa_enabled"})] == ["iam_root_mfa_enabled"]


def test_scan_account_with_shared_pool(moto: MotoServer) -> None:
    session = AwsSession(endpoint_url=moto.url)
    specs = [all_collectors()["iam"]]
    chosen = select_checks(all_checks(), None, {"iam_password_policy_reuse_24"})
    with ThreadPoolExecutor(4) as pool:
        results, failures = scan_account(session, ACCOUNT, RegionSet(["us-east-1"]), collectors=specs, checks=chosen, pool=pool)
    assert [r.status for r in results] == [Status.FAIL]  # no password policy in a fresh account
    assert all(f.service == "iam" for f in failures)


@pytest.mark.slow
def test_organization_scan(moto: MotoServer) -> None:
    org = boto3.client("organizations", endpoint_url=moto.url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    prod = org.create_account(AccountName="prod", Email="p@example.com")["CreateAccountStatus"]["AccountId"]
    dev = org.create_account(AccountName="dev", Email="d@example.com")["CreateAccountStatus"]["AccountId"]
    denied = org.create_account(AccountName="locked", Email="l@example.com")["CreateAccountStatus"]["AccountId"]
    # a console user without MFA only in prod, created through the assumed role
    creds = boto3.client("sts", endpoint_url=moto.url, region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{prod}:role/Audit", RoleSessionName="seed")["Credentials"]
    iam_prod = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    iam_prod.create_user(UserName="ops")
    iam_prod.create_login_profile(UserName="ops", Password="Sup3r-Secret-Passw0rd!")

    streamed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def on_account(summary: AccountSummary, results: list[CheckResult]) -> None:
        with lock:
            streamed.append((summary.account_id, len(results)))

    with FaultProxy(moto.url, [Fault("AssumeRole", "AccessDenied", 403, body_contains=f"{denied}:role")]) as proxy:
        run = scan(ScanOptions(endpoint_url=proxy.url, regions=["us-east-1"], org_role="Audit", framework="cis-7.0",
                               account_workers=2, max_workers=8, keep_results=False), on_account=on_account)
    assert run.scope == "organization"
    states = {a.account_id: a.status for a in run.accounts}
    assert states == {ACCOUNT: "scanned", prod: "scanned", dev: "scanned", denied: "failed"}
    assert "AccessDenied" in next(a.error for a in run.accounts if a.account_id == denied)
    assert run.results == []  # streamed, not kept
    assert sorted(a for a, _ in streamed) == sorted([ACCOUNT, prod, dev, denied])
    assert all(n > 0 for _, n in streamed)  # the unreachable account reports every check NOT_EVALUATED

    kept = scan(ScanOptions(endpoint_url=moto.url, regions=["us-east-1"], org_role="Audit",
                            check_ids={"iam_user_mfa_enabled_console_access"}))
    mfa = {(r.account_id, r.status) for r in kept.results}
    assert (prod, Status.FAIL) in mfa and (dev, Status.PASS) in mfa and (denied, Status.PASS) in mfa


def test_unreachable_account_results() -> None:
    from cloudwarden.compliance.runner import _unreachable_results

    checks = select_checks(all_checks(), "cis-7.0")
    results = _unreachable_results("210987654321", "aws", checks, "sts:AssumeRole Audit: AccessDenied")
    assert len(results) == len(checks)
    assert all(r.status is Status.NOT_EVALUATED and "AccessDenied" in r.reason and r.account_id == "210987654321" for r in results)
