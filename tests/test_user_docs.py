"""docs/cloudtrail-detection.md stays true: it lists every built-in CloudTrail rule at its level, and every
`cloudwarden` command it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cloudwarden.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cloudtrail-detection.md"


def _builtin_rules() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "src" / "cloudwarden" / "rules" / "cloudtrail").glob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                level = doc.get("level") or doc.get("correlation", {}).get("level", "")
                out.append((str(level), str(doc["title"])))
    return out


def test_the_guide_lists_every_builtin_cloudtrail_rule_at_its_level() -> None:
    rows = {(m.group(1), m.group(2)) for m in re.finditer(r"^\| (\w+) \| ([^|]+?) \| [^|]*\|$", DOC.read_text(), re.M)}
    listed = {(level, title.split(" (correlation")[0].split(" (feeds")[0]) for level, title in rows
              if level in ("critical", "high", "medium", "low", "informational")}
    missing = [r for r in _builtin_rules() if r not in listed]
    assert not missing, f"add to {DOC.name}: {missing}"
    assert len(listed) == len(_builtin_rules())


def test_the_commands_the_guide_shows_exist() -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    text = DOC.read_text()
    code = [line for line in text.splitlines() if line.startswith("    ")] + re.findall(r"`([^`]+)`", text)
    commands = {m for line in code for m in re.findall(r"cloudwarden ((?:[a-z]+ )?[a-z]+)", line)}
    assert len(commands) >= 10
    for command in sorted(commands):
        words = command.split()
        result = runner.invoke(app, [*words, "--help"])
        if result.exit_code != 0 and len(words) == 2:  # "cloudwarden trail ingest" matched as two words only
            result = runner.invoke(app, [words[0], "--help"])
        assert result.exit_code == 0, (command, result.output[-500:])


def test_the_toml_examples_of_grouping_windows_load_as_written(tmp_path: Path) -> None:
    """The README's and the guide's `[alerts...]` examples, written to a cloudwarden.toml, give those windows."""
    from datetime import timedelta

    from cloudwarden.config import load_settings

    for doc in (ROOT / "README.md", DOC):
        text = doc.read_text()
        blocks = re.findall(r"((?:^    \[alerts[^\n]*\n(?:^    [^\[\n][^\n]*\n)*)+)", text, re.M)
        assert blocks, f"{doc.name}: no [alerts] example"
        config = tmp_path / "cloudwarden.toml"
        config.write_text("\n".join(line[4:] for block in blocks for line in block.splitlines()) + "\n")
        windows = load_settings(config).alerts.group_window()
        assert windows.by_severity.get("low") == timedelta(days=1), doc.name
        assert windows.by_rule, doc.name
