"""OCSF 1.3 Compliance Finding (class_uid 2003), one JSON object per line per (check, resource).

`finding_info.uid` is the stable finding uid (check, account, region, resource), so the same finding
keeps its id across scans; `metadata.uid` is unique to this scan's record.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from cloudwarden import __version__
from cloudwarden.compliance.checks.base import CheckResult, Status
from cloudwarden.compliance.inventory import GLOBAL
from cloudwarden.compliance.report import ReportData
from cloudwarden.compliance.results import result_uid

OCSF_VERSION = "1.3.0"
CLASS_UID = 2003
CATEGORY_UID = 2
ACTIVITY_CREATE = 1

SEVERITY_IDS = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_NAMES = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
# OCSF compliance.status_id: 0 Unknown, 1 Pass, 2 Warning, 3 Fail, 99 Other (caption from the source)
COMPLIANCE_STATUS = {
    Status.PASS: (1, "Pass"),
    Status.FAIL: (3, "Fail"),
    Status.NOT_EVALUATED: (99, "Not Evaluated"),
    Status.MANUAL: (2, "Warning"),
}


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def resource_name(arn: str) -> str:
    tail = arn.split(":", 5)[-1] if arn.count(":") >= 5 else arn
    return tail.rsplit("/", 1)[-1] or tail


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"


def finding(data: ReportData, r: CheckResult) -> dict[str, Any]:
    meta = data.meta(r)
    reqs = data.requirements(r.check_id)
    names = {ev.framework.id: ev.framework.name for ev in data.evaluations}
    requirements: list[str] = []
    for ids in reqs.values():
        requirements.extend(i for i in ids if i not in requirements)
    sev_id = SEVERITY_IDS.get(meta.severity, 0)
    cstatus_id, cstatus = COMPLIANCE_STATUS[r.status]
    uid = result_uid(r)
    t = _ms(data.scan.finished_at)
    region = r.region if r.region != GLOBAL else "global"
    return {
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "cloudwarden", "vendor_name": "cloudwarden", "version": __version__, "uid": "cloudwarden"},
            "event_code": r.check_id,
            "uid": f"{data.scan.scan_id}-{uid}",
            "profiles": ["cloud"],
            "correlation_uid": data.scan.scan_id,
        },
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": sev_id,
        "severity": SEVERITY_NAMES[sev_id],
        "status_id": 1,
        "status": "New",
        "time": t,
        "time_dt": data.scan.finished_at.isoformat(),
        "message": r.reason,
        "status_detail": r.reason,
        "finding_info": {
            "uid": uid,
            "title": meta.title,
            "desc": meta.description or meta.title,
            "types": [names[f] for f in reqs] or ["cloudwarden"],
            "created_time": t,
            "product_uid": "cloudwarden",
        },
        "compliance": {
            "standards": [names[f] for f in reqs],
            "requirements": requirements,
            "control": r.check_id,
            "status_id": cstatus_id,
            "status": cstatus,
            "status_code": r.status.value,
            "status_detail": r.reason,
        },
        "resources": [
            {
                "uid": r.resource_arn,
                "name": resource_name(r.resource_arn),
                "type": r.resource_type or meta.resource_type,
                "region": region,
                "cloud_partition": partition_of(r.resource_arn),
                **({"data": r.details} if r.details else {}),
            }
        ],
        "cloud": {
            "provider": "AWS",
            "account": {"uid": r.account_id, "type": "AWS Account", "type_id": 10},
            "region": region,
        },
        "remediation": {"desc": meta.remediation, "references": list(meta.references)},
        "unmapped": {"check_id": r.check_id, "service": meta.service, "scan_id": data.scan.scan_id, "compliance": reqs},
    }


def iter_ocsf(data: ReportData) -> Iterator[str]:
    for r in data.scan.results:
        yield orjson.dumps(finding(data, r), default=str).decode() + "\n"
