"""RuleSet.without: disabled rules raise nothing; correlations keep working; the toggles file round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudwarden.detect.engine import Detector
from cloudwarden.detect.toggles import disabled_rules_file, read_disabled, write_disabled
from cloudwarden.errors import ConfigError
from tests.detect.test_correlation import T0, base, corr, ev, ruleset

CORR = "99999999-0000-4000-8000-000000000001"
READ = "11111111-0000-4000-8000-000000000001"
DEL = "11111111-0000-4000-8000-000000000002"


def _ids(det: Detector, events: list[dict[str, object]]) -> list[str]:
    return [a.rule_id for e in events for a in det.process(e, T0)]


def test_disabled_single_rule_is_gone_and_others_stay() -> None:
    rs = ruleset(base("read", "GetSecretValue", generate_id=READ), base("del", "DeleteSecret", generate_id=DEL))
    assert rs.without([]) is rs and rs.without(["no-such-rule"]) is rs
    slim = rs.without([READ])
    assert _ids(Detector(slim), [ev("GetSecretValue"), ev("DeleteSecret")]) == [DEL]
    assert sorted(_ids(Detector(rs), [ev("GetSecretValue"), ev("DeleteSecret")])) == [READ, DEL]  # the original is untouched


def test_disabled_base_rule_still_feeds_an_enabled_correlation() -> None:
    rs = ruleset(base("read", "GetSecretValue", generate_id=READ),
                 corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 2}, generate=True))
    det = Detector(rs.without([READ]))
    assert _ids(det, [ev("GetSecretValue"), ev("GetSecretValue")]) == [CORR]  # no single-rule alerts, the correlation fires


def test_disabled_correlation_keeps_its_silent_rules_silent() -> None:
    rs = ruleset(base("read", "GetSecretValue", generate_id=READ),
                 corr("event_count", ["read"], group_by=["userIdentity.arn"], condition={"gte": 2}, generate=False))
    assert _ids(Detector(rs), [ev("GetSecretValue"), ev("GetSecretValue")]) == [CORR]
    slim = rs.without([CORR])
    assert [r.id for r in slim.rules] == [READ]
    assert _ids(Detector(slim), [ev("GetSecretValue"), ev("GetSecretValue")]) == []


def test_toggles_file_round_trip(tmp_path: Path) -> None:
    assert read_disabled(tmp_path) == set()
    write_disabled(tmp_path, {"b", "a"})
    assert disabled_rules_file(tmp_path).read_text() == "a\nb\n"
    disabled_rules_file(tmp_path).write_text("# comment\n a \n\nb c\n")
    assert read_disabled(tmp_path) == {"a", "b c"}
    disabled_rules_file(tmp_path).write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="disabled-rules"):
        read_disabled(tmp_path)
