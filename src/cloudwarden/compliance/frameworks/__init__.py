"""Compliance frameworks as data.

Each framework is a TOML file under `frameworks/data/`:

- CIS AWS Foundations versions (`kind = "cis"`): every control with its id, short title, section, profile
  level, Automated/Manual, and `verify`, our one-line statement of what a person must check when no check
  claims the control. Checks claim CIS controls through their own metadata (`CheckMeta.cis`).
- Mapping frameworks (`kind = "mapping"`: SOC 2, PCI DSS 4.0, HIPAA): requirement ids with short titles,
  each mapped onto CIS v7.0 control ids (`maps_to`), so they are evaluated by the same checks.

`load_framework("cis-7.0")` returns a typed, validated `Framework`; `claims()` says which checks
evaluate each control. Evaluation lives in `frameworks.evaluate`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cloudwarden.compliance.checks.base import CheckMeta
from cloudwarden.errors import ConfigError

# CLI name -> data file
FRAMEWORK_FILES: dict[str, str] = {
    "cis-7.0": "cis_7.0.toml",
    "cis-5.0": "cis_5.0.toml",
    "cis-3.0": "cis_3.0.toml",
    "soc2": "soc2.toml",
    "pci-4.0": "pci_4.0.toml",
    "hipaa": "hipaa.toml",
}
FRAMEWORK_IDS: tuple[str, ...] = tuple(FRAMEWORK_FILES)
DEFAULT_FRAMEWORK = "cis-7.0"


@dataclass(frozen=True)
class Section:
    id: str
    name: str


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    section: str
    verify: str
    subsection: str = ""
    level: int | None = None  # CIS profile level 1 or 2; None for mapping frameworks
    assessment: str = ""  # "automated" | "manual" for CIS; "" for mapping frameworks
    cis_7_0: tuple[str, ...] = ()  # CIS v7.0 equivalents (mapping frameworks: the controls it maps onto)

    @property
    def automated(self) -> bool:
        return self.assessment == "automated"


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    kind: str  # "cis" | "mapping"
    cis_version: str  # the CIS version whose check claims evaluate this framework ("7.0" for mappings)
    sections: tuple[Section, ...]
    controls: tuple[Control, ...]
    version: str = ""

    def control(self, control_id: str) -> Control:
        for c in self.controls:
            if c.id == control_id:
                return c
        raise KeyError(control_id)

    def section_name(self, section_id: str) -> str:
        for s in self.sections:
            if s.id == section_id:
                return s.name
        return section_id

    def claims(self, checks: Iterable[CheckMeta]) -> dict[str, list[str]]:
        """control id -> ids of the checks that evaluate it (sorted), for every control of this framework."""
        by_cis: dict[str, set[str]] = {}
        for meta in checks:
            for cid in meta.cis.get(self.cis_version, []):
                by_cis.setdefault(cid, set()).add(meta.id)
        out: dict[str, list[str]] = {}
        for c in self.controls:
            targets = c.cis_7_0 if self.kind == "mapping" else (c.id,)
            ids: set[str] = set()
            for t in targets:
                ids |= by_cis.get(t, set())
            out[c.id] = sorted(ids)
        return out


def _req_str(d: Mapping[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"field {key!r} must be a non-empty string", source=where)
    return v


def parse_framework(data: Mapping[str, Any], source: str, cis_7_0: Framework | None = None) -> Framework:
    """Validate one framework document. `cis_7_0` supplies verify texts for mapping frameworks."""
    kind = _req_str(data, "kind", source)
    if kind not in ("cis", "mapping"):
        raise ConfigError(f"kind must be 'cis' or 'mapping', not {kind!r}", source=source)
    fid = _req_str(data, "id", source)
    sections = tuple(
        Section(_req_str(s, "id", f"{source}: sections[{i}]"), _req_str(s, "name", f"{source}: sections[{i}]"))
        for i, s in enumerate(data.get("sections", []))
    )
    section_ids = {s.id for s in sections}
    controls: list[Control] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("controls", [])):
        where = f"{source}: controls[{i}]"
        cid = _req_str(raw, "id", where)
        where = f"{source}: control {cid}"
        if cid in seen:
            raise ConfigError("duplicate control id", source=where)
        seen.add(cid)
        section = _req_str(raw, "section", where)
        if section not in section_ids:
            raise ConfigError(f"section {section!r} is not declared in [[sections]]", source=where)
        if kind == "cis":
            assessment = _req_str(raw, "assessment", where)
            if assessment not in ("automated", "manual"):
                raise ConfigError(f"assessment must be automated|manual, not {assessment!r}", source=where)
            level = raw.get("level")
            if level not in (1, 2):
                raise ConfigError(f"level must be 1 or 2, not {level!r}", source=where)
            eq = raw.get("cis_7_0", "")
            controls.append(
                Control(
                    id=cid,
                    title=_req_str(raw, "title", where),
                    section=section,
                    subsection=str(raw.get("subsection", "")),
                    level=int(level),
                    assessment=assessment,
                    verify=_req_str(raw, "verify", where),
                    cis_7_0=(eq,) if isinstance(eq, str) and eq else (),
                )
            )
        else:
            targets = raw.get("cis_7_0")
            if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
                raise ConfigError("cis_7_0 must be a non-empty list of CIS v7.0 control ids", source=where)
            if cis_7_0 is not None:
                known = {c.id for c in cis_7_0.controls}
                unknown = [t for t in targets if t not in known]
                if unknown:
                    raise ConfigError(f"unknown CIS v7.0 control ids {unknown}", source=where)
                verify = str(raw.get("verify", "")) or " ".join(
                    f"CIS {t}: {cis_7_0.control(t).verify}" for t in targets
                )
            else:
                verify = str(raw.get("verify", "")) or "Verify the mapped CIS v7.0 controls " + ", ".join(targets)
            controls.append(
                Control(
                    id=cid,
                    title=_req_str(raw, "title", where),
                    section=section,
                    verify=verify,
                    cis_7_0=tuple(targets),
                )
            )
    if not controls:
        raise ConfigError("framework has no controls", source=source)
    cis_version = _req_str(data, "cis_version", source) if kind == "cis" else "7.0"
    return Framework(
        id=fid,
        name=_req_str(data, "name", source),
        kind=kind,
        cis_version=cis_version,
        sections=sections,
        controls=tuple(controls),
        version=str(data.get("version", cis_version)),
    )


@cache
def load_framework(framework_id: str) -> Framework:
    """Load a built-in framework by its CLI name (cis-7.0, cis-5.0, cis-3.0, soc2, pci-4.0, hipaa)."""
    fname = FRAMEWORK_FILES.get(framework_id)
    if fname is None:
        raise ConfigError(f"unknown framework {framework_id!r}; choose one of {', '.join(FRAMEWORK_IDS)}", source="--framework")
    text = resources.files("cloudwarden.compliance.frameworks").joinpath("data", fname).read_text(encoding="utf-8")
    source = f"frameworks/data/{fname}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(exc), source=source) from exc
    base = None if data.get("kind") == "cis" else load_framework("cis-7.0")
    fw = parse_framework(data, source, base)
    if fw.id != framework_id:
        raise ConfigError(f"file declares id {fw.id!r}, expected {framework_id!r}", source=source)
    return fw


def load_all() -> dict[str, Framework]:
    return {fid: load_framework(fid) for fid in FRAMEWORK_IDS}
