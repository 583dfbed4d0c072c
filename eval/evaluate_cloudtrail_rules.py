#!/usr/bin/env python3
"""Detection quality on the labeled public data in ../shared/data (or $CLOUDWARDEN_SHARED_DATA). Prints figures.

    .venv/bin/python eval/evaluate_cloudtrail_rules.py

1. Rules: how many built-in, SigmaHQ CloudTrail and SigmaHQ Linux rules load, and how many are unsupported.
2. Panther's rule-test events (data/cloudtrail/*/*.jsonl, or Panther's own YAML): for every Panther rule one of
   our built-ins covers (`PANTHER_TO_BUILTIN` in tests/detect/test_shared_data.py), how many of its positive
   events fire that built-in and how many of its negative events do; over all events, how many positives and
   negatives raise any built-in or any SigmaHQ alert.
3. The OTRF S3-exfiltration recording: the alerts built-ins and SigmaHQ's rules raise on it.
Reads the data in place; nothing is copied. Exits with a message when the data is absent.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from tests.detect.test_shared_data import PANTHER_TO_BUILTIN, _panther_tests, _sigma_files  # noqa: E402

from cloudwarden.detect.engine import Detector, RuleSet, load_rules  # noqa: E402
from cloudwarden.detect.examples import event_time  # noqa: E402

DATA = Path(os.environ.get("CLOUDWARDEN_SHARED_DATA") or ROOT.parent / "shared" / "data")


def _rules(root: Path) -> tuple[RuleSet, RuleSet, RuleSet]:
    builtin = load_rules([], include_builtin="cloudtrail")
    cloudtrail = [p for p in _sigma_files(root / "sigma", "aws") if "cloudtrail" in p.read_text(encoding="utf-8")]
    return builtin, load_rules(cloudtrail), load_rules(_sigma_files(root / "sigma", "linux"))


def panther(root: Path, builtin: RuleSet, sigma: RuleSet) -> None:
    tests = _panther_tests(root / "cloudtrail")
    positives = sum(1 for _r, expected, _e in tests if expected)
    print(f"Panther rule tests: {len(tests)} events from {len({rid for rid, _x, _e in tests})} rules "
          f"({positives} positive, {len(tests) - positives} negative)")
    per: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # positives, fired, negatives, fired
    any_hit: Counter[tuple[str, bool]] = Counter()
    for rid, expected, event in tests:
        event = {k: v for k, v in event.items() if not k.startswith("p_")}  # Panther's own enrichment fields
        titles = [m.rule.title.lower() for m in builtin.match(event)]
        any_hit["builtin", expected] += bool(titles)
        any_hit["sigma", expected] += bool(sigma.match(event))
        fragment = PANTHER_TO_BUILTIN.get(rid)
        if fragment:
            fired = any(fragment.lower() in t for t in titles)
            row = per[rid]
            row[0 if expected else 2] += 1
            row[1 if expected else 3] += fired
    negatives = len(tests) - positives
    print(f"  any alert, built-ins: {any_hit['builtin', True]}/{positives} positives, "
          f"{any_hit['builtin', False]}/{negatives} negatives")
    print(f"  any alert, SigmaHQ:   {any_hit['sigma', True]}/{positives} positives, {any_hit['sigma', False]}/{negatives} negatives")
    totals = [sum(r[i] for r in per.values()) for i in range(4)]
    print(f"  covered Panther rules: {len(per)}; their positives firing the covering built-in {totals[1]}/{totals[0]}, "
          f"negatives firing it {totals[3]}/{totals[2]}")
    for rid, (p, ph, n, nh) in sorted(per.items()):
        print(f"    {rid:46s} -> {PANTHER_TO_BUILTIN[rid]:38s} positives {ph}/{p}  negatives {nh}/{n}")


def otrf(root: Path, builtin: RuleSet, sigma: RuleSet) -> None:
    files = sorted(p for p in (root / "cloudtrail").rglob("*.jsonl")
                   if any(w in str(p.relative_to(root)).lower() for w in ("otrf", "exfil")))
    if not files:
        print("OTRF S3-exfiltration recording: not found")
        return
    events: list[dict[str, Any]] = []
    for path in files:
        for line in path.read_bytes().splitlines():
            if line.strip():
                row = orjson.loads(line)
                event = row.get("event", row)
                if "eventTime" not in event and "@timestamp" in event:  # a Logstash export
                    event["eventTime"] = event["@timestamp"]
                events.append(event)
    events.sort(key=lambda e: str(e.get("eventTime", "")))
    for name, rules in (("built-ins", builtin), ("SigmaHQ", sigma)):
        detector = Detector(rules)
        alerts = [a for e in events for a in detector.process(e, event_time(e))]
        by = Counter((a.severity, a.title) for a in alerts)
        print(f"OTRF recording, {len(events)} events, {name}: {len(alerts)} alerts "
              + ", ".join(f"{n} x {sev} '{title}'" for (sev, title), n in sorted(by.items())))


def main() -> None:
    if not (DATA / "sigma").is_dir() or not (DATA / "cloudtrail").is_dir():
        sys.exit(f"{DATA} has no sigma/ and cloudtrail/ folders: set CLOUDWARDEN_SHARED_DATA to a copy of ../shared/data")
    builtin, sigma, linux = _rules(DATA)
    print(f"data: {DATA}")
    print(f"rules: built-in CloudTrail {len(builtin.rules)} loaded / {len(builtin.unsupported)} unsupported; "
          f"SigmaHQ CloudTrail {len(sigma.rules)} / {len(sigma.unsupported)}; SigmaHQ Linux {len(linux.rules)} / {len(linux.unsupported)}")
    for src, rid, reason in [*sigma.unsupported, *linux.unsupported]:
        print(f"  unsupported: {src} {rid}: {reason}")
    panther(DATA, builtin, sigma)
    otrf(DATA, builtin, sigma)


if __name__ == "__main__":
    main()
