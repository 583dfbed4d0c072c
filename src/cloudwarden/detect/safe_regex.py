"""Regular expressions from rules that can never hang the pipeline.

With RE2 (the `google-re2` package) matching is linear in the input, whatever the pattern: patterns RE2
cannot run (back-references, look-arounds) are rejected at load time with the reason. Without RE2 we fall
back to Python's `re` and reject, at load time, the shapes that backtrack catastrophically (a quantified
group that itself contains a quantifier, back-references), and bound the input length in both cases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

try:  # pragma: no cover - exercised whichever way the environment is
    import re2 as _re2

    HAVE_RE2 = True
except ImportError:  # pragma: no cover
    _re2 = None
    HAVE_RE2 = False

MAX_INPUT = 64 * 1024  # characters of a value a rule regex looks at

_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\\k<")
_LOOKAROUND = re.compile(r"\(\?<?[=!]")


class UnsafeRegex(ValueError):
    """A rule's regular expression is refused; the message says why."""


def _strip_classes_and_escapes(pattern: str) -> str:
    """The pattern with escaped characters and [...] classes replaced by 'x' (structure only)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append("x")
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append("x")
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def has_nested_quantifier(pattern: str) -> bool:
    """True when a repeated group contains a quantifier or an alternation, e.g. (a+)+, (x*y)*, (a|aa)+:
    the shapes that make a backtracking engine exponential. Conservative (it also refuses some safe ones)."""
    s = _strip_classes_and_escapes(pattern)
    stack: list[list[bool]] = []  # per open group: [contains a quantifier, contains an alternation]
    for i, c in enumerate(s):
        if c == "(":
            stack.append([False, False])
        elif c == ")":
            inner_q, inner_alt = stack.pop() if stack else (False, False)
            repeated = i + 1 < len(s) and s[i + 1] in "*+{"
            if repeated and (inner_q or inner_alt):
                return True
            if stack and (inner_q or repeated or (i + 1 < len(s) and s[i + 1] == "?")):
                stack[-1][0] = True
        elif c == "|":
            if stack:
                stack[-1][1] = True
        elif c in "*+{" or (c == "?" and i > 0 and s[i - 1] not in "(*+?}"):
            if stack:
                stack[-1][0] = True
    return False


def check_pattern(pattern: str, *, use_re2: bool = HAVE_RE2) -> None:
    """Raise UnsafeRegex when the pattern may not be run safely by the chosen engine."""
    if _BACKREF.search(pattern):
        raise UnsafeRegex("back-references are not supported (they need a backtracking regex engine)")
    if _LOOKAROUND.search(pattern):
        raise UnsafeRegex("look-ahead/look-behind assertions are not supported (linear-time engine)")
    if not use_re2 and has_nested_quantifier(pattern):
        raise UnsafeRegex("a repeated group containing a quantifier or alternation can backtrack catastrophically (e.g. (a+)+, (a|aa)+); install google-re2 or rewrite the pattern")


def compile_search(
    pattern: str, *, ignorecase: bool = False, multiline: bool = False, dotall: bool = False,
    fullmatch: bool = False, use_re2: bool = HAVE_RE2,
) -> Callable[[str], bool]:
    """A predicate `text -> bool` (search, or full match) that is safe to run on attacker-controlled text."""
    check_pattern(pattern, use_re2=use_re2)
    flags = "".join(f for f, on in (("i", ignorecase), ("m", multiline), ("s", dotall)) if on)
    if use_re2 and _re2 is not None:
        source = f"(?{flags}){pattern}" if flags else pattern
        try:
            compiled: Any = _re2.compile(source)
        except _re2.error as exc:
            raise UnsafeRegex(f"invalid regular expression: {exc}") from exc
    else:
        py_flags = (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0) | (re.DOTALL if dotall else 0)
        try:
            compiled = re.compile(pattern, py_flags)
        except re.error as exc:
            raise UnsafeRegex(f"invalid regular expression: {exc}") from exc
    method = compiled.fullmatch if fullmatch else compiled.search

    def matches(text: str) -> bool:
        if len(text) > MAX_INPUT:
            text = text[:MAX_INPUT]
        return method(text) is not None

    return matches
