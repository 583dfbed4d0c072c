"""Evaluate a framework over a scan's results: a status per control, scores per section and overall.

Control status, in order of precedence:
- MANUAL: no registered check claims the control (the report shows what a person must verify);
- FAIL: any resource failed any claiming check;
- NOT_EVALUATED: some claiming check could not be evaluated (or produced no result at all), and none
  failed. A partial pass is never reported as PASS;
- PASS: every result of every claiming check passed.

Score = passed / (passed + failed + not_evaluated) controls; MANUAL controls are listed, not scored.
NOT_EVALUATED counts against the score on purpose: what could not be checked is not compliant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cloudwarden.compliance.checks.base import CheckMeta, CheckResult, Status
from cloudwarden.compliance.frameworks import Control, Framework
from cloudwarden.compliance.results import severity_rank


@dataclass
class ControlEvaluation:
    control: Control
    status: Status
    check_ids: list[str]
    passed: int = 0  # resource results
    failed: int = 0
    not_evaluated: int = 0
    severity: str = "informational"  # highest severity among failing checks (else among claiming checks)
    reason: str = ""
    failures: list[CheckResult] = field(default_factory=list)


@dataclass
class Score:
    id: str
    name: str
    passed: int = 0
    failed: int = 0
    not_evaluated: int = 0
    manual: int = 0

    @property
    def scored(self) -> int:
        return self.passed + self.failed + self.not_evaluated

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.passed / self.scored, 1) if self.scored else None

    def add(self, status: Status) -> None:
        if status is Status.PASS:
            self.passed += 1
        elif status is Status.FAIL:
            self.failed += 1
        elif status is Status.NOT_EVALUATED:
            self.not_evaluated += 1
        else:
            self.manual += 1


@dataclass
class FrameworkEvaluation:
    framework: Framework
    controls: list[ControlEvaluation]
    sections: list[Score]
    total: Score

    def by_status(self, status: Status) -> list[ControlEvaluation]:
        return [c for c in self.controls if c.status is status]

    def controls_for_check(self, check_id: str) -> list[str]:
        return [c.control.id for c in self.controls if check_id in c.check_ids]


def evaluate(framework: Framework, results: Iterable[CheckResult], checks: Mapping[str, CheckMeta]) -> FrameworkEvaluation:
    claims = framework.claims(checks.values())
    by_check: dict[str, list[CheckResult]] = {}
    for r in results:
        by_check.setdefault(r.check_id, []).append(r)

    sections = {s.id: Score(s.id, s.name) for s in framework.sections}
    total = Score(framework.id, framework.name)
    out: list[ControlEvaluation] = []
    for control in framework.controls:
        check_ids = claims.get(control.id, [])
        ev = ControlEvaluation(control, Status.MANUAL, check_ids)
        if not check_ids:
            ev.reason = control.verify
        else:
            silent: list[str] = []
            for cid in check_ids:
                rs = by_check.get(cid, [])
                if not rs:
                    silent.append(cid)
                for r in rs:
                    if r.status is Status.PASS:
                        ev.passed += 1
                    elif r.status is Status.FAIL:
                        ev.failed += 1
                        ev.failures.append(r)
                    elif r.status is Status.NOT_EVALUATED:
                        ev.not_evaluated += 1
            failing_checks = sorted({r.check_id for r in ev.failures})
            pool = failing_checks or check_ids
            ev.severity = max((checks[c].severity for c in pool if c in checks), key=severity_rank, default="informational")
            if ev.failed:
                ev.status = Status.FAIL
                ev.reason = f"{ev.failed} failing resource(s) in {', '.join(failing_checks)}"
            elif ev.not_evaluated or silent:
                ev.status = Status.NOT_EVALUATED
                parts = []
                if ev.not_evaluated:
                    parts.append(f"{ev.not_evaluated} result(s) could not be evaluated")
                if silent:
                    parts.append(f"no results from {', '.join(silent)}")
                ev.reason = "; ".join(parts)
            else:
                ev.status = Status.PASS
                ev.reason = f"{ev.passed} resource(s) passed"
        sections.setdefault(control.section, Score(control.section, framework.section_name(control.section))).add(ev.status)
        total.add(ev.status)
        out.append(ev)
    return FrameworkEvaluation(framework, out, list(sections.values()), total)


def evaluate_all(
    framework_ids: Iterable[str], results: list[CheckResult], checks: Mapping[str, CheckMeta]
) -> list[FrameworkEvaluation]:
    from cloudwarden.compliance.frameworks import load_framework

    return [evaluate(load_framework(fid), results, checks) for fid in framework_ids]


def controls_by_check(evaluations: Iterable[FrameworkEvaluation]) -> dict[str, dict[str, list[str]]]:
    """check id -> framework id -> control ids it evaluates (for OCSF/CSV/ASFF requirement lists)."""
    out: dict[str, dict[str, list[str]]] = {}
    for ev in evaluations:
        for c in ev.controls:
            for cid in c.check_ids:
                out.setdefault(cid, {}).setdefault(ev.framework.id, []).append(c.control.id)
    return out
