"""Stored alerts: grouping, idempotency, suppressions, triage (status, assignment, comments).

`AlertStore.add(alerts)`:
  1. drops alerts matched by an active suppression (rule / entity / account / resource, each optional and
     AND-ed, with reason, creator and expiry; the suppression counts its hits);
  2. drops evidence already recorded for the same group key (re-ingesting an event never duplicates);
  3. joins an open alert with the same `Alert.key()` whose last_seen is within the grouping window
     (default 1 h), adding to its count and moving first/last seen; otherwise opens a new alert.
Evidence kept per alert is bounded (the first `evidence_limit` events); every evidence id is kept for
idempotency.

Bulk path: a batch costs a fixed handful of statements, not several per alert. It loads the suppressions,
the already-recorded (key, event id) pairs of the batch (one indexed join against a VALUES list per 2,000
pairs) and the open rows of the batch's keys that can fall within the window (ids from the key and
last_seen indexes intersected, then those rows: a key's old rows are never read); replays steps 1-3 in
memory in input order (so an alert sees the rows and evidence the earlier alerts of its batch made, as the
one-by-one path does); then writes new rows, changed rows (the count as a relative `count + n`; a JSON
column only when the batch changed it), evidence ids and suppression hits, all in one transaction. The
writes go through the driver's executemany with the columns' own bind processors (stored as the ORM
stores them); a loaded row's evidence stays JSON text unless a fold appends to it.
Alert writers take turns (`_writer_lock`: SQLite's write lock from the batch's first read, a PostgreSQL
advisory lock), so a batch reads every committed event and writers never deadlock on each other's rows.
`_add_one_by_one` is the one-alert-at-a-time reference of the same rules; it is the fallback when the bulk
insert still meets another writer's evidence id (unique (key, event_id); a writer that does not take the
lock), and the tests compare both paths.

Retention (`prune`): `alert_evidence` grows by one row per alerting event. That table is what makes a
replayed event a no-op, even after its alert was resolved. `prune(older_than)` deletes the evidence-id
rows of alerts that are old on both clocks: last_seen (event time) and updated_at (when the store last
wrote or triaged them) before the horizon; optionally it deletes whole resolved alerts past it too.
`alerts.evidence_retention_days` (default 90) drives `cloudwarden alerts prune`, the end of
`trail ingest` and the server's daily job. The honest consequence for idempotency:
  - within the horizon nothing changes: an event is recorded once, a replay is a no-op;
  - an event of a pruned alert, re-ingested later, is new again: it adds to its alert's count when that
    alert is still open and within the grouping window of the event, else it opens a new alert (a resolved
    or deleted alert is not reopened). So keep the retention longer than the oldest input you may replay
    (CloudTrail checkpoints remember processed files; a deliberate re-ingest of an old archive counts again).
Requiring updated_at too means a freshly ingested *historical* archive (events older than the horizon) is
not pruned right after its own ingest. Deletes go in bounded batches, each its own short transaction, so
a huge table never holds the write lock for long; a whole alert is never deleted while it holds the
highest id (SQLite would hand that id out again, and other tables refer to alerts by id).
"""

from __future__ import annotations

import builtins
import fnmatch
import json
import re
import time
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any, cast

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    case,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from cloudwarden.detect.grouping import WindowSpec, as_group_window
from cloudwarden.errors import InputError, StoreError
from cloudwarden.models.alert import SEVERITY_ORDER, Alert, Evidence, evidence_event
from cloudwarden.store.state import Base, StateStore
from cloudwarden.store.text_match import LIKE_ESCAPE, contains_pattern

STATUSES = ("new", "acknowledged", "resolved")
PRUNE_BATCH = 5_000  # evidence rows deleted per transaction
PRUNE_ALERTS = 500  # alerts examined per step (keyset over ids)
# `AlertStore.summary` groupings: name -> the alert columns that make a group
SUMMARY_BY: dict[str, tuple[str, ...]] = {
    "rule": ("rule_id",), "entity": ("entity",), "account": ("account",), "severity": ("severity",),
    "source": ("source",), "status": ("status",), "rule-entity": ("rule_id", "entity"),
}
DEFAULT_EVIDENCE_LIMIT = 20
_CHUNK = 4_000  # bound parameters per statement stay well under SQLite's 32,766 and PostgreSQL's 65,535


def _utc(dt: datetime) -> datetime:
    """Naive UTC for storage (SQLite drops time zones)."""
    tz = dt.tzinfo
    if tz is None:
        return dt
    return dt.replace(tzinfo=None) if tz is UTC else dt.astimezone(UTC).replace(tzinfo=None)


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(1024), index=True)
    rule_id: Mapped[str] = mapped_column(String(256), index=True)
    title: Mapped[str] = mapped_column(String(512))
    severity: Mapped[str] = mapped_column(String(32), index=True)
    severity_rank: Mapped[int] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    explanation: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(String(1024), index=True)
    account: Mapped[str] = mapped_column(String(64), index=True, default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    host: Mapped[str] = mapped_column(String(256), default="")
    attack_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    members: Mapped[list[str]] = mapped_column(JSON, default=list)
    anomaly: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    evidence: Mapped[list[Evidence]] = mapped_column(JSON, default=list)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(DateTime, index=True)
    last_seen: Mapped[datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    status_by: Mapped[str] = mapped_column(String(256), default="")
    status_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status_comment: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class AlertEvidenceRow(Base):
    """One event id recorded for a group key: what makes re-ingesting an event a no-op. The key is stored as
    its 64-bit hash (`key_hash`): the unique index over a key of ~100 characters and a random event id made
    this table's insert the dearest write of an alert-heavy ingest, and two keys colliding (2^-64 a pair)
    would only merge their idempotency records."""

    __tablename__ = "alert_evidence"
    __table_args__ = (UniqueConstraint("key_hash", "event_id", name="uq_alert_evidence_key_hash_event"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(256))


def key_hash(key: str) -> int:
    """A group key's 64-bit signed hash (as `alert_evidence.key_hash` stores it; BIGINT on PostgreSQL)."""
    return int.from_bytes(blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big", signed=True)


_MIGRATED: set[str] = set()  # databases (engine URLs) whose alert_evidence this process has checked


def migrate_evidence_table(state: StateStore) -> int:
    """Bring an `alert_evidence` table of the first layout (the key itself, unique (key, event_id)) to the
    hashed layout, in one transaction: the table is renamed aside, created anew, filled in chunks, and the
    old one dropped. Returns the rows moved (0 when there was nothing to do). Once per database per process."""
    url = state.engine.url.render_as_string(hide_password=True)
    if url in _MIGRATED:
        return 0
    moved = 0
    found = inspect(state.engine)
    if found.has_table("alert_evidence") and "key" in {c["name"] for c in found.get_columns("alert_evidence")}:
        table = cast(Table, AlertEvidenceRow.__table__)
        with state.session() as s:
            _writer_lock(s)  # another process may be migrating too: the second finds the work done
            conn = s.connection()
            if "key_hash" not in {c["name"] for c in inspect(conn).get_columns("alert_evidence")}:
                mark = _param_mark(s)
                conn.exec_driver_sql("DROP INDEX IF EXISTS ix_alert_evidence_alert_id")
                conn.exec_driver_sql("ALTER TABLE alert_evidence RENAME TO alert_evidence_v1")
                table.create(conn)
                after = 0
                while True:
                    rows = conn.exec_driver_sql(
                        'SELECT id, alert_id, "key", event_id FROM alert_evidence_v1 '  # noqa: S608 - a marker only
                        f"WHERE id > {mark} ORDER BY id LIMIT 5000", (after,)).all()
                    if not rows:
                        break
                    # new ids, in the old order (a copied id would collide with PostgreSQL's fresh id sequence)
                    conn.execute(insert(table), [{"alert_id": aid, "key_hash": key_hash(k), "event_id": eid}
                                                 for _rid, aid, k, eid in rows])
                    moved += len(rows)
                    after = rows[-1][0]
                conn.exec_driver_sql("DROP TABLE alert_evidence_v1")
    _MIGRATED.add(url)
    return moved


class AlertCommentRow(Base):
    __tablename__ = "alert_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)


class SuppressionRow(Base):
    __tablename__ = "alert_suppressions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(256), default="")
    entity: Mapped[str] = mapped_column(String(1024), default="")  # glob allowed
    account: Mapped[str] = mapped_column(String(64), default="")
    resource: Mapped[str] = mapped_column(String(1024), default="")  # glob allowed
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


@dataclass
class Comment:
    author: str
    text: str
    at: datetime


@dataclass
class StoredAlert:
    id: int
    key: str
    rule_id: str
    title: str
    severity: str
    source: str
    explanation: str
    entity: str
    account: str
    region: str
    host: str
    attack_ids: list[str]
    members: list[str]
    anomaly: dict[str, Any] | None
    evidence: list[dict[str, Any]]
    evidence_ids: list[str]
    count: int
    first_seen: datetime
    last_seen: datetime
    status: str
    status_by: str
    status_at: datetime | None
    status_comment: str
    assignee: str
    comments: list[Comment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("first_seen", "last_seen", "status_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["comments"] = [{"author": c.author, "text": c.text, "at": c.at.isoformat()} for c in self.comments]
        return d


@dataclass
class Suppression:
    id: int
    rule_id: str
    entity: str
    account: str
    resource: str
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    hits: int
    last_hit: datetime | None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def _alert_resources(alert: Alert) -> list[str]:
    """Strings that identify what the alert touched: entity, members, CloudTrail resource ARNs and names."""
    out = [alert.entity, *alert.members]
    for item in alert.evidence:
        ev = evidence_event(item)
        for res in ev.get("resources") or []:
            if isinstance(res, Mapping):
                out.extend(str(res[k]) for k in ("ARN", "arn") if res.get(k))
            elif isinstance(res, str):
                out.append(res)
        params = ev.get("requestParameters")
        if isinstance(params, Mapping):
            out.extend(str(v) for v in params.values() if isinstance(v, str) and len(v) < 512)
    return [r for r in out if r]


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


_Todo = tuple[Alert, str, builtins.list[str], datetime, datetime]  # alert, key, event ids, first/last seen (naive UTC)


@dataclass(eq=False, slots=True)
class _Row:
    """An alert row as the batch being added leaves it (loaded: `id` set; created: `opened_by` is the alert
    that opened it, whose fixed columns the insert takes, and `id` arrives with the insert). A loaded row's evidence stays JSON text until a fold needs
    the list (most joined rows are full or get no new evidence), and only JSON columns a fold changed are
    written back."""

    id: int | None
    count: int
    base_count: int  # the stored count when loaded; the update adds the difference
    first_seen: datetime
    last_seen: datetime
    explanation: str
    evidence_text: str | None  # loaded rows: the stored JSON, until `evidence` is decoded
    evidence: builtins.list[Evidence] | None  # None: not decoded yet
    severity: str
    severity_rank: int
    members: builtins.list[str]
    anomaly: dict[str, Any] | None
    key: str = ""
    opened_by: Alert | None = None
    evidence_n: int = -1  # evidence_count() of a loaded row whose evidence is not decoded
    changed: bool = False
    members_changed: bool = False
    evidence_changed: bool = False
    anomaly_changed: bool = False
    pos: int = -1  # its place in its key's `_KeyRows`

    def evidence_list(self) -> builtins.list[Evidence]:
        if self.evidence is None:
            self.evidence = builtins.list(_json_value(self.evidence_text) or [])
        return self.evidence

    def evidence_count(self) -> int:
        """How many events the row keeps; a full row's evidence is never needed, only its length, which any
        JSON parser reads right (`_json_value`'s care is about the values)."""
        if self.evidence is not None:
            return len(self.evidence)
        if self.evidence_n < 0:
            text = self.evidence_text
            try:
                got = orjson.loads(text) if text is not None else None
            except orjson.JSONDecodeError:
                got = json.loads(cast(str, text))
            self.evidence_n = len(got) if isinstance(got, builtins.list) else 0
        return self.evidence_n


def _row_id(row: _Row) -> int:
    return row.id or 0


class _KeyRows:
    """One key's rows as the batch sees them: loaded (by id), then opened, in that order. Once there are
    many, also an index sorted by (last_seen, place), so finding the newest joinable row does not scan them
    all: a noisy rule's key opens a row per window, thousands in one batch, and a scan per alert was
    quadratic (most of the store's time on a corpus where a rule fires on a third of all events)."""

    __slots__ = ("_by_last", "rows")
    _INDEX_FROM = 16  # fewer rows: a plain scan is cheaper than keeping the index

    def __init__(self) -> None:
        self.rows: builtins.list[_Row] = []
        self._by_last: builtins.list[tuple[datetime, int]] | None = None

    def append(self, row: _Row) -> None:
        row.pos = len(self.rows)
        self.rows.append(row)
        if self._by_last is not None:
            insort(self._by_last, (row.last_seen, row.pos))
        elif row.pos + 1 >= self._INDEX_FROM:
            self._by_last = sorted((r.last_seen, r.pos) for r in self.rows)

    def joinable(self, lo: datetime, hi: datetime) -> _Row | None:
        """The newest row (greatest last_seen) with last_seen >= lo and first_seen <= hi; of equals, the
        earliest in order."""
        best: _Row | None = None
        index = self._by_last
        if index is None:
            for cand in self.rows:
                if cand.last_seen >= lo and cand.first_seen <= hi and (best is None or cand.last_seen > best.last_seen):
                    best = cand
            return best
        rows = self.rows
        best_last: datetime | None = None
        for i in range(len(index) - 1, -1, -1):  # newest first; equal last_seen: later places first
            last, pos = index[i]
            if last < lo or (best_last is not None and last < best_last):
                break
            cand = rows[pos]
            if cand.first_seen <= hi:
                best, best_last = cand, last
        return best

    def moved(self, row: _Row, old_last: datetime) -> None:
        """`row.last_seen` changed from `old_last`: keep the index sorted."""
        index = self._by_last
        if index is not None and row.last_seen != old_last:
            del index[bisect_left(index, (old_last, row.pos))]
            insort(index, (row.last_seen, row.pos))


_LONG_NUMBER = re.compile(r"(?:^|[:,\[])\s*-?[0-9]{19}")  # a JSON number of 19+ digits (or a string like one: slower, still right)


def _json_value(text: str | None) -> Any:
    """A JSON column's stored text as the ORM loads it (the stdlib `json.loads`), faster: orjson, except
    where the two differ. orjson refuses NaN/Infinity (written by `json_text`'s stdlib fallback) and
    reads integers past 64 bits as floats, so text with a number of 19 digits or more goes to the stdlib."""
    if text is None:
        return None
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


@dataclass
class PruneResult:
    """What `AlertStore.prune` deleted (dry run: would delete)."""

    cutoff: datetime
    dry_run: bool
    alerts_examined: int = 0  # alerts past the horizon (evidence rows looked up)
    evidence_deleted: int = 0  # alert_evidence rows
    alerts_deleted: int = 0  # whole resolved alerts (with their evidence and comments)
    batches: int = 0  # delete transactions
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cutoff"] = self.cutoff.isoformat()
        return d


def _iso(value: Any) -> str | None:
    """A stored (naive UTC) time as ISO text; drivers may hand an aggregate back as text already."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _param_mark(s: Session) -> str:
    """The driver's positional parameter marker, for statements sent as the driver's own SQL."""
    style = s.get_bind().dialect.paramstyle
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(style)
    if mark is None:
        raise StoreError(f"unsupported database driver parameter style {style!r}")
    return mark


def _known_evidence(s: Session, wanted: Mapping[str, Iterable[str]]) -> Iterator[tuple[str, str, int]]:
    """Which (key, event id) pairs of `wanted` (event ids by key) are already recorded, and on which alert.
    A join against a VALUES list probes the unique (key, event_id) index per pair; `(key, event_id) IN
    (VALUES ..)` would scan the table. Sent as the driver's own SQL with positional parameters: building
    and compiling thousands of bound parameters through SQLAlchemy costs more than the query itself. The
    parameters are one flat list in (key, event id) order, the index's order: no tuple per pair."""
    params: builtins.list[int | str] = []
    key_of: dict[int, str] = {}
    for h, key in sorted((key_hash(k), k) for k in wanted):
        key_of[h] = key
        for eid in sorted(wanted[key]):
            params += (h, eid)
    if not params:
        return
    mark = _param_mark(s)
    conn = s.connection()
    step = (_CHUNK // 2) * 2
    sql_for: dict[int, str] = {}
    for start in range(0, len(params), step):
        chunk = tuple(params[start:start + step])
        sql = sql_for.get(len(chunk))
        if sql is None:
            rows = ", ".join([f"({mark}, {mark})"] * (len(chunk) // 2))
            sql = sql_for[len(chunk)] = (
                f"WITH batch_ev(k, e) AS (VALUES {rows}) "  # noqa: S608 - only placeholders are formatted in
                "SELECT alert_evidence.key_hash, alert_evidence.event_id, alert_evidence.alert_id "
                "FROM batch_ev JOIN alert_evidence ON alert_evidence.key_hash = batch_ev.k "
                "AND alert_evidence.event_id = batch_ev.e"
            )
        for h, eid, alert_id in conn.exec_driver_sql(sql, chunk):
            yield key_of[int(h)], eid, int(alert_id)


_WRITER_LOCK = 0x636C_7764_616C_7274  # PostgreSQL advisory lock id of the alert writers ("clwdalrt")


def _writer_lock(s: Session) -> None:
    """One alert writer at a time, from the batch's first read to its commit. Without it, two writers
    adding events of the same keys (two ingests, or an ingest and the server) raced: SQLite's driver runs
    reads outside a transaction until the first write, so another writer could record one of the batch's
    events between our read and our insert (a unique-key conflict, a rolled-back batch, a redo one alert
    at a time, and with busy writers an error after the retries); on PostgreSQL, one writer updating a row
    the other had updated while the other waited on this one's evidence insert was a deadlock. SQLite:
    BEGIN IMMEDIATE (the database's write lock; a waiting writer uses busy_timeout); PostgreSQL: a
    transaction-scoped advisory lock. Readers never wait."""
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        raw = s.connection().connection.driver_connection
        if raw is not None and not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        s.connection().exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITER_LOCK})")


class _BulkConflict(IntegrityError):
    """The bulk insert could not be matched to its rows; treated as a concurrent write (one-by-one retry)."""

    def __init__(self, why: str) -> None:
        super().__init__(why, None, Exception(why))


_MISSING = object()
# new alert rows' columns that repeat a few values across a batch (its time, a rule's ids, usually none)
_REPEATED = frozenset({"attack_ids", "members", "anomaly", "status_at", "created_at", "updated_at"})


def _memoised(proc: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """A column's bind processor that converts each repeated small value once per statement: the batch's
    `now`, a rule's ATT&CK ids, no members, no anomaly. Only values whose equality means equal output are
    remembered (exact str/int, naive datetimes, None: equal only to their own kind; lists of a few strings,
    as a tuple); anything else is converted every time."""
    if proc is None:
        return None
    memo: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        cls = value.__class__
        if cls is list:
            if len(value) > 8 or not all(x.__class__ is str for x in value):
                return proc(value)
            mkey: Any = tuple(value)
        elif value is None or cls is str or cls is int or (cls is datetime and value.tzinfo is None):
            mkey = value
        else:
            return proc(value)
        got = memo.get(mkey, _MISSING)
        if got is _MISSING:
            got = memo[mkey] = proc(value)
        return got

    return convert


_KEEP = object()  # an UPDATE value meaning "leave the stored value" (see `_driver_update`)


def _keeping(proc: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if value is _KEEP:
            return None  # unprocessed: SQL NULL, which COALESCE(?, column) turns into the stored value
        return value if proc is None else proc(value)

    return convert


def _driver_params(s: Session, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]],
                   repeated: Collection[str] = (), keep: Collection[str] = ()) -> builtins.list[tuple[Any, ...]]:
    """Rows of values (in `names` order) converted by the columns' own SQLAlchemy bind processors, so stored
    exactly as the ORM stores them; for the driver's executemany. SQLAlchemy's generic per-row parameter
    handling cost more than SQLite's insert itself when a noisy rule opens tens of thousands of alerts.
    Columns named in `repeated` mostly repeat a few values: each is converted once (`_memoised`); columns
    named in `keep` may hold `_KEEP`."""
    dialect = s.get_bind().dialect
    procs: builtins.list[Callable[[Any], Any] | None] = []
    for n in names:
        col_type = table.c[n].type
        proc: Callable[[Any], Any] | None = col_type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None and dialect.name == "sqlite" and isinstance(col_type, DateTime):
            proc = _sqlite_datetime(proc)
        procs.append(_keeping(proc) if n in keep else _memoised(proc) if n in repeated else proc)
    width = len(names)
    converted = [(i, f) for i, f in enumerate(procs) if f is not None]  # most columns have no processor
    out: builtins.list[tuple[Any, ...]] = []
    for r in rows:
        if len(r) != width:
            raise StoreError(f"{table.name}: a row of {len(r)} values for {width} columns")
        if converted:
            values = builtins.list(r)
            for i, f in converted:
                values[i] = f(values[i])
            out.append(tuple(values))
        else:
            out.append(tuple(r))
    return out


def _sqlite_datetime(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy's SQLite DATETIME bind processor for naive datetimes, as `isoformat`: the same text
    ("YYYY-MM-DD HH:MM:SS.ffffff", tested against the original) at a fifth of the cost; every other value goes
    to the original. Two per new alert row."""
    def convert(value: Any) -> Any:
        if value.__class__ is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return proc(value)

    return convert


def _driver_insert(s: Session, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]],
                   repeated: Collection[str] = ()) -> None:
    """`INSERT` of many rows (values in `names` order) through the driver's executemany (see `_driver_params`)."""
    quote = s.get_bind().dialect.identifier_preparer.quote
    mark = _param_mark(s)
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "  # noqa: S608 - our own names
           f"VALUES ({', '.join([mark] * len(names))})")
    s.connection().exec_driver_sql(sql, _driver_params(s, table, names, rows, repeated))


def _driver_update(s: Session, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]],
                   relative: Collection[str] = (), keep: Collection[str] = ()) -> None:
    """`UPDATE .. WHERE id = ?` of many rows through the driver's executemany; each row holds the values of
    `names` then the id. A `relative` column is set to its stored value plus the given one, so a concurrent
    writer's increment is not lost; a `keep` column given `_KEEP` keeps its stored value (never written:
    a row's evidence, rewritten on every join, was most of an update's cost), so those columns must never
    be set to SQL NULL."""
    quote = s.get_bind().dialect.identifier_preparer.quote
    mark = _param_mark(s)
    sets = ", ".join(
        f"{quote(n)} = {quote(n)} + {mark}" if n in relative
        else f"{quote(n)} = COALESCE({mark}, {quote(n)})" if n in keep
        else f"{quote(n)} = {mark}" for n in names)
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote('id')} = {mark}"  # noqa: S608 - our own names
    s.connection().exec_driver_sql(sql, _driver_params(s, table, [*names, "id"], rows, ("updated_at",), keep))


def _insert_ids(s: Session, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> Sequence[int]:
    """Insert rows (values in `names` order, "key" among them); their new ids in input order.

    SQLite does not promise the order of RETURNING rows, so SQLAlchemy would insert one row per statement
    there; instead one executemany, then the ids: without AUTOINCREMENT SQLite gives each row max(id) + 1,
    and from the first insert on this transaction holds the database's write lock, so our rows are the
    last len(rows) ids, in order. Checked (the keys read back must match), never assumed.
    PostgreSQL: INSERT .. RETURNING sorted by parameter order."""
    if s.get_bind().dialect.name != "sqlite":
        return s.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True),
                         [dict(zip(names, r, strict=True)) for r in rows]).scalars().all()
    _driver_insert(s, table, names, rows, _REPEATED)
    back = s.execute(select(table.c.id, table.c.key).order_by(table.c.id.desc()).limit(len(rows))).all()[::-1]
    at = builtins.list(names).index("key")
    if [k for _i, k in back] != [r[at] for r in rows] or back[-1][0] - back[0][0] != len(rows) - 1:
        raise _BulkConflict("inserted alert rows are not the last ids in order")
    return [i for i, _k in back]


class AlertStore:
    def __init__(self, state: StateStore, *, window: WindowSpec | None = None,
                 evidence_limit: int = DEFAULT_EVIDENCE_LIMIT) -> None:
        self.state = state
        self.window = as_group_window(window)  # None: the default (writers pass `alerts.group_window()`)
        self.evidence_limit = evidence_limit
        migrate_evidence_table(state)

    # -- ingest -----------------------------------------------------------------------------------------
    def add(self, alerts: Iterable[Alert], *, now: datetime | None = None) -> list[int]:
        """Store alerts; returns the ids of the alerts created or updated (suppressed ones are left out)."""
        ids = self.add_each(alerts, now=now)
        return builtins.list(dict.fromkeys(i for i in ids if i is not None))  # each once, in order

    def add_each(self, alerts: Iterable[Alert], *, now: datetime | None = None) -> builtins.list[int | None]:
        """Store alerts as `add` does; returns, for each input alert in order, the id of the stored alert it
        was grouped into (a replayed event: the alert that holds it), or None when a suppression dropped it."""
        batch = builtins.list(alerts)
        if not batch:
            return []
        now_n = _utc(now) if now else _now()
        try:
            return self._add_bulk(batch, now_n)
        except IntegrityError:
            pass
        # another writer recorded one of these events between our read and our insert (the transaction was
        # rolled back); the one-by-one path sees its rows, and retries once more for a third writer
        try:
            return self._add_one_by_one(batch, now_n)
        except IntegrityError:
            return self._add_one_by_one(batch, now_n)

    def _add_one_by_one(self, alerts: builtins.list[Alert], now_n: datetime) -> builtins.list[int | None]:
        """The reference path: one alert at a time through the ORM (several statements per alert)."""
        ids: builtins.list[int | None] = []
        with self.state.session() as s:
            _writer_lock(s)
            sups = [self._sup(r) for r in s.scalars(select(SuppressionRow))]
            active = [x for x in sups if x.active(now_n)]
            for alert in alerts:
                sup = self._suppressed_by(alert, active)
                if sup is not None:
                    row = s.get(SuppressionRow, sup.id)
                    if row is not None:
                        row.hits += 1
                        row.last_hit = now_n
                    ids.append(None)
                    continue
                ids.append(self._add_one(s, alert, now_n))
                s.flush()
        return ids

    def _add_bulk(self, alerts: builtins.list[Alert], now_n: datetime) -> builtins.list[int | None]:
        with self.state.session() as s:
            _writer_lock(s)
            active = [x for x in (self._sup(r) for r in s.scalars(select(SuppressionRow))) if x.active(now_n)]
            hits: dict[int, int] = {}
            todo: builtins.list[_Todo] = []
            dropped: builtins.list[bool] = []
            wanted: dict[str, set[str]] = {}  # event ids by key, to look up
            for alert in alerts:
                sup = self._suppressed_by(alert, active) if active else None
                dropped.append(sup is not None)
                if sup is not None:
                    hits[sup.id] = hits.get(sup.id, 0) + 1
                    continue
                if alert.severity not in SEVERITY_ORDER:
                    raise InputError(f"unknown severity {alert.severity!r}", source=f"alert {alert.rule_id}")
                key = alert.key()
                eids = alert.evidence_ids
                if len(eids) == 1:  # the common case (one event per alert, or folded by merge_alerts)
                    ids = [eids[0]] if eids[0] else []
                else:
                    ids = builtins.list(dict.fromkeys(i for i in eids if i))
                todo.append((alert, key, ids, _utc(alert.first_seen), _utc(alert.last_seen)))
                if ids:
                    got = wanted.get(key)
                    if got is None:
                        wanted[key] = set(ids)
                    else:
                        got.update(ids)
            # what is recorded, by key then event id: the stored alert's id, or the batch's row that takes it
            known: dict[str, dict[str, int | _Row]] = {}
            for key, eid, alert_id in _known_evidence(s, wanted):
                known.setdefault(key, {})[eid] = alert_id
            groups = self._open_rows(s, todo)
            out: builtins.list[int | _Row] = []
            created: builtins.list[_Row] = []
            evidence: builtins.list[tuple[_Row, str, builtins.list[str]]] = []
            no_ids: set[str] = set()
            for alert, key, ids, first, last in todo:
                recorded = known.get(key)
                if recorded is None:
                    seen, new_ids = no_ids, ids
                else:
                    seen = {i for i in ids if i in recorded}
                    new_ids = [i for i in ids if i not in seen] if seen else ids
                    if ids and not new_ids:
                        out.append(recorded[ids[0]])
                        continue
                row, opened = self._fold(groups[key], alert, key, ids, new_ids, seen, first, last)
                if opened:
                    groups[key].append(row)
                    created.append(row)
                if new_ids:
                    evidence.append((row, key, new_ids))
                    if recorded is None:
                        recorded = known[key] = {}
                    recorded.update(dict.fromkeys(new_ids, row))
                out.append(row)
            self._write(s, created, groups, evidence, hits, now_n)
        refs = iter(out)
        result: builtins.list[int | None] = []
        for suppressed in dropped:
            ref = None if suppressed else next(refs)
            result.append(ref.id if isinstance(ref, _Row) else ref)
        return result

    def _open_rows(self, s: Session, todo: Sequence[_Todo]) -> defaultdict[str, _KeyRows]:
        """Open rows of the batch's keys that any alert of the batch can join. A row outside
        [earliest first_seen - window, latest last_seen + window] cannot: rows only move when joined.
        JSON columns are read as text (decoded by `_json_value`; evidence only when a fold needs it)."""
        groups: defaultdict[str, _KeyRows] = defaultdict(_KeyRows)
        if not todo:
            return groups
        widest = self.window.widest
        lo = min(t[3] for t in todo) - widest
        hi = max(t[4] for t in todo) + widest
        keys = sorted({t[1] for t in todo})
        for chunk in _chunks(keys, _CHUNK):
            # candidates from two index-only scans: a key's rows accumulate (one per window, for as long as the
            # alerts are kept) and reading a row's window means reading past its evidence, stored before it
            candidates = select(AlertRow.id).where(AlertRow.key.in_(chunk)).intersect(
                select(AlertRow.id).where(AlertRow.last_seen >= lo))
            q = select(AlertRow.id, AlertRow.key, AlertRow.count, AlertRow.first_seen, AlertRow.last_seen,
                       cast_(AlertRow.evidence, Text), AlertRow.severity, AlertRow.severity_rank,
                       cast_(AlertRow.members, Text), cast_(AlertRow.anomaly, Text), AlertRow.explanation).where(
                AlertRow.id.in_(candidates), AlertRow.status != "resolved",
                AlertRow.last_seen >= lo, AlertRow.first_seen <= hi,
            ).order_by(AlertRow.id)
            for rid, key, count, first, last, evidence, severity, rank, members, anomaly, explanation in s.execute(q):
                groups[key].append(_Row(
                    id=rid, count=count, base_count=count, first_seen=first, last_seen=last,
                    explanation=explanation, evidence_text=evidence, evidence=None, severity=severity,
                    severity_rank=rank, members=builtins.list(_json_value(members) or []),
                    anomaly=_json_value(anomaly)))
        return groups

    def _fold(self, rows: _KeyRows, alert: Alert, key: str, ids: Sequence[str], new_ids: Sequence[str],
              seen: set[str], first: datetime, last: datetime) -> tuple[_Row, bool]:
        """Steps 2-3 for one alert (first/last seen in naive UTC) against the batch's view of its key's open
        rows (as `_add_one`); returns the row it joined or opened, and whether it opened one."""
        added = len(new_ids) if ids and len(new_ids) < len(ids) else max(alert.count, 1)
        if not ids:
            new_evidence = alert.evidence
        elif not seen:  # as the filter below: evidence beyond the ids (zip's shorter side) is not kept
            new_evidence = alert.evidence[:len(alert.evidence_ids)]
        else:
            new_evidence = [ev for ev, eid in zip(alert.evidence, alert.evidence_ids, strict=False) if eid not in seen]
        window = self.window.for_alert(alert.rule_id, alert.severity)
        row = rows.joinable(first - window, last + window)  # the newest; ties go to the older row
        if row is None:
            return _Row(
                id=None, count=added, base_count=0, first_seen=first, last_seen=last,
                explanation=alert.explanation, evidence_text=None, evidence=new_evidence[: self.evidence_limit],
                severity=alert.severity, severity_rank=SEVERITY_ORDER[alert.severity],
                members=builtins.list(alert.members), anomaly=alert.anomaly, key=key, opened_by=alert), True
        row.count += added
        if first < row.first_seen:
            row.first_seen = first
        if last >= row.last_seen:
            old_last, row.last_seen = row.last_seen, last
            rows.moved(row, old_last)
            row.explanation = alert.explanation  # the latest reason reads best
        if new_evidence:
            room = self.evidence_limit - row.evidence_count()
            if room > 0:
                row.evidence = [*row.evidence_list(), *new_evidence[:room]]
                row.evidence_changed = True
        if SEVERITY_ORDER[alert.severity] > row.severity_rank:
            row.severity, row.severity_rank = alert.severity, SEVERITY_ORDER[alert.severity]
        if row.members or alert.members:
            members = builtins.list(dict.fromkeys([*row.members, *alert.members]))
            if members != row.members:
                row.members = members
                row.members_changed = True
        if alert.anomaly is not None:
            row.anomaly = alert.anomaly
            row.anomaly_changed = True
        row.changed = True
        return row, False

    @staticmethod
    def _write(s: Session, created: Sequence[_Row], groups: Mapping[str, _KeyRows],
               evidence: Sequence[tuple[_Row, str, Sequence[str]]], hits: Mapping[int, int], now: datetime) -> None:
        alerts_t = cast(Table, AlertRow.__table__)
        if created:
            cols = ("key", "rule_id", "title", "source", "entity", "account", "region", "host", "attack_ids",
                     "severity", "severity_rank", "explanation", "members", "anomaly", "evidence", "count",
                     "first_seen", "last_seen", "status", "status_by", "status_at", "status_comment", "assignee",
                     "created_at", "updated_at")
            rows = [(
                r.key, a.rule_id, a.title, a.source, a.entity, a.account, a.region, a.host, a.attack_ids,
                r.severity, r.severity_rank, r.explanation, r.members, r.anomaly, r.evidence, r.count,
                r.first_seen, r.last_seen, "new", "", None, "", "", now, now,
            ) for r in created if (a := r.opened_by) is not None]
            for r, rid in zip(created, _insert_ids(s, alerts_t, cols, rows), strict=True):
                r.id = rid
        # changed rows in id order (concurrent writers lock rows in one order); JSON columns only where the
        # batch changed them (evidence, members, anomaly: never None then), the count relative to the stored one
        changed = sorted((r for rows_of_key in groups.values() for r in rows_of_key.rows if r.changed and r.opened_by is None),
                         key=_row_id)
        if changed:
            _driver_update(s, alerts_t, (
                "count", "first_seen", "last_seen", "explanation", "severity", "severity_rank", "updated_at",
                "evidence", "members", "anomaly",
            ), [(
                r.count - r.base_count, r.first_seen, r.last_seen, r.explanation, r.severity, r.severity_rank, now,
                r.evidence if r.evidence_changed else _KEEP, r.members if r.members_changed else _KEEP,
                r.anomaly if r.anomaly_changed else _KEEP, r.id,
            ) for r in changed], relative=("count",), keep=("evidence", "members", "anomaly"))
        if evidence:
            # unique (key, event_id): a concurrent writer's copy of an event raises IntegrityError here
            # the driver's own executemany: one row per alerting event, where SQLAlchemy's per-row parameter
            # processing cost more than SQLite's insert (a rule that fires on a third of all events exists)
            mark = _param_mark(s)
            hashes: dict[str, int] = {}
            rows_ev = []
            for r, key, ids in evidence:
                h = hashes.get(key)
                if h is None:
                    h = hashes[key] = key_hash(key)
                rows_ev += [(r.id, h, eid) for eid in ids]
            s.connection().exec_driver_sql(
                f"INSERT INTO alert_evidence (alert_id, key_hash, event_id) VALUES ({mark}, {mark}, {mark})",  # noqa: S608
                rows_ev)
        if hits:
            sup_t = cast(Table, SuppressionRow.__table__)
            s.execute(update(sup_t).where(sup_t.c.id == bindparam("b_id")).values(
                hits=sup_t.c.hits + bindparam("b_n"), last_hit=bindparam("b_now")),
                [{"b_id": sid, "b_n": n, "b_now": now} for sid, n in sorted(hits.items())])

    def _suppressed_by(self, alert: Alert, active: list[Suppression]) -> Suppression | None:
        for sup in active:
            if sup.rule_id and sup.rule_id != alert.rule_id:
                continue
            if sup.entity and not _matches(sup.entity, alert.entity):
                continue
            if sup.account and sup.account != alert.account:
                continue
            if sup.resource and not any(_matches(sup.resource, r) for r in _alert_resources(alert)):
                continue
            return sup
        return None

    def _add_one(self, s: Session, alert: Alert, now: datetime) -> int | None:
        if alert.severity not in SEVERITY_ORDER:
            raise InputError(f"unknown severity {alert.severity!r}", source=f"alert {alert.rule_id}")
        key = alert.key()
        ids = list(dict.fromkeys(i for i in alert.evidence_ids if i))
        known: set[str] = set()
        if ids:
            for chunk_start in range(0, len(ids), 500):
                chunk = ids[chunk_start:chunk_start + 500]
                known.update(s.scalars(select(AlertEvidenceRow.event_id).where(
                    AlertEvidenceRow.key_hash == key_hash(key), AlertEvidenceRow.event_id.in_(chunk))))
            new_ids = [i for i in ids if i not in known]
            if not new_ids:
                existing = s.scalars(select(AlertEvidenceRow.alert_id).where(
                    AlertEvidenceRow.key_hash == key_hash(key), AlertEvidenceRow.event_id == ids[0])).first()
                return existing
        else:
            new_ids = []
        first, last = _utc(alert.first_seen), _utc(alert.last_seen)
        # events of this alert not yet recorded: count them (a correlation alert counts its events)
        added = len(new_ids) if ids and len(new_ids) < len(ids) else max(alert.count, 1)
        new_evidence = [
            ev for ev, eid in zip(alert.evidence, alert.evidence_ids, strict=False) if eid not in known
        ] if ids else list(alert.evidence)
        window = self.window.for_alert(alert.rule_id, alert.severity)
        row = s.scalars(
            select(AlertRow).where(
                AlertRow.key == key,
                AlertRow.status != "resolved",
                AlertRow.last_seen >= first - window,
                AlertRow.first_seen <= last + window,
            ).order_by(AlertRow.last_seen.desc())
        ).first()
        if row is None:
            row = AlertRow(
                key=key, rule_id=alert.rule_id, title=alert.title, severity=alert.severity,
                severity_rank=SEVERITY_ORDER[alert.severity], source=alert.source, explanation=alert.explanation,
                entity=alert.entity, account=alert.account, region=alert.region, host=alert.host,
                attack_ids=list(alert.attack_ids), members=list(alert.members), anomaly=alert.anomaly,
                evidence=new_evidence[: self.evidence_limit], count=added, first_seen=first, last_seen=last,
                status="new", created_at=now, updated_at=now,
            )
            s.add(row)
            s.flush()
        else:
            row.count += added
            row.first_seen = min(row.first_seen, first)
            if last >= row.last_seen:
                row.last_seen = last
                row.explanation = alert.explanation  # the latest reason reads best
            room = self.evidence_limit - len(row.evidence)
            if room > 0 and new_evidence:
                row.evidence = [*row.evidence, *new_evidence[:room]]
            if SEVERITY_ORDER[alert.severity] > row.severity_rank:
                row.severity, row.severity_rank = alert.severity, SEVERITY_ORDER[alert.severity]
            row.members = list(dict.fromkeys([*row.members, *alert.members]))
            if alert.anomaly is not None:
                row.anomaly = alert.anomaly
            row.updated_at = now
        for eid in new_ids:
            s.add(AlertEvidenceRow(alert_id=row.id, key_hash=key_hash(key), event_id=eid))
        return row.id

    # -- retention --------------------------------------------------------------------------------------
    def prune(self, older_than: datetime, *, delete_resolved: bool = False, dry_run: bool = False,
              batch_size: int = PRUNE_BATCH, pause_ratio: float = 1.0) -> PruneResult:
        """Delete the evidence-id rows of alerts whose last_seen and updated_at are both before `older_than`
        (and, with `delete_resolved`, those alerts themselves when resolved). See the module docstring for
        what this means for replays. Bounded: at most `batch_size` rows per transaction, then a pause of
        `pause_ratio` x that transaction's time (at most 50 ms) so other writers get the lock; restartable
        (a stop midway leaves consistent rows, a re-run finishes)."""
        started = time.monotonic()
        cut = _utc(older_than)
        result = PruneResult(cutoff=_aware(cut) or cut, dry_run=dry_run)
        batch_size = max(1, batch_size)
        ev_t = cast(Table, AlertEvidenceRow.__table__)
        alerts_t = cast(Table, AlertRow.__table__)
        comments_t = cast(Table, AlertCommentRow.__table__)
        with self.state.session() as s:
            top = s.scalar(select(func.max(alerts_t.c.id)))
        after = 0
        while True:
            with self.state.session() as s:
                rows = s.execute(select(alerts_t.c.id, alerts_t.c.status).where(
                    alerts_t.c.id > after, alerts_t.c.last_seen < cut, alerts_t.c.updated_at < cut,
                ).order_by(alerts_t.c.id).limit(PRUNE_ALERTS)).all()
            if not rows:
                break
            after = rows[-1][0]
            ids = [rid for rid, _st in rows]
            result.alerts_examined += len(ids)
            doomed = [rid for rid, st in rows if delete_resolved and st == "resolved" and rid != top]
            if dry_run:
                with self.state.session() as s:
                    result.evidence_deleted += int(s.scalar(
                        select(func.count()).select_from(ev_t).where(ev_t.c.alert_id.in_(ids))) or 0)
                result.alerts_deleted += len(doomed)
                continue
            while True:  # evidence first, in bounded transactions; the alert rows stay until it is gone
                t0 = time.monotonic()
                with self.state.session() as s:
                    victims = select(ev_t.c.id).where(ev_t.c.alert_id.in_(ids)).limit(batch_size)
                    n = cast(CursorResult[Any], s.execute(delete(ev_t).where(ev_t.c.id.in_(victims)))).rowcount or 0
                if n:
                    result.batches += 1
                    result.evidence_deleted += n
                if n < batch_size:
                    break
                # leave the lock free about as long as we held it: a waiting writer (SQLite's busy handler
                # polls with growing sleeps) gets in instead of losing every race to our next batch
                time.sleep(min(max(time.monotonic() - t0, 0.0) * pause_ratio, 0.05))
            if doomed:
                with self.state.session() as s:
                    # re-checked inside the transaction: triage or a new event since the read keeps the alert
                    live = [i for i in s.scalars(select(alerts_t.c.id).where(
                        alerts_t.c.id.in_(doomed), alerts_t.c.status == "resolved",
                        alerts_t.c.last_seen < cut, alerts_t.c.updated_at < cut))]
                    if live:
                        s.execute(delete(comments_t).where(comments_t.c.alert_id.in_(live)))
                        s.execute(delete(ev_t).where(ev_t.c.alert_id.in_(live)))
                        gone = cast(CursorResult[Any], s.execute(delete(alerts_t).where(alerts_t.c.id.in_(live))))
                        result.alerts_deleted += gone.rowcount or 0
                        result.batches += 1
        result.seconds = time.monotonic() - started
        return result

    # -- reading ----------------------------------------------------------------------------------------
    def _stored(self, s: Session, row: AlertRow, *, full: bool) -> StoredAlert:
        evidence_ids: list[str] = []
        comments: list[Comment] = []
        if full:
            evidence_ids = list(s.scalars(select(AlertEvidenceRow.event_id).where(
                AlertEvidenceRow.alert_id == row.id).order_by(AlertEvidenceRow.id)))
            comments = [Comment(c.author, c.text, _aware(c.at) or c.at) for c in s.scalars(
                select(AlertCommentRow).where(AlertCommentRow.alert_id == row.id).order_by(AlertCommentRow.id))]
        return StoredAlert(
            id=row.id, key=row.key, rule_id=row.rule_id, title=row.title, severity=row.severity, source=row.source,
            explanation=row.explanation, entity=row.entity, account=row.account, region=row.region, host=row.host,
            attack_ids=list(row.attack_ids or []), members=list(row.members or []), anomaly=row.anomaly,
            evidence=[evidence_event(ev) for ev in row.evidence or []], evidence_ids=evidence_ids, count=row.count,
            first_seen=_aware(row.first_seen) or row.first_seen, last_seen=_aware(row.last_seen) or row.last_seen,
            status=row.status, status_by=row.status_by, status_at=_aware(row.status_at),
            status_comment=row.status_comment, assignee=row.assignee, comments=comments,
        )

    def get(self, alert_id: int) -> StoredAlert | None:
        with self.state.session() as s:
            row = s.get(AlertRow, alert_id)
            return self._stored(s, row, full=True) if row is not None else None

    def _filtered(self, *, status: str | Iterable[str] | None = None, min_severity: str | None = None,
                  rule_id: str | None = None, entity: str | None = None, account: str | None = None,
                  source: str | None = None, since: datetime | None = None, until: datetime | None = None,
                  assignee: str | None = None, text: str | None = None) -> Any:
        q = select(AlertRow)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = [x for x in statuses if x not in STATUSES]
            if bad:
                raise InputError(f"unknown status {bad[0]!r}; expected one of {', '.join(STATUSES)}")
            q = q.where(AlertRow.status.in_(statuses))
        if min_severity:
            if min_severity not in SEVERITY_ORDER:
                raise InputError(f"unknown severity {min_severity!r}")
            q = q.where(AlertRow.severity_rank >= SEVERITY_ORDER[min_severity])
        if rule_id:
            q = q.where(AlertRow.rule_id == rule_id)
        if entity:
            q = q.where(AlertRow.entity == entity)
        if account:
            q = q.where(AlertRow.account == account)
        if source:
            q = q.where(AlertRow.source == source)
        if since:
            q = q.where(AlertRow.last_seen >= _utc(since))
        if until:
            q = q.where(AlertRow.first_seen <= _utc(until))
        if assignee:
            q = q.where(AlertRow.assignee == assignee)
        if text:
            like = contains_pattern(text)
            q = q.where(or_(AlertRow.title.ilike(like, escape=LIKE_ESCAPE), AlertRow.entity.ilike(like, escape=LIKE_ESCAPE),
                            AlertRow.explanation.ilike(like, escape=LIKE_ESCAPE)))
        return q

    def list(self, *, limit: int = 50, offset: int = 0, order: str = "newest", **filters: Any) -> list[StoredAlert]:
        """Alerts newest first, or with order="severity" worst first (then newest; the triage queue).
        Ties break on id, so pages are stable. Filters: status, min_severity, rule_id, entity, account,
        source, since, until, assignee, text."""
        if order == "newest":
            q = self._filtered(**filters).order_by(AlertRow.last_seen.desc(), AlertRow.id.desc())
        elif order == "severity":
            q = self._filtered(**filters).order_by(
                AlertRow.severity_rank.desc(), AlertRow.last_seen.desc(), AlertRow.id.desc())
        else:
            raise InputError(f"unknown order {order!r}; expected newest or severity")
        q = q.limit(max(0, min(limit, 10_000))).offset(max(0, offset))
        with self.state.session() as s:
            return [self._stored(s, r, full=False) for r in s.scalars(q)]

    def count(self, **filters: Any) -> int:
        q = select(func.count()).select_from(self._filtered(**filters).subquery())
        with self.state.session() as s:
            return int(s.scalar(q) or 0)

    def counts_by_severity(self, **filters: Any) -> dict[str, int]:
        q = self._filtered(**filters).with_only_columns(AlertRow.severity, func.count()).group_by(AlertRow.severity)
        with self.state.session() as s:
            return {sev: int(n) for sev, n in s.execute(q)}

    def summary(self, by: str = "rule", *, limit: int = 100, **filters: Any) -> builtins.list[dict[str, Any]]:
        """Alerts grouped by `by` (one of `SUMMARY_BY`), most alerts first: how many alerts and events each
        group holds, how many are still open (not resolved), the worst severity and the latest event. What a
        person needs first with thousands of alerts: which rules and principals make them."""
        columns = SUMMARY_BY.get(by)
        if columns is None:
            raise InputError(f"unknown grouping {by!r}; expected one of {', '.join(SUMMARY_BY)}")
        keys = [getattr(AlertRow, c) for c in columns]
        open_ = func.sum(case((AlertRow.status != "resolved", 1), else_=0))
        q = self._filtered(**filters).with_only_columns(
            *keys, func.max(AlertRow.title), func.count(), func.sum(AlertRow.count), open_,
            func.max(AlertRow.severity_rank), func.max(AlertRow.last_seen),
        ).group_by(*keys).order_by(func.count().desc(), *keys).limit(max(1, min(limit, 10_000)))
        rank_name = {v: k for k, v in SEVERITY_ORDER.items()}
        out: builtins.list[dict[str, Any]] = []
        with self.state.session() as s:
            for row in s.execute(q):
                values = builtins.list(row)
                group = dict(zip(columns, values[: len(columns)], strict=True))
                title, alerts, events, still_open, rank, last = values[len(columns):]
                out.append({**group, **({"title": title} if by == "rule" else {}), "alerts": int(alerts),
                            "events": int(events or 0), "open": int(still_open or 0),
                            "worst_severity": rank_name.get(int(rank), str(rank)),
                            "last_seen": _iso(last)})
        return out

    def _changing(self, status: str, filters: Mapping[str, Any]) -> Any:
        """The filtered alerts not in `status` yet: what bulk triage changes (and counts before it does)."""
        if status not in STATUSES:
            raise InputError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        return self._filtered(**filters).where(AlertRow.status != status)

    def count_changing(self, status: str, **filters: Any) -> int:
        """How many alerts `set_status_matching(status, ...)` with these filters would change now."""
        q = select(func.count()).select_from(self._changing(status, filters).subquery())
        with self.state.session() as s:
            return int(s.scalar(q) or 0)

    def set_status_matching(self, status: str, by: str, comment: str = "", **filters: Any) -> int:
        """Bulk triage: every alert the filters select (as `list` takes them) that is not in `status` yet gets
        it, with who and why (a comment row per alert when `comment` is given); returns how many changed.
        Refuses an empty filter: a typo must not resolve every alert. Takes the alert writers' lock, so it
        neither races nor deadlocks with an ingest updating the same rows."""
        if not any(v not in (None, "", [], ()) for v in filters.values()):
            raise InputError("bulk triage needs at least one filter (rule, entity, account, severity, ...)")
        changing = self._changing(status, filters)
        now = _now()
        with self.state.session() as s:
            _writer_lock(s)
            ids = builtins.list(s.scalars(changing.with_only_columns(AlertRow.id)))
            for chunk in _chunks(ids, _CHUNK):
                s.execute(update(AlertRow).where(AlertRow.id.in_(chunk)).values(
                    status=status, status_by=by, status_at=now, status_comment=comment, updated_at=now))
                if comment:
                    s.execute(insert(AlertCommentRow), [
                        {"alert_id": i, "author": by, "text": f"[{status}] {comment}", "at": now} for i in chunk])
        return len(ids)

    # -- triage -----------------------------------------------------------------------------------------
    def _set_status(self, alert_id: int, status: str, by: str, comment: str) -> StoredAlert:
        with self.state.session() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise StoreError(f"no alert with id {alert_id}")
            now = _now()
            row.status, row.status_by, row.status_at, row.status_comment = status, by, now, comment
            row.updated_at = now
            if comment:
                s.add(AlertCommentRow(alert_id=alert_id, author=by, text=f"[{status}] {comment}", at=now))
            s.flush()
            return self._stored(s, row, full=True)

    def ack(self, alert_id: int, by: str, comment: str = "") -> StoredAlert:
        return self._set_status(alert_id, "acknowledged", by, comment)

    def resolve(self, alert_id: int, by: str, comment: str = "") -> StoredAlert:
        return self._set_status(alert_id, "resolved", by, comment)

    def reopen(self, alert_id: int, by: str, comment: str = "") -> StoredAlert:
        return self._set_status(alert_id, "new", by, comment)

    def assign(self, alert_id: int, assignee: str, by: str = "") -> StoredAlert:
        with self.state.session() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise StoreError(f"no alert with id {alert_id}")
            row.assignee = assignee
            row.updated_at = _now()
            s.add(AlertCommentRow(alert_id=alert_id, author=by or assignee, text=f"assigned to {assignee or 'nobody'}"))
            s.flush()
            return self._stored(s, row, full=True)

    def comment(self, alert_id: int, author: str, text: str) -> StoredAlert:
        if not text.strip():
            raise InputError("empty comment")
        with self.state.session() as s:
            row = s.get(AlertRow, alert_id)
            if row is None:
                raise StoreError(f"no alert with id {alert_id}")
            s.add(AlertCommentRow(alert_id=alert_id, author=author, text=text))
            row.updated_at = _now()
            s.flush()
            return self._stored(s, row, full=True)

    # -- suppressions -----------------------------------------------------------------------------------
    @staticmethod
    def _sup(r: SuppressionRow) -> Suppression:
        return Suppression(r.id, r.rule_id, r.entity, r.account, r.resource, r.reason, r.created_by,
                           r.created_at, r.expires_at, r.hits, r.last_hit)

    def suppress(self, *, reason: str, created_by: str, rule_id: str = "", entity: str = "", account: str = "",
                 resource: str = "", expires_at: datetime | None = None, ttl: timedelta | None = None,
                 now: datetime | None = None) -> Suppression:
        """Suppress future alerts matching every given criterion (rule, entity glob, account, resource glob)."""
        if not (rule_id or entity or account or resource):
            raise InputError("a suppression needs at least one of rule, entity, account, resource")
        if not reason.strip():
            raise InputError("a suppression needs a reason")
        now_n = _utc(now) if now else _now()
        if ttl is not None:
            expires_at = now_n + ttl
        with self.state.session() as s:
            row = SuppressionRow(rule_id=rule_id, entity=entity, account=account, resource=resource, reason=reason,
                                 created_by=created_by, created_at=now_n,
                                 expires_at=_utc(expires_at) if expires_at else None)
            s.add(row)
            s.flush()
            return self._sup(row)

    def suppressions(self, *, include_expired: bool = False, now: datetime | None = None) -> builtins.list[Suppression]:
        now_n = _utc(now) if now else _now()
        with self.state.session() as s:
            out = [self._sup(r) for r in s.scalars(select(SuppressionRow).order_by(SuppressionRow.id))]
        return out if include_expired else [x for x in out if x.active(now_n)]

    def unsuppress(self, suppression_id: int) -> None:
        with self.state.session() as s:
            row = s.get(SuppressionRow, suppression_id)
            if row is None:
                raise StoreError(f"no suppression with id {suppression_id}")
            s.delete(row)


def prune_for_retention(state: StateStore, retention_days: int, *, delete_resolved: bool = False,
                        now: datetime | None = None) -> PruneResult | None:
    """The scheduled/after-ingest prune: horizon = now - retention_days; None when retention is off (<= 0)."""
    if retention_days <= 0:
        return None
    now_n = _utc(now) if now else _now()
    return AlertStore(state).prune(now_n - timedelta(days=retention_days), delete_resolved=delete_resolved)
