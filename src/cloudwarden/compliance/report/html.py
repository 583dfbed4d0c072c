"""Self-contained HTML report: one file, inline CSS and JS, no network assets, readable printed to PDF.

Jinja2 autoescaping is on for the whole template: every string that came from AWS (resource names,
reasons, tags) is data, never markup. The filter script only reads `data-*` attributes and toggles
`hidden`; it never builds HTML from strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from cloudwarden import __version__
from cloudwarden.compliance.checks.base import SEVERITIES, CheckResult, Status
from cloudwarden.compliance.drift import Change
from cloudwarden.compliance.report import ReportData
from cloudwarden.compliance.results import severity_rank

DRIFT_LIST_LIMIT = 500  # per drift list; the count is always exact


@dataclass(frozen=True)
class Row:
    status: str
    severity: str
    check_id: str
    title: str
    resource: str
    resource_type: str
    account: str
    region: str
    reason: str
    remediation: str
    references: tuple[str, ...]
    sections: str  # space-separated "framework:section" tokens for the section filter
    requirements: str  # human-readable "cis-7.0 2.10; soc2 CC6.1"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("cloudwarden.compliance.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def _rows(data: ReportData) -> list[Row]:
    section_of: dict[str, dict[str, str]] = {}
    for ev in data.evaluations:
        section_of[ev.framework.id] = {c.id: c.section for c in ev.framework.controls}
    out: list[Row] = []
    order = {Status.FAIL: 0, Status.NOT_EVALUATED: 1, Status.PASS: 2, Status.MANUAL: 3}
    results: list[CheckResult] = sorted(
        data.scan.results,
        key=lambda r: (order[r.status], -severity_rank(data.meta(r).severity), r.check_id, r.resource_arn),
    )
    for r in results:
        meta = data.meta(r)
        reqs = data.requirements(r.check_id)
        tokens = sorted({f"{fid}:{section_of[fid][cid]}" for fid, ids in reqs.items() for cid in ids})
        remediation = meta.remediation or f"No remediation text is defined for check {r.check_id}; see its references."
        out.append(
            Row(
                status=r.status.value,
                severity=meta.severity,
                check_id=r.check_id,
                title=meta.title,
                resource=r.resource_arn,
                resource_type=r.resource_type or meta.resource_type,
                account=r.account_id,
                region=r.region,
                reason=r.reason,
                remediation=remediation,
                references=meta.references,
                sections=" ".join(tokens),
                requirements="; ".join(f"{fid} {', '.join(ids)}" for fid, ids in reqs.items()),
            )
        )
    return out


def _titles(data: ReportData) -> dict[str, str]:
    return {k: m.title for k, m in data.scan.checks.items()}


def iter_html(data: ReportData) -> Iterator[str]:
    rows = _rows(data)
    section_options: list[tuple[str, str]] = []
    for ev in data.evaluations:
        for s in ev.sections:
            section_options.append((f"{ev.framework.id}:{s.id}", f"{ev.framework.id} · {s.id} {s.name}"))
    drift = data.drift

    def cap(items: list[Change]) -> list[Change]:
        return items[:DRIFT_LIST_LIMIT]

    ctx: dict[str, Any] = {
        "scan": data.scan,
        "counts": {k.value: v for k, v in data.scan.counts().items()},
        "evaluations": data.evaluations,
        "rows": rows,
        "severities": list(reversed(SEVERITIES)),
        "statuses": [s.value for s in Status],
        "accounts": sorted({r.account for r in rows}),
        "regions": sorted({r.region for r in rows}),
        "section_options": section_options,
        "drift": drift,
        "drift_lists": None
        if drift is None
        else {
            "new_failures": cap(drift.new_failures),
            "fixed": cap(drift.fixed),
            "status_changes": cap(drift.status_changes),
            "resources_added": drift.resources_added[:DRIFT_LIST_LIMIT],
            "resources_removed": drift.resources_removed[:DRIFT_LIST_LIMIT],
        },
        "drift_limit": DRIFT_LIST_LIMIT,
        "titles": _titles(data),
        "version": __version__,
    }
    # generate() streams the template; the rows are still built up front (small records, not HTML)
    return _env().get_template("report.html.j2").generate(**ctx)
