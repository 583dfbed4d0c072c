"""Report formats of a compliance scan: terminal summary, OCSF JSON Lines, CSV, HTML, ASFF, JSON.

Every renderer takes one `ReportData` (the scan, its framework evaluations, and the drift against the
previous scan of the same scope) so they all tell the same story. `write_reports` picks file names.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cloudwarden.compliance.checks.base import CheckMeta, CheckResult
from cloudwarden.compliance.drift import Drift, diff
from cloudwarden.compliance.frameworks.evaluate import FrameworkEvaluation, controls_by_check, evaluate_all
from cloudwarden.compliance.results import ScanRecord
from cloudwarden.errors import ConfigError

FORMATS = ("terminal", "ocsf", "csv", "html", "asff", "json")
FILE_FORMATS = ("ocsf", "csv", "html", "asff", "json")
STDOUT = Path("-")
EXTENSIONS = {"ocsf": ".ocsf.jsonl", "csv": ".csv", "html": ".html", "asff": ".asff.json", "json": ".json"}


@dataclass
class ReportData:
    scan: ScanRecord
    evaluations: list[FrameworkEvaluation]
    drift: Drift | None = None  # None: no earlier scan of this scope
    previous: ScanRecord | None = None

    def __post_init__(self) -> None:
        self._by_check = controls_by_check(self.evaluations)

    def requirements(self, check_id: str) -> dict[str, list[str]]:
        """framework id -> control ids this check evaluates, in the scan's framework order."""
        m = self._by_check.get(check_id, {})
        return {ev.framework.id: m[ev.framework.id] for ev in self.evaluations if ev.framework.id in m}

    def meta(self, r: CheckResult) -> CheckMeta:
        return self.scan.checks.get(r.check_id) or CheckMeta(
            id=r.check_id, title=r.check_id, service="", severity="informational", resource_type=r.resource_type, remediation=""
        )


def build_report(scan: ScanRecord, previous: ScanRecord | None = None) -> ReportData:
    evaluations = evaluate_all(scan.frameworks, scan.results, scan.checks)
    drift = (
        diff(previous.results, scan.results, previous_id=previous.scan_id, current_id=scan.scan_id)
        if previous is not None
        else None
    )
    return ReportData(scan, evaluations, drift, previous)


def iter_render(data: ReportData, fmt: str) -> Iterator[str]:
    """The report as text chunks, so a large Organization's report streams to its file instead of
    being built in memory as one string."""
    if fmt == "ocsf":
        from cloudwarden.compliance.report.ocsf import iter_ocsf

        return iter_ocsf(data)
    if fmt == "csv":
        from cloudwarden.compliance.report.csv import iter_csv

        return iter_csv(data)
    if fmt == "html":
        from cloudwarden.compliance.report.html import iter_html

        return iter_html(data)
    if fmt == "asff":
        from cloudwarden.compliance.report.asff import iter_asff

        return iter_asff(data)
    if fmt == "json":
        from cloudwarden.compliance.report.jsonreport import iter_json

        return iter_json(data)
    raise ConfigError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}", source="--format")


def render(data: ReportData, fmt: str) -> str:
    return "".join(iter_render(data, fmt))


def output_paths(formats: list[str], out: Path | None, default_dir: Path, stem: str) -> dict[str, Path]:
    """Where each file format goes. `out` names a file when exactly one file format is asked for and it
    has a file extension (findings.jsonl) and is not an existing directory; otherwise it is a directory."""
    files = [f for f in formats if f in FILE_FORMATS]
    if not files:
        return {}
    if out is not None and str(out) == "-":
        if len(files) > 1:
            raise ConfigError("--out - (standard output) takes exactly one file format", source="--out")
        return {files[0]: STDOUT}
    if out is not None and len(files) == 1 and out.suffix and not out.is_dir() and not str(out).endswith(("/", "\\")):
        return {files[0]: out}
    folder = out if out is not None else default_dir
    return {f: folder / f"{stem}{EXTENSIONS[f]}" for f in files}


def write_reports(data: ReportData, paths: dict[str, Path]) -> dict[str, Path]:
    """Write each format atomically (temp file + rename) so a reader never sees half a report."""
    written: dict[str, Path] = {}
    for fmt, path in paths.items():
        chunks = iter_render(data, fmt)
        if path == STDOUT:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
            written[fmt] = path
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        written[fmt] = path
    return written


__all__ = ["EXTENSIONS", "FILE_FORMATS", "FORMATS", "ReportData", "build_report", "iter_render", "output_paths", "render", "write_reports"]
