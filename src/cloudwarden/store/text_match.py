"""Substring search in SQL LIKE: the user's text is matched literally, wildcards included.

A user searching for `ci_deploy` or `100%` means those characters; unescaped, LIKE would read `_` and `%` as
wildcards and match far more than asked. The pattern is always a bound parameter (never part of the SQL)."""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, to use with `ESCAPE '\\'` (SQLAlchemy: `escape=LIKE_ESCAPE`)."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"
