"""Every control of the Storage, Logging, Monitoring and Networking sections of CIS v7.0, v5.0 and v3.0 is
claimed by at least one check, and every control id our checks claim exists in that version."""

from __future__ import annotations

import pytest

from cloudwarden.compliance.checks.base import all_checks
from cloudwarden.compliance.frameworks import load_framework

# (framework, CIS version, our sections in it)
SECTIONS = [("cis-7.0", "7.0", {"3", "4", "5", "6"}), ("cis-5.0", "5.0", {"2", "3", "4", "5"}),
            ("cis-3.0", "3.0", {"2", "3", "4", "5"})]
OUR_SERVICES = {"s3", "rds", "efs", "macie2", "cloudtrail", "config", "kms", "ec2", "cloudfront", "elb", "elbv2",
                "apigateway", "apigatewayv2", "cloudwatch", "securityhub"}


@pytest.mark.parametrize(("framework_id", "version", "sections"), SECTIONS)
def test_every_control_in_our_sections_is_claimed(framework_id: str, version: str, sections: set[str]) -> None:
    fw = load_framework(framework_id)
    claimed = {cid for c in all_checks().values() for cid in c.meta.cis.get(version, [])}
    ours = [c.id for c in fw.controls if c.section in sections]
    assert ours, f"{framework_id} has no controls in sections {sections}"
    assert [c for c in ours if c not in claimed] == []


@pytest.mark.parametrize(("framework_id", "version", "sections"), SECTIONS)
def test_claimed_ids_exist(framework_id: str, version: str, sections: set[str]) -> None:
    known = {c.id for c in load_framework(framework_id).controls}
    for check in all_checks().values():
        if check.meta.service in OUR_SERVICES:
            for cid in check.meta.cis.get(version, []):
                assert cid in known, f"{check.meta.id} claims {version} {cid}, which that version does not have"
