#!/usr/bin/env python3
"""CloudTrail end-to-end throughput, with a same-run baseline. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_cloudtrail.py [--events 1000000] [--workers 2] [--repeat 1] [--keep DIR] [--sigma DIR]

1. Builds the corpus with ../shared/bench/make_cloudtrail_corpus.py (gzip files in the AWSLogs layout).
   That script resamples ../shared/data/cloudtrail; when that data is absent here, the benchmark runs the
   same script beside a record pool of our own (tests/cloudtrail/factory.py) and says so.
2. Baseline: bare gunzip + orjson.loads of every file (one core).
3. End to end on 1 core and on N workers: read gz, parse, normalise, run every built-in CloudTrail rule
   plus any SigmaHQ CloudTrail rules under ../shared/data/sigma (and --sigma DIR), write the Parquet lake, store alerts,
   checkpoint each file. Each run starts from an empty lake and state DB, in a fresh process.
4. Where one core's time goes (`--ladder`, on by default): the same files through ever longer prefixes of the
   pipeline, each in a fresh process: our read + parse (gunzip, split into records, keep each raw text), then
   + normalise, + every rule (and each file's alerts folded and explained, as a worker does), + the Parquet
   lake write (the production per-file step, `process_item`); end to end adds the alert store and checkpoints.
   The differences are the stages' costs in microseconds per event.
5. The floor (`--floor`, on by default): what no implementation of this pipeline on this stack can go below,
   measured on the same files in the same run: (a) read + parse + the lake's raw-event column alone written as
   Parquet (the issue keeps every raw event in the lake), and (b) the alert and evidence-id rows the 1-core run
   stored, inserted again with sqlite3's own executemany into an empty database with the product's schema
   (no Python per alert: no rule, no folding, no lookup). Their sum bounds the rate any version could reach
   with zero time for normalising, rules and the other lake columns.
`--window-by-severity low=1440` runs the end-to-end measurements with that grouping setting (what a user quiets
noisy low-severity rules with): fewer, longer alerts, and less for the store to write.
Targets (issue #3): >= 60,000 events/s on one core, >= half the bare parse rate, near-linear on 2 cores.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
# CLOUDWARDEN_SHARED_DATA: another copy of ../shared/data (as the tests honour it)
SHARED_DATA = Path(os.environ.get("CLOUDWARDEN_SHARED_DATA") or SHARED / "data")
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from cloudwarden.cloudtrail.ingest import DetectionStage, Ingest, IngestOptions, merge_alerts, process_item  # noqa: E402
from cloudwarden.cloudtrail.normalize import RecordError, normalize_values  # noqa: E402
from cloudwarden.cloudtrail.parse import Problem, iter_records  # noqa: E402
from cloudwarden.cloudtrail.sources import LocalSource, read_item  # noqa: E402
from cloudwarden.config import AlertsSettings  # noqa: E402
from cloudwarden.detect.grouping import GroupWindow  # noqa: E402
from cloudwarden.models.alert import Alert  # noqa: E402
from cloudwarden.store.lake import COMPRESSION, COMPRESSION_LEVEL, Lake  # noqa: E402
from cloudwarden.store.state import SQLITE_PAGE_SIZE, open_store  # noqa: E402


def _cloudtrail_dirs(base: Path) -> set[Path]:
    return {p for p in base.rglob("*") if p.is_dir() and p.name.lower() == "cloudtrail"}


def sigma_cloudtrail_rules(extra: list[Path] | None = None) -> list[Path]:
    """The cloudtrail folders of SigmaHQ rules under ../shared/data/sigma and under each `extra` folder
    (--sigma: e.g. a SigmaHQ checkout elsewhere); an extra folder without such a subfolder is used as it is."""
    shared = SHARED_DATA / "sigma"
    found = _cloudtrail_dirs(shared) if shared.is_dir() else set()
    for base in extra or []:
        if not base.is_dir():
            sys.exit(f"--sigma {base}: not a folder")
        found |= _cloudtrail_dirs(base) or {base}
    return sorted(found)


def _generator_sandbox(script: Path) -> tuple[Path, Path]:
    """A temporary copy of the corpus generator in a bench/ folder beside an empty data/ folder (the generator
    reads ../data/cloudtrail relative to itself); returns (sandbox, script copy)."""
    sandbox = Path(tempfile.mkdtemp(prefix="cw-corpus-tool-"))
    (sandbox / "bench").mkdir()
    (sandbox / "data").mkdir()
    shutil.copy(script, sandbox / "bench" / script.name)
    return sandbox, sandbox / "bench" / script.name


def build_corpus(out: Path, events: int, benign_weight: int | None = None) -> dict[str, object]:
    """benign_weight None: the issue's corpus (../shared/data when present); a number: our own pool with
    that many copies of each benign record per attack record."""
    script = SHARED / "bench" / "make_cloudtrail_corpus.py"
    if not script.exists():
        sys.exit(f"{script} is absent: the benchmark builds its corpus with ../shared/bench/make_cloudtrail_corpus.py "
                 "(or pass --keep DIR holding corpora built earlier)")
    data = SHARED_DATA / "cloudtrail"
    note = f"records resampled from {data}"
    sandbox: Path | None = None
    if data.is_dir() and benign_weight is None and SHARED_DATA != SHARED / "data":
        # CLOUDWARDEN_SHARED_DATA: the same generator beside another copy of the labeled data
        sandbox, script = _generator_sandbox(script)
        (sandbox / "data" / "cloudtrail").symlink_to(data.resolve(), target_is_directory=True)
    elif not data.is_dir() or benign_weight is not None:
        weight = benign_weight or 6
        # same generator, our own record pool (the labeled data is absent on this machine)
        from tests.cloudtrail.factory import bench_pool

        sandbox, script = _generator_sandbox(script)
        (sandbox / "data" / "cloudtrail" / "pool").mkdir(parents=True)
        with open(sandbox / "data" / "cloudtrail" / "pool" / "records.jsonl", "w") as fh:
            for rec in bench_pool(weight):
                fh.write(json.dumps(rec) + "\n")
        note = (
            f"records resampled from tests/cloudtrail/factory.py bench_pool(benign x{weight} + each attack record once)"
            + ("" if data.is_dir() else "; ../shared/data/cloudtrail is absent")
        )
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(script), str(out), "--events", str(events)], check=True, capture_output=True, text=True
        )
    finally:
        if sandbox is not None:
            shutil.rmtree(sandbox, ignore_errors=True)
    info: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    info["note"] = note
    info["build_seconds"] = round(time.perf_counter() - started, 1)
    return info


def _cpu() -> float:
    """CPU seconds used by this process and its reaped children (the worker pool is joined per run)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bare_parse(files: list[Path]) -> float:
    gc.collect()
    n = 0
    started = time.perf_counter()
    for f in files:
        n += len(orjson.loads(gzip.decompress(f.read_bytes()))["Records"])
    return n / (time.perf_counter() - started)


def _fresh_process(*args: str) -> dict[str, Any]:
    """This script run again with `args` (one measurement in a fresh process); its last output line, as JSON."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], check=True, capture_output=True,
                          text=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _rule_args(rule_paths: list[Path]) -> list[str]:
    return [arg for p in rule_paths for arg in ("--rule-path", str(p))]


def end_to_end(corpus: Path, work: Path, workers: int, rule_paths: list[Path],
               window_by_severity: str = "") -> tuple[float, dict[str, object]]:
    """One measured run in a fresh process: runs in one process affected each other (a 2-worker run after a
    1-core run forked a parent holding the first run's heap, and measured 30% slower than on its own)."""
    extra = ["--window-by-severity", window_by_severity] if window_by_severity else []
    got = _fresh_process("--one-run", str(corpus), str(work), str(workers), *_rule_args(rule_paths), *extra)
    return float(got["rate"]), dict(got["summary"])


def group_window(by_severity: str) -> GroupWindow:
    """The default window, with `alerts.group_window_by_severity` given as "low=1440,..." (as in the environment)."""
    settings = AlertsSettings()
    settings.group_window_by_severity = by_severity  # type: ignore[assignment]  # the environment's text form
    return settings.group_window()


def _one_run(corpus: Path, work: Path, workers: int, rule_paths: list[Path],
             window_by_severity: str = "") -> tuple[float, dict[str, object]]:
    detect = DetectionStage(rule_paths, builtin=True)
    gc.set_threshold(50_000, 20, 20)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    state = open_store(f"sqlite:///{work / 'state.db'}")
    lake = Lake(work / "lake")
    options = IngestOptions(workers=workers, rule_paths=rule_paths, group_window=group_window(window_by_severity))
    gc.collect()
    runner = Ingest(LocalSource(corpus), lake, state, options, detect=detect)
    cpu0 = _cpu()
    load0 = os.getloadavg()[0]
    started = time.perf_counter()
    summary = runner.run()
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu0
    counted = lake.count()
    state.dispose()
    d = summary.to_dict()
    d["lake_rows"] = counted
    # what the run grouped with (read back from the options it ran with): the flag reached this process
    d["windows_by_severity"] = ",".join(f"{k}={int(v.total_seconds() // 60)}"
                                        for k, v in sorted(options.group_window.by_severity.items()))
    d["cpu_seconds"] = round(cpu, 2)
    d["events_per_cpu_second"] = round(summary.events / cpu) if cpu else 0
    d["load"] = f"{load0:.1f}->{os.getloadavg()[0]:.1f}"
    return summary.events / seconds, d


LADDER = ("parse", "normalise", "rules", "lake")
LADDER_LABELS = {
    "parse": "read + parse (gunzip, records, raw text)",
    "normalise": "+ normalise",
    "rules": "+ every rule, alerts folded per file",
    "lake": "+ Parquet lake write",
}


def _ladder_run(corpus: Path, work: Path, rung: str, rule_paths: list[Path]) -> float:
    """Events per second through the pipeline up to `rung` on one core (see the module text, step 4)."""
    detect = DetectionStage(rule_paths, builtin=True) if rung in ("rules", "lake") else None
    gc.set_threshold(50_000, 20, 20)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    options = IngestOptions(rule_paths=rule_paths)
    items = LocalSource(corpus).list()
    lake = Lake(work / "lake")
    gc.collect()
    events = 0
    started = time.perf_counter()
    for item in items:
        alerts: list[Alert] = []
        if rung == "lake":
            result = process_item(item, lake, detect, options, in_process=True)
            events += result.events
            alerts = result.alerts
            if detect is not None and alerts:
                merge_alerts(alerts, explain=detect.detector.explain_alert)
            continue
        data, _end = read_item(item, options.max_bytes)
        for rec in iter_records(data, csv_format=item.csv):
            if rec.__class__ is Problem:
                continue
            events += 1
            if rung == "parse":
                continue
            _location, event, _raw = rec  # type: ignore[misc]
            try:
                values = normalize_values(event)
            except RecordError:
                continue
            if detect is not None:
                alerts.extend(detect.detector.process(event, values[1]))
        if detect is not None and alerts:
            merge_alerts(alerts, explain=detect.detector.explain_alert)
    return events / (time.perf_counter() - started)


def ladder(corpus: Path, work: Path, rule_paths: list[Path], end_to_end_rate: float) -> None:
    rates = []
    for rung in LADDER:
        rates.append(float(_fresh_process("--ladder-run", str(corpus), str(work), rung, *_rule_args(rule_paths))["rate"]))
    rates.append(end_to_end_rate)
    print("where one core's time goes (each prefix of the pipeline in a fresh process; us per event):")
    previous = 0.0
    for label, rate in zip([*(LADDER_LABELS[r] for r in LADDER), "+ alert store and checkpoints (end to end)"],
                           rates, strict=True):
        per = 1e6 / rate
        print(f"  {label:42} {rate:>10,.0f} events/s  {per:6.1f} us/event  (stage {per - previous:+6.1f})")
        previous = per


FLOOR_TABLES = ("alerts", "alert_evidence")
FLOOR_CHUNK = 10_000  # alerts per transaction (the ingest commits a batch per 20,000 alerting events)


def floor_parse_raw_lake(corpus: Path, out: Path) -> float:
    """Seconds for (a): our read + parse, then each file's raw column alone written as the lake writes it."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    gc.collect()
    started = time.perf_counter()
    for n, item in enumerate(LocalSource(corpus).list()):
        data, _end = read_item(item, 1 << 31)
        raws = [rec[2] for rec in iter_records(data, csv_format=item.csv) if rec.__class__ is not Problem]  # type: ignore[index]
        table = pa.table({"raw": pa.array(raws, type=pa.binary()).cast(pa.string())})
        pq.write_table(table, out / f"{n}.parquet", compression=COMPRESSION, compression_level=COMPRESSION_LEVEL,
                       use_dictionary=False)
    return time.perf_counter() - started


def floor_alert_rows(state_db: Path, out: Path, indexes: bool = True) -> tuple[float, int, int]:
    """(b): (seconds, alerts, evidence-id rows) to insert the rows a run stored into an empty copy of its schema
    with the state store's pragmas, by sqlite3's executemany, FLOOR_CHUNK alerts (and their evidence ids) per
    transaction. The rows are read first, so only the inserts and their index updates are timed. `indexes`
    False: without the secondary indexes the dashboard and the CLI filter on (the unique evidence-id
    constraint that makes ingest idempotent stays): a lower bound no usable store reaches."""
    import sqlite3

    src = sqlite3.connect(state_db)
    names = ",".join("?" * len(FLOOR_TABLES))
    ddl = [row[0] for row in src.execute(
        f"SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name IN ({names}) "
        "ORDER BY type = 'index'", FLOOR_TABLES) if indexes or not row[0].upper().startswith("CREATE INDEX")]
    alert_cols = [r[1] for r in src.execute("PRAGMA table_info(alerts)")]
    ev_cols = [r[1] for r in src.execute("PRAGMA table_info(alert_evidence)")]
    alerts = src.execute(f"SELECT {','.join(alert_cols)} FROM alerts ORDER BY id").fetchall()
    evidence = src.execute(f"SELECT {','.join(ev_cols)} FROM alert_evidence ORDER BY alert_id, id").fetchall()
    src.close()
    db = out / "floor.db"
    out.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    con = sqlite3.connect(db)
    for pragma in (f"page_size={SQLITE_PAGE_SIZE}", "journal_mode=WAL", "synchronous=NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    for statement in ddl:
        con.execute(statement)
    con.commit()
    insert_alert = f"INSERT INTO alerts ({','.join(alert_cols)}) VALUES ({','.join('?' * len(alert_cols))})"
    insert_ev = f"INSERT INTO alert_evidence ({','.join(ev_cols)}) VALUES ({','.join('?' * len(ev_cols))})"
    alert_id = alert_cols.index("id")
    ev_alert = ev_cols.index("alert_id")
    gc.collect()
    started = time.perf_counter()
    e = 0
    for i in range(0, len(alerts), FLOOR_CHUNK):
        chunk = alerts[i:i + FLOOR_CHUNK]
        last = chunk[-1][alert_id]
        j = e
        while j < len(evidence) and evidence[j][ev_alert] <= last:
            j += 1
        con.executemany(insert_alert, chunk)
        con.executemany(insert_ev, evidence[e:j])
        con.commit()
        e = j
    seconds = time.perf_counter() - started
    con.close()
    return seconds, len(alerts), len(evidence)


def _floor_run(corpus: Path, work: Path, state_db: Path) -> dict[str, float]:
    raw_lake = statistics.median(floor_parse_raw_lake(corpus, work / "floor-lake") for _ in range(3))
    store, n_alerts, n_ids = floor_alert_rows(state_db, work / "floor-db")
    bare_store, _n, _m = floor_alert_rows(state_db, work / "floor-db", indexes=False)
    shutil.rmtree(work / "floor-lake", ignore_errors=True)
    shutil.rmtree(work / "floor-db", ignore_errors=True)
    return {"raw_lake_seconds": raw_lake, "store_seconds": store, "store_seconds_no_index": bare_store,
            "alerts": n_alerts, "evidence_ids": n_ids}


def floor(corpus: Path, tmp: Path, state_db: Path, events: int, bare: float, one: float) -> None:
    got = _fresh_process("--floor-run", str(corpus), str(tmp), str(state_db))
    a, b = got["raw_lake_seconds"] / events * 1e6, got["store_seconds"] / events * 1e6
    b0 = got["store_seconds_no_index"] / events * 1e6
    best, best0 = 1e6 / (a + b), 1e6 / (a + b0)
    print("the floor (what any version of this pipeline on this stack pays, each part in a fresh process):")
    print(f"  (a) read + parse + raw-event lake column only   {a:6.1f} us/event  ({1e6 / a:,.0f} events/s; "
          f"bare parse is {1e6 / bare:.1f} us/event)")
    print(f"  (b) raw sqlite3 inserts of the stored alerts     {b:6.1f} us/event  ({int(got['alerts']):,} alerts, "
          f"{int(got['evidence_ids']):,} evidence-id rows, the product's schema and indexes)")
    print(f"  best possible with zero time for normalising, rules and the other lake columns: {best:,.0f} events/s, "
          f"ratio {best / bare:.2f} of bare parse")
    print(f"  (b') the same inserts without secondary indexes {b0:6.1f} us/event  (only the unique evidence-id "
          "constraint: no store a dashboard can filter)")
    print(f"  best possible even then: {best0:,.0f} events/s, ratio {best0 / bare:.2f} of bare parse")
    print(f"  end to end spends {1e6 / one - a - b:.1f} us/event above the floor")


def scenario(label: str, corpus: Path, tmp: Path, args: argparse.Namespace, rule_paths: list[Path]) -> None:
    files = sorted(corpus.rglob("*.json.gz"))
    print(f"\n== {label}: {len(files)} files")
    for f in files:  # the end-to-end runs read the files from the page cache: so does the baseline
        f.read_bytes()
    # in a fresh process, as every other measurement: this one holds the rules, whose objects the garbage
    # collector would walk again and again while orjson allocates (that made the baseline up to a third slower)
    bare = _fresh_process("--bare-run", str(corpus), str(max(3, args.repeat)))["rate"]  # cheap: a median of 3 at least
    print(f"baseline  bare gunzip+orjson.loads : {bare:>10,.0f} events/s")
    one_runs = [end_to_end(corpus, tmp / "run1", 1, rule_paths, args.window_by_severity) for _ in range(args.repeat)]
    one = statistics.median(r for r, _ in one_runs)
    d1 = one_runs[-1][1]
    print(
        f"end-to-end 1 core                    : {one:>10,.0f} events/s  "
        f"(events {d1['events']}, lake rows {d1['lake_rows']}, alerts {d1['alerts_by_severity']}, "
        f"stored {d1['alerts_stored']}, set aside {d1['records_set_aside']}; "
        f"seconds in AlertStore.add {d1['alert_store_seconds']} of {d1['seconds']}; "
        f"{d1['events_per_cpu_second']:,} events per CPU-second; load {d1['load']})"
    )
    many_runs = [end_to_end(corpus, tmp / "runN", args.workers, rule_paths, args.window_by_severity)
                 for _ in range(args.repeat)]
    many = statistics.median(r for r, _ in many_runs)
    dn = many_runs[-1][1]
    print(
        f"end-to-end {args.workers} workers                 : {many:>10,.0f} events/s  "
        f"(events {dn['events']}, lake rows {dn['lake_rows']}, stored {dn['alerts_stored']}, "
        f"seconds in AlertStore.add {dn['alert_store_seconds']} of {dn['seconds']}; "
        f"{dn['events_per_cpu_second']:,} events per CPU-second; load {dn['load']})"
    )
    if d1.get("windows_by_severity") or dn.get("windows_by_severity"):
        print(f"grouped by severity (minutes)        : 1 core {d1.get('windows_by_severity')}, "
              f"{args.workers} workers {dn.get('windows_by_severity')}")
    print(f"ratio 1 core / bare parse            : {one / bare:>10.2f}   (target >= 0.50)")
    print(f"scaling {args.workers} workers / 1 core            : {many / one:>10.2f}   (ideal {args.workers:.2f})")
    cpu_ratio = dn["events_per_cpu_second"] / d1["events_per_cpu_second"] if d1["events_per_cpu_second"] else 0.0
    print(
        f"CPU cost per event, 1 core / {args.workers} workers     : {cpu_ratio:>10.2f}   "
        "(1.00 = no parallel overhead: on an idle machine the workers then add their cores' worth)"
    )
    print(f"target 60,000 events/s on one core   : {'met' if one >= 60_000 else 'NOT met'}")
    if args.floor:
        floor(corpus, tmp, tmp / "run1" / "state.db", int(d1["events"]), bare, one)
    if args.ladder:
        ladder(corpus, tmp / "ladder", rule_paths, one)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement (median printed)")
    ap.add_argument("--keep", type=Path, help="build/reuse the corpora in this folder")
    ap.add_argument("--sigma", type=Path, action="append", default=[], metavar="DIR",
                    help="more SigmaHQ rules: the cloudtrail folders under DIR, or DIR itself (repeatable)")
    ap.add_argument("--quiet-weight", type=int, default=100,
                    help="second scenario: benign records per attack record (0 to skip it)")
    ap.add_argument("--no-ladder", dest="ladder", action="store_false",
                    help="skip the per-stage breakdown (four more one-core passes per corpus)")
    ap.add_argument("--window-by-severity", default="", metavar="SEV=MINUTES,...",
                    help="alerts.group_window_by_severity for the end-to-end runs, e.g. low=1440 (default: none, "
                         "every alert groups within the hour)")
    ap.add_argument("--no-floor", dest="floor", action="store_false",
                    help="skip the floor (three raw-lake passes and one bulk re-insert of the stored alerts)")
    ap.add_argument("--bare-run", nargs=2, metavar=("CORPUS", "REPEAT"), help=argparse.SUPPRESS)
    ap.add_argument("--floor-run", nargs=3, metavar=("CORPUS", "WORK", "STATE_DB"), help=argparse.SUPPRESS)
    ap.add_argument("--ladder-run", nargs=3, metavar=("CORPUS", "WORK", "RUNG"), help=argparse.SUPPRESS)
    ap.add_argument("--one-run", nargs=3, metavar=("CORPUS", "WORK", "WORKERS"), help=argparse.SUPPRESS)
    ap.add_argument("--rule-path", type=Path, action="append", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_run:
        files = sorted(Path(args.bare_run[0]).rglob("*.json.gz"))
        print(json.dumps({"rate": statistics.median(bare_parse(files) for _ in range(int(args.bare_run[1])))}))
        return
    if args.floor_run:
        corpus_s, work_s, db_s = args.floor_run
        print(json.dumps(_floor_run(Path(corpus_s), Path(work_s), Path(db_s))))
        return
    if args.ladder_run:
        corpus_s, work_s, rung = args.ladder_run
        print(json.dumps({"rate": _ladder_run(Path(corpus_s), Path(work_s), rung, args.rule_path)}))
        return
    if args.one_run:
        corpus_s, work_s, workers_s = args.one_run
        rate, summary = _one_run(Path(corpus_s), Path(work_s), int(workers_s), args.rule_path, args.window_by_severity)
        print(json.dumps({"rate": rate, "summary": summary}))
        return

    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-ct-"))
    keep = args.keep or tmp
    try:
        rule_paths = sigma_cloudtrail_rules(args.sigma)
        detect = DetectionStage(rule_paths, builtin=True)
        print(
            f"rules: {len(detect.ruleset.rules)} loaded ({len(rule_paths)} SigmaHQ folders), "
            f"{len(detect.ruleset.unsupported)} unsupported; cores: {os.cpu_count()}"
        )
        if args.window_by_severity:
            print(f"grouping windows by severity (minutes): {args.window_by_severity}; other alerts: 60")
        scenarios: list[tuple[str, int | None]] = [("issue corpus", None)]
        if args.quiet_weight:
            scenarios.append((f"quiet corpus (benign x{args.quiet_weight})", args.quiet_weight))
        for label, weight in scenarios:
            labeled = (SHARED_DATA / "cloudtrail").is_dir()  # kept apart from the corpus of our own pool
            corpus = keep / (("corpus-labeled" if labeled else "corpus") if weight is None else f"corpus-w{weight}")
            if not (corpus / "AWSLogs").is_dir():
                info = build_corpus(corpus, args.events, weight)
            else:
                info = {"note": f"reused {corpus}"}
            print(f"\ncorpus: {json.dumps(info)}")
            scenario(label, corpus, tmp, args, rule_paths)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
