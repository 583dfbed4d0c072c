"""`cloudwarden trail ...`: ingest CloudTrail from folders, files, S3 (AWSLogs layout) and SQS notifications."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from cloudwarden.aws import ip_ranges
from cloudwarden.cli.common import EXIT_ERROR, EXIT_FINDINGS, cli_errors, console, err_console, settings, state_store
from cloudwarden.config import Settings
from cloudwarden.errors import CloudwardenError, ConfigError
from cloudwarden.models.alert import SEVERITY_ORDER

if TYPE_CHECKING:
    from cloudwarden.detect.alert_store import PruneResult
    from cloudwarden.store.state import StateStore

app = typer.Typer(help="CloudTrail ingestion: files, folders, S3 buckets, SQS notifications.", no_args_is_help=True)


@contextmanager
def _extra_placeholders(path: Path | None) -> Iterator[None]:
    from cloudwarden.detect.placeholders import EXTRA_FILE_ENV, load_file

    if path is None:
        yield
        return
    load_file(path)  # a bad file fails here, naming it, not later inside the rule loading
    before = os.environ.get(EXTRA_FILE_ENV)
    os.environ[EXTRA_FILE_ENV] = str(path.resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(EXTRA_FILE_ENV, None)
        else:
            os.environ[EXTRA_FILE_ENV] = before


def _date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ConfigError(f"expected YYYY-MM-DD, got {value!r}", source=name) from exc


@app.command("ingest")
def ingest_cmd(
    source: Annotated[str, typer.Argument(help="A folder, a file, or s3://bucket\\[/prefix] in CloudTrail's AWSLogs layout")],
    follow: Annotated[bool, typer.Option("--follow", help="Keep polling for new files/objects")] = False,
    since: Annotated[str | None, typer.Option(help="First day to ingest (YYYY-MM-DD, UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Last day to ingest (YYYY-MM-DD, UTC)")] = None,
    sqs_url: Annotated[str | None, typer.Option("--sqs-url", help="SQS queue receiving S3 notifications of new objects")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="S3/SQS endpoint (moto, LocalStack)")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region of the bucket/queue clients")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (files are spread over them)")] = 1,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra Sigma rule files or folders")] = None,
    no_builtin: Annotated[bool, typer.Option("--no-builtin-rules", help="Do not load cloudwarden's own rules")] = False,
    include_disabled: Annotated[
        bool, typer.Option("--include-disabled", help="Also run the rules disabled in the dashboard/API")
    ] = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls with --follow")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 3 when alerts of this severity or higher were raised")
    ] = None,
    placeholders: Annotated[Path | None, typer.Option(
        "--placeholders", help="YAML/TOML/JSON file of |expand placeholder values (over \\[detect.placeholders])")] = None,
) -> None:
    """Ingest CloudTrail into the lake, run the rules, store alerts; prints an ingest summary.
    Afterwards evidence ids older than `alerts.evidence_retention_days` are pruned (see `alerts prune`)."""
    from cloudwarden.cloudtrail.ingest import IngestOptions, IngestSummary, ingest
    from cloudwarden.detect.toggles import read_disabled
    from cloudwarden.store.lake import Lake

    with cli_errors():
        s = settings()
        options = IngestOptions(
            since=_date(since, "--since"),
            until=_date(until, "--until"),
            workers=max(1, workers),
            rule_paths=list(rules or []),
            builtin_rules=not no_builtin,
            # the same switches the server honours: a rule disabled in the dashboard stays quiet here too
            disabled_rules=frozenset() if include_disabled else frozenset(read_disabled(s.home_path)),
            group_window=s.alerts.group_window(),
            aws_ranges_path=str(s.home_path / ip_ranges.FILE_NAME),
            follow=follow,
            poll_seconds=poll,
            sqs_url=sqs_url or "",
            endpoint_url=endpoint_url or s.aws.endpoint_url,
            region_name=region or "",
        )
        if options.sqs_url and not source.startswith("s3://"):
            raise ConfigError("--sqs-url needs an s3:// source (the bucket the notifications are about)", source=source)
        if fail_on is not None and fail_on not in SEVERITY_ORDER:
            raise ConfigError(f"expected one of {', '.join(SEVERITY_ORDER)}", source="--fail-on")
        store = state_store(s)
        lake = Lake(s.lake_path)
        gc.set_threshold(50_000, 20, 20)  # the pipeline allocates many short-lived dicts; fewer GC passes
        status = err_console.status("ingesting", spinner="dots") if err_console.is_terminal else None

        def progress(sm: IngestSummary) -> None:
            if status is not None:
                alerts = sum(sm.alerts_by_severity.values())
                status.update(
                    f"ingesting: {sm.files_processed} files, {sm.events:,} events, {alerts} alerts, "
                    f"{sm.files_set_aside + sm.records_set_aside} set aside"
                )

        try:
            if status is not None:
                status.start()
            try:
                # the rules are loaded inside ingest (and its worker processes): the file reaches them by the
                # environment, which forked and spawned workers both inherit
                with _extra_placeholders(placeholders):
                    summary = ingest(source, lake, store, options, progress=progress)
            finally:
                if status is not None:
                    status.stop()
            pruned = _prune(store, s)
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/yellow]: everything committed so far is kept; run again to resume")
            raise typer.Exit(130) from None
    d = summary.to_dict()
    if pruned is not None:
        d["evidence_pruned"] = pruned.evidence_deleted
    if as_json:
        console.print_json(json.dumps(d))
    else:
        _print_summary(d)
    if summary.files_set_aside and not summary.files_processed - summary.files_set_aside and not summary.events:
        raise typer.Exit(EXIT_ERROR)
    if fail_on is not None and any(
        SEVERITY_ORDER.get(sev, 0) >= SEVERITY_ORDER[fail_on] and n for sev, n in summary.alerts_by_severity.items()
    ):
        raise typer.Exit(EXIT_FINDINGS)


def _prune(store: StateStore, s: Settings) -> PruneResult | None:
    """Keep alert_evidence bounded: the ingest path (cloudtrail/ingest.py) has no hook for it, so the
    command that ran the ingest prunes. A failure here is reported and leaves the ingest's result intact."""
    from cloudwarden.detect.alert_store import prune_for_retention

    try:
        return prune_for_retention(store, s.alerts.evidence_retention_days, delete_resolved=s.alerts.prune_resolved)
    except (CloudwardenError, SQLAlchemyError) as exc:
        err_console.print(f"[yellow]warning:[/yellow] evidence prune skipped: {escape(str(exc))}")
        return None


def _print_summary(d: dict[str, object]) -> None:
    table = Table(title="CloudTrail ingest", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("source", escape(str(d["source"])))
    table.add_row("files listed", str(d["files_listed"]))
    table.add_row("files processed", str(d["files_processed"]))
    table.add_row("files already done", str(d["files_already_done"]))
    table.add_row("files set aside", str(d["files_set_aside"]))
    table.add_row("files to retry (unreadable now)", str(d["files_retry"]))
    table.add_row("events ingested", str(d["events"]))
    table.add_row("events outside --since/--until", str(d["filtered"]))
    table.add_row("records set aside", str(d["records_set_aside"]))
    table.add_row("AWS IP ranges used", escape(str(d.get("aws_ranges") or "none (cloudwarden trail update-ranges)")))
    if d.get("records_rebuilt"):
        table.add_row("records rebuilt from Elastic ECS fields", str(d["records_rebuilt"]))
    table.add_row("rules loaded (unsupported)", f"{d['rules']} ({d['rules_unsupported']})")
    by_sev = d["alerts_by_severity"]
    assert isinstance(by_sev, dict)
    for sev in sorted(by_sev, key=lambda x: -SEVERITY_ORDER.get(x, 0)):
        table.add_row(f"alerts: {sev}", str(by_sev[sev]))
    table.add_row("alerts stored (grouped)", str(d["alerts_stored"]))
    if "evidence_pruned" in d:
        table.add_row("old evidence ids pruned", str(d["evidence_pruned"]))
    table.add_row("seconds", str(d["seconds"]))
    console.print(table)
    noisy = d.get("noisy_rules")
    if isinstance(noisy, list) and noisy:
        loud = Table(title="Noisy rules: each fired on at least 5% of the events (tune, scope or suppress them)")
        loud.add_column("rule")
        loud.add_column("id")
        loud.add_column("firings", justify="right")
        loud.add_column("of events", justify="right")
        for r in noisy:
            loud.add_row(escape(str(r["title"])), escape(str(r["rule_id"])), str(r["firings"]),
                         f"{100 * float(r['share_of_events']):.1f}%")
        console.print(loud)
        first = str(noisy[0]["rule_id"])
        # the two cheapest fixes, spelled out with a real id: a day-long grouping window, or a suppression
        # (markup off: the brackets are TOML, and a rule id from a user's rule file is not ours to trust)
        console.print("Fewer alerts from a rule: group it by the day in cloudwarden.toml "
                      f"([alerts.group_window_by_rule] \"{first}\" = 1440), or "
                      f"`cloudwarden alerts suppress --rule {first} --reason ...`", soft_wrap=True, markup=False)
    problems = d["problems"]
    assert isinstance(problems, list)
    if problems:
        skipped = Table(title="Set aside (first ones)")
        skipped.add_column("file")
        skipped.add_column("where")
        skipped.add_column("reason")
        for p in problems[:50]:
            # file names, locations and reasons can carry attacker-chosen text: never Rich markup
            skipped.add_row(escape(str(p["key"])), escape(str(p["location"])), escape(str(p["reason"])[:200]))
        console.print(skipped)


@app.command("update-ranges")
def update_ranges_cmd(
    url: Annotated[str, typer.Option(help="Where AWS publishes them")] = ip_ranges.DEFAULT_URL,
) -> None:
    """Download AWS's IP address ranges (ip-ranges.json) for the rules that tell AWS addresses apart (run daily)."""
    s = settings()
    path = s.home_path / ip_ranges.FILE_NAME
    with cli_errors():
        ranges = ip_ranges.download(path, url)
    console.print(Text(f"AWS IP ranges of {ranges.created or 'unknown date'}: {ranges.prefixes} prefixes saved to {path}"))


@app.command("status")
def status_cmd(source: Annotated[str, typer.Argument(help="The source as given to ingest")]) -> None:
    """What the checkpoint holds for a source: objects processed and the last items set aside."""
    from cloudwarden.cloudtrail.checkpoint import Checkpoint
    from cloudwarden.cloudtrail.sources import LocalSource, S3Source

    with cli_errors():
        store = state_store()
        source_id = S3Source(source).id if source.startswith("s3://") else LocalSource(source).id
        cp = Checkpoint(store, source_id)
        console.print(f"{escape(source_id)}: {cp.count()} objects processed", soft_wrap=True)
        for row in cp.set_aside(20):
            console.print(f"  set aside: {escape(row['key'])} {escape(row['location'])}: {escape(row['reason'])}", soft_wrap=True)
