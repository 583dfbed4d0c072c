"""AWS's IP ranges: parsing, lookups, download from a loopback server, and the instance-credentials rule
that uses them through the derived field `sourceIPAddress.cloudwarden.awsRange`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudwarden.aws import ip_ranges
from cloudwarden.aws.ip_ranges import AwsRanges
from cloudwarden.cli.main import app
from cloudwarden.cloudtrail.ingest import IngestOptions, ingest
from cloudwarden.config import load_settings
from cloudwarden.detect.alert_store import AlertStore
from cloudwarden.detect.engine import load_rules
from cloudwarden.errors import InputError
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import open_store
from tests.cloudtrail import factory as f
from tests.helpers.static_http import serving

# our own small file in AWS's format (the real one has thousands of prefixes)
RANGES = {
    "syncToken": "1767225600", "createDate": "2026-01-01-00-00-00",
    "prefixes": [{"ip_prefix": "54.86.0.0/16", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"},
                 {"ip_prefix": "54.87.0.0/16", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
                 {"ip_prefix": "3.5.0.0/19", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"}],
    "ipv6_prefixes": [{"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}],
}
RULE = "EC2 instance credentials used from an address outside AWS"


def _ranges() -> AwsRanges:
    return AwsRanges.parse(json.dumps(RANGES).encode(), "test")


def test_lookups_at_the_edges_and_merging() -> None:
    r = _ranges()
    assert r.prefixes == 4 and r.created == "2026-01-01-00-00-00"
    assert r.contains("54.86.0.0") and r.contains("54.86.31.15") and r.contains("54.87.255.255")  # merged /15
    assert not r.contains("54.85.255.255") and not r.contains("54.88.0.0")
    assert r.contains("3.5.31.255") and not r.contains("3.5.32.0")
    assert r.contains("2600:1f18::1") and not r.contains("2a00::1")
    assert r.contains("s3.amazonaws.com") is None and r.contains("AWS Internal") is None


@pytest.mark.parametrize(("text", "message"), [
    (b"{not json", "not JSON"),
    (b'{"syncToken": "1"}', "no 'prefixes' list"),
    (b'{"prefixes": [{"ip_prefix": "300.1.1.0/24"}]}', "prefixes[0]: not an IPv4 prefix"),
    (b'{"prefixes": []}', "no IPv4 prefixes"),
])
def test_a_bad_file_is_refused_with_the_reason(text: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        AwsRanges.parse(text, "ranges.json")


def _instance_call(ip: str, eid: str = "evt-i1") -> dict[str, object]:
    ident = f.assumed_role(role="web-instance-role", session="i-0e3f3862c4515219")
    return f.event("PutLogEvents", "logs.amazonaws.com", event_id=eid, identity=ident, ip=ip)


def test_the_rule_skips_aws_addresses_only_when_ranges_are_loaded() -> None:
    rules = load_rules([], include_builtin="cloudtrail")

    def fires(ip: str) -> bool:
        return any(m.rule.title == RULE for m in rules.match(_instance_call(ip)))

    assert fires("54.86.31.15") and fires("198.51.100.7")  # no ranges: the static approximation
    with ip_ranges.activated(_ranges()):
        assert not fires("54.86.31.15")  # the instance's own public address
        assert fires("198.51.100.7")  # somewhere else
        assert not fires("10.0.3.4")  # private, as before
    assert ip_ranges.active() is None


@pytest.fixture
def served() -> Iterator[str]:
    with serving({"/ip-ranges.json": json.dumps(RANGES).encode()}) as url:
        yield url


def test_update_ranges_downloads_and_ingest_uses_them(served: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["trail", "update-ranges", "--url", f"{served}/missing"]).exit_code == 2
    done = runner.invoke(app, ["trail", "update-ranges", "--url", f"{served}/ip-ranges.json"])
    assert done.exit_code == 0, done.output
    cached = load_settings().home_path / ip_ranges.FILE_NAME
    assert cached.exists() and "4 prefixes" in done.output
    assert runner.invoke(app, ["trail", "update-ranges", "--url", "http://198.51.100.1/x"]).exit_code == 2  # not https

    logs = tmp_path / "logs"
    f.write_records(logs / "a.json.gz", [_instance_call("54.86.31.15", "evt-own"), _instance_call("198.51.100.7", "evt-away")])
    summary = json.loads(runner.invoke(app, ["trail", "ingest", str(logs), "--json"]).output)
    assert summary["aws_ranges"] == "2026-01-01-00-00-00"
    store = AlertStore(open_store(load_settings().state_url))
    fired = [a for a in store.list(limit=50) if a.title == RULE]
    assert len(fired) == 1 and fired[0].count == 1
    shown = store.get(fired[0].id)
    assert shown is not None and shown.evidence_ids == ["evt-away"]  # the own-address call did not fire


def test_ingest_without_ranges_says_so_and_workers_see_loaded_ones(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    f.write_records(logs / "a.json.gz", [_instance_call("54.86.31.15", "evt-a")])
    f.write_records(logs / "b.json.gz", [_instance_call("54.86.31.16", "evt-b")])
    path = tmp_path / "ranges.json"
    for name, ranges_path, expected in (("none", "", 2), ("loaded", str(path), 0)):
        if ranges_path:
            path.write_text(json.dumps(RANGES))
        state = open_store(f"sqlite:///{tmp_path / (name + '.db')}")
        summary = ingest(str(logs), Lake(tmp_path / (name + "-lake")), state, IngestOptions(workers=2, aws_ranges_path=ranges_path))
        fired = sum(a.count for a in AlertStore(state).list(limit=50) if a.title == RULE)
        state.dispose()
        assert fired == expected, name
        assert summary.aws_ranges == ("" if not ranges_path else "2026-01-01-00-00-00")
