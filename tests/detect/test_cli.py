"""`cloudwarden rules ...` and `cloudwarden alerts ...` end to end through the Typer app."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.config import load_settings
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.models.alert import Alert
from cloudwarden.store.state import open_store
from tests.detect.helpers import rule_yaml

runner = CliRunner(env={"COLUMNS": "300"})  # wide: table cells must not wrap
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_rules_list_includes_builtins() -> None:
    result = runner.invoke(app, ["rules", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    titles = {r["title"] for r in data["rules"]}
    assert "CloudTrail logging stopped, deleted or reconfigured" in titles and data["unsupported"] == []
    table = runner.invoke(app, ["rules", "list"])
    assert table.exit_code == 0 and "rule(s)" in table.output


def test_rules_test_runs_builtin_examples() -> None:
    result = runner.invoke(app, ["rules", "test"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output


def test_rules_check_reports_unsupported_and_failing_examples(tmp_path: Path) -> None:
    good = tmp_path / "rules"
    good.mkdir()
    (good / "ok.yml").write_text(rule_yaml({"sel": {"eventName": "StopLogging"}, "condition": "sel"}))
    ok = runner.invoke(app, ["rules", "check", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "1 rule(s) supported, 0 unsupported" in ok.output

    (good / "bad.yml").write_text(rule_yaml({"sel": {"x|expand": "%admins%"}, "condition": "sel"},
                                            rule_id="00000000-0000-4000-8000-0000000000ee"))
    broken_example = rule_yaml({"sel": {"eventName": "DeleteTrail"}, "condition": "sel"}) + \
        "x-examples:\n  positive: [{eventName: StopLogging}]\n  negative: []\n"
    (good / "example.yml").write_text(broken_example)
    bad = runner.invoke(app, ["rules", "check", str(good)])
    assert bad.exit_code == 1
    assert "00000000-0000-4000-8000-0000000000ee" in bad.output and "expand" in bad.output
    assert "FAIL" in bad.output and "did not fire" in bad.output

    missing = runner.invoke(app, ["rules", "check", str(tmp_path / "nope")])
    assert missing.exit_code == 2


def _seed() -> int:
    store = AlertStore(open_store(load_settings().state_url))
    alert = Alert(rule_id="r-1", title="Trail <b>stopped</b>", severity="high", source="cloudtrail",
                  explanation="because [red]markup[/red]", first_seen=T0, last_seen=T0, entity="arn:aws:iam::1:user/eve",
                  account="111122223333", attack_ids=["T1562.008"], evidence=[{"eventID": "e1"}], evidence_ids=["e1"])
    (aid,) = store.add([alert])
    return aid


def test_alerts_list_show_formats() -> None:
    aid = _seed()
    table = runner.invoke(app, ["alerts", "list"])
    assert table.exit_code == 0 and "Trail <b>stopped</b>" in table.output
    js = json.loads(runner.invoke(app, ["alerts", "list", "--format", "json"]).stdout)
    assert js[0]["id"] == aid and js[0]["count"] == 1
    ocsf = json.loads(runner.invoke(app, ["alerts", "list", "--format", "ocsf"]).stdout)
    assert ocsf[0]["class_uid"] == 2004 and ocsf[0]["finding_info"]["analytic"]["uid"] == "r-1"
    shown = runner.invoke(app, ["alerts", "show", str(aid)])
    assert shown.exit_code == 0 and "because [red]markup[/red]" in shown.output
    assert json.loads(runner.invoke(app, ["alerts", "show", str(aid), "--format", "ocsf"]).stdout)["class_uid"] == 2004
    assert runner.invoke(app, ["alerts", "show", "999"]).exit_code == 2
    assert runner.invoke(app, ["alerts", "list", "--severity", "critical", "--format", "json"]).stdout.strip() == "[]"


def test_alerts_triage_and_suppress() -> None:
    aid = _seed()
    assert runner.invoke(app, ["alerts", "ack", str(aid), "--by", "alice", "--comment", "on it"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "assign", str(aid), "bob"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "comment", str(aid), "looks like CI"]).exit_code == 0
    assert runner.invoke(app, ["alerts", "resolve", str(aid), "--by", "bob"]).exit_code == 0
    shown = json.loads(runner.invoke(app, ["alerts", "show", str(aid), "--format", "json"]).stdout)
    assert shown["status"] == "resolved" and shown["assignee"] == "bob" and len(shown["comments"]) == 3
    res = runner.invoke(app, ["alerts", "suppress", "--alert", str(aid), "--reason", "known CI", "--expires", "7d", "--by", "alice"])
    assert res.exit_code == 0, res.output
    sups = json.loads(runner.invoke(app, ["alerts", "suppressions", "--format", "json"]).stdout)
    assert sups[0]["rule_id"] == "r-1" and sups[0]["entity"] == "arn:aws:iam::1:user/eve" and sups[0]["expires_at"]
    assert runner.invoke(app, ["alerts", "suppress", "--reason", "x", "--rule", "r", "--expires", "soon"]).exit_code == 2
    assert runner.invoke(app, ["alerts", "suppress", "--reason", "x"]).exit_code == 2
    assert runner.invoke(app, ["alerts", "unsuppress", str(sups[0]["id"])]).exit_code == 0
    assert runner.invoke(app, ["alerts", "list", "--status", "bogus"]).exit_code == 2
