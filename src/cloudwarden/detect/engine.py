"""The detection engine: load Sigma rules, match events against them, run correlations, emit Alerts.

    ruleset = load_rules(["my-rules/"], include_builtin="cloudtrail")
    ruleset.match(event)                       # -> [Match] for single-event rules
    Detector(ruleset).process(event, time)     # -> [Alert], correlations included
    detector.flush(until)                      # -> [Alert] of "fewer than" windows that closed before `until`
    Detector(ruleset, now=clock)               # event time never closes windows past clock() + future_tolerance
    detector.restore(detector.snapshot())      # correlation windows as bytes, across a restart

Rules are parsed by pySigma and compiled to closures (`compiler.py`). The rule set indexes every rule by
one of its necessary equality conditions (eventName/eventSource values, a process image's file name...),
chosen so that the fewest distinct fields are looked up per event; an event is tried only against the
rules listed under its own values plus the few rules that have no such condition.
"""

from __future__ import annotations

import hashlib
import logging
import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from cloudwarden.detect.compiler import (
    And,
    CompiledDetection,
    Pred,
    UnsupportedRule,
    build,
    compile_rule,
    conjuncts,
    reads,
)
from cloudwarden.detect.correlation import (
    NUMERIC_TYPES,
    SUPPORTED_OPS,
    SUPPORTED_TYPES,
    CorrelationSpec,
    CorrelationState,
    Entry,
    Expr,
    Firing,
    make_group_getters,
)
from cloudwarden.detect.fields import MISSING, Getter, as_text, compile_getter, iter_leaves
from cloudwarden.detect.placeholders import Placeholders, expand_rules
from cloudwarden.detect.placeholders import configured as configured_placeholders
from cloudwarden.errors import RuleError
from cloudwarden.models.alert import SEVERITY_ORDER, Alert

RULES_ROOT = Path(__file__).resolve().parent.parent / "rules"
BUILTIN_KINDS = ("cloudtrail", "linux")
EXAMPLES_KEY = "x-examples"
RANGE_KEY = "x-cloudwarden-condition-range"  # a correlation condition's comparisons when it has several


def builtin_rules_path(kind: str) -> Path:
    """The folder of cloudwarden's own Sigma rules of one kind: `src/cloudwarden/rules/<kind>/`."""
    if kind not in BUILTIN_KINDS:
        raise RuleError(f"unknown built-in rule kind {kind!r}; expected one of {', '.join(BUILTIN_KINDS)}")
    return RULES_ROOT / kind


@dataclass(frozen=True)
class LogSource:
    product: str | None = None
    service: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class RuleInfo:
    id: str
    title: str
    level: str  # informational | low | medium | high | critical (Sigma level; also the alert severity)
    attack_ids: tuple[str, ...]
    tags: tuple[str, ...]
    logsource: LogSource
    source: str  # path of the rule file
    description: str = ""
    falsepositives: tuple[str, ...] = ()
    name: str = ""
    kind: str = "single"  # single | correlation
    status: str = ""
    examples: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)


@dataclass
class Match:
    rule: RuleInfo
    event: Mapping[str, Any]
    selections: list[str] = field(default_factory=list)  # detections of the rule that were true
    explanation: str = ""


@dataclass
class CompiledRule:
    pos: int
    info: RuleInfo
    detection: CompiledDetection
    silent: bool = False  # referenced by a correlation with generate: false -> no alert of its own
    correlations: list[int] = field(default_factory=list)  # positions in RuleSet.correlations


def attack_ids_from_tags(tags: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for tag in tags:
        t = tag.lower()
        if t.startswith("attack.t") and t[8:9].isdigit():
            out.append("T" + t[8:].upper())
    return tuple(dict.fromkeys(out))


def _level(rule: SigmaRule | SigmaCorrelationRule) -> str:
    if rule.level is None:
        return "medium"
    name = str(rule.level.name).lower()
    return name if name in SEVERITY_ORDER else "medium"


def _info(rule: SigmaRule | SigmaCorrelationRule, source: str, examples: Mapping[str, Any] | None, kind: str) -> RuleInfo:
    tags = tuple(str(t) for t in rule.tags)
    logsource = LogSource()
    if isinstance(rule, SigmaRule):
        logsource = LogSource(rule.logsource.product, rule.logsource.service, rule.logsource.category)
    rid = str(rule.id) if rule.id is not None else (rule.name or f"{source}#{rule.title}")
    return RuleInfo(
        id=rid,
        title=rule.title or rid,
        level=_level(rule),
        attack_ids=attack_ids_from_tags(tags),
        tags=tags,
        logsource=logsource,
        source=source,
        description=(rule.description or "").strip(),
        falsepositives=tuple(str(f) for f in rule.falsepositives),
        name=rule.name or "",
        kind=kind,
        status=str(rule.status.name).lower() if rule.status is not None else "",
        examples=examples,
    )


def _pos(c: CompiledRule) -> int:
    return c.pos


_POS = attrgetter("pos")  # the sort key of _candidates, without a Python call per rule
_UNSEEN: Any = object()
_MEMO_ENTRIES = 4096  # per index: distinct values remembered (cleared when full)
_MEMO_MAX_LEN = 256
_PLAN_ENTRIES = 8192  # distinct plan keys remembered (cleared when full): a few MB at most
Plan = tuple[tuple["CompiledRule", Pred | None], ...]  # candidate rules still open, each with what is left to test
KeyFn = Callable[[Mapping[str, Any]], tuple[Any, ...]]


# Index fields whose values are names from a closed set (API names, services, identity types): plans are
# remembered by their raw values, so the rule parts that read only these are decided once per plan. Other
# index fields (user agents, paths) enter the key only as which index entry their value hits, so that
# free-text values do not make every key new.
ENUMERATED_FIELDS = frozenset({"eventName", "eventSource", "eventType", "eventCategory", "userIdentity.type",
                               "awsRegion", "errorCode", "EventType", "type"})


class _Hit:
    """Which entry of one index a value hits (or none): stands for the value in a plan key."""

    __slots__ = ()


def _classifier(is_base: bool, table: dict[str, list[Any]], memo: dict[str, _Hit]) -> Callable[[str], _Hit]:
    codes = {id(rules): _Hit() for rules in table.values()}
    none = _Hit()

    def classify(v: str) -> _Hit:
        key = v.lower()
        hit = table.get(_basename(key) if is_base else key)
        code = codes[id(hit)] if hit else none
        if len(v) <= _MEMO_MAX_LEN:
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            memo[v] = code
        return code

    return classify


def _key_function(fields: list[tuple[str, Getter, Callable[[str], _Hit] | None, dict[str, _Hit] | None]],
                  presence: list[tuple[str, ...]]) -> KeyFn:
    """One function returning the plan key of an event: per field, its value (as its getter gives it) or, for
    a classified field holding text, the index entry that text hits; then, per presence group, whether any
    of its keys is in the event.

    Generated as one flat function (a frame per event instead of one per field): plain fields are inlined
    as `event.get`, two-part paths through plain dicts too; anything else calls the field's own getter.
    Field names enter the source only through repr()."""
    ns: dict[str, Any] = {"M": MISSING}
    lines = ["def key(e):", "    g = e.get", "    plain = e.__class__ is dict"]
    out: list[str] = []
    for i, (fld, get, classify, memo) in enumerate(fields):
        ns[f"d{i}"] = get
        parts = fld.split(".")
        if len(parts) == 1:
            lines.append(f"    v{i} = g({fld!r}, M)")
        elif len(parts) == 2:  # as fields.compile_getter: the flat dotted key wins, then nested dicts
            lines += [f"    v{i} = g({fld!r}, M)",
                      f"    if v{i} is M:",
                      f"        n = g({parts[0]!r}, M)",
                      "        if plain and n.__class__ is dict:",
                      f"            v{i} = n.get({parts[1]!r}, M)",
                      "        elif n is not M or not plain:",
                      f"            v{i} = d{i}(e)"]
        else:
            lines.append(f"    v{i} = d{i}(e)")
        if classify is not None:
            ns[f"k{i}"], ns[f"m{i}"] = classify, memo
            lines += [f"    if v{i}.__class__ is str:",
                      f"        c = m{i}.get(v{i})",
                      f"        v{i} = c if c is not None else k{i}(v{i})"]
        out.append(f"v{i}")
    for keys in presence:
        out.append("(" + " or ".join(f"{k!r} in e" for k in keys) + ")")
    lines.append(f"    return ({', '.join(out)}{',' if len(out) == 1 else ''})")
    exec("\n".join(lines), ns)  # noqa: S102 - our own template; field names are repr()'d literals
    fn: KeyFn = ns["key"]
    return fn


def _basename(text: str) -> str:
    """File name of a path, '/' or '\\' separated (must agree with compiler._basename_key)."""
    return text[max(text.rfind("/"), text.rfind("\\")) + 1:]


class RuleSet:
    """Compiled, indexed rules. Build with `load_rules`."""

    def __init__(self, compiled: list[CompiledRule], correlations: list[tuple[RuleInfo, CorrelationSpec]],
                 unsupported: list[tuple[str, str, str]]) -> None:
        self._compiled = compiled
        self.correlations = correlations
        self.unsupported = unsupported
        self.rules: list[RuleInfo] = [c.info for c in compiled] + [info for info, _ in correlations]
        self._by_id = {c.info.id: c for c in compiled}
        self._parsed: list[tuple[Any, str, Any]] = []  # the parsed pySigma rules, to extend the set later
        self._build_index()

    # -- index --------------------------------------------------------------------------------------
    def _build_index(self) -> None:
        freq: dict[tuple[str, str], int] = {}
        distinct: dict[tuple[str, str], set[str]] = {}
        for c in self._compiled:
            for key, values in c.detection.constraints.items():
                freq[key] = freq.get(key, 0) + 1
                distinct.setdefault(key, set()).update(values)
        tables: dict[tuple[str, str], dict[str, list[CompiledRule]]] = {}
        self._always: list[CompiledRule] = []
        presence: dict[tuple[str, ...], list[CompiledRule]] = {}
        for c in self._compiled:
            cons = c.detection.constraints
            if not cons:
                # no equality key: still skip events that lack every field the rule needs (host rules on cloud events)
                if c.detection.required:
                    presence.setdefault(tuple(sorted(c.detection.required)), []).append(c)
                else:
                    self._always.append(c)
                continue
            # a field shared with other rules (one lookup serves many), then the most selective field
            # (most distinct values across rules: eventName beats eventSource), exact equality, fewest keys
            key = max(cons, key=lambda k: (freq[k] > 1, len(distinct[k]), freq[k], k[0] == "eq", -len(cons[k])))
            table = tables.setdefault(key, {})
            for value in cons[key]:
                table.setdefault(value, []).append(c)
        self._index_keys = list(tables)
        self._indexes: list[tuple[bool, Getter, dict[str, list[CompiledRule]]]] = [
            (kind == "base", compile_getter(fld), table) for (kind, fld), table in tables.items()
        ]
        self._presence_groups = list(presence.items())
        # what _candidates walks: each index with a memo of value -> rules (values repeat massively in
        # CloudTrail); bounded, and rebuilt with the index, so the lookups stay pure
        self._lookups: list[tuple[bool, Getter, dict[str, list[CompiledRule]], dict[str, list[CompiledRule] | None]]] = [
            (is_base, get, table, {}) for is_base, get, table in self._indexes
        ]
        self.index_fields = [f"{kind}:{fld}" for (kind, fld) in tables] + [
            "present:" + "|".join(flds) for flds in presence
        ]
        # a dotted field is present when its literal key or its first path element is
        self._presence: list[tuple[tuple[str, ...], list[CompiledRule]]] = [
            (tuple(dict.fromkeys(k for f in flds for k in (f, f.split(".", 1)[0]))), rules)
            for flds, rules in presence.items()
        ]
        self._build_plans()

    def _build_plans(self) -> None:
        """The fast path of `matching_rules`: what the index decides depends only on the values of the index
        fields (and the presence of a few keys), and so do the parts of the rules that read nothing else.
        For a tuple of such values seen before, the candidates — minus the rules already false on those parts,
        each with only its remaining parts to test — come from one dict lookup. Only keys of text, null,
        absent or index-hit parts are remembered (a number or a list takes the general path each time)."""
        parts: list[tuple[str, Getter, Callable[[str], _Hit] | None, dict[str, _Hit] | None]] = []
        known: set[str] = set()
        for (_kind, fld), (is_base, get, table) in zip(self._index_keys, self._indexes, strict=True):
            if fld in ENUMERATED_FIELDS:
                if fld not in known:
                    known.add(fld)
                    parts.append((fld, get, None, None))
            else:
                memo: dict[str, _Hit] = {}
                parts.append((fld, get, _classifier(is_base, table, memo), memo))
        bits: list[tuple[str, ...]] = []
        for flds, _rules in self._presence_groups:
            # presence only (not the values: command lines, user agents... would make every key new);
            # as _candidates, a dotted field is present when its literal key or its first element is
            bits.append(tuple(dict.fromkeys(k for f in flds for k in (f, f.split(".", 1)[0]))))
        self._key_parts = parts  # what the key holds: per part a value or its index hit, then presence bits
        self._key_bits = bits
        self._key_values = len(parts)
        self._plan_key: KeyFn = _key_function(parts, bits)
        self._split: list[tuple[Pred | None, Pred | None]] = []
        for c in self._compiled:
            fixed: list[Any] = []
            rest: list[Any] = []
            for part in conjuncts(c.detection.node):  # the parts that read only raw key values are decided
                r = reads(part)
                (fixed if r is not None and r <= known else rest).append(part)
            self._split.append((build(And(fixed)) if fixed else None, build(And(rest)) if rest else None))
        self._plans: dict[tuple[Any, ...], Plan] = {}

    def _new_plan(self, event: Mapping[str, Any], key: tuple[Any, ...] | None) -> Plan:
        split = self._split
        plan: list[tuple[CompiledRule, Pred | None]] = []
        for c in self._candidates(event):
            fixed, rest = split[c.pos]
            if fixed is None or fixed(event):
                plan.append((c, rest))
        out = tuple(plan)
        if key is not None:
            for v in key[: self._key_values]:  # the rest: presence bits
                if not (v is MISSING or v is None or v.__class__ is _Hit
                        or (v.__class__ is str and len(v) <= _MEMO_MAX_LEN)):
                    return out  # numbers equal across types (1 == True), long or odd values: not remembered
            plans = self._plans
            if len(plans) >= _PLAN_ENTRIES:
                plans.clear()
            plans[key] = out
        return out

    def _key_reference(self, event: Mapping[str, Any]) -> tuple[Any, ...]:
        """What `_plan_key` computes, the plain way (for tests)."""
        out: list[Any] = []
        for _fld, get, classify, _memo in self._key_parts:
            v = get(event)
            out.append(classify(v) if classify is not None and v.__class__ is str else v)
        return (*out, *(any(k in event for k in keys) for keys in self._key_bits))

    def plan(self, event: Mapping[str, Any]) -> Plan:
        """The event's candidate rules, each with the predicate left to test (None: it matches)."""
        key: tuple[Any, ...] | None = self._plan_key(event)
        try:
            hit = self._plans.get(key)  # type: ignore[arg-type]
        except TypeError:  # a list or mapping in an index field: never remembered
            hit = None
            key = None
        return hit if hit is not None else self._new_plan(event, key)

    def _candidates(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        found: list[CompiledRule] = list(self._always)
        sources = 1 if found else 0
        for is_base, get, table, memo in self._lookups:
            v = get(event)
            if v.__class__ is str:
                hit = memo.get(v, _UNSEEN)
                if hit is _UNSEEN:
                    key = v.lower()
                    hit = table.get(_basename(key) if is_base else key)
                    if len(v) <= _MEMO_MAX_LEN:
                        if len(memo) >= _MEMO_ENTRIES:
                            memo.clear()
                        memo[v] = hit
                if hit:
                    found.extend(hit)
                    sources += 1
            elif v is not MISSING and v is not None:
                seen: set[int] = set()
                for leaf in iter_leaves(v):
                    text = as_text(leaf)
                    if text is None:
                        continue
                    key = text.lower()
                    for c in table.get(_basename(key) if is_base else key, ()):
                        if c.pos not in seen:
                            seen.add(c.pos)
                            found.append(c)
                            sources += 1
        for keys, rules in self._presence:
            for key in keys:
                if key in event:
                    found.extend(rules)
                    sources += 1
                    break
        if sources > 1:
            found.sort(key=_POS)
        return found

    # -- matching -------------------------------------------------------------------------------------
    def matching_rules(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """Every compiled rule whose detection is true for the event (silent ones included)."""
        return [c for c, rest in self.plan(event) if rest is None or rest(event)]

    def matching_rules_indexed(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """The index without plans: every candidate's whole detection tried (reference for tests)."""
        return [c for c in self._candidates(event) if c.detection.pred(event)]

    def matching_rules_naive(self, event: Mapping[str, Any]) -> list[CompiledRule]:
        """Brute force: every rule tried on the event (reference for tests and the benchmark)."""
        return [c for c in self._compiled if c.detection.pred(event)]

    def match(self, event: Mapping[str, Any], *, include_silent: bool = False) -> list[Match]:
        out = []
        for c in self.matching_rules(event):
            if include_silent or not c.silent:
                m = Match(c.info, event)
                m.explanation = self.explain(m)
                out.append(m)
        return out

    def match_naive(self, event: Mapping[str, Any], *, include_silent: bool = False) -> list[Match]:
        return [Match(c.info, event) for c in self.matching_rules_naive(event) if include_silent or not c.silent]

    def explain(self, match: Match) -> str:
        """A sentence saying which selections and fields made the rule fire."""
        c = self._by_id.get(match.rule.id)
        if c is None:
            return f"{match.rule.title}: matched."
        parts = []
        names = []
        cleared = []  # filters that did not apply
        for name, (pred, fields) in c.detection.selections.items():
            try:
                hit = pred(match.event)
            except Exception:  # noqa: BLE001 - explanation must never break detection
                hit = False
            if not hit:
                if name in c.detection.negated:
                    cleared.append(name)
                continue
            if name in c.detection.negated:
                continue  # a negated detection that is true was outweighed elsewhere in the condition
            names.append(name)
            shown = []
            for fld in fields[:4]:
                if fld == "<keywords>":
                    shown.append("keyword search")
                    continue
                values = [t for t in (as_text(x) for x in iter_leaves(compile_getter(fld)(match.event))) if t]
                if values:
                    text = values[0] if len(values[0]) <= 80 else values[0][:77] + "..."
                    shown.append(f"{fld}={text!r}")
            parts.append(f"{name} ({', '.join(shown)})" if shown else name)
        match.selections = names
        why = "; ".join(parts) if parts else "its condition"
        unless = f", and not on {', '.join(cleared)}" if cleared else ""
        return f"Rule '{match.rule.title}' ({match.rule.level}) matched on {why}{unless}."

    def get(self, rule_id: str) -> RuleInfo | None:
        c = self._by_id.get(rule_id)
        if c is not None:
            return c.info
        for info, _spec in self.correlations:
            if info.id == rule_id:
                return info
        return None

    def select(self, *, product: str | None = None, service: str | None = None,
               category: str | None = None) -> RuleSet:
        """The rules for one log source (e.g. product='aws'): a smaller, faster rule set. A rule that
        leaves a logsource attribute unset is kept; correlations are kept when all their rules are."""
        want = {"product": product, "service": service, "category": category}
        kept: list[tuple[Any, str, Any]] = []
        names: set[str] = set()
        for rule, src, examples in self._parsed:
            if isinstance(rule, SigmaRule):
                ls = rule.logsource
                if any(v is not None and getattr(ls, k) not in (None, v) for k, v in want.items()):
                    continue
                kept.append((rule, src, examples))
                names.update(x for x in (str(rule.id) if rule.id else "", rule.name or "") if x)
        for rule, src, examples in self._parsed:
            if isinstance(rule, SigmaCorrelationRule) and all(r.reference in names for r in rule.rules or []):
                kept.append((rule, src, examples))
        srcs = {src for _r, src, _e in kept}
        unsupported = [u for u in self.unsupported if u[0] in srcs]
        return _compile_all(kept, unsupported)

    def without(self, rule_ids: Iterable[str]) -> RuleSet:
        """The set minus the disabled rules (ids as toggled in the dashboard): they raise no alerts.

        A disabled rule that an enabled correlation references is kept silent, so the correlation still
        sees its events; a rule silent before stays silent when the correlation that silenced it is disabled.
        """
        drop = {str(i) for i in rule_ids if str(i)}
        if not drop or not any(r.id in drop for r in self.rules):
            return self
        was_silent = {c.info.id for c in self._compiled if c.silent}

        def rid(rule: SigmaRule | SigmaCorrelationRule, src: str) -> str:  # as _info names it
            return str(rule.id) if rule.id is not None else (rule.name or f"{src}#{rule.title}")

        corrs: list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]] = [
            (r, s, e) for r, s, e in self._parsed if isinstance(r, SigmaCorrelationRule) and rid(r, s) not in drop]
        refs = {ref.reference for r, _s, _e in corrs if isinstance(r, SigmaCorrelationRule) for ref in r.rules or []}
        kept = [(r, s, e) for r, s, e in self._parsed if isinstance(r, SigmaRule)
                and (rid(r, s) not in drop or rid(r, s) in refs or (r.name or "") in refs)]
        out = _compile_all([*kept, *corrs], [])
        out.unsupported = list(self.unsupported)
        for c in out._compiled:
            if c.info.id in drop or c.info.id in was_silent:
                c.silent = True
        return out

    def compiled(self) -> list[CompiledRule]:
        return list(self._compiled)

    def __len__(self) -> int:
        return len(self.rules)


# --- loading ----------------------------------------------------------------------------------------------


def _rule_files(paths: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(q for q in path.rglob("*") if q.suffix in (".yml", ".yaml") and q.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise RuleError("rule path not found", source=str(path))
    return files


def _sidecar_examples(path: Path) -> Any:
    side = path.with_name(path.stem + ".examples.json")
    if side.is_file():
        try:
            return orjson.loads(side.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise RuleError(f"invalid examples JSON: {exc}", source=str(side)) from exc
    return None


def load_rules(paths: Iterable[Path | str], *, include_builtin: bool | str = False,
               placeholders: Placeholders | None = None) -> RuleSet:
    """Parse and compile every Sigma rule under the paths (files or folders, *.yml/*.yaml, recursive).

    Rules that cannot be parsed or evaluated land in `RuleSet.unsupported` as (file, rule id, reason);
    they never stop the others from loading. `placeholders` (name -> values) fill the `%name%` of
    `|expand` values; None means the ones configured in cloudwarden.toml (`[detect.placeholders]`,
    `[detect] placeholders_file`), so every caller that loads rules for ingest honours them.
    """
    all_paths: list[Path | str] = []
    if include_builtin is True:
        all_paths.extend(builtin_rules_path(k) for k in BUILTIN_KINDS if builtin_rules_path(k).is_dir())
    elif isinstance(include_builtin, str) and include_builtin:
        all_paths.append(builtin_rules_path(include_builtin))
    all_paths.extend(paths)
    unsupported: list[tuple[str, str, str]] = []
    parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]] = []
    for path in _rule_files(all_paths):
        src = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            unsupported.append((src, "", f"cannot read: {exc}"))
            continue
        try:
            sidecar = _sidecar_examples(path)
        except RuleError as exc:
            unsupported.append((src, "", str(exc)))
            sidecar = None
        _parse_text(text, src, sidecar, parsed, unsupported)
    return _compile_all(_expanded(parsed, placeholders, unsupported), unsupported)


def _expanded(parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]], placeholders: Placeholders | None,
              unsupported: list[tuple[str, str, str]]) -> list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]]:
    values = configured_placeholders() if placeholders is None else placeholders
    return expand_rules(parsed, values, unsupported)


def load_rules_text(text: str, *, source: str = "<text>", include_builtin: bool | str = False,
                    placeholders: Placeholders | None = None) -> RuleSet:
    """Like load_rules, from YAML text (one or more documents) — handy for tests and API uploads."""
    base = load_rules([], include_builtin=include_builtin, placeholders=placeholders) if include_builtin else None
    unsupported: list[tuple[str, str, str]] = []
    parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]] = []
    if base is not None:
        parsed.extend(base._parsed)
        unsupported.extend(base.unsupported)
    _parse_text(text, source, None, parsed, unsupported)
    return _compile_all(_expanded(parsed, placeholders, unsupported), unsupported)


def _parse_text(text: str, src: str, sidecar: Any, parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]],
                unsupported: list[tuple[str, str, str]]) -> None:
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        unsupported.append((src, "", f"not valid YAML: {exc}".replace("\n", " ")))
        return
    docs_ok = []
    for doc in docs:
        if not isinstance(doc, dict):
            unsupported.append((src, "", "a YAML document is not a mapping"))
        else:
            docs_ok.append(_split_range(doc))
    try:
        coll = SigmaCollection.from_dicts(
            docs_ok, collect_errors=True, source=SigmaRuleLocation(Path(src)), resolve_references=False
        )
    except (SigmaError, ValueError, TypeError, KeyError, AttributeError) as exc:
        unsupported.append((src, "", f"not a Sigma rule: {exc}"))
        return
    for err in coll.errors:
        if not any(err in r.errors for r in coll.rules):
            unsupported.append((src, "", f"not a Sigma rule: {err}"))
    for rule in coll.rules:
        examples = rule.custom_attributes.get(EXAMPLES_KEY)
        if examples is None and isinstance(sidecar, dict):
            examples = sidecar.get(str(rule.id), sidecar)
        parsed.append((rule, src, examples))


def _compile_all(parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str, Any]],
                 unsupported: list[tuple[str, str, str]]) -> RuleSet:
    compiled: list[CompiledRule] = []
    seen_ids: set[str] = set()
    sigma_of: dict[int, CompiledRule] = {}  # id(SigmaRule) -> compiled
    corr_rules: list[tuple[SigmaCorrelationRule, str, Any]] = []
    for rule, src, examples in parsed:
        rid = str(rule.id) if rule.id is not None else ""
        if rid and rid in seen_ids:
            unsupported.append((src, rid, "duplicate rule id (an earlier file already defines it)"))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            seen_ids.add(rid)
            corr_rules.append((rule, src, examples))
            continue
        try:
            det = compile_rule(rule)
        except UnsupportedRule as exc:
            unsupported.append((src, rid, str(exc)))
            continue
        except (SigmaError, ValueError, TypeError) as exc:
            unsupported.append((src, rid, f"cannot compile: {exc}"))
            continue
        seen_ids.add(rid)
        c = CompiledRule(len(compiled), _info(rule, src, examples, "single"), det)
        compiled.append(c)
        sigma_of[id(rule)] = c
    # correlations: resolve references against every rule loaded (across files)
    coll = SigmaCollection([r for r, _s, _e in parsed], resolve_references=False)
    correlations: list[tuple[RuleInfo, CorrelationSpec]] = []
    for rule, src, examples in corr_rules:
        rid = str(rule.id) if rule.id is not None else rule.name or ""
        try:
            spec_info = _correlation(rule, src, examples, coll, sigma_of, len(correlations))
        except UnsupportedRule as exc:
            unsupported.append((src, rid, str(exc)))
            continue
        correlations.append(spec_info)
        _info_unused, spec = spec_info
        for ref in spec.refs:
            compiled[ref].correlations.append(len(correlations) - 1)
            if not spec.generate:
                compiled[ref].silent = True
    ruleset = RuleSet(compiled, correlations, unsupported)
    ruleset._parsed = list(parsed)
    return ruleset


def _correlation(rule: SigmaCorrelationRule, src: str, examples: Any, coll: SigmaCollection,
                 sigma_of: dict[int, CompiledRule], index: int) -> tuple[RuleInfo, CorrelationSpec]:
    if rule.errors:
        raise UnsupportedRule(f"correlation did not parse: {rule.errors[0]}")
    ctype = str(rule.type.name).lower()
    if ctype not in SUPPORTED_TYPES:
        raise UnsupportedRule(f"correlation type {ctype} is not supported (supported: {', '.join(SUPPORTED_TYPES)})")
    try:
        rule.resolve_rule_references(coll)
    except SigmaError as exc:
        raise UnsupportedRule(f"correlation references a rule that is not loaded: {exc}") from exc
    refs: list[int] = []
    ref_names: dict[int, set[str]] = {}
    by_name: dict[str, int] = {}
    targets: list[SigmaRule] = []
    # an extended condition without a `rules:` list names its rules in the condition itself
    for ref in getattr(rule, "referenced_rules", None) or rule.rules or []:
        target = ref.rule
        if isinstance(target, SigmaCorrelationRule):
            raise UnsupportedRule("correlations of correlations are not supported")
        c = sigma_of.get(id(target))
        if c is None:
            raise UnsupportedRule(f"referenced rule {ref.reference} is itself unsupported")
        refs.append(c.pos)
        targets.append(target)
        by_name[ref.reference] = c.pos
        ref_names.setdefault(c.pos, set()).update({ref.reference, c.info.id, c.info.name})
    if not refs:
        raise UnsupportedRule("correlation references no rule")
    cond = rule.condition
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()} for a in rule.aliases}
    group_by = list(rule.group_by or [])
    expr: Expr | None = None
    expr_text = ""
    conds: list[tuple[str, float]] = []
    value_field = ""
    pct = 50.0
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        if ctype != "temporal":
            raise UnsupportedRule(f"extended (boolean) conditions are supported for temporal correlations, not {ctype}")
        expr = _expr(cond.parsed, by_name)
        expr_text = cond.expression
    elif isinstance(cond, SigmaCorrelationCondition):
        conds = _conditions(rule, cond)
        fref = cond.fieldref
        if ctype == "value_count" or ctype in NUMERIC_TYPES:
            if not fref or (isinstance(fref, list) and len(fref) != 1):
                raise UnsupportedRule(f"{ctype} needs exactly one condition field")
            value_field = fref[0] if isinstance(fref, list) else fref
        if ctype == "value_percentile":
            if cond.percentile is None or not 0 <= cond.percentile <= 100:
                raise UnsupportedRule("value_percentile needs a condition percentile between 0 and 100")
            pct = float(cond.percentile)
    else:  # pragma: no cover - pySigma always sets one
        raise UnsupportedRule("correlation without a condition")
    value_getters: dict[int, Getter] = {}
    if value_field:
        for g in make_group_getters([value_field], refs, ref_names, aliases).items():
            value_getters[g[0]] = g[1][0]
    info = _info(rule, src, examples, "correlation")
    first = conds[0] if conds else ("gte", float(len(set(refs))))
    spec = CorrelationSpec(
        rule_index=index,
        type=ctype,
        refs=refs,
        group_by=group_by,
        group_getters=make_group_getters(group_by, refs, ref_names, aliases),
        timespan=float(rule.timespan.seconds),
        op=first[0],
        count=first[1],
        value_getters=value_getters,
        value_field=value_field,
        generate=bool(rule.generate),
        conds=conds,
        percentile=pct,
        expr=expr,
        expr_text=expr_text,
        rule_id=info.id,
        fingerprint=_fingerprint(rule, targets),
    )
    return info, spec


def _conditions(rule: SigmaCorrelationRule, cond: SigmaCorrelationCondition) -> list[tuple[str, float]]:
    """The condition's comparisons: pySigma's one, or the range `_split_range` set aside before parsing."""
    ranged = rule.custom_attributes.get(RANGE_KEY)
    items = list(ranged.items()) if isinstance(ranged, dict) else [(str(cond.op.name).lower(), cond.count)]
    out: list[tuple[str, float]] = []
    for op, n in items:
        if op not in SUPPORTED_OPS:
            raise UnsupportedRule(f"condition operator {op} is not one of {', '.join(SUPPORTED_OPS)}")
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n):
            raise UnsupportedRule(f"condition {op}: {n!r} is not a number")
        out.append((str(op), float(n)))
    return out


def _expr(node: Any, by_name: dict[str, int]) -> Expr:
    """pySigma's parsed extended condition -> our tuple tree over referenced rule positions."""
    if isinstance(node, SigmaRuleReference):
        if node.reference not in by_name:
            raise UnsupportedRule(f"extended condition names {node.reference!r}, which is not among the rules")
        return ("ref", by_name[node.reference])
    if isinstance(node, CorrelationConditionNOT):
        return ("not", _expr(node.args[0], by_name))
    if isinstance(node, (CorrelationConditionAND, CorrelationConditionOR)):
        kind = "and" if isinstance(node, CorrelationConditionAND) else "or"
        return (kind, tuple(_expr(a, by_name) for a in node.args))
    raise UnsupportedRule(f"extended condition element {type(node).__name__} is not supported")


def _fingerprint(rule: SigmaCorrelationRule, targets: list[SigmaRule]) -> str:
    """What the saved state of a correlation depends on: its correlation block and the referenced rules'
    logsource + detection (titles, descriptions and examples may change freely)."""
    parts: list[Any] = []
    try:
        parts.append(rule.to_dict().get("correlation"))
    except (SigmaError, ValueError, TypeError, AttributeError):
        parts.append(repr(rule.custom_attributes.get("correlation")))
    parts.append(rule.custom_attributes.get(RANGE_KEY))
    for target in targets:
        try:
            d = target.to_dict()
            parts.append([d.get("logsource"), d.get("detection")])
        except (SigmaError, ValueError, TypeError, AttributeError):
            parts.append(repr(target.detection))
    blob = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()[:24]


def _split_range(doc: dict[str, Any]) -> dict[str, Any]:
    """pySigma accepts one comparison per correlation condition; Sigma allows a range (`gte: 5, lte: 10`).
    Keep the first comparison for pySigma and set the full set aside under RANGE_KEY (read by _conditions)."""
    corr = doc.get("correlation")
    if not isinstance(corr, dict) or not isinstance(corr.get("condition"), dict):
        return doc
    cond: dict[Any, Any] = corr["condition"]
    ops = {k: v for k, v in cond.items() if isinstance(k, str) and k.lower() in SUPPORTED_OPS}
    if len(ops) < 2:
        return doc
    first = next(iter(ops))
    rest = {k: v for k, v in cond.items() if k not in ops or k == first}
    return {**doc, "correlation": {**corr, "condition": rest}, RANGE_KEY: {k.lower(): v for k, v in ops.items()}}


# --- the stateful detector ---------------------------------------------------------------------------------

EntityFn = Callable[[Mapping[str, Any]], str]
EventIdFn = Callable[[Mapping[str, Any]], str]


def _is_mapping(x: Any) -> bool:
    return x.__class__ is dict or isinstance(x, Mapping)  # the ABC check costs more than the work here


def default_entity(event: Mapping[str, Any]) -> str:
    """The principal of a CloudTrail event (as the lake normalises it), else the host of a host event."""
    ui = event.get("userIdentity")
    if ui is not None and _is_mapping(ui):
        kind = ui.get("type")
        if kind == "Root":
            return f"root:{ui.get('accountId', '')}"
        if kind == "AWSService":
            return f"service:{ui.get('invokedBy', '')}"
        ctx = ui.get("sessionContext")
        if ctx is not None and _is_mapping(ctx):
            issuer = ctx.get("sessionIssuer")
            if issuer is not None and _is_mapping(issuer) and issuer.get("arn"):
                return str(issuer["arn"])
        return str(ui.get("arn") or ui.get("principalId") or "")
    for key in ("principal", "host_id", "hostname", "Hostname", "host"):
        v = event.get(key)
        if v:
            return str(v)
    return ""


def default_event_id(event: Mapping[str, Any]) -> str:
    for key in ("eventID", "event_id", "EventID", "id"):
        v = event.get(key)
        if v:
            return str(v)
    # stable content hash: re-ingesting the same record yields the same id
    return "sha1:" + hashlib.sha1(orjson.dumps(event, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()  # noqa: S324


def _first(event: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        v = event.get(key)
        if v:
            return str(v)
    return ""


def _account(event: Mapping[str, Any]) -> str:
    acct = _first(event, "recipientAccountId", "account")
    if not acct:
        ui = event.get("userIdentity")
        if ui is not None and _is_mapping(ui):
            acct = str(ui.get("accountId") or "")
    return acct


SNAPSHOT_MAGIC = b"CWCS"  # cloudwarden correlation state
SNAPSHOT_VERSION = 1
SNAPSHOT_MAX_BYTES = 256 << 20  # decompressed: a hostile or broken blob never inflates past this
SNAPSHOT_EVENT_BYTES = 64 << 10  # an evidence event larger than this is saved without its body
SNAPSHOT_EVIDENCE_BYTES = 16 << 20  # all evidence bodies of one snapshot; beyond, entries keep ids only
FUTURE_TOLERANCE = timedelta(minutes=5)  # how far event time may run ahead of the wall clock and still move windows

log = logging.getLogger(__name__)


@dataclass
class RestoreResult:
    """What `Detector.restore` brought back."""

    restored: list[str] = field(default_factory=list)  # correlation rule ids whose windows came back
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (rule id, why its saved state was dropped)
    groups: int = 0
    error: str = ""  # the snapshot could not be read: every window starts empty


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class Detector:
    """Stateful: single-event rules plus correlation windows. Feed events in (roughly) time order.

    Windows of "fewer than" conditions close on event time: when an event later than their end arrives,
    or at `flush(until)`. `snapshot()` / `restore()` carry the windows across a restart.

    Event time is input, so it is bounded: an event stamped more than `future_tolerance` after `now()`
    (a skewed clock, a forged record) is still matched and its single-event alerts keep its own time, but
    for the correlation windows it counts as happening at the latest plausible event time seen so far
    (the watermark; the wall clock when there is none yet). So one event dated 2099 neither closes every
    open "fewer than" window nor pushes a sliding window's older entries out; such events are counted
    (`stats["future_events"]`). `flush(until)` is capped the same way. Replays of past events are
    unaffected. `now=None` removes the bound, for trusted self-contained replays (a rule's own examples).
    """

    @property
    def tolerance_seconds(self) -> float:
        """How far past now() an event time may be and still move the windows' clock."""
        return self._tolerance

    def __init__(self, ruleset: RuleSet, *, entity_fn: EntityFn | None = None, event_id_fn: EventIdFn | None = None,
                 source: str | None = None, max_groups: int = 10_000, max_events_per_group: int = 1_000,
                 evidence_limit: int = 10, explain: bool = True, now: Callable[[], datetime] | None = _wall_clock,
                 future_tolerance: timedelta = FUTURE_TOLERANCE) -> None:
        self.ruleset = ruleset
        # explain=False: single-event alerts carry an empty explanation and the event itself (not a copy) as
        # evidence; the caller explains the alerts it keeps after folding (`explain_alert`). For pipelines that
        # fold thousands of alerts of one key into one row, where explaining every one is most of the cost.
        self.explain = explain
        self.entity_fn = entity_fn or default_entity
        self.event_id_fn = event_id_fn or default_event_id
        self.source = source
        self.evidence_limit = evidence_limit
        self._max_groups = max_groups
        self._max_events = max_events_per_group
        self._states = [self._fresh(spec) for _info, spec in ruleset.correlations]
        self._closing = [st for st in self._states if st.closing]
        self._next_close = math.inf
        self._tz: tzinfo = UTC
        self._now = now
        self._tolerance = future_tolerance.total_seconds()
        # the bound on event time, refreshed from now() only when an event passes it (a stale cap is lower,
        # never higher, than the true one: one comparison per event on the hot path)
        self._cap = -math.inf if now is not None else math.inf
        self._watermark = -math.inf  # the latest event time used for windows (never past the cap)
        self.future_events = 0  # events held back to the watermark because they were stamped too far ahead
        self.changes = 0  # bumped whenever correlation state may have changed (callers save only then)
        self.restore_errors = 0
        self.evidence_dropped = 0  # evidence bodies left out of snapshots (size bounds)

    def _fresh(self, spec: CorrelationSpec) -> CorrelationState:
        return CorrelationState(spec, max_groups=self._max_groups, max_events=self._max_events)

    @property
    def stats(self) -> dict[str, int]:
        return {
            "groups": sum(len(st.groups) for st in self._states),
            "non_numeric_values": sum(st.non_numeric for st in self._states),
            "groups_evicted": sum(st.evicted for st in self._states),
            "restore_errors": self.restore_errors,
            "evidence_dropped": self.evidence_dropped,
            "future_events": self.future_events,
        }

    def _source_for(self, info: RuleInfo) -> str:
        if self.source:
            return self.source
        return "host" if (info.logsource.product or "").lower() == "linux" else "cloudtrail"

    def explain_alert(self, alert: Alert, event: Mapping[str, Any]) -> str:
        """The explanation of a single-event alert of this detector's rules, for an event it matched."""
        info = self.ruleset.get(alert.rule_id)
        return self.ruleset.explain(Match(info, event)) if info is not None else alert.title

    def _base_alert(self, info: RuleInfo, event: Mapping[str, Any], when: datetime, explanation: str,
                    event_id: str, about: tuple[str, str, str, str] | None = None) -> Alert:
        entity, account, region, host = about or self._about(event)
        return Alert(
            rule_id=info.id,
            title=info.title,
            severity=info.level,
            source=self._source_for(info),
            explanation=explanation,
            first_seen=when,
            last_seen=when,
            entity=entity,
            account=account,
            region=region,
            host=host,
            attack_ids=list(info.attack_ids),
            evidence=[dict(event) if self.explain else event],  # type: ignore[list-item]
            evidence_ids=[event_id],
        )

    def _about(self, event: Mapping[str, Any]) -> tuple[str, str, str, str]:
        """(entity, account, region, host) of an event: the same for every alert it raises."""
        get = event.get  # _first inlined: the first non-empty value, as text
        v = get("recipientAccountId") or get("account")
        account = str(v) if v else _account(event)
        v = get("awsRegion") or get("region")
        region = str(v) if v else ""
        v = get("host_id") or get("hostname") or get("Hostname")
        return self.entity_fn(event), account, region, str(v) if v else ""

    def _window_time(self, t: float) -> float:
        """The time an event stamped `t` (past the watermark and the cached cap) has for the windows:
        itself, unless it is past now() + tolerance. Callers inline the common case (t within the cap)."""
        if self._now is not None:
            self._cap = self._now().timestamp() + self._tolerance
        if t <= self._cap:
            self._watermark = t
            return t
        self.future_events += 1
        if self._watermark > -math.inf:
            return self._watermark
        return self._cap - self._tolerance  # nothing plausible seen yet: the wall clock is the best guess

    def _event_window_time(self, t: float) -> tuple[float, bool]:
        """The time an event stamped `t` counts at in the windows, and whether it was held back (stamped past
        the cap); moves the watermark."""
        if t > self._watermark:
            if t <= self._cap:
                self._watermark = t
            else:
                held_at = self._window_time(t)
                return held_at, held_at != t
        return t, False

    def process(self, event: Mapping[str, Any], time: datetime) -> list[Alert]:
        swept: list[Alert] | None = None
        t: float | None = None
        held = False
        if self._closing:  # event time moves on: close the windows that ended before this event
            t, held = self._event_window_time(time.timestamp())
            if t > self._next_close:
                self._tz = time.tzinfo or self._tz
                swept = self._sweep(t)
        # RuleSet.matching_rules inlined (one frame less per event; most events match nothing)
        ruleset = self.ruleset
        key: tuple[Any, ...] | None = ruleset._plan_key(event)
        try:
            plan = ruleset._plans.get(key)  # type: ignore[arg-type]
        except TypeError:
            plan = None
            key = None
        if plan is None:
            plan = ruleset._new_plan(event, key)
        if not plan:
            return swept or []
        matched = [c for c, rest in plan if rest is None or rest(event)]
        if not matched:
            return swept or []
        return self._emit(event, time, matched, swept or [], t, held)

    def _emit(self, event: Mapping[str, Any], time: datetime, matched: list[CompiledRule],
              alerts: list[Alert], t: float | None = None, held: bool = False) -> list[Alert]:
        """The alerts of an event's matched rules (appended to `alerts`), correlation windows fed.

        `t`: the event's window time when the caller has it already; `held`: it is not the event's own."""
        ruleset = self.ruleset
        event_id = self.event_id_fn(event)
        wt = 0.0
        when = time  # the correlation alerts' time: the window time
        fed = False
        about: tuple[str, str, str, str] | None = None
        for c in matched:
            if not c.silent:
                if about is None:
                    about = self._about(event)
                why = ruleset.explain(Match(c.info, event)) if self.explain else ""
                alerts.append(self._base_alert(c.info, event, time, why, event_id, about))
            for idx in c.correlations:
                if not fed:
                    fed = True
                    self.changes += 1
                    if t is not None:
                        wt = t
                    else:
                        wt, held = self._event_window_time(time.timestamp())
                    if held:  # stamped too far ahead: the correlation happened at the window time
                        when = datetime.fromtimestamp(wt, tz=time.tzinfo)
                state = self._states[idx]
                for firing in state.add(c.pos, event, wt, event_id):
                    alerts.append(self._correlation_alert(firing, event, when))
                if state.closing:
                    self._refresh_next_close()
        return alerts

    def process_many(self, events: Iterable[Mapping[str, Any]], times: Iterable[datetime],
                     on_error: Callable[[int, Exception], None] | None = None) -> list[Alert]:
        """`process` over a batch (events with their times, in order): the alerts of all, in order.

        The same alerts as calling `process` on each event; one Python frame per batch instead of several
        per event. `on_error(i, exc)`: an event whose rules raise is reported and skipped (without it, the
        exception propagates), as a caller's try/except around each `process` would."""
        out: list[Alert] = []
        ruleset = self.ruleset
        key_of = ruleset._plan_key
        plans = ruleset._plans  # cleared in place when full, never replaced
        new_plan = ruleset._new_plan
        emit = self._emit
        process = self.process if self._closing else None  # windows that close on event time: the full path
        for i, (event, time) in enumerate(zip(events, times, strict=True)):
            try:
                if process is not None:
                    found = process(event, time)
                    if found:
                        out.extend(found)
                    continue
                key: tuple[Any, ...] | None = key_of(event)
                try:
                    plan = plans.get(key)  # type: ignore[arg-type]
                except TypeError:
                    plan = None
                    key = None
                if plan is None:
                    plan = new_plan(event, key)
                if plan:
                    matched = [c for c, rest in plan if rest is None or rest(event)]
                    if matched:
                        out.extend(emit(event, time, matched, []))
            except Exception as exc:
                if on_error is None:
                    raise
                on_error(i, exc)
        return out

    def process_single(self, event: Mapping[str, Any], time: datetime) -> tuple[list[Alert], bool]:
        """The single-event alerts of an event and whether it feeds a correlation — without touching the
        correlation windows (a worker process's view: the parent's Detector owns the windows). The same
        alerts as `process` minus the correlation ones, from one evaluation of the rules."""
        matched = self.ruleset.matching_rules(event)
        if not matched:
            return [], False
        feeds = False
        alerts: list[Alert] = []
        event_id = ""
        about: tuple[str, str, str, str] | None = None
        for c in matched:
            if c.correlations:
                feeds = True
            if not c.silent:
                if about is None:
                    event_id = self.event_id_fn(event)
                    about = self._about(event)
                why = self.ruleset.explain(Match(c.info, event)) if self.explain else ""
                alerts.append(self._base_alert(c.info, event, time, why, event_id, about))
        return alerts, feeds

    def flush(self, until: datetime) -> list[Alert]:
        """Close every "fewer than" window that ended before `until` (event time) and return what fired.

        The ingest calls it at the end of a run with the wall clock less CloudTrail's delivery delay; tests
        and rule examples pass the end of their events. Windows still open stay (and are saved). `until` is
        capped at now() + future_tolerance like event time (no effect on the ingest's own calls)."""
        if not self._closing:
            return []
        self._tz = until.tzinfo or self._tz
        end = until.timestamp()
        if self._now is not None:
            end = min(end, self._now().timestamp() + self._tolerance)
        return self._sweep(end)

    def _sweep(self, until: float) -> list[Alert]:
        out: list[Alert] = []
        for state in self._closing:
            if (state.next_close() or math.inf) < until:
                self.changes += 1
                for firing in state.sweep(until):
                    out.append(self._closed_alert(firing))
        self._refresh_next_close()
        return out

    def _refresh_next_close(self) -> None:
        ends = [e for e in (st.next_close() for st in self._closing) if e is not None]
        self._next_close = min(ends) if ends else math.inf

    def _closed_alert(self, firing: Firing) -> Alert:
        last = max(firing.entries, key=lambda e: e.time)
        bodies = [e.event for e in firing.entries if e.event is not None]
        event = bodies[-1] if bodies else {}
        when = datetime.fromtimestamp(last.time, tz=self._tz)
        return self._correlation_alert(firing, event, when)

    # -- state across restarts -----------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The correlation windows as compact bytes (versioned, zlib'd JSON); `restore` reads them back.

        Each rule's state carries the rule's fingerprint, so a changed rule set drops only what changed.
        Bounded: groups and entries are already bounded; evidence bodies are capped per event and in total
        (beyond, an entry keeps its time, value and event id — it still counts — without its body)."""
        budget = SNAPSHOT_EVIDENCE_BYTES

        def body(entry: Entry) -> Any:
            nonlocal budget
            raw = entry.raw
            if raw is None:
                try:
                    raw = entry.raw = orjson.dumps(entry.event, default=str, option=orjson.OPT_NON_STR_KEYS)
                except TypeError:
                    raw = entry.raw = b""
            if not raw or len(raw) > SNAPSHOT_EVENT_BYTES or len(raw) > budget:
                self.evidence_dropped += 1
                return None
            budget -= len(raw)
            return orjson.Fragment(raw)

        states = {}
        for state in self._states:
            if state.groups or state.non_numeric or state.evicted:
                states[state.spec.rule_id] = {"fp": state.spec.fingerprint, **state.dump(body)}
        payload = orjson.dumps({"v": SNAPSHOT_VERSION, "states": states})
        return SNAPSHOT_MAGIC + bytes([SNAPSHOT_VERSION]) + zlib.compress(payload, 1)

    def restore(self, data: bytes) -> RestoreResult:
        """Replace the correlation windows with a snapshot's. Never raises on bad data: an unreadable
        snapshot is logged and counted (`restore_errors`) and every window starts empty; the state of a rule
        that is no longer loaded, or whose definition changed, is dropped with a log line."""
        result = RestoreResult()
        staged: dict[int, CorrelationState] = {}
        try:
            payload = _read_snapshot(data)
            saved = payload.get("states")
            if not isinstance(saved, dict):
                raise ValueError("no 'states' object")
            index = {st.spec.rule_id: i for i, st in enumerate(self._states)}
            for rule_id, item in saved.items():
                i = index.get(rule_id)
                if i is None:
                    result.dropped.append((rule_id, "the rule is no longer loaded"))
                    continue
                if not isinstance(item, dict) or item.get("fp") != self._states[i].spec.fingerprint:
                    result.dropped.append((rule_id, "the rule (or a rule it references) changed since the snapshot"))
                    continue
                fresh = self._fresh(self._states[i].spec)
                fresh.load(item)
                staged[i] = fresh
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, zlib.error) as exc:
            self.restore_errors += 1
            result.error = f"correlation state snapshot unreadable, starting with empty windows: {type(exc).__name__}: {exc}"
            log.warning("%s", result.error)
            staged = {}
            result.dropped = []
        for i, st in enumerate(self._states):
            self._states[i] = staged.get(i) or self._fresh(st.spec)
        self._closing = [st for st in self._states if st.closing]
        self._refresh_next_close()
        # the snapshot carries no watermark: its windows' latest entry is one (bounded, in case it was saved
        # by a build without the bound), so a future-stamped first event after a restart is held back to it
        latest = max((e.time for st in staged.values() for g in st.groups.values() for e in g.entries), default=-math.inf)
        if self._now is not None:
            latest = min(latest, self._now().timestamp() + self._tolerance)
        self._watermark = max(self._watermark, latest)
        self.changes += 1
        for i in staged:
            result.restored.append(self._states[i].spec.rule_id)
            result.groups += len(self._states[i].groups)
        for rule_id, why in result.dropped:
            log.warning("correlation state of rule %s dropped: %s", rule_id, why)
        return result

    def _correlation_alert(self, firing: Firing, event: Mapping[str, Any], when: datetime) -> Alert:
        info, spec = self.ruleset.correlations[firing.spec.rule_index]
        compiled = self.ruleset.compiled()
        ref_titles = [compiled[r].info.title for r in dict.fromkeys(spec.refs)]
        window = _span_text(spec.timespan)
        group = ", ".join(f"{f}={v!r}" for f, v in zip(spec.group_by, firing.group, strict=False) if v)
        by = f" for {group}" if group else ""
        observed = f"{firing.observed:g}"
        matching = " / ".join(ref_titles)
        if spec.type == "event_count":
            what = f"{observed} events matching {matching}{by} within {window} (threshold {spec.condition_text()})"
        elif spec.type == "value_count":
            what = (f"{observed} distinct values of {spec.value_field} in events matching {matching}"
                    f"{by} within {window} (threshold {spec.condition_text()})")
        elif spec.type in NUMERIC_TYPES:
            stat = {"value_sum": "sum", "value_avg": "average", "value_median": "median"}.get(
                spec.type, f"{spec.percentile:g}th percentile")
            n = sum(1 for e in firing.entries if e.num is not None)
            what = (f"{stat} of {spec.value_field} = {observed} over {n} events matching {matching}{by} within {window}"
                    f" (threshold {spec.condition_text()})")
        elif spec.type == "temporal" and spec.expr is not None:
            what = f"condition {spec.condition_text()} over the rules {', '.join(ref_titles)} held{by} within {window}"
        elif spec.type == "temporal":
            what = f"{observed} of the rules {', '.join(ref_titles)} matched{by} within {window}"
        else:
            what = f"the rules {' then '.join(ref_titles)} matched in order{by} within {window}"
        if firing.closed:
            what += " (evaluated when the window closed)"
        alert = self._base_alert(info, event, when, f"Correlation '{info.title}' fired: {what}.", "")
        alert.source = self._source_for(compiled[spec.refs[0]].info)  # a correlation has no logsource of its own
        first = min(e.time for e in firing.entries)
        alert.first_seen = datetime.fromtimestamp(first, tz=when.tzinfo) if when.tzinfo else datetime.fromtimestamp(first)
        kept: list[Any] = [dict(e.event) for e in firing.entries if e.event is not None][: self.evidence_limit]
        alert.evidence = kept or ([dict(event)] if event else [])
        alert.evidence_ids = list(dict.fromkeys(e.event_id for e in firing.entries))
        alert.count = firing.total or len(firing.entries)
        if spec.group_by:
            # later bursts of the same group join this alert, whichever principal the last event had
            alert.group_key = f"{info.id}|{'|'.join(firing.group)}|{alert.account}"
        entities = list(dict.fromkeys(self.entity_fn(e.event) for e in firing.entries if e.event is not None))
        if len(entities) > 1:
            alert.members = [x for x in entities if x][:20]
        return alert


def _read_snapshot(data: bytes) -> dict[str, Any]:
    head = len(SNAPSHOT_MAGIC)
    if not isinstance(data, (bytes, bytearray, memoryview)) or bytes(data[:head]) != SNAPSHOT_MAGIC or len(data) <= head:
        raise ValueError("not a cloudwarden correlation snapshot (bad header)")
    version = data[head]
    if version != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot format version {version} is not supported (this build reads {SNAPSHOT_VERSION})")
    inflate = zlib.decompressobj()
    raw = inflate.decompress(bytes(data[head + 1:]), SNAPSHOT_MAX_BYTES)
    if inflate.unconsumed_tail:
        raise ValueError(f"snapshot inflates past {SNAPSHOT_MAX_BYTES} bytes")
    if not inflate.eof:
        raise ValueError("snapshot is truncated")
    payload = orjson.loads(raw)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(payload, dict) or payload.get("v") != SNAPSHOT_VERSION:
        raise ValueError("snapshot payload has no matching version")
    return payload


def _span_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
