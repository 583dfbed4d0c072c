"""Evaluate the behaviour baselines on the simulated estate and print the figures.

    .venv/bin/python eval/evaluate_baselines.py [--days 28] [--seed 7]

1. benign only (no attacks): alerts per 10,000 events and per host-day after the learning period;
2. each attack scenario: caught or not, by which signals, how long after it began, at what severity;
3. a legitimate workload held out of training (a new role and a new kind of host appearing after the
   learning period): how many alerts it produced and how many deviations grouping folded into them.
Raw CloudTrail records go through the real normaliser (`cloudwarden.cloudtrail.normalize`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cloudwarden.baseline.cloud import CloudBaseline
from cloudwarden.baseline.geo import default_geo
from cloudwarden.baseline.host import HostBaseline
from cloudwarden.baseline.scoring import Incident
from cloudwarden.cloudtrail.normalize import normalize
from cloudwarden.demo.estate import Estate, generate_estate
from cloudwarden.models.alert import Alert


def run(estate: Estate) -> dict[str, Any]:
    geo = default_geo()
    cloud, host = CloudBaseline(geo=geo), HostBaseline()
    t = time.perf_counter()
    acts = [normalize(r) for r in estate.cloudtrail_events]
    t_norm = time.perf_counter() - t
    t = time.perf_counter()
    for a in acts:
        cloud.process(a)
    c_alerts = cloud.flush()
    for e in estate.host_events:
        host.process(e)
    h_alerts = host.flush()
    t_base = time.perf_counter() - t
    ends_c = cloud.learning_ends() or 0.0
    ends_h = host.learning_ends() or 0.0
    return {
        "cloud": cloud, "host": host, "cloud_alerts": c_alerts, "host_alerts": h_alerts,
        "api_after": sum(1 for a in acts if a.time.timestamp() >= ends_c),
        "host_after": sum(1 for e in estate.host_events if e.time >= ends_h),
        "host_days": sum(len({e.host_id for e in estate.host_events if int(e.time // 86400) == d})
                         for d in {int(e.time // 86400) for e in estate.host_events if e.time >= ends_h}),
        "t_norm": t_norm, "t_base": t_base, "geo": geo.available,
    }


def signals_of(inc: Incident) -> str:
    fam = Counter(s.family for s in inc.signals)
    return ", ".join(f"{k}×{v}" if v > 1 else k for k, v in fam.most_common())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    print(f"== simulated estate: {args.days} days, seed {args.seed}; learning period 7 days (cloud and hosts)")
    benign = generate_estate(days=args.days, seed=args.seed, attacks=False)
    r = run(benign)
    print(f"offline ASN/country data: {'geoip2fast packaged file' if r['geo'] else 'ABSENT (source features off)'}")
    c_alerts: list[tuple[Alert, Incident]] = r["cloud_alerts"]
    h_alerts: list[tuple[Alert, Incident]] = r["host_alerts"]
    print("\n-- 1. benign activity only (after learning)")
    print(f"cloud: {r['api_after']:,} API events, {len(c_alerts)} alerts = "
          f"{10000 * len(c_alerts) / max(1, r['api_after']):.2f} per 10,000 events")
    print(f"hosts: {r['host_after']:,} host events over {r['host_days']} host-days, {len(h_alerts)} alerts = "
          f"{10000 * len(h_alerts) / max(1, r['host_after']):.2f} per 10,000 events, "
          f"{len(h_alerts) / max(1, r['host_days']):.3f} per host-day")
    for a, _inc in c_alerts + h_alerts:
        members = f" members={len(a.members)}" if a.members else ""
        print(f"   benign alert [{a.severity}]{members}: {a.explanation[:160]}")
    print(f"(normalise {len(benign.cloudtrail_events):,} records: {r['t_norm']:.2f}s; both baselines over "
          f"{len(benign.cloudtrail_events) + len(benign.host_events):,} events: {r['t_base']:.2f}s)")

    print("\n-- 2. attack scenarios")
    attacked = generate_estate(days=args.days, seed=args.seed, attacks=True)
    r = run(attacked)
    alerts = r["cloud_alerts"] + r["host_alerts"]
    caught_n = 0
    attack_alerts: set[int] = set()
    print(f"{'scenario':34} {'kind':5} {'caught':6} {'delay':>7} {'severity':9} signals")
    for sc in attacked.scenarios:
        hits = [(a, inc) for a, inc in alerts if any(attacked.labels.get(i) == sc["name"] for i in a.evidence_ids)]
        for a, _ in hits:
            attack_alerts.add(id(a))
        if hits:
            caught_n += 1
            first = min(hits, key=lambda ai: ai[0].first_seen)
            delay = first[0].first_seen.timestamp() - sc["start"]
            sev = max((a.severity for a, _ in hits), key=["low", "medium", "high", "critical"].index)
            dets = sorted({s.detector for _, inc in hits for s in inc.signals})
            print(f"{sc['name']:34} {sc['kind']:5} {'yes':6} {delay:6.0f}s {sev:9} {signals_of(first[1])}")
            print(f"{'':48} detectors: {', '.join(dets)[:150]}")
        else:
            print(f"{sc['name']:34} {sc['kind']:5} {'NO':6} {'-':>7} {'-':9}")
    benign_in_attack_run = [a for a, _ in alerts if id(a) not in attack_alerts]
    print(f"caught {caught_n}/{len(attacked.scenarios)} scenarios with {len(attack_alerts)} alerts; "
          f"{len(benign_in_attack_run)} other alerts in the same run "
          f"(attacks caught per alert raised: {caught_n / max(1, len(alerts)):.2f})")
    ex = next((a for a, _ in alerts if "deploy-ci" in a.entity), None)
    if ex is not None:
        print(f"example: [{ex.severity}] {ex.explanation}")

    print("\n-- 3. held-out legitimate workload (new role reporting-etl and new host kind cache-1, from day "
          f"{args.days - 6})")
    held = generate_estate(days=args.days, seed=args.seed, attacks=False, holdout=True)
    r = run(held)
    role, hostname = held.holdout["role"], held.holdout["host"]
    cl = [(a, inc) for a, inc in r["cloud_alerts"] if a.entity == role]
    hl = [(a, inc) for a, inc in r["host_alerts"] if a.entity == hostname or hostname in a.members]
    prof = r["cloud"].profiles.get(role)
    hprof = r["host"].hosts.get(hostname)
    n_role_events = sum(1 for t in held.benign_tags.values() if t.startswith("holdout:reporting"))
    n_host_events = sum(1 for e in held.host_events if e.host_id == hostname)
    print(f"role {role.split('/')[-1]}: {n_role_events:,} events, {len(prof.items) if prof else 0} distinct behaviour items, "
          f"peer group {'joined' if prof and prof.group is not None else 'none'} -> {len(cl)} alert(s), "
          f"{sum(len(inc.signals) for _, inc in cl)} deviations folded into them")
    for a, _inc in cl:
        print(f"   [{a.severity}] {a.explanation[:200]}")
    print(f"host {hostname}: {n_host_events:,} events, {len(hprof.items) if hprof else 0} distinct behaviour edges -> "
          f"{len(hl)} alert(s), {sum(len(inc.signals) for _, inc in hl)} deviations folded into them")
    for a, _inc in hl:
        print(f"   [{a.severity}] {a.explanation[:200]}")
    others = [a for a, _ in r["cloud_alerts"] + r["host_alerts"] if a.entity != role and a.entity != hostname
              and hostname not in a.members]
    print(f"other alerts in that run: {len(others)}")
    for a in others:
        print(f"   [{a.severity}] {a.explanation[:160]}")
    fleet = [a for a in others if "wkhtmltopdf" in a.explanation]
    if fleet:
        print(f"grouping: the fleet-wide release (new PDF renderer on all web servers) is {len(fleet)} alert "
              f"listing {len(fleet[0].members)} hosts: {', '.join(fleet[0].members)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
