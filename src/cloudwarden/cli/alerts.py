"""`cloudwarden alerts list|summary|show|ack|resolve|suppress|...`: triage the stored alerts."""

from __future__ import annotations

import getpass
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from cloudwarden.cli.common import EXIT_ERROR, cli_errors, console, err_console, settings, state_store
from cloudwarden.detect.alert_store import AlertStore, StoredAlert
from cloudwarden.detect.ocsf import to_ocsf
from cloudwarden.errors import InputError

app = typer.Typer(help="List and triage alerts (grouped, with suppressions).", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", help="table | json | ocsf")]
ByOpt = Annotated[str, typer.Option("--by", help="Who is acting (default: the OS user)")]
# the filters `list`, `summary` and bulk `ack`/`resolve` share
StatusFilter = Annotated[list[str] | None, typer.Option("--status", help="new | acknowledged | resolved (repeatable)")]
SeverityFilter = Annotated[str | None, typer.Option("--severity", help="Minimum severity")]
RuleFilter = Annotated[str | None, typer.Option("--rule", help="Rule id")]
EntityFilter = Annotated[str | None, typer.Option("--entity", help="Principal ARN or host")]
AccountFilter = Annotated[str | None, typer.Option("--account")]
SourceFilter = Annotated[str | None, typer.Option("--source", help="cloudtrail | host | baseline-cloud | ...")]
SinceFilter = Annotated[str | None, typer.Option("--since", help="ISO date: alerts last seen at or after")]
_DURATION = re.compile(r"^(\d+)([mhdw])$")


def _me() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "cli"


def _store() -> AlertStore:
    with cli_errors():
        return AlertStore(state_store())


def _when(text: str | None) -> datetime | None:
    """'7d', '12h', '30m', '2w' (ago / from now decided by the caller) or an ISO date."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"invalid date {text!r}: use ISO 8601 (2026-03-01T00:00:00Z)", source="--since") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _duration(text: str, source: str = "--expires") -> timedelta:
    m = _DURATION.match(text.strip())
    if not m:
        raise InputError(f"invalid duration {text!r}: use e.g. 30m, 12h, 7d, 2w", source=source)
    n, unit = int(m.group(1)), m.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def _emit_json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def _table(alerts: list[StoredAlert]) -> None:
    table = Table(title=f"{len(alerts)} alert(s)")
    for col in ("id", "severity", "status", "title", "entity", "account", "count", "last seen"):
        table.add_column(col, overflow="fold")
    for a in alerts:
        table.add_row(str(a.id), Text(a.severity), Text(a.status), Text(a.title), Text(a.entity), Text(a.account),
                      str(a.count), a.last_seen.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)


@app.command("list")
def list_alerts(
    status: StatusFilter = None,
    severity: SeverityFilter = None,
    rule: RuleFilter = None,
    entity: EntityFilter = None,
    account: AccountFilter = None,
    source: SourceFilter = None,
    since: SinceFilter = None,
    search: Annotated[str | None, typer.Option(help="Text in title, entity or explanation")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    fmt: FormatOpt = "table",
) -> None:
    """List alerts, newest first."""
    store = _store()
    with cli_errors():
        alerts = store.list(limit=limit, offset=offset, status=status or None, text=search,
                            **_filters(rule, entity, account, severity, source, since))
    if fmt == "ocsf":
        _emit_json([to_ocsf(a) for a in alerts])
    elif fmt == "json":
        _emit_json([a.to_dict() for a in alerts])
    else:
        _table(alerts)


def _get(store: AlertStore, alert_id: int) -> StoredAlert:
    alert = store.get(alert_id)
    if alert is None:
        err_console.print(Text(f"error: no alert with id {alert_id}"))
        raise typer.Exit(EXIT_ERROR)
    return alert


@app.command("show")
def show(alert_id: int, fmt: FormatOpt = "table") -> None:
    """Show one alert with its explanation, evidence and comments."""
    store = _store()
    alert = _get(store, alert_id)
    if fmt == "ocsf":
        _emit_json(to_ocsf(alert))
        return
    if fmt == "json":
        _emit_json(alert.to_dict())
        return
    console.print(Text(f"#{alert.id} [{alert.severity}] {alert.title} — {alert.status}", style="bold"))
    for label, value in (("why", alert.explanation), ("entity", alert.entity), ("account", alert.account),
                         ("region", alert.region), ("host", alert.host), ("rule", alert.rule_id),
                         ("ATT&CK", ", ".join(alert.attack_ids)), ("count", str(alert.count)),
                         ("first seen", alert.first_seen.isoformat()), ("last seen", alert.last_seen.isoformat()),
                         ("assignee", alert.assignee)):
        if value:
            console.print(Text(f"  {label:>10}: {value}"))
    ids = f"{len(alert.evidence_ids)} event ids" if alert.evidence_ids or not alert.count else \
        "event ids pruned by retention"
    console.print(Text(f"  evidence ({len(alert.evidence)} kept of {ids}):"))
    for ev in alert.evidence[:5]:
        console.print(Text("    " + orjson.dumps(ev, default=str).decode()[:300]))
    for c in alert.comments:
        console.print(Text(f"  {c.at:%Y-%m-%d %H:%M} {c.author}: {c.text}"))


@app.command("summary")
def summary(
    by: Annotated[str, typer.Option("--by", help="rule | entity | account | severity | source | status | rule-entity")] = "rule",
    status: StatusFilter = None,
    severity: SeverityFilter = None,
    rule: RuleFilter = None,
    entity: EntityFilter = None,
    account: AccountFilter = None,
    source: SourceFilter = None,
    since: SinceFilter = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 30,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Alerts grouped by rule, principal, account...: alerts, events, still open, worst severity, last seen."""
    store = _store()
    with cli_errors():
        rows = store.summary(by, limit=limit, status=status or None, **_filters(rule, entity, account, severity, source, since))
    if fmt == "json":
        _emit_json(rows)
        return
    table = Table(title=f"alerts by {by}: {len(rows)} group(s), most alerts first")
    group_cols = [c for c in rows[0] if c not in _SUMMARY_COUNTS] if rows else [by]
    for col in (*group_cols, "alerts", "events", "open", "worst", "last seen"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(Text(str(r[c])) for c in group_cols), str(r["alerts"]), str(r["events"]), str(r["open"]),
                      Text(r["worst_severity"]), (r["last_seen"] or "")[:19].replace("T", " "))
    console.print(table)


_SUMMARY_COUNTS = ("alerts", "events", "open", "worst_severity", "last_seen")


def _triage(verb: str, status: str, alert_id: int | None, by: str, comment: str, yes: bool,
            filters: dict[str, Any]) -> None:
    """One alert by id, or every alert the filters select (with --yes: bulk triage changes many at once)."""
    store = _store()
    chosen = {k: v for k, v in filters.items() if v not in (None, "", [])}
    if alert_id is not None:
        if chosen:
            err_console.print(Text("error: give an alert id or filters, not both"))
            raise typer.Exit(EXIT_ERROR)
        _get(store, alert_id)
        with cli_errors():
            a = {"acknowledged": store.ack, "resolved": store.resolve}[status](alert_id, by or _me(), comment)
        console.print(Text(f"alert {a.id} {verb} by {a.status_by}"))
        return
    if not chosen:
        err_console.print(Text(f"error: give an alert id, or filters (--rule, --entity, ...) and --yes to {verb.rstrip('d')} many"))
        raise typer.Exit(EXIT_ERROR)
    with cli_errors():
        matching = store.count_changing(status, **chosen)
        if not yes:
            err_console.print(Text(f"{matching} alert(s) match and are not {verb} yet; add --yes to change them"))
            raise typer.Exit(EXIT_ERROR)
        changed = store.set_status_matching(status, by or _me(), comment, **chosen)
    console.print(Text(f"{changed} alert(s) {verb} by {by or _me()}"))


def _filters(rule: str | None, entity: str | None, account: str | None, severity: str | None,
             source: str | None, since: str | None) -> dict[str, Any]:
    return {"rule_id": rule, "entity": entity, "account": account, "min_severity": severity, "source": source,
            "since": _when(since)}


YesOpt = Annotated[bool, typer.Option("--yes", help="Bulk: change every matching alert (without it, only count them)")]


@app.command("ack")
def ack(alert_id: Annotated[int | None, typer.Argument()] = None, by: ByOpt = "",
        comment: Annotated[str, typer.Option()] = "", rule: RuleFilter = None, entity: EntityFilter = None,
        account: AccountFilter = None, severity: SeverityFilter = None, source: SourceFilter = None,
        since: SinceFilter = None, yes: YesOpt = False) -> None:
    """Acknowledge an alert (someone is on it), or with filters and --yes every matching one."""
    _triage("acknowledged", "acknowledged", alert_id, by, comment, yes,
            _filters(rule, entity, account, severity, source, since))


@app.command("resolve")
def resolve(alert_id: Annotated[int | None, typer.Argument()] = None, by: ByOpt = "",
            comment: Annotated[str, typer.Option()] = "", rule: RuleFilter = None, entity: EntityFilter = None,
            account: AccountFilter = None, severity: SeverityFilter = None, source: SourceFilter = None,
            since: SinceFilter = None, yes: YesOpt = False) -> None:
    """Resolve an alert, or with filters and --yes every matching one. Later events of the same kind open a
    new alert."""
    _triage("resolved", "resolved", alert_id, by, comment, yes, _filters(rule, entity, account, severity, source, since))


@app.command("assign")
def assign(alert_id: int, assignee: str, by: ByOpt = "") -> None:
    """Assign an alert to someone."""
    store = _store()
    _get(store, alert_id)
    with cli_errors():
        store.assign(alert_id, assignee, by or _me())
    console.print(Text(f"alert {alert_id} assigned to {assignee}"))


@app.command("comment")
def comment(alert_id: int, text: str, by: ByOpt = "") -> None:
    """Add a comment to an alert."""
    store = _store()
    _get(store, alert_id)
    with cli_errors():
        store.comment(alert_id, by or _me(), text)
    console.print(Text(f"comment added to alert {alert_id}"))


@app.command("suppress")
def suppress(
    reason: Annotated[str, typer.Option(help="Why (kept with the suppression)")],
    rule: Annotated[str, typer.Option(help="Rule id")] = "",
    entity: Annotated[str, typer.Option(help="Principal/host (glob)")] = "",
    account: Annotated[str, typer.Option()] = "",
    resource: Annotated[str, typer.Option(help="Resource ARN or name (glob)")] = "",
    alert: Annotated[int | None, typer.Option(help="Suppress alerts like this one (its rule and entity)")] = None,
    expires: Annotated[str, typer.Option(help="Lifetime: 30m, 12h, 7d, 2w, or 'never'")] = "30d",
    by: ByOpt = "",
) -> None:
    """Suppress future alerts matching all the given criteria, with a reason and an expiry."""
    store = _store()
    if alert is not None:
        a = _get(store, alert)
        rule, entity = rule or a.rule_id, entity or a.entity
    with cli_errors():
        ttl = None if expires == "never" else _duration(expires)
        sup = store.suppress(reason=reason, created_by=by or _me(), rule_id=rule, entity=entity, account=account,
                             resource=resource, ttl=ttl)
    until = sup.expires_at.isoformat() if sup.expires_at else "never"
    console.print(Text(f"suppression {sup.id} created (expires {until})"))


@app.command("suppressions")
def suppressions(
    all_: Annotated[bool, typer.Option("--all", help="Include expired suppressions")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """List suppressions."""
    store = _store()
    sups = store.suppressions(include_expired=all_)
    if fmt == "json":
        _emit_json([s.__dict__ for s in sups])
        return
    table = Table(title=f"{len(sups)} suppression(s)")
    for col in ("id", "rule", "entity", "account", "resource", "reason", "by", "expires", "hits"):
        table.add_column(col, overflow="fold")
    for s in sups:
        table.add_row(str(s.id), Text(s.rule_id), Text(s.entity), Text(s.account), Text(s.resource), Text(s.reason),
                      Text(s.created_by), s.expires_at.isoformat() if s.expires_at else "never", str(s.hits))
    console.print(table)


@app.command("unsuppress")
def unsuppress(suppression_id: int) -> None:
    """Delete a suppression."""
    store = _store()
    with cli_errors():
        store.unsuppress(suppression_id)
    console.print(Text(f"suppression {suppression_id} deleted"))


@app.command("prune")
def prune(
    older_than: Annotated[str | None, typer.Option(
        "--older-than", help="Horizon: 90d, 12w, 36h... (default: alerts.evidence_retention_days)")] = None,
    delete_resolved: Annotated[bool | None, typer.Option(
        "--delete-resolved/--keep-resolved", help="Also delete whole resolved alerts past the horizon "
        "(default: alerts.prune_resolved)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; change nothing")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Delete the stored evidence ids of alerts with no event and no update past the horizon.

    Those ids make re-ingesting an event a no-op; once pruned, replaying such an old event counts it
    again (into its alert if still open and within the grouping window, else as a new alert).
    """
    s = settings()
    with cli_errors():
        if older_than is None:
            days = s.alerts.evidence_retention_days
            if days <= 0:
                raise InputError("alerts.evidence_retention_days is 0 (keep everything): give --older-than",
                                 source="--older-than")
            horizon = timedelta(days=days)
        else:
            horizon = _duration(older_than, source="--older-than")
        resolved = s.alerts.prune_resolved if delete_resolved is None else delete_resolved
        store = AlertStore(state_store(s))
        result = store.prune(datetime.now(UTC) - horizon, delete_resolved=resolved, dry_run=dry_run)
    if fmt == "json":
        _emit_json(result.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(Text(
        f"{verb} {result.evidence_deleted} evidence id(s) and {result.alerts_deleted} resolved alert(s) "
        f"of {result.alerts_examined} alert(s) last active before {result.cutoff:%Y-%m-%d %H:%M} UTC "
        f"({result.batches} batch(es), {result.seconds:.2f}s)"))
