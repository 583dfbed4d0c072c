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


def _squeeze(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace() and ch not in "│╭╮╰╯─")


def test_bracketed_text_in_help_is_shown_literally() -> None:
    """Rich swallows "[name]" as a style tag unless escaped: every bracketed part of every option's help shows."""
    runner = CliRunner()
    checked = 0
    for path in _paths(typer.main.get_command(app), []):
        command: Any = typer.main.get_command(app)
        for name in path:
            command = command.commands[name]
        for param in command.params:
            text = getattr(param, "help", None) or ""
            if "[" not in text:
                continue
            out = _squeeze(runner.invoke(app, [*path, "--help"]).output)
            shown = _squeeze(text.replace("\\[", "["))
            for part in shown.split("[")[1:]:
                checked += 1
                assert "[" + part.split("]")[0] + "]" in out, (path, param.name, part)
    assert checked >= 3
