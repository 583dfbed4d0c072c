"""Shared pieces of the host tests: a real HTTP server on a loopback port, a minimal app with the agent router."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from cloudwarden.config import Settings
from cloudwarden.server.ingest import build_router
from cloudwarden.store.lake import Lake
from cloudwarden.store.state import StateStore, open_store

ADMIN = "admin-token-for-tests"
ENROLL = "enroll-secret-for-tests"


def make_settings(home: Path) -> Settings:
    s = Settings(home=str(home))
    s.server.admin_token = ADMIN
    s.server.agent_enroll_secret = ENROLL
    return s


def minimal_app(settings: Settings, state: StateStore | None = None) -> tuple[FastAPI, Any]:
    state = state or open_store(settings.state_url)
    router = build_router(settings, state=state, lake=Lake(settings.lake_path))
    app = FastAPI()
    app.include_router(router)
    return app, router.host_ingest  # type: ignore[attr-defined]


class LiveServer:
    """uvicorn on 127.0.0.1 in a thread, on a port we bind first (so it can be stopped and restarted on it)."""

    def __init__(self, app: FastAPI, port: int = 0) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@contextmanager
def live(app: FastAPI, port: int = 0) -> Iterator[LiveServer]:
    srv = LiveServer(app, port).start()
    try:
        yield srv
    finally:
        srv.stop()
