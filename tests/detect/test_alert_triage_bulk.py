"""Alert summary and bulk triage: grouping counts, filters, who and why, refusing an empty filter; on SQLite
and PostgreSQL, and through the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.config import load_settings
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.errors import InputError
from cloudwarden.store.state import open_store
from tests.detect.test_alert_store import T0, _pg_schema_url, alert

runner = CliRunner(env={"COLUMNS": "300"})
ALICE, BOB = "arn:aws:iam::1:user/alice", "arn:aws:iam::1:user/bob"


def _fill(store: AlertStore) -> dict[str, int]:
    """Three rules over two principals; windows apart so each add opens its own alert."""
    ids: dict[str, int] = {}
    n = 0
    for rule, entity, severity, times in (("noisy", ALICE, "low", 5), ("noisy", BOB, "low", 3),
                                          ("trail", ALICE, "high", 1), ("keys", BOB, "medium", 2)):
        for i in range(times):
            n += 1
            (aid,) = store.add([alert(f"{rule}-{entity[-3:]}-{i}", minute=i * 180, rule=rule, entity=entity, severity=severity),
                                alert(f"{rule}-{entity[-3:]}-{i}b", minute=i * 180 + 1, rule=rule, entity=entity, severity=severity)])
            ids[f"{rule}/{entity.rsplit('/', 1)[-1]}/{i}"] = aid
    return ids


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AlertStore:
    url = f"sqlite:///{tmp_path / 'state.db'}" if request.param == "sqlite" else _pg_schema_url()
    return AlertStore(open_store(url))


def test_summary_groups_alerts_and_events_most_alerts_first(store: AlertStore) -> None:
    _fill(store)
    by_rule = store.summary("rule")
    assert [(r["rule_id"], r["alerts"], r["events"], r["open"], r["worst_severity"]) for r in by_rule] == [
        ("noisy", 8, 16, 8, "low"), ("keys", 2, 4, 2, "medium"), ("trail", 1, 2, 1, "high")]
    assert by_rule[0]["title"] == "Trail stopped"
    assert by_rule[0]["last_seen"].startswith((T0 + timedelta(minutes=4 * 180 + 1)).strftime("%Y-%m-%dT%H:%M"))
    by_entity = {r["entity"]: (r["alerts"], r["worst_severity"]) for r in store.summary("entity")}
    assert by_entity == {ALICE: (6, "high"), BOB: (5, "medium")}
    pairs = store.summary("rule-entity", min_severity="medium")
    assert {(r["rule_id"], r["entity"]) for r in pairs} == {("keys", BOB), ("trail", ALICE)}
    with pytest.raises(InputError, match="unknown grouping"):
        store.summary("colour")


def test_bulk_resolve_changes_only_what_the_filters_select_and_says_who_and_why(store: AlertStore) -> None:
    ids = _fill(store)
    store.ack(ids["noisy/alice/0"], "carol")
    assert store.count_changing("resolved", rule_id="noisy", entity=ALICE) == 5  # what the call below will change
    changed = store.set_status_matching("resolved", "dave", "hunting rule, tuned", rule_id="noisy", entity=ALICE)
    assert changed == 5
    assert store.count_changing("resolved", rule_id="noisy", entity=ALICE) == 0
    resolved = store.list(status="resolved", limit=100)
    assert {a.id for a in resolved} == {ids[f"noisy/alice/{i}"] for i in range(5)}
    one = store.get(ids["noisy/alice/0"])
    assert one is not None and one.status_by == "dave" and one.status_comment == "hunting rule, tuned"
    assert [c.text for c in one.comments] == ["[resolved] hunting rule, tuned"]
    assert store.count(status=["new"]) == 6  # bob's noisy alerts, trail, keys untouched
    assert store.summary("rule")[0]["open"] == 3
    assert store.set_status_matching("resolved", "dave", rule_id="noisy", entity=ALICE) == 0  # already resolved
    assert store.set_status_matching("acknowledged", "erin", min_severity="medium") == 3
    with pytest.raises(InputError, match="at least one filter"):
        store.set_status_matching("resolved", "dave")
    with pytest.raises(InputError, match="unknown status"):
        store.set_status_matching("gone", "dave", rule_id="noisy")
    # a resolved alert is not reopened by later events: they open a new alert
    store.add([alert("late", minute=4 * 180 + 30, rule="noisy", entity=ALICE, severity="low")])
    assert store.count(status=["new"], rule_id="noisy", entity=ALICE) == 1


def test_cli_summary_and_bulk_resolve_needs_yes() -> None:
    store = AlertStore(open_store(load_settings().state_url))
    ids = _fill(store)
    table = runner.invoke(app, ["alerts", "summary"])
    assert table.exit_code == 0 and "alerts by rule: 3 group(s)" in table.output and "noisy" in table.output
    rows = json.loads(runner.invoke(app, ["alerts", "summary", "--by", "entity", "--format", "json"]).stdout)
    assert {r["entity"]: r["alerts"] for r in rows} == {ALICE: 6, BOB: 5}
    assert runner.invoke(app, ["alerts", "summary", "--by", "colour"]).exit_code == 2

    dry = runner.invoke(app, ["alerts", "resolve", "--rule", "noisy"])
    assert dry.exit_code == 2 and "8 alert(s) match" in dry.output
    assert store.count(status=["resolved"]) == 0  # nothing changed without --yes
    done = runner.invoke(app, ["alerts", "resolve", "--rule", "noisy", "--by", "ops", "--comment", "tuned", "--yes"])
    assert done.exit_code == 0 and "8 alert(s) resolved by ops" in done.output
    assert store.count(status=["resolved"]) == 8
    assert runner.invoke(app, ["alerts", "ack", "--severity", "high", "--yes"]).exit_code == 0
    trail = store.get(ids["trail/alice/0"])
    assert trail is not None and trail.status == "acknowledged"
    assert runner.invoke(app, ["alerts", "resolve"]).exit_code == 2  # neither an id nor filters
    both = runner.invoke(app, ["alerts", "resolve", str(ids["keys/bob/0"]), "--rule", "keys"])
    assert both.exit_code == 2 and "not both" in both.output
    single = runner.invoke(app, ["alerts", "resolve", str(ids["keys/bob/0"])])
    assert single.exit_code == 0 and f"alert {ids['keys/bob/0']} resolved" in single.output
