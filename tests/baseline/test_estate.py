"""The simulated estate: deterministic, CloudTrail-shaped, labelled, and its attacks caught end to end."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson
import pytest

from cloudwarden.baseline.cloud import CloudBaseline
from cloudwarden.baseline.geo import default_geo
from cloudwarden.baseline.host import HostBaseline
from cloudwarden.cloudtrail.normalize import normalize
from cloudwarden.demo.estate import generate_estate


@pytest.fixture(scope="module")
def estate():  # type: ignore[no-untyped-def]
    return generate_estate(days=28, seed=7, holdout=True)


def test_deterministic_and_shaped_like_cloudtrail(estate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    again = generate_estate(days=28, seed=7, holdout=True)
    assert [r["eventID"] for r in again.cloudtrail_events[:500]] == [r["eventID"] for r in estate.cloudtrail_events[:500]]
    assert generate_estate(days=3, seed=8).cloudtrail_events[0]["eventID"] != estate.cloudtrail_events[0]["eventID"]
    rec = estate.cloudtrail_events[100]
    for key in ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                "userAgent", "requestID", "eventID", "eventType", "recipientAccountId"):
        assert key in rec
    assert all("scenario" not in orjson.dumps(r).decode() for r in estate.cloudtrail_events[:2000])
    paths = estate.write_cloudtrail(tmp_path / "trail", per_file=5000)
    first = paths[0]
    rel = first.relative_to(tmp_path / "trail").parts
    assert rel[0] == "AWSLogs" and rel[1].isdigit() and rel[2] == "CloudTrail" and len(rel) == 8
    assert len(orjson.loads(gzip.decompress(first.read_bytes()))["Records"]) > 0
    kinds = Counter(h.split("-")[0] for h in {e.host_id for e in estate.host_events})
    assert kinds == {"web": 5, "db": 1, "batch": 1, "bastion": 1, "cache": 1}


def test_labels_cover_every_scenario(estate) -> None:  # type: ignore[no-untyped-def]
    names = {s["name"] for s in estate.scenarios}
    assert len(names) == 12 and set(estate.labels.values()) == names
    assert {s["kind"] for s in estate.scenarios} == {"cloud", "host"}
    assert estate.holdout["host"] == "cache-1"


def test_baselines_catch_every_attack_with_few_benign_alerts(estate) -> None:  # type: ignore[no-untyped-def]
    cloud, host = CloudBaseline(geo=default_geo()), HostBaseline()
    for r in estate.cloudtrail_events:
        cloud.process(normalize(r))
    for e in estate.host_events:
        host.process(e)
    alerts = [a for a, _ in cloud.flush()] + [a for a, _ in host.flush()]
    caught = {estate.labels[i] for a in alerts for i in a.evidence_ids if i in estate.labels}
    geo_ok = default_geo().available
    expected = {s["name"] for s in estate.scenarios}
    assert caught == expected if geo_ok else len(caught) >= len(expected) - 2
    benign = [a for a in alerts if not any(i in estate.labels for i in a.evidence_ids)]
    assert len(benign) <= 4  # the fleet change (one grouped alert) and the held-out role/host
    fleet = [a for a in benign if "wkhtmltopdf" in a.explanation]
    assert len(fleet) == 1 and len(fleet[0].members) == 5
