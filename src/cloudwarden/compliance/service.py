"""Scan orchestration shared by the CLI, the demo and (later) the server: run the runner, turn its
ScanRun into a ScanRecord, store it, compare it with the previous scan of the same scope, write reports,
and decide the exit code a CI job sees."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cloudwarden.compliance.checks.base import SEVERITIES, Status
from cloudwarden.compliance.frameworks import FRAMEWORK_IDS, load_framework
from cloudwarden.compliance.frameworks.evaluate import ControlEvaluation
from cloudwarden.compliance.report import ReportData, build_report, output_paths, write_reports
from cloudwarden.compliance.results import ScanRecord, from_run, severity_rank
from cloudwarden.compliance.runner import ProgressFn, ScanOptions, scan
from cloudwarden.compliance.store import ScanStore
from cloudwarden.errors import ConfigError

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_FINDINGS = 3
FAIL_ON_CHOICES = (*SEVERITIES, "never")


@dataclass
class ScanRequest:
    frameworks: list[str] = field(default_factory=lambda: ["cis-7.0"])
    regions: list[str] = field(default_factory=list)
    profile: str | None = None
    endpoint_url: str | None = None
    org_role: str | None = None
    max_workers: int = 16


def report_stem(scan_: ScanRecord) -> str:
    """Report file name without extension: names sort in the order scans finished, even several a second
    (`scan --every 1s`), and two scans never share one."""
    finished = scan_.finished_at
    return f"cloudwarden-{finished.strftime('%Y%m%dT%H%M%S')}{finished.microsecond // 1000:03d}Z-{scan_.scan_id[:8]}"


def normalise_frameworks(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        for v in raw.split(","):
            v = v.strip().lower().replace("_", "-")
            if not v:
                continue
            v = {"cis": "cis-7.0", "pci": "pci-4.0", "soc-2": "soc2"}.get(v, v)
            if v.startswith("cis-") and v.count(".") > 1:
                v = ".".join(v.split(".")[:2])  # cis-7.0.0 -> cis-7.0
            if v not in FRAMEWORK_IDS:
                raise ConfigError(f"unknown framework {raw!r}; choose from {', '.join(FRAMEWORK_IDS)}", source="--framework")
            if v not in out:
                out.append(v)
    return out or ["cis-7.0"]


def parse_regions(values: list[str] | str | None) -> list[str]:
    if not values:
        return []
    items = [values] if isinstance(values, str) else values
    out: list[str] = []
    for raw in items:
        for v in raw.split(","):
            v = v.strip()
            if v and v not in out:
                if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", v):
                    raise ConfigError(f"{v!r} is not an AWS region name (like us-east-1)", source="--regions")
                out.append(v)
    return out


_DURATION = re.compile(r"(\d+)\s*([smhd])")


def parse_duration(text: str) -> float:
    """'15m', '1h', '1h30m', '45s', '1d' -> seconds."""
    t = text.strip().lower()
    parts = _DURATION.findall(t)
    if not parts or _DURATION.sub("", t).strip():
        raise ConfigError(f"invalid interval {text!r}; use e.g. 30s, 15m, 1h, 1h30m, 1d", source="--every")
    seconds = sum(int(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)
    if seconds < 1:
        raise ConfigError("interval must be at least 1s", source="--every")
    return float(seconds)


def runner_framework(frameworks: list[str]) -> str | None:
    """The runner can skip checks no selected framework needs when every framework rests on one CIS version."""
    versions = {load_framework(f).cis_version for f in frameworks}
    return f"cis-{versions.pop()}" if len(versions) == 1 else None


def run_scan(req: ScanRequest, progress: ProgressFn | None = None) -> ScanRecord:
    """Run one scan. Raises CredentialsError / AwsError when nothing can run at all."""
    opts = ScanOptions(
        profile=req.profile or None,
        endpoint_url=req.endpoint_url or None,
        regions=list(req.regions),
        org_role=req.org_role or None,
        max_workers=req.max_workers,
        framework=runner_framework(req.frameworks),
    )
    run = scan(opts, progress=progress)
    return from_run(run, req.frameworks, req.regions)


@dataclass
class ScanOutcome:
    data: ReportData
    written: dict[str, Path]
    exit_code: int
    blocking: list[tuple[str, ControlEvaluation]]


def blocking_controls(data: ReportData, fail_on: str) -> list[tuple[str, ControlEvaluation]]:
    """Controls at or above the threshold that FAIL or could not be evaluated (not a pass either)."""
    if fail_on == "never":
        return []
    if fail_on not in SEVERITIES:
        raise ConfigError(f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}", source="--fail-on")
    floor = severity_rank(fail_on)
    return [
        (ev.framework.id, c)
        for ev in data.evaluations
        for c in ev.controls
        if c.status in (Status.FAIL, Status.NOT_EVALUATED) and severity_rank(c.severity) >= floor
    ]


def exit_code_for(data: ReportData, fail_on: str) -> int:
    scan_ = data.scan
    if not scan_.results and scan_.errors:
        return EXIT_ERROR  # nothing could be scanned (e.g. every account's AssumeRole failed)
    return EXIT_FINDINGS if blocking_controls(data, fail_on) else EXIT_OK


def finish_scan(
    scan_: ScanRecord,
    *,
    store: ScanStore | None,
    formats: list[str],
    out: Path | None,
    default_dir: Path,
    fail_on: str = "informational",
    stem: str | None = None,
) -> ScanOutcome:
    """Store the scan (when a store is given), compare with the previous scan of its scope, write reports."""
    previous = None
    if store is not None:
        store.save(scan_)
        previous = store.previous(scan_)
    data = build_report(scan_, previous)
    stem = stem or report_stem(scan_)
    written = write_reports(data, output_paths(formats, out, default_dir, stem))
    return ScanOutcome(data, written, exit_code_for(data, fail_on), blocking_controls(data, fail_on))
