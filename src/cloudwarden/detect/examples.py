"""Runs the example events that each rule carries (`x-examples: {positive: [...], negative: [...]}` in
the rule, or a sidecar `<rule>.examples.json`).

A single-event rule's example is one event: positives must match the rule, negatives must not. A
correlation rule's example is a list of events replayed in order through a fresh Detector (event time from
`eventTime`, `time` or `@timestamp`, else one second apart; `{sequence: N, event: {...}}` stands for N copies):
positives must make the correlation fire, negatives must not. After the last event every window is
closed (`Detector.flush`), so "fewer than" correlations are decided too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudwarden.detect.engine import Detector, RuleInfo, RuleSet


@dataclass
class ExampleResult:
    rule: RuleInfo
    kind: str  # positive | negative | missing
    index: int
    ok: bool
    detail: str = ""


def event_time(event: Mapping[str, Any]) -> datetime:
    for key in ("eventTime", "time", "@timestamp", "timestamp"):
        v = event.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return datetime.fromtimestamp(v, tz=UTC)
        if isinstance(v, str):
            try:
                dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                continue
            return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def _examples(info: RuleInfo) -> tuple[list[Any], list[Any]] | None:
    ex = info.examples
    if not isinstance(ex, Mapping):
        return None
    pos = ex.get("positive") or []
    neg = ex.get("negative") or []
    return (list(pos) if isinstance(pos, list) else [pos]), (list(neg) if isinstance(neg, list) else [neg])


def _single(ruleset: RuleSet, info: RuleInfo, event: Any) -> tuple[bool, str]:
    if not isinstance(event, Mapping):
        return False, "example is not an event object"
    matched = any(m.rule.id == info.id for m in ruleset.match(event, include_silent=True))
    naive = any(m.rule.id == info.id for m in ruleset.match_naive(event, include_silent=True))
    if matched != naive:  # pragma: no cover - an index bug; surfaced loudly
        return matched, "indexed and brute-force matching disagree"
    return matched, ""


def _expand(example: Any) -> list[Mapping[str, Any]] | None:
    """A correlation example: a list of events, where `{sequence: N, event: {...}}` stands for N copies."""
    items = [example] if isinstance(example, Mapping) else example
    if not isinstance(items, list):
        return None
    out: list[Mapping[str, Any]] = []
    for item in items:
        if not isinstance(item, Mapping):
            return None
        if "event" in item and isinstance(item["event"], Mapping):
            n = item.get("sequence", 1)
            if not isinstance(n, int) or not 0 <= n <= 10_000:
                return None
            out.extend([item["event"]] * n)
        else:
            out.append(item)
    return out


def _correlation(ruleset: RuleSet, info: RuleInfo, example: Any) -> tuple[bool, str]:
    events = _expand(example)
    if events is None:
        return False, "a correlation example is a list of events (or {sequence: N, event: {...}})"
    counter = iter(range(1, 1_000_000))
    # every replayed event is a distinct occurrence, even when copies are identical
    # the example is its own clock: its events may be dated anywhere, and they are not hostile input
    detector = Detector(ruleset, event_id_fn=lambda _e: f"example-{next(counter)}", now=None)
    fired = False
    last: datetime | None = None
    for i, ev in enumerate(events):
        when = event_time(ev)
        if when.year == 1970:  # no time in the example: one event per second
            when = when.replace(second=0) + timedelta(seconds=i)
        last = when if last is None else max(last, when)
        for alert in detector.process(ev, when):
            if alert.rule_id == info.id:
                fired = True
    if last is not None:
        # the example's events are all there is: close every window ("fewer than" rules decide now)
        end = last + timedelta(days=3650)
        fired = any(alert.rule_id == info.id for alert in detector.flush(end)) or fired
    return fired, ""


def run_examples(ruleset: RuleSet, *, require: bool = False) -> list[ExampleResult]:
    """One result per example; with `require`, a rule without examples is a failure."""
    results: list[ExampleResult] = []
    for info in ruleset.rules:
        ex = _examples(info)
        if ex is None or not (ex[0] or ex[1]):
            if require:
                results.append(ExampleResult(info, "missing", 0, False, "rule carries no examples"))
            continue
        if require and (not ex[0] or not ex[1]):
            results.append(ExampleResult(info, "missing", 0, False, "needs at least one positive and one negative"))
        run = _correlation if info.kind == "correlation" else _single
        for kind, items, want in (("positive", ex[0], True), ("negative", ex[1], False)):
            for i, item in enumerate(items):
                got, detail = run(ruleset, info, item)
                ok = got is want and not detail
                if not ok and not detail:
                    detail = "did not fire" if want else "fired"
                results.append(ExampleResult(info, kind, i, ok, detail))
    return results
