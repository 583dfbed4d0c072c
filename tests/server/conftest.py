"""Fixtures for server tests: an app on SQLite (or PostgreSQL for tests marked postgres), users of every
role, and clients logged in through the real login form (session cookie + CSRF) or with API tokens."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloudwarden.config import Settings, load_settings
from cloudwarden.server.app import create_app
from cloudwarden.store.state import open_store

PASSWORDS = {"admin": "admin-password-1", "analyst": "analyst-password-1", "viewer": "viewer-password-1"}


@dataclass
class Server:
    app: FastAPI
    settings: Settings

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")

    def login(self, role: str) -> tuple[TestClient, str]:
        """A client with a session cookie; returns (client, csrf token)."""
        c = self.client()
        page = c.get("/login", headers={"accept": "text/html"})
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        r = c.post("/login", data={"username": role, "password": PASSWORDS[role], "csrf": token.group(1), "next": "/posture"},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        settings_page = c.get("/settings", headers={"accept": "text/html"})
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', settings_page.text)
        assert csrf
        return c, csrf.group(1)

    def token(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.ctx.auth.create_token(role, 'test')}"}


def _pg_url() -> str:
    url = os.environ.get("CLOUDWARDEN_TEST_PG_URL", "")
    if not url:
        pytest.skip("CLOUDWARDEN_TEST_PG_URL is not set (scripts/test-services.sh starts PostgreSQL for `make test`)")
    return url


def _fresh_pg_schema(url: str) -> str:
    """One PostgreSQL schema per test so tests never see each other's rows."""
    import sqlalchemy

    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url)
    with eng.begin() as con:
        con.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    eng.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    settings = load_settings()
    if request.param == "postgres":
        settings.store.state_url = _fresh_pg_schema(_pg_url())
    yield from _make(settings)


@pytest.fixture
def sqlite_server() -> Iterator[Server]:
    yield from _make(load_settings())


def _make(settings: Settings) -> Iterator[Server]:
    state = open_store(settings.state_url)
    app = create_app(settings, state=state, background=False)
    for role, pw in PASSWORDS.items():
        app.state.ctx.auth.add_user(role, pw, role)
    yield Server(app, settings)
    app.state.ctx.close()
