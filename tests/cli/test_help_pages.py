"""Every command's --help renders: help texts go through Rich markup, where a stray "[...]" breaks the page."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from cloudwarden.cli.main import app


def _paths(command: Any, path: list[str]) -> list[list[str]]:
    out = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        out.extend(_paths(sub, [*path, name]))
    return out


def test_every_help_page_renders() -> None:
    runner = CliRunner()
    paths = _paths(typer.main.get_command(app), [])
    assert len(paths) > 30  # the walk reaches the subcommands, not just the root
    broken = []
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        if result.exit_code != 0 or "Usage" not in result.output:
            broken.append((" ".join(path), repr(result.exception)))
    assert not broken, broken


def test_bracketed_text_in_a_help_page_is_shown_literally() -> None:
    out = CliRunner().invoke(app, ["trail", "ingest", "--help"]).output
    assert "s3://bucket[/prefix]" in out
