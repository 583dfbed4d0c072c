"""The alert grouping window is a setting (`alerts.group_window_minutes`): ingest, with or without workers,
groups with it, including the workers' own folding (a worker folding with the default hour would merge
firings a shorter window keeps apart)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudwarden.cli.main import app
from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.config import load_settings
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.grouping import GroupWindow
from cloudwarden.errors import ConfigError
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f

STOP = "cloudtrail.amazonaws.com"


def _stop_logging(minutes: list[int]) -> list[dict[str, object]]:
    """StopLogging by one user at these minutes after noon, one record each."""
    out = []
    for i, m in enumerate(minutes):
        out.append(f.event("StopLogging", STOP, event_id=f"evt-{i:04d}", time=f"2026-01-01T{12 + m // 60:02d}:{m % 60:02d}:00Z",
                           params={"name": "org-trail"}))
    return out


def _alert_counts(tmp_path: Path, name: str, records: list[dict[str, object]], window_s: float, workers: int) -> list[int]:
    logs = tmp_path / name
    half = len(records) // 2  # two files of several records: each worker folds a file's firings itself
    f.write_records(logs / "a.json.gz", records[:half])
    f.write_records(logs / "b.json.gz", records[half:])
    state = open_store(f"sqlite:///{tmp_path / (name + '.db')}")
    ingest(str(logs), Lake(tmp_path / (name + "-lake")), state, IngestOptions(workers=workers, group_window=GroupWindow(timedelta(seconds=window_s))))
    counts = sorted(a.count for a in AlertStore(state).list(limit=100) if a.title.startswith("CloudTrail logging"))
    state.dispose()
    return counts


@pytest.mark.parametrize("workers", [1, 2])
def test_ingest_groups_with_the_configured_window(tmp_path: Path, workers: int) -> None:
    spaced = _stop_logging([0, 30, 60, 90])  # every 30 minutes
    assert _alert_counts(tmp_path, "hour", spaced, 3600, workers) == [4]
    assert _alert_counts(tmp_path, "ten", spaced, 600, workers) == [1, 1, 1, 1]
    hours_apart = _stop_logging([0, 180, 360])
    assert _alert_counts(tmp_path, "hours", hours_apart, 3600, workers) == [1, 1, 1]
    assert _alert_counts(tmp_path, "day", hours_apart, 86400, workers) == [3]


def test_the_setting_reaches_trail_ingest_and_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().alerts.group_window() == GroupWindow(timedelta(hours=1))
    logs = tmp_path / "logs"
    for i, rec in enumerate(_stop_logging([0, 180, 360])):
        f.write_records(logs / f"{i}.json.gz", [rec])
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_MINUTES", "1440")
    assert load_settings().alerts.group_window().default == timedelta(days=1)
    result = CliRunner().invoke(app, ["trail", "ingest", str(logs), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["alerts_stored"] == 1
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_MINUTES", "0")
    with pytest.raises(ConfigError, match="group_window_minutes"):
        load_settings().alerts.group_window()
    bad = CliRunner().invoke(app, ["trail", "ingest", str(logs)])
    assert bad.exit_code == 2 and "group_window_minutes" in bad.output


TAMPERING = "bc36fac4-0036-5116-8d10-5fdf219158b4"  # "CloudTrail logging stopped, deleted or reconfigured"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_rule_with_its_own_window_groups_apart_from_the_default(tmp_path: Path, workers: int) -> None:
    records = _stop_logging([0, 180, 360])
    logs = tmp_path / "logs"
    f.write_records(logs / "a.json.gz", records[:2])
    f.write_records(logs / "b.json.gz", records[2:])
    other = [f.event("CreateUser", "iam.amazonaws.com", event_id=f"cu-{i}", time=f"2026-01-01T{12 + 3 * i:02d}:00:00Z",
                     params={"userName": f"u{i}"}) for i in range(3)]
    f.write_records(logs / "c.json.gz", other)
    state = open_store(f"sqlite:///{tmp_path / 's.db'}")
    window = GroupWindow(timedelta(hours=1), {TAMPERING: timedelta(days=1), "no-such-rule": timedelta(days=2)})
    summary = ingest(str(logs), Lake(tmp_path / "lake"), state, IngestOptions(workers=workers, group_window=window))
    # a window for an id no loaded rule has is reported (a typo would otherwise change nothing, silently)
    assert [p for p in summary.problems if "group_window_by_rule" in p[1]] == [
        ("settings", "alerts.group_window_by_rule", "no loaded rule has id 'no-such-rule': its window applies to nothing")]
    alerts = AlertStore(state).list(limit=100)
    tampering = [a.count for a in alerts if a.rule_id == TAMPERING]
    created = sorted(a.count for a in alerts if a.title.startswith("IAM user created"))
    state.dispose()
    assert tampering == [3]  # three hours apart, within its day
    assert created == [1, 1, 1]  # the same spacing under the default hour stays apart


def test_the_store_joins_with_each_rules_window(tmp_path: Path) -> None:
    from tests.detect.test_alert_store import alert

    state = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store = AlertStore(state, window=GroupWindow(timedelta(minutes=10), {"slow": timedelta(hours=2)}))
    for minute in (0, 60, 120):
        store.add([alert(f"s{minute}", minute, rule="slow"), alert(f"q{minute}", minute, rule="quick")])
    by_rule = {}
    for a in store.list(limit=10):
        by_rule.setdefault(a.rule_id, []).append(a.count)
    state.dispose()
    assert by_rule == {"slow": [3], "quick": [1, 1, 1]}


def test_per_rule_windows_are_read_from_the_file_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cloudwarden.toml"
    config.write_text('[alerts]\ngroup_window_minutes = 30\n[alerts.group_window_by_rule]\n"noisy-rule" = 1440\n')
    got = load_settings(config).alerts.group_window()
    assert got.default == timedelta(minutes=30) and got.for_alert("noisy-rule", "high") == timedelta(days=1)
    assert got.for_alert("other", "high") == timedelta(minutes=30) and got.widest == timedelta(days=1)
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_RULE", "a=5, b=120")
    env = load_settings(config).alerts.group_window()
    assert env.by_rule == {"a": timedelta(minutes=5), "b": timedelta(hours=2)}
    for bad in ("a", "a=0", "a=x", "=5", "a=50000"):
        monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_RULE", bad)
        with pytest.raises(ConfigError, match="group_window_by_rule"):
            load_settings(config).alerts.group_window()
    monkeypatch.delenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_RULE")
    config.write_text('[alerts.group_window_by_rule]\n"noisy-rule" = "a day"\n')
    with pytest.raises(ConfigError, match="group_window_by_rule.noisy-rule"):
        load_settings(config).alerts.group_window()


def test_severity_windows_apply_to_every_rule_of_that_severity_and_a_rule_window_wins(tmp_path: Path,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cloudwarden.toml"
    config.write_text('[alerts.group_window_by_severity]\nlow = 1440\n[alerts.group_window_by_rule]\n"quiet-low" = 10\n')
    got = load_settings(config).alerts.group_window()
    assert got.for_alert("any", "low") == timedelta(days=1) and got.for_alert("any", "high") == timedelta(hours=1)
    assert got.for_alert("quiet-low", "low") == timedelta(minutes=10)  # the rule's own window wins
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_SEVERITY", "informational=2880")
    assert load_settings(config).alerts.group_window().by_severity == {"informational": timedelta(days=2)}
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_SEVERITY", "urgent=60")
    with pytest.raises(ConfigError, match="unknown severity 'urgent'"):
        load_settings(config).alerts.group_window()
    monkeypatch.setenv("CLOUDWARDEN_ALERTS_GROUP_WINDOW_BY_SEVERITY", "low=0")
    with pytest.raises(ConfigError, match="group_window_by_severity.low"):
        load_settings(config).alerts.group_window()

    from tests.detect.test_alert_store import alert

    state = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store = AlertStore(state, window=GroupWindow(timedelta(minutes=10), by_severity={"low": timedelta(hours=2)}))
    for minute in (0, 60, 120):
        store.add([alert(f"l{minute}", minute, rule="r-low", severity="low"),
                   alert(f"h{minute}", minute, rule="r-high", severity="high")])
    counts: dict[str, list[int]] = {}
    for a in store.list(limit=10):
        counts.setdefault(a.rule_id, []).append(a.count)
    state.dispose()
    assert counts == {"r-low": [3], "r-high": [1, 1, 1]}
