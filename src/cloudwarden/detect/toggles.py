"""Which rules are switched off: the ids the dashboard/API disabled, one per line in
`<home>/rules/disabled.txt`. The server writes it; the server's detection and `cloudwarden trail ingest`
both read it, so a rule disabled in the dashboard stays quiet however CloudTrail arrives."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from cloudwarden.errors import ConfigError


def disabled_rules_file(home: Path | str) -> Path:
    return Path(home) / "rules" / "disabled.txt"


def read_disabled(home: Path | str) -> set[str]:
    f = disabled_rules_file(home)
    try:
        text = f.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the disabled-rules list: {exc}", source=str(f)) from exc
    return {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


def write_disabled(home: Path | str, ids: Iterable[str]) -> None:
    f = disabled_rules_file(home)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    tmp.write_text("".join(f"{i}\n" for i in sorted(set(ids))), encoding="utf-8")
    os.replace(tmp, f)  # readers (a CLI ingest starting now) never see a half-written list
