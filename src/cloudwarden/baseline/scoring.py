"""Signals, incidents, severity and the sentence a person reads.

A detector emits `Signal`s (one observed deviation each). Signals about the same entity close in time form
an `Incident`; its score is the strongest signal's sensitivity × strength, raised by each additional
independent family that agrees (a new API *and* a new ASN is stronger evidence than either). Incidents
under `min_score` are learned silently; the rest become `Alert`s with an OCSF anomaly analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudwarden.models.alert import Alert, Evidence

SEVERITIES = (("critical", 0.8), ("high", 0.6), ("medium", 0.4), ("low", 0.0))


@dataclass(slots=True)
class Signal:
    family: str  # independent evidence kind: api | source | region | client | error | trust | credential | estate | rate | recon | sequence | geo | launch | comm | server | priv | interactive | volume | newhost
    detector: str  # e.g. "first-seen:principal-api"
    item: tuple[str, ...]  # the behaviour: (kind, value...) -- what feedback teaches
    sensitivity: float  # how much this kind of behaviour matters, 0..1
    strength: float  # how unusual it is for the entity and its group, 0..1
    text: str  # a clause: "called kms:ScheduleKeyDeletion for the first time"
    time: float
    event_id: str = ""
    peers: int = 0  # size of the peer group consulted (0: none)
    peers_with: int = 0  # how many peers have it
    baseline: str = ""  # what was expected, for the OCSF baselines list

    @property
    def weight(self) -> float:
        return self.sensitivity * self.strength


@dataclass
class Incident:
    source: str  # baseline-cloud | baseline-host
    entity: str
    label: str  # short human name of the entity: "role deploy-ci", "host web-1"
    account: str = ""
    region: str = ""
    host: str = ""
    group: str = ""  # peer group / cluster id
    group_size: int = 0
    members: list[str] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    attack_ids: list[str] = field(default_factory=list)

    @property
    def first(self) -> float:
        return min(s.time for s in self.signals)

    @property
    def last(self) -> float:
        return max(s.time for s in self.signals)


def families(signals: list[Signal]) -> set[str]:
    return {s.family for s in signals if s.weight > 0.05}


def score(signals: list[Signal]) -> float:
    """max(sensitivity × strength) × (0.6 + 0.2 per extra agreeing independent family), capped at 1.

    One kind of evidence alone tops out at "medium"; "critical" needs several independent families.
    """
    if not signals:
        return 0.0
    best = max(s.weight for s in signals)
    extra = max(0, len(families(signals)) - 1)
    return min(1.0, best * (0.6 + 0.2 * extra))


def severity(value: float) -> str:
    for name, floor in SEVERITIES:
        if value >= floor:
            return name
    return "low"


def _dedupe_texts(signals: list[Signal]) -> list[str]:
    ordered = sorted(signals, key=lambda s: -s.weight)
    texts: list[str] = []
    for s in ordered:
        if s.text not in texts:
            texts.append(s.text)
    return texts


def sentence(incident: Incident, limit: int = 4) -> str:
    """'role deploy-ci called kms:ScheduleKeyDeletion for the first time; none of its 11 peers ever has; ...'"""
    texts = _dedupe_texts(incident.signals)
    shown = texts[:limit]
    more = len(texts) - len(shown)
    who = incident.label
    if incident.members and len(incident.members) > 1:
        who = f"{len(incident.members)} hosts of group {incident.group} ({', '.join(incident.members[:6])}{'…' if len(incident.members) > 6 else ''})"
    body = "; ".join(shown)
    if more > 0:
        body += f"; and {more} more deviation{'s' if more > 1 else ''}"
    return f"{who} {body}."


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def anomaly_analysis(incident: Incident, value: float) -> dict[str, Any]:
    """The OCSF `anomaly_analysis` object (analysis_targets, anomalies, baselines, context)."""
    anomalies = []
    baselines = []
    for s in sorted(incident.signals, key=lambda s: -s.weight):
        anomalies.append(
            {
                "observation_parameter": s.item[0],
                "observation_type": s.detector,
                "observations": [{"value": "|".join(s.item[1:]), "timespan": {"start_time_dt": _iso(s.time)}}],
            }
        )
        if s.baseline:
            baselines.append(
                {
                    "observation_parameter": s.item[0],
                    "observation_type": s.detector,
                    "observations": [{"value": s.baseline}],
                }
            )
    target_type = "Host" if incident.source == "baseline-host" else "User"
    targets = [{"name": incident.entity, "type": target_type}]
    if incident.group:
        targets.append({"name": incident.group, "type": "Peer Group"})
    return {
        "analysis_targets": targets,
        "anomalies": anomalies[:50],
        "baselines": baselines[:50],
        "context": f"score={value:.2f}; families={','.join(sorted(families(incident.signals)))}",
    }


def to_alert(incident: Incident, value: float, window: int = 3600) -> Alert:
    first, last = incident.first, incident.last
    top = max(incident.signals, key=lambda s: s.weight)
    detector = "baseline:" + ("host-group" if incident.source == "baseline-host" else "cloud-principal")
    members = sorted(incident.members) if incident.members else []
    title_entity = f"{len(members)} hosts of group {incident.group}" if len(members) > 1 else incident.label
    evidence: list[Evidence] = [
        {
            "detector": s.detector,
            "family": s.family,
            "item": list(s.item),
            "sensitivity": round(s.sensitivity, 3),
            "strength": round(s.strength, 3),
            "text": s.text,
            "event_id": s.event_id,
            "time": _iso(s.time),
            "peers": s.peers,
            "peers_with": s.peers_with,
        }
        for s in sorted(incident.signals, key=lambda s: -s.weight)[:50]
    ]
    evidence.extend(incident.evidence[:10])
    return Alert(
        rule_id=detector,
        title=f"Unusual behaviour: {title_entity} ({top.detector})",
        severity=severity(value),
        source=incident.source,
        explanation=sentence(incident),
        first_seen=datetime.fromtimestamp(first, UTC),
        last_seen=datetime.fromtimestamp(last, UTC),
        entity=incident.entity,
        account=incident.account,
        region=incident.region,
        host=incident.host,
        attack_ids=list(incident.attack_ids),
        evidence=evidence,
        evidence_ids=sorted(set(incident.event_ids)),
        group_key=f"{detector}|{incident.group or incident.entity}|{'+'.join(members) or incident.entity}|{int(first // window)}",
        count=len(incident.signals),
        anomaly=anomaly_analysis(incident, value),
        members=members,
    )
