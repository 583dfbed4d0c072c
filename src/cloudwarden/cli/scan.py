"""`cloudwarden scan`: audit AWS accounts against CIS (and SOC 2 / PCI DSS / HIPAA through it).

    cloudwarden scan --regions us-east-1 --framework cis-7.0 --format ocsf --out findings.jsonl
    cloudwarden scan --every 1h --format html --out reports/   (Ctrl-C: stop after the scan in hand; twice: abort)
    cloudwarden scan list
    cloudwarden scan diff [SCAN] [--against OLDER]

Exit codes: 0 no failing control at or above --fail-on; 3 failing (or not evaluated) controls at or above
it; 2 the scan could not run (no credentials, bad options).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich import box
from rich.table import Table
from rich.text import Text

from cloudwarden.cli.common import EXIT_ERROR, cli_errors, console, err_console, settings, state_store
from cloudwarden.compliance.drift import Change, Drift, diff
from cloudwarden.compliance.report import FORMATS
from cloudwarden.compliance.report.terminal import ScanProgress, print_summary
from cloudwarden.compliance.service import (
    FAIL_ON_CHOICES,
    ScanOutcome,
    ScanRequest,
    finish_scan,
    normalise_frameworks,
    parse_duration,
    parse_regions,
    run_scan,
)
from cloudwarden.compliance.store import ScanStore
from cloudwarden.errors import ConfigError
from cloudwarden.stopping import TwoStepStop, stop_on_signals

app = typer.Typer(
    help="Scan AWS accounts for CIS compliance (also mapped to SOC 2, PCI DSS 4.0, HIPAA).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _formats(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for raw in values or ["terminal"]:
        for f in raw.split(","):
            f = f.strip().lower()
            if f not in FORMATS:
                raise ConfigError(f"unknown format {f!r}; choose from {', '.join(FORMATS)}", source="--format")
            if f not in out:
                out.append(f)
    return out


def _report_outcome(outcome: ScanOutcome, formats: list[str], to_stdout: bool = False) -> None:
    if "terminal" in formats:
        # with --out - the report owns standard output, so the summary goes to standard error
        print_summary(outcome.data, err_console if to_stdout else console)
    else:
        c = outcome.data.scan.counts()
        counts = {k.value: v for k, v in c.items()}
        err_console.print(
            f"scan {outcome.data.scan.scan_id[:12]}: {len(outcome.data.scan.results)} results "
            f"({counts['PASS']} pass, {counts['FAIL']} fail, {counts['NOT_EVALUATED']} not evaluated)",
            markup=False,
            highlight=False,
        )
    for fmt, path in outcome.written.items():
        if str(path) != "-":
            err_console.print(f"wrote {fmt}: {path}", markup=False, highlight=False)
    if outcome.blocking:
        n_fail = sum(1 for _, c in outcome.blocking if c.status.value == "FAIL")
        n_ne = len(outcome.blocking) - n_fail
        err_console.print(
            f"{n_fail} failing and {n_ne} not-evaluated control(s) at or above the --fail-on threshold (exit 3)",
            markup=False,
            highlight=False,
        )


@app.callback(invoke_without_command=True)
def scan(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(help="AWS profile (default credential chain when omitted).")] = None,
    regions: Annotated[str | None, typer.Option(help="Comma-separated regions; default every enabled region.")] = None,
    framework: Annotated[
        list[str] | None,
        typer.Option("--framework", "-f", help="cis-7.0 | cis-5.0 | cis-3.0 | soc2 | pci-4.0 | hipaa (repeatable)."),
    ] = None,
    org_role: Annotated[str | None, typer.Option(help="Scan every Organization member account through this role.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS-compatible endpoint (moto_server, LocalStack).")] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="terminal | ocsf | csv | html | asff | json (repeatable; default terminal)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output file (one file format), directory, or - for standard output.")] = None,
    every: Annotated[str | None, typer.Option(help="Scan again every interval (30s, 15m, 1h) until stopped (Ctrl-C: after the scan in hand; twice: at once).")] = None,
    fail_on: Annotated[
        str, typer.Option(help=f"Lowest control severity that makes the exit code 3: {' | '.join(FAIL_ON_CHOICES)}.")
    ] = "informational",
    store: Annotated[bool, typer.Option(help="Store the scan in the state database (needed for drift).")] = True,
) -> None:
    """Scan, store the results, print a summary and write the requested reports."""
    if ctx.invoked_subcommand is not None:
        return
    with cli_errors():
        s = settings()
        formats = _formats(fmt)
        if fail_on not in FAIL_ON_CHOICES:
            raise ConfigError(f"must be one of {', '.join(FAIL_ON_CHOICES)}", source="--fail-on")
        req = ScanRequest(
            frameworks=normalise_frameworks(framework or []),
            regions=parse_regions(regions) or list(s.aws.regions),
            profile=profile or s.aws.profile or None,
            endpoint_url=endpoint_url or s.aws.endpoint_url or None,
            org_role=org_role or s.aws.org_role or None,
            max_workers=s.aws.max_workers,
        )
        interval = parse_duration(every) if every else None
        scan_store = ScanStore(state_store(s)) if store else None
        default_dir = s.home_path / "reports"

        def once() -> int:
            with ScanProgress(err_console, enabled="terminal" in formats) as bars:
                record = run_scan(req, progress=bars.update)
            outcome = finish_scan(
                record, store=scan_store, formats=formats, out=out, default_dir=default_dir, fail_on=fail_on
            )
            _report_outcome(outcome, formats, to_stdout=out is not None and str(out) == "-")
            return outcome.exit_code

        if interval is None:
            raise typer.Exit(once())

        code = 0
        try:  # Ctrl-C: stop after the scan in hand (its reports written); twice: abort
            with stop_on_signals(TwoStepStop()) as stop:
                while not stop.requested:
                    started = time.monotonic()
                    code = once()
                    if stop.requested:
                        break
                    wait = max(0.0, interval - (time.monotonic() - started))
                    err_console.print(f"next scan in {wait:.0f}s (Ctrl-C to stop)", markup=False, highlight=False)
                    stop.sleep(wait)
        except KeyboardInterrupt:
            err_console.print("aborted during a scan", markup=False, highlight=False)
        err_console.print("stopped", markup=False, highlight=False)
        raise typer.Exit(code)


def _store() -> ScanStore:
    return ScanStore(state_store(settings()))


@app.command("list")
def list_scans(
    limit: Annotated[int, typer.Option(help="How many scans, newest first.")] = 20,
    scope: Annotated[str | None, typer.Option(help="Only scans of this scope key.")] = None,
) -> None:
    """List stored scans, newest first."""
    with cli_errors():
        rows = _store().list(scope, limit)
        if not rows:
            console.print("no stored scans")
            return
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("id", "scan", "finished (UTC)"):
            t.add_column(col, no_wrap=True)
        t.add_column("pass/fail/n.e.", justify="right", no_wrap=True)
        for col in ("accounts", "regions", "frameworks"):
            t.add_column(col, overflow="fold", ratio=1)
        for r in rows:
            accts = ", ".join(r.accounts[:3]) + (f" (+{len(r.accounts) - 3})" if len(r.accounts) > 3 else "")
            t.add_row(
                str(r.id), r.scan_uid[:8], r.finished_at.strftime("%Y-%m-%d %H:%M"),
                f"{r.passed}/{r.failed}/{r.not_evaluated}", Text(accts), Text(", ".join(r.regions) or "*"), ", ".join(r.frameworks),
            )  # fmt: skip
        console.print(t)


def _change_rows(title: str, changes: list[Change], limit: int) -> Table:
    t = Table(title=f"{title} ({len(changes)})", title_justify="left")
    for col in ("check", "resource", "account", "region", "before", "now", "reason"):
        t.add_column(col)
    for c in changes[:limit]:
        t.add_row(
            c.check_id, Text(c.resource_arn), c.account_id, c.region, c.before.value if c.before else "new",
            c.after.value if c.after else "gone", Text(c.reason),
        )  # fmt: skip
    return t


def _drift_json(d: Drift) -> bytes:
    def ch(c: Change) -> dict[str, object]:
        return {"uid": c.uid, "check_id": c.check_id, "account_id": c.account_id, "region": c.region,
                "resource_arn": c.resource_arn, "before": c.before.value if c.before else None,
                "after": c.after.value if c.after else None, "reason": c.reason}  # fmt: skip

    doc = {
        "previous_scan": d.previous_id,
        "current_scan": d.current_id,
        "summary": d.summary(),
        "new_failures": [ch(c) for c in d.new_failures],
        "fixed": [ch(c) for c in d.fixed],
        "status_changes": [ch(c) for c in d.status_changes],
        "resources_added": [vars(r) for r in d.resources_added],
        "resources_removed": [vars(r) for r in d.resources_removed],
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


@app.command("diff")
def diff_cmd(
    scan_ref: Annotated[str | None, typer.Argument(metavar="SCAN", help="Scan id or uid prefix (default: the newest).")] = None,
    against: Annotated[str | None, typer.Option(help="Compare with this scan instead of the previous one of the same scope.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the drift as JSON.")] = False,
    limit: Annotated[int, typer.Option(help="Rows per table.")] = 50,
) -> None:
    """What changed since the previous scan of the same scope: new failures, fixed, resources added/removed."""
    with cli_errors():
        st = _store()
        current = st.get(scan_ref) if scan_ref else st.latest()
        if current is None:
            err_console.print("no stored scans: run `cloudwarden scan` first")
            raise typer.Exit(EXIT_ERROR)
        previous = st.get(against) if against else st.previous(current)
        if previous is None:
            if as_json:
                sys.stdout.write(_drift_json(diff(None, current.results, current_id=current.scan_id)).decode() + "\n")
                return
            console.print(f"scan {current.scan_id[:12]} is the first of its scope: nothing to compare with")
            return
        d = diff(previous.results, current.results, previous_id=previous.scan_id, current_id=current.scan_id)
        if as_json:
            sys.stdout.write(_drift_json(d).decode() + "\n")
            return
        s = d.summary()
        console.print(
            Text.assemble(
                ("Drift ", "bold"), (previous.scan_id[:12], "cyan"), " -> ", (current.scan_id[:12], "cyan"), ": ",
                (f"{s['new_failures']} new failures", "red"), ", ", (f"{s['fixed']} fixed", "green"), ", ",
                f"{s['status_changes']} status changes, {s['resources_added']} resources added, "
                f"{s['resources_removed']} removed",
            )
        )
        if d.new_failures:
            console.print(_change_rows("New failures", d.new_failures, limit))
        if d.fixed:
            console.print(_change_rows("Fixed", d.fixed, limit))
        others = [c for c in d.status_changes if c not in d.fixed and c.uid not in {x.uid for x in d.new_failures}]
        if others:
            console.print(_change_rows("Other status changes", others, limit))
        for title, items in (("Resources added", d.resources_added), ("Resources removed", d.resources_removed)):
            if items:
                t = Table("resource", "account", "region", title=f"{title} ({len(items)})", title_justify="left")
                for r in items[:limit]:
                    t.add_row(Text(r.arn), r.account_id, r.region)
                console.print(t)


@app.command("prune")
def prune_cmd(
    keep: Annotated[int, typer.Option(help="Scans to keep per scope (newest first; at least 1).")] = 100,
) -> None:
    """Delete old stored scans, keeping the newest KEEP of each scope."""
    with cli_errors():
        n = _store().prune(keep)
        console.print(f"deleted {n} old scan(s)", markup=False, highlight=False)
