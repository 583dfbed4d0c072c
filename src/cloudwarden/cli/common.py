"""Helpers shared by command modules: settings, the state store, consistent error output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from cloudwarden.config import Settings, load_settings
from cloudwarden.errors import CloudwardenError
from cloudwarden.store.state import StateStore, open_store

console = Console()
# Messages on stderr name files, lines and resources: never hard-wrapped, so a path stays whole when it is
# copied from a terminal or read from a log (tables still fit the width).
err_console = Console(stderr=True, soft_wrap=True)

EXIT_OK = 0
EXIT_FINDINGS = 3  # the job ran and found failing controls / alerts at or above the threshold
EXIT_ERROR = 2  # the job could not run (bad settings, no credentials, bad input)


def settings() -> Settings:
    try:
        return load_settings()
    except CloudwardenError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_ERROR)


def state_store(s: Settings | None = None) -> StateStore:
    s = s or settings()
    return open_store(s.state_url)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn expected errors into one clear line and exit code 2 instead of a traceback."""
    try:
        yield
    except CloudwardenError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        sys.exit(EXIT_ERROR)
