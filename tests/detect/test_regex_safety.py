"""A pathological regular expression in a rule can never hang the pipeline."""

from __future__ import annotations

import pytest

from cloudwarden.detect import safe_regex
from cloudwarden.detect.safe_regex import UnsafeRegex, check_pattern, compile_search, has_nested_quantifier
from tests.detect.helpers import hits, one_rule


@pytest.mark.skipif(not safe_regex.HAVE_RE2, reason="google-re2 is not installed")
def test_catastrophic_pattern_runs_in_linear_time_with_re2() -> None:
    # Python's re would need ~2^40 steps for this input; RE2 answers at once.
    rs = one_rule({"sel": {"x|re": "(a+)+$"}, "condition": "sel"})
    evil = "a" * 40 + "!"
    assert hits(rs, {"x": "a" * 40})
    assert not hits(rs, {"x": evil})
    # the call above must return quickly: the test timeout (and the absence of a hang) is the assertion


def test_catastrophic_pattern_never_false_negative() -> None:
    match = compile_search("^(a+)+$")
    assert match("aaaa") and not match("a" * 5000 + "b")


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*y*)*z", "((ab)+)+", "(a|aa)+", "(.*a){2,}"])
def test_fallback_rejects_nested_quantifiers(pattern: str) -> None:
    assert has_nested_quantifier(pattern)
    with pytest.raises(UnsafeRegex):
        check_pattern(pattern, use_re2=False)


@pytest.mark.parametrize("pattern", ["^i-[0-9a-f]{8,17}$", "(ab)+c", "a+b*", "[(+)]+", r"\(a+\)+", "(?:foo|bar)baz", "(ab)?c+"])
def test_fallback_accepts_safe_patterns(pattern: str) -> None:
    assert not has_nested_quantifier(pattern)
    check_pattern(pattern, use_re2=False)
    assert compile_search(pattern, use_re2=False) is not None


def test_backreferences_and_lookarounds_are_refused() -> None:
    for pattern in (r"(a)\1", r"(?P<x>a)(?P=x)", "a(?=b)", "(?<!a)b"):
        with pytest.raises(UnsafeRegex):
            check_pattern(pattern)


def test_input_length_is_bounded() -> None:
    match = compile_search("needle$", use_re2=False)
    assert not match("x" * (safe_regex.MAX_INPUT + 10) + "needle")
    assert match("x" * 100 + "needle")


def test_regex_flags_in_fallback() -> None:
    assert compile_search("^root$", multiline=True, use_re2=False)("a\nroot\nb")
    assert compile_search("kali", ignorecase=True, use_re2=False)("KALI")
    assert compile_search("a.b", dotall=True, use_re2=False)("a\nb")
