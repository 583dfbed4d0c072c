"""`cloudwarden rules list|test|check|disable|enable`: the Sigma rules the detection engine runs, and which of
them are switched off (the dashboard's list, `detect/toggles.py`, which `trail ingest` and the server honour)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from cloudwarden.cli.common import EXIT_ERROR, cli_errors, console, err_console, settings
from cloudwarden.detect.engine import RuleSet, load_rules
from cloudwarden.detect.examples import run_examples
from cloudwarden.detect.placeholders import configured as configured_placeholders
from cloudwarden.detect.toggles import read_disabled, write_disabled

app = typer.Typer(help="List, test and validate Sigma detection rules.", no_args_is_help=True)

EXIT_FAILED = 1

PathsArg = Annotated[list[Path] | None, typer.Argument(help="Rule files or folders (searched recursively)")]
BuiltinOpt = Annotated[str, typer.Option("--builtin", help="Built-in rules to include: all, cloudtrail, linux, none")]
PlaceholdersOpt = Annotated[Path | None, typer.Option(
    "--placeholders", help="YAML/TOML/JSON file of |expand placeholder values (name: \\[values]); "
    "adds to and overrides \\[detect.placeholders] of cloudwarden.toml")]


def _load(paths: list[Path] | None, builtin: str, placeholders: Path | None = None) -> RuleSet:
    include: bool | str = {"all": True, "none": False}.get(builtin, builtin)
    with cli_errors():
        values = configured_placeholders(settings(), extra_file=placeholders)
        return load_rules(paths or [], include_builtin=include, placeholders=values)


def _print_unsupported(ruleset: RuleSet) -> None:
    if not ruleset.unsupported:
        return
    table = Table(title=f"{len(ruleset.unsupported)} unsupported rule(s)", show_lines=False)
    for col in ("file", "rule id", "reason"):
        table.add_column(col, overflow="fold")
    for src, rid, reason in ruleset.unsupported:
        table.add_row(Text(src), Text(rid), Text(reason))
    console.print(table)


@app.command("list")
def list_rules(
    paths: PathsArg = None,
    builtin: BuiltinOpt = "all",
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
    placeholders: PlaceholdersOpt = None,
) -> None:
    """List rules: the built-in ones plus any given paths."""
    ruleset = _load(paths, builtin, placeholders)
    with cli_errors():
        disabled = read_disabled(settings().home_path)
    rows: list[dict[str, Any]] = [
        {"id": r.id, "title": r.title, "level": r.level, "kind": r.kind, "attack_ids": list(r.attack_ids),
         "logsource": {"product": r.logsource.product, "service": r.logsource.service, "category": r.logsource.category},
         "source": r.source, "enabled": r.id not in disabled}
        for r in ruleset.rules
    ]
    if fmt == "json":
        sys.stdout.write(orjson.dumps({"rules": rows, "unsupported": [list(u) for u in ruleset.unsupported]},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table(title=f"{len(rows)} rule(s)")
    for col in ("level", "title", "kind", "ATT&CK", "id", "on"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(Text(str(r["level"])), Text(str(r["title"])), Text(str(r["kind"])),
                      Text(", ".join(r["attack_ids"])), Text(str(r["id"])), Text("yes" if r["enabled"] else "no"))
    console.print(table)
    _print_unsupported(ruleset)


@app.command("test")
def test_rules(
    paths: PathsArg = None,
    builtin: BuiltinOpt = "all",
    require: Annotated[bool, typer.Option(help="A rule without positive and negative examples is a failure")] = True,
    placeholders: PlaceholdersOpt = None,
) -> None:
    """Run every rule's own positive and negative example events; exit 1 on any failure."""
    ruleset = _load(paths, builtin, placeholders)
    results = run_examples(ruleset, require=require)
    failures = [r for r in results if not r.ok]
    for f in failures:
        console.print(Text(f"FAIL {f.rule.title} [{f.rule.id}] {f.kind} example #{f.index}: {f.detail} ({f.rule.source})"))
    _print_unsupported(ruleset)
    console.print(Text(f"{len(results) - len(failures)} passed, {len(failures)} failed "
                       f"({len(ruleset.rules)} rules, {len(ruleset.unsupported)} unsupported)"))
    if failures or ruleset.unsupported:
        raise typer.Exit(EXIT_FAILED)


@app.command("check")
def check_rules(
    path: Annotated[Path, typer.Argument(help="A rule file or a folder of rules")],
    placeholders: PlaceholdersOpt = None,
) -> None:
    """Validate a rule folder: report every rule the engine cannot run (with the reason) and failing examples."""
    if not path.exists():
        err_console.print(Text(f"error: {path}: not found"))
        raise typer.Exit(EXIT_ERROR)
    ruleset = _load([path], "none", placeholders)
    results = run_examples(ruleset, require=False)
    failures = [r for r in results if not r.ok]
    for f in failures:
        console.print(Text(f"FAIL {f.rule.title} [{f.rule.id}] {f.kind} example #{f.index}: {f.detail}"))
    _print_unsupported(ruleset)
    console.print(Text(f"{len(ruleset.rules)} rule(s) supported, {len(ruleset.unsupported)} unsupported, "
                       f"{len(results) - len(failures)} example(s) passed, {len(failures)} failed"))
    if failures or ruleset.unsupported:
        raise typer.Exit(EXIT_FAILED)


RuleIdsArg = Annotated[list[str], typer.Argument(help="Rule ids (as `rules list` and the ingest summary show them)")]


def _valid_ids(ids: list[str]) -> list[str]:
    # one id per line in the list file: an id with a line break would smuggle in another
    bad = [i for i in ids if not i.strip() or any(ch.isspace() or not ch.isprintable() for ch in i)]
    if bad:
        err_console.print(Text(f"error: not a rule id: {bad[0]!r}"))
        raise typer.Exit(EXIT_ERROR)
    return ids


@app.command("disable")
def disable_rules(ids: RuleIdsArg) -> None:
    """Switch rules off: `trail ingest` and the server stop running them (the dashboard's list)."""
    _valid_ids(ids)
    with cli_errors():
        home = settings().home_path
        known = {r.id for r in load_rules([], include_builtin=True).rules}
        disabled = read_disabled(home)
        write_disabled(home, disabled | set(ids))
    for i in ids:
        note = "" if i in known else " (not a built-in rule id: one of your own rules, or a typo)"
        console.print(Text(f"disabled {i}{note}" if i not in disabled else f"{i} was already disabled"))


@app.command("enable")
def enable_rules(ids: RuleIdsArg) -> None:
    """Switch rules back on."""
    _valid_ids(ids)
    with cli_errors():
        home = settings().home_path
        disabled = read_disabled(home)
        write_disabled(home, disabled - set(ids))
    for i in ids:
        console.print(Text(f"enabled {i}" if i in disabled else f"{i} was not disabled"))
