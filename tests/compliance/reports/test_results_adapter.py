from __future__ import annotations

from datetime import UTC, datetime

from cloudwarden.compliance.inventory import CollectionFailure
from cloudwarden.compliance.results import from_run, scope_key
from cloudwarden.compliance.runner import AccountFailure, AccountSummary, ScanRun
from tests.compliance.reports.sample import METAS, base_results


def _run(scope: str = "account") -> ScanRun:
    t = datetime(2026, 11, 28, tzinfo=UTC)
    return ScanRun(
        scan_id="0f002037-c39a-46a0-8084-ecff30c3433a",
        started_at=t,
        finished_at=t,
        scope=scope,
        scope_id="123456789012",
        accounts=[AccountSummary("123456789012", regions=["us-east-1"]),
                  AccountSummary("210987654321", status="failed", error="AssumeRole AccessDenied")],
        regions=["us-east-1"],
        results=base_results(),
        failures=[AccountFailure("123456789012", CollectionFailure("macie", "us-east-1", "GetMacieSession", "AccessDenied", "no")),
                  AccountFailure("123456789012", CollectionFailure("account", "global", "GetContactInformation", "AccessDenied", "no")),
                  AccountFailure("123456789012", CollectionFailure("ec2", "eu-west-1", "DescribeRegions", "RegionDisabled", "off"))],
        checks=dict(METAS),
        api_requests=108,
    )


def test_from_run_keeps_results_metadata_and_errors() -> None:
    rec = from_run(_run(), ["cis-7.0", "soc2"], ["us-east-1"])
    assert rec.scan_id == "0f002037c39a46a08084ecff30c3433a"
    assert rec.accounts == ["123456789012", "210987654321"]
    assert rec.errors == ["account 210987654321: AssumeRole AccessDenied"]
    assert rec.failure_counts == {"AccessDenied": 2, "RegionDisabled": 1}
    assert rec.api_requests == 108 and len(rec.results) == 7 and rec.checks == METAS
    assert rec.scope_key == scope_key(["123456789012", "210987654321"], ["us-east-1"], ["cis-7.0", "soc2"])


def test_scope_key_uses_requested_regions_and_the_organization() -> None:
    all_regions = from_run(_run(), ["cis-7.0"], [])
    assert "regions=*" in all_regions.scope_key  # "every enabled region" stays comparable as regions get enabled
    org = from_run(_run("organization"), ["cis-7.0"], [])
    assert "accounts=org:123456789012" in org.scope_key  # member accounts may come and go
    assert scope_key(["b", "a"], ["us-east-1", "eu-west-1"], ["soc2", "cis-7.0"]) == scope_key(["a", "b"], ["eu-west-1", "us-east-1"], ["cis-7.0", "soc2"])
