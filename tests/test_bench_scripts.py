"""The benchmark scripts run end to end on tiny inputs and print every figure they promise (speed is not
judged here: benchmarks print, tests never time)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "bench" / "make_cloudtrail_corpus.py"


def _run(script: str, *args: str, tmp: Path) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          timeout=600, cwd=tmp, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.skipif(not GENERATOR.exists(), reason=f"{GENERATOR} is absent: the benchmark builds its corpus with "
                    "../shared/bench/make_cloudtrail_corpus.py")
def test_cloudtrail_bench_prints_rates_ratios_and_where_the_time_goes(tmp_path: Path) -> None:
    out = _run("bench_cloudtrail.py", "--events", "3000", "--quiet-weight", "0", "--keep", str(tmp_path / "keep"),
               "--window-by-severity", "low=1440", tmp=tmp_path)
    assert "grouping windows by severity (minutes): low=1440" in out, out
    assert "grouped by severity (minutes)        : 1 core low=1440, 2 workers low=1440" in out, out  # both applied it
    for line in ("baseline  bare gunzip+orjson.loads", "end-to-end 1 core", "end-to-end 2 workers",
                 "ratio 1 core / bare parse", "scaling 2 workers / 1 core", "target 60,000 events/s on one core"):
        assert line in out, out
    assert "events 3000, lake rows 3000" in out, out  # every event reached the lake
    ladder = out.split("where one core's time goes", 1)[1].strip().splitlines()[1:6]
    rates = [float(re.search(r"([\d,]+) events/s", line).group(1).replace(",", "")) for line in ladder]  # type: ignore[union-attr]
    assert len(rates) == 5 and all(r > 0 for r in rates), out
    assert ladder[-1].strip().startswith("+ alert store and checkpoints (end to end)")
    floor = out.split("the floor (", 1)[1]
    parts = {m.group(1): float(m.group(2)) for m in re.finditer(r"\((a|b|b')\) .*?([\d.]+) us/event", floor)}
    assert set(parts) == {"a", "b", "b'"} and all(v > 0 for v in parts.values()), out
    stored = int(re.search(r"stored (\d+)", out).group(1))  # type: ignore[union-attr]
    assert f"({stored:,} alerts," in floor, out  # the floor re-inserts exactly the alerts the 1-core run stored
    assert re.search(r"best possible with zero time .*: [\d,]+ events/s, ratio [\d.]+ of bare parse", floor), out


def test_alert_store_bench_compares_with_sqlites_default_page_size(tmp_path: Path) -> None:
    out = _run("bench_alert_store.py", "--firings", "4000", "--batch", "1000", "--repeat", "1", "--sample", "100",
               tmp=tmp_path)
    assert re.search(r"4000 firings in batches of 1000 -> \d+ stored alerts", out), out
    assert re.search(r"same, 4 KB pages\s+[\d.]+s .*: [\d.]+x\)", out), out
    assert "bulk is" in out, out
