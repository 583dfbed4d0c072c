from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudwarden.store.state import StateStore, open_store


def _pg_schema_url(url: str) -> tuple[str, str]:
    """A fresh schema per test on the test PostgreSQL server, so tests never see each other's rows."""
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url)
    with eng.begin() as con:
        con.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        yield store
        store.dispose()
        return
    url = os.environ.get("CLOUDWARDEN_TEST_PG_URL", "")
    if not url:
        pytest.skip("CLOUDWARDEN_TEST_PG_URL is not set (scripts/test-services.sh starts PostgreSQL for `make test`)")
    schema_url, _ = _pg_schema_url(url)
    store = open_store(schema_url)
    yield store
    store.dispose()
