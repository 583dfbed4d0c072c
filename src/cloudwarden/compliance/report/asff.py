"""ASFF (AWS Security Finding Format) for Security Hub BatchImportFindings.

The file is a JSON array of findings; import it in batches of at most 100 with
`aws securityhub batch-import-findings --findings file://chunk.json`, or with `batches()`. Field names,
types and size limits follow the AwsSecurityFinding shape (a test validates every finding against
botocore's model of BatchImportFindings). `Id` is stable across scans so Security Hub updates the same
finding instead of adding a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from cloudwarden.compliance.checks.base import CheckResult, Status
from cloudwarden.compliance.inventory import GLOBAL
from cloudwarden.compliance.report import ReportData
from cloudwarden.compliance.report.ocsf import partition_of
from cloudwarden.compliance.results import result_uid

SCHEMA_VERSION = "2018-10-08"
HOME_REGION = "us-east-1"  # where findings about global resources (IAM, account) are imported
BATCH_LIMIT = 100
SEVERITY_LABELS = {"informational": "INFORMATIONAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "critical": "CRITICAL"}
COMPLIANCE_STATUS = {
    Status.PASS: "PASSED",
    Status.FAIL: "FAILED",
    Status.NOT_EVALUATED: "NOT_AVAILABLE",
    Status.MANUAL: "WARNING",
}
TYPE_PREFIX = "Software and Configuration Checks/Industry and Regulatory Standards/"


def _cut(s: str, n: int) -> str:
    s = s.strip() or "-"
    return s if len(s) <= n else s[: n - 1] + "…"


def _iso(dt: Any) -> str:
    return str(dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z") if hasattr(dt, "strftime") else str(dt)


def finding(data: ReportData, r: CheckResult) -> dict[str, Any]:
    meta = data.meta(r)
    reqs = data.requirements(r.check_id)
    names = {ev.framework.id: ev.framework.name for ev in data.evaluations}
    region = r.region if r.region and r.region != GLOBAL else HOME_REGION
    partition = partition_of(r.resource_arn)
    uid = result_uid(r)
    related = [_cut(f"{names[f]}/{cid}", 256) for f, ids in reqs.items() for cid in ids][:32]
    when = _iso(data.scan.finished_at)
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": _cut(f"cloudwarden/{r.account_id}/{region}/{r.check_id}/{uid}", 512),
        "ProductArn": f"arn:{partition}:securityhub:{region}:{r.account_id}:product/{r.account_id}/default",
        "ProductName": "cloudwarden",
        "CompanyName": "cloudwarden",
        "GeneratorId": _cut(f"cloudwarden/{r.check_id}", 512),
        "AwsAccountId": r.account_id,
        "Types": [_cut(TYPE_PREFIX + (names[f] if f in names else "cloudwarden"), 256) for f in (list(reqs) or ["-"])][:50],
        "CreatedAt": when,
        "UpdatedAt": when,
        "Severity": {"Label": SEVERITY_LABELS.get(meta.severity, "INFORMATIONAL"), "Original": meta.severity},
        "Title": _cut(meta.title, 256),
        "Description": _cut(f"{meta.title}. {r.reason}", 1024),
        "Resources": [
            {
                "Type": _cut(r.resource_type or meta.resource_type or "Other", 256),
                "Id": _cut(r.resource_arn or f"arn:{partition}:::{r.account_id}:", 512),
                "Partition": partition if partition in ("aws", "aws-cn", "aws-us-gov") else "aws",
                "Region": region,
            }
        ],
        "Compliance": {
            "Status": COMPLIANCE_STATUS[r.status],
            **({"RelatedRequirements": related} if related else {}),
        },
        "Workflow": {"Status": "NEW" if r.status is not Status.PASS else "RESOLVED"},
        "RecordState": "ACTIVE",
        "ProductFields": {
            "cloudwarden/CheckId": _cut(r.check_id, 2048),
            "cloudwarden/ScanId": data.scan.scan_id,
            "cloudwarden/Status": r.status.value,
            "cloudwarden/Service": meta.service or "-",
        },
    }
    if meta.remediation:
        rec: dict[str, Any] = {"Text": _cut(meta.remediation, 512)}
        if meta.references:
            rec["Url"] = meta.references[0]
        out["Remediation"] = {"Recommendation": rec}
    return out


def findings(data: ReportData) -> list[dict[str, Any]]:
    return [finding(data, r) for r in data.scan.results]


def batches(items: list[dict[str, Any]], size: int = BATCH_LIMIT) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def iter_asff(data: ReportData) -> Iterator[str]:
    """A JSON array, one finding per element, streamed."""
    yield "["
    for i, r in enumerate(data.scan.results):
        yield ("\n" if i == 0 else ",\n") + orjson.dumps(finding(data, r)).decode()
    yield "\n]\n"
