"""The event lake: Parquet files under one folder, queried with DuckDB.

Layout (Security-Lake-like, one file per write batch and partition):

    <root>/api_activity/event_date=YYYY-MM-DD/account=<account>/<name>.parquet
    <root>/host_events/event_date=YYYY-MM-DD/host=<host_id>/<name>.parquet

Every file carries every column (the partition values included), so a file is self-describing and the
folder names are only for people and for cheap pruning; the views do not depend on them.

Idempotency by event_id is kept at two levels:
- writes drop rows whose event_id the partition already holds (a per-partition id set, loaded lazily
  from the files' event_id column and kept for the most recently written partitions), and a file is
  written under a temporary name then renamed, so a killed writer never leaves half a file;
- the `api_activity` and `host_events` views keep one row per event_id whatever the files hold
  (several processes may write the same partition, CloudTrail itself delivers duplicates), so a
  reader never sees a duplicate. `compact()` rewrites a partition without them.

`query()` and `connect()` give DuckDB connections on which only the two views are meant to be used;
`connect(read_only=True)` additionally disables file access outside the lake and locks the settings,
which is what `cloudwarden events query` runs user SQL on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import threading
import types
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from cloudwarden.errors import StoreError
from cloudwarden.models.api_activity import LAKE_COLUMNS, ApiActivity
from cloudwarden.models.host_event import HostEvent

API_TABLE = "api_activity"
HOST_TABLE = "host_events"
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1  # measured: level 1 writes ~35% faster than the default for the same size here
# dictionary-encoded columns are small already: LZ4 encodes them faster than zstd (measured on the quiet
# CloudTrail corpus: ~3% less ingest CPU, files ~4% larger); the bulky columns (raw JSON, ids) keep zstd
DICT_COMPRESSION = "lz4"
# Dictionary-encode only low-cardinality columns: trying it on raw JSON, ids and times costs time for nothing.
NO_DICTIONARY = frozenset({"event_id", "time", "raw", "access_key_id", "source_ip", "error_message", "argv", "extra"})
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_SEEN_PARTITIONS = 64  # id sets kept in memory (most recently written partitions)


def _arrow_type(hint: Any) -> pa.DataType:
    """Arrow type of a dataclass field annotation (str, int, float, bool, datetime, list[str], dict, X | None)."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        return _arrow_type(args[0]) if len(args) == 1 else pa.string()
    if origin is list:
        return pa.list_(_arrow_type(get_args(hint)[0]))
    if origin is dict:
        key, value = get_args(hint)
        return pa.map_(_arrow_type(key), _arrow_type(value))
    simple: dict[Any, pa.DataType] = {
        str: pa.string(),
        int: pa.int64(),
        float: pa.float64(),
        bool: pa.bool_(),
        datetime: pa.timestamp("us", tz="UTC"),
        date: pa.date32(),
    }
    return simple.get(hint, pa.string())


def _schema(cls: type, columns: Sequence[str]) -> pa.Schema:
    hints = get_type_hints(cls)
    fields = [pa.field(name, _arrow_type(hints[name])) for name in columns]
    return pa.schema([*fields, pa.field("event_date", pa.date32())])


API_COLUMNS: tuple[str, ...] = tuple(LAKE_COLUMNS)
HOST_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(HostEvent))
API_SCHEMA = _schema(ApiActivity, API_COLUMNS)
HOST_SCHEMA = _schema(HostEvent, HOST_COLUMNS)


def safe_part(value: str) -> str:
    """A partition folder name that cannot escape the lake (values such as account ids come from input)."""
    cleaned = _SAFE.sub("_", value)[:64]
    if cleaned in ("", ".", "..") or cleaned != value:
        # keep it readable but unique: two different unsafe values never share a folder by accident
        digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()[:10]
        cleaned = f"{cleaned.strip('.') or 'x'}~{digest}"
    return cleaned


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_arrow_value(value: Any, typ: pa.DataType) -> Any:
    if pa.types.is_map(typ) and isinstance(value, dict):
        return list(value.items())
    return value


class Lake:
    """Parquet files partitioned by day and account (API activity) or day and host (host events)."""

    def __init__(self, root: Path | str, auto_compact_files: int = 256) -> None:
        self.root = Path(root)
        self.auto_compact_files = auto_compact_files  # write_* compacts a partition past this many files (0: never)
        self._seen: OrderedDict[Path, set[str]] = OrderedDict()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- layout
    def table_dir(self, table: str) -> Path:
        if table not in (API_TABLE, HOST_TABLE):
            raise StoreError(f"unknown lake table {table!r}", source=str(self.root))
        return self.root / table

    def partition_dir(self, table: str, day: date, key: str) -> Path:
        key_name = "account" if table == API_TABLE else "host"
        return self.table_dir(table) / f"event_date={day.isoformat()}" / f"{key_name}={safe_part(key)}"

    def _glob(self, table: str) -> str:
        return str(self.table_dir(table) / "event_date=*" / "*=*" / "*.parquet")

    def files(self, table: str) -> list[Path]:
        return sorted(self.table_dir(table).glob("event_date=*/*=*/*.parquet"))

    # ---------------------------------------------------------------- writing
    def write_api_activity(self, rows: Iterable[ApiActivity], name: str | None = None) -> int:
        """Write rows (any order, any partitions); returns how many new rows were written.

        `name` makes the write repeatable: the same name in the same partition replaces the file, which is
        how the ingest pipeline writes one source file's events so a re-run after a crash cannot duplicate.
        """
        groups: dict[tuple[date, str], list[ApiActivity]] = {}
        for row in rows:
            when = _utc(row.time)
            groups.setdefault((when.date(), row.account), []).append(row)
        return sum(
            self._write_rows(API_TABLE, API_SCHEMA, API_COLUMNS, day, key, part, name)
            for (day, key), part in groups.items()
        )

    def write_host_events(self, rows: Iterable[HostEvent], name: str | None = None) -> int:
        groups: dict[tuple[date, str], list[HostEvent]] = {}
        for row in rows:
            day = datetime.fromtimestamp(row.time, UTC).date()
            groups.setdefault((day, row.host_id), []).append(row)
        return sum(
            self._write_rows(HOST_TABLE, HOST_SCHEMA, HOST_COLUMNS, day, key, part, name)
            for (day, key), part in groups.items()
        )

    def _write_rows(
        self,
        table: str,
        schema: pa.Schema,
        columns: Sequence[str],
        day: date,
        key: str,
        rows: Sequence[Any],
        name: str | None,
    ) -> int:
        folder = self.partition_dir(table, day, key)
        with self._lock:
            seen = self._seen_ids(folder)
            fresh: list[Any] = []
            batch_ids: set[str] = set()
            for row in rows:
                if row.event_id in seen or row.event_id in batch_ids:
                    continue
                batch_ids.add(row.event_id)
                fresh.append(row)
            if not fresh:
                return 0
            arrays = []
            for column in columns:
                typ = schema.field(column).type
                values = [getattr(r, column) for r in fresh]
                if pa.types.is_timestamp(typ):
                    values = [_utc(v) for v in values]
                elif pa.types.is_map(typ):
                    values = [_to_arrow_value(v, typ) for v in values]
                arrays.append(pa.array(values, type=typ))
            arrays.append(pa.array([day] * len(fresh), type=pa.date32()))
            data = pa.Table.from_arrays(arrays, schema=schema)
            file_name = name or hashlib.blake2b("\n".join(sorted(batch_ids)).encode(), digest_size=10).hexdigest()[:20]
            self.write_table(table, day, key, data, file_name)
            seen.update(batch_ids)
            if self.auto_compact_files and _count_files(folder) > self.auto_compact_files:
                # many small batches (agents ship every few seconds): keep partitions cheap to read
                self.compact_partition(folder)
                self._seen[folder] = seen
            return len(fresh)

    def write_table(self, table: str, day: date, key: str, data: pa.Table, name: str) -> Path:
        """Write an Arrow table (already in the table's schema) as one file of a partition, atomically.

        Low-level: no event_id filtering (the views still dedupe). Used by the ingest pipeline, which
        builds Arrow columns itself and names the file after its source so re-runs replace it.
        """
        folder = self.partition_dir(table, day, key)
        target = folder / f"{safe_part(name)}.parquet"
        tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(
                data,
                tmp,
                compression={n: COMPRESSION if n in NO_DICTIONARY else DICT_COMPRESSION for n in data.column_names},
                compression_level={n: COMPRESSION_LEVEL for n in data.column_names if n in NO_DICTIONARY},
                use_dictionary=[n for n in data.column_names if n not in NO_DICTIONARY],
                write_statistics=True,
            )
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write lake file: {exc}", source=str(target)) from exc
        cached = self._seen.get(folder)
        if cached is not None:
            cached.update(data.column("event_id").to_pylist())
        return target

    def _seen_ids(self, folder: Path) -> set[str]:
        ids = self._seen.get(folder)
        if ids is None:
            ids = set()
            for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
                try:
                    ids.update(pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist())
                except (OSError, pa.ArrowException) as exc:
                    raise StoreError(f"unreadable lake file: {exc}", source=str(path)) from exc
            self._seen[folder] = ids
            while len(self._seen) > _SEEN_PARTITIONS:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(folder)
        return ids

    # ---------------------------------------------------------------- maintenance
    def compact(self, table: str = API_TABLE) -> int:
        """Rewrite each partition holding several files as one file without duplicates; returns files removed."""
        base = self.table_dir(table)
        return sum(self.compact_partition(folder) for folder in sorted(p for p in base.glob("event_date=*/*=*") if p.is_dir()))

    def compact_partition(self, folder: Path) -> int:
        """One partition's files -> one file (duplicates dropped). Safe beside concurrent writers: only the
        files listed at the start are removed, after the merged file is in place."""
        parts = sorted(folder.glob("*.parquet"))
        if len(parts) < 2:
            return 0
        con = duckdb.connect()
        try:
            data = con.sql(
                "SELECT * FROM read_parquet($files, union_by_name=true) "
                "QUALIFY row_number() OVER (PARTITION BY event_id) = 1",
                params={"files": [str(p) for p in parts]},
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"cannot compact: {exc}", source=str(folder)) from exc
        finally:
            con.close()
        target = folder / f"compact-{uuid.uuid4().hex[:12]}.parquet"
        tmp = folder / f".{target.name}.tmp"
        pq.write_table(data, tmp, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL)
        os.replace(tmp, target)
        for p in parts:
            p.unlink(missing_ok=True)
        cutoff = datetime.now(UTC).timestamp() - 3600
        for stale in folder.glob(".*.tmp"):  # left by a writer killed mid-write (an hour old: nobody's)
            try:
                if stale.stat().st_mtime < cutoff:
                    stale.unlink(missing_ok=True)
            except OSError:
                pass
        self._seen.pop(folder, None)
        return len(parts)

    # ---------------------------------------------------------------- reading
    def _view_sql(self, table: str, schema: pa.Schema) -> str:
        files = self.files(table)
        if not files:
            # an empty, correctly typed relation so queries work before the first write
            cols = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS {_ident(f.name)}" for f in schema)
            return f"SELECT {cols} WHERE false"
        glob = self._glob(table).replace("'", "''")
        return (
            f"SELECT * FROM read_parquet('{glob}', union_by_name=true, hive_partitioning=false) "  # noqa: S608 - our own path, quoted
            "QUALIFY row_number() OVER (PARTITION BY event_id) = 1"  # duplicates are the same event: any one will do
        )

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with the views `api_activity` and `host_events`.

        read_only=True: no file access outside the lake folder, no settings changes afterwards (so SQL
        from a person cannot read /etc/passwd or write files); only the lake's Parquet stays readable.
        """
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"CREATE VIEW {API_TABLE} AS {self._view_sql(API_TABLE, API_SCHEMA)}")
            con.execute(f"CREATE VIEW {HOST_TABLE} AS {self._view_sql(HOST_TABLE, HOST_SCHEMA)}")
            con.execute(OCSF_API_VIEW)
            if read_only:
                root = str(self.root.resolve()).rstrip("/") + "/"
                con.execute(f"SET allowed_directories = ['{root.replace(chr(39), chr(39) * 2)}']")
                con.execute("SET enable_external_access = false")
                con.execute("SET autoinstall_known_extensions = false")
                con.execute("SET autoload_known_extensions = false")
                con.execute("SET lock_configuration = true")
        except duckdb.Error as exc:
            con.close()
            raise StoreError(f"cannot open the lake: {exc}", source=str(self.root)) from exc
        return con

    def query(self, sql: str, params: Sequence[Any] | None = None, read_only: bool = False) -> list[dict[str, Any]]:
        """Run SQL over the views; rows as dicts keyed by column name."""
        con = self.connect(read_only=read_only)
        try:
            return fetch_dicts(con, sql, params)
        finally:
            con.close()

    def count(self, table: str = API_TABLE) -> int:
        rows = self.query(f"SELECT count(*) AS n FROM {_ident(self.table_dir(table).name)}")  # noqa: S608
        return int(rows[0]["n"])


# OCSF API Activity (class 6003) names over the same rows, for tools that speak OCSF / Security Lake.
# activity_id from the API verb: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other.
OCSF_API_VIEW = """
CREATE VIEW ocsf_api_activity AS
SELECT
    6003 AS class_uid,
    6 AS category_uid,
    activity_id,
    600300 + activity_id AS type_uid,
    epoch_ms(time) AS "time",
    {'operation': api, 'service': {'name': service}} AS api,
    {'user': {'uid': principal, 'type': principal_type, 'account': {'uid': principal_account},
              'credential_uid': access_key_id},
     'session': {'issuer': principal, 'name': session_name, 'is_mfa': mfa},
     'invoked_by': invoked_by} AS actor,
    {'ip': CASE WHEN source_kind = 'ip' THEN source_ip END,
     'svc_name': CASE WHEN source_kind <> 'ip' THEN source_ip END} AS src_endpoint,
    {'user_agent': user_agent} AS http_request,
    {'provider': 'AWS', 'region': region, 'account': {'uid': account}} AS cloud,
    CASE WHEN error_code = '' THEN 'Success' ELSE 'Failure' END AS status,
    CASE WHEN error_code = '' THEN 1 ELSE 2 END AS status_id,
    error_code AS status_code,
    error_message AS status_detail,
    [{'uid': r} for r in resources] AS resources,
    {'uid': event_id, 'product': {'name': 'CloudTrail', 'vendor_name': 'AWS'}, 'event_code': event_type} AS metadata,
    raw AS raw_data
FROM (
    SELECT *, CASE
        WHEN read_only THEN 2
        WHEN regexp_matches(api, '^(Create|Put|Add|Attach|Run|Start|Allocate|Register|Import|Enable)') THEN 1
        WHEN regexp_matches(api, '^(Get|List|Describe|Head|Lookup|Search|Query|Scan|BatchGet)') THEN 2
        WHEN regexp_matches(api, '^(Update|Modify|Set|Change|Replace|Reset|Associate|Authorize|Tag|Untag)') THEN 3
        WHEN regexp_matches(api, '^(Delete|Remove|Detach|Terminate|Stop|Disable|Revoke|Deregister|Disassociate)') THEN 4
        ELSE 99 END AS activity_id
    FROM api_activity
)
"""


def _count_files(folder: Path) -> int:
    with os.scandir(folder) as entries:
        return sum(1 for e in entries if e.name.endswith(".parquet"))


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    try:
        cur = con.execute(sql, list(params) if params is not None else None)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except duckdb.Error as exc:
        raise StoreError(f"lake query failed: {exc}", source="lake") from exc


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _duck_type(typ: pa.DataType) -> str:
    mapping: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_string, "VARCHAR"),
        (pa.types.is_int64, "BIGINT"),
        (pa.types.is_float64, "DOUBLE"),
        (pa.types.is_boolean, "BOOLEAN"),
        (pa.types.is_timestamp, "TIMESTAMP WITH TIME ZONE"),
        (pa.types.is_date32, "DATE"),
    ]
    for test, name in mapping:
        if test(typ):
            return name
    if pa.types.is_list(typ):
        return f"{_duck_type(typ.value_type)}[]"
    if pa.types.is_map(typ):
        return f"MAP({_duck_type(typ.key_type)}, {_duck_type(typ.item_type)})"
    return "VARCHAR"
