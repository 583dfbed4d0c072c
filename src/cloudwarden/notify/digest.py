"""Turn one or many alerts into one message (a digest for a burst). Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from cloudwarden.notify.routing import SEVERITY_ORDER


def _line(a: Mapping[str, Any]) -> str:
    where = " ".join(x for x in (str(a.get("account") or ""), str(a.get("region") or ""), str(a.get("host") or "")) if x)
    return f"[{a.get('severity', '?')}] {a.get('title', '')} — {a.get('entity', '')}" + (f" ({where})" if where else "")


def subject(alerts: Sequence[Mapping[str, Any]]) -> str:
    if len(alerts) == 1:
        a = alerts[0]
        return f"cloudwarden {a.get('severity', '')} alert: {a.get('title', '')}"
    worst = max((str(a.get("severity", "")) for a in alerts), key=lambda s: SEVERITY_ORDER.get(s, 0))
    return f"cloudwarden: {len(alerts)} alerts (worst: {worst})"


def text(alerts: Sequence[Mapping[str, Any]], limit: int = 20) -> str:
    """Plain text body. A burst lists the distinct titles with counts, then the first `limit` alerts."""
    if len(alerts) == 1:
        a = alerts[0]
        return f"{_line(a)}\n{a.get('explanation', '')}"
    by_title = Counter(str(a.get("title", "")) for a in alerts)
    lines = [f"{len(alerts)} alerts in this digest:"]
    lines += [f"  {n} × {t}" for t, n in by_title.most_common()]
    lines.append("")
    ordered = sorted(alerts, key=lambda a: -SEVERITY_ORDER.get(str(a.get("severity", "")), 0))
    lines += [_line(a) for a in ordered[:limit]]
    if len(alerts) > limit:
        lines.append(f"… and {len(alerts) - limit} more")
    return "\n".join(lines)


def payload(alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The generic webhook body: the alerts themselves (fields a receiver can route on) plus a summary."""
    keep = ("id", "rule_id", "title", "severity", "source", "entity", "account", "region", "host", "explanation",
            "first_seen", "last_seen", "count", "attack_ids")
    return {"summary": subject(alerts), "count": len(alerts),
            "alerts": [{k: a.get(k) for k in keep if k in a} for a in alerts]}
