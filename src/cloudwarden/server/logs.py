"""Structured JSON logs, one object per line. Fields come from `extra={"fields": {...}}`; values whose
key looks like a secret are replaced so a token or password can never reach a log file."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_SECRET_KEY = re.compile(r"pass|secret|token|authorization|cookie|csrf|key", re.I)


def redact(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if _SECRET_KEY.search(k) else v) for k, v in fields.items()}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(redact(fields))
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_json_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("cloudwarden")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
