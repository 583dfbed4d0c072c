"""Every Automated control of each supported CIS version must be evaluated by some registered check."""

from __future__ import annotations

import pytest

from cloudwarden.compliance.checks.base import all_checks
from cloudwarden.compliance.frameworks import load_framework


@pytest.mark.parametrize("fid", ["cis-7.0", "cis-5.0", "cis-3.0"])
def test_every_automated_cis_control_is_claimed_by_a_check(fid: str) -> None:
    fw = load_framework(fid)
    claims = fw.claims(c.meta for c in all_checks().values())
    missing = [f"{c.id} ({c.title})" for c in fw.controls if c.automated and not claims[c.id]]
    assert not missing, f"{fid}: {len(missing)} Automated control(s) no check claims:\n  " + "\n  ".join(missing)


@pytest.mark.parametrize("fid", ["cis-7.0", "cis-5.0", "cis-3.0"])
def test_checks_only_claim_controls_that_exist(fid: str) -> None:
    fw = load_framework(fid)
    known = {c.id for c in fw.controls}
    bad = sorted(
        f"{m.meta.id} -> {cid}" for m in all_checks().values() for cid in m.meta.cis.get(fw.cis_version, []) if cid not in known
    )
    assert not bad, f"{fid}: checks claim unknown control ids: {bad}"
