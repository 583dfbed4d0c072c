from __future__ import annotations

import pytest

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.frameworks import FRAMEWORK_IDS, load_framework, parse_framework
from cloudwarden.compliance.frameworks.evaluate import evaluate
from cloudwarden.errors import ConfigError
from tests.compliance.reports.sample import METAS, make_scan


@pytest.mark.parametrize(
    ("fid", "total", "automated", "sections"),
    [
        ("cis-7.0", 70, 34, {"2": 26, "3": 9, "4": 10, "5": 16, "6": 9}),
        ("cis-5.0", 63, 35, {"1": 21, "2": 9, "3": 9, "4": 16, "5": 8}),
        ("cis-3.0", 62, 54, {"1": 22, "2": 9, "3": 9, "4": 16, "5": 6}),
    ],
)
def test_cis_versions_have_every_control(fid: str, total: int, automated: int, sections: dict[str, int]) -> None:
    fw = load_framework(fid)
    assert len(fw.controls) == total
    assert sum(c.automated for c in fw.controls) == automated
    assert {s.id: sum(c.section == s.id for c in fw.controls) for s in fw.sections} == sections
    assert all(c.verify and c.title and c.level in (1, 2) for c in fw.controls)


def test_cross_version_equivalents_point_at_real_v7_controls() -> None:
    v7 = {c.id for c in load_framework("cis-7.0").controls}
    for fid in ("cis-5.0", "cis-3.0"):
        for c in load_framework(fid).controls:
            assert all(e in v7 for e in c.cis_7_0), (fid, c.id)
    assert load_framework("cis-5.0").control("1.9").cis_7_0 == ("2.10",)
    assert load_framework("cis-3.0").control("2.2.1").cis_7_0 == ("6.1.1",)


@pytest.mark.parametrize("fid", ["soc2", "pci-4.0", "hipaa"])
def test_mapping_frameworks_load_and_map_onto_v7(fid: str) -> None:
    fw = load_framework(fid)
    assert fw.kind == "mapping" and fw.cis_version == "7.0"
    assert len(fw.controls) >= 15
    for c in fw.controls:
        assert c.cis_7_0 and c.title and c.verify.startswith("CIS ")


def test_every_framework_id_loads() -> None:
    assert set(FRAMEWORK_IDS) == {"cis-7.0", "cis-5.0", "cis-3.0", "soc2", "pci-4.0", "hipaa"}
    for fid in FRAMEWORK_IDS:
        assert load_framework(fid).id == fid


def test_unknown_framework_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown framework 'cis-9.9'"):
        load_framework("cis-9.9")


def test_bad_framework_file_names_the_control_and_field() -> None:
    doc = {"id": "x", "name": "X", "kind": "cis", "cis_version": "7.0", "sections": [{"id": "1", "name": "IAM"}],
           "controls": [{"id": "1.1", "title": "t", "section": "1", "level": 3, "assessment": "automated", "verify": "v"}]}
    with pytest.raises(ConfigError, match=r"x.toml: control 1.1: level must be 1 or 2"):
        parse_framework(doc, "x.toml")
    doc["controls"][0]["level"] = 1
    doc["controls"][0]["section"] = "9"
    with pytest.raises(ConfigError, match="section '9' is not declared"):
        parse_framework(doc, "x.toml")


def test_control_status_precedence_and_scores() -> None:
    scan = make_scan()
    ev = evaluate(load_framework("cis-7.0"), scan.results, scan.checks)
    by_id = {c.control.id: c for c in ev.controls}
    assert by_id["2.10"].status is Status.FAIL and by_id["2.10"].failed == 1 and by_id["2.10"].passed == 1
    assert by_id["2.10"].severity == "high"
    assert by_id["3.1.4"].status is Status.FAIL and by_id["3.1.4"].severity == "critical"
    assert by_id["6.3"].status is Status.PASS
    assert by_id["5.16"].status is Status.NOT_EVALUATED
    assert by_id["4.6"].status is Status.PASS
    # unclaimed controls are MANUAL with what a person must verify
    assert by_id["2.8"].status is Status.MANUAL and "14 characters" in by_id["2.8"].reason
    assert (ev.total.passed, ev.total.failed, ev.total.not_evaluated, ev.total.manual) == (2, 2, 1, 65)
    assert ev.total.percent == 40.0
    iam = next(s for s in ev.sections if s.id == "2")
    assert (iam.failed, iam.manual, iam.percent) == (1, 25, 0.0)


def test_partial_pass_with_not_evaluated_is_not_a_pass() -> None:
    scan = make_scan()
    from tests.compliance.reports.sample import r, sg

    scan.results.append(r("ec2_sg_ssh_open", Status.NOT_EVALUATED, sg("", "eu-west-1"), "region disabled", "eu-west-1"))
    ev = evaluate(load_framework("cis-7.0"), scan.results, scan.checks)
    assert next(c for c in ev.controls if c.control.id == "6.3").status is Status.NOT_EVALUATED


def test_claimed_check_with_no_results_is_not_evaluated() -> None:
    scan = make_scan(results=[])
    ev = evaluate(load_framework("cis-7.0"), scan.results, scan.checks)
    c = next(c for c in ev.controls if c.control.id == "2.10")
    assert c.status is Status.NOT_EVALUATED and "no results from iam_user_mfa_console" in c.reason


def test_mapping_framework_aggregates_cis_controls() -> None:
    scan = make_scan()
    ev = evaluate(load_framework("hipaa"), scan.results, scan.checks)
    by_id = {c.control.id: c for c in ev.controls}
    # 164.312(d) person authentication maps onto CIS 2.5/2.6/2.9/2.10: the 2.10 failure fails it
    assert by_id["164.312(d)"].status is Status.FAIL
    assert "iam_user_mfa_console" in by_id["164.312(d)"].check_ids
    # 164.312(a)(2)(iv) encryption maps onto 4.6 (KMS rotation, passing) among others
    assert by_id["164.312(a)(2)(iv)"].check_ids == ["kms_rotation"]
    assert by_id["164.312(a)(2)(iv)"].status is Status.PASS


def test_other_cis_versions_use_their_own_claims() -> None:
    scan = make_scan()
    ev = evaluate(load_framework("cis-3.0"), scan.results, METAS)
    by_id = {c.control.id: c for c in ev.controls}
    assert by_id["1.10"].status is Status.FAIL and by_id["5.2"].status is Status.PASS
