"""`cloudwarden events ...`: read the event lake (SQL over the `api_activity` / `host_events` views)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cloudwarden.cli.common import cli_errors, console, settings
from cloudwarden.errors import ConfigError

app = typer.Typer(help="Query the event lake (read-only SQL, or a parameterised search).", no_args_is_help=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _print(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row, default=_json_default))
        return
    if not rows:
        console.print("no rows")
        return
    table = Table()
    for name in rows[0]:
        table.add_column(escape(name), overflow="fold")
    for row in rows:
        # lake values are attacker-controlled (user agents, ARNs): escape Rich markup
        table.add_row(*(escape(str(v))[:300] if v is not None else "" for v in row.values()))
    console.print(table)


@app.command("query")
def query_cmd(
    sql: Annotated[str, typer.Argument(help="One SELECT (or WITH ... SELECT) over api_activity / host_events")],
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    limit: Annotated[int, typer.Option(help="Rows printed at most")] = 1000,
) -> None:
    """Run one read-only SQL query on the lake (no file access, no writes)."""
    from cloudwarden.cloudtrail.query import read_only_query
    from cloudwarden.store.lake import Lake

    with cli_errors():
        rows = read_only_query(Lake(settings().lake_path), sql, max_rows=limit)
    _print(rows, fmt)


@app.command("search")
def search_cmd(
    principal: Annotated[str | None, typer.Option(help="Principal ARN (or part of it)")] = None,
    api: Annotated[str | None, typer.Option(help="eventName, e.g. StopLogging")] = None,
    account: Annotated[str | None, typer.Option(help="Account id")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region")] = None,
    ip: Annotated[str | None, typer.Option(help="Source IP address (or AWS service name)")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time (ISO 8601, UTC)")] = None,
    limit: Annotated[int, typer.Option(help="Rows at most")] = 100,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Find API activity by principal, API, account, region, IP and time (parameterised SQL)."""
    from cloudwarden.cloudtrail.query import search_sql
    from cloudwarden.store.lake import Lake

    with cli_errors():
        if limit < 1 or limit > 100_000:
            raise ConfigError("must be between 1 and 100000", source="--limit")
        sql, params = search_sql(
            principal=principal, api=api, account=account, region=region, ip=ip, since=since, until=until, limit=limit
        )
        rows = Lake(settings().lake_path).query(sql, params, read_only=True)
    _print(rows, fmt)
