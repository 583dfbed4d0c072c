"""`cloudwarden baseline ...`: learned behaviour baselines (status, update from the lake, explain, feedback)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from cloudwarden.cli.common import cli_errors, console, settings, state_store
from cloudwarden.stopping import TwoStepStop, stop_on_signals

app = typer.Typer(help="Learned behaviour baselines of cloud principals and hosts.", no_args_is_help=True)


def _open(with_geo: bool = True) -> Any:
    from cloudwarden.baseline.cloud import CloudConfig
    from cloudwarden.baseline.engine import Baseline
    from cloudwarden.baseline.host import HostConfig

    s = settings()
    cfg = s.baseline
    return s, Baseline.open(
        state_store(s),
        cloud_config=CloudConfig(learning_days=cfg.learning_days, min_score=cfg.min_score),
        host_config=HostConfig(learning_days=cfg.host_learning_days, min_score=cfg.min_score),
        offline_geo=cfg.offline_geo and with_geo,
        alert_window=s.alerts.group_window(),
    )


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Learning or active, entity and group counts, sizes."""
    with cli_errors():
        _, b = _open(with_geo=False)
        st = b.status()
        if as_json:
            console.print_json(orjson.dumps(st, default=str).decode())
            return
        table = Table(title="Baselines")
        for col in ("baseline", "state", "learning ends", "events", "entities", "groups", "items", "stored"):
            table.add_column(col)
        c, h = st["cloud"], st["host"]
        for name, d, ents in (("cloud", c, f"{c['principals']} principals"), ("host", h, f"{h['hosts']} hosts")):
            state = "no data" if not d["events"] else ("learning" if d["learning"] else "active")
            table.add_row(name, state, _when(d["learning_ends"]), str(d["events"]), ents, str(d["groups"]),
                          str(d["items"]), f"{d.get('stored_bytes', 0) / 1024:.1f} KiB")
        console.print(table)
        for name, d in (("cloud", c), ("host", h)):
            if d.get("silhouette") is not None:
                console.print(f"{name} peer groups: silhouette {d['silhouette']:.2f}")
        if h.get("group_sizes"):
            console.print("host groups: " + ", ".join(f"{escape(k)} ({v})" for k, v in h["group_sizes"].items()))
        f = st.get("findings", {})
        console.print(f"findings: {f.get('findings', 0)} ({f.get('taught', 0)} with feedback); "
                      f"offline ASN/country: {'yes' if st['offline_geo'] else 'no'}")


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError as exc:
        from cloudwarden.errors import ConfigError

        raise ConfigError(f"not a duration: {text!r} (e.g. 30m, 1h)", source="--every") from exc


@app.command()
def update(
    lake_path: str = typer.Option("", "--lake", help="Lake folder (default: the configured lake)."),
    every: str = typer.Option("", help="Keep updating at this interval (e.g. 1h) until interrupted."),
    regroup: bool = typer.Option(False, "--regroup", help="Recompute peer groups from the lake (Ibis) after the update."),
) -> None:
    """Learn from the lake's events past the saved watermark and raise alerts (run at least hourly)."""
    from pathlib import Path

    from cloudwarden.store.lake import Lake

    with cli_errors():
        interval = _seconds(every) if every else 0.0
        s, b = _open()
        lake = Lake(Path(lake_path) if lake_path else s.lake_path)
        # Ctrl-C: stop after the update in hand (its state saved); twice: abort
        with stop_on_signals(TwoStepStop()) if interval else nullcontext(TwoStepStop()) as stop:
            while not stop.requested:
                r = b.update_from_lake(lake)
                console.print(f"read {r.api_events} API events and {r.host_events} host events in {r.seconds:.1f}s; "
                              f"{len(r.alerts)} alert(s)")
                for alert, alert_id in zip(r.alerts, r.alert_ids, strict=False):
                    console.print(f"  {escape('[' + alert.severity + ']')} #{alert_id} {escape(alert.explanation)}")
                if regroup and lake.files("api_activity"):
                    console.print(f"peer groups recomputed from the lake: {b.recluster_from_lake(lake)}")
                    b.save()
                if not interval:
                    return
                stop.sleep(interval)


@app.command()
def explain(alert_id: int, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the evidence behind a baseline alert: signals, peers, what was expected."""
    with cli_errors():
        _, b = _open(with_geo=False)
        rows = b.explain(alert_id)
        if not rows:
            console.print(f"no baseline evidence for alert {alert_id}")
            raise typer.Exit(1)
        if as_json:
            console.print_json(orjson.dumps(rows, default=str).decode())
            return
        for r in rows:
            console.print(f"[bold]{escape(r['title'])}[/bold]  severity {r['severity']} (score {r['score']})")
            console.print(escape(r["explanation"]))
            if r["members"]:
                console.print("members: " + escape(", ".join(r["members"])))
            table = Table()
            for col in ("signal", "family", "sensitivity", "unusual", "peers with it", "detail"):
                table.add_column(col)
            for ev in r["evidence"]:
                if "detector" not in ev:
                    continue
                peers = f"{ev['peers_with']}/{ev['peers']}" if ev.get("peers") else "-"
                table.add_row(escape(ev["detector"]), ev["family"], f"{ev['sensitivity']:.2f}", f"{ev['strength']:.2f}",
                              peers, escape(ev["text"]))
            console.print(table)
            for base in r["anomaly"].get("baselines", [])[:10]:
                console.print(f"  baseline {escape(base['observation_type'])}: "
                              f"{escape(str(base['observations'][0]['value']))}")
            if r["feedback"]:
                console.print(f"feedback: {r['feedback']}")


@app.command()
def feedback(
    alert_id: int,
    scope: str = typer.Option("entity", help="entity: expected for this principal/host; group: for its whole peer group."),
    confirmed: bool = typer.Option(False, "--confirmed", help="Record a true positive instead (nothing is learned)."),
    by: str = typer.Option("", help="Who gives the feedback."),
) -> None:
    """Mark a baseline alert as expected: its behaviour joins the baseline and stops alerting."""
    with cli_errors():
        _, b = _open(with_geo=False)
        n = b.feedback(alert_id, expected=not confirmed, scope=scope, by=by)
        console.print(f"recorded; {n} entit{'y' if n == 1 else 'ies'} learned the behaviour" if not confirmed
                      else "recorded as confirmed")


@app.command()
def rarity(
    principal: str = typer.Option("", help="Only this principal (ARN)."),
    days: int = typer.Option(28, help="Window in days."),
    min_sensitivity: float = typer.Option(0.5, help="Only APIs at least this sensitive."),
    limit: int = typer.Option(30, help="Rows to show."),
    lake_path: str = typer.Option("", "--lake", help="Lake folder (default: the configured lake)."),
) -> None:
    """Rarest sensitive APIs per principal over the window, by active days (computed in the lake with Ibis)."""
    from pathlib import Path

    from cloudwarden.baseline import ibis_views
    from cloudwarden.baseline.features import sensitivity
    from cloudwarden.store.lake import Lake

    with cli_errors():
        s = settings()
        lake = Lake(Path(lake_path) if lake_path else s.lake_path)
        if not lake.files("api_activity"):
            console.print("the lake holds no API activity yet")
            return
        con = ibis_views.connect(lake)
        t = con.table("api_activity")
        latest = t.time.max().to_pyarrow().as_py()
        expr = ibis_views.active_days(t, latest, days)
        if principal:
            expr = expr.filter(expr.principal == principal)
        rows = [r for r in expr.to_pyarrow().to_pylist() if sensitivity(r["service"], r["api"]) >= min_sensitivity]
        rows.sort(key=lambda r: (-r["rarity"] * sensitivity(r["service"], r["api"]), r["principal"], r["api"]))
        table = Table(title=f"Rare sensitive APIs, {days} days to {latest:%Y-%m-%d}")
        for col in ("principal", "api", "active days", "principal days", "calls", "rarity", "sensitivity"):
            table.add_column(col)
        for r in rows[:limit]:
            table.add_row(escape(r["principal"]), escape(f"{r['service'].split('.')[0]}:{r['api']}"), str(r["active_days"]),
                          str(r["principal_days"]), str(r["calls"]), f"{r['rarity']:.2f}",
                          f"{sensitivity(r['service'], r['api']):.2f}")
        console.print(table)
