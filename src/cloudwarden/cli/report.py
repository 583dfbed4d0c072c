"""`cloudwarden report`: regenerate reports from a stored scan (no AWS calls).

    cloudwarden report                         # newest scan, terminal summary
    cloudwarden report 12 --format html --out audit.html
    cloudwarden report 3f2a --framework pci-4.0 --format csv --out pci.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloudwarden.cli.common import EXIT_ERROR, cli_errors, console, err_console, settings, state_store
from cloudwarden.cli.scan import _formats
from cloudwarden.compliance.report import build_report, output_paths, write_reports
from cloudwarden.compliance.report.terminal import print_summary
from cloudwarden.compliance.service import normalise_frameworks, report_stem
from cloudwarden.compliance.store import ScanStore

# A group (main.py adds it with add_typer) that takes a positional SCAN and options in any order.
app = typer.Typer(
    help="Regenerate reports from a stored scan.",
    invoke_without_command=True,
    no_args_is_help=False,
    context_settings={"allow_interspersed_args": True},
)


@app.callback(invoke_without_command=True)
def report(
    scan_ref: Annotated[str | None, typer.Argument(metavar="SCAN", help="Stored scan id or uid prefix (default: the newest).")] = None,
    fmt: Annotated[list[str] | None, typer.Option("--format", help="terminal | ocsf | csv | html | asff | json (repeatable).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output file (one file format) or directory.")] = None,
    framework: Annotated[list[str] | None, typer.Option("--framework", "-f", help="Report against these frameworks instead of the scan's.")] = None,
) -> None:
    """Render a stored scan again, with the drift against the scan before it of the same scope."""
    with cli_errors():
        s = settings()
        formats = _formats(fmt)
        store = ScanStore(state_store(s))
        scan = store.get(scan_ref) if scan_ref else store.latest()
        if scan is None:
            err_console.print("no stored scans: run `cloudwarden scan` first")
            raise typer.Exit(EXIT_ERROR)
        previous = store.previous(scan)
        if framework:
            scan.frameworks = normalise_frameworks(framework)
        data = build_report(scan, previous)
        if "terminal" in formats:
            print_summary(data, console)
        stem = report_stem(scan)
        written = write_reports(data, output_paths(formats, out, s.home_path / "reports", stem))
        for f, path in written.items():
            err_console.print(f"wrote {f}: {path}", markup=False, highlight=False)
