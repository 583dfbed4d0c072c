"""The CloudTrail ingest pipeline: source -> read -> parse -> normalise -> detect -> lake -> alerts -> checkpoint.

Order per file/object (the unit of work), chosen so that SIGKILL at any moment loses nothing and
duplicates nothing:

1. read, parse, normalise, run the rules (nothing durable yet);
2. write the file's events to the lake under a name derived from (source, key, start offset), by
   temp-file + rename: a re-run replaces the same file, and the lake views dedupe by event_id anyway;
3. store the file's alerts (`AlertStore.add` is idempotent on evidence event ids);
4. record the file as processed in the checkpoint (and, for SQS, delete the message after that).

A crash before 4 makes the restart redo the file: 2 and 3 are idempotent, so the result is the same.

Multi-core: with `workers > 1` a process pool runs steps 1-2 per file including the single-event rules;
the parent receives those alerts plus only the events that feed a correlation rule (a small fraction),
runs them through the one stateful `Detector` (so correlation windows see every such event, whatever
worker read it) and does 3-4. With one worker everything runs in-process.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import queue
import signal
import threading
import time as _time
from collections import Counter, deque
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy.orm import Session

from cloudwarden.aws import ip_ranges
from cloudwarden.cloudtrail.checkpoint import Checkpoint, Mark
from cloudwarden.cloudtrail.ecs import REBUILT_MARK
from cloudwarden.cloudtrail.normalize import VALUE_COLUMNS, RecordError, normalize_values
from cloudwarden.cloudtrail.parse import Problem, iter_records
from cloudwarden.cloudtrail.sources import (
    DEFAULT_MAX_BYTES,
    LocalSource,
    S3Source,
    SqsNotifications,
    WorkItem,
    read_item,
)
from cloudwarden.detect.correlation_store import CorrelationStore
from cloudwarden.detect.grouping import GroupWindow, WindowSpec, as_group_window
from cloudwarden.errors import AwsError, CloudwardenError, SourceUnavailable
from cloudwarden.models.alert import Alert, evidence_event
from cloudwarden.stopping import TwoStepStop, stop_on_signals
from cloudwarden.store.lake import API_COLUMNS, API_SCHEMA, API_TABLE, Lake
from cloudwarden.store.state import StateStore, json_bytes

MAX_PROBLEMS_KEPT = 200  # in the summary; every one is counted, the first ones per file recorded in the checkpoint
MAX_ITEM_PROBLEMS = 1000  # described per file (a hostile file of a million bad lines stays small in memory)
NOISY_SHARE = 0.05  # a rule firing on this share of all events is reported as noisy in the summary
NOISY_LEAST = 100  # ... and at least this many times (a small ingest says nothing about a rule)
MERGE_EVIDENCE = 20  # the alert store's default evidence limit: a folded alert must not keep fewer


# ---------------------------------------------------------------------------------------------- results
@dataclass
class ItemResult:
    key: str
    etag: str
    events: int = 0
    filtered: int = 0  # outside --since/--until
    rebuilt: int = 0  # records rebuilt from another shape (Elastic ECS fields), not CloudTrail's own text
    problems: list[tuple[str, str]] = field(default_factory=list)  # (location, reason), the first MAX_ITEM_PROBLEMS
    more_problems: int = 0  # set aside beyond those listed (counted, not described)
    retry: str = ""  # could not be read now (why): not checkpointed, so it is read again next time
    file_error: str = ""  # the whole file was set aside
    end_offset: int = 0
    alerts: list[Alert] = field(default_factory=list)  # worker mode: single-event alerts only
    matched: list[tuple[bytes, float]] = field(default_factory=list)  # worker mode: events feeding a correlation
    seconds: float = 0.0


@dataclass
class IngestSummary:
    source: str
    files_listed: int = 0
    files_processed: int = 0
    files_already_done: int = 0
    files_set_aside: int = 0
    files_retry: int = 0  # could not be read now; not checkpointed
    events: int = 0
    filtered: int = 0
    records_rebuilt: int = 0  # from Elastic ECS fields (cloudtrail/ecs.py): fields the source did not keep are absent
    aws_ranges: str = ""  # createDate of the AWS IP ranges the rules used ("" when none were loaded)
    records_set_aside: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (key, location, reason), bounded
    alerts_by_severity: Counter[str] = field(default_factory=Counter)
    firings_by_rule: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule id, title) -> firings
    alert_ids: set[int] = field(default_factory=set)
    seconds: float = 0.0
    rules: int = 0
    rules_unsupported: int = 0
    store_seconds: float = 0.0  # in AlertStore.add
    checkpoint_seconds: float = 0.0

    def add_problem(self, key: str, location: str, reason: str) -> None:
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append((key, location, reason))

    def noisy_rules(self, share: float = NOISY_SHARE, least: int = NOISY_LEAST, top: int = 5) -> list[dict[str, Any]]:
        """The rules that fired on at least `share` of the events (and `least` times), noisiest first: the ones
        to tune, scope or suppress. A rule firing on a large part of all activity describes the estate more
        than an attack (SigmaHQ's "AWS STS AssumeRole Misuse" fires on every assumed-role event)."""
        if not self.events:
            return []
        out = [{"rule_id": rid, "title": title, "firings": n, "share_of_events": round(n / self.events, 4)}
               for (rid, title), n in self.firings_by_rule.most_common()
               if n >= least and n / self.events >= share]
        return out[:top]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "files_listed": self.files_listed,
            "files_processed": self.files_processed,
            "files_already_done": self.files_already_done,
            "files_set_aside": self.files_set_aside,
            "files_retry": self.files_retry,
            "events": self.events,
            "filtered": self.filtered,
            "records_set_aside": self.records_set_aside,
            "records_rebuilt": self.records_rebuilt,
            "aws_ranges": self.aws_ranges,
            "problems": [{"key": k, "location": loc, "reason": r} for k, loc, r in self.problems],
            "alerts_by_severity": dict(self.alerts_by_severity),
            "alerts_stored": len(self.alert_ids),
            "noisy_rules": self.noisy_rules(),
            "seconds": round(self.seconds, 3),
            "alert_store_seconds": round(self.store_seconds, 3),
            "checkpoint_seconds": round(self.checkpoint_seconds, 3),
            "rules": self.rules,
            "rules_unsupported": self.rules_unsupported,
        }


@dataclass
class IngestOptions:
    since: date | None = None
    until: date | None = None
    workers: int = 1
    rule_paths: Sequence[Path | str] = ()
    builtin_rules: bool = True
    disabled_rules: frozenset[str] = frozenset()  # rule ids switched off in the dashboard (detect/toggles.py)
    max_bytes: int = DEFAULT_MAX_BYTES
    follow: bool = False
    poll_seconds: float = 30.0
    sqs_url: str = ""
    endpoint_url: str = ""
    region_name: str = ""
    max_passes: int = 0  # follow mode: stop after this many polls (0 = until interrupted); for tests
    batch_files: int = 128  # commit alerts + checkpoint after this many files ...
    batch_alerts: int = 20_000  # ... or this many alerting events (bounds memory) ...
    batch_seconds: float = 5.0  # ... or this long (bounds alert latency), whichever comes first
    group_window: GroupWindow = field(default_factory=GroupWindow)  # `alerts.group_window()`; workers fold with it
    aws_ranges_path: str = ""  # AWS's ip-ranges.json (cached by `trail update-ranges`): rules tell AWS addresses apart


# ---------------------------------------------------------------------------------------------- detection
class DetectionStage:
    """The rules, loaded once per process. Wraps cloudwarden.detect (owned by the detection engine)."""

    def __init__(self, rule_paths: Sequence[Path | str], builtin: bool, disabled: Iterable[str] = ()) -> None:
        from cloudwarden.detect.engine import Detector, load_rules

        self.ruleset = load_rules(list(rule_paths), include_builtin="cloudtrail" if builtin else False).without(disabled)
        # explanations are written after folding (merge_alerts), once per stored alert rather than per event
        self.detector = Detector(self.ruleset, source="cloudtrail", explain=False)

        self.correlation_ids = {info.id for info, _spec in self.ruleset.correlations}

    def process(self, event: Mapping[str, Any], when: datetime) -> list[Alert]:
        """Everything (single-event rules and correlations): the in-process path."""
        return self.detector.process(event, when)

    def process_split(self, event: Mapping[str, Any], when: datetime) -> tuple[list[Alert], bool]:
        """The worker path: (single-event alerts, whether the event feeds a correlation).

        Correlations need one state for all events, so events that feed one go to the parent's Detector,
        which keeps only the correlation alerts; the worker keeps only the single-event alerts. Each
        alert is thus produced exactly once, whatever worker read the event.
        """
        return self.detector.process_single(event, when)  # one evaluation of the rules, windows untouched

    def correlate(self, event: Mapping[str, Any], when: datetime) -> list[Alert]:
        """The parent path for events that feed a correlation: only the correlation alerts."""
        return [a for a in self.detector.process(event, when) if a.rule_id in self.correlation_ids]


# ---------------------------------------------------------------------------------------------- one item
def lake_name(item: WorkItem, head: bytes = b"") -> str:
    """The lake file name of an item's events: the same on a re-run of the same content (so the re-run
    replaces it), different for another file, version (etag), offset or content (`head`: the content, whose first line
    tells a truncated-and-rewritten log from the one read before, even when it grew since)."""
    digest = hashlib.blake2b(digest_size=12)
    for part in (item.source, item.key, item.etag, str(item.start)):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    end = head.find(b"\n", 0, 65536)
    digest.update(head[: end if end >= 0 else 65536])  # the first line: a JSON Lines file's first event
    return "ct-" + digest.hexdigest()


_VALUE_INDEX = {name: i for i, name in enumerate(VALUE_COLUMNS)}


def _column(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        # hostile or odd input (a number where CloudTrail writes text): coerce, never fail the file
        if pa.types.is_string(typ):
            return pa.array([v if v is None or v.__class__ is str else str(v) for v in values], type=typ)
        if pa.types.is_list(typ):
            return pa.array([[str(x) for x in v] if isinstance(v, list) else [] for v in values], type=typ)
        return pa.array([None] * len(values), type=typ)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MICROS: dict[datetime, int] = {}  # CloudTrail writes whole seconds: many events share one time
_MICROS_MAX = 100_000


def _time_column(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    """Timestamps through a cache of epoch microseconds: Arrow converts aware datetimes one by one, slowly."""
    cache = _MICROS
    if len(cache) > _MICROS_MAX:
        cache.clear()
    out: list[int] = []
    append = out.append
    try:
        for t in values:
            m = cache.get(t)
            if m is None:
                m = cache[t] = (t - _EPOCH) // _MICROSECOND
            append(m)
    except (TypeError, ValueError, OverflowError):
        return _column(values, typ)  # not aware datetimes: Arrow's own conversion (and its fallbacks)
    return pa.array(out, type=pa.int64()).view(typ)


def _table(rows: list[tuple[Any, ...]], raws: list[bytes], day: date) -> pa.Table:
    """Arrow columns straight from the normalised value tuples (one transpose, no per-row objects)."""
    columns = list(zip(*rows, strict=True))
    arrays: list[pa.Array] = []
    for name in API_COLUMNS:
        typ = API_SCHEMA.field(name).type
        if name == "raw":
            arrays.append(_raw_column(raws))
            continue
        index = _VALUE_INDEX.get(name)
        if index is None:  # a column added to the model after this pipeline was written
            arrays.append(pa.nulls(len(rows), type=typ))
            continue
        if name == "time" and pa.types.is_timestamp(typ) and typ.unit == "us":
            arrays.append(_time_column(columns[index], typ))
        else:
            arrays.append(_column(columns[index], typ))
    arrays.append(pa.array([day] * len(rows), type=pa.date32()))
    return pa.Table.from_arrays(arrays, schema=API_SCHEMA)


def _raw_column(raws: list[bytes]) -> pa.Array:
    binary = pa.array(raws, type=pa.binary())
    try:
        return binary.cast(pa.string())  # validates UTF-8 in C; parse already set non-UTF-8 records aside
    except pa.ArrowInvalid:
        return pa.array([r.decode("utf-8", "replace") for r in raws], type=pa.string())


def process_item(
    item: WorkItem,
    lake: Lake,
    detect: DetectionStage | None,
    options: IngestOptions,
    *,
    in_process: bool,
) -> ItemResult:
    """Steps 1-2 for one file: everything up to (and including) its lake write."""
    started = _time.perf_counter()
    result = ItemResult(item.key, item.etag, end_offset=item.size)
    try:
        data, end = read_item(item, options.max_bytes)
    except SourceUnavailable as exc:
        result.retry = str(exc)  # not checkpointed: the next run (or poll) tries again
        return result
    except CloudwardenError as exc:
        result.file_error = exc.message
        result.problems.append(("file", exc.message))
        return result
    result.end_offset = end
    since = options.since.isoformat() if options.since else ""
    until = options.until.isoformat() if options.until else ""
    groups: dict[tuple[str, str], tuple[list[tuple[Any, ...]], list[bytes]]] = {}
    problems = result.problems
    matched = result.matched
    alerts = result.alerts
    # the Detector's own method: one Python frame less per event than DetectionStage.process
    process = detect.detector.process if detect is not None and in_process else None
    split = detect.process_split if detect is not None and not in_process else None
    for rec in iter_records(data, csv_format=item.csv):
        if rec.__class__ is Problem:
            problems.append((rec.location, rec.reason))
            continue
        location, event, raw = rec  # type: ignore[misc]
        try:
            values = normalize_values(event)
        except RecordError as exc:
            problems.append((location, f"field {exc.field}: {exc.reason}"))
            continue
        if REBUILT_MARK in event:
            result.rebuilt += 1
        day_text = event["eventTime"][:10]
        if (since and day_text < since) or (until and day_text > until):
            result.filtered += 1
            continue
        try:
            if process is not None:
                found = process(event, values[1])
                if found:
                    alerts.extend(found)
            elif split is not None:
                found, feeds = split(event, values[1])
                if found:
                    alerts.extend(found)
                if feeds:
                    matched.append((raw, values[1].timestamp()))
        except Exception as exc:  # noqa: BLE001 - a rule bug must not stop the ingest; it is reported
            problems.append((location, f"detection failed: {type(exc).__name__}: {exc}"))
        key = (day_text, values[2])
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(values)
        group[1].append(raw)
    if alerts and split is not None and detect is not None:
        # a worker folds and explains its file's alerts itself: in parallel, and fewer, smaller alerts to pickle
        result.alerts = merge_alerts(alerts, options.group_window, explain=detect.detector.explain_alert)
        _serialise_evidence(result.alerts)
    if len(problems) > MAX_ITEM_PROBLEMS:
        result.more_problems = len(problems) - MAX_ITEM_PROBLEMS
        del problems[MAX_ITEM_PROBLEMS:]
    name = lake_name(item, data)
    for (_day_text, account), (rows, raws) in groups.items():
        day = rows[0][1].date()  # eventTime[:10] may not be ISO for odd inputs; the parsed time is
        if any(r[1].date() != day for r in rows):
            by_day: dict[date, list[int]] = {}
            for i, r in enumerate(rows):
                by_day.setdefault(r[1].date(), []).append(i)
            for d, idx in by_day.items():
                lake.write_table(API_TABLE, d, account, _table([rows[i] for i in idx], [raws[i] for i in idx], d), name)
        else:
            lake.write_table(API_TABLE, day, account, _table(rows, raws, day), name)
        result.events += len(rows)
    result.seconds = _time.perf_counter() - started
    return result


def _serialise_evidence(alerts: list[Alert]) -> None:
    """Evidence events as the JSON the alert store will write (`json_bytes`): the parent then unpickles bytes
    instead of whole event dicts, and writes them as they are. Unpickling the workers' evidence and
    serialising it again cost the parent, the one process every alert goes through, more than a second per
    100,000 events on alert-heavy input. An event the fast serialiser refuses stays a dict."""
    for alert in alerts:
        alert.evidence = [(json_bytes(ev) or ev) if isinstance(ev, dict) else ev for ev in alert.evidence]


# ---------------------------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _worker_init(lake_root: str, options: IngestOptions) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    gc.freeze()  # rules and modules inherited from the parent never need scanning
    gc.set_threshold(50_000, 20, 20)
    _WORKER["lake"] = Lake(lake_root)
    _WORKER["options"] = options
    if "detect" not in _WORKER:  # inherited through fork when the parent loaded the rules first
        _WORKER["detect"] = DetectionStage(options.rule_paths, options.builtin_rules, options.disabled_rules)


def _worker_run(item: WorkItem) -> ItemResult:
    return process_item(item, _WORKER["lake"], _WORKER["detect"], _WORKER["options"], in_process=False)


# ---------------------------------------------------------------------------------------------- pipeline
_first_seen = attrgetter("first_seen")


def merge_alerts(alerts: Iterable[Alert], window: WindowSpec | None = None,
                 evidence_limit: int = MERGE_EVIDENCE,
                 explain: Callable[[Alert, Mapping[str, Any]], str] | None = None,
                 correlations: Container[str] | None = None) -> list[Alert]:
    """Fold single-event alerts of one group key into fewer alerts, as the store would group them.

    The store joins an alert to an open row of its key whose last_seen is within `window` of it; folding
    alerts of a key in time order while the gap stays within the window yields the same rows and counts
    as adding them one by one, with far fewer store round trips. Correlation alerts pass through.
    A folded alert carries the first `evidence_limit` events (pass the store's limit: the store keeps that
    many on a new row, and would have kept that many from the one-by-one adds); all event ids stay.
    `explain` fills the explanation of alerts that arrive without one (a Detector with explain=False), from
    the newest event folded in: one explanation per folded alert instead of one per event.
    `correlations`: the correlation rule ids, when the input also holds alerts already folded (a worker folds
    its file's alerts): every other alert is then folded too, as the span of events it is, so the result does
    not depend on how files were spread over workers (chains of gaps within the window are the same whatever
    the pieces). Without it only single-event alerts fold.
    """
    windows = as_group_window(window)
    default, uniform, window_of = windows.default, windows.uniform, windows.for_alert
    out: list[Alert] = []
    by_key: dict[str, list[Alert]] = {}  # foldable alerts by group key, in input order
    for alert in alerts:
        if (alert.count == 1 and len(alert.evidence_ids) == 1) or (
                correlations is not None and alert.rule_id not in correlations and alert.evidence_ids):
            key = alert.key()
            group = by_key.get(key)
            if group is None:
                by_key[key] = [alert]
            else:
                group.append(alert)
        else:
            out.append(alert)
    newest: dict[int, Alert] = {}  # id(folded alert) -> the single alert whose explanation it carries
    # keys in order, each key's alerts by first_seen (a stable sort: ties keep input order), as one sort by
    # (key, first_seen) would give, with a key computed once per alert and no tuple per alert
    for key in sorted(by_key):
        group = by_key[key]
        if len(group) > 1:
            group.sort(key=_first_seen)
        current: Alert | None = None
        ids: set[str] = set()
        for alert in group:
            # each alert joins within its own window (rule, else severity), as the store joins it (a custom
            # group key may hold several rules)
            if current is not None and alert.first_seen - current.last_seen <= (
                    default if uniform else window_of(alert.rule_id, alert.severity)):
                if len(alert.evidence_ids) == 1:
                    eid = alert.evidence_ids[0]
                    if eid in ids:
                        continue
                    ids.add(eid)
                    current.evidence_ids.append(eid)
                    if len(current.evidence) < evidence_limit:
                        current.evidence.extend(alert.evidence)
                else:  # a folded span: its evidence bodies belong to its first event ids, in order
                    fresh = [i for i in dict.fromkeys(alert.evidence_ids) if i not in ids]
                    if not fresh:
                        continue
                    ids.update(fresh)
                    current.evidence_ids.extend(fresh)
                    room = evidence_limit - len(current.evidence)
                    if room > 0:
                        new_ids = set(fresh)  # not a copy of `ids`, which grows with the chain
                        current.evidence.extend([ev for ev, eid in zip(alert.evidence, alert.evidence_ids, strict=False)
                                                 if eid in new_ids][:room])
                current.count = len(current.evidence_ids)
                if alert.last_seen >= current.last_seen:
                    current.last_seen = alert.last_seen
                    current.explanation = alert.explanation
                    newest[id(current)] = alert
                continue
            current = Alert(**{**alert.__dict__, "evidence": list(alert.evidence),
                               "evidence_ids": list(alert.evidence_ids)})
            ids = set(alert.evidence_ids)
            newest[id(current)] = alert
            out.append(current)
    if explain is not None:
        for folded in out:
            if not folded.explanation:
                source = newest.get(id(folded), folded)
                if source.evidence:
                    folded.explanation = explain(source, evidence_event(source.evidence[0]))
    return out


@dataclass
class _CommitJob:
    alerts: list[Alert]
    marks: list[Mark]
    saver: Callable[[Session], None] | None  # the correlation snapshot, written in the checkpoint's transaction
    saved_changes: int | None  # the detector's change count that snapshot holds (None: no snapshot written)
    merged: bool = False  # alerts already folded (`merge_alerts`)


class _Committer:
    """Stores batches (alerts, then checkpoint) in one thread, in submission order, while the main loop keeps
    the worker processes fed. Bounded: one batch waits while one is stored, then `submit` blocks. After a
    failure nothing later is stored (those files are not checkpointed and are read again next run), and the
    error is raised in the main thread at the next submit or at `close`."""

    def __init__(self, store: Callable[[_CommitJob], None]) -> None:
        self._store = store
        self._jobs: queue.Queue[_CommitJob | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="cloudwarden-ingest-commit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if self._error is not None:
                continue
            try:
                self._store(job)
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def submit(self, job: _CommitJob) -> None:
        self._raise()
        self._jobs.put(job)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()
        self._raise()


class Ingest:
    """Runs one source through the pipeline; reusable for follow/SQS loops."""

    def __init__(
        self,
        source: LocalSource | S3Source,
        lake: Lake,
        state: StateStore,
        options: IngestOptions | None = None,
        *,
        detect: DetectionStage | None = None,
        progress: Callable[[IngestSummary], None] | None = None,
    ) -> None:
        from cloudwarden.detect.alert_store import AlertStore

        self.source = source
        self.lake = lake
        self.state = state
        self.options = options or IngestOptions()
        self.detect = detect or DetectionStage(self.options.rule_paths, self.options.builtin_rules, self.options.disabled_rules)
        self.alerts = AlertStore(state, window=self.options.group_window)
        self.checkpoint = Checkpoint(state, source.id)
        self.summary = IngestSummary(source.id)
        self.summary.rules = len(self.detect.ruleset.rules)
        self.summary.rules_unsupported = len(self.detect.ruleset.unsupported)
        for rule_id in sorted(self.options.group_window.by_rule):
            if self.detect.ruleset.get(rule_id) is None:  # a typo would otherwise change nothing, silently
                self.summary.add_problem("settings", "alerts.group_window_by_rule",
                                         f"no loaded rule has id {rule_id!r}: its window applies to nothing")
        # correlation windows survive a restart: restored here, saved with each batch's checkpoint (_flush)
        self.correlations = CorrelationStore(state)
        self._saved_changes = self._saving = -1
        self._future_reported = 0  # the detector's future-stamped events already reported
        self._committer: _Committer | None = None  # worker mode: batches stored in a thread
        self._summary_lock = threading.Lock()
        self._restore_correlations()
        self.progress = progress
        self._stop = threading.Event()
        self._batch: list[tuple[WorkItem, ItemResult]] = []
        self._batch_alerts: list[Alert] = []
        self._batch_firings = 0  # events that fired: the same count whether workers folded their alerts or not
        self._last_flush = _time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    # -- selection -------------------------------------------------------------------------------------
    def pending(self, items: list[WorkItem]) -> list[WorkItem]:
        """Items not yet processed in this version (appendable files: from their saved offset)."""
        done = self.checkpoint.done([i.key for i in items])
        out = []
        for item in items:
            got = done.get(item.key)
            if got is None or got.etag != item.etag:
                out.append(item)
            elif item.appendable and item.size > got.offset:
                out.append(_with_start(item, got.offset))
            elif item.appendable and item.size < got.offset:
                out.append(item)  # truncated in place (copytruncate rotation): read it again from the start
            else:
                self.summary.files_already_done += 1
        return out

    # -- commit ----------------------------------------------------------------------------------------
    def _commit(self, item: WorkItem, result: ItemResult, alerts: list[Alert]) -> None:
        """Queue a processed item; steps 3-4 happen in `_flush`, for a batch of items at once."""
        self._batch.append((item, result))
        self._batch_alerts.extend(alerts)
        self._batch_firings += sum(len(a.evidence_ids) or 1 for a in alerts)
        if (
            len(self._batch) >= self.options.batch_files
            or self._batch_firings >= self.options.batch_alerts
            or _time.monotonic() - self._last_flush >= self.options.batch_seconds
        ):
            self._flush()

    def _flush(self) -> None:
        """Steps 3-4 for the queued items: their alerts, then their checkpoint rows (one transaction each).

        The per-file accounting and the correlation snapshot (the windows after exactly these files) happen
        here; storing happens here too, or, with worker processes, in the committer thread (`_Committer`), so
        the workers are kept fed while a batch of alerts is written."""
        self._last_flush = _time.monotonic()
        if not self._batch:
            return
        batch, alerts = self._batch, self._batch_alerts
        self._batch, self._batch_alerts, self._batch_firings = [], [], 0
        s = self.summary
        correlations = self.detect.correlation_ids
        for a in alerts:  # firings: a worker's folded alert counts each event it folded
            n = 1 if a.rule_id in correlations else len(a.evidence_ids) or 1
            s.alerts_by_severity[a.severity] += n
            s.firings_by_rule[a.rule_id, a.title] += n
        marks = []
        for item, result in batch:
            if result.retry:
                s.files_retry += 1
                s.add_problem(item.key, "file", f"not read, will retry: {result.retry}")
                continue
            for location, reason in result.problems:
                s.add_problem(item.key, location, reason)
            whole_file = sum(1 for loc, _r in result.problems if loc == "file")
            if whole_file:
                s.files_set_aside += 1
            s.records_set_aside += len(result.problems) - whole_file + result.more_problems
            s.events += result.events
            s.filtered += result.filtered
            s.records_rebuilt += result.rebuilt
            s.files_processed += 1
            marks.append(Mark(item.key, item.etag, result.end_offset, result.events, result.problems))
        saver = self._correlation_saver()
        job = _CommitJob(alerts, marks, saver, self._saving if saver is not None and marks else None)
        if self._committer is not None:
            # folded here, on the thread that owns the Detector (whose explanations folding uses), not on the
            # committer's (the speed was the same either way: the store's own work is what the committer waits on)
            job.alerts, job.merged = self._merged(alerts), True
            self._committer.submit(job)
        else:
            self._store(job)
        if self.progress is not None:
            self.progress(s)

    def _merged(self, alerts: list[Alert]) -> list[Alert]:
        return merge_alerts(alerts, self.alerts.window, self.alerts.evidence_limit,
                            self.detect.detector.explain_alert, self.detect.correlation_ids) if alerts else alerts

    def _store(self, job: _CommitJob) -> None:
        """Steps 3 and 4 of one batch, in this order: a crash between them re-stores the alerts (idempotent)."""
        started = _time.perf_counter()
        ids: list[int] = []
        if job.alerts:
            ids = self.alerts.add(job.alerts if job.merged else self._merged(job.alerts))
        stored = _time.perf_counter()
        self.checkpoint.mark_many(job.marks, also=job.saver)
        with self._summary_lock:
            self.summary.alert_ids.update(ids)
            if job.saved_changes is not None:
                self._saved_changes = max(self._saved_changes, job.saved_changes)
            self.summary.store_seconds += stored - started
            self.summary.checkpoint_seconds += _time.perf_counter() - stored

    # -- correlation state (cloudwarden.detect.correlation_store) ------------------------------------------
    close_lag = timedelta(minutes=15)  # CloudTrail delivers events up to ~15 min late: windows close after that

    def _restore_correlations(self) -> None:
        detector = self.detect.detector
        if not detector.ruleset.correlations:
            return
        result = self.correlations.restore_into(detector, self.source.id)
        if result is not None:
            if result.error:
                self.summary.add_problem(self.source.id, "correlation state", result.error)
            for rule_id, why in result.dropped:
                self.summary.add_problem(self.source.id, "correlation state", f"rule {rule_id}: saved windows dropped: {why}")
        self._saved_changes = detector.changes

    def _correlation_saver(self) -> Callable[[Session], None] | None:
        """The windows as they stand after exactly the files being checkpointed: written in that transaction."""
        detector = self.detect.detector
        if not detector.ruleset.correlations or detector.changes == self._saved_changes:
            return None
        data = detector.snapshot()
        self._saving = detector.changes
        source = self.source.id

        def save(session: Session) -> None:
            CorrelationStore.save_in(session, source, data)

        return save

    def _close_windows(self) -> None:
        """Evaluate "fewer than" windows that have closed, store what fired, then save the windows."""
        detector = self.detect.detector
        if not detector.ruleset.correlations:
            return
        alerts = detector.flush(datetime.now(UTC) - self.close_lag)
        future = detector.future_events - self._future_reported
        if future > 0:  # a skewed clock or forged records: said once per pass, with what it meant
            self._future_reported = detector.future_events
            self.summary.add_problem(self.source.id, "event time", (
                f"{future} event(s) feeding correlation rules stamped more than "
                f"{int(detector.tolerance_seconds // 60)} min in the future: "
                "matched, but their correlation windows used the latest plausible time"))
        if alerts:
            for a in alerts:
                self.summary.alerts_by_severity[a.severity] += 1
                self.summary.firings_by_rule[a.rule_id, a.title] += 1
            self.summary.alert_ids.update(self.alerts.add(alerts))
        if detector.changes != self._saved_changes:  # a crash before this line re-closes the same windows: same ids
            changes = detector.changes
            self.correlations.save(self.source.id, detector.snapshot())
            self._saved_changes = changes

    def _detect_matched(self, result: ItemResult) -> list[Alert]:
        """Worker results: their single-event alerts, plus correlations run here on the events that feed one."""
        alerts = list(result.alerts)
        for raw, epoch in result.matched:
            event = orjson.loads(raw)
            alerts.extend(self.detect.correlate(event, datetime.fromtimestamp(epoch, UTC)))
        return alerts

    # -- running ---------------------------------------------------------------------------------------
    def run_items(self, items: list[WorkItem]) -> None:
        try:
            self._run_items(items)
        finally:
            try:
                self._flush()  # what finished is committed even when stopping or failing
            finally:
                committer, self._committer = self._committer, None
                if committer is not None:
                    committer.close()  # every submitted batch stored (or its error raised) before going on
        self._close_windows()

    def _run_items(self, items: list[WorkItem]) -> None:
        todo = self.pending(items)
        if not todo:
            return
        workers = max(1, self.options.workers)
        if workers == 1 or len(todo) == 1:
            for item in todo:
                if self._stop.is_set():
                    return
                result = process_item(item, self.lake, self.detect, self.options, in_process=True)
                self._commit(item, result, result.alerts)
            return
        self._run_pool(todo, workers)

    def _run_pool(self, todo: list[WorkItem], workers: int) -> None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        if "fork" in methods:
            _WORKER["detect"] = self.detect  # inherited by the children: no second rule load
        # Results are taken in submission order (files sorted, so roughly time order), not completion order:
        # the parent's Detector then sees correlation events in the same order as a single worker would.
        pending: deque[tuple[Future[ItemResult], WorkItem]] = deque()
        upcoming = iter(todo)
        limit = workers * 3  # bounded: never more than this many files in flight
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(str(self.lake.root), self.options)
        ) as pool:
            try:
                while True:
                    while len(pending) < limit and not self._stop.is_set():
                        item = next(upcoming, None)
                        if item is None:
                            break
                        pending.append((pool.submit(_worker_run, item), item))
                    if not pending:
                        break
                    if self._committer is None and len(getattr(pool, "_processes", None) or ()) >= workers:
                        # started once the pool has forked all its workers: never fork beside a running thread
                        # (CPython's pool spawns lazily; without that attribute batches are stored inline)
                        self._committer = _Committer(self._store)
                    fut, item = pending.popleft()
                    result = fut.result()
                    self._commit(item, result, self._detect_matched(result))
                    if self._stop.is_set():
                        break
            finally:
                for fut, _item in pending:
                    fut.cancel()
                _WORKER.pop("detect", None)

    def run(self) -> IngestSummary:
        """List the source, ingest what is new; with follow/SQS keep going until stopped."""
        started = _time.perf_counter()
        opts = self.options
        passes = 0
        since = opts.since
        try:
            if opts.sqs_url:
                self._run_sqs()
            else:
                while True:
                    try:
                        items = self.source.list(since, opts.until)
                    except AwsError as exc:
                        if not opts.follow:
                            raise
                        self.summary.add_problem(self.source.id, "listing", f"will retry: {exc}")
                        items = []
                    self.summary.files_listed += len(items)
                    self.run_items(items)
                    passes += 1
                    if not opts.follow or self._stop.is_set() or (opts.max_passes and passes >= opts.max_passes):
                        break
                    if isinstance(self.source, S3Source):
                        # new objects land in today's folder (yesterday's around midnight): list only those
                        recent = date.fromordinal(datetime.now(UTC).date().toordinal() - 1)
                        since = max(since, recent) if since else recent
                    self._stop.wait(opts.poll_seconds)
                    if self._stop.is_set():
                        break
        finally:
            self.summary.seconds = _time.perf_counter() - started
        return self.summary

    def _run_sqs(self) -> None:
        opts = self.options
        if not isinstance(self.source, S3Source):
            raise CloudwardenError("--sqs-url needs an s3:// source", source=opts.sqs_url)
        notifications = SqsNotifications(opts.sqs_url, opts.endpoint_url, opts.region_name)
        passes = 0
        while not self._stop.is_set():
            notes = notifications.receive(wait_seconds=0 if opts.max_passes else 10)
            passes += 1
            for note in notes:
                items = []
                for bucket, key, etag, size in note.objects:
                    if bucket != self.source.bucket or not key.startswith(self.source.prefix):
                        continue  # another trail's object: not ours to ingest
                    if not etag or not size:
                        head = self.source.client.head_object(Bucket=bucket, Key=key)
                        etag, size = head.get("ETag", ""), int(head.get("ContentLength", 0))
                    items.append(self.source.item(key, etag, size))
                self.summary.files_listed += len(items)
                self.run_items(items)
                if self._stop.is_set():
                    return  # the message stays: redelivered, and the checkpoint skips what was done
                notifications.delete(note.receipt_handle)
            if opts.max_passes and passes >= opts.max_passes:
                return


def _with_start(item: WorkItem, start: int) -> WorkItem:
    from dataclasses import replace

    return replace(item, start=start)


def ingest(
    spec: str,
    lake: Lake,
    state: StateStore,
    options: IngestOptions | None = None,
    progress: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    """Ingest a folder, file or s3:// URL once (or continuously with follow / SQS)."""
    from cloudwarden.cloudtrail.sources import open_source

    options = options or IngestOptions()
    source = open_source(spec, options.endpoint_url, options.region_name)
    ranges = ip_ranges.load(Path(options.aws_ranges_path)) if options.aws_ranges_path else None
    runner = Ingest(source, lake, state, options, progress=progress)
    runner.summary.aws_ranges = ranges.created if ranges is not None else ""
    # Ctrl-C or SIGTERM: finish and commit the batch in hand, then return the summary; a second one aborts
    # (KeyboardInterrupt; what was committed is kept and the next run resumes). The ranges are active before
    # the worker pool forks, so workers see them too.
    with stop_on_signals(TwoStepStop(runner.stop)), ip_ranges.activated(ranges):
        return runner.run()

