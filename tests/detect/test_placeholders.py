"""Sigma `|expand` placeholders: values from settings, a file or the caller; unknown ones are reported."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.detect.engine import RuleSet, load_rules, load_rules_text
from cloudwarden.detect.placeholders import configured, load_file, validate
from cloudwarden.errors import ConfigError
from tests.detect.helpers import hits, rule_yaml

runner = CliRunner(env={"COLUMNS": "300"})
RID = "00000000-0000-4000-8000-00000000e701"

# an admin's console login from outside the office ranges
ADMIN_LOGIN = {
    "sel": {"eventName": "ConsoleLogin", "userIdentity.userName|expand": "%admin_users%"},
    "filter_office": {"sourceIPAddress|startswith|expand": "%office_prefixes%"},
    "condition": "sel and not filter_office",
}
VALUES = {"admin_users": ["alice", "ops-*", "break?glass"], "office_prefixes": ["10.20.", "192.168.7."]}


def login(user: str, ip: str = "203.0.113.9") -> dict[str, Any]:
    return {"eventName": "ConsoleLogin", "userIdentity": {"userName": user}, "sourceIPAddress": ip}


def load(detection: dict[str, Any], placeholders: dict[str, list[str]] | None) -> RuleSet:
    return load_rules_text(rule_yaml(detection, rule_id=RID), placeholders=placeholders)


def test_placeholder_values_replace_the_placeholder_positive_and_negative() -> None:
    rs = load(ADMIN_LOGIN, VALUES)
    assert rs.unsupported == [] and len(rs.rules) == 1
    assert hits(rs, login("alice")) and hits(rs, login("ALICE"))  # case-insensitive like any Sigma string
    assert not hits(rs, login("bob"))  # not an admin
    assert not hits(rs, login("alice", "10.20.3.4")) and not hits(rs, login("alice", "192.168.7.1"))  # office
    assert hits(rs, login("alice", "192.168.8.1"))  # startswith kept: another /24 is outside
    assert not hits(rs, {**login("alice"), "eventName": "GetCallerIdentity"})
    (m,) = rs.match(login("alice"))
    assert "userIdentity.userName='alice'" in m.explanation


def test_wildcards_in_values_keep_their_meaning_and_can_be_escaped() -> None:
    rs = load(ADMIN_LOGIN, VALUES)
    assert hits(rs, login("ops-db")) and hits(rs, login("ops-"))  # '*' in a value
    assert hits(rs, login("break-glass")) and hits(rs, login("breakXglass"))  # '?' is one character
    assert not hits(rs, login("break--glass")) and not hits(rs, login("xops-db"))
    literal = load(ADMIN_LOGIN, {**VALUES, "admin_users": [r"ops-\*"]})
    assert hits(literal, login("ops-*")) and not hits(literal, login("ops-db"))


def test_undefined_placeholder_keeps_the_rule_unsupported_naming_it_and_how_to_define_it() -> None:
    rs = load(ADMIN_LOGIN, {"admin_users": ["alice"]})
    assert rs.rules == []
    ((_src, rid, reason),) = rs.unsupported
    assert rid == RID and "%office_prefixes%" in reason and "%admin_users%" not in reason
    assert "[detect.placeholders]" in reason and "--placeholders" in reason
    both = load(ADMIN_LOGIN, {})
    assert "%admin_users%, %office_prefixes%" in both.unsupported[0][2]


def test_values_are_ored_and_other_modifiers_apply_to_each_value() -> None:
    rs = load({"sel": {"eventName|contains|expand": ["%verbs%", "Snapshot"]}, "condition": "sel"},
              {"verbs": ["Delete", "Stop"]})
    assert hits(rs, {"eventName": "StopLogging"}) and hits(rs, {"eventName": "BatchDeleteImage"})
    assert hits(rs, {"eventName": "CopySnapshot"}) and not hits(rs, {"eventName": "StartLogging"})
    # |all: the expansion is one OR-ed alternative, AND-ed with the other values
    rs_all = load({"sel": {"requestParameters.policy|contains|all|expand": ["%actions%", "Allow"]},
                   "condition": "sel"}, {"actions": ["s3:*", "iam:PassRole"]})
    assert hits(rs_all, {"requestParameters": {"policy": "Allow iam:PassRole"}})
    assert hits(rs_all, {"requestParameters": {"policy": "Allow s3:*"}})
    assert not hits(rs_all, {"requestParameters": {"policy": "Deny iam:PassRole"}})
    assert not hits(rs_all, {"requestParameters": {"policy": "Allow ec2:RunInstances"}})


def test_regex_and_surrounding_text() -> None:
    rs = load({"sel": {"userAgent|re|expand": "^(%tools%)/[0-9]"}, "condition": "sel"}, {"tools": ["pacu", "cloud ?fox"]})
    assert hits(rs, {"userAgent": "pacu/1.2"}) and hits(rs, {"userAgent": "cloudfox/1.0"})
    assert not hits(rs, {"userAgent": "aws-cli/2.15"}) and not hits(rs, {"userAgent": "my-pacu/1"})
    framed = load({"sel": {"userIdentity.arn|expand": "arn:aws:iam::%accounts%:root"}, "condition": "sel"},
                  {"accounts": ["111122223333", "444455556666"]})
    assert hits(framed, {"userIdentity": {"arn": "arn:aws:iam::444455556666:root"}})
    assert not hits(framed, {"userIdentity": {"arn": "arn:aws:iam::999999999999:root"}})


def test_empty_list_matches_nothing_so_an_empty_filter_excludes_nobody() -> None:
    rs = load(ADMIN_LOGIN, {**VALUES, "office_prefixes": []})
    assert hits(rs, login("alice", "10.20.3.4"))
    none = load(ADMIN_LOGIN, {**VALUES, "admin_users": []})
    assert none.unsupported == [] and not hits(none, login("alice"))


def test_long_lists_beyond_pysigmas_query_cap_and_the_index_still_narrows() -> None:
    users = [f"user{i}" for i in range(2000)]  # pySigma's default cap is 200 expansions
    rs = load({"sel": {"eventName|expand": "%apis%", "userIdentity.userName|expand": "%users%"}, "condition": "sel"},
              {"apis": ["ConsoleLogin", "GetSessionToken"], "users": users})
    assert rs.unsupported == []
    assert hits(rs, login("user1999")) and not hits(rs, login("user2000"))
    assert any(f in rs.index_fields for f in ("eq:eventName", "eq:userIdentity.userName"))


def test_expansion_survives_select_and_without() -> None:
    rs = load(ADMIN_LOGIN, VALUES)
    assert hits(rs.select(product="aws"), login("alice"))
    assert hits(rs.without(["some-other-rule"]), login("alice"))


def test_settings_toml_and_placeholders_file_feed_load_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "admin.yml").write_text(rule_yaml(ADMIN_LOGIN, rule_id=RID))
    assert load_rules([rules]).unsupported  # nothing configured yet (load_rules defaults to the settings)
    (tmp_path / "lists.yaml").write_text("placeholders:\n  admin_users: [alice]\n  office_prefixes: ['10.']\n")
    (tmp_path / "cloudwarden.toml").write_text(
        '[detect]\nplaceholders_file = "lists.yaml"\n[detect.placeholders]\noffice_prefixes = ["172.16."]\n')
    rs = load_rules([rules])
    assert rs.unsupported == []
    assert hits(rs, login("alice", "10.1.1.1")) and not hits(rs, login("alice", "172.16.0.9"))  # inline wins
    assert configured(extra_file=tmp_path / "lists.yaml")["office_prefixes"] == ("10.",)  # the file given wins
    monkeypatch.setenv("CLOUDWARDEN_DETECT_PLACEHOLDERS", json.dumps({"admin_users": ["carol"]}))
    assert configured()["admin_users"] == ("carol",)
    assert load_rules([rules], placeholders={}).unsupported  # an explicit mapping is taken as is


def test_placeholder_files_and_bad_values_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('admins = ["a", "b"]\nports = [22, 3389]\n')
    assert load_file(tmp_path / "p.toml") == {"admins": ("a", "b"), "ports": ("22", "3389")}
    (tmp_path / "p.json").write_text('{"admins": "root"}')
    assert load_file(tmp_path / "p.json") == {"admins": ("root",)}
    (tmp_path / "bad.yml").write_text("admins: [a, {b: c}]\n")
    with pytest.raises(ConfigError, match="value #2") as info:
        load_file(tmp_path / "bad.yml")
    assert "bad.yml" in str(info.value)
    (tmp_path / "broken.toml").write_text("admins = [")
    with pytest.raises(ConfigError, match="does not parse"):
        load_file(tmp_path / "broken.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_file(tmp_path / "absent.yml")
    with pytest.raises(ConfigError, match="without the % signs"):
        validate({"%admins%": ["a"]}, "x")
    with pytest.raises(ConfigError, match="table"):
        validate(["a"], "x")


def test_rules_check_cli_lists_the_undefined_placeholder_then_accepts_the_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    examples = {"positive": [login("ops-1")], "negative": [login("bob"), login("alice", "10.20.0.1")]}
    (rules / "admin.yml").write_text(rule_yaml(ADMIN_LOGIN, rule_id=RID) + "x-examples: " + json.dumps(examples) + "\n")
    bad = runner.invoke(app, ["rules", "check", str(rules)])
    assert bad.exit_code == 1
    assert RID in bad.output and "%admin_users%" in bad.output and "1 unsupported" in bad.output
    (tmp_path / "lists.yml").write_text(json.dumps(VALUES))
    ok = runner.invoke(app, ["rules", "check", str(rules), "--placeholders", str(tmp_path / "lists.yml")])
    assert ok.exit_code == 0, ok.output
    assert "1 rule(s) supported, 0 unsupported, 3 example(s) passed, 0 failed" in ok.output
    listed = runner.invoke(app, ["rules", "list", str(rules), "--builtin", "none", "--format", "json",
                                 "--placeholders", str(tmp_path / "lists.yml")])
    assert listed.exit_code == 0 and [r["id"] for r in json.loads(listed.stdout)["rules"]] == [RID]
    tested = runner.invoke(app, ["rules", "test", str(rules), "--builtin", "none", "--no-require",
                                 "--placeholders", str(tmp_path / "lists.yml")])
    assert tested.exit_code == 0, tested.output
    broken = runner.invoke(app, ["rules", "check", str(rules), "--placeholders", str(tmp_path / "none.yml")])
    assert broken.exit_code == 2 and "none.yml" in broken.output


@pytest.mark.parametrize("workers", [1, 2])
def test_trail_ingest_placeholders_file_reaches_the_rules(tmp_path: Path, workers: int) -> None:
    from cloudwarden.config import load_settings
    from cloudwarden.detect.alert_store import AlertStore
    from cloudwarden.store.state import open_store
    from tests.cloudtrail import factory as f

    rules = tmp_path / "rules"
    rules.mkdir()
    detection = {"sel": {"eventName": "ListBuckets", "sourceIPAddress|expand": "%watched_ips%"}, "condition": "sel"}
    (rules / "watch.yml").write_text(rule_yaml(detection, rule_id=RID))
    logs = tmp_path / "logs"
    f.write_records(logs / "a.json.gz", [f.event(event_id=f"e{i}", ip=f"198.51.100.{i}") for i in range(6)])
    f.write_records(logs / "b.json.gz", [f.event(event_id=f"g{i}", ip=f"198.51.100.{i}") for i in range(6, 9)])
    (tmp_path / "ips.toml").write_text('watched_ips = ["198.51.100.2", "198.51.100.7"]\n')
    args = ["trail", "ingest", str(logs), "--rules", str(rules), "--no-builtin-rules", "--json", "--workers", str(workers)]
    out = runner.invoke(app, [*args, "--placeholders", str(tmp_path / "ips.toml")])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.stdout)
    assert summary["rules"] == 1 and summary["rules_unsupported"] == 0
    store = AlertStore(open_store(load_settings().state_url))
    got = store.list(rule_id=RID)
    assert sum(a.count for a in got) == 2  # .2 and .7, nothing else
    assert "CLOUDWARDEN_PLACEHOLDERS_EXTRA_FILE" not in os.environ  # restored after the run
    bad = runner.invoke(app, [*args, "--placeholders", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2 and "missing.toml" in bad.output
