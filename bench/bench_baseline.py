"""Baseline update time and memory at 1 million events and ~1,000 principals (and ~400 hosts).

    .venv/bin/python bench/bench_baseline.py [--events 1000000] [--days 14]

The simulated estate (`demo/estate.py`, benign only) is replicated with renamed principals, keys and hosts
until it holds --events API events (26 principals per copy -> ~1,000 principals) and as many host events.
Same-run references: the time to merely produce the replicated records (the loop the baseline rides on),
and the time to parse + normalise the same number of raw CloudTrail records (orjson + the real normaliser).
Memory is the process RSS growth while the baseline is built, and the size of its persisted state.
Then the hourly incremental path: one busy hour of events for all principals, `Baseline.update()` + save
to SQLite, median of 5.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cloudwarden.baseline.cloud import CloudBaseline
from cloudwarden.baseline.engine import Baseline
from cloudwarden.baseline.geo import default_geo
from cloudwarden.baseline.host import HostBaseline
from cloudwarden.cloudtrail.normalize import normalize
from cloudwarden.demo.estate import generate_estate
from cloudwarden.models.api_activity import ApiActivity
from cloudwarden.models.host_event import HostEvent
from cloudwarden.store.state import open_store


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def replicate_api(base: list[ApiActivity], copies: int) -> Iterator[ApiActivity]:
    for a in base:  # time order is kept: each event is followed by its copies
        for i in range(copies):
            yield dataclasses.replace(
                a, event_id=f"{a.event_id}.{i}", principal=f"{a.principal}-{i:04d}",
                access_key_id=f"{a.access_key_id}{i:04d}" if a.access_key_id else "",
            )


def replicate_host(base: list[HostEvent], copies: int) -> Iterator[HostEvent]:
    for e in base:
        for i in range(copies):
            yield dataclasses.replace(e, event_id=f"{e.event_id}.{i}", host_id=f"{e.host_id}-{i:03d}",
                                      hostname=f"{e.hostname}-{i:03d}")


def cloud_part(events: int, days: int) -> None:
    args = argparse.Namespace(events=events, days=days)
    estate = generate_estate(days=args.days, seed=11, attacks=False)
    raws = [orjson.dumps(r) for r in estate.cloudtrail_events]
    base = [normalize(orjson.loads(x)) for x in raws]
    copies = math.ceil(args.events / len(base))
    n_api = len(base) * copies
    print(f"== cloud: {len(base):,} base events x {copies} copies = {n_api:,} API events, "
          f"{len({a.principal for a in base}) * copies:,} principals, {args.days} days of activity")

    t = time.perf_counter()
    n = 0
    for raw_i in range(copies):
        for x in raws:
            normalize(orjson.loads(x))
            n += 1
        if raw_i == 0:
            pass
    t_parse = time.perf_counter() - t
    t = time.perf_counter()
    for _ in replicate_api(base, copies):
        pass
    t_iter = time.perf_counter() - t

    geo = default_geo()
    geo.lookup("8.8.8.8")  # load the offline ASN file outside the measurement
    gc.collect()
    before = rss()
    cloud = CloudBaseline(geo=geo)
    t = time.perf_counter()
    for a in replicate_api(base, copies):
        cloud.process(a)
    alerts = cloud.flush()
    t_total = time.perf_counter() - t
    grown = rss() - before
    state = orjson.dumps(cloud.to_state(), option=orjson.OPT_NON_STR_KEYS)
    packed = zlib.compress(state, 6)
    st = cloud.status()
    t_base = t_total - t_iter
    print(f"reference  parse+normalise {n:,} raw records: {t_parse:7.1f}s  ({n / t_parse:,.0f}/s)")
    print(f"reference  produce the {n_api:,} replicated records: {t_iter:7.1f}s")
    print(f"baseline   learn + detect over them: {t_total:7.1f}s total, {t_base:.1f}s beyond producing them "
          f"({n_api / t_base:,.0f} events/s; {t_base / t_parse:.2f}x the parse+normalise time)")
    print(f"           {st['principals']:,} principals in {st['groups']:,} peer groups, {st['items']:,} behaviour items, "
          f"{len(alerts)} alerts")
    print(f"memory     RSS growth {mib(grown)} ({grown / st['principals'] / 1024:.1f} KiB per principal); "
          f"persisted state {mib(len(state))} raw, {mib(len(packed))} compressed")

    # hourly incremental update through the facade, with the state saved to SQLite
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/state.db")
        b = Baseline(cloud, HostBaseline(), state=store, geo=geo, use_alert_store=False)
        t = time.perf_counter()
        b.save()
        t_save = time.perf_counter() - t
        t = time.perf_counter()
        Baseline.open(store, geo=geo)
        t_load = time.perf_counter() - t
        per_hour = Counter(int(a.time.timestamp() // 3600) for a in base)
        busiest = max(per_hour, key=lambda h: per_hour[h])
        busy = [a for a in base if int(a.time.timestamp() // 3600) == busiest]
        times = []
        for k in range(5):
            # the same busy hour on the following days, after everything learned so far
            shift = (math.ceil((base[-1].time.timestamp() - busiest * 3600) / 86400) + k + 1) * 86400.0
            batch = [dataclasses.replace(a, time=a.time.fromtimestamp(a.time.timestamp() + shift, a.time.tzinfo))
                     for a in replicate_api(busy, copies)]
            batch = [dataclasses.replace(a, event_id=f"{a.event_id}/{k}") for a in batch]
            t = time.perf_counter()
            b.update(batch)
            b.save()
            times.append(time.perf_counter() - t)
        print(f"hourly     update of one busy hour ({len(busy) * copies:,} events, all principals) + save: "
              f"median {statistics.median(times):.2f}s of 5; save alone {t_save:.2f}s, load {t_load:.2f}s")
    sys.stdout.flush()


def host_part(events: int, days: int) -> None:
    args = argparse.Namespace(events=events, days=days)
    estate = generate_estate(days=args.days, seed=11, attacks=False)
    hbase = estate.host_events
    hcopies = math.ceil(args.events / len(hbase))
    n_host = len(hbase) * hcopies
    print(f"== hosts: {len(hbase):,} base events x {hcopies} copies = {n_host:,} host events, "
          f"{len({e.host_id for e in hbase}) * hcopies:,} hosts")
    t = time.perf_counter()
    for _ in replicate_host(hbase, hcopies):
        pass
    t_hiter = time.perf_counter() - t
    gc.collect()
    before = rss()
    host = HostBaseline()
    t = time.perf_counter()
    for e in replicate_host(hbase, hcopies):
        host.process(e)
    halerts = host.flush()
    t_htotal = time.perf_counter() - t
    hgrown = rss() - before
    hstate = orjson.dumps(host.to_state(), option=orjson.OPT_NON_STR_KEYS)
    hs = host.status()
    print(f"reference  produce the {n_host:,} replicated records: {t_hiter:7.1f}s")
    print(f"baseline   learn + detect: {t_htotal:7.1f}s total, {t_htotal - t_hiter:.1f}s beyond producing them "
          f"({n_host / (t_htotal - t_hiter):,.0f} events/s); {hs['hosts']:,} hosts in {hs['groups']} groups, "
          f"{len(halerts)} alerts")
    print(f"memory     RSS growth {mib(hgrown)}; persisted state {mib(len(hstate))} raw, "
          f"{mib(len(zlib.compress(hstate, 6)))} compressed")
    sys.stdout.flush()


def lake_part(days: int) -> None:
    """End to end as `cloudwarden baseline update` runs it: read the lake past the watermark, learn, store."""
    from cloudwarden.store.lake import Lake

    estate = generate_estate(days=days, seed=11, attacks=False)
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lake(Path(tmp) / "lake")
        lake.write_api_activity([normalize(r, orjson.dumps(r).decode()) for r in estate.cloudtrail_events])
        lake.write_host_events(estate.host_events)
        n = len(estate.cloudtrail_events) + len(estate.host_events)
        t = time.perf_counter()
        con = lake.connect()
        con.execute("SELECT * FROM api_activity ORDER BY time").fetchall()
        con.execute("SELECT * FROM host_events ORDER BY time").fetchall()
        con.close()
        t_read = time.perf_counter() - t
        b = Baseline.open(open_store(f"sqlite:///{tmp}/state.db"))
        t = time.perf_counter()
        r = b.update_from_lake(lake)
        t_upd = time.perf_counter() - t
        t = time.perf_counter()
        again = b.update_from_lake(lake)
        t_noop = time.perf_counter() - t
    print(f"== lake: {n:,} events ({days} days) in a Parquet lake")
    print(f"reference  SELECT * of both views into Python rows: {t_read:.1f}s")
    print(f"baseline   update_from_lake (read + learn + detect + save + {len(r.alerts)} alerts stored): {t_upd:.1f}s "
          f"({n / t_upd:,.0f} events/s, {t_upd / t_read:.2f}x the plain read); next run with nothing new: "
          f"{t_noop:.2f}s ({again.api_events + again.host_events} events)")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=14)
    args = ap.parse_args()
    print(f"(machine: {psutil.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in psutil.getloadavg())}; "
          "each part runs in a fresh interpreter so RSS growth is its own)")
    sys.stdout.flush()
    ctx = multiprocessing.get_context("spawn")
    for part, part_args in ((cloud_part, (args.events, args.days)), (host_part, (args.events, args.days)),
                            (lake_part, (args.days,))):
        proc = ctx.Process(target=part, args=part_args)
        proc.start()
        proc.join()
        if proc.exitcode:
            return proc.exitcode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
