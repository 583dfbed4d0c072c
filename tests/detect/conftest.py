"""Fixtures for the detection tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

CLI_WIDTH = 300  # wide enough that no table cell, rule id or tmp path in a CLI test's output wraps


@pytest.fixture(autouse=True)
def wide_cli_consoles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pin the width of the CLI's Rich consoles while a test runs.

    The consoles are created when `cloudwarden.cli.common` is first imported, and Rich fixes their width
    then if COLUMNS is set — pytest-xdist workers have COLUMNS=80 — so the `CliRunner(env={"COLUMNS": ...})`
    of a test is ignored and the assertions would depend on how pytest was started. `_width` is what Rich's
    own `width` setter writes; patching it (rather than calling the setter) restores the exact prior value,
    None included, so tests elsewhere keep Rich's usual behaviour."""
    from cloudwarden.cli import common

    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", CLI_WIDTH)
    yield
