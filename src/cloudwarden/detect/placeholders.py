"""Values for Sigma's `expand` modifier: `%name%` placeholders replaced by site-specific lists.

SigmaHQ rules write `User|expand: '%admin_users%'` for what differs per site. The lists come from the
user: a file named by `[detect] placeholders_file`, then `[detect.placeholders]` in cloudwarden.toml
(name = [values]) over it, then `--placeholders FILE` on the commands that load rules over both (for the
same name, the later source wins). Files are YAML, TOML or JSON: a mapping of name -> list of strings, at
the top level or under a `placeholders` key. `load_rules(placeholders=None)` reads these from the settings
(env > cloudwarden.toml); a caller holding other settings passes `configured(its_settings)` explicitly.

Semantics (the Sigma spec's, applied with pySigma's `ValueListPlaceholderTransformation`): the placeholder
is replaced by each value of its list, the surrounding text and the other modifiers stay (`|contains|expand`
on `%apis%` tests `*value*` for every value), and the resulting values are OR-ed, also under `|all` (there
the expansion is one OR-ed alternative next to the other values, which stay AND-ed). Wildcards `*` and `?`
in a value keep their meaning (escape them with a backslash for literal characters); in a `|re|expand`
value the text is inserted into the regular expression as regex. An empty list matches nothing.

A placeholder with no list is *not* treated as "match nothing" (which Sigma allows): a rule whose filter
quietly matched nothing would alert on everyone, and one whose selection matched nothing would never fire
without anyone knowing. The rule is reported unsupported instead, naming the placeholder and where to
define it.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.placeholder import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule
from sigma.types import Placeholder, SigmaExpansion, SigmaString, SigmaType

from cloudwarden.errors import ConfigError

Placeholders = Mapping[str, Sequence[str]]

HOW_TO_DEFINE = "define it under [detect.placeholders] in cloudwarden.toml or pass --placeholders FILE"
MAX_VALUES = 10_000  # per placeholder: a rule is compiled into closures, not a SIEM lookup table


def undefined_reason(*names: str) -> str:
    """The unsupported-rule reason for placeholders nobody gave values for."""
    shown = ", ".join(f"%{n}%" for n in names)
    if len(names) == 1:
        return f"|expand placeholder {shown} has no values: {HOW_TO_DEFINE}"
    return f"|expand placeholders {shown} have no values: define them under [detect.placeholders] in cloudwarden.toml " \
        "or pass --placeholders FILE"


def validate(data: Any, source: str) -> dict[str, tuple[str, ...]]:
    """name -> values, checked: a mapping of names to lists of strings (a single string or number is one value)."""
    if isinstance(data, str):  # the environment variable CLOUDWARDEN_DETECT_PLACEHOLDERS holds JSON
        try:
            data = json.loads(data) if data.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(f"placeholders: not a JSON object: {exc}", source=source) from exc
    if not isinstance(data, Mapping):
        raise ConfigError("placeholders must be a table of name = [values]", source=source)
    out: dict[str, tuple[str, ...]] = {}
    for name, values in data.items():
        if not isinstance(name, str) or not name or "%" in name:
            raise ConfigError(f"placeholder name {name!r} is not valid (written without the % signs)", source=source)
        if isinstance(values, (str, int, float)) and not isinstance(values, bool):
            values = [values]
        if not isinstance(values, list):
            raise ConfigError(f"placeholder {name!r} must be a list of strings", source=source)
        items: list[str] = []
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise ConfigError(f"placeholder {name!r} value #{i + 1} must be a string", source=source)
            items.append(str(v))
        if len(items) > MAX_VALUES:
            raise ConfigError(f"placeholder {name!r} has {len(items)} values (at most {MAX_VALUES})", source=source)
        out[name] = tuple(items)
    return out


def load_file(path: Path | str) -> dict[str, tuple[str, ...]]:
    """Placeholder lists from a YAML, TOML or JSON file (by extension; YAML otherwise)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read placeholders file: {exc}", source=str(p)) from exc
    try:
        if p.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"placeholders file does not parse: {exc}".replace("\n", " "), source=str(p)) from exc
    if data is None:
        data = {}
    if isinstance(data, Mapping) and isinstance(data.get("placeholders"), Mapping):
        data = data["placeholders"]
    return validate(data, str(p))


EXTRA_FILE_ENV = "CLOUDWARDEN_PLACEHOLDERS_EXTRA_FILE"  # how `trail ingest --placeholders` reaches its workers


def configured(settings: Any = None, *, extra_file: Path | str | None = None) -> dict[str, tuple[str, ...]]:
    """The placeholders the settings define (file first, inline toml over it), then `extra_file` (default:
    the file named by $CLOUDWARDEN_PLACEHOLDERS_EXTRA_FILE) over both."""
    if extra_file is None:
        extra_file = os.environ.get(EXTRA_FILE_ENV) or None
    if settings is None:
        from cloudwarden.config import load_settings

        settings = load_settings()
    out: dict[str, tuple[str, ...]] = {}
    detect = settings.detect
    if detect.placeholders_file:
        out.update(load_file(detect.placeholders_file))
    out.update(validate(detect.placeholders, "[detect.placeholders]"))
    if extra_file is not None:
        out.update(load_file(extra_file))
    return out


@dataclass
class _OredValueList(ValueListPlaceholderTransformation):
    """pySigma's value-list replacement, with the replacement values kept together as one OR-ed expansion
    (pySigma splices them into the item's value list, which `|all` would AND)."""

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:  # type: ignore[override]
        replaced = super().apply_value(field, val)
        if replaced is None:
            return None
        return SigmaExpansion(list(replaced))  # type: ignore[arg-type]

    def placeholder_replacements(self, p: Placeholder) -> Iterable[SigmaString]:
        # pySigma refuses an empty list; here it is a list with nothing in it (the value matches nothing)
        if self._pipeline is not None and self._pipeline.vars.get(p.name) == []:
            return []
        return super().placeholder_replacements(p)


def expand_rules(parsed: list[tuple[Any, str, Any]], placeholders: Placeholders,
                 unsupported: list[tuple[str, str, str]]) -> list[tuple[Any, str, Any]]:
    """Replace the defined placeholders in every single-event rule of `parsed` ((rule, source, examples)),
    in place; returns the entries to compile. A rule whose expansion fails is moved to `unsupported`.
    Undefined placeholders are left for the compiler, which reports the rule with `undefined_reason`."""
    names = sorted(placeholders)
    if not names:
        return parsed
    # pySigma caps expansions at 200 strings to keep SIEM queries small; our matcher tests a list of
    # values as one set lookup, so the cap is the per-list limit validated above (never lowered here)
    SigmaString.max_placeholder_expansions = max(SigmaString.max_placeholder_expansions, MAX_VALUES)
    variables = {name: list(placeholders[name]) for name in names}
    kept: list[tuple[Any, str, Any]] = []
    for entry in parsed:
        rule, src, _examples = entry
        if isinstance(rule, SigmaRule) and not rule.errors:
            pipeline = ProcessingPipeline(
                items=[ProcessingItem(transformation=_OredValueList(include=names), identifier="cloudwarden_placeholders")],
                vars=variables,
            )
            try:
                pipeline.apply(rule)
            except SigmaError as exc:  # e.g. several placeholders in one value multiply past the limit
                unsupported.append((src, str(rule.id) if rule.id is not None else "", f"placeholder expansion: {exc}"))
                continue
        kept.append(entry)
    return kept
