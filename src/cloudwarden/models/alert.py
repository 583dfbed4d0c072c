"""Alerts: what a person reads. Every alert says why it fired and carries its evidence.

Rules (cloud and host), baselines and compliance drift all produce `Alert`s and hand them to
`cloudwarden.detect.alert_store.AlertStore`, which groups them (same `group_key` within the window
becomes one alert with a count and first/last seen), applies suppressions and stores them. The OCSF
Detection Finding (class_uid 2004) is rendered from an Alert by `cloudwarden.detect.ocsf`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

# An evidence event: the event itself, or (from an ingest worker) the same event already serialised as
# orjson writes it, so the parent process neither unpickles nor re-serialises whole events it only stores.
# JSON columns take both (`store.state.json_text`); `evidence_event` gives the dict either way.
Evidence = dict[str, Any] | bytes
AlertSource = Literal["cloudtrail", "host", "baseline-cloud", "baseline-host", "compliance"]
SEVERITY_ORDER = {"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass
class Alert:
    rule_id: str  # Sigma rule id, baseline detector id, or compliance check id
    title: str
    severity: str  # informational | low | medium | high | critical
    source: str  # AlertSource
    explanation: str  # a sentence a person understands: why this fired
    first_seen: datetime
    last_seen: datetime
    entity: str  # principal ARN, host id, or resource ARN the alert is about
    account: str = ""
    region: str = ""
    host: str = ""
    attack_ids: list[str] = field(default_factory=list)  # MITRE ATT&CK technique ids, e.g. T1562.008
    evidence: list[Evidence] = field(default_factory=list)  # bounded: the store keeps the first N
    evidence_ids: list[str] = field(default_factory=list)  # event ids (all, for idempotency)
    group_key: str = ""  # empty: rule_id|entity|account
    count: int = 1
    anomaly: dict[str, Any] | None = None  # baselines: OCSF anomaly_analyses content
    members: list[str] = field(default_factory=list)  # grouped entities (e.g. the 5 web servers)

    def key(self) -> str:
        return self.group_key or f"{self.rule_id}|{self.entity}|{self.account}"


def evidence_event(ev: Evidence) -> dict[str, Any]:
    """An evidence item as the event dict (decoding one an ingest worker sent serialised)."""
    if isinstance(ev, bytes):
        got = orjson.loads(ev)
        return got if isinstance(got, dict) else {}
    return ev
