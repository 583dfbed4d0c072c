"""Assembles the command groups. Each group lives in its own module and exposes `app` (a Typer group)
or `register(root)` for top-level commands."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="cloudwarden",
    help="Continuous security for an AWS estate: compliance, CloudTrail threats, host intrusion detection.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)



@app.callback()
def _root() -> None:
    """Continuous security for an AWS estate."""


# (module, group name or None for top-level commands registered by `register(app)`)
GROUPS: list[tuple[str, str | None]] = [
    ("cloudwarden.cli.scan", "scan"),
    ("cloudwarden.cli.permissions", None),
    ("cloudwarden.cli.report", "report"),
    ("cloudwarden.cli.demo", None),
    ("cloudwarden.cli.trail", "trail"),
    ("cloudwarden.cli.events", "events"),
    ("cloudwarden.cli.rules", "rules"),
    ("cloudwarden.cli.alerts", "alerts"),
    ("cloudwarden.cli.agent", "agent"),
    ("cloudwarden.cli.serve", None),
    ("cloudwarden.cli.baseline", "baseline"),
    ("cloudwarden.cli.users", "users"),
]

for _module_name, _group in GROUPS:
    try:
        _module = importlib.import_module(_module_name)
    except ModuleNotFoundError as exc:
        if exc.name != _module_name:
            raise
        continue
    if _group is None:
        _module.register(app)
    else:
        app.add_typer(_module.app, name=_group)


@app.command()
def version() -> None:
    """Print the cloudwarden version."""
    from cloudwarden import __version__

    typer.echo(__version__)
