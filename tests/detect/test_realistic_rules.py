"""A folder of realistic rules (SigmaHQ style, our own text) in tests/detect/rules: AWS and Linux
(auditd keywords, process_creation, network_connection, file_event), filters `filter_main_*` /
`1 of filter_optional_*`, regex with flags, cidr negation, base64offset, windash, contains|all, null,
a cross-file value_count correlation, and three rules the engine must refuse with a reason."""

from __future__ import annotations

from pathlib import Path

from cloudwarden.detect.engine import load_rules
from cloudwarden.detect.examples import run_examples

RULES = Path(__file__).parent / "rules"


def test_realistic_rule_folder() -> None:
    rs = load_rules([RULES])
    assert len(rs.rules) == 8
    reasons = {rid[-3:]: why for _src, rid, why in rs.unsupported}
    assert set(reasons) == {"0f1", "0f2", "0f3"}
    assert "expand" in reasons["0f1"] and "pipe syntax" in reasons["0f2"] and "extended" in reasons["0f3"]
    results = run_examples(rs, require=True)
    assert len(results) == 26
    assert [f"{r.rule.title} {r.kind}#{r.index}: {r.detail}" for r in results if not r.ok] == []
    products = {r.logsource.product for r in rs.rules if r.kind == "single"}
    assert products == {"aws", "linux"}
