from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import botocore.session
import orjson
import pytest
from botocore.validate import ParamValidator
from rich.console import Console

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.report import build_report, output_paths, render, write_reports
from cloudwarden.compliance.report.asff import batches, findings
from cloudwarden.compliance.report.terminal import print_summary, top_failures
from cloudwarden.compliance.results import result_uid
from cloudwarden.errors import ConfigError
from tests.compliance.reports.sample import ACCOUNT, XSS, bucket, make_scan, r


def _ocsf(fws: list[str] | None = None) -> list[dict]:
    data = build_report(make_scan(frameworks=fws))
    return [orjson.loads(line) for line in render(data, "ocsf").splitlines()]


def test_ocsf_one_compliance_finding_per_check_and_resource() -> None:
    recs = _ocsf()
    assert len(recs) == 7
    for rec in recs:
        assert rec["class_uid"] == 2003 and rec["category_uid"] == 2 and rec["type_uid"] == 200301
        assert rec["activity_id"] == 1 and rec["metadata"]["product"]["name"] == "cloudwarden"
        assert rec["metadata"]["version"].startswith("1.")
        assert isinstance(rec["time"], int) and rec["severity_id"] in range(1, 6)
        assert rec["cloud"]["account"]["uid"] == ACCOUNT and rec["cloud"]["provider"] == "AWS"
        assert rec["resources"][0]["uid"].startswith("arn:aws:")
        assert rec["compliance"]["standards"] == ["CIS AWS Foundations Benchmark v7.0.0"]
    mfa_fail = next(x for x in recs if x["compliance"]["control"] == "iam_user_mfa_console" and x["compliance"]["status"] == "Fail")
    assert mfa_fail["compliance"]["requirements"] == ["2.10"]
    assert mfa_fail["compliance"]["status_id"] == 3
    assert mfa_fail["severity_id"] == 4 and mfa_fail["severity"] == "High"
    assert mfa_fail["resources"][0]["uid"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert mfa_fail["resources"][0]["type"] == "AwsIamUser"
    assert mfa_fail["remediation"]["desc"].startswith("Enable an MFA")
    ne = next(x for x in recs if x["compliance"]["status_code"] == "NOT_EVALUATED")
    assert ne["compliance"]["status_id"] == 99 and "AccessDenied" in ne["compliance"]["status_detail"]
    assert ne["cloud"]["region"] == "us-east-1"
    ok = next(x for x in recs if x["compliance"]["status"] == "Pass")
    assert ok["compliance"]["status_id"] == 1


def test_ocsf_finding_uid_is_stable_across_scans_and_unique_per_resource() -> None:
    a = _ocsf()
    b = [orjson.loads(x) for x in render(build_report(make_scan(scan_id="b" * 32)), "ocsf").splitlines()]
    assert [x["finding_info"]["uid"] for x in a] == [x["finding_info"]["uid"] for x in b]
    assert len({x["finding_info"]["uid"] for x in a}) == len(a)
    assert a[0]["metadata"]["uid"] != b[0]["metadata"]["uid"]


def test_ocsf_lists_requirements_of_every_selected_framework() -> None:
    recs = _ocsf(["cis-7.0", "cis-3.0", "hipaa"])
    rec = next(x for x in recs if x["compliance"]["control"] == "iam_user_mfa_console")
    assert rec["compliance"]["standards"] == ["CIS AWS Foundations Benchmark v7.0.0", "CIS AWS Foundations Benchmark v3.0.0", "HIPAA Security Rule"]
    assert rec["compliance"]["requirements"][:2] == ["2.10", "1.10"]
    assert "164.312(d)" in rec["compliance"]["requirements"]
    assert rec["unmapped"]["compliance"]["cis-3.0"] == ["1.10"]


def test_csv_rows_columns_and_formula_injection() -> None:
    scan = make_scan()
    scan.results.append(r("s3_bucket_public_access_block", Status.FAIL, bucket("=HYPERLINK(\"http://evil\")"), "@SUM(1)"))
    text = render(build_report(scan, None), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    results = [x for x in rows if x["status"] != "MANUAL"]
    assert len(results) == 8
    alice = next(x for x in results if x["resource_arn"].endswith("user/alice"))
    assert alice["status"] == "FAIL" and alice["severity"] == "high" and alice["cis-7.0"] == "2.10"
    assert alice["remediation"].startswith("Enable an MFA")
    assert alice["finding_uid"] == result_uid(scan.results[0])
    evil = next(x for x in results if "HYPERLINK" in x["resource_arn"])
    assert evil["resource_arn"].startswith("arn:aws:s3:::=")  # not at the start of the cell: harmless
    assert evil["reason"] == "'@SUM(1)"
    manual = [x for x in rows if x["status"] == "MANUAL"]
    assert len(manual) == 65 and all(x["reason"] for x in manual)


def test_asff_findings_validate_against_botocore_model() -> None:
    data = build_report(make_scan(frameworks=["cis-7.0", "pci-4.0"]))
    items = findings(data)
    model = botocore.session.get_session().get_service_model("securityhub")
    shape = model.operation_model("BatchImportFindings").input_shape
    for chunk in batches(items):
        report = ParamValidator().validate({"Findings": chunk}, shape)
        assert not report.has_errors(), report.generate_report()
    required = model.shape_for("AwsSecurityFinding").required_members
    for f in items:
        assert all(k in f and f[k] for k in required)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", f["CreatedAt"])
        assert f["ProductArn"] == f"arn:aws:securityhub:{f['Resources'][0]['Region']}:{ACCOUNT}:product/{ACCOUNT}/default"
        assert len(f["Title"]) <= 256 and len(f["Description"]) <= 1024
    alice = next(f for f in items if f["Resources"][0]["Id"].endswith("user/alice"))
    assert alice["Compliance"]["Status"] == "FAILED" and alice["Severity"]["Label"] == "HIGH"
    assert "CIS AWS Foundations Benchmark v7.0.0/2.10" in alice["Compliance"]["RelatedRequirements"]
    assert alice["Resources"][0]["Region"] == "us-east-1"  # global resources import into the home region
    assert alice["Remediation"]["Recommendation"]["Url"].startswith("https://")
    assert orjson.loads(render(data, "asff")) == items


def test_asff_batches_respect_the_api_limit() -> None:
    assert [len(b) for b in batches([{}] * 250)] == [100, 100, 50]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _html(scan_results=None, previous=None) -> str:
    return render(build_report(make_scan(results=scan_results), previous), "html")


def test_html_is_self_contained_with_filters_and_remediation() -> None:
    html = _html()
    p = _Collector()
    p.feed(html)
    selects = {a.get("id") for t, a in p.tags if t == "select"}
    assert {"f-status", "f-severity", "f-section", "f-account", "f-region"} <= selects
    # no external assets: nothing with src/href pointing off-page except reference links (<a>)
    for tag, attrs in p.tags:
        if tag in ("script", "img", "link", "iframe"):
            assert not attrs.get("src") and not attrs.get("href"), (tag, attrs)
    assert "@media print" in html and "http-equiv=\"Content-Security-Policy\"" in html
    # every failing row carries its remediation
    fail_rows = re.findall(r'<tr class="row" data-status="FAIL".*?</tr>', html, re.S)
    finding_fail_rows = [row for row in fail_rows if "arn:aws:" in row]
    assert len(finding_fail_rows) == 2
    assert all("Remediation:" in row for row in finding_fail_rows)
    assert 'data-sections="cis-7.0:2"' in html  # section filter tokens
    assert "Changes since previous scan" in html and "first one" in html
    assert "Verify: The account password policy requires at least 14 characters." in html


def test_html_escapes_attacker_controlled_strings() -> None:
    results = [*make_scan().results, r("s3_bucket_public_access_block", Status.FAIL, bucket(XSS), f"bucket {XSS} is public")]
    html = _html(results)
    assert XSS not in html
    assert "&lt;script&gt;alert(&#34;pwn&#34;)&lt;/script&gt;" in html or "&lt;script&gt;alert(&quot;pwn&quot;)" in html
    p = _Collector()
    p.feed(html)
    assert [t for t, _ in p.tags].count("script") == 1  # only our own filter script
    assert not any(t == "img" for t, _ in p.tags)
    assert all("alert" not in s for s in p.scripts)


def test_html_shows_changes_since_previous_scan() -> None:
    prev = make_scan(scan_id="p" * 32)
    cur_results = make_scan().results
    cur_results[0] = r("iam_user_mfa_console", Status.PASS, cur_results[0].resource_arn, "MFA now on")
    cur_results.append(r("ec2_sg_ssh_open", Status.FAIL, "arn:aws:ec2:us-east-1:123456789012:security-group/sg-new", "22 open", "us-east-1"))
    html = _html(cur_results, prev)
    assert "Compared with scan <b>" + "p" * 32 in html
    section = html.split('id="changes"')[1].split("</section>")[0]
    assert "New failures" in section and "sg-new" in section
    assert "Fixed" in section and "user/alice" in section
    assert "Resources added" in section


def test_json_report_has_scores_and_results() -> None:
    doc = orjson.loads(render(build_report(make_scan(frameworks=["cis-7.0", "soc2"])), "json"))
    assert [f["id"] for f in doc["frameworks"]] == ["cis-7.0", "soc2"]
    assert doc["frameworks"][0]["score"]["score"] == 40.0
    assert len(doc["results"]) == 7 and doc["drift"] is None


def test_terminal_summary_shows_scores_and_top_failures() -> None:
    data = build_report(make_scan(frameworks=["cis-7.0", "pci-4.0"]))
    console = Console(record=True, width=140, force_terminal=False)
    print_summary(data, console)
    out = console.export_text()
    assert "CIS AWS Foundations Benchmark v7.0.0" in out and "PCI DSS" in out
    assert "Identity and Access Management" in out and "40.0%" in out
    assert "Top failing controls" in out
    first = top_failures(data)[0]
    assert first[1].severity == "critical" and first[1].control.id == "3.1.4"


def test_output_paths_file_or_directory(tmp_path) -> None:
    assert output_paths(["ocsf"], tmp_path / "f.jsonl", tmp_path / "d", "s") == {"ocsf": tmp_path / "f.jsonl"}
    both = output_paths(["terminal", "ocsf", "html"], tmp_path / "out", tmp_path / "d", "s")
    assert both == {"ocsf": tmp_path / "out" / "s.ocsf.jsonl", "html": tmp_path / "out" / "s.html"}
    assert output_paths(["csv"], None, tmp_path / "d", "s") == {"csv": tmp_path / "d" / "s.csv"}
    assert output_paths(["csv"], tmp_path / "reports", tmp_path / "d", "s") == {"csv": tmp_path / "reports" / "s.csv"}
    assert output_paths(["terminal"], None, tmp_path, "s") == {}
    assert output_paths(["terminal", "ocsf"], Path("-"), tmp_path, "s") == {"ocsf": Path("-")}
    with pytest.raises(ConfigError, match="exactly one file format"):
        output_paths(["ocsf", "csv"], Path("-"), tmp_path, "s")
    written = write_reports(build_report(make_scan()), both)
    assert written["html"].read_text().startswith("<!DOCTYPE html>")
    assert not list((tmp_path / "out").glob(".*.tmp"))


@pytest.mark.parametrize("fmt", ["nope"])
def test_unknown_format(fmt: str) -> None:
    from cloudwarden.errors import ConfigError

    with pytest.raises(ConfigError):
        render(build_report(make_scan()), fmt)


def test_asff_imports_into_security_hub_on_moto(moto) -> None:
    import boto3

    sh = boto3.client("securityhub", endpoint_url=moto.url, region_name="us-east-1")
    items = findings(build_report(make_scan()))
    for chunk in batches(items):
        resp = sh.batch_import_findings(Findings=chunk)
        assert resp["FailedCount"] == 0, resp["FailedFindings"]
    got = sh.get_findings()["Findings"]
    assert {f["Id"] for f in got} == {f["Id"] for f in items}


def test_progress_bars_follow_runner_events() -> None:
    from cloudwarden.compliance.report.terminal import ScanProgress
    from cloudwarden.compliance.runner import ProgressEvent

    console = Console(record=True, width=120, force_terminal=True)
    with ScanProgress(console) as bars:
        bars.update(ProgressEvent("accounts", total=2))
        bars.update(ProgressEvent("account_start", "111111111111"))
        bars.update(ProgressEvent("collect", "111111111111", 3, 10))
        assert len(bars.progress.tasks) == 2
        bars.update(ProgressEvent("checks", "111111111111", 5, 5))
        bars.update(ProgressEvent("account_done", "111111111111", 5, 5))
        bars.update(ProgressEvent("account_failed", "222222222222", label="AssumeRole <denied>"))
        assert [t.completed for t in bars.progress.tasks] == [2]
    assert "222222222222 could not be scanned: AssumeRole <denied>" in console.export_text()


def test_ocsf_records_validate_against_independent_ocsf_models() -> None:
    from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding

    recs = _ocsf(["cis-7.0", "soc2", "hipaa"])
    assert {r["compliance"]["status_code"] for r in recs} == {"PASS", "FAIL", "NOT_EVALUATED"}
    for rec in recs:
        model = ComplianceFinding.model_validate(rec)
        assert model.class_uid == 2003 and model.compliance.requirements == rec["compliance"]["requirements"]


@pytest.mark.parametrize("n_results", [0, 7])
def test_streamed_json_and_asff_are_valid_documents(n_results: int) -> None:
    from cloudwarden.compliance.report.jsonreport import report_dict

    scan = make_scan()
    scan.results = scan.results[:n_results]
    data = build_report(scan)
    assert orjson.loads(render(data, "json")) == orjson.loads(orjson.dumps(report_dict(data), default=str))
    assert orjson.loads(render(data, "asff")) == findings(data)
    assert len(render(data, "ocsf").splitlines()) == n_results
