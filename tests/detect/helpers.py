"""Build one-rule rule sets from a detection mapping (tests only)."""

from __future__ import annotations

import uuid
from typing import Any

import yaml

from cloudwarden.detect.engine import RuleSet, load_rules_text


def rule_yaml(detection: dict[str, Any], *, title: str = "test rule", level: str = "medium",
              rule_id: str | None = None, tags: list[str] | None = None, name: str | None = None,
              logsource: dict[str, str] | None = None) -> str:
    doc: dict[str, Any] = {
        "title": title,
        "id": rule_id or str(uuid.uuid4()),
        "logsource": logsource or {"product": "aws", "service": "cloudtrail"},
        "detection": detection,
        "level": level,
        "tags": tags or ["attack.t1098"],
    }
    if name:
        doc["name"] = name
    return yaml.safe_dump(doc, sort_keys=False)


def one_rule(detection: dict[str, Any], **kw: Any) -> RuleSet:
    rs = load_rules_text(rule_yaml(detection, **kw))
    assert not rs.unsupported, rs.unsupported
    assert len(rs.rules) == 1
    return rs


def hits(rs: RuleSet, event: dict[str, Any]) -> bool:
    indexed = bool(rs.match(event))
    naive = bool(rs.match_naive(event))
    assert indexed == naive, "index disagrees with brute force"
    return indexed
