"""JSON: the whole scan in one document (scan metadata, per-framework scores and control statuses,
every result, drift), for scripts that want more than the per-finding OCSF lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from cloudwarden.compliance.checks.base import CheckResult
from cloudwarden.compliance.frameworks.evaluate import FrameworkEvaluation, Score
from cloudwarden.compliance.report import ReportData
from cloudwarden.compliance.results import result_uid


def _score(s: Score) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "passed": s.passed, "failed": s.failed, "not_evaluated": s.not_evaluated,
            "manual": s.manual, "score": s.percent}  # fmt: skip


def evaluation_dict(ev: FrameworkEvaluation) -> dict[str, Any]:
    return {
        "id": ev.framework.id,
        "name": ev.framework.name,
        "score": _score(ev.total),
        "sections": [_score(s) for s in ev.sections],
        "controls": [
            {
                "id": c.control.id,
                "title": c.control.title,
                "section": c.control.section,
                "level": c.control.level,
                "assessment": c.control.assessment,
                "status": c.status.value,
                "severity": c.severity,
                "checks": c.check_ids,
                "passed": c.passed,
                "failed": c.failed,
                "not_evaluated": c.not_evaluated,
                "reason": c.reason,
            }
            for c in ev.controls
        ],
    }


def result_dict(data: ReportData, r: CheckResult) -> dict[str, Any]:
    return {
        "uid": result_uid(r),
        "check_id": r.check_id,
        "status": r.status.value,
        "severity": data.meta(r).severity,
        "account_id": r.account_id,
        "region": r.region,
        "resource_arn": r.resource_arn,
        "resource_type": r.resource_type,
        "reason": r.reason,
        "details": r.details,
        "requirements": data.requirements(r.check_id),
    }


def report_dict(data: ReportData, with_results: bool = True) -> dict[str, Any]:
    s = data.scan
    return {
        "scan": {
            "id": s.scan_id,
            "stored_id": s.stored_id,
            "scope": s.scope_key,
            "accounts": s.accounts,
            "regions": s.regions,
            "frameworks": s.frameworks,
            "started_at": s.started_at.isoformat(),
            "finished_at": s.finished_at.isoformat(),
            "api_requests": s.api_requests,
            "errors": s.errors,
            "counts": {k.value: v for k, v in s.counts().items()},
        },
        "frameworks": [evaluation_dict(ev) for ev in data.evaluations],
        "drift": None
        if data.drift is None
        else {
            "previous_scan": data.drift.previous_id,
            **data.drift.summary(),
            "new_failures": [c.uid for c in data.drift.new_failures],
            "fixed": [c.uid for c in data.drift.fixed],
        },
        **({"results": [result_dict(data, r) for r in s.results]} if with_results else {}),
    }


def iter_json(data: ReportData) -> Iterator[str]:
    """The document without its results, then the results one by one (streamed; same JSON)."""
    head = orjson.dumps(report_dict(data, with_results=False), option=orjson.OPT_INDENT_2, default=str).decode()
    yield head[: head.rindex("}")].rstrip() + ',\n  "results": ['
    for i, r in enumerate(data.scan.results):
        yield ("\n    " if i == 0 else ",\n    ") + orjson.dumps(result_dict(data, r), default=str).decode()
    yield "\n  ]\n}\n"
