"""CSV: one row per (check, resource) result, then one row per MANUAL control (what a person must verify).

Cells that a spreadsheet would run as a formula (leading = + - @, tab, CR) are prefixed with a quote:
resource names come from AWS and may be chosen by an attacker.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from cloudwarden.compliance.checks.base import Status
from cloudwarden.compliance.report import ReportData
from cloudwarden.compliance.results import result_uid

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_FORMULA_START) else s


def header(data: ReportData) -> list[str]:
    fw_cols = [ev.framework.id for ev in data.evaluations]
    return [
        "scan_id", "time", "account_id", "region", "check_id", "check_title", "service", "severity", "status",
        "resource_type", "resource_arn", "reason", *fw_cols, "remediation", "finding_uid",
    ]  # fmt: skip


def iter_csv(data: ReportData) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def flush() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    w.writerow(header(data))
    t = data.scan.finished_at.isoformat()
    for r in data.scan.results:
        meta = data.meta(r)
        reqs = data.requirements(r.check_id)
        row = [
            data.scan.scan_id, t, r.account_id, r.region, r.check_id, meta.title, meta.service, meta.severity,
            r.status.value, r.resource_type or meta.resource_type, r.resource_arn, r.reason,
            *(";".join(reqs.get(ev.framework.id, [])) for ev in data.evaluations),
            meta.remediation, result_uid(r),
        ]  # fmt: skip
        w.writerow([safe_cell(c) for c in row])
        if buf.tell() > 1 << 16:
            yield flush()
    for ev in data.evaluations:
        for c in ev.by_status(Status.MANUAL):
            cols = ["" for _ in data.evaluations]
            cols[data.evaluations.index(ev)] = c.control.id
            row = [
                data.scan.scan_id, t, "", "", "", c.control.title, "", "", Status.MANUAL.value, "", "",
                c.control.verify, *cols, "", "",
            ]  # fmt: skip
            w.writerow([safe_cell(x) for x in row])
    yield flush()
