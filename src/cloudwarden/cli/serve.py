"""`cloudwarden serve`: the API, the dashboard and the scheduler in one process."""

from __future__ import annotations

from typing import Any

import typer

from cloudwarden.cli.common import cli_errors, console, settings


def ensure_admin(ctx: Any) -> str | None:
    """Create the first admin when there are no users; returns its password (shown once) or None."""
    from cloudwarden.server.auth_store import generate_password

    if ctx.auth.list_users():
        return None
    password = generate_password()
    ctx.auth.add_user("admin", password, "admin")
    ctx.auth.audit("cloudwarden", "user.add", "admin", "first admin created by serve")
    return password


def run_server(app: Any, host: str, port: int, log_level: str = "info") -> None:
    import uvicorn

    # uvicorn turns SIGINT/SIGTERM into a graceful shutdown: the app's lifespan then stops the scheduler,
    # letting the job in hand finish and leaving queued jobs in the database for the next start.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, proxy_headers=False,
                limit_concurrency=200, timeout_graceful_shutdown=30)


def register(root: typer.Typer) -> None:
    @root.command()
    def serve(
        host: str = typer.Option(None, help="Address to listen on (default from settings: 127.0.0.1)."),
        port: int = typer.Option(None, help="Port (default from settings: 8000)."),
        no_scheduler: bool = typer.Option(False, "--no-scheduler", help="Serve only; do not run scheduled jobs."),
        json_logs: bool = typer.Option(True, "--json-logs/--plain-logs", help="Structured JSON logs on stderr."),
    ) -> None:
        """Run the HTTP API, the web dashboard and the scheduler (scans, CloudTrail polling, baselines, reports)."""
        with cli_errors():
            from cloudwarden.server.app import create_app
            from cloudwarden.server.logs import setup_json_logging

            s = settings()
            if json_logs:
                setup_json_logging(s.log_level)
            if no_scheduler:
                s.server.scheduler_enabled = False
            app = create_app(s)
            password = ensure_admin(app.state.ctx)
            h, p = host or s.server.host, port or s.server.port
            console.print(f"cloudwarden dashboard: [bold]http://{h}:{p}[/bold]")
            if password:
                console.print(f"first admin user: [bold]admin[/bold]  password: [bold]{password}[/bold]  (shown once; change it with `cloudwarden users passwd admin`)")
            if app.state.ingest_status:
                console.print(f"[yellow]note:[/yellow] {app.state.ingest_status}")
            run_server(app, h, p, s.log_level.lower())
