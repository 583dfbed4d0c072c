"""A rule disabled through the server (dashboard/API) stays quiet in `cloudwarden trail ingest` too."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.config import load_settings
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.toggles import read_disabled
from cloudwarden.server.app import create_app
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f

TAMPERING = "bc36fac4-0036-5116-8d10-5fdf219158b4"  # StopLogging & co.
GUARDDUTY = "ac7d0214-1f19-560b-9cc5-3ee674e32613"  # DeleteDetector & co.
runner = CliRunner()


def _logs(folder: Path, start: int) -> Path:
    recs = [f.event("StopLogging", "cloudtrail.amazonaws.com", event_id=f"00000000-0000-0000-0000-{start + 1:012d}",
                    params={"name": "main"}),
            f.event("DeleteDetector", "guardduty.amazonaws.com", event_id=f"00000000-0000-0000-0000-{start + 2:012d}",
                    params={"detectorId": "abc"})]
    f.write_records(folder / "a.json.gz", recs)
    return folder


def _rule_ids() -> set[str]:
    state = open_store(load_settings().state_url)
    try:
        return {a.rule_id for a in AlertStore(state).list(limit=100)}
    finally:
        state.dispose()


def test_cli_ingest_honours_rules_disabled_through_the_server(tmp_path: Path) -> None:
    settings = load_settings()
    server = create_app(settings, background=False)
    ctx = server.state.ctx
    ctx.auth.add_user("admin", "admin-password-1", "admin")
    headers = {"authorization": f"Bearer {ctx.auth.create_token('admin', 'test')}"}
    r = TestClient(server).post(f"/api/v1/rules/{TAMPERING}/disable", headers=headers)
    assert r.status_code == 200, r.text
    ctx.close()
    assert read_disabled(settings.home_path) == {TAMPERING}

    out = runner.invoke(app, ["trail", "ingest", str(_logs(tmp_path / "one", 0)), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["events"] == 2
    assert _rule_ids() == {GUARDDUTY}  # the other rules still run

    # an explicit override runs everything
    out = runner.invoke(app, ["trail", "ingest", str(_logs(tmp_path / "two", 10)), "--include-disabled", "--json"])
    assert out.exit_code == 0, out.output
    assert _rule_ids() == {GUARDDUTY, TAMPERING}


def test_cli_disable_and_enable_switch_a_rule_for_trail_ingest(tmp_path: Path) -> None:
    out = runner.invoke(app, ["rules", "disable", TAMPERING, "my-own-rule"], terminal_width=250)
    assert out.exit_code == 0, out.output
    assert f"disabled {TAMPERING}\n" in out.output and "my-own-rule (not a built-in rule id" in out.output
    assert read_disabled(load_settings().home_path) == {TAMPERING, "my-own-rule"}
    listed = json.loads(runner.invoke(app, ["rules", "list", "--format", "json"]).stdout)
    on = {r["id"]: r["enabled"] for r in listed["rules"]}
    assert on[TAMPERING] is False and on[GUARDDUTY] is True
    ingested = runner.invoke(app, ["trail", "ingest", str(_logs(tmp_path / "one", 0)), "--json"])
    assert ingested.exit_code == 0, ingested.output
    assert _rule_ids() == {GUARDDUTY}
    out = runner.invoke(app, ["rules", "enable", TAMPERING, "never-disabled"])
    assert out.exit_code == 0 and "never-disabled was not disabled" in out.output
    assert read_disabled(load_settings().home_path) == {"my-own-rule"}
    runner.invoke(app, ["trail", "ingest", str(_logs(tmp_path / "two", 10)), "--json"])
    assert _rule_ids() == {GUARDDUTY, TAMPERING}


def test_cli_disable_refuses_what_is_not_a_rule_id() -> None:
    for bad in ("two\nlines", "with space", ""):
        out = runner.invoke(app, ["rules", "disable", bad])
        assert out.exit_code == 2 and "not a rule id" in out.output
    assert read_disabled(load_settings().home_path) == set()
