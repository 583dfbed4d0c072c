from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from cloudwarden.config import load_settings
from cloudwarden.errors import ConfigError, StoreError
from cloudwarden.store.state import open_store


def test_settings_precedence_env_over_toml_over_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "cloudwarden.toml"
    cfg.write_text('log_level = "DEBUG"\n[aws]\nregions = ["eu-west-1"]\nmax_workers = 4\n')
    s = load_settings(cfg)
    assert s.log_level == "DEBUG" and s.aws.regions == ["eu-west-1"] and s.aws.max_workers == 4
    assert s.server.port == 8000
    monkeypatch.setenv("CLOUDWARDEN_AWS_MAX_WORKERS", "9")
    monkeypatch.setenv("CLOUDWARDEN_AWS_REGIONS", "us-east-1, us-west-2")
    s = load_settings(cfg)
    assert s.aws.max_workers == 9 and s.aws.regions == ["us-east-1", "us-west-2"]


def test_settings_errors_name_their_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "cloudwarden.toml"
    cfg.write_text("[aws]\nmax_workers = 'many'\n")
    with pytest.raises(ConfigError, match="cloudwarden.toml"):
        load_settings(cfg)
    cfg.write_text("[aws\n")
    with pytest.raises(ConfigError, match="cloudwarden.toml"):
        load_settings(cfg)
    cfg.unlink()
    monkeypatch.setenv("CLOUDWARDEN_SERVER_PORT", "http")
    with pytest.raises(ConfigError, match="CLOUDWARDEN_SERVER_PORT"):
        load_settings(None)


def test_state_store_sqlite_roundtrip(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'sub' / 'state.db'}")
    with store.session() as s:
        assert s.execute(text("select 1")).scalar() == 1
    assert (tmp_path / "sub" / "state.db").exists()


def test_state_store_rejects_bad_url() -> None:
    with pytest.raises(StoreError):
        open_store("not a url ::")


def test_a_new_sqlite_state_db_gets_large_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    from cloudwarden.store.state import SQLITE_PAGE_SIZE

    fresh = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    with fresh.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x)"))
    fresh.dispose()
    old = tmp_path / "old.db"
    con = sqlite3.connect(old)
    con.execute("CREATE TABLE t (x)")  # made at SQLite's default page size, before cloudwarden opens it
    con.commit()
    default = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    reopened = open_store(f"sqlite:///{old}")
    with reopened.engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    reopened.dispose()

    def page_size(path: Path) -> int:
        con = sqlite3.connect(path)
        try:
            return int(con.execute("PRAGMA page_size").fetchone()[0])
        finally:
            con.close()

    assert SQLITE_PAGE_SIZE != default
    assert page_size(tmp_path / "new.db") == SQLITE_PAGE_SIZE
    assert page_size(old) == default
