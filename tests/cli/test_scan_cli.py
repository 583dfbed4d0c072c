"""The scan/report CLI end to end: boto3 -> moto_server over HTTP, through Typer's CliRunner."""

from __future__ import annotations

import boto3
import orjson
import pytest
from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.demo.aws_account import seed_company
from cloudwarden.demo.moto import free_port

runner = CliRunner()


def _scan(url: str, *extra: str) -> tuple[int, str]:
    res = runner.invoke(app, ["scan", "--endpoint-url", url, "--regions", "us-east-1", *extra])
    return res.exit_code, res.output


@pytest.mark.slow
def test_scan_writes_ocsf_against_seeded_moto(moto, tmp_path) -> None:
    seeded = seed_company(moto.url)
    out = tmp_path / "findings.jsonl"
    code, output = _scan(moto.url, "--framework", "cis-7.0", "--format", "ocsf", "--out", str(out))
    assert code == 3, output  # the seeded company has failing controls
    recs = [orjson.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) > 50
    assert all(r["class_uid"] == 2003 and r["type_uid"] == 200301 and r["category_uid"] == 2 for r in recs)
    assert all(r["cloud"]["account"]["uid"] == seeded["account_id"] for r in recs)
    mfa = [r for r in recs if "2.10" in r["compliance"]["requirements"]]
    failing_users = {r["resources"][0]["uid"].rsplit("/", 1)[-1] for r in mfa if r["compliance"]["status"] == "Fail"}
    assert {"bob.ops", "erin.contractor"} <= failing_users
    assert "alice.admin" not in failing_users
    assert all(r["compliance"]["standards"] == ["CIS AWS Foundations Benchmark v7.0.0"] for r in recs)
    open_sg = seeded["security_groups"]["open"][0]
    sg_recs = [r for r in recs if r["resources"][0]["uid"].endswith(open_sg) and r["compliance"]["status"] == "Fail"]
    assert sg_recs and sg_recs[0]["cloud"]["region"] == "us-east-1"
    assert "wrote ocsf" in output
    # the seeded company's known-bad and known-good controls come out as such
    by_control: dict[str, set[str]] = {}
    for r in recs:
        for cid in r["compliance"]["requirements"]:
            by_control.setdefault(cid, set()).add(r["compliance"]["status"])
    for cid in seeded["expected_failures"]["cis-7.0"]:
        assert "Fail" in by_control.get(cid, set()), cid
    for cid in seeded["expected_passes"]["cis-7.0"]:
        assert by_control.get(cid) == {"Pass"}, (cid, by_control.get(cid))
    # --out - streams the same records to standard output
    res = runner.invoke(app, ["scan", "--endpoint-url", moto.url, "--regions", "us-east-1", "--format", "ocsf", "--out", "-", "--no-store"])
    lines = [orjson.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert res.exit_code == 3 and len(lines) == len(recs)


@pytest.mark.slow
def test_rescan_stores_drift_list_diff_and_report(moto, tmp_path) -> None:
    seed_company(moto.url)
    code, _ = _scan(moto.url, "--fail-on", "never")
    assert code == 0  # --fail-on never: the job ran, nothing blocks
    # Fix one thing and break another, then scan the same scope again.
    ec2 = boto3.client("ec2", endpoint_url=moto.url, region_name="us-east-1")
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["prod"]}])["Vpcs"][0]["VpcId"]
    new_sg = ec2.create_security_group(GroupName="oops-ssh", Description="temporary", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=new_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    s3.put_public_access_block(Bucket="acme-backups", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    html_dir = tmp_path / "reports"
    code, output = _scan(moto.url, "--format", "terminal", "--format", "html", "--out", str(html_dir))
    assert code == 3
    assert "Since previous scan" in output

    listed = runner.invoke(app, ["scan", "list"])
    assert listed.exit_code == 0 and listed.output.count("123456") >= 2

    d = runner.invoke(app, ["scan", "diff", "--json"])
    assert d.exit_code == 0, d.output
    drift = orjson.loads(d.output)
    assert any(c["resource_arn"].endswith(new_sg) for c in drift["new_failures"])
    assert any(c["resource_arn"] == "arn:aws:s3:::acme-backups" for c in drift["fixed"])
    assert any(r["arn"].endswith(new_sg) for r in drift["resources_added"])
    text = runner.invoke(app, ["scan", "diff"])
    assert text.exit_code == 0 and "New failures" in text.output and "Fixed" in text.output

    html = next(html_dir.glob("*.html")).read_text()
    changes = html.split('id="changes"')[1].split("</section>")[0]
    assert new_sg in changes and "acme-backups" in changes

    rep = runner.invoke(app, ["report", "1", "--format", "csv", "--out", str(tmp_path / "first.csv"), "-f", "cis-5.0"])
    assert rep.exit_code == 0, rep.output
    header = (tmp_path / "first.csv").read_text().splitlines()[0]
    assert header.split(",")[12] == "cis-5.0"
    rep = runner.invoke(app, ["report", "--format", "json", "--out", str(tmp_path / "latest.json")])
    assert orjson.loads((tmp_path / "latest.json").read_text())["drift"]["new_failures"]


def test_missing_credentials_profile_exits_2() -> None:
    # (An unreachable endpoint also exits 2, but only after botocore's connection retries: ~30 s.)
    code, output = _scan(f"http://127.0.0.1:{free_port()}", "--profile", "no-such-profile")
    assert code == 2, output
    assert "profile 'no-such-profile' not found" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--framework", "cis-9.9"], "unknown framework"),
        (["--format", "pdf"], "unknown format"),
        (["--regions", "mars-1"], "not an AWS region"),
        (["--every", "soon"], "invalid interval"),
        (["--fail-on", "urgent"], "--fail-on"),
    ],
)
def test_bad_options_exit_2(args: list[str], message: str) -> None:
    res = runner.invoke(app, ["scan", "--endpoint-url", "http://127.0.0.1:9", *args])
    assert res.exit_code == 2
    assert message in res.output


def test_diff_and_report_without_scans() -> None:
    res = runner.invoke(app, ["scan", "diff"])
    assert res.exit_code == 2 and "no stored scans" in res.output
    res = runner.invoke(app, ["report"])
    assert res.exit_code == 2
    assert runner.invoke(app, ["scan", "list"]).output.strip() == "no stored scans"
