"""Sigma correlation rules evaluated on a stream, and their state as bytes (to survive a restart).

Types: event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_median,
value_percentile. A condition is one or more of gt/gte/lt/lte/eq/neq against a number, AND-ed (a range:
`gte: 5, lte: 10`); temporal rules may instead carry an extended boolean condition over rule names
(`login and not mfa_check`).

Two evaluation modes, chosen per rule at load time:

- **on arrival** (conditions made only of gt, gte, eq; extended conditions without `not`): a sliding window
  per group. Entries older than the timespan are dropped on each arrival, the condition is checked after
  each event, and a group that fires starts afresh, so one burst produces one alert.
- **at window close** (any lt, lte or neq; extended conditions with `not`): "fewer than" can only be
  decided once the window is over. A group's window opens with its first event and lasts the timespan
  (a tumbling window); it is evaluated when event time passes its end — on the next event the Detector
  sees, whatever its group — or at `Detector.flush(until)`, which the ingest calls at the end of a run.
  The group is then dropped (fired or not) and the next event opens a new window. So a "fewer than"
  condition only ever fires for groups that saw at least one matching event in the window: silence
  itself (no event at all) is not something a stream of matches can report.

Event time is attacker-controlled input, so the `t` this module is given is already bounded by the
Detector: never more than a small tolerance past its `now()`; an event stamped further ahead is passed
in at the latest plausible event time seen (see `Detector`). So one event dated 2099 can neither close
every window early (a `sweep` up to 2099) nor expire a sliding window's older entries.

Numeric aggregates (value_sum, value_avg, value_median, value_percentile) read the condition's `field`
from each matching event; values that are not numbers (text that does not parse as a finite number,
booleans, objects) are skipped and counted in `CorrelationState.non_numeric`; events without the field do
not count. Median and percentiles interpolate linearly between the two nearest ranks.

Memory is bounded twice: at most `max_groups` groups per rule (least recently used evicted, counted in
`evicted`) and at most `max_events` entries per group. Counts need no more entries than the largest
threshold (+1): an event_count window closing later counts every event in `total` beyond the kept
entries; a value_count keeps one entry per distinct value and notes an overflow. The value_* types keep
one entry (one number) per event: beyond `max_events` values a sliding window aggregates the newest
`max_events`, a closing window the first `max_events`. Event bodies are kept for the first 10 entries of
a group only (the alert's evidence). An event id counts once per group (a re-ingested file must not count
twice).

`CorrelationState.dump()` / `load()` turn a rule's groups into plain data (for `Detector.snapshot`).
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudwarden.detect.fields import MISSING, Getter, compile_getter, iter_leaves, text_values

SUPPORTED_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered",
                   "value_sum", "value_avg", "value_median", "value_percentile")
NUMERIC_TYPES = ("value_sum", "value_avg", "value_median", "value_percentile")
SUPPORTED_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}
CLOSING_OPS = frozenset({"lt", "lte", "neq"})  # need the window to be over before they can be decided
SIGNS = {"gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "eq": "=", "neq": "≠"}
KEEP_EVENTS = 10  # event bodies per group (the evidence)

# An extended (boolean) temporal condition, over positions of referenced rules:
# ("ref", pos) | ("not", expr) | ("and", (expr, ...)) | ("or", (expr, ...))
Expr = tuple[Any, ...]


def eval_expr(expr: Expr, seen: set[int]) -> bool:
    kind = expr[0]
    if kind == "ref":
        return expr[1] in seen
    if kind == "not":
        return not eval_expr(expr[1], seen)
    if kind == "and":
        return all(eval_expr(e, seen) for e in expr[1])
    return any(eval_expr(e, seen) for e in expr[1])


def expr_has_not(expr: Expr) -> bool:
    if expr[0] == "ref":
        return False
    if expr[0] == "not":
        return True
    return any(expr_has_not(e) for e in expr[1])


@dataclass
class CorrelationSpec:
    rule_index: int  # position of the correlation's RuleInfo in the rule set
    type: str
    refs: list[int]  # positions of the referenced single-event rules, in the rule's order
    group_by: list[str]
    group_getters: dict[int, list[Getter]]  # per referenced rule: one getter per group-by field (aliases applied)
    timespan: float  # seconds
    op: str  # the first condition (kept for callers that know only one)
    count: float
    value_getters: dict[int, Getter] = field(default_factory=dict)  # value_*: field per referenced rule
    value_field: str = ""
    generate: bool = False
    conds: list[tuple[str, float]] = field(default_factory=list)  # all conditions, AND-ed (a range)
    percentile: float = 50.0  # value_percentile (value_median: 50)
    expr: Expr | None = None  # extended temporal condition
    expr_text: str = ""
    rule_id: str = ""
    fingerprint: str = ""  # of the rule's meaning (and its referenced rules'): a changed rule drops saved state

    def __post_init__(self) -> None:
        if not self.conds and self.expr is None:
            self.conds = [(self.op, self.count)]

    @property
    def closing(self) -> bool:
        """Evaluated when a window closes (else on each arrival)."""
        if self.expr is not None:
            return expr_has_not(self.expr)
        return any(op in CLOSING_OPS for op, _n in self.conds)

    def holds(self, observed: float) -> bool:
        return all(SUPPORTED_OPS[op](observed, n) for op, n in self.conds)

    def condition_text(self) -> str:
        if self.expr is not None:
            return repr(self.expr_text)
        return " and ".join(f"{SIGNS[op]} {n:g}" for op, n in self.conds)


@dataclass
class Entry:
    time: float
    ref: int
    value: str | None  # value_count: the counted value
    event_id: str
    event: Mapping[str, Any] | None  # kept for the first entries of a group only (the alert's evidence)
    num: float | None = None  # value_*: the number
    raw: bytes | None = None  # the event body as JSON, once a snapshot has rendered it (windows outlive many snapshots)


class Group:
    """One group-by value's window."""

    __slots__ = ("entries", "overflow", "start", "total")

    def __init__(self, maxlen: int, start: float) -> None:
        self.entries: deque[Entry] = deque(maxlen=maxlen)
        self.start = start  # first event of a closing window
        self.total = 0  # events accepted in a closing window (beyond the kept entries too)
        self.overflow = False  # a closing value_count saw more distinct values than it keeps

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class Firing:
    spec: CorrelationSpec
    group: tuple[str, ...]
    entries: list[Entry]
    observed: float  # the count/distinct count/rules seen/aggregate that met the condition
    total: int = 0  # events in the window (0: as many as entries)
    closed: bool = False  # decided at window close


def as_number(value: Any) -> float | None:
    """A finite number from a JSON value (int, float or numeric text), else None."""
    if value is True or value is False or value is None:
        return None
    if isinstance(value, (int, float)):
        num = float(value)
    elif isinstance(value, str):
        try:
            num = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return num if math.isfinite(num) else None


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); p in [0, 100]."""
    xs = sorted(values)
    k = (len(xs) - 1) * min(max(p, 0.0), 100.0) / 100.0
    lo = math.floor(k)
    hi = math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class CorrelationState:
    def __init__(self, spec: CorrelationSpec, *, max_groups: int, max_events: int, keep_events: int = KEEP_EVENTS) -> None:
        self.spec = spec
        self.max_groups = max(1, max_groups)
        self.closing = spec.closing
        if spec.type in ("event_count", "value_count"):
            # a count threshold needs no more entries than itself (+1 for "gt"): memory stays proportional to it
            needed = int(max((n for _op, n in spec.conds), default=0)) + 1
        elif spec.type in ("temporal", "temporal_ordered"):
            needed = max_events if spec.type == "temporal_ordered" else len(set(spec.refs)) + 1
        else:
            needed = max_events
        self.max_events = max(1, min(max_events, needed))
        self.keep_events = keep_events
        self.groups: OrderedDict[tuple[str, ...], Group] = OrderedDict()
        self._ends: list[tuple[float, int, tuple[str, ...], Group]] = []  # closing: (window end, seq, key, group)
        self._seq = 0
        self.non_numeric = 0  # value_* events whose field was not a number
        self.evicted = 0  # groups dropped to stay within max_groups
        self._ref_slot = {ref: i for i, ref in enumerate(dict.fromkeys(spec.refs))}  # ref -> stable index in dumps

    # -- arrival -----------------------------------------------------------------------------------------
    def _group_key(self, ref: int, event: Mapping[str, Any]) -> tuple[str, ...]:
        getters = self.spec.group_getters.get(ref, [])
        out = []
        for get in getters:
            values = text_values(event, get)
            out.append(values[0] if values else "")
        return tuple(out)

    def _value(self, ref: int, event: Mapping[str, Any]) -> tuple[bool, str | None, float | None]:
        """(counts, text value, number) of the counted field; counts is False when the event does not count."""
        spec = self.spec
        if spec.type == "value_count":
            get = spec.value_getters.get(ref)
            if get is None:
                return False, None, None
            values = text_values(event, get)
            if not values:
                return False, None, None  # events without the counted field do not count
            return True, values[0], None
        if spec.type in NUMERIC_TYPES:
            get = spec.value_getters.get(ref)
            raw = get(event) if get is not None else MISSING
            if raw is MISSING:
                return False, None, None
            leaves = list(iter_leaves(raw))
            num = as_number(leaves[0]) if leaves else None
            if num is None:
                self.non_numeric += 1
                return False, None, None
            return True, None, num
        return True, None, None

    def _new_group(self, key: tuple[str, ...], t: float) -> Group:
        group = Group(self.max_events, t)
        self.groups[key] = group
        if len(self.groups) > self.max_groups:
            self.groups.popitem(last=False)
            self.evicted += 1
        if self.closing:
            self._seq += 1
            heapq.heappush(self._ends, (t + self.spec.timespan, self._seq, key, group))
            if len(self._ends) > 4 * self.max_groups + 64:  # evicted groups' ends: rebuild from the live ones
                self._rebuild_ends()
        return group

    def _rebuild_ends(self) -> None:
        self._ends = []
        for key, group in self.groups.items():
            self._seq += 1
            self._ends.append((group.start + self.spec.timespan, self._seq, key, group))
        heapq.heapify(self._ends)

    def add(self, ref: int, event: Mapping[str, Any], t: float, event_id: str) -> list[Firing]:
        """Take one matching event (epoch seconds `t`); the firings it causes (usually none)."""
        counts, value, num = self._value(ref, event)
        if not counts:
            return []
        key = self._group_key(ref, event)
        if self.closing:
            return self._add_closing(key, ref, event, t, event_id, value, num)
        spec = self.spec
        group = self.groups.get(key)
        if group is None:
            group = self._new_group(key, t)
        else:
            self.groups.move_to_end(key)
        entries = group.entries
        horizon = t - spec.timespan
        while entries and entries[0].time < horizon:
            entries.popleft()
        if any(e.event_id == event_id for e in entries):
            return []  # the same event twice (re-ingest) must not count twice
        self._replace(entries, ref, value)
        entries.append(Entry(t, ref, value, event_id, event if len(entries) < self.keep_events else None, num))
        observed = self._observe(group)
        if observed is None or not spec.holds(observed):
            return []
        del self.groups[key]
        return [Firing(spec, key, list(entries), observed)]

    def _replace(self, entries: deque[Entry], ref: int, value: str | None) -> None:
        if self.spec.type == "value_count" and value is not None:  # only the newest entry per distinct value matters
            low = value.lower()
            for old in [e for e in entries if e.value is not None and e.value.lower() == low]:
                entries.remove(old)
        elif self.spec.type == "temporal":  # only the newest match per referenced rule matters
            for old in [e for e in entries if e.ref == ref]:
                entries.remove(old)

    def _add_closing(self, key: tuple[str, ...], ref: int, event: Mapping[str, Any], t: float, event_id: str,
                     value: str | None, num: float | None) -> list[Firing]:
        out: list[Firing] = []
        group = self.groups.get(key)
        if group is not None and t > group.start + self.spec.timespan:
            out.extend(self._close(key, group))  # its window ended before this event (no sweep ran in between)
            group = None
        if group is None:
            group = self._new_group(key, t)
        else:
            self.groups.move_to_end(key)
        entries = group.entries
        if any(e.event_id == event_id for e in entries):
            return out
        group.total += 1
        before = len(entries)
        self._replace(entries, ref, value)
        if len(entries) < self.max_events:
            entries.append(Entry(t, ref, value, event_id, event if len(entries) < self.keep_events else None, num))
        elif self.spec.type == "value_count" and len(entries) == before:
            group.overflow = True  # one more distinct value than kept: the count is past every threshold
        return out

    # -- window close ------------------------------------------------------------------------------------
    def next_close(self) -> float | None:
        """The earliest window end of a closing rule (may be a group already gone), else None."""
        return self._ends[0][0] if self._ends else None

    def sweep(self, until: float) -> list[Firing]:
        """Close every window that ended before `until` (epoch seconds, event time)."""
        out: list[Firing] = []
        ends = self._ends
        while ends and ends[0][0] < until:
            _end, _seq, key, group = heapq.heappop(ends)
            if self.groups.get(key) is group:
                out.extend(self._close(key, group))
        return out

    def _close(self, key: tuple[str, ...], group: Group) -> list[Firing]:
        del self.groups[key]
        observed = self._observe(group) if group.entries else None
        if observed is None or (self.spec.expr is None and not self.spec.holds(observed)):
            return []
        return [Firing(self.spec, key, list(group.entries), observed, total=group.total, closed=True)]

    def _observe(self, group: Group) -> float | None:
        spec = self.spec
        entries = group.entries
        kind = spec.type
        if kind == "event_count":
            return float(group.total if self.closing else len(entries))
        if kind == "value_count":
            return float(len({e.value.lower() for e in entries if e.value is not None}) + group.overflow)
        if kind == "temporal":
            seen = {e.ref for e in entries}
            if spec.expr is not None:
                return float(len(seen)) if eval_expr(spec.expr, seen) else None
            return float(len(seen))
        if kind in NUMERIC_TYPES:
            nums = [e.num for e in entries if e.num is not None]
            if not nums:
                return None
            if kind == "value_sum":
                return math.fsum(nums)
            if kind == "value_avg":
                return math.fsum(nums) / len(nums)
            return percentile(nums, 50.0 if kind == "value_median" else spec.percentile)
        # temporal_ordered: the referenced rules matched in their listed order within the window
        want = spec.refs
        i = 0
        for e in entries:
            if i < len(want) and e.ref == want[i]:
                i += 1
        return float(i) if i == len(want) else None

    # -- state as data -------------------------------------------------------------------------------------
    def dump(self, event_bytes: Callable[[Entry], Any]) -> dict[str, Any]:
        """Plain data of every group (LRU order kept). `event_bytes` renders an entry's kept event body (or None)."""
        slots = self._ref_slot
        groups = []
        for key, g in self.groups.items():
            entries = [[e.time, slots.get(e.ref, 0), e.value, e.num, e.event_id,
                        event_bytes(e) if e.event is not None else None] for e in g.entries]
            groups.append([list(key), g.start, g.total, g.overflow, entries])
        return {"groups": groups, "non_numeric": self.non_numeric, "evicted": self.evicted}

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the groups with dumped ones (raises ValueError/TypeError/KeyError on malformed data)."""
        refs = list(self._ref_slot)
        groups: OrderedDict[tuple[str, ...], Group] = OrderedDict()
        for key, start, total, overflow, entries in data["groups"][-self.max_groups:]:
            g = Group(self.max_events, float(start))
            g.total = int(total)
            g.overflow = bool(overflow)
            for t, slot, value, num, event_id, event in entries[-self.max_events:]:
                if event is not None and not isinstance(event, dict):
                    raise TypeError("an evidence event is not an object")
                g.entries.append(Entry(float(t), refs[int(slot)], None if value is None else str(value), str(event_id),
                                       event, None if num is None else float(num)))
            if g.entries:  # a window without entries has nothing to say (and no time to close at)
                groups[tuple(str(k) for k in key)] = g
        self.groups = groups
        self.non_numeric = int(data.get("non_numeric", 0))
        self.evicted = int(data.get("evicted", 0))
        self._ends = []
        if self.closing:
            self._rebuild_ends()


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
