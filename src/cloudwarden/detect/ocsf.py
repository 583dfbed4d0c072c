"""OCSF Detection Finding (class_uid 2004, OCSF 1.3) rendered from a stored alert (or a fresh Alert)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloudwarden import __version__
from cloudwarden.detect.alert_store import StoredAlert
from cloudwarden.models.alert import Alert

OCSF_VERSION = "1.3.0"
SEVERITY_ID = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
STATUS = {"new": (1, "New"), "acknowledged": (2, "In Progress"), "resolved": (4, "Resolved")}
ANALYTIC_TYPE = {  # OCSF analytic.type_id: 1 Rule, 2 Behavioral, 3 Statistical
    "cloudtrail": (1, "Rule"), "host": (1, "Rule"), "compliance": (1, "Rule"),
    "baseline-cloud": (2, "Behavioral"), "baseline-host": (2, "Behavioral"),
}

# MITRE ATT&CK enterprise tactics
TACTICS = {
    "TA0001": "Initial Access", "TA0002": "Execution", "TA0003": "Persistence", "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion", "TA0006": "Credential Access", "TA0007": "Discovery", "TA0008": "Lateral Movement",
    "TA0009": "Collection", "TA0010": "Exfiltration", "TA0011": "Command and Control", "TA0040": "Impact",
    "TA0042": "Resource Development", "TA0043": "Reconnaissance",
}
# techniques our rules and baselines name: id -> (name, tactic id)
TECHNIQUES = {
    "T1078": ("Valid Accounts", "TA0001"), "T1078.004": ("Valid Accounts: Cloud Accounts", "TA0001"),
    "T1098": ("Account Manipulation", "TA0003"), "T1098.001": ("Account Manipulation: Additional Cloud Credentials", "TA0003"),
    "T1098.003": ("Account Manipulation: Additional Cloud Roles", "TA0004"),
    "T1136": ("Create Account", "TA0003"), "T1136.003": ("Create Account: Cloud Account", "TA0003"),
    "T1556": ("Modify Authentication Process", "TA0006"),
    "T1556.006": ("Modify Authentication Process: Multi-Factor Authentication", "TA0006"),
    "T1562": ("Impair Defenses", "TA0005"), "T1562.001": ("Impair Defenses: Disable or Modify Tools", "TA0005"),
    "T1562.007": ("Impair Defenses: Disable or Modify Cloud Firewall", "TA0005"),
    "T1562.008": ("Impair Defenses: Disable or Modify Cloud Logs", "TA0005"),
    "T1530": ("Data from Cloud Storage", "TA0009"), "T1537": ("Transfer Data to Cloud Account", "TA0010"),
    "T1485": ("Data Destruction", "TA0040"), "T1486": ("Data Encrypted for Impact", "TA0040"),
    "T1578": ("Modify Cloud Compute Infrastructure", "TA0005"),
    "T1578.002": ("Modify Cloud Compute Infrastructure: Create Cloud Instance", "TA0005"),
    "T1552": ("Unsecured Credentials", "TA0006"), "T1552.005": ("Unsecured Credentials: Cloud Instance Metadata API", "TA0006"),
    "T1555": ("Credentials from Password Stores", "TA0006"),
    "T1555.006": ("Credentials from Password Stores: Cloud Secrets Management Stores", "TA0006"),
    "T1580": ("Cloud Infrastructure Discovery", "TA0007"), "T1526": ("Cloud Service Discovery", "TA0007"),
    "T1201": ("Password Policy Discovery", "TA0007"), "T1484": ("Domain or Tenant Policy Modification", "TA0004"),
    "T1666": ("Modify Cloud Resource Hierarchy", "TA0005"), "T1599": ("Network Boundary Bridging", "TA0005"),
    "T1110": ("Brute Force", "TA0006"), "T1059": ("Command and Scripting Interpreter", "TA0002"),
    "T1021.004": ("Remote Services: SSH", "TA0008"), "T1548": ("Abuse Elevation Control Mechanism", "TA0004"),
    "T1053.003": ("Scheduled Task/Job: Cron", "TA0003"), "T1105": ("Ingress Tool Transfer", "TA0011"),
}


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _attacks(attack_ids: list[str]) -> list[dict[str, Any]]:
    out = []
    for tid in attack_ids:
        name, tactic = TECHNIQUES.get(tid, (tid, ""))
        if tid not in TECHNIQUES and "." in tid:
            name, tactic = TECHNIQUES.get(tid.split(".")[0], (tid, ""))
        item: dict[str, Any] = {"version": "v15", "technique": {"uid": tid, "name": name}}
        if tactic:
            item["tactic"] = {"uid": tactic, "name": TACTICS[tactic]}
        out.append(item)
    return out


def to_ocsf(alert: StoredAlert | Alert) -> dict[str, Any]:
    """One OCSF 2004 record. Works on a stored alert (with id, status) and on a not-yet-stored Alert."""
    stored = isinstance(alert, StoredAlert)
    status = alert.status if isinstance(alert, StoredAlert) else "new"
    status_id, status_name = STATUS.get(status, (99, status))
    activity_id, activity_name = (3, "Close") if status == "resolved" else ((2, "Update") if alert.count > 1 else (1, "Create"))
    analytic_type_id, analytic_type = ANALYTIC_TYPE.get(alert.source, (99, "Other"))
    group_key = alert.key if isinstance(alert, StoredAlert) else alert.key()
    uid = f"cloudwarden:{alert.id}" if isinstance(alert, StoredAlert) else f"cloudwarden:{group_key}"
    record: dict[str, Any] = {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 2004 * 100 + activity_id,
        "type_name": f"Detection Finding: {activity_name}",
        "time": _ms(alert.last_seen),
        "start_time": _ms(alert.first_seen),
        "end_time": _ms(alert.last_seen),
        "count": alert.count,
        "severity_id": SEVERITY_ID.get(alert.severity, 0),
        "severity": alert.severity.capitalize(),
        "status_id": status_id,
        "status": status_name,
        "is_alert": True,
        "message": alert.explanation,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": uid,
            "product": {"name": "cloudwarden", "vendor_name": "cloudwarden", "version": __version__},
            "labels": [alert.source],
        },
        "finding_info": {
            "uid": uid,
            "title": alert.title,
            "desc": alert.explanation,
            "types": [alert.source, alert.rule_id],
            "first_seen_time": _ms(alert.first_seen),
            "last_seen_time": _ms(alert.last_seen),
            "analytic": {"uid": alert.rule_id, "name": alert.title, "type_id": analytic_type_id, "type": analytic_type},
            "attacks": _attacks(list(alert.attack_ids)),
        },
        "evidences": [{"data": ev} for ev in alert.evidence],
        "unmapped": {"entity": alert.entity, "group_key": group_key, "evidence_ids": list(alert.evidence_ids)},
    }
    if alert.account or alert.region:
        record["cloud"] = {"provider": "AWS", "account": {"uid": alert.account}, "region": alert.region}
    if alert.host:
        record["device"] = {"uid": alert.host, "hostname": alert.host, "type_id": 0}
    if alert.members:
        record["resources"] = [{"uid": m} for m in alert.members]
    elif alert.entity:
        record["resources"] = [{"uid": alert.entity}]
    if alert.anomaly is not None:
        record["anomaly_analyses"] = [alert.anomaly] if isinstance(alert.anomaly, dict) else list(alert.anomaly)
    if stored and isinstance(alert, StoredAlert):
        if alert.assignee:
            record["assignee"] = {"name": alert.assignee}
        if alert.comments:
            record["comment"] = alert.comments[-1].text
    return record
