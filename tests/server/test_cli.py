"""`cloudwarden users` and `cloudwarden serve` (the real process, on a free loopback port)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from cloudwarden.cli.main import app
from tests.helpers.moto_server import free_port


def test_users_commands() -> None:
    r = CliRunner()
    assert r.invoke(app, ["users", "add", "dana", "--role", "analyst", "--password", "dana-password"]).exit_code == 0
    out = r.invoke(app, ["users", "list"]).output
    assert "dana" in out and "analyst" in out
    bad = r.invoke(app, ["users", "add", "dana", "--password", "dana-password"])
    assert bad.exit_code == 2 and "already exists" in bad.output
    tok = r.invoke(app, ["users", "token", "dana", "--name", "ci"])
    assert tok.exit_code == 0 and tok.output.strip().startswith("cwt_")
    assert r.invoke(app, ["users", "passwd", "dana", "--password", "new-dana-password"]).exit_code == 0
    assert r.invoke(app, ["users", "add", "x", "--role", "root", "--password", "long-enough-pw"]).exit_code == 2


def test_serve_prints_url_and_first_admin_then_stops_gracefully(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CLOUDWARDEN_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "cloudwarden", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read() == b'{"status":"ok"}'
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    # uvicorn shuts down through the lifespan, then re-raises SIGTERM so the exit status says why it ended
    assert proc.returncode in (0, -15), err
    assert "Application shutdown complete" in err
    assert f"http://127.0.0.1:{port}" in out and "password:" in out
    # logs are JSON lines and never contain the password
    password = out.split("password:")[1].split()[0]
    assert password not in err
