"""`cloudwarden agent ...`: enroll with a server, run the host agent, show its status, replay audit logs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer

from cloudwarden.cli.common import EXIT_ERROR, EXIT_FINDINGS, cli_errors, console, err_console, settings
from cloudwarden.errors import AgentError

app = typer.Typer(help="The Linux host agent: enroll, run, status, replay.", no_args_is_help=True)


def _agent_file() -> Path:
    return settings().home_path / "agent.json"


def _load_identity() -> dict[str, Any]:
    p = _agent_file()
    if not p.exists():
        return {}
    data = orjson.loads(p.read_bytes())
    return data if isinstance(data, dict) else {}


@app.command()
def enroll(
    server: Annotated[str, typer.Option("--server", help="Server URL, e.g. http://127.0.0.1:8000")],
    enroll_secret: Annotated[str, typer.Option("--enroll-secret", envvar="CLOUDWARDEN_ENROLL_SECRET", help="The server's agent enrollment secret")] = "",
    admin_token: Annotated[str, typer.Option("--admin-token", envvar="CLOUDWARDEN_ADMIN_TOKEN", help="Admin token instead of the enrollment secret")] = "",
    name: Annotated[str, typer.Option(help="Agent name (default: hostname)")] = "",
) -> None:
    """Obtain a per-agent token from the server and keep it in <home>/agent.json (mode 0600)."""
    from cloudwarden.host import metadata

    with cli_errors():
        meta = metadata.collect(imds_timeout=0.3)
        headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        try:
            resp = httpx.post(server.rstrip("/") + "/api/agents/enroll", headers=headers, timeout=15, json={
                "enroll_secret": enroll_secret, "name": name or meta["hostname"], "hostname": meta["hostname"],
                "host_id": meta["host_id"],
            })
        except httpx.HTTPError as exc:
            raise AgentError(f"cannot reach the server: {exc}", source=server) from exc
        if resp.status_code != 200:
            raise AgentError(f"enrollment refused ({resp.status_code}): {resp.text[:300]}", source=server)
        data = resp.json()
        path = _agent_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps({"server_url": server, "agent_id": data["agent_id"], "token": data["token"]}))
        console.print(f"enrolled as agent {data['agent_id']} with {server}; token saved in {path}")


@app.command()
def run(
    server: Annotated[str, typer.Option("--server", help="Server URL (default: the enrolled one)")] = "",
    token: Annotated[str, typer.Option("--token", envvar="CLOUDWARDEN_AGENT_TOKEN", help="Agent token (default: the enrolled one)")] = "",
    sources: Annotated[str, typer.Option(help="Comma-separated sources to use (default: every usable one, best first)")] = "",
    audit_auid: Annotated[int, typer.Option("--audit-auid", help="Limit audit rules to one login uid (testing on shared hosts)")] = -1,
    audit_mode: Annotated[str, typer.Option("--audit-mode", help="auto | netlink | auditd")] = "auto",
    watch: Annotated[list[str] | None, typer.Option("--watch", help="Extra file or directory to watch (repeatable)")] = None,
    auth_log: Annotated[list[str] | None, typer.Option("--auth-log", help="Auth log file to follow (repeatable)")] = None,
    duration: Annotated[float, typer.Option(help="Stop after N seconds (0: until SIGTERM/SIGINT)")] = 0.0,
    no_imds: Annotated[bool, typer.Option("--no-imds", help="Do not query the EC2 metadata service")] = False,
    sock_interval: Annotated[float, typer.Option("--sock-interval", help="sock_diag poll interval, seconds")] = 0.0,
    transfer_window: Annotated[float, typer.Option("--transfer-window", help="Byte-count window, seconds")] = 0.0,
    record_audit: Annotated[Path | None, typer.Option("--record-audit", help="Also write raw audit records to FILE (audit.log format)")] = None,
    track_auid_writes: Annotated[bool, typer.Option("--track-auid-writes", help="With --audit-auid: report every file write of that login")] = False,
) -> None:
    """Run the agent (as root): collect host events, spool them on disk, ship them to the server."""
    import logging

    from cloudwarden.host.agent import Agent, AgentOptions

    with cli_errors():
        s = settings()
        logging.basicConfig(level=s.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        ident = _load_identity()
        opts = AgentOptions.from_settings(s)
        opts.server_url = server or s.agent.server_url or str(ident.get("server_url", ""))
        opts.token = token or str(ident.get("token", ""))
        if sources:
            opts.sources = [x.strip() for x in sources.split(",") if x.strip()]
        if audit_auid >= 0:
            opts.audit_auid = audit_auid
        opts.audit_mode = audit_mode
        if watch:
            opts.watch_paths = [*opts.watch_paths, *watch]
        if auth_log:
            opts.auth_log_paths = list(auth_log)
        if no_imds:
            opts.imds_timeout = 0
        if sock_interval > 0:
            opts.sock_diag_interval = sock_interval
        if transfer_window > 0:
            opts.transfer_window = transfer_window
        opts.audit_record = record_audit
        opts.track_auid_writes = track_auid_writes
        if opts.server_url and not opts.token:
            raise AgentError("no agent token: run `cloudwarden agent enroll --server URL` first or pass --token")
        if os.geteuid() != 0:
            err_console.print("[yellow]warning:[/yellow] not root: audit, proc connector and most sources need root")
        agent = Agent(opts)
        try:
            report = agent.select_sources()
        except ValueError as exc:
            raise AgentError(str(exc), source="--sources") from exc
        for r in report:
            state = f"[green]on[/green] {r.detail}" if r.active else f"[yellow]off[/yellow] ({r.reason})"
            err_console.print(f"source {r.name:15s} {state}")
        if not any(r.active for r in report):
            raise AgentError("no usable event source on this host")
        err_console.print(f"host {agent.hostname} ({agent.host_id}); spool {opts.spool_path}; "
                          f"server {opts.server_url or '(none: spooling only)'}")
        sys.stderr.flush()
        agent.run(duration=duration or None)


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """The running (or last) agent's sources, counters, spool and shipping state."""
    with cli_errors():
        s = settings()
        path = s.home_path / "agent-status.json"
        if not path.exists():
            err_console.print(f"no agent status at {path} (has `cloudwarden agent run` been started with this home?)")
            raise typer.Exit(EXIT_ERROR)
        st = orjson.loads(path.read_bytes())
        alive = (not st.get("stopped") and bool(st.get("pid")) and Path(f"/proc/{st['pid']}").exists()
                 and time.time() - float(st.get("updated", 0)) < 10)
        st["running"] = alive
        if json_out:
            console.print_json(json.dumps(st, default=str))
            return
        console.print(f"agent pid {st.get('pid')} {'running' if alive else 'not running'}; server {st.get('server_url') or '-'}")
        for name, d in st.get("health", {}).get("sources", {}).items():
            line = f"  {name:15s} {'on' if d.get('active') else 'off'}"
            if d.get("active"):
                line += f"  events={d.get('events', 0)} lost={d.get('lost', 0)} incomplete={d.get('incomplete', 0)} errors={d.get('errors', 0)}"
            else:
                line += f"  ({d.get('reason', '')})"
            console.print(line, markup=False)
        sp = st.get("spool", {})
        console.print(f"spool: pending={sp.get('pending')} bytes={sp.get('bytes')}/{sp.get('max_bytes')} "
                      f"acked={sp.get('acked')} dropped={sp.get('dropped')} rejected={sp.get('rejected')}", markup=False)
        sh = st.get("shipper") or {}
        if sh:
            console.print(f"shipper: shipped={sh.get('shipped')} failures={sh.get('failures')} "
                          f"last_error={sh.get('last_error') or '-'}", markup=False)


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="Recorded audit log: raw audit.log (optionally .gz) or Laurel JSON lines")],
    fmt: Annotated[str, typer.Option("--format", help="auto | raw | laurel")] = "auto",
    host: Annotated[str, typer.Option(help="Host id to attribute events to (default: node= or 'replay')")] = "",
    store: Annotated[bool, typer.Option("--store/--no-store", help="Write events to the lake and alerts to the alert store")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print events and alerts as JSON lines")] = False,
    events: Annotated[bool, typer.Option("--events/--no-events", help="Print every event")] = False,
) -> None:
    """Process a recorded audit log offline: parse, map to Sigma fields, run the host rules."""
    from dataclasses import asdict

    from cloudwarden.host.replay import replay_file
    from cloudwarden.server.ingest import HostIngest

    with cli_errors():
        s = settings()
        res = replay_file(file, host_id=host, fmt=fmt)
        state = None
        lake = None
        if store:
            from cloudwarden.cli.common import state_store
            from cloudwarden.store.lake import Lake

            state = state_store(s)
            lake = Lake(s.lake_path)
        else:
            from cloudwarden.store.state import open_store

            state = open_store("sqlite://")
        svc = HostIngest(state, lake, alert_window=settings().alerts.group_window())
        alerts = svc.detect(res.events)
        written = 0
        if store:
            written = int(lake.write_host_events(res.events)) if lake is not None and res.events else 0
            svc._sink(alerts)
        if json_out:
            if events:
                for ev in res.events:
                    typer.echo(orjson.dumps({"event": asdict(ev)}).decode())
            for a in alerts:
                typer.echo(orjson.dumps({"alert": asdict(a)}, default=str).decode())
        else:
            if events:
                for ev in res.events:
                    console.print(f"{ev.time:.3f} {ev.kind}/{ev.action} pid={ev.pid} auid={ev.auid} {ev.exe} "
                                  f"{' '.join(ev.argv)[:160]} {ev.path} {ev.dst_ip}:{ev.dst_port}".rstrip(), markup=False)
            for a in alerts:
                console.print(f"ALERT [{a.severity}] {a.title} — {a.explanation}", markup=False)
        err_console.print(f"{file}: format {res.format}, {res.audit_events} audit events, {len(res.events)} host events, "
                          f"{len(alerts)} alerts, {len(res.errors)} bad lines" + (f", {written} stored" if store else ""))
        for e in res.errors[:10]:
            err_console.print(f"  skipped {e}", markup=False)
        if alerts:
            raise typer.Exit(EXIT_FINDINGS)
