"""Sigma correlation rules evaluated on a stream: event_count, value_count, temporal, temporal_ordered.

State is per (correlation rule, group-by values) and bounded twice: at most `max_groups` groups per rule
(least recently used evicted) and at most `max_events` entries per group. Entries older than the rule's
timespan are dropped on each arrival. Conditions are evaluated when an event arrives, so only
"at least"/"more than"/"exactly" thresholds are supported (gt, gte, eq); "fewer than" needs a window close
and is reported as unsupported at load time. After a correlation fires, its group starts afresh so the
same burst produces one alert (the alert store groups later bursts).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudwarden.detect.fields import Getter, compile_getter, text_values

SUPPORTED_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
SUPPORTED_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
}


@dataclass
class CorrelationSpec:
    rule_index: int  # position of the correlation's RuleInfo in the rule set
    type: str
    refs: list[int]  # positions of the referenced single-event rules, in the rule's order
    group_by: list[str]
    group_getters: dict[int, list[Getter]]  # per referenced rule: one getter per group-by field (aliases applied)
    timespan: float  # seconds
    op: str
    count: float
    value_getters: dict[int, Getter] = field(default_factory=dict)  # value_count: field per referenced rule
    value_field: str = ""
    generate: bool = False

    def condition_text(self) -> str:
        sign = {"gt": ">", "gte": "≥", "eq": "="}[self.op]
        return f"{sign} {self.count:g}"


@dataclass
class Entry:
    time: float
    ref: int
    value: str | None
    event_id: str
    event: Mapping[str, Any] | None  # kept for the first entries of a group only (the alert's evidence)


@dataclass
class Firing:
    spec: CorrelationSpec
    group: tuple[str, ...]
    entries: list[Entry]
    observed: float  # the count/distinct count/rules seen that met the condition


class CorrelationState:
    def __init__(self, spec: CorrelationSpec, *, max_groups: int, max_events: int, keep_events: int = 10) -> None:
        self.spec = spec
        self.max_groups = max_groups
        # a count threshold needs no more entries than itself (+1 for "gt"): memory stays proportional to it
        needed = int(spec.count) + 1 if spec.type in ("event_count", "value_count") else max_events
        self.max_events = max(1, min(max_events, needed))
        self.keep_events = keep_events
        self.groups: OrderedDict[tuple[str, ...], deque[Entry]] = OrderedDict()

    def _group_key(self, ref: int, event: Mapping[str, Any]) -> tuple[str, ...]:
        getters = self.spec.group_getters.get(ref, [])
        out = []
        for get in getters:
            values = text_values(event, get)
            out.append(values[0] if values else "")
        return tuple(out)

    def add(self, ref: int, event: Mapping[str, Any], when: datetime, event_id: str) -> Firing | None:
        spec = self.spec
        t = when.timestamp()
        key = self._group_key(ref, event)
        entries = self.groups.get(key)
        if entries is None:
            entries = deque(maxlen=self.max_events)
            self.groups[key] = entries
            if len(self.groups) > self.max_groups:
                self.groups.popitem(last=False)
        else:
            self.groups.move_to_end(key)
        horizon = t - spec.timespan
        while entries and entries[0].time < horizon:
            entries.popleft()
        if any(e.event_id == event_id for e in entries):
            return None  # the same event twice (re-ingest) must not count twice
        value: str | None = None
        if spec.type == "value_count":
            get = spec.value_getters.get(ref)
            if get is None:
                return None
            values = text_values(event, get)
            if not values:
                return None  # events without the counted field do not count
            value = values[0]
        if spec.type == "value_count":  # only the newest entry per distinct value matters
            for old in [e for e in entries if e.value is not None and e.value.lower() == value.lower()]:  # type: ignore[union-attr]
                entries.remove(old)
        elif spec.type == "temporal":  # only the newest match per referenced rule matters
            for old in [e for e in entries if e.ref == ref]:
                entries.remove(old)
        entries.append(Entry(t, ref, value, event_id, event if len(entries) < self.keep_events else None))
        observed = self._observe(entries)
        if observed is None or not SUPPORTED_OPS[spec.op](observed, spec.count):
            return None
        fired = list(entries)
        del self.groups[key]
        return Firing(spec, key, fired, observed)

    def _observe(self, entries: deque[Entry]) -> float | None:
        spec = self.spec
        if spec.type == "event_count":
            return float(len(entries))
        if spec.type == "value_count":
            return float(len({e.value.lower() for e in entries if e.value is not None}))
        if spec.type == "temporal":
            return float(len({e.ref for e in entries}))
        # temporal_ordered: the referenced rules matched in their listed order within the window
        want = spec.refs
        i = 0
        for e in entries:
            if i < len(want) and e.ref == want[i]:
                i += 1
        return float(i) if i == len(want) else None


def make_group_getters(fields: list[str], refs: list[int], ref_names: dict[int, set[str]],
                       aliases: dict[str, dict[str, str]]) -> dict[int, list[Getter]]:
    """Per referenced rule, the getter of each group-by field, resolving correlation aliases."""
    out: dict[int, list[Getter]] = {}
    for ref in refs:
        getters = []
        for name in fields:
            actual = name
            mapping = aliases.get(name)
            if mapping:
                for ref_name, fld in mapping.items():
                    if ref_name in ref_names.get(ref, set()):
                        actual = fld
                        break
            getters.append(compile_getter(actual))
        out[ref] = getters
    return out
