"""The state database: SQLite file by default, PostgreSQL by URL.

Every subsystem declares its tables on the one `Base` below (in its own module) and imports that module
from `cloudwarden.store.tables` so `create_all` sees every table. Schemas are created on open; the product
is young enough that additive changes are all we make (new tables, new nullable columns).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from cloudwarden.errors import StoreError


class Base(DeclarativeBase):
    pass


SQLITE_PAGE_SIZE = 16384


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # Only a new, empty database takes a page size (before WAL is switched on); an existing one keeps its own.
    # Alert rows carry their evidence events (several KB of JSON): with 16 KB pages most fit in their page
    # instead of a chain of 4 KB overflow pages: AlertStore.add took 10% less time on 300k labeled events.
    cur.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    # WAL lets the dashboard read while an ingest writes; busy_timeout avoids spurious "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _orjson_default(value: Any) -> Any:
    # bytes: JSON already serialised by orjson (`models.alert.Evidence` from an ingest worker), written as it is
    return orjson.Fragment(value) if isinstance(value, bytes) else str(value)


def _stdlib_default(value: Any) -> Any:
    return json.loads(value) if isinstance(value, bytes) else str(value)


def json_text(value: Any) -> str:
    """JSON columns' serialiser: orjson (alert evidence holds whole events; the stdlib encoder was a tenth of
    an ingest's alert-store time), falling back to the stdlib for what orjson refuses (integers past 64 bits).
    A `bytes` value is JSON text already serialised with these same options (an event an ingest worker sent
    serialised): the result is the same text as serialising the decoded value."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=_orjson_default).decode()
    except TypeError:
        return json.dumps(value, default=_stdlib_default)


def json_bytes(value: Any) -> bytes | None:
    """`value` serialised as `json_text` serialises it inside a JSON column, or None where that would take the
    stdlib fallback (whose text differs: the caller then keeps the value itself)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=_orjson_default)
    except TypeError:
        return None


def json_value(text: str | bytes) -> Any:
    """JSON columns' deserialiser: orjson (open alerts' evidence is read back on every batch), stdlib fallback."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class StateStore:
    """Owns the engine and hands out sessions. One per process."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise StoreError(f"invalid database URL: {exc}", source="store.state_url") from exc
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.drivername in ("postgresql", "postgres"):
            url = str(parsed.set(drivername="postgresql+psycopg"))
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True, future=True, json_serializer=json_text,
                                             json_deserializer=json_value)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> None:
        import cloudwarden.store.tables  # noqa: F401  (registers every table on Base)

        Base.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str) -> StateStore:
    store = StateStore(url)
    store.create_schema()
    return store
