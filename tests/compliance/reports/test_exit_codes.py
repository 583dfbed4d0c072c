from __future__ import annotations

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.report import build_report
from cloudwarden.compliance.service import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    exit_code_for,
    normalise_frameworks,
    parse_duration,
    runner_framework,
)
from tests.compliance.reports.sample import make_scan, r, user


def _code(results, fail_on="informational", errors=()):
    scan = make_scan(results=results)
    scan.errors = list(errors)
    return exit_code_for(build_report(scan), fail_on)


def test_all_pass_is_0_even_with_manual_controls() -> None:
    scan = make_scan()
    ok = [x for x in scan.results if x.status is Status.PASS]
    # every check that claims a control must report, or the control is NOT_EVALUATED
    ok.append(r("iam_user_mfa_console", Status.PASS, user("carol"), "mfa"))
    ok.append(r("securityhub_enabled", Status.PASS, "arn:aws:securityhub:us-east-1:123456789012:hub/default", "on", "us-east-1"))
    ok.append(r("s3_bucket_public_access_block", Status.PASS, "arn:aws:s3:::b", "on"))
    assert _code(ok) == EXIT_OK


def test_failing_control_is_3_and_threshold_filters() -> None:
    results = make_scan().results  # 2.10 FAIL (high), 3.1.4 FAIL (critical), 5.16 NOT_EVALUATED (medium)
    assert _code(results) == EXIT_FINDINGS
    assert _code(results, "critical") == EXIT_FINDINGS
    only_high = [x for x in results if x.check_id != "s3_bucket_public_access_block"]
    # no result at all from the critical S3 check: NOT_EVALUATED, which still blocks
    assert _code(only_high, "critical") == EXIT_FINDINGS
    only_high.append(r("s3_bucket_public_access_block", Status.PASS, "arn:aws:s3:::b", "on"))
    assert _code(only_high, "critical") == EXIT_OK
    assert _code(results, "never") == EXIT_OK


def test_not_evaluated_does_not_count_as_pass() -> None:
    results = [x for x in make_scan().results if x.status is not Status.FAIL]
    assert _code(results, "medium") == EXIT_FINDINGS  # securityhub 5.16 is NOT_EVALUATED, medium
    assert _code(results, "high") == EXIT_OK


def test_nothing_scanned_is_2() -> None:
    assert _code([], errors=["account 1: AssumeRole denied"]) == EXIT_ERROR


def test_option_parsing() -> None:
    assert parse_duration("1h30m") == 5400 and parse_duration("15m") == 900 and parse_duration("45s") == 45
    assert normalise_frameworks(["cis-7.0.0", "soc2,pci", "hipaa", "soc2"]) == ["cis-7.0", "soc2", "pci-4.0", "hipaa"]
    assert runner_framework(["cis-7.0", "soc2"]) == "cis-7.0"
    assert runner_framework(["cis-3.0", "soc2"]) is None


def test_report_names_sort_in_finish_order_within_one_second() -> None:
    """`scan --every 1s` can finish two scans in one second: their report files must still sort by time."""
    from datetime import UTC, datetime

    from cloudwarden.compliance.service import report_stem

    first, second = make_scan(), make_scan()
    first.finished_at = datetime(2026, 1, 1, 12, 0, 0, 900_000, tzinfo=UTC)
    second.finished_at = datetime(2026, 1, 1, 12, 0, 0, 950_000, tzinfo=UTC)
    first.scan_id, second.scan_id = "ffffffff" + "0" * 24, "00000000" + "0" * 24  # ids sort the other way
    assert sorted([report_stem(second), report_stem(first)]) == [report_stem(first), report_stem(second)]
    assert report_stem(first) == "cloudwarden-20260101T120000900Z-ffffffff"
