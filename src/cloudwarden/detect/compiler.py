"""Compiles one Sigma rule's detection into a Python closure, once, at load time.

The pipeline is: pySigma's parsed `SigmaDetection`s and (un-post-processed) condition tree -> a small
intermediate tree (`Leaf`/`And`/`Or`/`Not`) -> nested closures `event -> bool`. No per-event
interpretation of the rule remains. The intermediate tree also yields the rule's *necessary equality
constraints* (e.g. eventName in {...}) that the rule index uses, and the per-selection predicates used to
explain a match.

Semantics follow the Sigma specification: string values match case-insensitively unless `|cased`,
`*`/`?` wildcards, lists are OR (AND with `|all`), a field holding a list matches when any element does,
`null` means absent or null, keyword (field-less) values search every value of the event, and a rule
regex (`|re`) searches the value (unanchored) with the RE2 engine. `|expand` placeholders arrive already
replaced by their configured values (`placeholders.py`); an undefined one makes the rule unsupported.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.modifiers import (
    SigmaBase64Modifier,
    SigmaBase64OffsetModifier,
    SigmaRegularExpressionDotAllFlagModifier,
    SigmaRegularExpressionFlagModifier,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
    TimestampPart,
)

from cloudwarden.detect.fields import MISSING, Getter, as_text, compile_getter, iter_all_leaves, iter_leaves
from cloudwarden.detect.placeholders import undefined_reason
from cloudwarden.detect.safe_regex import UnsafeRegex, compile_search

Pred = Callable[[Mapping[str, Any]], bool]
LeafTest = Callable[[Any], bool]


class UnsupportedRule(Exception):
    """The rule uses something the engine cannot evaluate; the message is the reason shown to users."""


# --- intermediate tree ---------------------------------------------------------------------------


@dataclass
class Leaf:
    field: str | None  # None: keyword search over every value
    pred: Pred
    desc: str
    eq: frozenset[str] | None = None  # lower-cased values the field must equal (index key)
    base: frozenset[str] | None = None  # lower-cased basenames a path field must end with (index key)
    requires: bool = False  # true only when the field is present (absent field -> leaf is false)
    also: tuple[str, ...] = ()  # other fields the predicate reads (a field reference's target)


@dataclass
class And:
    children: list[Node]


@dataclass
class Or:
    children: list[Node]


@dataclass
class Not:
    child: Node


Node = Leaf | And | Or | Not
Constraints = dict[tuple[str, str], frozenset[str]]  # (kind "eq"|"base", field) -> allowed keys


def build(node: Node) -> Pred:
    """Nested closures for a tree; small fan-outs get unrolled closures (fewer Python frames)."""
    if isinstance(node, Leaf):
        return node.pred
    if isinstance(node, Not):
        inner = build(node.child)
        return lambda ev: not inner(ev)
    preds = [build(c) for c in node.children]
    if len(preds) == 1:
        return preds[0]
    if isinstance(node, And):
        if len(preds) == 2:
            a, b = preds
            return lambda ev: a(ev) and b(ev)
        if len(preds) == 3:
            a, b, c = preds
            return lambda ev: a(ev) and b(ev) and c(ev)

        def all_of(ev: Mapping[str, Any]) -> bool:
            for p in preds:
                if not p(ev):
                    return False
            return True

        return all_of
    if len(preds) == 2:
        a, b = preds
        return lambda ev: a(ev) or b(ev)

    def any_of(ev: Mapping[str, Any]) -> bool:
        for p in preds:
            if p(ev):
                return True
        return False

    return any_of


def constraints(node: Node) -> Constraints:
    """Necessary conditions: every event the node matches has field values within these key sets."""
    if isinstance(node, Leaf):
        out: Constraints = {}
        if node.field is not None and node.eq is not None:
            out[("eq", node.field)] = node.eq
        if node.field is not None and node.base is not None:
            out[("base", node.field)] = node.base
        return out
    if isinstance(node, Not):
        return {}
    parts = [constraints(c) for c in node.children]
    if isinstance(node, And):
        merged: Constraints = {}
        for part in parts:
            for key, values in part.items():
                merged[key] = merged[key] & values if key in merged else values
        return merged
    if not parts:
        return {}
    common = set(parts[0])
    for part in parts[1:]:
        common &= set(part)
    return {key: frozenset().union(*(p[key] for p in parts)) for key in common}


def required_fields(node: Node) -> frozenset[str]:
    """Fields of which at least one is present in any event the node matches (empty: no such guarantee).
    Lets the index skip rules about fields an event does not have (host rules on cloud events)."""
    if isinstance(node, Leaf):
        return frozenset([node.field]) if node.requires and node.field else frozenset()
    if isinstance(node, Not):
        return frozenset()
    parts = [required_fields(c) for c in node.children]
    if not parts:
        return frozenset()
    if isinstance(node, And):  # any child's guarantee holds; the smallest is the most selective
        known = [p for p in parts if p]
        return min(known, key=lambda p: (len(p), sorted(p))) if known else frozenset()
    if any(not p for p in parts):  # OR: every branch must guarantee something
        return frozenset()
    return frozenset().union(*parts)


def reads(node: Node) -> frozenset[str] | None:
    """Every field the node's predicate reads; None when it may read any (keyword searches)."""
    if isinstance(node, Leaf):
        return None if node.field is None else frozenset((node.field, *node.also))
    if isinstance(node, Not):
        return reads(node.child)
    out: set[str] = set()
    for child in node.children:
        got = reads(child)
        if got is None:
            return None
        out |= got
    return frozenset(out)


def conjuncts(node: Node) -> list[Node]:
    """The node as a flat AND of parts (De Morgan through NOT-OR), so that the parts decided by a few
    fields can be evaluated apart from the rest. True exactly when every part is."""
    if isinstance(node, And):
        return [p for c in node.children for p in conjuncts(c)]
    if isinstance(node, Not):
        inner = node.child
        if isinstance(inner, Not):
            return conjuncts(inner.child)
        if isinstance(inner, Or):
            return [p for c in inner.children for p in conjuncts(Not(c))]
    return [node]


def fields_of(node: Node) -> list[str]:
    if isinstance(node, Leaf):
        return [node.field or "<keywords>"]
    if isinstance(node, Not):
        return fields_of(node.child)
    seen: list[str] = []
    for child in node.children:
        for f in fields_of(child):
            if f not in seen:
                seen.append(f)
    return seen


# --- leaf tests ------------------------------------------------------------------------------------


def _text_test(core: Callable[[str], bool]) -> LeafTest:
    def test(leaf: Any) -> bool:
        if leaf.__class__ is not str:
            leaf = as_text(leaf)
            if leaf is None:
                return False
        return core(leaf)

    test.__dict__["core"] = core  # lets field predicates call the string test directly on str values
    return test


def _string_core(value: SigmaString, cased: bool) -> tuple[Callable[[str], bool], str | None, str | None]:
    """(test on text, plain value if pure equality, basename key if usable for the path index)."""
    parts = list(value.s)
    for p in parts:
        if isinstance(p, Placeholder):
            raise UnsupportedRule(undefined_reason(p.name))
    norm: Callable[[str], str] = (lambda s: s) if cased else str.lower
    literal_parts = [p for p in parts if isinstance(p, str)]
    specials = [p for p in parts if isinstance(p, SpecialChars)]
    if not specials:
        lit = norm("".join(literal_parts))
        base = _basename_key(lit, anchored_start=True)
        if cased:
            return (lambda s: s == lit), lit, base
        return (lambda s: s.lower() == lit), lit, base
    if all(p is SpecialChars.WILDCARD_MULTI for p in specials):
        if len(parts) == 1:  # '*': any value at all
            return (lambda s: True), None, None
        if len(literal_parts) == 1:
            lit = norm(literal_parts[0])
            starts = parts[0] is SpecialChars.WILDCARD_MULTI
            ends = parts[-1] is SpecialChars.WILDCARD_MULTI
            if starts and ends and len(parts) == 3:
                return ((lambda s: lit in s) if cased else (lambda s: lit in s.lower())), None, None
            if ends and len(parts) == 2:
                return ((lambda s: s.startswith(lit)) if cased else (lambda s: s.lower().startswith(lit))), None, None
            if starts and len(parts) == 2:
                base = _basename_key(lit, anchored_start=False)
                return ((lambda s: s.endswith(lit)) if cased else (lambda s: s.lower().endswith(lit))), None, base
    import re  # glob -> regex with only literal pieces and dot-stars: linear-ish; RE2 makes it linear

    pattern = "".join(
        re.escape(p) if isinstance(p, str) else (".*" if p is SpecialChars.WILDCARD_MULTI else ".") for p in parts
    )
    try:
        matcher = compile_search(pattern, ignorecase=not cased, dotall=True, fullmatch=True)
    except UnsafeRegex as exc:  # pragma: no cover - escaped literals cannot be unsafe
        raise UnsupportedRule(str(exc)) from exc
    return matcher, None, None


def _basename_key(lit: str, *, anchored_start: bool) -> str | None:
    """For path values: the lower-cased file name the value pins ('/usr/bin/curl' and '*/curl' both pin 'curl';
    so does '*bin/curl'). None when the value has no path separator."""
    cut = max(lit.rfind("/"), lit.rfind("\\"))
    if cut < 0 or cut == len(lit) - 1:
        return None
    return lit[cut + 1:].lower()


@lru_cache(maxsize=65536)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _number(leaf: Any) -> float | None:
    if isinstance(leaf, bool) or leaf is None:
        return None
    if isinstance(leaf, (int, float)):
        return float(leaf)
    if isinstance(leaf, str):
        try:
            return float(leaf.strip())
        except ValueError:
            return None
    return None


def _timestamp(leaf: Any) -> datetime | None:
    if isinstance(leaf, datetime):
        return leaf
    if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
        return datetime.fromtimestamp(leaf, tz=UTC)
    if isinstance(leaf, str):
        try:
            return datetime.fromisoformat(leaf.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


_TS_PART: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar()[1],
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}

_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def _leaf_test(value: SigmaType, cased: bool) -> tuple[LeafTest, str, str | None, str | None]:
    """(test on one value, description, plain equality key, basename key)."""
    if isinstance(value, SigmaString):
        is_cased = cased or isinstance(value, SigmaCasedString)
        core, eq, base = _string_core(value, is_cased)
        return _text_test(core), f"{'=' if eq is not None else '~'}{value.original or value}", eq, base
    if isinstance(value, SigmaRegularExpression):
        for p in value.regexp.s:
            if isinstance(p, Placeholder):
                raise UnsupportedRule(undefined_reason(p.name))
        pattern = str(value.regexp)
        try:
            core = compile_search(
                pattern,
                ignorecase=SigmaRegularExpressionFlag.IGNORECASE in value.flags,
                multiline=SigmaRegularExpressionFlag.MULTILINE in value.flags,
                dotall=SigmaRegularExpressionFlag.DOTALL in value.flags,
            )
        except UnsafeRegex as exc:
            raise UnsupportedRule(f"regular expression {pattern!r}: {exc}") from exc
        return _text_test(core), f" matches /{pattern}/", None, None
    if isinstance(value, SigmaBool):
        want = bool(value)
        text = "true" if want else "false"

        def test_bool(leaf: Any) -> bool:
            if leaf is True or leaf is False:
                return leaf is want
            return isinstance(leaf, str) and leaf.strip().lower() == text

        return test_bool, f"={text}", None, None
    if isinstance(value, SigmaTimestampPart):
        part = _TS_PART[value.timestamp_part]
        want_n = value.number

        def test_ts(leaf: Any) -> bool:
            ts = _timestamp(leaf)
            return ts is not None and part(ts) == want_n

        return test_ts, f" {value.timestamp_part.name.lower()}={want_n}", None, None
    if isinstance(value, SigmaNumber):
        n = float(value.number)

        def test_num(leaf: Any) -> bool:
            got = _number(leaf)
            return got is not None and got == n

        return test_num, f"={value.number}", None, None
    if isinstance(value, SigmaCompareExpression):
        op = _COMPARE[value.op]
        n = float(value.number.number)

        def test_cmp(leaf: Any) -> bool:
            got = _number(leaf)
            return got is not None and op(got, n)

        return test_cmp, f" {value.op.name.lower()} {value.number.number}", None, None
    if isinstance(value, SigmaCIDRExpression):
        net = value.network

        def test_cidr(leaf: Any) -> bool:
            if leaf.__class__ is not str:
                return False
            ip = _ip(leaf)
            return ip is not None and ip.version == net.version and ip in net

        return test_cidr, f" in {value.cidr}", None, None
    raise UnsupportedRule(f"value type {type(value).__name__} is not supported")


MEMO_ENTRIES = 1024  # per field predicate
MEMO_MAX_LEN = 256


def _field_pred(get: Getter, test: LeafTest) -> Pred:
    on_str: Callable[[str], bool] = getattr(test, "core", test)
    # String tests are pure and CloudTrail values (user agents, IPs, names) repeat massively: remember the
    # verdict for short values. Bounded (cleared when full) so hostile unique values cost little memory.
    memo: dict[str, bool] = {}
    plain: str | None = getattr(get, "plain_field", None)
    if plain is not None:  # the same predicate with the top-level lookup inlined (a frame less per call)

        def pred_plain(ev: Mapping[str, Any]) -> bool:
            v = ev.get(plain, MISSING)
            if v.__class__ is str:
                hit = memo.get(v)
                if hit is None:
                    hit = on_str(v)
                    if len(v) <= MEMO_MAX_LEN:
                        if len(memo) >= MEMO_ENTRIES:
                            memo.clear()
                        memo[v] = hit
                return hit
            if v is MISSING or v is None:
                return False
            if v.__class__ is list:
                for leaf in iter_leaves(v):
                    if test(leaf):
                        return True
                return False
            return test(v)

        return pred_plain

    def pred(ev: Mapping[str, Any]) -> bool:
        v = get(ev)
        if v.__class__ is str:
            hit = memo.get(v)
            if hit is None:
                hit = on_str(v)
                if len(v) <= MEMO_MAX_LEN:
                    if len(memo) >= MEMO_ENTRIES:
                        memo.clear()
                    memo[v] = hit
            return hit
        if v is MISSING or v is None:
            return False
        if v.__class__ is list:
            for leaf in iter_leaves(v):
                if test(leaf):
                    return True
            return False
        return test(v)

    return pred


def _keyword_pred(test: LeafTest) -> Pred:
    def pred(ev: Mapping[str, Any]) -> bool:
        for leaf in iter_all_leaves(ev):
            if leaf is not None and test(leaf):
                return True
        return False

    return pred


def _special_leaf(fld: str | None, value: SigmaType) -> Leaf | None:
    """Values that look at the field as a whole (null, exists, field references)."""
    if isinstance(value, SigmaNull):
        if fld is None:
            raise UnsupportedRule("null value without a field")
        get = compile_getter(fld)

        def is_null(ev: Mapping[str, Any]) -> bool:
            v = get(ev)
            return v is MISSING or v is None or v == []

        return Leaf(fld, is_null, f"{fld} is null")
    if isinstance(value, SigmaExists):
        if fld is None:
            raise UnsupportedRule("exists modifier without a field")
        get = compile_getter(fld)
        want = bool(value)
        return Leaf(fld, lambda ev: (get(ev) is not MISSING) is want, f"{fld} {'exists' if want else 'is absent'}",
                    requires=want)
    if isinstance(value, SigmaFieldReference):
        if fld is None:
            raise UnsupportedRule("fieldref modifier without a field")
        get_a, get_b = compile_getter(fld), compile_getter(value.field)
        sw, ew = value.starts_with, value.ends_with

        def cmp(a: str, b: str) -> bool:
            if sw and ew:
                return b in a
            if sw:
                return a.startswith(b)
            if ew:
                return a.endswith(b)
            return a == b

        def fieldref(ev: Mapping[str, Any]) -> bool:
            va, vb = get_a(ev), get_b(ev)
            if va is MISSING or vb is MISSING:
                return False
            texts_b = [t.lower() for t in (as_text(x) for x in iter_leaves(vb)) if t is not None]
            for x in iter_leaves(va):
                ta = as_text(x)
                if ta is not None and any(cmp(ta.lower(), tb) for tb in texts_b):
                    return True
            return False

        return Leaf(fld, fieldref, f"{fld} equals field {value.field}", requires=True, also=(value.field,))
    return None


def _simple_kind(value: SigmaString) -> tuple[str, str] | None:
    """('eq'|'contains'|'prefix'|'suffix', lower-cased literal) for the common uncased string shapes."""
    parts = list(value.s)
    if any(isinstance(p, Placeholder) for p in parts) or SpecialChars.WILDCARD_SINGLE in parts:
        return None
    lits = [p for p in parts if isinstance(p, str)]
    if len(lits) != 1 or not lits[0]:
        return None if lits or len(parts) != 0 else ("eq", "")
    lit = lits[0].lower()
    lead = parts[0] is SpecialChars.WILDCARD_MULTI
    trail = parts[-1] is SpecialChars.WILDCARD_MULTI
    if len(parts) == 1:
        return ("eq", lit)
    if len(parts) == 3 and lead and trail:
        return ("contains", lit)
    if len(parts) == 2 and trail:
        return ("prefix", lit)
    if len(parts) == 2 and lead:
        return ("suffix", lit)
    return None


def _grouped_core(eqs: frozenset[str], contains: tuple[str, ...], prefixes: tuple[str, ...],
                  suffixes: tuple[str, ...]) -> Callable[[str], bool]:
    """One test for many OR-ed literal patterns on one field: lower-case the value once."""
    if eqs and not (contains or prefixes or suffixes):
        if len(eqs) == 1:
            (only,) = eqs
            return lambda s: s.lower() == only
        return lambda s: s.lower() in eqs
    if contains and not (eqs or prefixes or suffixes):
        if len(contains) == 1:
            (sub,) = contains
            return lambda s: sub in s.lower()

        def any_contains(s: str) -> bool:
            low = s.lower()
            for sub in contains:
                if sub in low:
                    return True
            return False

        return any_contains
    if prefixes and not (eqs or contains or suffixes):
        return lambda s: s.lower().startswith(prefixes)
    if suffixes and not (eqs or contains or prefixes):
        return lambda s: s.lower().endswith(suffixes)

    def mixed(s: str) -> bool:
        low = s.lower()
        if low in eqs or (prefixes and low.startswith(prefixes)) or (suffixes and low.endswith(suffixes)):
            return True
        for sub in contains:
            if sub in low:
                return True
        return False

    return mixed


def _values_node(fld: str | None, values: Iterable[SigmaType], linking_and: bool, cased: bool) -> Node:
    nodes: list[Node] = []
    # OR-ed uncased literal patterns of one field are merged into a single leaf
    groups: dict[str, list[tuple[str, str]]] = {"eq": [], "contains": [], "prefix": [], "suffix": []}
    for value in values:
        if isinstance(value, SigmaExpansion):  # windash/base64offset alternatives are always OR-linked
            nodes.append(_values_node(fld, value.values, False, cased))
            continue
        if fld is None and isinstance(value, SigmaString):
            # keyword searches look for the text anywhere in a value (full-text search semantics)
            if not value.startswith(SpecialChars.WILDCARD_MULTI):
                value = SpecialChars.WILDCARD_MULTI + value
            if not value.endswith(SpecialChars.WILDCARD_MULTI):
                value = value + SpecialChars.WILDCARD_MULTI
        special = _special_leaf(fld, value)
        if special is not None:
            nodes.append(special)
            continue
        if not linking_and and not cased and type(value) is SigmaString:
            kind = _simple_kind(value)
            if kind is not None:
                groups[kind[0]].append((kind[1], value.original or kind[1]))
                continue
        test, desc, eq, base = _leaf_test(value, cased)
        pred = _keyword_pred(test) if fld is None else _field_pred(compile_getter(fld), test)
        node = Leaf(fld, pred, f"{fld or 'keyword'}{desc}", requires=fld is not None)
        if fld is not None and eq is not None:
            node.eq = frozenset([eq.lower()])
            node.base = frozenset([base]) if base else None
        elif fld is not None and base is not None:
            node.base = frozenset([base])
        nodes.append(node)
    if any(groups.values()):
        eqs = frozenset(lit for lit, _o in groups["eq"])
        core = _grouped_core(eqs, tuple(lit for lit, _o in groups["contains"]),
                             tuple(lit for lit, _o in groups["prefix"]), tuple(lit for lit, _o in groups["suffix"]))
        test = _text_test(core)
        pred = _keyword_pred(test) if fld is None else _field_pred(compile_getter(fld), test)
        shown_items = [f"{'' if k == 'eq' else k + ' '}{o}" for k in groups for _lit, o in groups[k]]
        shown = ", ".join(shown_items[:5]) + (", …" if len(shown_items) > 5 else "")
        label = fld or "keyword"
        leaf = Leaf(fld, pred, f"{label} in [{shown}]" if len(shown_items) > 1 else f"{label} {shown}",
                    requires=fld is not None)
        if fld is not None:
            only_eq = not (groups["contains"] or groups["prefix"] or groups["suffix"])
            if only_eq:
                leaf.eq = eqs
            # a path's file name is pinned by '/usr/bin/curl' (eq) and '*/curl' (suffix) alike
            bases = [_basename_key(lit, anchored_start=True) for lit, _o in groups["eq"]] + \
                    [_basename_key(lit, anchored_start=False) for lit, _o in groups["suffix"]]
            if not (groups["contains"] or groups["prefix"]) and bases and all(bases):
                leaf.base = frozenset(b for b in bases if b)
        nodes.insert(0, leaf)
    if len(nodes) == 1:
        return nodes[0]
    return And(nodes) if linking_and else Or(nodes)


def _item_node(item: SigmaDetectionItem) -> Node:
    # `expand`: placeholders with values were replaced at load time (detect/placeholders.py); one left
    # over is reported by the value test that meets it
    if any(issubclass(m, SigmaRegularExpressionFlagModifier) for m in item.modifiers) and (
        SigmaRegularExpressionDotAllFlagModifier in item.modifiers and not item.value
    ):  # pragma: no cover - defensive
        raise UnsupportedRule("regex flag without a regex")
    # base64 encodings are case-sensitive by nature
    cased = any(m in (SigmaBase64Modifier, SigmaBase64OffsetModifier) for m in item.modifiers)
    if not item.value:
        node: Node = _values_node(item.field, [SigmaNull()], False, cased)
    else:
        node = _values_node(item.field, item.value, item.value_linking is ConditionAND, cased)
    return Not(node) if item.negated else node


def detection_node(detection: SigmaDetection) -> Node:
    children: list[Node] = []
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            children.append(detection_node(item))
        else:
            children.append(_item_node(item))
    if len(children) == 1:
        return children[0]
    return And(children) if detection.item_linking is ConditionAND else Or(children)


def _condition_node(cond: Any, detections: Mapping[str, Node], sigma_detections: Any) -> Node:
    if isinstance(cond, ConditionIdentifier):
        if cond.identifier not in detections:
            raise UnsupportedRule(f"condition references undefined detection '{cond.identifier}'")
        return detections[cond.identifier]
    if isinstance(cond, ConditionSelector):
        ids = cond.resolve_referenced_detections(sigma_detections)
        if not ids:
            raise UnsupportedRule(f"selector '{cond.args[0]} of {cond.pattern}' matches no detection")
        nodes = [detections[i.identifier] for i in ids]
        return Or(nodes) if cond.cond_class is ConditionOR else And(nodes)
    if isinstance(cond, ConditionNOT):
        return Not(_condition_node(cond.args[0], detections, sigma_detections))
    if isinstance(cond, (ConditionAND, ConditionOR)):
        nodes = [_condition_node(a, detections, sigma_detections) for a in cond.args]
        return And(nodes) if isinstance(cond, ConditionAND) else Or(nodes)
    if isinstance(cond, ConditionItem):  # pragma: no cover
        raise UnsupportedRule(f"condition element {type(cond).__name__} is not supported")
    raise UnsupportedRule(f"condition element {cond!r} is not supported")


def _negated_names(cond: Any, sigma_detections: Any, under_not: bool, out: list[str]) -> None:
    """Detection names that the condition uses under a NOT (filters), for explanations."""
    if isinstance(cond, ConditionIdentifier):
        if under_not and cond.identifier not in out:
            out.append(cond.identifier)
    elif isinstance(cond, ConditionSelector):
        if under_not:
            for ident in cond.resolve_referenced_detections(sigma_detections):
                if ident.identifier not in out:
                    out.append(ident.identifier)
    elif isinstance(cond, ConditionNOT):
        _negated_names(cond.args[0], sigma_detections, not under_not, out)
    elif isinstance(cond, (ConditionAND, ConditionOR)):
        for arg in cond.args:
            _negated_names(arg, sigma_detections, under_not, out)


def _placeholder_names(detections: Iterable[SigmaDetection]) -> list[str]:
    """Placeholders still in the rule's values (those without configured values), in rule order."""
    out: list[str] = []

    def visit(values: Iterable[Any]) -> None:
        for value in values:
            if isinstance(value, SigmaExpansion):
                visit(value.values)
                continue
            string = value.regexp if isinstance(value, SigmaRegularExpression) else value
            if isinstance(string, SigmaString):
                out.extend(p.name for p in string.s if isinstance(p, Placeholder) and p.name not in out)

    for det in detections:
        for item in det.detection_items:
            if isinstance(item, SigmaDetection):
                out.extend(n for n in _placeholder_names([item]) if n not in out)
            else:
                visit(item.value)
    return out


@dataclass
class CompiledDetection:
    pred: Pred
    node: Node
    constraints: Constraints
    selections: dict[str, tuple[Pred, list[str]]] = field(default_factory=dict)  # name -> (pred, fields)
    required: frozenset[str] = frozenset()  # fields that must be present for a match
    negated: list[str] = field(default_factory=list)  # detections used under NOT (filters)


def compile_rule(rule: SigmaRule) -> CompiledDetection:
    """Compile a parsed single-event Sigma rule; raises UnsupportedRule with the reason."""
    if rule.errors:
        raise UnsupportedRule(f"rule did not parse: {rule.errors[0]}")
    missing = _placeholder_names(rule.detection.detections.values())
    if missing:
        raise UnsupportedRule(undefined_reason(*missing))
    try:
        named = {name: detection_node(det) for name, det in rule.detection.detections.items()}
        conditions = [c.parse(postprocess=False) for c in rule.detection.parsed_condition]
    except UnsupportedRule:
        raise
    except Exception as exc:  # pySigma raises many error types for malformed conditions
        raise UnsupportedRule(f"condition: {exc}") from exc
    roots = [_condition_node(c, named, rule.detection) for c in conditions]
    negated: list[str] = []
    for c in conditions:
        _negated_names(c, rule.detection, False, negated)
    root: Node = roots[0] if len(roots) == 1 else Or(roots)
    return CompiledDetection(
        pred=build(root),
        node=root,
        constraints=constraints(root),
        required=required_fields(root),
        negated=negated,
        selections={name: (build(node), fields_of(node)) for name, node in named.items()},
    )
