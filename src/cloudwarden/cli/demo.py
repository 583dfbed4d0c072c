"""`cloudwarden demo`: a simulated AWS account on moto_server, scanned, with every report written.

Composable steps live in `cloudwarden.demo.compliance`; other parts of the demo (CloudTrail and host
history replay, the dashboard) chain onto the same `simulated_account` context.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from cloudwarden.cli.common import EXIT_OK, cli_errors, console, err_console, settings, state_store
from cloudwarden.compliance.report.terminal import ScanProgress, print_summary


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    out: Annotated[Path | None, typer.Option(help="Where to write the reports (default ./cloudwarden-demo or $CLOUDWARDEN_HOME/demo).")] = None,
    serve: Annotated[bool | None, typer.Option("--serve/--no-serve", help="After the scan, replay the estate's CloudTrail and host history and run the dashboard (default: when the output is a terminal).")] = None,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8000,
) -> None:
    """Start a simulated AWS account (moto_server on 127.0.0.1), seed a small company, scan it, write every report."""
    from cloudwarden.demo.compliance import demo_dir, scan_demo_account, simulated_account

    with cli_errors():
        s = settings()
        out_dir = (out or demo_dir(s)).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        state = state_store(s)
        console.print(Text("Starting a simulated AWS account (moto_server on 127.0.0.1) and seeding Acme Analytics...", style="bold"))
        with simulated_account(out_dir) as account:
            seeded = account.seeded
            console.print(
                f"  {len(seeded['iam_users'])} IAM users, {len(seeded['iam_roles'])} roles, "
                f"{len({b for names in seeded['buckets'].values() for b in names})} buckets, "
                f"{len(seeded['vpcs'])} VPCs, {len(seeded['instances'])} instances, {len(seeded['rds'])} RDS instances "
                f"at {account.endpoint_url}",
                markup=False,
                highlight=False,
            )
            with ScanProgress(err_console) as bars:
                outcome = scan_demo_account(account, out_dir, state, progress=bars.update)
            if serve if serve is not None else sys.stdout.isatty():
                # the dashboard runs while moto_server does, so live changes to the account flip the posture
                print_summary(outcome.data, console)
                for fmt, path in outcome.written.items():
                    console.print(f"  {fmt:5} {path}", markup=False, highlight=False)
                _dashboard(s, account, outcome, out_dir, port)
                raise typer.Exit(EXIT_OK)
        console.print("moto_server stopped.", style="dim")
        print_summary(outcome.data, console)
        console.print(Text("Reports:", style="bold"))
        for fmt, path in outcome.written.items():
            console.print(f"  {fmt:5} {path}", markup=False, highlight=False)
        console.print(f"Open {outcome.written['html']} in a browser; `cloudwarden scan list` shows the stored scan.", markup=False, highlight=False)
        raise typer.Exit(EXIT_OK)


def _dashboard(s: Any, account: Any, outcome: Any, out_dir: Path, port: int) -> None:
    """Fill the dashboard with the scan and the estate's history, then serve it (blocks until Ctrl-C)."""
    from cloudwarden.demo import dashboard

    console.print(Text("Filling the dashboard...", style="bold"))
    app = dashboard.build_app(s, account.endpoint_url, account.region)
    dashboard.populate(app.state.ctx, outcome.data.scan, out_dir, console.print)
    dashboard.live_change_later(app.state.ctx, account.endpoint_url, account.region, console.print)
    dashboard.serve(app, "127.0.0.1", port, console.print)
